//! Generic read-back of a store's layers (rows as JSON by field name), for the
//! server's feature collections: a layer's every field is served, including the
//! ones a later version adds.
//!
//! The server keeps an immutable in-memory snapshot of the whole store. It reads every
//! layer it serves through one open dataset (so the snapshot is one consistent state of
//! the file, even if a run renames a new store over it meanwhile), and it must read
//! layers that other issues add (e.g. `zones`) without a typed reader for each. So this
//! returns rows as JSON values keyed by field name, with the geometry as `geo` types.

use std::collections::BTreeMap;

use crate::error::{Result, StoreError};
use crate::Reader;
use gdal::vector::{FieldValue, LayerAccess};

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

impl Reader {
    /// The rows of layers `names` (through this reader's one open dataset).
    pub fn layers(&self, names: &[&str]) -> Result<Layers> {
        let mut out = Layers::new();
        for name in names {
            let Ok(mut layer) = self.ds.layer_by_name(name) else {
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
                    Some(g) => Some(g.to_geo().map_err(StoreError::gdal(
                        &self.path,
                        format!("layer {name}, feature {:?}: bad geometry", f.fid()),
                    ))?),
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
}
