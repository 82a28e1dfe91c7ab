//! Generic read-back of a store's layers, for the HTTP server.
//!
//! The server keeps an immutable in-memory snapshot of the whole store. It reads every
//! layer it serves through one open dataset (so the snapshot is one consistent state of
//! the file, even if a run renames a new store over it meanwhile), and it must read
//! layers that other issues add (e.g. `zones`) without a typed reader for each. So this
//! returns rows as JSON values keyed by field name, with the geometry as `geo` types.

use std::collections::BTreeMap;
use std::path::Path;

use gdal::vector::{FieldValue, LayerAccess};
use gdal::Dataset;

use crate::error::PipelineError;

/// One row of a layer.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// The GeoPackage feature id.
    pub fid: u64,
    /// Field name → value (`Null` for unset fields).
    pub fields: BTreeMap<String, serde_json::Value>,
    /// The geometry, for spatial layers (EPSG:4326 lon/lat in Canopy's stores).
    pub geometry: Option<geo::Geometry<f64>>,
}

/// The rows of the layers asked for, by layer name. Absent layers are absent from
/// the map (the caller decides whether that is an error).
pub type Layers = BTreeMap<String, Vec<Row>>;

fn json(v: Option<FieldValue>) -> serde_json::Value {
    use serde_json::Value;
    match v {
        None => Value::Null,
        Some(FieldValue::IntegerValue(i)) => Value::from(i),
        Some(FieldValue::Integer64Value(i)) => Value::from(i),
        Some(FieldValue::RealValue(x)) => {
            serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
        }
        Some(FieldValue::StringValue(s)) => Value::String(s),
        Some(other) => other.into_string().map_or(Value::Null, Value::String),
    }
}

/// Reads `names` from the store at `path` through one open dataset.
pub fn read_layers(path: &Path, names: &[&str]) -> Result<Layers, PipelineError> {
    if !path.exists() {
        return Err(PipelineError::store(
            path,
            "not found; run `canopy run REGION.toml --store PATH` first",
        ));
    }
    crate::store::recover(path)?;
    let ds = Dataset::open(path).map_err(|e| {
        PipelineError::store(path, format!("cannot be opened as a GeoPackage: {e}"))
    })?;
    let mut out = Layers::new();
    for name in names {
        let Ok(mut layer) = ds.layer_by_name(name) else {
            continue;
        };
        let field_names: Vec<String> = layer.defn().fields().map(|f| f.name()).collect();
        let mut rows = Vec::new();
        for f in layer.features() {
            let mut fields = BTreeMap::new();
            for (i, n) in field_names.iter().enumerate() {
                fields.insert(n.clone(), json(f.field(i).ok().flatten()));
            }
            let geometry = match f.geometry() {
                Some(g) => Some(g.to_geo().map_err(|e| {
                    PipelineError::store(
                        path,
                        format!("layer {name}, feature {:?}: bad geometry: {e}", f.fid()),
                    )
                })?),
                None => None,
            };
            rows.push(Row {
                fid: f.fid().unwrap_or(0),
                fields,
                geometry,
            });
        }
        out.insert(name.to_string(), rows);
    }
    Ok(out)
}
