//! `blackout report`: an incident report of one event, from the database, as a
//! self-contained HTML page or (for a `.svg` or `.png` file) the chart alone. The
//! profile only lends its names (North Korea, China Unicom, ...).

use crate::Failure;
use crate::cli::ReportArgs;
use anyhow::{Context, anyhow};
use blackout_profile::Profile;
use blackout_report::{
    Fonts, Format, Labels, gather, render_html_at, render_png_at, render_svg_at,
};
use blackout_store::Store;

pub fn run(args: ReportArgs) -> Result<(), Failure> {
    let profile = super::load_profile(&args.profile)?;
    if args.db.is_missing_file() {
        return Err(Failure::Work(anyhow!(
            "no database at {}: `blackout watch` or `blackout replay --db {}` writes one",
            args.db,
            args.db
        )));
    }
    let store = Store::open_read_only(&args.db)?;
    let data = gather(&store, &args.event_id)?.ok_or_else(|| {
        Failure::Work(anyhow!(
            "no event `{}` in {}: `blackout events --db {}` lists the ids",
            args.event_id,
            args.db,
            args.db
        ))
    })?;
    let labels = labels(&profile);
    let format = Format::for_path(&args.out);
    let bytes = match format {
        Format::Html => render_html_at(
            &data.event,
            &data.series,
            &data.related,
            &labels,
            data.as_of,
        )
        .into_bytes(),
        Format::Svg => render_svg_at(&data.event, &data.series, &labels, data.as_of).into_bytes(),
        Format::Png => {
            let fonts = Fonts::system()?;
            render_png_at(&data.event, &data.series, &labels, &fonts, data.as_of)?
        }
    };
    std::fs::write(&args.out, bytes)
        .with_context(|| format!("cannot write the report to {}", args.out.display()))?;
    eprintln!(
        "wrote the {} of {} to {} ({} series, {} other events)",
        match format {
            Format::Html => "report",
            Format::Svg | Format::Png => "chart",
        },
        data.event.id,
        args.out.display(),
        data.series.len(),
        data.related.len()
    );
    Ok(())
}

/// The profile's names for its entities.
fn labels(profile: &Profile) -> Labels {
    let mut labels = Labels::new();
    if let Some(country) = &profile.country {
        let name = profile
            .label
            .clone()
            .unwrap_or_else(|| profile.description.clone());
        labels.insert(format!("country:{country}"), name);
    }
    for network in &profile.networks {
        labels.insert(format!("as:{}", network.asn.0), network.name.clone());
    }
    for upstream in &profile.upstreams {
        labels.insert(
            format!("upstream:{}", upstream.asn.0),
            upstream.name.clone(),
        );
    }
    for host in &profile.hosts {
        if let Some(label) = &host.label {
            labels.insert(format!("host:{}", host.name), label.clone());
        }
    }
    labels
}
