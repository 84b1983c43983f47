//! Incident reports: one event, told for a reader who was not watching — what
//! went dark, when and for how long, through which upstreams, what the evidence
//! says and what the cause means — with charts of the routing data around it.
//!
//! - [`render_html`] / [`render_html_with`]: the report as one self-contained
//!   HTML page (inline CSS and SVG, no script, nothing fetched), in module `html`.
//! - [`render_svg`] / [`render_svg_with`]: the chart alone, as an SVG file, in
//!   module `chart` (visibility per prefix, share of paths per upstream, the
//!   event's span shaded, evidence marked).
//! - [`render_png_with`]: the same chart drawn as a PNG image, in module `png`, with
//!   text in the [`Fonts`] loaded from the system.
//! - [`gather`]: the data for one event from a [`Store`]: the event, the series of
//!   its prefixes (`bgp.visibility`, `bgp.upstream.<asn>`) over two hours either
//!   side of it, and the other events in that window.
//! - [`text`]: the words (headline, what each cause means, durations, escaping).
//!
//! Rendering is pure: the same data (and, for a PNG, the same fonts) gives the same
//! bytes, and nothing reads a clock.

mod chart;
mod gather;
mod html;
mod png;
pub mod text;

pub use chart::{window, window_at};
pub use gather::{ReportData, ReportError, gather};
pub use png::{Fonts, PNG_SCALE, PngError};
pub use text::Labels;

use blackout_model::{Event, SeriesKey, Timestamp};
#[cfg(doc)]
use blackout_store::Store;

/// One time series: its key (`prefix:175.45.176.0/24`, `bgp.visibility`) and its
/// points, oldest first.
pub type Series = (SeriesKey, Vec<(Timestamp, f64)>);

/// The report as HTML, entities called by their text form.
pub fn render_html(event: &Event, series: &[Series], related: &[Event]) -> String {
    render_html_with(event, series, related, &Labels::new())
}

/// The report as HTML, entities called by `labels` (`country:KP` → `North Korea`),
/// as of the event's latest evidence.
pub fn render_html_with(
    event: &Event,
    series: &[Series],
    related: &[Event],
    labels: &Labels,
) -> String {
    render_html_at(event, series, related, labels, unbounded(event))
}

/// The report as HTML, written as of `as_of` (how far the data runs,
/// [`ReportData::as_of`]): an event still going on has lasted at least until then,
/// and the charts stop there.
pub fn render_html_at(
    event: &Event,
    series: &[Series],
    related: &[Event],
    labels: &Labels,
    as_of: Timestamp,
) -> String {
    html::page(event, series, related, labels, as_of)
}

/// The chart alone, as a standalone SVG document with the headline on top.
pub fn render_svg(event: &Event, series: &[Series]) -> String {
    render_svg_with(event, series, &Labels::new())
}

/// The same, entities called by `labels`.
pub fn render_svg_with(event: &Event, series: &[Series], labels: &Labels) -> String {
    render_svg_at(event, series, labels, unbounded(event))
}

/// The same, the chart ending at `as_of` at the latest.
pub fn render_svg_at(
    event: &Event,
    series: &[Series],
    labels: &Labels,
    as_of: Timestamp,
) -> String {
    let title = text::headline(event, labels);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}\n",
        chart::chart(event, series, labels, Some(&title), as_of)
    )
}

/// The chart alone, as a PNG image at [`PNG_SCALE`] times the SVG's size, its text
/// drawn with `fonts`.
pub fn render_png_with(
    event: &Event,
    series: &[Series],
    labels: &Labels,
    fonts: &Fonts,
) -> Result<Vec<u8>, PngError> {
    render_png_at(event, series, labels, fonts, unbounded(event))
}

/// The same, the chart ending at `as_of` at the latest.
pub fn render_png_at(
    event: &Event,
    series: &[Series],
    labels: &Labels,
    fonts: &Fonts,
    as_of: Timestamp,
) -> Result<Vec<u8>, PngError> {
    png::render(&render_svg_at(event, series, labels, as_of), fonts)
}

/// With no time the data runs to: the full window after the latest evidence.
fn unbounded(event: &Event) -> Timestamp {
    chart::latest_evidence(event).add_secs(7200)
}

/// What to write, from the output file's name: SVG for `.svg`, PNG for `.png`, HTML
/// otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The whole report.
    Html,
    /// The chart alone, as SVG.
    Svg,
    /// The chart alone, as a PNG image.
    Png,
}

impl Format {
    /// The format a file name asks for.
    pub fn for_path(path: &std::path::Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("svg") => Format::Svg,
            Some(ext) if ext.eq_ignore_ascii_case("png") => Format::Png,
            _ => Format::Html,
        }
    }
}
