//! One tile: opened, checked, described.
//!
//! Everything a user can get wrong about a tile is checked here, before any
//! pixel is read, so the error names the tile: missing or unreadable file, no
//! CRS, rotated geotransform, a band number the file does not have.

use std::path::{Path, PathBuf};

use canopy_core::forest::BandScaling;
use canopy_core::grid::Grid;
use gdal::Dataset;

use crate::config::EpochBands;
use crate::crs::Crs;
use crate::error::PipelineError;

/// What we know of a tile without reading its pixels.
#[derive(Debug, Clone)]
pub struct TileInfo {
    pub path: PathBuf,
    pub crs: Crs,
    pub grid: Grid,
    /// Block size of the first used band (for read alignment).
    pub block: (usize, usize),
    pub bands: BandSet,
    /// Acquisition date (`YYYY-MM-DD`) from the file's metadata, when it has one
    /// (`ACQUISITIONDATETIME`, `DATETIME`, `TIFFTAG_DATETIME`); else the epoch's date applies.
    pub date: Option<String>,
}

/// The bands an epoch reads from a tile, with their scaling.
#[derive(Debug, Clone, PartialEq)]
pub enum BandSet {
    Spectral {
        red: (usize, BandScaling),
        nir: (usize, BandScaling),
        mask: Option<usize>,
    },
    Classes {
        class: (usize, Option<f64>),
    },
}

/// Opens a tile read-only, with an error that names it.
pub fn open(path: &Path) -> Result<Dataset, PipelineError> {
    if !path.exists() {
        return Err(PipelineError::raster(path, "file not found"));
    }
    Dataset::open(path)
        .map_err(|e| PipelineError::raster(path, format!("cannot be opened as a raster: {e}")))
}

/// Opens and describes a tile for an epoch's band layout.
pub fn inspect(path: &Path, bands: &EpochBands) -> Result<TileInfo, PipelineError> {
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
            }
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
