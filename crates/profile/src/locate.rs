//! Finding the line of a key, so that errors found after parsing (a threshold out
//! of range, a duplicate) can still name it.

use toml::de::{DeTable, DeValue};

/// The 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The line on which the key at `path` (`thresholds.visibility_down`,
/// `upstream[1].asn`) is written, if the text has it.
pub(crate) fn line_of_key(text: &str, path: &str) -> Option<usize> {
    let root = DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
    let mut span = None;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let (key, value) = table.get_key_value(name)?;
        span = Some(key.span().start);
        let mut value = value.get_ref();
        if let Some(index) = index {
            let DeValue::Array(items) = value else {
                break;
            };
            let item = items.get(index)?;
            span = Some(item.span().start);
            value = item.get_ref();
        }
        match value {
            DeValue::Table(inner) if parts.peek().is_some() => table = inner,
            _ => break,
        }
    }
    span.map(|offset| line_of(text, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_and_indexed_keys() {
        let text = "name = \"x\"\n\n[[upstream]]\nasn = 1\n\n[[upstream]]\nasn = 2\n\n[thresholds]\nvisibility_down = 2.0\n";
        assert_eq!(line_of_key(text, "name"), Some(1));
        assert_eq!(line_of_key(text, "upstream[1].asn"), Some(7));
        assert_eq!(line_of_key(text, "thresholds.visibility_down"), Some(10));
        assert_eq!(line_of_key(text, "nothing.here"), None);
    }
}
