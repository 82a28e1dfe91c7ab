//! Reading the commune layer: any OGR-readable polygon layer.
//!
//! Every problem names the file, the layer and the feature (its index, code and
//! name when known), because the fix is always in that file: a missing field, a
//! duplicate code, a self-intersecting ring.

use std::collections::HashMap;
use std::path::Path;

use gdal::vector::LayerAccess;
use gdal::Dataset;
use geo::orient::{Direction, Orient};
use geo::{MultiPolygon, Validation};

use crate::config::CommunesConfig;
use crate::crs::Crs;
use crate::error::PipelineError;
use crate::text::nfc;

/// One commune as read from the source, in the source's CRS.
#[derive(Debug, Clone)]
pub struct Commune {
    pub code: String,
    pub name: String,
    pub geom: MultiPolygon<f64>,
}

/// The communes of a region and the CRS they are in.
#[derive(Debug, Clone)]
pub struct CommuneLayer {
    pub crs: Crs,
    pub communes: Vec<Commune>,
}

/// Reads and checks the commune layer described by the region file.
pub fn read(cfg: &CommunesConfig) -> Result<CommuneLayer, PipelineError> {
    read_polygons(
        &cfg.path,
        cfg.layer.as_deref(),
        &cfg.code_field,
        &cfg.name_field,
    )
}

/// Reads a polygon layer with a code and a name field, checking every feature.
pub fn read_polygons(
    path: &Path,
    layer_name: Option<&str>,
    code_field: &str,
    name_field: &str,
) -> Result<CommuneLayer, PipelineError> {
    let err = |msg: String| PipelineError::vector(path, msg);
    if !path.exists() {
        return Err(err("file not found".into()));
    }
    let ds =
        Dataset::open(path).map_err(|e| err(format!("cannot be opened as a vector layer: {e}")))?;
    let mut layer = match layer_name {
        Some(n) => ds
            .layer_by_name(n)
            .map_err(|_| err(format!("has no layer \"{n}\"")))?,
        None => ds.layer(0).map_err(|_| err("has no layer".into()))?,
    };
    let lname = layer.name();
    let srs = layer.spatial_ref().ok_or_else(|| {
        err(format!(
            "layer \"{lname}\" has no CRS; assign one (e.g. ogr2ogr -a_srs EPSG:4326)"
        ))
    })?;
    let crs = Crs::from_srs(&srs).map_err(|e| err(e.to_string()))?;
    let fields: Vec<String> = layer.defn().fields().map(|f| f.name()).collect();
    for f in [code_field, name_field] {
        if !fields.iter().any(|x| x == f) {
            return Err(err(format!(
                "layer \"{lname}\" has no field \"{f}\" (fields: {})",
                fields.join(", ")
            )));
        }
    }
    let code_idx = layer
        .defn()
        .field_index(code_field)
        .map_err(|e| err(e.to_string()))?;
    let name_idx = layer
        .defn()
        .field_index(name_field)
        .map_err(|e| err(e.to_string()))?;

    let mut communes = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, f) in layer.features().enumerate() {
        let code = f
            .field_as_string(code_idx)
            .ok()
            .flatten()
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let name = nfc(f
            .field_as_string(name_idx)
            .ok()
            .flatten()
            .unwrap_or_default()
            .trim());
        let who = format!(
            "layer \"{lname}\", feature {i} ({code_field} \"{code}\", {name_field} \"{name}\")"
        );
        if code.is_empty() {
            return Err(err(format!("{who}: empty {code_field}")));
        }
        if let Some(j) = seen.insert(code.clone(), i) {
            return Err(err(format!(
                "{who}: duplicate {code_field} \"{code}\" (also feature {j})"
            )));
        }
        let g = f
            .geometry()
            .ok_or_else(|| err(format!("{who}: no geometry")))?;
        let geom: geo::Geometry<f64> = g
            .to_geo()
            .map_err(|e| err(format!("{who}: unreadable geometry: {e}")))?;
        let mp: MultiPolygon<f64> = match geom {
            geo::Geometry::Polygon(p) => p.into(),
            geo::Geometry::MultiPolygon(m) => m,
            other => {
                return Err(err(format!(
                    "{who}: is a {}, not a polygon",
                    geometry_kind(&other)
                )));
            }
        };
        if mp.0.is_empty() {
            return Err(err(format!("{who}: empty geometry")));
        }
        if let Err(problem) = mp.check_validation() {
            return Err(err(format!(
                "{who}: invalid polygon: {problem}. Repair the layer first, e.g. \
                 ogr2ogr -makevalid fixed.gpkg {}",
                path.display()
            )));
        }
        // Exterior rings counter-clockwise, holes clockwise: sources disagree (one
        // real commune winds clockwise) and boolean operations need one convention.
        communes.push(Commune {
            code,
            name,
            geom: mp.orient(Direction::Default),
        });
    }
    if communes.is_empty() {
        return Err(err(format!("layer \"{lname}\" has no features")));
    }
    Ok(CommuneLayer { crs, communes })
}

fn geometry_kind(g: &geo::Geometry<f64>) -> &'static str {
    match g {
        geo::Geometry::Point(_) => "point",
        geo::Geometry::MultiPoint(_) => "multipoint",
        geo::Geometry::LineString(_) | geo::Geometry::Line(_) => "line",
        geo::Geometry::MultiLineString(_) => "multiline",
        geo::Geometry::GeometryCollection(_) => "geometry collection",
        _ => "non-polygon geometry",
    }
}
