//! One tile: opened, checked, described.
//!
//! Everything a user can get wrong about a tile is checked here, before any
//! pixel is read, so the error names the tile: missing or unreadable file, no
//! CRS, rotated geotransform, a band number the file does not have.

use std::path::{Path, PathBuf};

use canopy_core::forest::{BandScaling, MaskRule};
use canopy_core::grid::Grid;
use gdal::Dataset;

use crate::config::EpochBands;
use crate::crs::Crs;
use crate::error::PipelineError;
use crate::products;

/// What we know of a tile without reading its pixels.
#[derive(Debug, Clone)]
pub struct TileInfo {
    /// What GDAL opens: the tile, or a product's stacked VRT (`/vsimem/...`).
    pub path: PathBuf,
    /// The file the region names (the product; equal to `path` for a GeoTIFF).
    pub source: PathBuf,
    pub crs: Crs,
    pub grid: Grid,
    /// Block size of the first used band (for read alignment).
    pub block: (usize, usize),
    pub bands: BandSet,
    /// Acquisition date (`YYYY-MM-DD`): a product's own (STAC datetime, SAFE/MTL date),
    /// or from a GeoTIFF's metadata when it has one (`ACQUISITIONDATETIME`, `DATETIME`,
    /// `TIFFTAG_DATETIME`); else the epoch's date applies.
    pub date: Option<String>,
}

/// The bands an epoch reads from a tile, with their scaling.
#[derive(Debug, Clone, PartialEq)]
pub enum BandSet {
    Spectral {
        red: (usize, BandScaling),
        nir: (usize, BandScaling),
        mask: Option<usize>,
        /// What the mask band's values mean (non-zero, SCL classes, QA bits).
        mask_rule: MaskRule,
    },
    Classes {
        class: (usize, Option<f64>),
    },
}

/// Opens a tile read-only, with an error that names it.
pub fn open(path: &Path) -> Result<Dataset, PipelineError> {
    if !path.starts_with("/vsimem") && !path.exists() {
        return Err(PipelineError::raster(path, "file not found"));
    }
    Dataset::open(path)
        .map_err(|e| PipelineError::raster(path, format!("cannot be opened as a raster: {e}")))
}

/// Opens and describes a tile for an epoch's band layout. A product (STAC Item,
/// SAFE, Landsat scene) is first resolved into its stacked VRT.
pub fn inspect(path: &Path, bands: &EpochBands) -> Result<TileInfo, PipelineError> {
    let EpochBands::Product(opts) = bands else {
        return inspect_file(path, bands);
    };
    let format = products::format_of(path, opts)?;
    if format == products::ProductFormat::GeoTiff {
        return Err(PipelineError::raster(
            path,
            "is a GeoTIFF, not a product: give red_band and nir_band (and mask_band) on its epoch",
        ));
    }
    let scene = products::resolve(path, format, opts)?;
    let layout = EpochBands::Spectral {
        red: 1,
        nir: 2,
        mask: scene.mask.map(|_| 3),
    };
    let mut info = inspect_file(&scene.vrt, &layout).map_err(|e| match e {
        PipelineError::Raster { msg, .. } => PipelineError::raster(path, msg),
        other => other,
    })?;
    if let (BandSet::Spectral { mask_rule, .. }, Some(rule)) = (&mut info.bands, scene.mask) {
        *mask_rule = rule;
    }
    info.source = scene.source;
    if let Some(d) = scene.scene_date {
        info.date = Some(d.format("%Y-%m-%d").to_string());
    }
    Ok(info)
}

fn inspect_file(path: &Path, bands: &EpochBands) -> Result<TileInfo, PipelineError> {
    let ds = open(path)?;
    let wkt = ds.projection();
    if wkt.trim().is_empty() {
        return Err(PipelineError::raster(
            path,
            "has no CRS (no projection in the file or a .prj/.aux.xml beside it); \
             assign one, e.g. gdal_edit.py -a_srs EPSG:32648",
        ));
    }
    let srs = ds
        .spatial_ref()
        .map_err(|e| PipelineError::raster(path, format!("unreadable CRS: {e}")))?;
    let crs = Crs::from_srs(&srs).map_err(|e| PipelineError::raster(path, e))?;
    let gt = ds
        .geo_transform()
        .map_err(|e| PipelineError::raster(path, format!("no geotransform: {e}")))?;
    let (w, h) = ds.raster_size();
    if let Some(m) = geotransform_problem(gt) {
        return Err(PipelineError::raster(path, m));
    }
    let grid = Grid::from_geotransform(gt, w, h).ok_or_else(|| {
        PipelineError::raster(
            path,
            format!("geotransform {gt:?} is rotated or south-up; warp it north-up first"),
        )
    })?;
    let count = ds.raster_count();
    let check = |name: &str, b: usize| -> Result<(), PipelineError> {
        if b == 0 || b > count {
            Err(PipelineError::raster(
                path,
                format!("{name} = {b}, but the file has {count} band(s)"),
            ))
        } else {
            Ok(())
        }
    };
    let scaling = |b: usize| -> Result<BandScaling, PipelineError> {
        let band = ds
            .rasterband(b)
            .map_err(|e| PipelineError::raster(path, format!("band {b}: {e}")))?;
        Ok(BandScaling {
            scale: band.scale().unwrap_or(1.0),
            offset: band.offset().unwrap_or(0.0),
            nodata: band.no_data_value(),
        })
    };
    let bandset = match *bands {
        EpochBands::Spectral { red, nir, mask } => {
            check("red_band", red)?;
            check("nir_band", nir)?;
            if let Some(m) = mask {
                check("mask_band", m)?;
            }
            BandSet::Spectral {
                red: (red, scaling(red)?),
                nir: (nir, scaling(nir)?),
                mask,
                mask_rule: MaskRule::NonZero,
            }
        }
        EpochBands::Product(_) => {
            return Err(PipelineError::raster(
                path,
                "a product must be resolved into its scene before it is read",
            ))
        }
        EpochBands::Classes { class } => {
            check("class_band", class)?;
            BandSet::Classes {
                class: (class, scaling(class)?.nodata),
            }
        }
    };
    let first = match &bandset {
        BandSet::Spectral { red, .. } => red.0,
        BandSet::Classes { class } => class.0,
    };
    let block = ds
        .rasterband(first)
        .map(|b| b.block_size())
        .unwrap_or((256, 256));
    Ok(TileInfo {
        path: path.to_path_buf(),
        source: path.to_path_buf(),
        crs,
        grid,
        block,
        bands: bandset,
        date: metadata_date(&ds),
    })
}

/// The acquisition date in a dataset's metadata (default or IMAGERY domain):
/// `ACQUISITIONDATETIME`, `DATETIME` or `TIFFTAG_DATETIME` (`YYYY:MM:DD HH:MM:SS`
/// or ISO 8601), as `YYYY-MM-DD`.
pub fn metadata_date(ds: &Dataset) -> Option<String> {
    use gdal::Metadata;
    let keys = ["ACQUISITIONDATETIME", "DATETIME", "TIFFTAG_DATETIME"];
    for domain in ["IMAGERY", ""] {
        for key in keys {
            if let Some(v) = ds.metadata_item(key, domain) {
                let t = v.trim();
                if t.len() >= 10 {
                    let d = t[..10].replace(':', "-");
                    if canopy_core::composite::day_number(&d).is_some() {
                        return Some(d);
                    }
                }
            }
        }
    }
    None
}

/// What is wrong with a geotransform that is not merely rotated or south-up: a
/// non-finite value or a pixel size of zero (checked first, so the message says so
/// instead of blaming the rotation or, later, the epochs).
fn geotransform_problem(gt: [f64; 6]) -> Option<String> {
    if gt.iter().any(|v| !v.is_finite()) {
        return Some(format!(
            "geotransform {gt:?} has a non-finite value (NaN or infinity); fix the file's \
             georeferencing, e.g. gdal_edit.py -a_ullr or -a_srs"
        ));
    }
    if gt[1] == 0.0 || gt[5] == 0.0 {
        return Some(format!(
            "pixel size is 0 in geotransform {gt:?} (width {} × height {}); the file's \
             georeferencing is broken",
            gt[1], gt[5]
        ));
    }
    None
}

#[cfg(test)]
mod geotransform_tests {
    use super::geotransform_problem;

    #[test]
    fn zero_pixel_size_and_nan_are_named() {
        let zero = geotransform_problem([500000.0, 0.0, 0.0, 2400000.0, 0.0, -10.0]).unwrap();
        assert!(zero.contains("pixel size is 0"), "{zero}");
        let nan = geotransform_problem([f64::NAN, 10.0, 0.0, 2400000.0, 0.0, -10.0]).unwrap();
        assert!(nan.contains("non-finite"), "{nan}");
        assert!(geotransform_problem([500000.0, 10.0, 0.0, 2400000.0, 0.0, -10.0]).is_none());
        // rotated is left to Grid::from_geotransform's message
        assert!(geotransform_problem([500000.0, 10.0, 0.5, 2400000.0, 0.0, -10.0]).is_none());
    }
}
