//! Landsat Collection 2 Level-2 scenes: a folder of GeoTIFFs with its MTL.
//!
//! A `tiles` entry names the scene folder, its `*_MTL.txt`, or (with
//! `format = "landsat-c2-l2"`) one of its band files. Landsat 8/9 read
//! `SR_B4`/`SR_B5`, Landsat 4/5/7 `SR_B3`/`SR_B4`; reflectance =
//! DN × 0.0000275 − 0.2 (or the MTL's `REFLECTANCE_MULT/ADD_BAND_n`), nodata 0;
//! the mask is `QA_PIXEL` read by bits (fill, dilated cloud, cirrus, cloud,
//! cloud shadow, snow); the date is the MTL's `DATE_ACQUIRED`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use canopy_core::forest::{MaskRule, LANDSAT_QA_INVALID_BITS};

use super::{iso_date, BandRef, ProductError, SceneParts};

/// The scene's MTL file.
fn mtl_of(path: &Path) -> Result<PathBuf, ProductError> {
    let upper = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .map(|n| n.to_ascii_uppercase())
            .unwrap_or_default()
    };
    if path.is_file() && upper(path).ends_with("_MTL.TXT") {
        return Ok(path.to_path_buf());
    }
    let (dir, prefix) = if path.is_dir() {
        (path.to_path_buf(), None)
    } else {
        // A band file: the scene id is the name up to `_SR_` / `_QA_` / `_ST_`.
        let n = upper(path);
        let cut = ["_SR_", "_QA_", "_ST_"]
            .iter()
            .filter_map(|k| n.find(k))
            .min();
        (
            path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            cut.map(|c| n[..c].to_string()),
        )
    };
    let found = std::fs::read_dir(&dir).ok().and_then(|rd| {
        let mut v: Vec<PathBuf> = rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                let n = upper(p);
                n.ends_with("_MTL.TXT") && prefix.as_ref().is_none_or(|pre| n.starts_with(pre))
            })
            .collect();
        v.sort();
        v.into_iter().next()
    });
    found.ok_or_else(|| {
        ProductError::invalid(
            path,
            "Landsat scene without its MTL file (*_MTL.txt): the date and the band files \
             come from it; download the scene's MTL beside its bands",
        )
    })
}

/// `KEY = value` pairs of an MTL (ODL) file, first occurrence wins, quotes stripped.
fn parse_mtl(text: &str) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            let k = k.trim().to_string();
            let v = v.trim().trim_matches('"').to_string();
            m.entry(k).or_insert(v);
        }
    }
    m
}

/// Reads a Landsat C2 L2 scene's bands, QA mask and date.
pub fn read(path: &Path) -> Result<SceneParts, ProductError> {
    let mtl = mtl_of(path)?;
    let text = std::fs::read_to_string(&mtl)
        .map_err(|e| ProductError::invalid(&mtl, format!("cannot be read: {e}")))?;
    let kv = parse_mtl(&text);
    let get = |k: &str| kv.get(k).map(String::as_str);
    let dir = mtl.parent().unwrap_or(Path::new("."));
    let name = mtl.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let scene_id = get("LANDSAT_PRODUCT_ID")
        .map(str::to_string)
        .unwrap_or_else(|| name[..name.len().saturating_sub("_MTL.txt".len())].to_string());
    let craft = get("SPACECRAFT_ID").unwrap_or("");
    let l89 = craft.ends_with('8') || craft.ends_with('9') || {
        let s = scene_id.to_ascii_uppercase();
        s.starts_with("LC08") || s.starts_with("LC09") || s.starts_with("LO08")
    };
    let (red_n, nir_n) = if l89 { (4, 5) } else { (3, 4) };
    if get("PROCESSING_LEVEL").is_some_and(|l| !l.starts_with("L2")) {
        return Err(ProductError::invalid(
            &mtl,
            format!(
                "PROCESSING_LEVEL is {} : a Level-1 scene has no surface reflectance; use Collection 2 Level-2",
                get("PROCESSING_LEVEL").unwrap_or("?")
            ),
        ));
    }
    let file = |key: &str, suffix: &str| -> Result<String, ProductError> {
        let named = get(key).map(|f| dir.join(f));
        let guess = dir.join(format!("{scene_id}_{suffix}"));
        let p = named
            .filter(|p| p.is_file())
            .or_else(|| guess.is_file().then_some(guess.clone()))
            .ok_or_else(|| {
                ProductError::invalid(
                    &mtl,
                    format!(
                        "band file {suffix} not found (looked for {})",
                        guess.display()
                    ),
                )
            })?;
        Ok(std::path::absolute(&p)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned())
    };
    let num = |k: String, default: f64| -> Result<f64, ProductError> {
        match get(&k) {
            Some(v) => v
                .parse::<f64>()
                .map_err(|_| ProductError::invalid(&mtl, format!("{k} = \"{v}\" is not a number"))),
            None => Ok(default),
        }
    };
    let refl = |n: u32| -> Result<BandRef, ProductError> {
        Ok(BandRef {
            file: file(&format!("FILE_NAME_BAND_{n}"), &format!("SR_B{n}.TIF"))?,
            band: 1,
            scale: num(format!("REFLECTANCE_MULT_BAND_{n}"), 2.75e-5)?,
            offset: num(format!("REFLECTANCE_ADD_BAND_{n}"), -0.2)?,
            nodata: Some(0.0),
        })
    };
    let mut qa = BandRef::plain(file("FILE_NAME_QUALITY_L1_PIXEL", "QA_PIXEL.TIF")?);
    qa.nodata = Some(1.0);
    let date = get("DATE_ACQUIRED")
        .and_then(iso_date)
        .ok_or_else(|| ProductError::invalid(&mtl, "has no DATE_ACQUIRED (YYYY-MM-DD)"))?;
    // SWIR2 is band 7 on every Landsat of C2 L2 (TM, ETM+, OLI); optional
    // (burned area only): a scene without its SR_B7 file still reads.
    let has_b7 = get("FILE_NAME_BAND_7").is_some_and(|f| dir.join(f).is_file())
        || dir.join(format!("{scene_id}_SR_B7.TIF")).is_file();
    Ok(SceneParts {
        red: refl(red_n)?,
        nir: refl(nir_n)?,
        mask: Some((qa, MaskRule::InvalidBits(LANDSAT_QA_INVALID_BITS))),
        date: Some(date),
        epsg: None,
        swir: if has_b7 { Some(refl(7)?) } else { None },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mtl_pairs() {
        let kv = parse_mtl(
            "GROUP = X\n    DATE_ACQUIRED = 2023-01-15\n    SPACECRAFT_ID = \"LANDSAT_8\"\n  REFLECTANCE_MULT_BAND_4 = 2.75E-05\nEND",
        );
        assert_eq!(kv["DATE_ACQUIRED"], "2023-01-15");
        assert_eq!(kv["SPACECRAFT_ID"], "LANDSAT_8");
        assert_eq!(
            kv["REFLECTANCE_MULT_BAND_4"].parse::<f64>().unwrap(),
            2.75e-5
        );
    }
}
