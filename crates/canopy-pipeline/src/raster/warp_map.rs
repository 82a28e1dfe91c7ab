//! One warp for many scenes: warped tiles that share a source grid read
//! through one nearest-neighbour map.
//!
//! The scenes of a composite epoch are mostly the same product tile on other
//! dates (one Sentinel-2 MGRS tile, one Landsat path/row): the same CRS,
//! geotransform and size. When that grid is not the working grid, GDAL's
//! warper brought every scene onto it separately, and the warp cost four times
//! the read of the scene itself (the 12-scene benchmark: 14 of its 28 CPU
//! seconds went to the one warped tile of each scene).
//!
//! With nearest neighbour, the source pixel each working-grid pixel takes
//! depends only on the two grids, not on the values. So for a window of the
//! working grid, the reader warps once an *index raster*: a dataset with the
//! tiles' size, geotransform and CRS whose two `UInt16` bands hold, inside a
//! source window around the pixels the warp can pick (from the window's edges
//! transformed by PROJ, with a margin), each pixel's column and row (plus
//! one), and zero elsewhere. It is warped with exactly the arguments of the
//! tiles' own warped VRTs ([`crate::raster::reader`]: same `-te`, `-ts`,
//! `-r near`, `-dstalpha`, same block layout), so GDAL picks the same source
//! pixel for each working-grid pixel, with the same approximate transformer,
//! as it does for the tiles. Each tile of that grid is then read directly
//! (each source block decoded once, no warper) and gathered through the map.
//!
//! Architecture invariant: a map never changes a value. A pixel the warp
//! gives an alpha but the map no source (it picked a pixel outside the
//! estimated source window) makes [`WarpMap::build`] give up, and the tiles
//! are read through their own warped VRTs as before. Only `UInt16` bands with
//! no per-dataset mask or alpha band take this path (what the warper does with
//! masks is not reproduced here); the stores are bit-identical either way.

use std::os::raw::{c_char, c_int};

use gdal::Dataset;

use crate::crs::Transformer;
use crate::error::PipelineError;
use crate::raster::mosaic::{Mosaic, PlacedTile, Window};

extern "C" {
    // gdal_vrt.h (GDAL's public C API; gdal-sys does not bind it).
    fn VRTCreate(x_size: c_int, y_size: c_int) -> gdal_sys::GDALDatasetH;
    #[allow(clippy::too_many_arguments)]
    fn VRTAddSimpleSource(
        vrt_band: gdal_sys::GDALRasterBandH,
        src_band: gdal_sys::GDALRasterBandH,
        src_x: c_int,
        src_y: c_int,
        src_w: c_int,
        src_h: c_int,
        dst_x: c_int,
        dst_y: c_int,
        dst_w: c_int,
        dst_h: c_int,
        resampling: *const c_char,
        nodata: f64,
    ) -> gdal_sys::CPLErr::Type;
}

/// `GMF_PER_DATASET` and `GMF_ALPHA` of gdal.h (mask flags).
const GMF_PER_DATASET: c_int = 0x02;
const GMF_ALPHA: c_int = 0x04;
/// `VRT_NODATA_UNSET` of gdal_vrt.h: the source has no no-data value.
const VRT_NODATA_UNSET: f64 = -1234.56;
/// Source pixels added around the estimated source window.
const MARGIN: i64 = 4;
/// Working-grid pixels between the edge points transformed to estimate it.
const EDGE_STEP: usize = 16;

/// Whether warp maps are used: yes, unless `CANOPY_WARP_MAPS=0` (each warped
/// tile then goes through its own warped VRT: for comparisons; the stores are
/// the same, `tests/cli_warp_map.rs`).
pub fn enabled() -> bool {
    std::env::var_os("CANOPY_WARP_MAPS").is_none_or(|v| v != "0")
}

/// The key of a warped tile's grid: tiles with equal keys share their maps.
pub fn grid_key(t: &PlacedTile) -> String {
    let g = &t.info.grid;
    format!(
        "{}|{:?}|{}x{}|{:?}",
        t.info.crs.wkt,
        [g.x0, g.y0, g.dx, g.dy].map(f64::to_bits),
        g.width,
        g.height,
        t.window
    )
}

/// Whether a tile's band-subset VRT (what the warper reads) may take a map:
/// `UInt16` bands, none of them an alpha band, no per-dataset mask, and a
/// size whose columns and rows fit the map's `u16` indices.
pub fn eligible(subset: &Dataset) -> bool {
    let (w, h) = subset.raster_size();
    w < u16::MAX as usize
        && h < u16::MAX as usize
        && (1..=subset.raster_count()).all(|b| {
            subset.rasterband(b).is_ok_and(|band| {
                // SAFETY: a live band handle; both calls only read its state.
                let (flags, interp) = unsafe {
                    (
                        gdal_sys::GDALGetMaskFlags(band.c_rasterband()),
                        gdal_sys::GDALGetRasterColorInterpretation(band.c_rasterband()),
                    )
                };
                band.band_type() == gdal::raster::GdalDataType::UInt16
                    && flags & (GMF_PER_DATASET | GMF_ALPHA) == 0
                    && interp != gdal_sys::GDALColorInterp::GCI_AlphaBand
            })
        })
}

/// Where each pixel of a working-grid window takes its value from in the
/// source grid of a group of warped tiles.
pub struct WarpMap {
    /// The working-grid window the map covers.
    pub win: Window,
    /// Source window (columns `c0..`, rows `r0..`) the map points into.
    c0: usize,
    r0: usize,
    /// Per pixel of `win` (row-major): source column and row relative to
    /// `(c0, r0)`, plus one (0: the warp gives the pixel no source), and the
    /// warp's alpha.
    col: Vec<u16>,
    row: Vec<u16>,
    alpha: Vec<u16>,
    /// See [`WarpMap::last_row`].
    last_row: Option<usize>,
}

impl WarpMap {
    /// Warps the index raster of `placed`'s grid onto `win` (rows of
    /// `placed.window`, all its columns) with `warp_args` (those of the tile's
    /// own warped VRT). `subset`: a tile's band-subset VRT, whose
    /// geotransform and CRS the index raster copies. The source window is
    /// estimated from `win`'s edges; when the warp picks a pixel outside it,
    /// the map is made again with a wider margin, then over the whole tile, so
    /// it never misses a pixel (see the module docs).
    pub fn build(
        mosaic: &Mosaic,
        placed: &PlacedTile,
        subset: &Dataset,
        warp_args: &[String],
        win: Window,
    ) -> Result<WarpMap, PipelineError> {
        for margin in [MARGIN, 16 * MARGIN] {
            let src = source_window(mosaic, placed, win, margin)?;
            if let Some(map) = Self::try_build(placed, subset, warp_args, win, src)? {
                return Ok(map);
            }
        }
        let (w, h) = subset.raster_size();
        Self::try_build(placed, subset, warp_args, win, (0, 0, w, h))?.ok_or_else(|| {
            PipelineError::raster(
                &placed.info.path,
                "warp map: the warp picks pixels outside the tile (GDAL warper)",
            )
        })
    }

    /// [`WarpMap::build`] with the source window `(c0, r0, w, h)`; `None`
    /// when the warp picks a pixel outside it.
    fn try_build(
        placed: &PlacedTile,
        subset: &Dataset,
        warp_args: &[String],
        win: Window,
        (c0, r0, w, h): (usize, usize, usize, usize),
    ) -> Result<Option<WarpMap>, PipelineError> {
        let path = &placed.info.path;
        let (sw, sh) = subset.raster_size();
        let int = |v: usize| c_int::try_from(v).expect("raster sizes fit in int");
        // The index raster's data: the source window's columns and rows.
        let mem = gdal::DriverManager::get_driver_by_name("MEM")
            .and_then(|d| d.create_with_band_type::<u16, _>("", w, h, 2))
            .map_err(|e| PipelineError::raster(path, format!("warp map: {e}")))?;
        let cols: Vec<u16> = (0..h).flat_map(|_| 1..=w as u16).collect();
        let rows: Vec<u16> = (0..h)
            .flat_map(|r| std::iter::repeat_n(r as u16 + 1, w))
            .collect();
        for (b, data) in [(1, cols), (2, rows)] {
            let mut buf = gdal::raster::Buffer::new((w, h), data);
            mem.rasterband(b)
                .and_then(|mut band| band.write((0, 0), (w, h), &mut buf))
                .map_err(|e| PipelineError::raster(path, format!("warp map: {e}")))?;
        }
        // SAFETY: VRTCreate returns a new dataset handle owned by `vrt` (closed on
        // drop, before `mem`, whose bands its sources point to); the geotransform
        // and spatial reference are copied from a live dataset; the bands exist.
        let vrt = unsafe {
            let h_vrt = VRTCreate(int(sw), int(sh));
            if h_vrt.is_null() {
                return Err(PipelineError::raster(path, "warp map: VRTCreate failed"));
            }
            let vrt = Dataset::from_c_dataset(h_vrt);
            let mut gt = subset
                .geo_transform()
                .map_err(|e| PipelineError::raster(path, format!("warp map: {e}")))?;
            gdal_sys::GDALSetGeoTransform(h_vrt, gt.as_mut_ptr());
            gdal_sys::GDALSetSpatialRef(h_vrt, gdal_sys::GDALGetSpatialRef(subset.c_dataset()));
            for b in 1..=2 {
                gdal_sys::GDALAddBand(
                    h_vrt,
                    gdal_sys::GDALDataType::GDT_UInt16,
                    std::ptr::null_mut(),
                );
                let src = mem
                    .rasterband(b)
                    .map_err(|e| PipelineError::raster(path, format!("warp map: {e}")))?;
                let err = VRTAddSimpleSource(
                    gdal_sys::GDALGetRasterBand(h_vrt, b as c_int),
                    src.c_rasterband(),
                    0,
                    0,
                    int(w),
                    int(h),
                    int(c0),
                    int(r0),
                    int(w),
                    int(h),
                    std::ptr::null(),
                    VRT_NODATA_UNSET,
                );
                if err != gdal_sys::CPLErr::CE_None {
                    return Err(PipelineError::raster(
                        path,
                        "warp map: VRTAddSimpleSource failed",
                    ));
                }
            }
            vrt
        };
        let warped = crate::raster::reader::warp_vrt(path, &vrt, warp_args)?;
        let n = win.width * win.height;
        let mut out = vec![0u16; 3 * n];
        let (sx, sy) = (win.col - placed.window.col, win.row - placed.window.row);
        crate::raster::reader::read_bands(
            &warped,
            &[1, 2, 3],
            (sx as i64, sy as i64),
            win,
            &mut out,
        )
        .map_err(|e| PipelineError::raster(path, format!("warp map: {e}")))?;
        drop(warped);
        drop(vrt);
        drop(mem);
        let alpha = out.split_off(2 * n);
        let row = out.split_off(n);
        let col = out;
        // A pixel the warp fills but from outside the source window: not this window.
        if (0..n).any(|p| alpha[p] != 0 && (col[p] == 0 || row[p] == 0)) {
            tracing::debug!(tile = %path.display(), "warp map: source window too small");
            return Ok(None);
        }
        let last_row = (0..n)
            .filter(|&p| col[p] != 0)
            .map(|p| r0 + row[p] as usize - 1)
            .max();
        tracing::debug!(tile = %path.display(), row = win.row, rows = win.height, "warp map built");
        Ok(Some(WarpMap {
            win,
            c0,
            r0,
            col,
            row,
            alpha,
            last_row,
        }))
    }

    /// The last source row any pixel of the map takes (none: no pixel has a source).
    pub fn last_row(&self) -> Option<usize> {
        self.last_row
    }

    /// Reads window `part` (rows of [`WarpMap::win`]) of a tile of the map's
    /// grid into `out`, laid out as a read of its warped VRT would be: for
    /// each entry of `bands`, `Some(b)` band `b` of `src` (the tile itself),
    /// `None` the warp's alpha. Only pixels taking their value from source
    /// rows `src_rows` are read; the others get alpha 0 (not observed by this
    /// read), so a tile can be read in bands of whole source block rows.
    pub fn gather(
        &self,
        src: &Dataset,
        bands: &[Option<i32>],
        part: Window,
        src_rows: std::ops::Range<usize>,
        out: &mut [u16],
        scratch: &mut Scratch,
    ) -> Result<(), String> {
        assert!(part.col == self.win.col && part.width == self.win.width);
        assert!(
            part.row >= self.win.row && part.row + part.height <= self.win.row + self.win.height
        );
        let n = part.width * part.height;
        assert_eq!(out.len(), n * bands.len());
        let first = (part.row - self.win.row) * self.win.width;
        let (col, row, alpha) = (
            &self.col[first..first + n],
            &self.row[first..first + n],
            &self.alpha[first..first + n],
        );
        // `src_rows` as 1-based rows of the map's source window.
        let lo = (src_rows.start.max(self.r0) - self.r0 + 1).min(u16::MAX as usize + 1) as u32;
        let hi = (src_rows.end.max(self.r0) - self.r0 + 1).min(u16::MAX as usize + 1) as u32;
        let taken = |p: usize| col[p] != 0 && (lo..hi).contains(&(row[p] as u32));
        // The source rows and columns this part takes (1-based in the map).
        let (mut cmin, mut cmax, mut rmin, mut rmax) = (u16::MAX, 0u16, u16::MAX, 0u16);
        for p in 0..n {
            if taken(p) {
                cmin = cmin.min(col[p]);
                cmax = cmax.max(col[p]);
                rmin = rmin.min(row[p]);
                rmax = rmax.max(row[p]);
            }
        }
        let data: Vec<i32> = bands.iter().flatten().copied().collect();
        let (sw, sh) = if cmax == 0 {
            (0, 0)
        } else {
            ((cmax - cmin + 1) as usize, (rmax - rmin + 1) as usize)
        };
        scratch.src.resize(sw * sh * data.len(), 0);
        if sw > 0 {
            let at = (
                (self.c0 + cmin as usize - 1) as i64,
                (self.r0 + rmin as usize - 1) as i64,
            );
            let w = Window {
                col: 0,
                row: 0,
                width: sw,
                height: sh,
            };
            crate::raster::reader::read_bands(src, &data, at, w, &mut scratch.src)?;
        }
        // Each pixel's offset in a plane of the source read (past its end: none).
        let none = (sw * sh) as u32;
        scratch.offs.clear();
        scratch.offs.extend((0..n).map(|p| {
            if taken(p) {
                (row[p] - rmin) as u32 * sw as u32 + (col[p] - cmin) as u32
            } else {
                none
            }
        }));
        let mut planes = scratch.src.chunks_exact((sw * sh).max(1));
        for (j, b) in bands.iter().enumerate() {
            let dst = &mut out[j * n..(j + 1) * n];
            match b {
                None => {
                    for ((d, &o), &a) in dst.iter_mut().zip(&scratch.offs).zip(alpha) {
                        *d = if o == none { 0 } else { a };
                    }
                }
                Some(_) => {
                    let plane = planes.next().unwrap_or(&[]);
                    for (d, &o) in dst.iter_mut().zip(&scratch.offs) {
                        *d = plane.get(o as usize).copied().unwrap_or(0);
                    }
                }
            }
        }
        Ok(())
    }
}

/// The buffers of [`WarpMap::gather`], kept by the reader between reads.
#[derive(Default)]
pub struct Scratch {
    /// The source pixels read, band after band.
    src: Vec<u16>,
    /// Per pixel of the part, its offset in a band of `src`.
    offs: Vec<u32>,
}

/// The source window (c0, r0, width, height) holding, but for a surprise of
/// the warper's approximate transformer, every source pixel the warp of `win`
/// can pick: the window's edges transformed to the tile's grid, plus `margin`
/// pixels, within the tile.
fn source_window(
    mosaic: &Mosaic,
    placed: &PlacedTile,
    win: Window,
    margin: i64,
) -> Result<(usize, usize, usize, usize), PipelineError> {
    let g = &mosaic.grid;
    let mut pts = Vec::new();
    let cols: Vec<usize> = (0..=win.width)
        .step_by(EDGE_STEP)
        .chain([win.width])
        .map(|c| win.col + c)
        .collect();
    let rows: Vec<usize> = (0..=win.height)
        .step_by(EDGE_STEP)
        .chain([win.height])
        .map(|r| win.row + r)
        .collect();
    let at = |c: usize, r: usize| (g.x0 + c as f64 * g.dx, g.y0 - r as f64 * g.dy);
    for &c in &cols {
        pts.push(at(c, win.row));
        pts.push(at(c, win.row + win.height));
    }
    for &r in &rows {
        pts.push(at(win.col, r));
        pts.push(at(win.col + win.width, r));
    }
    Transformer::new(&mosaic.crs, &placed.info.crs)?.points(&mut pts)?;
    let t = &placed.info.grid;
    let (mut c_lo, mut c_hi, mut r_lo, mut r_hi) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in pts {
        let (c, r) = ((x - t.x0) / t.dx, (t.y0 - y) / t.dy);
        c_lo = c_lo.min(c);
        c_hi = c_hi.max(c);
        r_lo = r_lo.min(r);
        r_hi = r_hi.max(r);
    }
    let clamp = |v: f64, n: usize| (v as i64).clamp(0, n as i64) as usize;
    let (c0, c1) = (
        clamp(c_lo.floor() - margin as f64, t.width),
        clamp(c_hi.ceil() + margin as f64, t.width),
    );
    let (r0, r1) = (
        clamp(r_lo.floor() - margin as f64, t.height),
        clamp(r_hi.ceil() + margin as f64, t.height),
    );
    // At least one pixel (a window off the tile maps to nothing anyway).
    let (c0, r0) = (c0.min(t.width - 1), r0.min(t.height - 1));
    Ok((c0, r0, c1.max(c0 + 1) - c0, r1.max(r0 + 1) - r0))
}
