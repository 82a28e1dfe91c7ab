//! Sentinel-2 L2A products: a `.SAFE` folder or its `.zip`.
//!
//! The bands are the JPEG 2000 files of the product's layout
//! (`GRANULE/*/IMG_DATA/R10m/*_B04_10m.jp2`, `*_B08_10m.jp2`,
//! `R20m/*_SCL_20m.jp2`), read by GDAL (JP2OpenJPEG; `/vsizip/` inside a zip).
//! `MTD_MSIL2A.xml` gives the date (`PRODUCT_START_TIME`), the quantification
//! value (`BOA_QUANTIFICATION_VALUE`, 10 000) and the BOA offsets
//! (`BOA_ADD_OFFSET`, −1000 from processing baseline 04.00 on; when the list is
//! absent, −1000 is assumed for baseline ≥ 04.00 and 0 before):
//! reflectance = (DN + offset) / quantification.

use std::path::{Path, PathBuf};

use canopy_core::forest::MaskRule;

use super::{iso_date, xml_text, BandRef, ProductError, ProductOptions, SceneParts};

/// The GDAL path of the product's root and the list of its files (relative).
fn listing(product: &Path) -> Result<(String, Vec<String>), ProductError> {
    let abs = std::path::absolute(product).unwrap_or_else(|_| product.to_path_buf());
    let root = if product.is_dir() {
        abs.to_string_lossy().into_owned()
    } else {
        format!("/vsizip/{}", abs.to_string_lossy())
    };
    let files = gdal::vsi::read_dir(&root, true).map_err(|source| ProductError::Gdal {
        path: product.to_path_buf(),
        what: "cannot list the product (not a .SAFE folder or a zip of one?)".into(),
        source,
    })?;
    let files = files
        .into_iter()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .collect();
    Ok((root, files))
}

/// Reads a file through GDAL's virtual file systems (a zip member).
pub(crate) fn read_vsi(path: &str) -> Option<Vec<u8>> {
    let c = std::ffi::CString::new(path).ok()?;
    let mut buf: *mut u8 = std::ptr::null_mut();
    let mut len: u64 = 0;
    // SAFETY: VSIIngestFile allocates `buf` (freed below with VSIFree) and sets `len`.
    let ok = unsafe {
        gdal_sys::VSIIngestFile(
            std::ptr::null_mut(),
            c.as_ptr(),
            &mut buf,
            &mut len,
            64 << 20,
        )
    };
    if ok == 0 || buf.is_null() {
        return None;
    }
    // SAFETY: `buf` holds `len` bytes written by GDAL.
    let out = unsafe { std::slice::from_raw_parts(buf, len as usize) }.to_vec();
    unsafe { gdal_sys::VSIFree(buf.cast()) };
    Some(out)
}

fn find<'a>(files: &'a [String], suffix: &str) -> Option<&'a String> {
    let s = suffix.to_ascii_uppercase();
    files
        .iter()
        .filter(|f| f.to_ascii_uppercase().ends_with(&s))
        .min_by_key(|f| f.len())
}

/// Reads a SAFE's bands, SCL, scaling and date.
pub fn read(product: &Path, opts: &ProductOptions) -> Result<SceneParts, ProductError> {
    let (root, files) = listing(product)?;
    let mtd = find(&files, "MTD_MSIL2A.xml").ok_or_else(|| {
        ProductError::invalid(
            product,
            "has no MTD_MSIL2A.xml: not a Sentinel-2 L2A product (an L1C product has no SCL \
             and no surface reflectance)",
        )
    })?;
    let mtd_path = format!("{root}/{mtd}");
    let xml = read_vsi(&mtd_path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .ok_or_else(|| ProductError::invalid(product, format!("cannot read {mtd}")))?;
    let band = |suffix: &str, what: &str| -> Result<String, ProductError> {
        find(&files, suffix)
            .map(|f| format!("{root}/{f}"))
            .ok_or_else(|| {
                ProductError::invalid(
                    product,
                    format!("has no {what} (no file *{suffix} under GRANULE/*/IMG_DATA)"),
                )
            })
    };
    let red_file = band("_B04_10m.jp2", "B04 10 m band")?;
    let nir_file = band("_B08_10m.jp2", "B08 10 m band")?;
    let scl_file = band("_SCL_20m.jp2", "SCL scene classification (20 m)")?;
    // B12 (SWIR2, 20 m) is optional: burned area only.
    let swir_file = find(&files, "_B12_20m.jp2").map(|f| format!("{root}/{f}"));

    let baseline = xml_text(&xml, "PROCESSING_BASELINE", None).and_then(|s| s.parse::<f64>().ok());
    let quant = xml_text(&xml, "BOA_QUANTIFICATION_VALUE", None)
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(10_000.0);
    if quant <= 0.0 {
        return Err(ProductError::invalid(
            product,
            format!("{mtd}: BOA_QUANTIFICATION_VALUE {quant} must be > 0"),
        ));
    }
    let default_offset = if baseline.is_some_and(|b| b >= 4.0) {
        -1000.0
    } else {
        0.0
    };
    // band_id 3 is B04, 7 is B08 (0-based over B1..B12 with B8A at 8).
    let offset = |id: u32| -> Result<f64, ProductError> {
        match xml_text(&xml, "BOA_ADD_OFFSET", Some(&format!("band_id=\"{id}\""))) {
            Some(s) => s.parse::<f64>().map_err(|_| {
                ProductError::invalid(
                    product,
                    format!("{mtd}: BOA_ADD_OFFSET band_id {id} \"{s}\" is not a number"),
                )
            }),
            None => Ok(default_offset),
        }
    };
    let refl = |file: String, id: u32| -> Result<BandRef, ProductError> {
        Ok(BandRef {
            file,
            band: 1,
            scale: 1.0 / quant,
            offset: offset(id)? / quant,
            nodata: Some(0.0),
        })
    };
    let date = xml_text(&xml, "PRODUCT_START_TIME", None)
        .or_else(|| xml_text(&xml, "DATATAKE_SENSING_START", None))
        .and_then(iso_date)
        .or_else(|| date_from_name(product));
    if date.is_none() {
        return Err(ProductError::invalid(
            product,
            format!("{mtd} has no PRODUCT_START_TIME and the name carries no date"),
        ));
    }
    let mut scl = BandRef::plain(scl_file);
    scl.nodata = Some(0.0);
    Ok(SceneParts {
        red: refl(red_file, 3)?,
        nir: refl(nir_file, 7)?,
        mask: Some((scl, MaskRule::InvalidClasses(opts.scl_invalid))),
        date,
        epsg: None,
        // band_id 12 is B12.
        swir: swir_file.map(|f| refl(f, 12)).transpose()?,
    })
}

/// `S2A_MSIL2A_20230615T102021_...` → 2023-06-15.
fn date_from_name(product: &Path) -> Option<chrono::NaiveDate> {
    let name = PathBuf::from(product.file_name()?);
    let n = name.to_str()?;
    let part = n.split('_').nth(2)?;
    chrono::NaiveDate::parse_from_str(part.get(..8)?, "%Y%m%d").ok()
}
