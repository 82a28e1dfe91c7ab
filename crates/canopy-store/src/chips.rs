//! The `alert_chips` table: each alert's before/after evidence PNGs (`chips`),
//! written by the run in its transaction (BLOBs, bounded by `chips::MAX_SIDE` and
//! `chips::MAX_ALERTS`), read one at a time by the server.

use std::path::Path;

use gdal::vector::{Feature, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType};
use gdal::Dataset;

use crate::error::StoreError as PipelineError;
use crate::photos::{binary, set_binary};

/// One chip of an alert (or its NDVI series, `kind` = `series`, JSON), rendered by
/// the run (`canopy_pipeline::chips`).
#[derive(Debug, Clone)]
pub struct Chip {
    pub alert_id: String,
    /// `before` (the earlier epoch), `after` (the later one) or `series`.
    pub kind: &'static str,
    pub epoch: String,
    /// PNG bytes (before, after) or JSON (series).
    pub png: Vec<u8>,
}

/// The table's name.
pub const TABLE: &str = "alert_chips";

const FIELDS: [(&str, OGRFieldType::Type); 4] = [
    ("alert_id", OGRFieldType::OFTString),
    ("kind", OGRFieldType::OFTString),
    ("epoch", OGRFieldType::OFTString),
    ("png", OGRFieldType::OFTBinary),
];

/// Writes the chips into a store being written (the run's transaction).
pub fn write(ds: &mut Dataset, chips: &[Chip]) -> gdal::errors::Result<()> {
    let layer = ds.create_layer(LayerOptions {
        name: TABLE,
        ty: OGRwkbGeometryType::wkbNone,
        ..Default::default()
    })?;
    layer.create_defn_fields(&FIELDS)?;
    for c in chips {
        let mut f = Feature::new(layer.defn())?;
        f.set_field_string(0, &c.alert_id)?;
        f.set_field_string(1, c.kind)?;
        f.set_field_string(2, &c.epoch)?;
        set_binary(&mut f, 3, &c.png);
        f.create(&layer)?;
    }
    Ok(())
}

/// One chip's PNG and epoch (`kind`: before or after); `None` when the store has none.
pub fn read(
    path: &Path,
    alert_id: &str,
    kind: &str,
) -> Result<Option<(String, Vec<u8>)>, PipelineError> {
    let ds = crate::open_dataset(path)?;
    let Ok(mut layer) = ds.layer_by_name(TABLE) else {
        return Ok(None);
    };
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    layer
        .set_attribute_filter(&format!(
            "alert_id = {} AND kind = {}",
            quote(alert_id),
            quote(kind)
        ))
        .map_err(|e| PipelineError::invalid(&path, format!("table {TABLE}: {e}")))?;
    let found = layer.features().next().map(|f| {
        (
            f.field_as_string(2).ok().flatten().unwrap_or_default(),
            binary(&f, 3),
        )
    });
    Ok(found)
}

/// The alert ids that have chips.
pub fn alert_ids(path: &Path) -> Result<std::collections::BTreeSet<String>, PipelineError> {
    let ds = crate::open_dataset(path)?;
    let Ok(mut layer) = ds.layer_by_name(TABLE) else {
        return Ok(Default::default());
    };
    Ok(layer
        .features()
        .filter_map(|f| f.field_as_string(0).ok().flatten())
        .collect())
}
