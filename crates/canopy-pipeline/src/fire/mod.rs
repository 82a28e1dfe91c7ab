//! Fire: daily danger level per commune from weather stations
//! ([`stations`] → [`danger`]); satellite hotspots ([`firms`] → [`hotspots`]:
//! footprints, forest fractions, fire events, `fire` alerts); stored by
//! `canopy_store` (`fire_danger`, `hotspots`, `fire_events`). [`table`] reads both inputs (CSV or OGR).
//!
//! Burned area (NBR/dNBR) is not implemented yet; its hook is `EpochConfig`
//! gaining a SWIR band (see the README's Fire section).

pub mod danger;
pub mod firms;
pub mod hotspots;
pub mod stations;
pub mod table;

use crate::config::Region;
use crate::cover::CoverResult;

pub use danger::DangerRow;

/// What the fire part of a run produces.
#[derive(Debug, Clone, Default)]
pub struct FireOutputs {
    /// Commune × day danger rows (empty without `stations`).
    pub danger: Vec<DangerRow>,
    /// Hotspots and fire events (`None` without `hotspots`).
    pub hotspots: Option<hotspots::HotspotPlan>,
}

/// Errors of the fire part of a run.
#[derive(Debug, thiserror::Error)]
pub enum FireError {
    #[error(transparent)]
    Stations(#[from] stations::StationError),
    #[error(transparent)]
    Hotspots(#[from] hotspots::HotspotError),
}

impl From<FireError> for crate::error::PipelineError {
    fn from(e: FireError) -> Self {
        crate::error::PipelineError::Fire(Box::new(e))
    }
}

/// The fire part of a run, after the cover pass: `None` when the region has no
/// `[fire]` section. `plan` is what [`hotspots::plan`] made before the pass and
/// `offset` where its polygons start among the pass's extra polygons. Returns
/// the outputs and the `fire` alerts.
pub fn run(
    region: &Region,
    cover: &CoverResult,
    plan: Option<hotspots::HotspotPlan>,
    offset: usize,
) -> Result<Option<(FireOutputs, Vec<crate::change::Alert>)>, FireError> {
    let Some(cfg) = &region.fire else {
        return Ok(None);
    };
    let latest = region.epochs.last().map(|e| e.id.as_str()).unwrap_or("");
    let rows = match &cfg.stations {
        Some(path) => {
            let st = stations::read(path)?;
            let sites: Vec<danger::CommuneSite> = cover
                .communes
                .iter()
                .map(|c| {
                    let forest = cover
                        .rows
                        .iter()
                        .find(|r| r.commune_code == c.code && r.epoch == latest)
                        .map_or(0.0, |r| r.figures.forest_ha);
                    danger::CommuneSite::new(&c.code, &c.name, &c.geom_wgs84, forest)
                })
                .collect();
            let rows = danger::per_commune(&st, &cfg.scheme(), &sites);
            tracing::info!(
                stations = st.len(),
                rows = rows.len(),
                last_day = danger::last_date(&rows).unwrap_or("-"),
                "fire danger computed"
            );
            rows
        }
        None => Vec::new(),
    };
    let mut alerts = Vec::new();
    let plan = plan.map(|mut p| {
        let sums = cover
            .extra
            .iter()
            .find(|(e, _)| e == latest)
            .map(|(_, s)| s.get(offset..).unwrap_or(&[]))
            .unwrap_or(&[]);
        alerts = hotspots::finish(&mut p, sums, cfg, latest);
        tracing::info!(
            hotspots = p.hotspots.len(),
            outside = p.outside(),
            events = p.events.len(),
            alerts = alerts.len(),
            "hotspots located and grouped"
        );
        p
    });
    Ok(Some((
        FireOutputs {
            danger: rows,
            hotspots: plan,
        },
        alerts,
    )))
}
