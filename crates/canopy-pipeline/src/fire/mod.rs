//! Fire: daily danger level per commune from weather stations
//! ([`stations`] → [`danger`]), stored by `canopy_store::fire_danger`.
//!
//! Hotspots (NASA FIRMS) and burned area (NBR/dNBR) are not implemented yet;
//! their hooks are the `FireOutputs` fields to come and `EpochConfig` gaining a
//! SWIR band (see the README's Fire section).

pub mod danger;
pub mod firms;
pub mod stations;

use crate::config::Region;
use crate::cover::CoverResult;

pub use danger::DangerRow;

/// What the fire part of a run produces.
#[derive(Debug, Clone, Default)]
pub struct FireOutputs {
    /// Commune × day danger rows.
    pub danger: Vec<DangerRow>,
}

/// Errors of the fire part of a run.
#[derive(Debug, thiserror::Error)]
pub enum FireError {
    #[error(transparent)]
    Stations(#[from] stations::StationError),
}

/// The fire part of a run: `None` when the region has no `[fire]` section.
pub fn run(region: &Region, cover: &CoverResult) -> Result<Option<FireOutputs>, FireError> {
    let Some(cfg) = &region.fire else {
        return Ok(None);
    };
    let st = stations::read(&cfg.stations)?;
    let latest = region.epochs.last().map(|e| e.id.as_str()).unwrap_or("");
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
    Ok(Some(FireOutputs { danger: rows }))
}
