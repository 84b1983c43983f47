//! Query parameters: read strictly, checked one by one, each failure with its own code.
//!
//! Every parameter arrives as text and is parsed here rather than by serde, so that
//! a bad `since` says `bad_time` and a bad `cause` says `unknown_cause`, not a generic
//! deserialization message. Unknown and repeated parameters are refused (`bad_query`):
//! a typo (`?enitty=`) must not silently widen a query. An empty value counts as
//! absent, so the contract's templates (`?since=&until=`) work as written.

use crate::error::{ApiError, ErrorCode};
use axum::extract::Query;
use axum::http::Uri;
use blackout_model::{Cause, Entity, EntityState, Measure, SeriesKey, Timestamp};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The most events one request returns, and the default.
pub const EVENTS_LIMIT_MAX: u32 = 1000;
/// How many events a request returns when it does not say.
pub const EVENTS_LIMIT_DEFAULT: u32 = 100;
/// The most raw points one signals request returns.
pub const POINTS_LIMIT_MAX: u32 = 100_000;
/// How many raw points a signals request returns when it does not say.
pub const POINTS_LIMIT_DEFAULT: u32 = 10_000;
/// The longest span a signals request may cover, in seconds (400 days).
pub const SIGNAL_SPAN_MAX_SECS: i64 = 400 * 86_400;
/// The span a signals request covers when it gives no `from`, in seconds (a day).
pub const SIGNAL_SPAN_DEFAULT_SECS: i64 = 86_400;
/// The longest event id accepted.
pub const ID_MAX_LEN: usize = 128;
/// The longest entity accepted.
const ENTITY_MAX_LEN: usize = 256;
/// The longest signal name accepted.
const SIGNAL_MAX_LEN: usize = 64;

/// Parses the query string into `T`, refusing unknown and repeated parameters.
pub(crate) fn query<T: DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    Query::<T>::try_from_uri(uri)
        .map(|Query(q)| q)
        .map_err(|e| {
            ApiError::new(
                ErrorCode::BadQuery,
                format!(
                    "the query string cannot be read: {}",
                    std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| s.to_string())
                ),
            )
        })
}

/// `GET /api/v1/events` parameters, as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventsParams {
    since: Option<String>,
    until: Option<String>,
    cause: Option<String>,
    entity: Option<String>,
    limit: Option<String>,
}

/// `GET /api/v1/events` parameters, checked.
#[derive(Debug)]
pub(crate) struct EventsQuery {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub cause: Option<Cause>,
    pub entity: Option<String>,
    pub limit: u32,
}

impl EventsParams {
    /// Checks the parameters; `now` is what spans ago (`since=24h`) count back from.
    pub(crate) fn check(self, now: Timestamp) -> Result<EventsQuery, ApiError> {
        let since = time("since", self.since.as_deref(), now)?;
        let until = time("until", self.until.as_deref(), now)?;
        if let (Some(since), Some(until)) = (since, until)
            && since > until
        {
            return Err(ApiError::new(
                ErrorCode::BadRange,
                format!("since ({since}) is after until ({until})"),
            ));
        }
        let cause = match present(self.cause.as_deref()) {
            None => None,
            Some(text) => Some(text.parse::<Cause>().map_err(|_| {
                ApiError::new(
                    ErrorCode::UnknownCause,
                    format!(
                        "`{}` is not a cause: use one of {}",
                        shorten(text),
                        blackout_model::Cause::ALL
                            .iter()
                            .map(|c| c.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?),
        };
        let entity = entity("entity", self.entity.as_deref())?.map(|e| e.to_string());
        let limit = limit(
            self.limit.as_deref(),
            EVENTS_LIMIT_DEFAULT,
            EVENTS_LIMIT_MAX,
        )?;
        Ok(EventsQuery {
            since,
            until,
            cause,
            entity,
            limit,
        })
    }
}

/// `GET /api/v1/signals` parameters, as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignalsParams {
    entity: Option<String>,
    signal: Option<String>,
    from: Option<String>,
    until: Option<String>,
    limit: Option<String>,
}

/// `GET /api/v1/signals` parameters, checked.
#[derive(Debug)]
pub(crate) struct SignalsQuery {
    pub key: SeriesKey,
    pub from: Timestamp,
    pub until: Timestamp,
    pub limit: u32,
}

impl SignalsParams {
    /// Checks the parameters; `now` is the default end of the range.
    pub(crate) fn check(self, now: Timestamp) -> Result<SignalsQuery, ApiError> {
        let entity = entity("entity", self.entity.as_deref())?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::MissingParameter,
                "entity is required (e.g. entity=prefix:192.0.2.0/24); GET /api/v1/series lists the series stored",
            )
        })?;
        let signal = match present(self.signal.as_deref()) {
            None => {
                return Err(ApiError::new(
                    ErrorCode::MissingParameter,
                    "signal is required (e.g. signal=bgp.visibility); GET /api/v1/series lists the series stored",
                ));
            }
            Some(text) => {
                let measure = (text.len() <= SIGNAL_MAX_LEN)
                    .then(|| text.parse::<Measure>().ok())
                    .flatten();
                measure.ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::BadSignal,
                        format!(
                            "`{}` is not a series: bgp.visibility, bgp.upstream.ASN, probe.KIND.ok, probe.KIND.rtt_ms or probe.KIND.loss",
                            shorten(text)
                        ),
                    )
                })?
            }
        };
        let until = time("until", self.until.as_deref(), now)?.unwrap_or(now);
        let from = time("from", self.from.as_deref(), now)?
            .unwrap_or_else(|| until.add_secs(-SIGNAL_SPAN_DEFAULT_SECS));
        if from >= until {
            return Err(ApiError::new(
                ErrorCode::BadRange,
                format!("from ({from}) must be before until ({until})"),
            ));
        }
        if until.secs_since(from) > SIGNAL_SPAN_MAX_SECS as f64 {
            return Err(ApiError::new(
                ErrorCode::BadRange,
                format!(
                    "from {from} to {until} is longer than {} days: ask for a shorter span",
                    SIGNAL_SPAN_MAX_SECS / 86_400
                ),
            ));
        }
        let limit = limit(
            self.limit.as_deref(),
            POINTS_LIMIT_DEFAULT,
            POINTS_LIMIT_MAX,
        )?;
        Ok(SignalsQuery {
            key: SeriesKey::new(entity, signal),
            from,
            until,
            limit,
        })
    }
}

/// `GET /api/v1/series` and other routes without parameters: any parameter is refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoParams {}

/// Checks an event id before it reaches the database.
pub(crate) fn event_id(id: &str) -> Result<(), ApiError> {
    let fine = !id.is_empty()
        && id.len() <= ID_MAX_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'));
    if fine {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::BadId,
            format!(
                "`{}` is not an event id: up to {ID_MAX_LEN} letters, digits, `.`, `_`, `-` or `:`",
                shorten(id)
            ),
        ))
    }
}

/// The most entities one request returns.
pub const ENTITIES_LIMIT_MAX: u32 = 1000;
/// How many entities a request returns when it does not say.
pub const ENTITIES_LIMIT_DEFAULT: u32 = 100;
/// The longest text a name search may give.
const SEARCH_MAX_LEN: usize = 64;
/// The kinds of entity, as the part of an entity before its first `:`.
pub const ENTITY_KINDS: &[&str] = &[
    "country", "as", "prefix", "upstream", "host", "service", "feed", "vantage",
];

/// `GET /api/v1/entities` parameters, as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntitiesParams {
    kind: Option<String>,
    state: Option<String>,
    limit: Option<String>,
    after: Option<String>,
    q: Option<String>,
}

/// `GET /api/v1/entities` parameters, checked.
#[derive(Debug)]
pub(crate) struct EntitiesQuery {
    /// The kinds asked for; empty for every kind.
    pub kinds: Vec<&'static str>,
    /// The states asked for; empty for every state.
    pub states: Vec<EntityState>,
    pub limit: u32,
    /// The page starts after this entity (the previous page's `next`).
    pub after: Option<Entity>,
    /// Lowercase text the entity or its name must contain.
    pub search: Option<String>,
}

impl EntitiesParams {
    pub(crate) fn check(self) -> Result<EntitiesQuery, ApiError> {
        let mut kinds = Vec::new();
        for kind in list(self.kind.as_deref()) {
            let known = ENTITY_KINDS.iter().find(|k| **k == kind).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::UnknownKind,
                    format!(
                        "kind=`{}` is not a kind of entity: use {} (comma-separated for several)",
                        shorten(kind),
                        ENTITY_KINDS.join(", ")
                    ),
                )
            })?;
            kinds.push(*known);
        }
        let mut states = Vec::new();
        for state in list(self.state.as_deref()) {
            let known = EntityState::ALL
                .into_iter()
                .find(|s| s.as_str() == state)
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::UnknownState,
                        format!(
                            "state=`{}` is not a state: use up, degraded, down or unknown (comma-separated for several)",
                            shorten(state)
                        ),
                    )
                })?;
            states.push(known);
        }
        let search = match present(self.q.as_deref()) {
            Some(text)
                if text.chars().count() > SEARCH_MAX_LEN || text.chars().any(char::is_control) =>
            {
                return Err(ApiError::new(
                    ErrorCode::BadQuery,
                    format!(
                        "q is at most {SEARCH_MAX_LEN} characters, none of them control characters"
                    ),
                ));
            }
            Some(text) => Some(text.to_lowercase()),
            None => None,
        };
        Ok(EntitiesQuery {
            kinds,
            states,
            limit: limit(
                self.limit.as_deref(),
                ENTITIES_LIMIT_DEFAULT,
                ENTITIES_LIMIT_MAX,
            )?,
            after: entity("after", self.after.as_deref())?,
            search,
        })
    }
}

/// The non-empty items of a comma-separated parameter.
fn list(value: Option<&str>) -> impl Iterator<Item = &str> {
    present(value)
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn present(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

fn time(name: &str, value: Option<&str>, now: Timestamp) -> Result<Option<Timestamp>, ApiError> {
    let Some(text) = present(value) else {
        return Ok(None);
    };
    // The same reading as `blackout events --since`.
    Timestamp::parse_query(text, now).map(Some).ok_or_else(|| {
        ApiError::new(
            ErrorCode::BadTime,
            format!(
                "{name}=`{}` is not a time: use RFC 3339 (2022-01-14T00:00:00Z), a date, Unix seconds up to year 9999, or a span ago (24h, 7d)",
                shorten(text)
            ),
        )
    })
}

fn entity(name: &str, value: Option<&str>) -> Result<Option<Entity>, ApiError> {
    let Some(text) = present(value) else {
        return Ok(None);
    };
    let bad = |why: String| ApiError::new(ErrorCode::BadEntity, format!("{name}: {why}"));
    if text.len() > ENTITY_MAX_LEN {
        return Err(bad(format!(
            "an entity is at most {ENTITY_MAX_LEN} bytes long"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(bad("an entity has no control characters".into()));
    }
    let parsed: Entity = text.parse().map_err(|_| {
        bad(format!(
            "`{}` is not an entity: use kind:name (country:KP, as:131279, prefix:175.45.176.0/24, upstream:4837, host:kcna.kp, service:dns:kp, feed:NAME, vantage:NAME)",
            shorten(text)
        ))
    })?;
    Ok(Some(parsed))
}

fn limit(value: Option<&str>, default: u32, max: u32) -> Result<u32, ApiError> {
    let Some(text) = present(value) else {
        return Ok(default);
    };
    match text.parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::new(
            ErrorCode::BadLimit,
            format!(
                "limit=`{}` must be a whole number from 1 to {max}",
                shorten(text)
            ),
        )),
    }
}

/// At most 64 characters of what the client sent, so that an error does not echo a
/// huge parameter back.
fn shorten(text: &str) -> String {
    const MAX: usize = 64;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let mut short: String = text.chars().take(MAX).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(q: &str) -> Result<EventsQuery, ApiError> {
        let uri: Uri = format!("/api/v1/events?{q}").parse().unwrap();
        query::<EventsParams>(&uri)?.check(Timestamp::from_secs(1_700_000_000))
    }

    fn code(result: Result<EventsQuery, ApiError>) -> &'static str {
        result.unwrap_err().code.as_str()
    }

    #[test]
    fn good_event_queries_are_read() {
        let q = events("since=2022-01-14T00:00:00Z&until=1642200000&cause=upstream-cut&entity=prefix:175.45.176.0/24&limit=5").unwrap();
        assert_eq!(q.since, Some(Timestamp::from_secs(1_642_118_400)));
        assert_eq!(q.until, Some(Timestamp::from_secs(1_642_200_000)));
        assert_eq!(q.cause, Some(Cause::UpstreamCut));
        assert_eq!(q.entity.as_deref(), Some("prefix:175.45.176.0/24"));
        assert_eq!(q.limit, 5);
        let q = events("since=&until=&cause=&entity=").unwrap();
        assert_eq!(
            (q.since, q.cause, q.limit),
            (None, None, EVENTS_LIMIT_DEFAULT)
        );
    }

    #[test]
    fn spans_ago_are_read_as_the_cli_reads_them() {
        let now = Timestamp::from_secs(1_700_000_000);
        let q = events("since=24h&until=30m").unwrap();
        assert_eq!(q.since, Some(now.add_secs(-86_400)));
        assert_eq!(q.until, Some(now.add_secs(-1800)));
        assert_eq!(code(events("since=-24h")), "bad_time");
        assert_eq!(code(events("since=24y")), "bad_time");
    }

    #[test]
    fn bad_event_queries_say_which_part_is_wrong() {
        assert_eq!(code(events("since=yesterday")), "bad_time");
        assert_eq!(code(events("since=99999999999999999")), "bad_time");
        assert_eq!(code(events("until=9223372036854775807")), "bad_time");
        assert_eq!(
            code(events("since=2022-02-01&until=2022-01-01")),
            "bad_range"
        );
        assert_eq!(code(events("cause=aliens")), "unknown_cause");
        assert_eq!(code(events("entity=planet:earth")), "bad_entity");
        assert_eq!(code(events("entity=prefix:300.0.0.0/8")), "bad_entity");
        assert_eq!(code(events("limit=0")), "bad_limit");
        assert_eq!(code(events("limit=1001")), "bad_limit");
        assert_eq!(code(events("limit=-1")), "bad_limit");
        assert_eq!(code(events("limit=1e9")), "bad_limit");
        assert_eq!(code(events("enitty=as:1")), "bad_query");
        assert_eq!(code(events("limit=1&limit=2")), "bad_query");
    }

    #[test]
    fn signal_queries_default_to_the_last_day_and_refuse_absurd_spans() {
        let now = Timestamp::from_secs(1_700_000_000);
        let check = |q: &str| {
            let uri: Uri = format!("/api/v1/signals?{q}").parse().unwrap();
            query::<SignalsParams>(&uri).and_then(|p| p.check(now))
        };
        let q = check("entity=prefix:192.0.2.0/24&signal=bgp.visibility").unwrap();
        assert_eq!(q.until, now);
        assert_eq!(q.from, now.add_secs(-86_400));
        assert_eq!(q.limit, POINTS_LIMIT_DEFAULT);
        let code = |q: &str| check(q).unwrap_err().code.as_str();
        assert_eq!(code("signal=bgp.visibility"), "missing_parameter");
        assert_eq!(code("entity=as:64496"), "missing_parameter");
        assert_eq!(code("entity=as:64496&signal=a%20b"), "bad_signal");
        assert_eq!(
            code("entity=as:64496&signal=bgp.visibility&from=1970-01-01"),
            "bad_range"
        );
        assert_eq!(
            code("entity=as:64496&signal=bgp.visibility&from=1700000000"),
            "bad_range"
        );
        assert_eq!(
            code("entity=as:64496&signal=bgp.visibility&limit=100001"),
            "bad_limit"
        );
    }

    #[test]
    fn entity_queries_filter_by_kind_and_state_and_page_after_an_entity() {
        let check = |q: &str| {
            let uri: Uri = format!("/api/v1/entities?{q}").parse().unwrap();
            query::<EntitiesParams>(&uri).and_then(EntitiesParams::check)
        };
        let q =
            check("kind=country,as&state=down,%20degraded&limit=50&after=as:64496&q=Iran").unwrap();
        assert_eq!(q.kinds, ["country", "as"]);
        assert_eq!(q.states, [EntityState::Down, EntityState::Degraded]);
        assert_eq!(q.limit, 50);
        assert_eq!(q.after, Some(Entity::As(blackout_model::Asn(64496))));
        assert_eq!(q.search.as_deref(), Some("iran"));
        let q = check("kind=&state=&limit=&after=&q=").unwrap();
        assert!(q.kinds.is_empty() && q.states.is_empty() && q.after.is_none());
        assert_eq!(q.limit, ENTITIES_LIMIT_DEFAULT);
        let code = |q: &str| check(q).unwrap_err().code.as_str();
        assert_eq!(code("kind=planet"), "unknown_kind");
        assert_eq!(code("state=sideways"), "unknown_state");
        assert_eq!(code("limit=1001"), "bad_limit");
        assert_eq!(code("after=planet:earth"), "bad_entity");
        assert_eq!(code(&format!("q={}", "x".repeat(65))), "bad_query");
        assert_eq!(code("kinds=as"), "bad_query");
    }

    #[test]
    fn event_ids_are_checked_before_the_database() {
        assert!(event_id("ev-1642118400-00112233aabbccdd").is_ok());
        assert_eq!(event_id("").unwrap_err().code.as_str(), "bad_id");
        assert_eq!(event_id("a b").unwrap_err().code.as_str(), "bad_id");
        assert_eq!(
            event_id(&"a".repeat(129)).unwrap_err().code.as_str(),
            "bad_id"
        );
    }
}
