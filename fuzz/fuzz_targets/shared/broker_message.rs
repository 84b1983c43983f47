//! What the fuzz targets of the broker's messages share: the subject taken from
//! the input, and the check that a text handed on was made inert. Included by
//! each of them with `#[path]` (each target is a binary of its own).

/// The input as a message on a subject: the subject is the input up to its first
/// newline, or `otherwise` when it has none (then the whole input is the payload).
pub fn on_subject<'a>(data: &'a [u8], otherwise: &str) -> (String, &'a [u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(cut) => (
            String::from_utf8_lossy(&data[..cut]).into_owned(),
            &data[cut + 1..],
        ),
        None => (otherwise.to_string(), data),
    }
}

/// Has the text no control character left?
#[allow(dead_code, reason = "not every target hands texts on")]
pub fn inert(text: &str) -> bool {
    !text.chars().any(char::is_control)
}
