//! STAC Items (local JSON files, hrefs relative to the item).
//!
//! Bands are found by asset key or by `eo:bands` common name: Earth Search v1
//! names its assets `red`, `nir`, `scl`; Planetary Computer `B04`, `B08`, `SCL`
//! (Sentinel-2) or `red`, `nir08`, `qa_pixel` (Landsat C2 L2). Reflectance comes
//! from the asset's `raster:bands` `scale`/`offset`/`nodata`; without them a
//! Sentinel-2 item's `s2:processing_baseline` ≥ 04.00 gives DN × 1e-4 − 0.1.
//! The date is `properties.datetime` (or `start_datetime`); the CRS is the
//! file's, else `proj:epsg`.

use std::path::Path;

use canopy_core::forest::{MaskRule, LANDSAT_QA_INVALID_BITS};
use serde_json::Value;

use super::{iso_date, BandRef, ProductError, ProductOptions, SceneParts};

/// Asset keys tried in order for each role, then `eo:bands` common names.
const RED_KEYS: [&str; 3] = ["red", "B04", "b04"];
const NIR_KEYS: [&str; 5] = ["nir", "B08", "b08", "nir08", "nir08-8a"];
/// SWIR2 (burned area; optional): Earth Search `swir22`, Planetary Computer `B12`,
/// Landsat C2 L2 `swir22`.
const SWIR_KEYS: [&str; 3] = ["swir22", "B12", "b12"];
const SCL_KEYS: [&str; 2] = ["scl", "SCL"];
const QA_KEYS: [&str; 2] = ["qa_pixel", "QA_PIXEL"];

fn find_asset<'a>(
    assets: &'a serde_json::Map<String, Value>,
    keys: &[&str],
    common: &str,
) -> Option<(&'a str, &'a Value)> {
    for k in keys {
        if let Some((k, v)) = assets.get_key_value(*k) {
            return Some((k.as_str(), v));
        }
    }
    assets.iter().find_map(|(k, v)| {
        let bands = v.get("eo:bands")?.as_array()?;
        (bands.len() == 1 && bands[0].get("common_name")?.as_str()? == common)
            .then_some((k.as_str(), v))
    })
}

/// Reads a STAC Item's bands, mask and date.
pub fn read(item: &Path, opts: &ProductOptions) -> Result<SceneParts, ProductError> {
    let text = std::fs::read_to_string(item)
        .map_err(|e| ProductError::invalid(item, format!("cannot be read: {e}")))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| ProductError::invalid(item, format!("is not valid JSON: {e}")))?;
    if v.get("type").and_then(Value::as_str) != Some("Feature") {
        return Err(ProductError::invalid(
            item,
            "is not a STAC Item (no \"type\": \"Feature\")",
        ));
    }
    let assets = v
        .get("assets")
        .and_then(Value::as_object)
        .ok_or_else(|| ProductError::invalid(item, "has no \"assets\""))?;
    let props = v.get("properties").cloned().unwrap_or(Value::Null);
    let names: Vec<&str> = assets.keys().map(String::as_str).collect();
    let (red_key, red) = find_asset(assets, &RED_KEYS, "red").ok_or_else(|| {
        ProductError::invalid(
            item,
            format!(
                "has no red asset (looked for keys {RED_KEYS:?} or eo:bands common_name \"red\"; \
                 assets are {names:?})"
            ),
        )
    })?;
    let (nir_key, nir) = find_asset(assets, &NIR_KEYS, "nir").ok_or_else(|| {
        ProductError::invalid(
            item,
            format!(
                "has no NIR asset (looked for keys {NIR_KEYS:?} or eo:bands common_name \"nir\"; \
                 assets are {names:?})"
            ),
        )
    })?;
    let baseline = props
        .get("s2:processing_baseline")
        .and_then(Value::as_str)
        .and_then(|s| s.trim().parse::<f64>().ok());
    let red = band(item, red_key, red, baseline)?;
    let nir = band(item, nir_key, nir, baseline)?;
    let swir = find_asset(assets, &SWIR_KEYS, "swir22")
        .map(|(k, a)| band(item, k, a, baseline))
        .transpose()?;
    let mask = if let Some((k, a)) = find_asset(assets, &SCL_KEYS, "") {
        let mut b = band(item, k, a, None)?;
        (b.scale, b.offset, b.nodata) = (1.0, 0.0, Some(0.0));
        Some((b, MaskRule::InvalidClasses(opts.scl_invalid)))
    } else if let Some((k, a)) = find_asset(assets, &QA_KEYS, "") {
        let mut b = band(item, k, a, None)?;
        (b.scale, b.offset, b.nodata) = (1.0, 0.0, Some(1.0));
        Some((b, MaskRule::InvalidBits(LANDSAT_QA_INVALID_BITS)))
    } else {
        tracing::warn!(item = %item.display(), "STAC item has no scl/qa_pixel asset: every pixel with data counts as clear");
        None
    };
    let dt = props
        .get("datetime")
        .and_then(Value::as_str)
        .or_else(|| props.get("start_datetime").and_then(Value::as_str));
    let date = match dt {
        Some(s) => Some(iso_date(s).ok_or_else(|| {
            ProductError::invalid(item, format!("properties.datetime \"{s}\" is not a date"))
        })?),
        None => None,
    };
    let epsg = props
        .get("proj:epsg")
        .and_then(Value::as_u64)
        .and_then(|e| u32::try_from(e).ok());
    Ok(SceneParts {
        red,
        nir,
        mask,
        date,
        epsg,
        swir,
    })
}

/// One asset as a band: its href resolved against the item, its scaling.
fn band(
    item: &Path,
    key: &str,
    asset: &Value,
    baseline: Option<f64>,
) -> Result<BandRef, ProductError> {
    let href = asset
        .get("href")
        .and_then(Value::as_str)
        .ok_or_else(|| ProductError::invalid(item, format!("asset \"{key}\" has no href")))?;
    let file = if href.starts_with("http://") || href.starts_with("https://") {
        format!("/vsicurl/{href}")
    } else {
        let local = href.strip_prefix("file://").unwrap_or(href);
        let p = item.parent().unwrap_or(Path::new(".")).join(local);
        if !p.is_file() {
            return Err(ProductError::invalid(
                item,
                format!(
                    "asset \"{key}\" href \"{href}\" does not exist (looked for {})",
                    p.display()
                ),
            ));
        }
        std::path::absolute(&p)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned()
    };
    let rb = asset
        .get("raster:bands")
        .and_then(Value::as_array)
        .and_then(|a| a.first());
    let num = |k: &str| rb.and_then(|b| b.get(k)).and_then(Value::as_f64);
    let (mut scale, mut offset) = (num("scale"), num("offset"));
    if scale.is_none() && offset.is_none() {
        if let Some(b) = baseline {
            scale = Some(1e-4);
            offset = Some(if b >= 4.0 { -0.1 } else { 0.0 });
        }
    }
    Ok(BandRef {
        file,
        band: 1,
        scale: scale.unwrap_or(1.0),
        offset: offset.unwrap_or(0.0),
        nodata: num("nodata"),
    })
}
