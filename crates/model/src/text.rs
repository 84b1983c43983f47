//! Text for people: making text from the network inert where it enters the model
//! ([`inert`], [`inert_bytes`]), escaping for HTML and SVG ([`escape_html`]), and URLs
//! with their secrets hidden ([`redact_url`]).
//!
//! Every text a remote peer controls (an SMTP banner, an HTTP title or header, a DNS
//! name, a TLS name, a router's sysName and sysDescr, a RIS Live field) passes through
//! [`inert`] at the edge that reads it, so what reaches the terminal, the store, JSON,
//! HTML, Slack and email carries no control character and has a bounded length.

/// The longest text kept from one field that came from the network, in characters.
pub const MAX_OUTSIDE_CHARS: usize = 256;

/// Text from the network made inert: every control character (C0, DEL, C1) and every
/// bidirectional override is shown escaped (`\x1b`, `\u{202e}`), so an ANSI sequence
/// prints as letters instead of acting on a terminal, and at most `max_chars` characters
/// of the result are kept, a cut marked with `…`.
pub fn inert(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_mul(4)));
    let mut kept = 0;
    for c in text.chars() {
        let shown = shown_as(c);
        let width = shown.as_ref().map_or(1, |s| s.chars().count());
        if kept + width > max_chars {
            out.push('…');
            return out;
        }
        match shown {
            Some(escaped) => out.push_str(&escaped),
            None => out.push(c),
        }
        kept += width;
    }
    out
}

/// Bytes from the network made inert: invalid UTF-8 shown as `\u{fffd}`, trailing
/// NULs dropped, then [`inert`].
pub fn inert_bytes(bytes: &[u8], max_chars: usize) -> String {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    // A character is at most 4 bytes: more than that many bytes cannot be shown.
    let keep = end.min(max_chars.saturating_mul(4).saturating_add(4));
    inert(
        &String::from_utf8_lossy(bytes.get(..keep).unwrap_or(bytes)),
        max_chars,
    )
}

/// How a character that must not reach a terminal or a document raw is written.
fn shown_as(c: char) -> Option<String> {
    match c {
        '\0'..='\u{1f}' | '\u{7f}' => Some(format!("\\x{:02x}", c as u32)),
        '\u{80}'..='\u{9f}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}' => Some(format!("\\u{{{:x}}}", c as u32)),
        _ => None,
    }
}

/// Escapes text for HTML and SVG content and attribute values. Control
/// characters, which XML does not allow, become spaces (new lines and tabs stay).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A URL as it may be shown in logs, errors, metrics labels and the API: the
/// user name and password become `***`, and so does the value of every query
/// parameter and the fragment. Scheme, host, port, path and parameter names stay,
/// so that people can still tell which endpoint is meant. Text that is not a URL
/// passes through the same rules (anything before an `@` in the authority is hidden).
pub fn redact_url(url: &str) -> String {
    const HIDDEN: &str = "***";
    let (scheme, rest) = match url.find("://") {
        Some(at) => url.split_at(at + 3),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let mut out = String::with_capacity(url.len());
    out.push_str(scheme);
    match authority.rfind('@') {
        Some(at) => {
            out.push_str(HIDDEN);
            out.push_str(&authority[at..]);
        }
        None => out.push_str(authority),
    }
    let (before_fragment, fragment) = match tail.find('#') {
        Some(at) => (&tail[..at], Some(&tail[at + 1..])),
        None => (tail, None),
    };
    let (path, query) = match before_fragment.find('?') {
        Some(at) => (&before_fragment[..at], Some(&before_fragment[at + 1..])),
        None => (before_fragment, None),
    };
    out.push_str(path);
    if let Some(query) = query {
        out.push('?');
        let hidden: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) => format!("{name}={HIDDEN}"),
                None if pair.is_empty() => String::new(),
                None => HIDDEN.to_string(),
            })
            .collect();
        out.push_str(&hidden.join("&"));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        if !fragment.is_empty() {
            out.push_str(HIDDEN);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_urls_are_hidden() {
        assert_eq!(
            redact_url("https://user:pa55@hooks.example:8443/alert?key=s3cret&team=noc#tok"),
            "https://***@hooks.example:8443/alert?key=***&team=***#***"
        );
        assert_eq!(
            redact_url("wss://ris-live.example/v1/ws/?client=blackout"),
            "wss://ris-live.example/v1/ws/?client=***"
        );
        assert_eq!(
            redact_url("postgres://blackout:hunter2@[2001:db8::1]:5432/db?sslpassword=x"),
            "postgres://***@[2001:db8::1]:5432/db?sslpassword=***"
        );
        assert_eq!(
            redact_url("nats://token@127.0.0.1:4222"),
            "nats://***@127.0.0.1:4222"
        );
        // Nothing secret: unchanged.
        assert_eq!(
            redact_url("http://127.0.0.1:9/hook"),
            "http://127.0.0.1:9/hook"
        );
        // A password holding `@` and `/`-free junk still hides everything before the host.
        assert_eq!(
            redact_url("http://a@b:c@d.example/"),
            "http://***@d.example/"
        );
        // A bare token query and an empty pair.
        assert_eq!(redact_url("http://h/?abc&&x="), "http://h/?***&&x=***");
        // Not a URL at all: no panic, and an `@` still hides what is before it.
        assert_eq!(redact_url("user:pw@host"), "***@host");
        assert_eq!(redact_url(""), "");
        assert_eq!(redact_url("\u{1b}?=\u{0}"), "\u{1b}?=***");
    }

    #[test]
    fn hostile_terminal_sequences_are_shown_escaped() {
        // Clear screen, set window title, bell, carriage return, backspace.
        let banner = "220 mail\u{1b}[2J\u{1b}]0;pwned\u{7}\r\u{8}ok\u{9b}31m\u{202e}x";
        let shown = inert(banner, MAX_OUTSIDE_CHARS);
        assert_eq!(
            shown,
            "220 mail\\x1b[2J\\x1b]0;pwned\\x07\\x0d\\x08ok\\u{9b}31m\\u{202e}x"
        );
        assert!(!shown.chars().any(char::is_control));
    }

    #[test]
    fn outside_text_is_bounded_and_never_cut_inside_an_escape() {
        assert_eq!(inert(&"a".repeat(300), 10), format!("{}…", "a".repeat(10)));
        assert_eq!(inert("abcdefgh\u{1b}", 10), "abcdefgh…");
        assert_eq!(inert("plain text, ünïcödé", 256), "plain text, ünïcödé");
        assert_eq!(inert("", 5), "");
    }

    #[test]
    fn outside_bytes_are_decoded_lossily_and_made_inert() {
        assert_eq!(
            inert_bytes(b"\xff\xfeA\x1b\0\0", 64),
            "\u{fffd}\u{fffd}A\\x1b"
        );
        assert_eq!(inert_bytes(&[b'x'; 10_000], 4), "xxxx…");
        assert_eq!(inert_bytes(b"", 4), "");
    }

    #[test]
    fn markup_and_controls_are_inert() {
        assert_eq!(
            escape_html("<b a=\"x\">'&'</b>\u{1b}[2J\n"),
            "&lt;b a=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/b&gt; [2J\n"
        );
    }
}
