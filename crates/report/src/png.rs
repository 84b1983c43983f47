//! The chart as a PNG image: the SVG of [`crate::render_svg_with`] drawn in process by
//! resvg, at [`PNG_SCALE`] times its size, for places that take no SVG (a chat
//! message, a slide, an article's image slot).
//!
//! Text needs fonts, and a PNG has to carry the glyphs themselves, so [`Fonts`] are
//! loaded from the system first (fontconfig's directories: `fonts-dejavu-core` on
//! Debian provides the chart's DejaVu Sans) and handed in; without any font the
//! answer is a [`PngError::NoFont`] that says what to install, never an image with
//! its words missing. Given the same fonts, the same data gives the same bytes.

use resvg::tiny_skia::{Pixmap, Transform};
use resvg::usvg::{self, fontdb};
use std::path::Path;
use std::sync::Arc;

/// How many pixels per SVG unit: twice the chart's size, sharp on high-density
/// screens and in print.
pub const PNG_SCALE: f32 = 2.0;

/// The family the chart asks for first.
const CHART_FAMILY: &str = "DejaVu Sans";

/// Why no PNG was made.
#[derive(Debug, thiserror::Error)]
pub enum PngError {
    /// No font to draw the text with.
    #[error(
        "no font found in {searched}: the PNG's text needs one (on Debian: apt-get install fonts-dejavu-core)"
    )]
    NoFont {
        /// Where fonts were looked for.
        searched: String,
    },
    /// The chart's SVG could not be read back (a bug: the SVG is ours).
    #[error("the chart's SVG cannot be drawn: {0}")]
    Svg(String),
    /// The image could not be made or encoded.
    #[error("cannot make the PNG: {0}")]
    Encode(String),
}

/// The fonts the chart's text is drawn with.
#[derive(Clone, Debug)]
pub struct Fonts {
    database: Arc<fontdb::Database>,
}

impl Fonts {
    /// The fonts installed on this system, as fontconfig lists them (or from the
    /// usual directories where there is no fontconfig).
    pub fn system() -> Result<Fonts, PngError> {
        let mut database = fontdb::Database::new();
        database.load_system_fonts();
        Fonts::from_database(database, "the system's font directories")
    }

    /// The fonts in `dir` and below.
    pub fn in_dir(dir: &Path) -> Result<Fonts, PngError> {
        let mut database = fontdb::Database::new();
        database.load_fonts_dir(dir);
        Fonts::from_database(database, &dir.display().to_string())
    }

    fn from_database(mut database: fontdb::Database, searched: &str) -> Result<Fonts, PngError> {
        let Some(any) = database
            .faces()
            .find_map(|face| face.families.first().map(|(name, _)| name.clone()))
        else {
            return Err(PngError::NoFont {
                searched: searched.to_string(),
            });
        };
        // The chart names DejaVu Sans, then generic sans-serif; where neither is
        // installed, any font beats text left out.
        let has_chart_family = database
            .query(&fontdb::Query {
                families: &[fontdb::Family::Name(CHART_FAMILY)],
                ..fontdb::Query::default()
            })
            .is_some();
        let has_sans_serif = database
            .query(&fontdb::Query {
                families: &[fontdb::Family::SansSerif],
                ..fontdb::Query::default()
            })
            .is_some();
        if !has_chart_family && !has_sans_serif {
            database.set_sans_serif_family(any.clone());
            database.set_serif_family(any);
        }
        Ok(Fonts {
            database: Arc::new(database),
        })
    }
}

/// Draws `svg` (a standalone SVG document) as a PNG at [`PNG_SCALE`].
pub(crate) fn render(svg: &str, fonts: &Fonts) -> Result<Vec<u8>, PngError> {
    let options = usvg::Options {
        font_family: CHART_FAMILY.to_string(),
        fontdb: Arc::clone(&fonts.database),
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| PngError::Svg(e.to_string()))?;
    let size = tree
        .size()
        .to_int_size()
        .scale_by(PNG_SCALE)
        .ok_or_else(|| PngError::Encode("the chart has no size".to_string()))?;
    let mut pixmap = Pixmap::new(size.width(), size.height()).ok_or_else(|| {
        PngError::Encode(format!(
            "no {}x{} image can be made",
            size.width(),
            size.height()
        ))
    })?;
    resvg::render(
        &tree,
        Transform::from_scale(PNG_SCALE, PNG_SCALE),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| PngError::Encode(e.to_string()))
}
