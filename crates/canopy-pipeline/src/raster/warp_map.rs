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
//! The gather reads the source blocks itself (`GDALReadBlock`, into buffers
//! kept per reader: [`Scratch`]) rather than a window through GDAL's block
//! cache, which cost a copy of every pixel and the cache's bookkeeping; and
//! the index raster is a MEM dataset over the reader's own buffer. Each pixel's
//! offset into those blocks is computed for the first scene of a grid and
//! kept for the others, which read the same blocks in the same order (checked
//! block by block, else computed again). On the 12-scene 10 m benchmark these
//! took the composite from about 1.5 to about 1.4 times the GDAL read floor.
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
    /// See [`WarpMap::id`].
    id: u64,
}

thread_local! {
    /// The buffer of the index rasters this thread makes ([`WarpMap::build`]).
    static INDEX: std::cell::Cell<Vec<u16>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The next map's [`WarpMap::id`].
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

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
        // The index raster's data: the source window's columns and rows, band
        // after band, in one buffer the MEM dataset reads in place (no copy),
        // kept per thread (a map per strip; no new pages each time).
        let mut index = INDEX.take();
        index.resize(2 * w * h, 0);
        let (cols, rows) = index.split_at_mut(w * h);
        let first: Vec<u16> = (1..=w as u16).collect();
        for (r, (c_row, r_row)) in cols
            .chunks_exact_mut(w)
            .zip(rows.chunks_exact_mut(w))
            .enumerate()
        {
            c_row.copy_from_slice(&first);
            r_row.fill(r as u16 + 1);
        }
        let mem = index_dataset(&mut index, w, h)
            .map_err(|e| PipelineError::raster(path, format!("warp map: {e}")))?;
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
        INDEX.set(index);
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
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }))
    }

    /// The last source row any pixel of the map takes (none: no pixel has a source).
    pub fn last_row(&self) -> Option<usize> {
        self.last_row
    }

    /// This map's identity (unique in the process), for the offsets a
    /// reader keeps per part ([`Scratch`]).
    pub fn id(&self) -> u64 {
        self.id
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
        let data: Vec<i32> = bands.iter().flatten().copied().collect();
        scratch
            .blocks
            .start(src, &data, src_rows.clone())
            .map_err(|e| format!("source blocks: {e}"))?;
        // The scenes of a grid gather the same parts through the same map, and
        // read the same blocks in the same order: the offsets of the first are
        // kept and checked against the slots each next one's blocks take.
        let key = (self.id, part.row, part.height, src_rows.start, src_rows.end);
        let at = scratch.parts.iter().position(|p| p.key == key);
        let reuse = match at {
            Some(at) => scratch.parts[at].fits(src, &data, &mut scratch.blocks)?,
            None => false,
        };
        if !reuse {
            let p = self.offsets(key, src, &data, part, src_rows, &mut scratch.blocks)?;
            match at {
                Some(at) => scratch.parts[at] = p,
                None => scratch.parts.push(p),
            }
        }
        let offs = &scratch.parts[at.unwrap_or(scratch.parts.len() - 1)].offs;
        let first = (part.row - self.win.row) * self.win.width;
        let alpha = &self.alpha[first..first + n];
        let plane = scratch.blocks.size.0 * scratch.blocks.size.1;
        let src_data = &scratch.blocks.data;
        let mut j = 0;
        for (k, b) in bands.iter().enumerate() {
            let dst = &mut out[k * n..(k + 1) * n];
            match b {
                None => {
                    for ((d, &o), &a) in dst.iter_mut().zip(offs).zip(alpha) {
                        *d = if o == 0 { 0 } else { a };
                    }
                }
                Some(_) => {
                    let band = &src_data[j * plane..];
                    for (d, &o) in dst.iter_mut().zip(offs) {
                        *d = band[o as usize];
                    }
                    j += 1;
                }
            }
        }
        Ok(())
    }

    /// Each pixel of `part`'s offset in `blocks.data` (band 0 of its block;
    /// 0, a block of zeros, when it takes no pixel of `src_rows`), reading the
    /// blocks it takes.
    fn offsets(
        &self,
        key: PartKey,
        src: &Dataset,
        data: &[i32],
        part: Window,
        src_rows: std::ops::Range<usize>,
        blocks: &mut Blocks,
    ) -> Result<PartOffsets, String> {
        let n = part.width * part.height;
        let first = (part.row - self.win.row) * self.win.width;
        let (col, row) = (&self.col[first..first + n], &self.row[first..first + n]);
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
        let mut out = PartOffsets {
            key,
            blocks: Vec::new(),
            offs: vec![0; n],
        };
        if cmax == 0 {
            return Ok(out);
        }
        let ((bw, bh), plane) = (blocks.size, blocks.size.0 * blocks.size.1);
        let (ca, cb) = (self.c0 + cmin as usize - 1, self.c0 + cmax as usize - 1);
        let (ra, rb) = (self.r0 + rmin as usize - 1, self.r0 + rmax as usize - 1);
        let (bx0, by0) = (ca / bw, ra / bh);
        let nbx = cb / bw - bx0 + 1;
        // Per block of the part (row-major): its slot's offset in `blocks.data`.
        let mut base = Vec::new();
        for by in by0..=rb / bh {
            for bx in bx0..=cb / bw {
                let slot = blocks
                    .slot(src, data, bx, by)
                    .map_err(|e| format!("source block ({bx}, {by}): {e}"))?;
                out.blocks.push((bx, by, slot));
                base.push((slot * data.len() * plane) as u32);
            }
        }
        // Per source column: its block column in the part and its column in
        // the block; per source row: its block row times the part's blocks
        // per row, and its row in the block times the block width.
        let col_at: Vec<(u32, u32)> = (ca..=cb)
            .map(|c| ((c / bw - bx0) as u32, (c % bw) as u32))
            .collect();
        let row_at: Vec<(u32, u32)> = (ra..=rb)
            .map(|r| (((r / bh - by0) * nbx) as u32, ((r % bh) * bw) as u32))
            .collect();
        for (p, o) in out.offs.iter_mut().enumerate() {
            if taken(p) {
                let (bx, x) = col_at[(col[p] - cmin) as usize];
                let (by, y) = row_at[(row[p] - rmin) as usize];
                *o = base[(by + bx) as usize] + y + x;
            }
        }
        Ok(out)
    }
}

/// What a part's offsets are of: the map's id, the part's first row and
/// height, the source rows read.
type PartKey = (u64, usize, usize, usize, usize);

/// The offsets of one part of a map ([`WarpMap::gather`]) and the blocks,
/// in the order read, with the slots they took.
struct PartOffsets {
    key: PartKey,
    blocks: Vec<(usize, usize, usize)>,
    offs: Vec<u32>,
}

impl PartOffsets {
    /// Whether these offsets hold for `src`: its blocks, read in the same
    /// order, take the same slots.
    fn fits(&self, src: &Dataset, data: &[i32], blocks: &mut Blocks) -> Result<bool, String> {
        for &(bx, by, slot) in &self.blocks {
            let got = blocks
                .slot(src, data, bx, by)
                .map_err(|e| format!("source block ({bx}, {by}): {e}"))?;
            if got != slot {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Source blocks decoded for the gathers of one tile and one band of source
/// rows (`GDALReadBlock`, each block once, straight into these buffers rather
/// than through GDAL's block cache and a copy out of it). Kept by the reader
/// between reads; cleared when the tile, its bands or the rows change.
#[derive(Default)]
struct Blocks {
    /// Whose blocks: the dataset handle, its bands read, the first source row.
    of: Option<(usize, Vec<i32>, usize)>,
    /// Block width and height of the bands read.
    size: (usize, usize),
    /// Blocks per row of the dataset.
    per_row: usize,
    /// Block row of `slots[0]`.
    first_row: usize,
    /// Per block from `first_row` on (row-major): its slot, 0 while not read.
    slots: Vec<usize>,
    /// Slot after slot, the bands read one block plane after another; slot 0
    /// is zeros (the pixels a gather does not take).
    data: Vec<u16>,
}

impl Blocks {
    /// Starts holding blocks of `bands` of `src` for source rows `rows`
    /// (kept when they are those already held).
    fn start(
        &mut self,
        src: &Dataset,
        bands: &[i32],
        rows: std::ops::Range<usize>,
    ) -> Result<(), String> {
        let of = (src.c_dataset() as usize, bands.to_vec(), rows.start);
        if self.of.as_ref() == Some(&of) {
            return Ok(());
        }
        let mut size = None;
        for &b in bands {
            let band = src.rasterband(b as usize).map_err(|e| e.to_string())?;
            let s = band.block_size();
            if size.is_some_and(|t| t != s)
                || band.band_type() != gdal::raster::GdalDataType::UInt16
            {
                return Err(format!("band {b}: not UInt16 blocks of the others' size"));
            }
            size = Some(s);
        }
        let (bw, bh) = size.unwrap_or((1, 1));
        let (w, h) = src.raster_size();
        self.size = (bw.max(1), bh.max(1));
        self.per_row = w.div_ceil(self.size.0);
        self.first_row = rows.start / self.size.1;
        let last_row = rows.end.min(h).div_ceil(self.size.1).max(self.first_row);
        self.slots.clear();
        self.slots
            .resize((last_row - self.first_row) * self.per_row, 0);
        self.data.clear();
        self.data.resize(bands.len() * bw * bh, 0);
        self.of = Some(of);
        Ok(())
    }

    /// The slot of block `(bx, by)` of `bands` of `src`, read now if it is not
    /// held yet.
    fn slot(
        &mut self,
        src: &Dataset,
        bands: &[i32],
        bx: usize,
        by: usize,
    ) -> Result<usize, String> {
        let at = (by - self.first_row) * self.per_row + bx;
        if self.slots[at] != 0 {
            return Ok(self.slots[at]);
        }
        let plane = self.size.0 * self.size.1;
        let slot = self.data.len() / (bands.len() * plane);
        self.data.resize((slot + 1) * bands.len() * plane, 0);
        for (j, &b) in bands.iter().enumerate() {
            let band = src.rasterband(b as usize).map_err(|e| e.to_string())?;
            let buf = &mut self.data[(slot * bands.len() + j) * plane..][..plane];
            // SAFETY: a live band handle of UInt16 blocks of `size` (checked by
            // `start`); `buf` holds exactly one such block.
            let err = unsafe {
                gdal_sys::GDALReadBlock(
                    band.c_rasterband(),
                    bx as c_int,
                    by as c_int,
                    buf.as_mut_ptr().cast(),
                )
            };
            if err != gdal_sys::CPLErr::CE_None {
                return Err(crate::raster::reader::last_cpl_message());
            }
        }
        self.slots[at] = slot;
        Ok(slot)
    }
}

/// A MEM dataset of `w` × `h` pixels whose two `UInt16` bands are the halves of
/// `data` (band 1 then band 2), read in place: `data` must outlive it.
fn index_dataset(data: &mut [u16], w: usize, h: usize) -> gdal::errors::Result<Dataset> {
    assert_eq!(data.len(), 2 * w * h);
    let ds = gdal::DriverManager::get_driver_by_name("MEM")?
        .create_with_band_type::<u16, _>("", w, h, 0)?;
    for band in data.chunks_exact_mut(w * h) {
        let pointer = std::ffi::CString::new(format!("DATAPOINTER={:p}", band.as_mut_ptr()))?;
        let mut options = [pointer.as_ptr() as *mut c_char, std::ptr::null_mut()];
        // SAFETY: a live MEM dataset; the option list is NULL-terminated and
        // lives through the call; the band's pixels (w × h UInt16, packed) stay
        // allocated while the dataset lives (the caller's contract).
        let err = unsafe {
            gdal_sys::GDALAddBand(
                ds.c_dataset(),
                gdal_sys::GDALDataType::GDT_UInt16,
                options.as_mut_ptr(),
            )
        };
        if err != gdal_sys::CPLErr::CE_None {
            return Err(gdal::errors::GdalError::CplError {
                class: err,
                number: 0,
                msg: "GDALAddBand (MEM, DATAPOINTER) failed".into(),
            });
        }
    }
    Ok(ds)
}

/// The buffers of [`WarpMap::gather`], kept by the reader between reads.
#[derive(Default)]
pub struct Scratch {
    /// The source blocks read.
    blocks: Blocks,
    /// The offsets of the parts gathered through the maps the reader holds.
    parts: Vec<PartOffsets>,
}

impl Scratch {
    /// Forgets the offsets of maps other than `live` (those the reader dropped).
    pub fn keep_maps(&mut self, live: &[u64]) {
        self.parts.retain(|p| live.contains(&p.key.0));
    }
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
