//! Text for people: escaping for HTML and SVG, and URLs with their secrets hidden.

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
    fn markup_and_controls_are_inert() {
        assert_eq!(
            escape_html("<b a=\"x\">'&'</b>\u{1b}[2J\n"),
            "&lt;b a=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/b&gt; [2J\n"
        );
    }
}
