//! The range CSV: one inclusive range per line, `start,end,CC`, IPv4 and IPv6 alike
//! (ip-location-db's country files, DB-IP lite). Fields may be quoted; columns after
//! the third (a city file's) are ignored; a first line with no digit in its first field
//! is a header. `ZZ` or an empty code means no country: the line is skipped.

use crate::range::GeoRange;
use crate::report::{GeoError, GeoFormat, Parsed, Place, ReadReport, inert};
use crate::text::each_text_line;
use blackout_model::CountryCode;
use std::net::IpAddr;

/// Reads a range CSV (already decompressed). Bad lines are counted and described; the
/// file is refused only when no line of it is a range line.
pub fn parse_range_csv(bytes: &[u8], source: &str) -> Result<Parsed, GeoError> {
    let mut report = ReadReport::new(source, GeoFormat::RangeCsv);
    let mut ranges = Vec::new();
    let mut well_formed = 0u64;
    let mut seen_text = false;
    let no_error = each_text_line(bytes, &mut report, |report, number, text| {
        let first = !seen_text;
        seen_text = true;
        match parse_line(text) {
            Ok(Some(range)) => {
                well_formed += 1;
                ranges.push(range);
            }
            Ok(None) => {
                well_formed += 1;
                report.skipped += 1;
            }
            Err(_) if first && is_header(text) => report.skipped += 1,
            Err(what) => report.bad(Place::Line(number), what),
        }
        Ok::<(), std::convert::Infallible>(())
    });
    let Ok(()) = no_error;
    if well_formed == 0 && report.bad > 0 {
        let reason = report
            .problems
            .first()
            .map_or_else(String::new, |p| p.to_string());
        return Err(GeoError::NotFormat {
            source_name: source.to_string(),
            format: GeoFormat::RangeCsv,
            reason: format!("no line is `start,end,CC`; the first bad one: {reason}"),
        });
    }
    report.ranges = ranges.len() as u64;
    Ok(Parsed {
        ranges,
        asns: Vec::new(),
        report,
    })
}

/// True when the text's first line that holds something is a range line.
pub(crate) fn looks_like_range_csv(first_line: &str) -> bool {
    parse_line(first_line).is_ok()
}

/// One line: a range, None for a line without a country, or what is wrong.
fn parse_line(text: &str) -> Result<Option<GeoRange>, String> {
    let mut fields = text.split(',').map(|f| f.trim().trim_matches('"').trim());
    let (Some(start), Some(end), Some(code)) = (fields.next(), fields.next(), fields.next()) else {
        return Err(format!("expected `start,end,CC`, found `{}`", inert(text)));
    };
    let start: IpAddr = start
        .parse()
        .map_err(|_| format!("start `{}` is not an IP address", inert(start)))?;
    let end: IpAddr = end
        .parse()
        .map_err(|_| format!("end `{}` is not an IP address", inert(end)))?;
    if code.is_empty() || code.eq_ignore_ascii_case("ZZ") {
        return Ok(None);
    }
    let country = CountryCode::new(code)
        .ok_or_else(|| format!("country `{}` is not two letters", inert(code)))?;
    GeoRange::new(start, end, country).map(Some).ok_or_else(|| {
        format!("`{start}` to `{end}` is not a range (mixed families, or start after end)")
    })
}

/// A header names its columns: no digit in the first field.
fn is_header(text: &str) -> bool {
    let first = text.split(',').next().unwrap_or_default();
    !first.is_empty() && !first.bytes().any(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ranges_of_both_families_and_skips_what_has_no_country() {
        let text = b"start,end,country\n1.0.0.0,1.0.0.255,AU\n\"2001:200::\",\"2001:218:2000:51:ffff:ffff:ffff:ffff\",\"jp\",Tokyo\n10.0.0.0,10.255.255.255,ZZ\n192.0.2.0,192.0.2.255,\n";
        let parsed = parse_range_csv(text, "t.csv").unwrap();
        let texts: Vec<String> = parsed.ranges.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            texts,
            [
                "1.0.0.0-1.0.0.255 AU",
                "2001:200::-2001:218:2000:51:ffff:ffff:ffff:ffff JP"
            ]
        );
        let r = &parsed.report;
        assert_eq!((r.entries, r.ranges, r.skipped, r.bad), (5, 2, 3, 0));
    }

    #[test]
    fn bad_lines_are_counted_and_named() {
        let text = "1.0.0.0,1.0.0.255,AU\n1.0.1.0,1.0.0.0,CN\n1.0.2.0,::1,CN\n1.0.3.0,1.0.3.255,CHN\nx,1.0.4.0,AU\n1.0.5.0\n1.0.6.0,1.0.6.9\u{7},CN\n";
        let parsed = parse_range_csv(text.as_bytes(), "t.csv").unwrap();
        assert_eq!(parsed.ranges.len(), 1);
        assert_eq!(parsed.report.bad, 6);
        let problems: Vec<String> = parsed
            .report
            .problems
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            problems,
            [
                "t.csv:2: `1.0.1.0` to `1.0.0.0` is not a range (mixed families, or start after end)",
                "t.csv:3: `1.0.2.0` to `::1` is not a range (mixed families, or start after end)",
                "t.csv:4: country `CHN` is not two letters",
                "t.csv:5: start `x` is not an IP address",
                "t.csv:6: expected `start,end,CC`, found `1.0.5.0`",
                "t.csv:7: end `1.0.6.9\\u{7}` is not an IP address",
            ]
        );
    }

    #[test]
    fn a_file_with_no_range_line_is_refused() {
        let error = parse_range_csv(b"hello\nworld, again\n", "notes.txt").unwrap_err();
        assert_eq!(
            error.to_string(),
            "notes.txt is not a valid range CSV: no line is `start,end,CC`; the first bad one: notes.txt:2: expected `start,end,CC`, found `world, again`"
        );
    }
}
