//! Planting zones (vùng trồng): polygons with a species and, when the layer has
//! one, the official planting-zone code (mã số vùng trồng).

use crate::communes::read_features;
use crate::config::ZonesConfig;
use crate::crs::Crs;
use crate::error::PipelineError;
use geo::MultiPolygon;

/// One planting zone, in the layer's CRS.
#[derive(Debug, Clone)]
pub struct Zone {
    /// Lower-case species key ("acacia", "pine", …).
    pub species: String,
    /// The zone code, or `zone-<feature index>` when the layer has none.
    pub code: String,
    pub geom: MultiPolygon<f64>,
}

/// The zones of a region and their CRS.
#[derive(Debug, Clone)]
pub struct ZoneLayer {
    pub crs: Crs,
    pub zones: Vec<Zone>,
}

/// Reads the zone layer; a zone without a species is an error naming it.
pub fn read(cfg: &ZonesConfig) -> Result<ZoneLayer, PipelineError> {
    let mut fields = vec![cfg.species_field.as_str()];
    if let Some(c) = &cfg.code_field {
        fields.push(c.as_str());
    }
    let (crs, lname, feats) = read_features(&cfg.path, cfg.layer.as_deref(), &fields)?;
    let mut zones = Vec::with_capacity(feats.len());
    for f in feats {
        let species = f.values[0].to_lowercase();
        if species.is_empty() {
            return Err(PipelineError::vector(
                &cfg.path,
                format!(
                    "layer \"{lname}\", feature {}: empty {}",
                    f.index, cfg.species_field
                ),
            ));
        }
        let code = match f.values.get(1) {
            Some(c) if !c.is_empty() => c.clone(),
            _ => format!("zone-{}", f.index),
        };
        zones.push(Zone {
            species,
            code,
            geom: f.geom,
        });
    }
    Ok(ZoneLayer { crs, zones })
}
