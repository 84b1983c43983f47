//! Lines of a text file, numbered from 1, for the line formats (range CSV and
//! delegation files): what counts as a line, a blank line and a comment is decided here
//! once, and so is how they are counted in a [`ReadReport`].

use crate::report::{Place, ReadReport};

/// A line of text that holds something: not blank, not a `#` comment.
pub(crate) enum Line<'a> {
    /// The text, without its line ending and surrounding blanks.
    Text(&'a str),
    /// Blank or a comment.
    Nothing,
    /// Not UTF-8.
    NotUtf8,
}

/// The lines of `bytes` with their numbers (from 1). A final line without a newline
/// counts; the empty piece after a final newline does not.
pub(crate) fn numbered_lines(bytes: &[u8]) -> impl Iterator<Item = (u64, Line<'_>)> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let pieces = (!bytes.is_empty()).then(|| body.split(|&b| b == b'\n'));
    pieces
        .into_iter()
        .flatten()
        .zip(1u64..)
        .map(|(raw, number)| {
            let line = match std::str::from_utf8(raw) {
                Err(_) => Line::NotUtf8,
                Ok(text) => {
                    let text = text.trim();
                    if text.is_empty() || text.starts_with('#') {
                        Line::Nothing
                    } else {
                        Line::Text(text)
                    }
                }
            };
            (number, line)
        })
}

/// Calls `each` with every line that holds something (number, text), after counting
/// every line as an entry of the report, blank and comment lines as skipped and lines
/// that are not UTF-8 as bad. Stops at the first error `each` returns.
pub(crate) fn each_text_line<'a, E>(
    bytes: &'a [u8],
    report: &mut ReadReport,
    mut each: impl FnMut(&mut ReadReport, u64, &'a str) -> Result<(), E>,
) -> Result<(), E> {
    for (number, line) in numbered_lines(bytes) {
        report.entries += 1;
        match line {
            Line::Text(text) => each(report, number, text)?,
            Line::Nothing => report.skipped += 1,
            Line::NotUtf8 => report.bad(Place::Line(number), "not UTF-8 text"),
        }
    }
    Ok(())
}

/// The first line that holds something, if any comes before a line that is not UTF-8.
pub(crate) fn first_text_line(bytes: &[u8]) -> Option<&str> {
    numbered_lines(bytes)
        .find_map(|(_, line)| match line {
            Line::Text(text) => Some(Some(text)),
            Line::NotUtf8 => Some(None),
            Line::Nothing => None,
        })
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(bytes: &[u8]) -> Vec<(u64, String)> {
        numbered_lines(bytes)
            .map(|(n, line)| {
                let kind = match line {
                    Line::Text(t) => t.to_string(),
                    Line::Nothing => "-".into(),
                    Line::NotUtf8 => "!".into(),
                };
                (n, kind)
            })
            .collect()
    }

    #[test]
    fn lines_are_numbered_from_one_and_trimmed() {
        assert_eq!(
            kinds(b"a\r\n\n# c\n\xff\nb"),
            [
                (1, "a".to_string()),
                (2, "-".into()),
                (3, "-".into()),
                (4, "!".into()),
                (5, "b".into())
            ]
        );
        assert_eq!(kinds(b"a\n"), [(1, "a".to_string())]);
        assert!(kinds(b"").is_empty());
        assert_eq!(first_text_line(b"\n# x\n  y \n"), Some("y"));
        assert_eq!(first_text_line(b"\xff\ny\n"), None);
    }
}
