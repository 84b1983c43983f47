//! The dashboard: one page and its assets, embedded in the binary so that it works
//! with no network beyond the server itself.
//!
//! `assets/index.html` loads `common.js` (the helpers it shares with the overview),
//! `app.js` and `app.css` and uPlot 1.6 (MIT, see
//! `assets/uPlot.LICENSE`), all from `/assets/`. The page builds its DOM with
//! `textContent` only: banners, names, AS paths and summaries come from the network
//! and are never parsed as HTML.

use crate::error::{ApiError, ErrorCode};
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const INDEX: &str = include_str!("../assets/index.html");
/// The overview: the countries and ASes in trouble now and the recent events, a page
/// at a time (`assets/overview.js`), each linking to the entity's page (`/?entity=`).
const OVERVIEW: &str = include_str!("../assets/overview.html");

const ASSETS: &[Asset] = &[
    // What both pages' scripts share; each page loads it before its own.
    Asset {
        name: "common.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../assets/common.js"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../assets/app.js"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../assets/app.css"),
    },
    Asset {
        name: "overview.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../assets/overview.js"),
    },
    Asset {
        name: "overview.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../assets/overview.css"),
    },
    Asset {
        name: "uPlot.iife.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../assets/uPlot.iife.min.js"),
    },
    Asset {
        name: "uPlot.min.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../assets/uPlot.min.css"),
    },
    Asset {
        name: "uPlot.LICENSE",
        content_type: "text/plain; charset=utf-8",
        body: include_str!("../assets/uPlot.LICENSE"),
    },
];

/// `GET /`.
pub(crate) async fn index() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        INDEX,
    )
        .into_response()
}

/// `GET /overview`.
pub(crate) async fn overview() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        OVERVIEW,
    )
        .into_response()
}

/// `GET /assets/{name}`.
pub(crate) async fn asset(name: Result<Path<String>, PathRejection>) -> Result<Response, ApiError> {
    let name = name.map(|Path(name)| name).unwrap_or_default();
    let asset = ASSETS.iter().find(|a| a.name == name).ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            format!("no asset `{}`", name.chars().take(64).collect::<String>()),
        )
    })?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            // Assets change only with the binary; an hour of caching is plenty and
            // a restart with a new binary is picked up within it.
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        asset.body,
    )
        .into_response())
}
