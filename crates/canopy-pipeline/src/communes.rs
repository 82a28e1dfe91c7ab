//! Reading polygon layers: the communes, and (through [`read_features`]) the
//! planting zones.
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

/// One feature of a polygon layer: the requested field values (NFC, trimmed;
/// empty when null) and its checked geometry.
#[derive(Debug, Clone)]
pub struct PolygonFeature {
    pub index: usize,
    pub values: Vec<String>,
    pub geom: MultiPolygon<f64>,
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

/// Reads a polygon layer with a code and a name field; codes must be unique.
pub fn read_polygons(
    path: &Path,
    layer_name: Option<&str>,
    code_field: &str,
    name_field: &str,
) -> Result<CommuneLayer, PipelineError> {
    let (crs, lname, feats) = read_features(path, layer_name, &[code_field, name_field])?;
    let err = |msg: String| PipelineError::vector(path, msg);
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut communes = Vec::with_capacity(feats.len());
    for f in feats {
        let (code, name) = (f.values[0].clone(), f.values[1].clone());
        let who = format!(
            "layer \"{lname}\", feature {} ({code_field} \"{code}\", {name_field} \"{name}\")",
            f.index
        );
        if code.is_empty() {
            return Err(err(format!("{who}: empty {code_field}")));
        }
        if name.is_empty() {
            return Err(err(format!(
                "{who}: empty {name_field}; every commune needs a name (reports and the map show it)"
            )));
        }
        if let Some(j) = seen.insert(code.clone(), f.index) {
            return Err(err(format!(
                "{who}: duplicate {code_field} \"{code}\" (also feature {j})"
            )));
        }
        communes.push(Commune {
            code,
            name,
            geom: f.geom,
        });
    }
    Ok(CommuneLayer { crs, communes })
}

/// Reads every feature of a polygon layer with the given fields (which must
/// exist), checking each geometry. Returns the layer's CRS and name too.
pub fn read_features(
    path: &Path,
    layer_name: Option<&str>,
    fields: &[&str],
) -> Result<(Crs, String, Vec<PolygonFeature>), PipelineError> {
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
    if layer.feature_count() == 0 {
        return Err(err(format!("layer \"{lname}\" has no features")));
    }
    let names: Vec<String> = layer.defn().fields().map(|f| f.name()).collect();
    let mut idx = Vec::with_capacity(fields.len());
    for f in fields {
        match names.iter().position(|x| x == f) {
            Some(i) => idx.push(i),
            None => {
                return Err(err(format!(
                    "layer \"{lname}\" has no field \"{f}\" (fields: {})",
                    names.join(", ")
                )))
            }
        }
    }
    let mut out = Vec::new();
    for (i, f) in layer.features().enumerate() {
        let values: Vec<String> = idx
            .iter()
            .map(|&k| {
                nfc(f
                    .field_as_string(k)
                    .ok()
                    .flatten()
                    .unwrap_or_default()
                    .trim())
            })
            .collect();
        let who = format!(
            "layer \"{lname}\", feature {i} ({})",
            describe(fields, &values)
        );
        if let Some((field, _)) = fields
            .iter()
            .zip(&values)
            .find(|(_, v)| v.contains('\u{FFFD}'))
        {
            return Err(err(format!(
                "{who}: field \"{field}\" is not valid UTF-8 (shown as \u{FFFD}); convert the \
                 layer to UTF-8 (e.g. ogr2ogr with the source encoding: --config SHAPE_ENCODING \
                 CP1258, or iconv for GeoJSON)"
            )));
        }
        let geom = polygon_of(&f, &who, path)?;
        out.push(PolygonFeature {
            index: i,
            values,
            geom,
        });
    }
    if out.is_empty() {
        return Err(err(format!("layer \"{lname}\" has no features")));
    }
    Ok((crs, lname, out))
}

fn describe(fields: &[&str], values: &[String]) -> String {
    fields
        .iter()
        .zip(values)
        .map(|(f, v)| format!("{f} \"{v}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A feature's geometry as a valid, consistently oriented multipolygon, or an
/// error naming the feature (`who`).
fn polygon_of(
    f: &gdal::vector::Feature,
    who: &str,
    path: &Path,
) -> Result<MultiPolygon<f64>, PipelineError> {
    let err = |msg: String| PipelineError::vector(path, msg);
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
    Ok(mp.orient(Direction::Default))
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
