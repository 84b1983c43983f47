//! From bgpkit-parser's AS paths to the model's.
//!
//! For TABLE_DUMP_V2 RIB entries the reader hands bgpkit only the AS_PATH and AS4_PATH
//! attributes (found by walking the attribute headers), which skips decoding the
//! communities and the rest that the observatory does not use.

use bgpkit_parser::models::{AsPath as BgpAsPath, AsPathSegment, AsnLength, AttributeValue};
use bgpkit_parser::parser::bgp::attributes::parse_attributes;
use blackout_model::{AsPath, Asn, PathSegment};
use bytes::Bytes;

const AS_PATH: u8 = 2;
const AS4_PATH: u8 = 17;
const EXTENDED_LENGTH: u8 = 0x10;

/// bgpkit's path, segment by segment.
pub(crate) fn convert_path(path: &BgpAsPath) -> AsPath {
    let asns = |asns: &[bgpkit_parser::models::Asn]| -> Vec<Asn> {
        asns.iter().map(|asn| Asn(asn.to_u32())).collect()
    };
    AsPath::from_segments(
        path.segments
            .iter()
            .map(|segment| match segment {
                AsPathSegment::AsSequence(v) => PathSegment::Sequence(asns(v)),
                AsPathSegment::AsSet(v) => PathSegment::Set(asns(v)),
                AsPathSegment::ConfedSequence(v) => PathSegment::ConfedSequence(asns(v)),
                AsPathSegment::ConfedSet(v) => PathSegment::ConfedSet(asns(v)),
            })
            .collect(),
    )
}

/// The AS path of a TABLE_DUMP_V2 RIB entry's attributes (4-byte ASNs, RFC 6396 §4.3.4),
/// AS4_PATH merged in as bgpkit does (RFC 6793 §4.2.3). An entry without a decodable
/// AS_PATH gets the empty path.
pub(crate) fn as_path_from_attributes(attributes: &Bytes) -> AsPath {
    let mut as_path = None;
    let mut as4_path = None;
    let mut pos = 0;
    while let Some(&[flags, code, first]) = attributes.get(pos..pos + 3) {
        let (header, len) = if flags & EXTENDED_LENGTH != 0 {
            match attributes.get(pos + 3) {
                Some(&second) => (4, usize::from(u16::from_be_bytes([first, second]))),
                None => break,
            }
        } else {
            (3, usize::from(first))
        };
        let end = pos + header + len;
        if end > attributes.len() {
            break;
        }
        if (code == AS_PATH || code == AS4_PATH)
            && let Some(path) = decode_one(attributes.slice(pos..end))
        {
            if code == AS_PATH {
                as_path = Some(path);
            } else {
                as4_path = Some(path);
            }
        }
        pos = end;
    }
    let merged = match (as_path, as4_path) {
        (Some(path), Some(as4)) => BgpAsPath::merge_aspath_as4path(&path, &as4),
        (Some(path), None) | (None, Some(path)) => path,
        (None, None) => return AsPath::default(),
    };
    convert_path(&merged)
}

/// Decodes one whole attribute (header and value) with bgpkit.
fn decode_one(attribute: Bytes) -> Option<BgpAsPath> {
    let attributes =
        parse_attributes(attribute, &AsnLength::Bits32, false, None, None, None).ok()?;
    attributes
        .into_attributes_iter()
        .find_map(|attribute| match attribute.value {
            AttributeValue::AsPath(path) | AttributeValue::As4Path(path) => Some(path),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rib_attributes_to_path() {
        // ORIGIN IGP; AS_PATH: SEQUENCE [3333, 2914], SET [22773, 64496]
        let bytes = Bytes::from_static(&[
            0x40, 1, 1, 0, //
            0x40, 2, 20, 2, 2, 0, 0, 0x0d, 0x05, 0, 0, 0x0b, 0x62, 1, 2, 0, 0, 0x58, 0xf5, 0, 0,
            0xfb, 0xf0,
        ]);
        assert_eq!(
            as_path_from_attributes(&bytes).to_string(),
            "3333 2914 {22773,64496}"
        );
        // a truncated attribute is ignored, not a panic
        assert!(as_path_from_attributes(&bytes.slice(..10)).is_empty());
        assert!(as_path_from_attributes(&Bytes::from_static(&[0x50, 2])).is_empty());
    }
}
