//! Satellite products as distributed, resolved into scenes the tile reader reads.
//!
//! A `tiles` entry of a spectral epoch may name, besides a stacked GeoTIFF:
//! - a STAC Item (`*.json`, [`stac`]): assets found by key or `eo:bands` common name;
//! - a Sentinel-2 L2A product, `.SAFE` folder or its `.zip` ([`safe`]);
//! - a Landsat Collection 2 Level-2 scene, its folder or `*_MTL.txt` ([`landsat`]).
//!
//! Each is resolved into a [`Scene`]: a small VRT in GDAL's `/vsimem/` ([`vrt`])
//! stacking red (band 1), NIR (band 2) and the product's mask (band 3) on the
//! grid of the red band, with the product's reflectance scale/offset and nodata
//! on each band, plus the acquisition date and the [`MaskRule`] that gives the
//! mask band its meaning (SCL classes, QA_PIXEL bits). A 20 m mask over 10 m
//! bands is resampled by the VRT (nearest neighbour, source window computed from
//! both geotransforms), so it is never misaligned. GDAL reads every band
//! (JPEG 2000 through its JP2OpenJPEG driver, zips through `/vsizip/`).

pub mod landsat;
pub mod safe;
pub mod stac;
pub mod vrt;

use std::path::{Path, PathBuf};

use canopy_core::forest::{ClassSet, MaskRule};
use chrono::NaiveDate;

/// The product formats a spectral epoch's tiles can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductFormat {
    Stac,
    Sentinel2Safe,
    LandsatC2L2,
    GeoTiff,
}

impl ProductFormat {
    /// The spelling of the region file's `format` key.
    pub const NAMES: [(&'static str, ProductFormat); 4] = [
        ("stac", ProductFormat::Stac),
        ("sentinel2-safe", ProductFormat::Sentinel2Safe),
        ("landsat-c2-l2", ProductFormat::LandsatC2L2),
        ("geotiff", ProductFormat::GeoTiff),
    ];

    pub fn parse(s: &str) -> Option<ProductFormat> {
        Self::NAMES.iter().find(|(n, _)| *n == s).map(|p| p.1)
    }

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|p| p.1 == self)
            .map(|p| p.0)
            .unwrap_or("?")
    }
}

/// Errors of reading a product's metadata and assembling its scene.
#[derive(Debug, thiserror::Error)]
pub enum ProductError {
    /// The product is incomplete or inconsistent (a missing band, MTL, href...).
    #[error("{}: {msg}", path.display())]
    Invalid { path: PathBuf, msg: String },
    /// GDAL could not open or describe one of the product's files.
    #[error("{}: {what}", path.display())]
    Gdal {
        path: PathBuf,
        what: String,
        #[source]
        source: gdal::errors::GdalError,
    },
}

impl ProductError {
    pub(crate) fn invalid(path: &Path, msg: impl std::fmt::Display) -> Self {
        ProductError::Invalid {
            path: path.to_path_buf(),
            msg: msg.to_string(),
        }
    }
    /// The product file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ProductError::Invalid { path, .. } | ProductError::Gdal { path, .. } => path,
        }
    }
}

impl From<ProductError> for crate::error::PipelineError {
    fn from(e: ProductError) -> Self {
        let msg = match &e {
            ProductError::Invalid { msg, .. } => msg.clone(),
            ProductError::Gdal { what, source, .. } => format!("{what}: {source}"),
        };
        crate::error::PipelineError::raster(e.path(), msg)
    }
}

/// One band of a scene: a GDAL-openable name and the band's reflectance scaling.
#[derive(Debug, Clone, PartialEq)]
pub struct BandRef {
    /// A path GDAL opens (`/vsizip/...` inside a zip).
    pub file: String,
    /// 1-based band number in that file.
    pub band: usize,
    pub scale: f64,
    pub offset: f64,
    pub nodata: Option<f64>,
}

impl BandRef {
    pub fn plain(file: String) -> BandRef {
        BandRef {
            file,
            band: 1,
            scale: 1.0,
            offset: 0.0,
            nodata: None,
        }
    }
}

/// What a product says before its VRT is built.
#[derive(Debug, Clone, PartialEq)]
pub struct SceneParts {
    pub red: BandRef,
    pub nir: BandRef,
    /// The mask band and its meaning; `None` when the product has none (all observed).
    pub mask: Option<(BandRef, MaskRule)>,
    /// Acquisition date.
    pub date: Option<NaiveDate>,
    /// CRS to assume when the files carry none (STAC `proj:epsg`).
    pub epsg: Option<u32>,
    /// SWIR2 (Sentinel-2 B12, Landsat SR_B7) with its reflectance scaling, when the
    /// product has it: the last band of the VRT, described `SWIR2` (burned area).
    pub swir: Option<BandRef>,
}

/// A product resolved for the tile reader.
#[derive(Debug, Clone)]
pub struct Scene {
    /// The product as the region file names it.
    pub source: PathBuf,
    pub format: ProductFormat,
    /// The stacked VRT (`/vsimem/...`): band 1 red, 2 NIR, 3 mask (if any).
    pub vrt: PathBuf,
    /// The mask band's meaning, when there is a mask band.
    pub mask: Option<MaskRule>,
    /// Acquisition date (the composite step reads it as the tile's date).
    pub scene_date: Option<NaiveDate>,
}

/// Options of an epoch that shape how its products are read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProductOptions {
    /// Forced format (`format = ...` on the epoch); `None` recognises each file.
    pub format: Option<ProductFormat>,
    /// Sentinel-2 SCL classes that are not a clear view of the ground.
    pub scl_invalid: ClassSet,
}

impl Default for ProductOptions {
    fn default() -> Self {
        ProductOptions {
            format: None,
            scl_invalid: ClassSet::new(canopy_core::forest::SCL_INVALID_DEFAULT),
        }
    }
}

fn has_ext(path: &Path, ext: &str) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

fn dir_has(path: &Path, pred: impl Fn(&str) -> bool) -> bool {
    std::fs::read_dir(path).is_ok_and(|rd| {
        rd.filter_map(Result::ok)
            .any(|e| e.file_name().to_str().is_some_and(&pred))
    })
}

/// Recognises a product from its name and, for folders, their content.
/// `None`: not a product this module knows.
pub fn detect(path: &Path) -> Option<ProductFormat> {
    let name = path.file_name()?.to_str()?.to_ascii_uppercase();
    if path.is_dir() {
        if name.ends_with(".SAFE") || path.join("MTD_MSIL2A.xml").is_file() {
            return Some(ProductFormat::Sentinel2Safe);
        }
        let landsat = |n: &str| {
            let n = n.to_ascii_uppercase();
            n.ends_with("_MTL.TXT") || n.contains("_SR_B")
        };
        if dir_has(path, landsat) {
            return Some(ProductFormat::LandsatC2L2);
        }
        return None;
    }
    if has_ext(path, "json") {
        Some(ProductFormat::Stac)
    } else if has_ext(path, "zip") {
        Some(ProductFormat::Sentinel2Safe)
    } else if name.ends_with("_MTL.TXT") {
        Some(ProductFormat::LandsatC2L2)
    } else if has_ext(path, "tif") || has_ext(path, "tiff") {
        Some(ProductFormat::GeoTiff)
    } else {
        None
    }
}

/// Whether a folder is a product (a glob may match it as a tile).
pub fn is_product_dir(path: &Path) -> bool {
    path.is_dir() && detect(path).is_some()
}

/// The format a tile is read in: the forced one, else the recognised one.
pub fn format_of(path: &Path, opts: &ProductOptions) -> Result<ProductFormat, ProductError> {
    if let Some(f) = opts.format {
        return Ok(f);
    }
    detect(path).ok_or_else(|| {
        ProductError::invalid(
            path,
            "is not a recognised product (a STAC Item *.json, a Sentinel-2 L2A .SAFE folder \
             or .zip, a Landsat C2 L2 folder or *_MTL.txt, or a GeoTIFF); set format = \
             \"stac\" | \"sentinel2-safe\" | \"landsat-c2-l2\" | \"geotiff\" on the epoch",
        )
    })
}

/// Reads a product's metadata (bands, scaling, mask, date) without building the VRT.
pub fn parts(
    path: &Path,
    format: ProductFormat,
    opts: &ProductOptions,
) -> Result<SceneParts, ProductError> {
    if !path.exists() {
        return Err(ProductError::invalid(path, "file not found"));
    }
    match format {
        ProductFormat::Stac => stac::read(path, opts),
        ProductFormat::Sentinel2Safe => safe::read(path, opts),
        ProductFormat::LandsatC2L2 => landsat::read(path),
        ProductFormat::GeoTiff => Err(ProductError::invalid(
            path,
            "is a GeoTIFF: give red_band and nir_band (and mask_band) on the epoch",
        )),
    }
}

/// Resolves a product into a scene: metadata read, VRT written to `/vsimem/`.
pub fn resolve(
    path: &Path,
    format: ProductFormat,
    opts: &ProductOptions,
) -> Result<Scene, ProductError> {
    let p = parts(path, format, opts)?;
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let vrt = PathBuf::from(format!(
        "/vsimem/canopy/products{}/scene.vrt",
        abs.display()
    ));
    vrt::write(path, &p, &vrt)?;
    tracing::debug!(product = %path.display(), format = format.name(), date = ?p.date, "product resolved");
    Ok(Scene {
        source: path.to_path_buf(),
        format,
        vrt,
        mask: p.mask.as_ref().map(|m| m.1),
        scene_date: p.date,
    })
}

/// An epoch's id and its products with their dates.
pub type EpochScenes = (String, Vec<(PathBuf, Option<NaiveDate>)>);

/// The dates of each epoch's products, in epoch order: an epoch whose scenes
/// all come before the scenes of the epoch listed before it is an error (the
/// change would run backwards); overlapping date windows are a warning.
/// `epochs`: (epoch id, [(product, date)]); undated products are skipped.
pub fn check_order(epochs: &[EpochScenes]) -> Result<Vec<String>, String> {
    let mut warnings = Vec::new();
    type Dated<'a> = (NaiveDate, &'a PathBuf);
    fn span(s: &[(PathBuf, Option<NaiveDate>)]) -> Option<(Dated<'_>, Dated<'_>)> {
        let min = s.iter().filter_map(|(p, d)| d.map(|d| (d, p))).min();
        let max = s.iter().filter_map(|(p, d)| d.map(|d| (d, p))).max();
        min.zip(max)
    }
    for w in epochs.windows(2) {
        let (Some((amin, amax)), Some((bmin, bmax))) = (span(&w[0].1), span(&w[1].1)) else {
            continue;
        };
        if bmax.0 < amin.0 {
            return Err(format!(
                "dates out of order: epoch \"{}\" is listed after \"{}\" but its latest scene \
                 {} ({}) is older than the earliest scene of \"{}\", {} ({}); list epochs \
                 oldest first",
                w[1].0,
                w[0].0,
                bmax.1.display(),
                bmax.0,
                w[0].0,
                amin.1.display(),
                amin.0
            ));
        }
        if bmin.0 < amax.0 {
            warnings.push(format!(
                "epoch \"{}\" starts ({}, {}) before epoch \"{}\" ends ({}, {}): their date \
                 windows overlap",
                w[1].0,
                bmin.0,
                bmin.1.display(),
                w[0].0,
                amax.0,
                amax.1.display()
            ));
        }
    }
    Ok(warnings)
}

/// Parses the date part of an ISO 8601 date or date-time (`2016-07-25T10:00:08Z`).
pub(crate) fn iso_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim().get(..10)?, "%Y-%m-%d").ok()
}

/// Escapes text for an XML element or attribute.
pub(crate) fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The text of the first `<tag ...>text</tag>` whose opening tag contains `attr`
/// (e.g. `band_id="3"`), for the handful of fields read from product XML.
pub(crate) fn xml_text<'a>(xml: &'a str, tag: &str, attr: Option<&str>) -> Option<&'a str> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let gt = after.find('>')?;
        let head = &after[..gt];
        let boundary = head.is_empty() || head.starts_with([' ', '\t', '\n', '\r']);
        if boundary && attr.is_none_or(|a| head.contains(a)) {
            let body = &after[gt + 1..];
            let end = body.find(&close)?;
            return Some(body[..end].trim());
        }
        rest = after;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_fields() {
        let x = r#"<A><BOA_ADD_OFFSET band_id="3">-1000</BOA_ADD_OFFSET><BOA_ADD_OFFSET_X>1</BOA_ADD_OFFSET_X>
        <BOA_ADD_OFFSET band_id="7">-900</BOA_ADD_OFFSET><P>04.00</P></A>"#;
        assert_eq!(
            xml_text(x, "BOA_ADD_OFFSET", Some("band_id=\"7\"")),
            Some("-900")
        );
        assert_eq!(
            xml_text(x, "BOA_ADD_OFFSET", Some("band_id=\"3\"")),
            Some("-1000")
        );
        assert_eq!(xml_text(x, "P", None), Some("04.00"));
        assert_eq!(xml_text(x, "Q", None), None);
    }

    #[test]
    fn dates_out_of_order_and_overlap() {
        let d = |s: &str| (PathBuf::from(format!("{s}.json")), iso_date(s));
        let a = ("a".to_string(), vec![d("2016-06-01"), d("2016-08-01")]);
        let b = ("b".to_string(), vec![d("2016-07-15"), d("2016-09-01")]);
        let old = ("old".to_string(), vec![d("2015-07-01")]);
        let w = check_order(&[a.clone(), b]).unwrap();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("overlap"), "{w:?}");
        let e = check_order(&[a, old]).unwrap_err();
        assert!(
            e.contains("2015-07-01.json") && e.contains("out of order"),
            "{e}"
        );
    }
}
