//! The planners' report: the 6-month or annual figures a commune-level planner
//! sends up, for one epoch, built from the store only.
//!
//! [`build`] reads everything the report shows from the store (one open dataset,
//! through `canopy-store`'s typed readers) into a plain
//! [`Report`]; the renderers ([`markdown`], [`csv`], [`html`]) only format it.
//! The CLI (`canopy report`) and the server's report endpoint call the same
//! functions, so the numbers are the store's, whatever the format: CSV carries
//! every value at full precision (shortest round-trip form), Markdown and HTML
//! round to 2 decimals.
//! Markdown and HTML take their cells from the same helpers at the end of this
//! file ([`num`], [`line_figures`], …), so the two show the same strings.

mod csv;
mod html;
pub mod i18n;
mod markdown;

pub use self::csv::{change_tracking_csv, csv};
pub use self::html::html;
pub use self::i18n::Lang;
pub use self::markdown::markdown;

use std::collections::BTreeMap;
use std::path::Path;

use canopy_core::targets::ZoneProgress;
use geo::MultiPolygon;
use serde::Serialize;

use canopy_core::change::Severity;
use canopy_core::targets::Progress;
use canopy_core::triage::TriageStatus;
use canopy_store::zones::{Overlap, SpeciesRow};
use canopy_store::{Reader, Store, StoreError, PROVINCE_CODE};

/// Why a report cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The epoch asked for is not in the store.
    #[error("no epoch \"{epoch}\" in {} (epochs: {})", store.display(), known.join(", "))]
    NoEpoch {
        epoch: String,
        store: std::path::PathBuf,
        known: Vec<String>,
    },
}

/// Alert counts of one commune (or the province) for the report's pair.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AlertCounts {
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub new: usize,
    pub confirmed: usize,
    pub dismissed: usize,
    pub area_ha: f64,
}

impl AlertCounts {
    pub fn total(&self) -> usize {
        self.high + self.medium + self.low
    }
}

/// One line of the report: a commune, or the province.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Line {
    pub code: String,
    pub name: String,
    pub natural_ha: f64,
    pub forest_ha: f64,
    pub observed_pct: f64,
    pub cover_pct: Option<f64>,
    /// Change since the previous epoch (none for the first epoch).
    pub loss_ha: Option<f64>,
    pub gain_ha: Option<f64>,
    pub net_ha: Option<f64>,
    /// Zone area by species (overlaps of one species counted once).
    pub zone_ha: BTreeMap<String, f64>,
    pub alerts: AlertCounts,
}

/// The report of one epoch.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Report {
    pub region: String,
    pub epoch: String,
    pub date: String,
    /// The previous epoch (id, date): the change and alerts are since then.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
    pub previous: Option<(String, String)>,
    /// When the run that wrote the store finished.
    pub run_finished_at: String,
    /// Species in column order.
    pub species: Vec<String>,
    pub communes: Vec<Line>,
    pub province: Line,
    /// Province rows of `species_summary` for this epoch.
    pub species_totals: Vec<SpeciesRow>,
    /// Land zoned for two species, province-wide.
    pub overlaps: Vec<Overlap>,
    pub progress: Option<Progress>,
    /// Warnings of the run and of the targets (never hidden).
    pub warnings: Vec<String>,
    /// Commune outlines (EPSG:4326) for the map of the HTML form.
    #[serde(skip)]
    pub shapes: Vec<(String, MultiPolygon<f64>)>,
    /// The forest-plot change-tracking table (theo dõi diễn biến rừng) for the
    /// report's pair: per function, owner category, commune × function (empty
    /// without plots). Rendered by Markdown, HTML and [`change_tracking_csv`].
    #[serde(skip)]
    pub plots: Vec<canopy_store::parcels::ParcelSummaryRow>,
}

/// Reads the store at `store_path` (one open dataset) into the report of `epoch`
/// (default: the latest).
pub fn build(store_path: &Path, epoch: Option<&str>) -> Result<Report, ReportError> {
    build_from(&Store::open(store_path)?.read()?, epoch)
}

/// [`build`] on an open store.
pub fn build_from(store: &Reader, epoch: Option<&str>) -> Result<Report, ReportError> {
    let store_path = store.path();
    let cover = store.cover()?;
    let dates = store.epoch_dates()?;
    let k = match epoch {
        Some(e) => {
            dates
                .iter()
                .position(|(id, _)| id == e)
                .ok_or_else(|| ReportError::NoEpoch {
                    epoch: e.to_string(),
                    store: store_path.to_path_buf(),
                    known: dates.iter().map(|d| d.0.clone()).collect(),
                })?
        }
        None => dates
            .len()
            .checked_sub(1)
            .ok_or_else(|| StoreError::invalid(store_path, "has no epoch"))?,
    };
    let (epoch, date) = dates[k].clone();
    let previous = k.checked_sub(1).map(|p| dates[p].clone());
    let (change, province_change) = store.change()?;
    let alerts = match store.alerts() {
        Ok(a) => a,
        Err(_) if dates.len() < 2 => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let zones = store.zones()?;
    let progress = store.progress()?;
    let warnings = match &progress {
        Some(p) => p.warnings.clone(),
        None => store.warnings()?.into_iter().map(|(_, m)| m).collect(),
    };
    let run_finished_at = store
        .runs()?
        .last()
        .map(|r| r.finished_at.clone())
        .unwrap_or_default();

    let species: Vec<String> = {
        let mut s: Vec<String> = zones.species.iter().map(|r| r.species.clone()).collect();
        s.sort();
        s.dedup();
        s
    };
    let prev_id = previous.as_ref().map(|p| p.0.as_str());
    let line = |code: &str, name: &str| -> Line {
        let (rows, changes) = if code == PROVINCE_CODE {
            (&cover.province, &province_change)
        } else {
            (&cover.rows, &change)
        };
        let fig = rows
            .iter()
            .find(|r| r.commune_code == code && r.epoch == epoch)
            .map(|r| r.figures.clone());
        let ch = prev_id.and_then(|p| {
            changes
                .iter()
                .find(|c| c.commune_code == code && c.from_epoch == p && c.to_epoch == epoch)
        });
        let zone_ha = zones
            .species
            .iter()
            .filter(|r| r.commune_code == code && r.epoch == epoch)
            .map(|r| (r.species.clone(), r.zone_ha))
            .collect();
        let mut counts = AlertCounts::default();
        for a in alerts.iter().filter(|a| {
            Some(a.from_epoch.as_str()) == prev_id
                && a.to_epoch == epoch
                && (code == PROVINCE_CODE || a.commune_code == code)
        }) {
            match a.severity {
                Severity::High => counts.high += 1,
                Severity::Medium => counts.medium += 1,
                Severity::Low => counts.low += 1,
            }
            match a.status {
                TriageStatus::Confirmed => counts.confirmed += 1,
                TriageStatus::Dismissed => counts.dismissed += 1,
                TriageStatus::New => counts.new += 1,
            }
            counts.area_ha += a.area_ha;
        }
        Line {
            code: code.to_string(),
            name: name.to_string(),
            natural_ha: fig.as_ref().map(|f| f.natural_ha).unwrap_or(0.0),
            forest_ha: fig.as_ref().map(|f| f.forest_ha).unwrap_or(0.0),
            observed_pct: fig.as_ref().map(|f| f.observed_pct).unwrap_or(0.0),
            cover_pct: fig.as_ref().and_then(|f| f.cover_pct),
            loss_ha: ch.map(|c| c.loss_ha),
            gain_ha: ch.map(|c| c.gain_ha),
            net_ha: ch.map(|c| c.net_ha),
            zone_ha,
            alerts: counts,
        }
    };
    let communes: Vec<Line> = cover
        .communes
        .iter()
        .map(|c| line(&c.code, &c.name))
        .collect();
    let province = line(PROVINCE_CODE, &cover.region_name);
    let species_totals = zones
        .species
        .iter()
        .filter(|r| r.commune_code == PROVINCE_CODE && r.epoch == epoch)
        .cloned()
        .collect();
    let overlaps = zones
        .overlaps
        .iter()
        .filter(|o| o.commune_code == PROVINCE_CODE)
        .cloned()
        .collect();
    let plots = store
        .parcel_summary()?
        .into_iter()
        .filter(|s| {
            Some(s.from_epoch.as_str()) == prev_id && s.to_epoch == epoch && s.grouping != "commune"
        })
        .collect();
    Ok(Report {
        region: cover.region_name.clone(),
        epoch,
        date,
        previous,
        run_finished_at,
        species,
        communes,
        province,
        species_totals,
        overlaps,
        progress,
        warnings,
        shapes: store.commune_shapes()?,
        plots,
    })
}

/// The label of a change-tracking row (function, owner category or commune ×
/// function) in `lang`.
pub(crate) fn plot_group_label(r: &canopy_store::parcels::ParcelSummaryRow, lang: Lang) -> String {
    let f = r.function.map(|f| match lang {
        Lang::Vi => f.label_vi(),
        Lang::En => f.label_en(),
    });
    let c = r.owner_category.map(|c| match lang {
        Lang::Vi => c.label_vi(),
        Lang::En => c.label_en(),
    });
    match (r.commune_code.as_deref(), f, c) {
        (Some(code), Some(f), _) => format!("{code} · {f}"),
        (_, Some(f), _) => f.to_string(),
        (_, _, Some(c)) => c.to_string(),
        _ => String::new(),
    }
}

/// Formats a number with thousands separators and `d` decimals ("12,345.67"),
/// as English writes it (Markdown and the CLI; the HTML report uses
/// [`i18n::number`] in its language).
pub(crate) fn num(v: f64, d: usize) -> String {
    i18n::number(v, d, Lang::En)
}

/// An optional number, "–" when absent.
pub(crate) fn opt_num(v: Option<f64>, d: usize) -> String {
    v.map(|v| num(v, d)).unwrap_or_else(|| "–".into())
}

/// An optional percentage ("56.15 %"), "–" when absent.
pub(crate) fn opt_pct(v: Option<f64>) -> String {
    v.map(|v| format!("{} %", num(v, 2)))
        .unwrap_or_else(|| "–".into())
}

/// The figures of a line, as the Markdown and HTML tables show them: natural
/// and forest ha, cover %, loss, gain and net ha, then the zone ha of each species.
pub(crate) fn line_figures(l: &Line, species: &[String], lang: Lang) -> Vec<String> {
    let n = |v: f64| i18n::number(v, 2, lang);
    let o = |v: Option<f64>| v.map(n).unwrap_or_else(|| "–".into());
    let mut cells = vec![
        n(l.natural_ha),
        n(l.forest_ha),
        o(l.cover_pct),
        o(l.loss_ha),
        o(l.gain_ha),
        o(l.net_ha),
    ];
    for s in species {
        cells.push(n(l.zone_ha.get(s).copied().unwrap_or(0.0)));
    }
    cells
}

/// The communes a zone target names that have no zone of its species ("none").
pub(crate) fn communes_without_zone(z: &ZoneProgress) -> String {
    if z.communes_without_zone.is_empty() {
        "none".into()
    } else {
        z.communes_without_zone.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::num;

    #[test]
    fn numbers_by_hand() {
        assert_eq!(num(1234567.891, 2), "1,234,567.89");
        assert_eq!(num(999.994, 2), "999.99");
        assert_eq!(num(-0.001, 2), "0.00");
        assert_eq!(num(-1500.0, 0), "−1,500");
        assert_eq!(num(12.0, 1), "12.0");
    }
}
