//! AS paths, and the two facts the observatory reads off them: the origin and the
//! upstream (the AS just before the origin).

use crate::Asn;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One segment of an AS_PATH attribute (RFC 4271, RFC 5065).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "asns", rename_all = "snake_case")]
pub enum PathSegment {
    /// An ordered list: the ASes the route went through, nearest first.
    Sequence(Vec<Asn>),
    /// An unordered set, left by aggregation.
    Set(Vec<Asn>),
    /// A confederation's ordered list; not part of the path length.
    ConfedSequence(Vec<Asn>),
    /// A confederation's unordered set.
    ConfedSet(Vec<Asn>),
}

/// An AS path as a collector peer reported it, nearest AS first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AsPath {
    segments: Vec<PathSegment>,
}

impl AsPath {
    /// A path of segments, as decoded.
    pub fn from_segments(segments: Vec<PathSegment>) -> Self {
        AsPath { segments }
    }

    /// A path of one AS_SEQUENCE.
    pub fn from_sequence<I: IntoIterator<Item = u32>>(asns: I) -> Self {
        AsPath {
            segments: vec![PathSegment::Sequence(asns.into_iter().map(Asn).collect())],
        }
    }

    /// The segments, in order.
    pub fn segments(&self) -> &[PathSegment] {
        &self.segments
    }

    /// True when the path holds no AS at all (a route of the peer's own network
    /// on an iBGP session).
    pub fn is_empty(&self) -> bool {
        self.segments.iter().all(|segment| match segment {
            PathSegment::Sequence(asns)
            | PathSegment::Set(asns)
            | PathSegment::ConfedSequence(asns)
            | PathSegment::ConfedSet(asns) => asns.is_empty(),
        })
    }

    /// The originating AS, when the path names one for certain: the last AS of
    /// a final AS_SEQUENCE, or the only member of a final AS_SET.
    pub fn origin(&self) -> Option<Asn> {
        match self.last_segment()? {
            PathSegment::Sequence(asns) => asns.last().copied(),
            PathSegment::Set(asns) if asns.len() == 1 => asns.first().copied(),
            _ => None,
        }
    }

    /// Every AS that may have originated the route: the origin, or all members
    /// of a final AS_SET.
    pub fn possible_origins(&self) -> Vec<Asn> {
        match self.last_segment() {
            Some(PathSegment::Sequence(asns)) => asns.last().copied().into_iter().collect(),
            Some(PathSegment::Set(asns)) => asns.clone(),
            _ => Vec::new(),
        }
    }

    /// The upstream: the AS just before the origin, once prepending is removed.
    /// None when the path is only the origin (the peer is the origin itself) or
    /// when the origin is an ambiguous AS_SET.
    pub fn upstream(&self) -> Option<Asn> {
        let origin = self.origin()?;
        if !matches!(self.last_segment()?, PathSegment::Sequence(_)) {
            return None;
        }
        // From the origin backwards, past its prepending: the first other AS of the
        // ordered part. No allocation: this runs for every route update.
        self.segments
            .iter()
            .rev()
            .filter_map(|segment| match segment {
                PathSegment::Sequence(asns) => Some(asns.iter().rev()),
                _ => None,
            })
            .flatten()
            .find(|asn| **asn != origin)
            .copied()
    }

    /// Does `asn` appear anywhere in the path?
    pub fn contains(&self, asn: Asn) -> bool {
        self.segments.iter().any(|segment| match segment {
            PathSegment::Sequence(asns)
            | PathSegment::Set(asns)
            | PathSegment::ConfedSequence(asns)
            | PathSegment::ConfedSet(asns) => asns.contains(&asn),
        })
    }

    fn last_segment(&self) -> Option<&PathSegment> {
        self.segments.iter().rev().find(|segment| match segment {
            PathSegment::Sequence(asns) | PathSegment::Set(asns) => !asns.is_empty(),
            _ => false,
        })
    }
}

/// The text form `bgpdump -m` prints: sequences space-separated, `{a,b}` for a set,
/// `(a b)` for a confederation sequence and `[a,b]` for a confederation set.
impl fmt::Display for AsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for segment in &self.segments {
            let (open, close, separator, asns) = match segment {
                PathSegment::Sequence(asns) => ("", "", " ", asns),
                PathSegment::Set(asns) => ("{", "}", ",", asns),
                PathSegment::ConfedSequence(asns) => ("(", ")", " ", asns),
                PathSegment::ConfedSet(asns) => ("[", "]", ",", asns),
            };
            if asns.is_empty() {
                continue;
            }
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            f.write_str(open)?;
            for (i, asn) in asns.iter().enumerate() {
                if i > 0 {
                    f.write_str(separator)?;
                }
                write!(f, "{}", asn.0)?;
            }
            f.write_str(close)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_and_upstream_with_prepending() {
        let path = AsPath::from_sequence([3356, 4837, 4837, 131279, 131279, 131279]);
        assert_eq!(path.origin(), Some(Asn(131279)));
        assert_eq!(path.upstream(), Some(Asn(4837)));
        assert_eq!(path.to_string(), "3356 4837 4837 131279 131279 131279");
    }

    #[test]
    fn peer_is_origin_has_no_upstream() {
        let path = AsPath::from_sequence([131279, 131279]);
        assert_eq!(path.origin(), Some(Asn(131279)));
        assert_eq!(path.upstream(), None);
    }

    #[test]
    fn set_origin_is_ambiguous() {
        let path = AsPath::from_segments(vec![
            PathSegment::Sequence(vec![Asn(3333), Asn(286)]),
            PathSegment::Set(vec![Asn(13408), Asn(5752)]),
        ]);
        assert_eq!(path.origin(), None);
        assert_eq!(path.upstream(), None);
        assert_eq!(path.possible_origins(), vec![Asn(13408), Asn(5752)]);
        assert_eq!(path.to_string(), "3333 286 {13408,5752}");
        let single = AsPath::from_segments(vec![
            PathSegment::Sequence(vec![Asn(1853), Asn(1239)]),
            PathSegment::Set(vec![Asn(13659)]),
        ]);
        assert_eq!(single.origin(), Some(Asn(13659)));
    }

    #[test]
    fn confederation_segments_are_skipped() {
        let path = AsPath::from_segments(vec![
            PathSegment::ConfedSequence(vec![Asn(65001), Asn(65002)]),
            PathSegment::Sequence(vec![Asn(20485), Asn(131279)]),
        ]);
        assert_eq!(path.upstream(), Some(Asn(20485)));
        assert_eq!(path.to_string(), "(65001 65002) 20485 131279");
        assert!(AsPath::default().is_empty());
    }

    #[test]
    fn loop_before_origin_still_names_the_neighbour() {
        let path = AsPath::from_sequence([64496, 4837, 64496, 4837, 131279]);
        assert_eq!(path.upstream(), Some(Asn(4837)));
    }
}
