//! Reading strips of an epoch's working grid as observation states.
//!
//! A [`MosaicReader`] holds its own GDAL handles (GDAL datasets are not shared
//! between threads), so each rayon worker makes one. A strip is filled tile by
//! tile in priority order; a tile is only read where the strip still has
//! unobserved pixels, so overlaps cost nothing once the first tile saw the land.

use std::ffi::CString;
use std::path::Path;

use canopy_core::composite::{Composite, Method, NO_DAY};
use canopy_core::forest::{
    fill_unobserved, fill_unobserved_with, BandScaling, ClassRule, ClassTable, MaskRule,
    SpectralRule, NON_FOREST, UNKNOWN_CLASS, UNOBSERVED,
};
use gdal::raster::GdalDataType;
use gdal::Dataset;

use crate::error::PipelineError;
use crate::raster::mosaic::{Mosaic, PlacedTile, Placement, Window};
use crate::raster::tile::{self, BandSet};
use crate::raster::warp_map::WarpMap;

/// The forest rules an epoch is read with.
#[derive(Debug, Clone)]
pub struct Rules {
    pub ndvi_min: f64,
    pub forest_classes: Vec<i64>,
    /// Known class codes; a code outside it is an error (empty: not checked).
    pub legend: Vec<i64>,
}

impl Rules {
    /// The rule one spectral tile is classified with: the epoch's NDVI threshold,
    /// the tile's band scalings and what its mask band means.
    fn spectral(&self, red: BandScaling, nir: BandScaling, mask: MaskRule) -> SpectralRule {
        SpectralRule {
            ndvi_min: self.ndvi_min,
            red,
            nir,
            mask,
        }
    }
}

/// One strip of an epoch on the working grid: the observation state of each
/// pixel and, for change alerts, its NDVI (spectral epochs) or class code
/// (class epochs); the other vector stays empty.
#[derive(Debug, Default, Clone)]
pub struct StripData {
    pub states: Vec<u8>,
    /// NaN where unobserved.
    pub ndvi: Vec<f32>,
    /// `i32::MIN` where unobserved.
    pub classes: Vec<i32>,
    /// Composite epochs: clear observations per pixel, those that saw
    /// non-forest, and the day number of the first of those
    /// (`core::composite::NO_DAY`: none). Priority epochs read with values (for
    /// change) leave `clear` empty and give `confirm` 1 and `first_nf` the date of
    /// the scene whose observation won, where that observation is non-forest.
    pub clear: Vec<u16>,
    pub confirm: Vec<u16>,
    pub first_nf: Vec<i32>,
    /// Readers made [`MosaicReader::with_nbr`]: the NBR composite (NaN where
    /// unobserved); else empty.
    pub nbr: Vec<f32>,
}

/// Class code of an unobserved pixel in [`StripData::classes`].
pub const NO_CLASS: i32 = i32::MIN;

/// One tile opened for reading: the band numbers to read from `ds`.
/// Fields drop in declaration order: the warped VRT first, then the band subset
/// it reads from, then the tile the subset points to.
struct OpenTile {
    ds: Dataset,
    /// The band-subset VRT under a warped VRT.
    _subset: Option<Dataset>,
    /// The tile itself under the subset VRT (read directly through a warp map).
    src: Option<Dataset>,
    bands: Vec<usize>,
    /// A warped tile: its bands in the tile itself (the subset's bands 1..),
    /// the arguments of its warp, and the key of its grid when it may be read
    /// through a shared warp map (`warp_map`).
    src_bands: Vec<usize>,
    warp_args: Vec<String>,
    map_key: Option<String>,
    /// Alpha band of a warped tile (0 = outside the tile's footprint).
    alpha: Option<usize>,
    /// Class band of 8 or 16 bits: its codes read natively and classified by table.
    table: Option<(CodeType, ClassTable)>,
    /// Width (pixels) of the column chunks a partial read is cut into: whole
    /// blocks of `ds`, at least 512 pixels.
    chunk: usize,
    /// Spectral tiles: the bands read in one `RasterIO` per window (red, NIR,
    /// then the mask and the alpha band where there are), and whether all of
    /// them fit in `u16` (read so, no conversion to `f32` in GDAL).
    raw_bands: Vec<i32>,
    raw_u16: bool,
    /// Block rows of `ds` on the working grid: they start at rows
    /// `row_origin + k × block_rows` (composite reads end on them).
    row_origin: i64,
    block_rows: usize,
}

/// Integer class bands read in their own type (not as `f64`).
#[derive(Clone, Copy, Debug)]
enum CodeType {
    U8,
    U16,
    I16,
}

/// Reads strips of one epoch; one per thread.
pub struct MosaicReader<'a> {
    mosaic: &'a Mosaic,
    rules: &'a Rules,
    tiles: Vec<OpenTile>,
    // scratch buffers reused across strips
    raw: RawBufs,
    buf_f64: Vec<f64>,
    codes: CodeBufs,
    alpha: Vec<u8>,
    tile: StripData,
    comp: Composite,
    /// Composite strips: the next strip's composite, holding the rows read past
    /// the end of the last strip; `carry` is that strip (first row, rows) and
    /// `done[i]` the row of the working grid up to which tile `i` is in it.
    next: Composite,
    carry: Option<(usize, usize)>,
    done: Vec<usize>,
    /// Composite epochs read with their NBR ([`MosaicReader::with_nbr`]).
    nbr: Option<NbrSide<'a>>,
    /// Warp maps of this strip and the next, by grid key (`warp_map`); per
    /// tile read through them, the source row up to which the next strip's
    /// pixels are already in `next`; the source pixels a gather reads.
    maps: Vec<(String, WarpMap)>,
    src_done: Vec<usize>,
    gathered: crate::raster::warp_map::Scratch,
}

/// The NBR of a composite epoch, composited from the NDVI reader's own reads:
/// the NBR mosaic (`burn`: each tile's red band replaced by its SWIR2 band, a
/// median composite) shares the NDVI mosaic's tiles, so each block is read and
/// decoded once for both, and the NBR needs no readers of its own.
struct NbrSide<'a> {
    mosaic: &'a Mosaic,
    comp: Composite,
    next: Composite,
    /// One row's states and NBR (scratch).
    row: StripData,
    /// The composite's states (not used: the NBR's values are).
    states: Vec<u8>,
}

impl<'a> MosaicReader<'a> {
    pub fn new(mosaic: &'a Mosaic, rules: &'a Rules) -> Result<MosaicReader<'a>, PipelineError> {
        Self::open(mosaic, rules, None)
    }

    /// A reader of a composite epoch that also composites its NBR (`nbr`: the
    /// epoch's NBR mosaic, `burn::pair_mosaics`) from the same reads, into
    /// [`StripData::nbr`]. `None` when the epochs' mosaics do not pair that way
    /// (a priority epoch, or tiles that differ): read the NBR with its own reader.
    pub fn with_nbr(
        mosaic: &'a Mosaic,
        nbr: &'a Mosaic,
        rules: &'a Rules,
    ) -> Result<Option<MosaicReader<'a>>, PipelineError> {
        let same_tiles = mosaic.tiles.len() == nbr.tiles.len()
            && mosaic.tiles.iter().zip(&nbr.tiles).all(|(a, b)| {
                a.info.path == b.info.path && a.window == b.window && a.placement == b.placement
            });
        let spectral = mosaic
            .tiles
            .iter()
            .all(|t| matches!(t.info.bands, BandSet::Spectral { .. }));
        if mosaic.composite == Method::Priority || !same_tiles || !spectral {
            return Ok(None);
        }
        Self::open(mosaic, rules, Some(nbr)).map(Some)
    }

    fn open(
        mosaic: &'a Mosaic,
        rules: &'a Rules,
        nbr: Option<&'a Mosaic>,
    ) -> Result<MosaicReader<'a>, PipelineError> {
        let tiles = mosaic
            .tiles
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let swir = nbr.and_then(|m| match &m.tiles[i].info.bands {
                    BandSet::Spectral { red, .. } => Some(red.0),
                    BandSet::Classes { .. } => None,
                });
                open_tile(mosaic, t, rules, swir)
            })
            .collect::<Result<_, _>>()?;
        Ok(MosaicReader {
            mosaic,
            rules,
            tiles,
            raw: RawBufs::default(),
            buf_f64: Vec::new(),
            codes: CodeBufs::default(),
            alpha: Vec::new(),
            tile: StripData::default(),
            comp: Composite::default(),
            next: Composite::default(),
            carry: None,
            done: Vec::new(),
            maps: Vec::new(),
            src_done: Vec::new(),
            gathered: Default::default(),
            nbr: nbr.map(|mosaic| NbrSide {
                mosaic,
                comp: Composite::default(),
                next: Composite::default(),
                row: StripData::default(),
                states: Vec::new(),
            }),
        })
    }

    /// Fills `out` (rows `row0 .. row0 + rows` of the working grid, full width)
    /// with observation states only.
    pub fn read_strip(
        &mut self,
        row0: usize,
        rows: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), PipelineError> {
        let mut data = StripData {
            states: std::mem::take(out),
            ..Default::default()
        };
        self.read(row0, rows, &mut data, false)?;
        *out = data.states;
        Ok(())
    }

    /// Fills `out` with states and, with `values`, the NDVI or class code of each pixel.
    pub fn read(
        &mut self,
        row0: usize,
        rows: usize,
        out: &mut StripData,
        values: bool,
    ) -> Result<(), PipelineError> {
        let width = self.mosaic.grid.width;
        let spectral = matches!(
            self.mosaic.tiles.first().map(|t| &t.info.bands),
            Some(BandSet::Spectral { .. })
        );
        out.clear.clear();
        out.confirm.clear();
        out.first_nf.clear();
        out.nbr.clear();
        if spectral && self.mosaic.composite != Method::Priority {
            return self.read_composite(row0, rows, out);
        }
        let (want_ndvi, want_classes) = (values && spectral, values && !spectral);
        let n = width * rows;
        // The strip starts unobserved (NaN / NO_CLASS values). It is filled on
        // demand: when the first tile read covers the whole strip, its buffers
        // are handed over and the strip is never initialised at all.
        let init = |out: &mut StripData| {
            out.states.clear();
            out.states.resize(n, UNOBSERVED);
            if values {
                out.first_nf.clear();
                out.first_nf.resize(n, NO_DAY);
            }
            out.ndvi.clear();
            out.classes.clear();
            if want_ndvi {
                out.ndvi.resize(n, f32::NAN);
            } else if want_classes {
                out.classes.resize(n, NO_CLASS);
            }
        };
        let mut first = true;
        for i in 0..self.mosaic.tiles.len() {
            let placed = &self.mosaic.tiles[i];
            let w = placed.window;
            let day = placed.day;
            let r0 = row0.max(w.row);
            let r1 = (row0 + rows).min(w.row + w.height);
            if r0 >= r1 {
                continue;
            }
            let sub = Window {
                col: w.col,
                row: r0,
                width: w.width,
                height: r1 - r0,
            };
            if first {
                self.classify_window(i, sub, values).map_err(|e| match e {
                    PipelineError::Raster { .. } => e,
                    other => PipelineError::raster(&placed.info.path, other),
                })?;
                let t = &mut self.tile;
                // Nothing observed yet: compositing is a copy (an unobserved
                // pixel of the tile carries NaN / NO_CLASS, like the strip), and a
                // tile that covers the whole strip hands its buffers over.
                first = false;
                if sub.col == 0 && sub.width == width && sub.row == row0 && sub.height == rows {
                    std::mem::swap(&mut out.states, &mut t.states);
                    out.ndvi.clear();
                    out.classes.clear();
                    if want_ndvi {
                        std::mem::swap(&mut out.ndvi, &mut t.ndvi);
                    } else if want_classes {
                        std::mem::swap(&mut out.classes, &mut t.classes);
                    }
                    if values {
                        out.first_nf.clear();
                        out.first_nf
                            .extend(out.states.iter().map(|&s| day_if_nf(s, day)));
                    }
                    continue;
                }
                init(out);
                for r in 0..sub.height {
                    let at = (sub.row + r - row0) * width + sub.col;
                    let src = r * sub.width..(r + 1) * sub.width;
                    let dst = at..at + sub.width;
                    if want_ndvi {
                        out.ndvi[dst.clone()].copy_from_slice(&t.ndvi[src.clone()]);
                    } else if want_classes {
                        out.classes[dst.clone()].copy_from_slice(&t.classes[src.clone()]);
                    }
                    if values {
                        for (f, &s) in out.first_nf[dst.clone()]
                            .iter_mut()
                            .zip(&t.states[src.clone()])
                        {
                            *f = day_if_nf(s, day);
                        }
                    }
                    out.states[dst].copy_from_slice(&t.states[src]);
                }
                continue;
            }
            // A later tile only fills what is still unobserved: read it only in
            // the chunks of columns (whole blocks of the dataset read) that still
            // have an unobserved pixel, so clouds and gaps do not make every
            // overlapping tile be decoded (or warped) across the whole strip.
            let chunk = self.tiles[i].chunk;
            let origin = match placed.placement {
                Placement::Direct { col_shift, .. } => col_shift,
                Placement::Warped => w.col as i64,
            };
            let mut c = sub.col;
            let end = sub.col + sub.width;
            let mut runs: Vec<(usize, usize)> = Vec::new();
            while c < end {
                // Next chunk boundary after c on the dataset's block grid.
                let k = (c as i64 - origin).div_euclid(chunk as i64) + 1;
                let c1 = ((origin + k * chunk as i64).max(c as i64 + 1) as usize).min(end);
                let pending = (sub.row..sub.row + sub.height).any(|r| {
                    let line = &out.states[(r - row0) * width..][..width];
                    line[c..c1].contains(&UNOBSERVED)
                });
                if pending {
                    match runs.last_mut() {
                        Some(last) if last.1 == c => last.1 = c1,
                        _ => runs.push((c, c1)),
                    }
                }
                c = c1;
            }
            for (c0, c1) in runs {
                let win = Window {
                    col: c0,
                    row: sub.row,
                    width: c1 - c0,
                    height: sub.height,
                };
                self.classify_window(i, win, values).map_err(|e| match e {
                    PipelineError::Raster { .. } => e,
                    other => PipelineError::raster(&placed.info.path, other),
                })?;
                let t = &self.tile;
                for r in 0..win.height {
                    let at = (win.row + r - row0) * width + win.col;
                    let src = r * win.width..(r + 1) * win.width;
                    let dst = at..at + win.width;
                    if values {
                        // The pixels this tile fills (still unobserved, observed
                        // here) take its date where it sees non-forest.
                        let news = out.states[dst.clone()].iter().zip(&t.states[src.clone()]);
                        for (f, (&o, &s)) in out.first_nf[dst.clone()].iter_mut().zip(news) {
                            if o == UNOBSERVED && s != UNOBSERVED {
                                *f = day_if_nf(s, day);
                            }
                        }
                    }
                    if want_ndvi {
                        fill_unobserved_with(
                            &mut out.states[dst.clone()],
                            &mut out.ndvi[dst],
                            &t.states[src.clone()],
                            &t.ndvi[src],
                        );
                    } else if want_classes {
                        fill_unobserved_with(
                            &mut out.states[dst.clone()],
                            &mut out.classes[dst],
                            &t.states[src.clone()],
                            &t.classes[src],
                        );
                    } else {
                        fill_unobserved(&mut out.states[dst], &t.states[src]);
                    }
                }
            }
        }
        if first {
            // No tile touches the strip.
            init(out);
        }
        if values {
            // One observation per pixel: the one that won.
            out.confirm.clear();
            out.confirm.resize(n, 1);
        }
        Ok(())
    }

    /// A composite strip (max or median NDVI): every tile that reaches the strip
    /// is read whole over it and each clear observation added to the composite.
    ///
    /// Each compressed block of a tile is decoded once per pass: a tile whose
    /// block rows straddle the strip's end is read on to the end of that block
    /// row, and the rows past the strip go into the composite of the next strip
    /// (`self.next`), which this reader starts with when it is asked for that
    /// strip next (rayon hands each thread runs of consecutive strips). Before,
    /// the next strip decoded that block row again: GDAL's block cache (capped,
    /// see `job::limit_gdal_cache`) no longer held it once every other scene's
    /// blocks had been read, so 12 scenes decoded 1.7× the blocks of the files.
    /// The composite does not depend on the order in which observations are
    /// added, so the result is the same bit for bit whoever reads which rows.
    fn read_composite(
        &mut self,
        row0: usize,
        rows: usize,
        out: &mut StripData,
    ) -> Result<(), PipelineError> {
        let width = self.mosaic.grid.width;
        let height = self.mosaic.grid.height;
        let end = row0 + rows;
        // Only strips of the passes (`strips::strip_rows`) carry rows over; other
        // reads (chips, a last shorter strip) read just their window.
        let strip_like = crate::strips::is_strip(width, row0, rows);
        let next_rows = if strip_like {
            rows.min(height.saturating_sub(end))
        } else {
            0
        };
        // The tiles' windows over rows `r0 .. r1`, in the strip's columns and
        // rows from `r0` (a median keeps a slot per pixel per window over it).
        let windows = |r0: usize, r1: usize| -> Vec<[usize; 4]> {
            self.mosaic
                .tiles
                .iter()
                .map(|t| t.window)
                .filter(|w| w.row < r1 && w.row + w.height > r0)
                .map(|w| {
                    let (a, b) = (w.row.max(r0), (w.row + w.height).min(r1));
                    [w.col, w.col + w.width, a - r0, b - r0]
                })
                .collect()
        };
        let carried = self.carry == Some((row0, rows)) && self.done.len() == self.tiles.len();
        // Maps of rows before this strip are done with.
        self.maps.retain(|(_, m)| carried && m.win.row >= row0);
        let live: Vec<u64> = self.maps.iter().map(|(_, m)| m.id()).collect();
        self.gathered.keep_maps(&live);
        let rules = self.rules;
        let here = windows(row0, end);
        if carried {
            // The rows read past the previous strip's end are already in `next`.
            std::mem::swap(&mut self.comp, &mut self.next);
        } else {
            start(&mut self.comp, self.mosaic, rules, (width, rows), &here);
            self.done.clear();
            self.done.resize(self.tiles.len(), row0);
            self.src_done.clear();
            self.src_done.resize(self.tiles.len(), 0);
        }
        if let Some(nb) = self.nbr.as_mut() {
            if carried {
                std::mem::swap(&mut nb.comp, &mut nb.next);
            } else {
                start(&mut nb.comp, nb.mosaic, rules, (width, rows), &here);
            }
        }
        self.carry = None;
        if next_rows > 0 {
            let ahead = windows(end, end + next_rows);
            start(
                &mut self.next,
                self.mosaic,
                rules,
                (width, next_rows),
                &ahead,
            );
            if let Some(nb) = self.nbr.as_mut() {
                start(&mut nb.next, nb.mosaic, rules, (width, next_rows), &ahead);
            }
        }
        for i in 0..self.mosaic.tiles.len() {
            if self.tiles[i].map_key.is_some() {
                self.add_mapped(i, row0, end, next_rows)?;
                continue;
            }
            let w = self.mosaic.tiles[i].window;
            let first = self.done[i].max(row0).max(w.row);
            let last = end.min(w.row + w.height);
            // Rows of the next strip this read reaches (none by default).
            self.done[i] = end;
            if first >= last {
                continue;
            }
            // On to the end of the block row the strip ends in (within the tile
            // and the next strip). A warped tile is read on through the whole
            // next strip: the warper's source windows of two strips share a block
            // row of the source, which GDAL's cache no longer holds once every
            // other scene's tiles of the strip are read, so reading the two strips
            // at once halves the source blocks decoded twice.
            let stop = if next_rows > 0 {
                let (origin, bh) = (self.tiles[i].row_origin, self.tiles[i].block_rows as i64);
                let k = (last as i64 - origin).div_euclid(bh);
                let boundary = origin + k * bh;
                let b = if self.mosaic.tiles[i].placement == Placement::Warped {
                    end + next_rows
                } else if boundary == last as i64 {
                    last
                } else {
                    (boundary + bh) as usize
                };
                b.min(w.row + w.height).min(end + next_rows).max(last)
            } else {
                last
            };
            self.done[i] = stop.max(end);
            let sub = Window {
                col: w.col,
                row: first,
                width: w.width,
                height: stop - first,
            };
            self.add_tile(i, sub, row0, end)?;
        }
        if next_rows > 0 {
            self.carry = Some((end, next_rows));
        }
        self.comp.finish(&mut out.states, &mut out.ndvi);
        match self.nbr.as_mut() {
            Some(nb) => nb.comp.finish(&mut nb.states, &mut out.nbr),
            None => out.nbr.clear(),
        }
        out.classes.clear();
        std::mem::swap(&mut out.clear, &mut self.comp.clear);
        std::mem::swap(&mut out.confirm, &mut self.comp.confirm);
        std::mem::swap(&mut out.first_nf, &mut self.comp.first_nf);
        Ok(())
    }

    /// Reads window `sub` of tile `i` and adds its clear observations to the
    /// composite of the strip `row0 .. end` (rows below `end`) or, past `end`,
    /// to the composite of the next strip.
    ///
    /// The window is read one block row of the tile at a time, so the read
    /// buffer is one block row of one tile, not the strip (at 10 m, 511 rows of
    /// four bands were 68 MB per reader); the blocks are released once the
    /// whole window is read.
    fn add_tile(
        &mut self,
        i: usize,
        sub: Window,
        row0: usize,
        end: usize,
    ) -> Result<(), PipelineError> {
        // Reads end on the tile's block rows (on the working grid), so each
        // read is of whole block rows but the first and last.
        let (origin, bh) = (self.tiles[i].row_origin, self.tiles[i].block_rows as i64);
        let mut row = sub.row;
        let end_row = sub.row + sub.height;
        while row < end_row {
            let k = (row as i64 - origin).div_euclid(bh) + 1;
            let stop = ((origin + k * bh) as usize).clamp(row + 1, end_row);
            let part = Window {
                row,
                height: stop - row,
                ..sub
            };
            self.add_rows(i, part, row0, end, None)?;
            row = stop;
        }
        let (placed, open) = (&self.mosaic.tiles[i], &self.tiles[i]);
        release_blocks(placed, open, source_at(placed, sub).1, sub.height);
        Ok(())
    }

    /// [`MosaicReader::add_tile`] of one read: window `sub` of tile `i`, added
    /// to the NDVI composites and, with an NBR side, from the same read (SWIR2
    /// in place of red) to the NBR composites. `mapped`: see
    /// [`MosaicReader::read_bands_of`].
    fn add_rows(
        &mut self,
        i: usize,
        sub: Window,
        row0: usize,
        end: usize,
        mapped: Option<(Window, std::ops::Range<usize>)>,
    ) -> Result<(), PipelineError> {
        let placed = &self.mosaic.tiles[i];
        let BandSet::Spectral {
            red,
            nir,
            mask,
            mask_rule,
        } = &placed.info.bands
        else {
            unreachable!("composites are of spectral epochs")
        };
        let raw = self.read_bands_of(i, sub, mapped)?;
        let at = Rows {
            sub,
            row0,
            end,
            width: self.mosaic.grid.width,
            day: placed.day,
        };
        let view = RawView {
            kind: raw,
            bufs: &self.raw,
            n: sub.width * sub.height,
            mask: mask.is_some(),
            alpha: self.tiles[i].alpha.is_some(),
        };
        let rule = self.rules.spectral(red.1, nir.1, *mask_rule);
        add_observations(
            &view,
            None,
            &rule,
            at,
            [&mut self.comp, &mut self.next],
            &mut self.tile,
        );
        if let Some(nb) = self.nbr.as_mut() {
            if let BandSet::Spectral { red: swir, .. } = &nb.mosaic.tiles[i].info.bands {
                // The SWIR2 band is read last (`open_tile`).
                let rule = self.rules.spectral(swir.1, nir.1, *mask_rule);
                let swir_ix = self.tiles[i].raw_bands.len() - 1;
                let comps = [&mut nb.comp, &mut nb.next];
                add_observations(&view, Some(swir_ix), &rule, at, comps, &mut nb.row);
            }
        }
        Ok(())
    }

    /// Reads the spectral bands of `win` (working-grid pixels) of tile `i` in one
    /// `RasterIO` (`OpenTile::raw_bands`, band after band) into `self.raw`, then
    /// releases the blocks read ([`release_blocks`]).
    fn read_raw(&mut self, i: usize, win: Window) -> Result<RawKind, PipelineError> {
        let kind = self.read_bands_of(i, win, None)?;
        let (placed, open) = (&self.mosaic.tiles[i], &self.tiles[i]);
        release_blocks(placed, open, source_at(placed, win).1, win.height);
        Ok(kind)
    }

    /// Adds tile `i` (read through warp maps, `warp_map`) to the composites of
    /// the strip `row0 .. end` and of the next strip (`next_rows` rows): the
    /// pixels of both strips that take their values from the source rows
    /// after those read for this strip already (`src_done`) and before the
    /// block row boundary past the last source row this strip needs. Every
    /// pixel of the strip is then read, and each source block row is decoded
    /// once per pass, not once per strip it reaches.
    fn add_mapped(
        &mut self,
        i: usize,
        row0: usize,
        end: usize,
        next_rows: usize,
    ) -> Result<(), PipelineError> {
        let w = self.mosaic.tiles[i].window;
        let rows_of = |a: usize, b: usize| {
            let (a, b) = (a.max(w.row), b.min(w.row + w.height));
            (a < b).then_some(Window {
                col: w.col,
                row: a,
                width: w.width,
                height: b - a,
            })
        };
        let (here, ahead) = (rows_of(row0, end), rows_of(end, end + next_rows));
        let from = self.src_done[i];
        let to = match (here, next_rows) {
            (_, 0) => usize::MAX,
            (None, _) => from,
            (Some(win), _) => {
                let bh = self.mosaic.tiles[i].info.block.1.max(1);
                let last = self.map(i, win)?.last_row();
                last.map_or(from, |r| (r + 1).next_multiple_of(bh).max(from))
            }
        };
        self.src_done[i] = to;
        if to <= from {
            return Ok(());
        }
        let bh = self.tiles[i].block_rows;
        for win in [here, ahead].into_iter().flatten() {
            self.map(i, win)?;
            let mut row = win.row;
            while row < win.row + win.height {
                let stop = (row + bh).min(win.row + win.height);
                let part = Window {
                    row,
                    height: stop - row,
                    ..win
                };
                self.add_rows(i, part, row0, end, Some((win, from..to)))?;
                row = stop;
            }
        }
        // The source rows before `to` are not read again in this pass.
        if let Some(src) = &self.tiles[i].src {
            for b in 1..=src.raster_count() {
                if let Ok(band) = src.rasterband(b) {
                    // SAFETY: a live band handle of a dataset opened read-only;
                    // flushing only discards clean cached blocks.
                    unsafe { gdal_sys::GDALFlushRasterCache(band.c_rasterband()) };
                }
            }
        }
        Ok(())
    }

    /// The warp map of window `win` for tile `i`'s grid, made by the first tile
    /// of that grid that needs it.
    fn map(&mut self, i: usize, win: Window) -> Result<&WarpMap, PipelineError> {
        let open = &self.tiles[i];
        let key = open.map_key.as_ref().expect("a tile read through maps");
        let at = match self.maps.iter().position(|(k, m)| k == key && m.win == win) {
            Some(at) => at,
            None => {
                let subset = open._subset.as_ref().expect("a warped tile");
                let placed = &self.mosaic.tiles[i];
                let map = WarpMap::build(self.mosaic, placed, subset, &open.warp_args, win)?;
                self.maps.push((key.clone(), map));
                self.maps.len() - 1
            }
        };
        Ok(&self.maps[at].1)
    }

    /// [`MosaicReader::read_raw`] without releasing the blocks; `mapped`: read
    /// through the warp map of that window, only the pixels of those source
    /// rows (`add_mapped`).
    fn read_bands_of(
        &mut self,
        i: usize,
        win: Window,
        mapped: Option<(Window, std::ops::Range<usize>)>,
    ) -> Result<RawKind, PipelineError> {
        let placed = &self.mosaic.tiles[i];
        let open = &self.tiles[i];
        let (sx, sy) = source_at(placed, win);
        let n = win.width * win.height * open.raw_bands.len();
        if let Some((map_win, src_rows)) = mapped {
            let key = open.map_key.as_ref().expect("a tile read through maps");
            let map = self
                .maps
                .iter()
                .find(|(k, m)| k == key && m.win == map_win)
                .map(|(_, m)| m)
                .expect("made by add_mapped");
            let src = open.src.as_ref().expect("a warped tile");
            let k = open.src_bands.len();
            let bands: Vec<Option<i32>> = open
                .raw_bands
                .iter()
                .map(|&b| (b as usize <= k).then(|| open.src_bands[b as usize - 1] as i32))
                .collect();
            self.raw.u16.resize(n, 0);
            map.gather(
                src,
                &bands,
                win,
                src_rows,
                &mut self.raw.u16[..n],
                &mut self.gathered,
            )
            .map_err(|e| {
                PipelineError::raster(
                    &placed.info.path,
                    format!(
                        "reading bands {:?} through the warp map: {e}",
                        open.src_bands
                    ),
                )
            })?;
            return Ok(RawKind::U16);
        }
        let res = if open.raw_u16 {
            self.raw.u16.resize(n, 0);
            read_bands(
                &open.ds,
                &open.raw_bands,
                (sx, sy),
                win,
                &mut self.raw.u16[..n],
            )
        } else {
            self.raw.f32.resize(n, 0.0);
            read_bands(
                &open.ds,
                &open.raw_bands,
                (sx, sy),
                win,
                &mut self.raw.f32[..n],
            )
        };
        res.map_err(|e| {
            PipelineError::raster(
                &placed.info.path,
                format!(
                    "reading bands {:?} at pixel ({sx}, {sy}), {}×{}: {e}",
                    open.raw_bands, win.width, win.height
                ),
            )
        })?;
        Ok(if open.raw_u16 {
            RawKind::U16
        } else {
            RawKind::F32
        })
    }

    /// Classifies `win` (working-grid pixels) of tile `i` into `self.tile`; with
    /// `values`, also each pixel's class code (class epochs).
    fn classify_window(
        &mut self,
        i: usize,
        win: Window,
        values: bool,
    ) -> Result<(), PipelineError> {
        let n = win.width * win.height;
        self.tile.states.resize(n, UNOBSERVED);
        if let BandSet::Spectral {
            red,
            nir,
            mask,
            mask_rule,
        } = &self.mosaic.tiles[i].info.bands
        {
            // One read of all bands (alpha included), classified in one pass.
            let raw = self.read_raw(i, win)?;
            let rule = self.rules.spectral(red.1, nir.1, *mask_rule);
            let (has_mask, has_alpha) = (mask.is_some(), self.tiles[i].alpha.is_some());
            self.tile.ndvi.resize(n, f32::NAN);
            let (states, ndvi) = (&mut self.tile.states[..n], &mut self.tile.ndvi[..n]);
            match raw {
                RawKind::U16 => RawBands::new(&self.raw.u16, n, has_mask, has_alpha)
                    .classify(&rule, states, ndvi),
                RawKind::F32 => RawBands::new(&self.raw.f32, n, has_mask, has_alpha)
                    .classify(&rule, states, ndvi),
            }
            return Ok(());
        }
        let placed = &self.mosaic.tiles[i];
        let open = &self.tiles[i];
        let path = &placed.info.path;
        let (sx, sy) = source_at(placed, win);
        match &placed.info.bands {
            BandSet::Spectral { .. } => unreachable!("read above"),
            BandSet::Classes { .. } if open.table.is_some() => {
                let (ty, table) = open.table.as_ref().expect("checked");
                let band = open
                    .ds
                    .rasterband(open.bands[0])
                    .map_err(|e| PipelineError::raster(path, e))?;
                let at = (sx as isize, sy as isize);
                let (states, classes) = (&mut self.tile.states[..n], &mut self.tile.classes);
                let classes = values.then_some(classes);
                let b = &mut self.codes;
                match ty {
                    CodeType::U8 => read_classes(&band, at, win, &mut b.u8, table, states, classes),
                    CodeType::U16 => {
                        read_classes(&band, at, win, &mut b.u16, table, states, classes)
                    }
                    CodeType::I16 => {
                        read_classes(&band, at, win, &mut b.i16, table, states, classes)
                    }
                }
                .map_err(|e| PipelineError::raster(path, e))?;
            }
            BandSet::Classes { class } => {
                self.buf_f64.resize(n, 0.0);
                let b = open
                    .ds
                    .rasterband(open.bands[0])
                    .map_err(|e| PipelineError::raster(path, e))?;
                b.read_into_slice::<f64>(
                    (sx as isize, sy as isize),
                    (win.width, win.height),
                    (win.width, win.height),
                    &mut self.buf_f64,
                    None,
                )
                .map_err(|e| {
                    PipelineError::raster(path, format!("reading class band at ({sx}, {sy}): {e}"))
                })?;
                let rule = ClassRule {
                    forest_classes: self.rules.forest_classes.clone(),
                    nodata: class.1,
                };
                rule.classify_into(&self.buf_f64[..n], &mut self.tile.states[..n]);
                self.tile.classes.resize(n, NO_CLASS);
                let legend = &self.rules.legend;
                let codes = self.buf_f64[..n].iter().zip(&self.tile.states[..n]);
                for (k, (&code, &st)) in codes.enumerate() {
                    if st == UNOBSERVED {
                        self.tile.classes[k] = NO_CLASS;
                        continue;
                    }
                    let c = code as i64;
                    if !legend.is_empty() && legend.binary_search(&c).is_err() {
                        return Err(PipelineError::raster(path, unknown_class(c, win, k)));
                    }
                    self.tile.classes[k] = c as i32;
                }
            }
        }
        release_blocks(placed, open, sy, win.height);
        if let Some(a) = open.alpha {
            self.alpha.resize(n, 0);
            let b = open
                .ds
                .rasterband(a)
                .map_err(|e| PipelineError::raster(path, e))?;
            b.read_into_slice::<u8>(
                (sx as isize, sy as isize),
                (win.width, win.height),
                (win.width, win.height),
                &mut self.alpha,
                None,
            )
            .map_err(|e| PipelineError::raster(path, format!("reading warped footprint: {e}")))?;
            // Outside the footprint: unobserved, and no NDVI or class either
            // (compositing copies values along with states).
            let t = &mut self.tile;
            for (k, &al) in self.alpha[..n].iter().enumerate() {
                if al == 0 {
                    t.states[k] = UNOBSERVED;
                    if let Some(v) = t.ndvi.get_mut(k) {
                        *v = f32::NAN;
                    }
                    if let Some(v) = t.classes.get_mut(k) {
                        *v = NO_CLASS;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Where the rows of one read go: window `sub` of the working grid, the strip
/// `row0 .. end` (rows past `end` go to the next strip's composite), the grid's
/// width, the scene's day.
#[derive(Clone, Copy)]
struct Rows {
    sub: Window,
    row0: usize,
    end: usize,
    width: usize,
    day: i32,
}

/// The bands of one read in [`RawBufs`].
struct RawView<'b> {
    kind: RawKind,
    bufs: &'b RawBufs,
    n: usize,
    mask: bool,
    alpha: bool,
}

/// Classifies each row of a read with `rule` (its red band, or with `red`
/// the read's band of that index in its place) and adds it to the strip's
/// composite or, past the strip, to the next one's (`comps`).
fn add_observations(
    view: &RawView,
    red: Option<usize>,
    rule: &SpectralRule,
    at: Rows,
    comps: [&mut Composite; 2],
    scratch: &mut StripData,
) {
    let [comp, next] = comps;
    let Rows {
        sub,
        row0,
        end,
        width,
        day,
    } = at;
    // Row `r` of the window: its composite and offset in it.
    let target = |r: usize| {
        let g = sub.row + r;
        if g < end {
            (true, (g - row0) * width + sub.col)
        } else {
            (false, (g - end) * width + sub.col)
        }
    };
    let n = view.n;
    let fast = rule.for_u16();
    match view.kind {
        RawKind::U16 if fast.is_some() => {
            // Branch-free classification of each row, then compositing.
            let fast = fast.expect("checked");
            let b = RawBands::new(&view.bufs.u16, n, view.mask, view.alpha).red_from(red);
            let w = sub.width;
            let t = scratch;
            t.states.resize(w, UNOBSERVED);
            t.ndvi.resize(w, f32::NAN);
            for r in 0..sub.height {
                let row = r * w..(r + 1) * w;
                canopy_core::forest::classify_u16(
                    &fast,
                    &b.red[row.clone()],
                    &b.nir[row.clone()],
                    b.mask.map(|m| &m[row.clone()]),
                    b.alpha.map(|a| &a[row.clone()]),
                    &mut t.states[..w],
                    &mut t.ndvi[..w],
                );
                let (here, at) = target(r);
                let c = if here { &mut *comp } else { &mut *next };
                c.add(at, &t.states[..w], &t.ndvi[..w], day);
            }
        }
        RawKind::U16 => {
            let bands = RawBands::new(&view.bufs.u16, n, view.mask, view.alpha).red_from(red);
            add_by_pixel(&bands, rule, sub, &target, [comp, next], day);
        }
        RawKind::F32 => {
            let bands = RawBands::new(&view.bufs.f32, n, view.mask, view.alpha).red_from(red);
            add_by_pixel(&bands, rule, sub, &target, [comp, next], day);
        }
    }
}

/// [`add_observations`] pixel by pixel (the general rule, any band type).
fn add_by_pixel<T: Copy + Into<f32> + Default + PartialEq>(
    bands: &RawBands<T>,
    rule: &SpectralRule,
    sub: Window,
    target: &dyn Fn(usize) -> (bool, usize),
    [comp, next]: [&mut Composite; 2],
    day: i32,
) {
    for r in 0..sub.height {
        let o = r * sub.width;
        let (here, at) = target(r);
        let c = if here { &mut *comp } else { &mut *next };
        c.add_with(at, sub.width, day, |k| bands.obs(rule, o + k));
    }
}

/// Starts `comp` on a strip of `mosaic`'s working grid (`size`: width, rows)
/// that the tiles' `windows` cover, with the epoch's method and `min_clear`.
fn start(
    comp: &mut Composite,
    mosaic: &Mosaic,
    rules: &Rules,
    size: (usize, usize),
    windows: &[[usize; 4]],
) {
    let (method, min_clear) = (mosaic.composite, mosaic.min_clear);
    comp.reset_windows(method, rules.ndvi_min, min_clear, size, windows);
}

/// `day` for a non-forest observation, else [`NO_DAY`].
#[inline]
fn day_if_nf(state: u8, day: i32) -> i32 {
    if state == NON_FOREST {
        day
    } else {
        NO_DAY
    }
}

/// Position of working-grid window `win` in the dataset tile `placed` is read from.
fn source_at(placed: &PlacedTile, win: Window) -> (i64, i64) {
    match placed.placement {
        Placement::Direct {
            col_shift,
            row_shift,
        } => (win.col as i64 - col_shift, win.row as i64 - row_shift),
        Placement::Warped => (
            (win.col - placed.window.col) as i64,
            (win.row - placed.window.row) as i64,
        ),
    }
}

/// After a read of rows `sy .. sy + rows` of a tile read directly: strips that
/// start and end on block rows of the tile never share a block with the next
/// strip, so those blocks are dropped from GDAL's cache now rather than let them
/// push the cache to its cap (memory stays at what a strip needs). Misaligned
/// tiles keep their cache: the next strip reads the block row they share.
fn release_blocks(placed: &PlacedTile, open: &OpenTile, sy: i64, rows: usize) {
    if let Placement::Direct { .. } = placed.placement {
        let bh = placed.info.block.1.max(1) as i64;
        let end = sy + rows as i64;
        if sy % bh == 0 && (end % bh == 0 || end >= placed.info.grid.height as i64) {
            for b in 1..=open.ds.raster_count() {
                if let Ok(band) = open.ds.rasterband(b) {
                    // SAFETY: a live band handle of a dataset opened read-only;
                    // flushing only discards clean cached blocks.
                    unsafe { gdal_sys::GDALFlushRasterCache(band.c_rasterband()) };
                }
            }
        }
    }
}

/// Reads `bands` of window `win` at `(sx, sy)` of `ds` in one
/// `GDALDatasetRasterIO`, band after band, converted to `T`.
pub(crate) fn read_bands<T: gdal::raster::GdalType + Copy>(
    ds: &Dataset,
    bands: &[i32],
    (sx, sy): (i64, i64),
    win: Window,
    buf: &mut [T],
) -> Result<(), String> {
    assert_eq!(buf.len(), win.width * win.height * bands.len());
    let int = |v: i64| i32::try_from(v).map_err(|_| format!("window offset {v} too large"));
    let (x, y, w, h) = (
        int(sx)?,
        int(sy)?,
        int(win.width as i64)?,
        int(win.height as i64)?,
    );
    let mut map = bands.to_vec();
    // SAFETY: `buf` holds exactly width × height × bands values of T (checked
    // above), the band map lives through the call, and the handle is live.
    let err = unsafe {
        gdal_sys::GDALDatasetRasterIO(
            ds.c_dataset(),
            gdal_sys::GDALRWFlag::GF_Read,
            x,
            y,
            w,
            h,
            buf.as_mut_ptr() as *mut std::ffi::c_void,
            w,
            h,
            T::gdal_ordinal(),
            map.len() as i32,
            map.as_mut_ptr(),
            0,
            0,
            0,
        )
    };
    if err == gdal_sys::CPLErr::CE_None {
        Ok(())
    } else {
        Err(last_cpl_message())
    }
}

/// GDAL's last error message, or an empty string.
pub(crate) fn last_cpl_message() -> String {
    // SAFETY: CPLGetLastErrorMsg returns a thread-local string owned by GDAL,
    // copied out at once.
    unsafe {
        let p = gdal_sys::CPLGetLastErrorMsg();
        if p.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    }
}

/// Which buffer of [`RawBufs`] the last spectral read filled.
#[derive(Clone, Copy)]
enum RawKind {
    U16,
    F32,
}

/// Raw spectral values, band after band (red, NIR, [mask], [alpha]).
#[derive(Default)]
struct RawBufs {
    u16: Vec<u16>,
    f32: Vec<f32>,
}

/// The bands of one raw spectral read, as slices of `n` pixels.
struct RawBands<'b, T> {
    /// The whole read, band after band (`n` values each).
    all: &'b [T],
    n: usize,
    red: &'b [T],
    nir: &'b [T],
    mask: Option<&'b [T]>,
    /// Alpha band of a warped tile: 0 = outside the tile's footprint.
    alpha: Option<&'b [T]>,
}

impl<'b, T: Copy + Into<f32> + Default + PartialEq> RawBands<'b, T> {
    fn new(buf: &'b [T], n: usize, mask: bool, alpha: bool) -> Self {
        let mut parts = buf.chunks_exact(n.max(1));
        let mut next = || parts.next().unwrap_or(&[]);
        let (red, nir) = (next(), next());
        let mask = mask.then(&mut next);
        let alpha = alpha.then(&mut next);
        RawBands {
            all: buf,
            n,
            red,
            nir,
            mask,
            alpha,
        }
    }

    /// The same bands with the read's band `ix` (from 0) as red, when given.
    fn red_from(mut self, ix: Option<usize>) -> Self {
        if let Some(ix) = ix {
            self.red = self.all.chunks_exact(self.n.max(1)).nth(ix).unwrap_or(&[]);
        }
        self
    }

    /// State and NDVI of pixel `k` (values of integer bands are exact in `f32`,
    /// so this is what a reading as `f32` gives).
    #[inline(always)]
    fn obs(&self, rule: &SpectralRule, k: usize) -> (u8, f32) {
        if self.alpha.is_some_and(|a| a[k] == T::default()) {
            return (UNOBSERVED, f32::NAN);
        }
        rule.state_and_ndvi(
            self.red[k].into(),
            self.nir[k].into(),
            self.mask.map(|m| m[k].into()),
        )
    }

    fn classify(&self, rule: &SpectralRule, states: &mut [u8], ndvi: &mut [f32]) {
        for (k, (s, v)) in states.iter_mut().zip(ndvi.iter_mut()).enumerate() {
            (*s, *v) = self.obs(rule, k);
        }
    }
}

/// Scratch buffers of class codes in their band's own type.
#[derive(Default)]
struct CodeBufs {
    u8: Vec<u8>,
    u16: Vec<u16>,
    i16: Vec<i16>,
}

/// Reads the class codes of `win` (at `at` in `band`) in their own type and
/// classifies them with `table` into `states`; with `classes`, also writes each
/// pixel's code (`NO_CLASS` where unobserved).
fn read_classes<T: gdal::raster::GdalType + Copy + Default + Into<i64>>(
    band: &gdal::raster::RasterBand,
    at: (isize, isize),
    win: Window,
    buf: &mut Vec<T>,
    table: &ClassTable,
    states: &mut [u8],
    classes: Option<&mut Vec<i32>>,
) -> Result<(), String> {
    let n = win.width * win.height;
    buf.resize(n, T::default());
    band.read_into_slice::<T>(
        at,
        (win.width, win.height),
        (win.width, win.height),
        buf,
        None,
    )
    .map_err(|e| format!("reading class band at ({}, {}): {e}", at.0, at.1))?;
    table.classify_into(&buf[..n], states);
    if let Some(k) = states.iter().position(|&s| s == UNKNOWN_CLASS) {
        return Err(unknown_class(buf[k].into(), win, k));
    }
    if let Some(classes) = classes {
        classes.clear();
        classes.extend(buf[..n].iter().zip(states.iter()).map(|(&c, &s)| {
            if s == UNOBSERVED {
                NO_CLASS
            } else {
                c.into() as i32
            }
        }));
    }
    Ok(())
}

/// An observed class code that the legend does not name, at pixel `k` of `win`.
fn unknown_class(code: i64, win: Window, k: usize) -> String {
    format!(
        "class code {code} (working-grid pixel {}, {}) has no [legend] \
         entry; add it to the region file",
        win.col + k % win.width,
        win.row + k / win.width
    )
}

/// The lookup table of a class band of 8 or 16 bits (`None` for other types,
/// which are read as `f64` and classified code by code).
fn class_table(
    ds: &Dataset,
    band: usize,
    nodata: Option<f64>,
    rules: &Rules,
) -> Option<(CodeType, ClassTable)> {
    let ty = match ds.rasterband(band).ok()?.band_type() {
        GdalDataType::UInt8 => CodeType::U8,
        GdalDataType::UInt16 => CodeType::U16,
        GdalDataType::Int16 => CodeType::I16,
        _ => return None,
    };
    let (lo, n) = match ty {
        CodeType::U8 => (0, 256),
        CodeType::U16 => (0, 65536),
        CodeType::I16 => (-32768, 65536),
    };
    let rule = ClassRule {
        forest_classes: rules.forest_classes.clone(),
        nodata,
    };
    Some((ty, rule.table(lo, n, &rules.legend)))
}

fn used_bands(bands: &BandSet) -> Vec<usize> {
    match bands {
        BandSet::Spectral { red, nir, mask, .. } => {
            let mut v = vec![red.0, nir.0];
            if let Some(m) = mask {
                v.push(*m);
            }
            v
        }
        BandSet::Classes { class } => vec![class.0],
    }
}

/// Opens tile `t` for reading; `swir`: a band read too, last (a composite
/// epoch's NBR, [`MosaicReader::with_nbr`]).
fn open_tile(
    mosaic: &Mosaic,
    t: &PlacedTile,
    rules: &Rules,
    swir: Option<usize>,
) -> Result<OpenTile, PipelineError> {
    let mut open = open_tile_ds(mosaic, t, swir)?;
    let bw = open
        .ds
        .rasterband(open.bands[0])
        .map(|b| b.block_size().0)
        .unwrap_or(256)
        .max(1);
    open.chunk = bw * 512usize.div_ceil(bw);
    open.block_rows = open
        .ds
        .rasterband(open.bands[0])
        .map(|b| b.block_size().1)
        .unwrap_or(256)
        .max(1);
    open.row_origin = match t.placement {
        Placement::Direct { row_shift, .. } => row_shift,
        Placement::Warped => t.window.row as i64,
    };
    if let BandSet::Spectral { .. } = &t.info.bands {
        // Red, NIR, the mask, the warp alpha, then the SWIR2 band (`RawBands`).
        let (main, extra) = open
            .bands
            .split_at(open.bands.len() - swir.is_some() as usize);
        open.raw_bands = main
            .iter()
            .chain(&open.alpha)
            .chain(extra)
            .map(|&b| b as i32)
            .collect();
        open.raw_u16 = open.raw_bands.iter().all(|&b| {
            open.ds.rasterband(b as usize).is_ok_and(|band| {
                matches!(band.band_type(), GdalDataType::UInt8 | GdalDataType::UInt16)
            })
        });
    }
    if let BandSet::Classes { class } = &t.info.bands {
        open.table = class_table(&open.ds, open.bands[0], class.1, rules);
    }
    Ok(open)
}

fn open_tile_ds(
    mosaic: &Mosaic,
    t: &PlacedTile,
    swir: Option<usize>,
) -> Result<OpenTile, PipelineError> {
    let mut bands = used_bands(&t.info.bands);
    bands.extend(swir);
    match t.placement {
        Placement::Direct { .. } => Ok(OpenTile {
            ds: tile::open(&t.info.path)?,
            _subset: None,
            src: None,
            bands,
            src_bands: Vec::new(),
            warp_args: Vec::new(),
            map_key: None,
            alpha: None,
            table: None,
            chunk: 0,
            raw_bands: Vec::new(),
            raw_u16: false,
            row_origin: 0,
            block_rows: 1,
        }),
        Placement::Warped => {
            let src = tile::open(&t.info.path)?;
            // Keep only the bands we use (gdalwarp of GDAL 3.6 has no -b).
            let mut targs: Vec<String> = vec!["-of".into(), "VRT".into()];
            for b in &bands {
                targs.extend(["-b".into(), b.to_string()]);
            }
            let subset = gdal_utility(&t.info.path, Utility::Translate, &src, &targs)?;
            let g = mosaic.grid;
            let w = t.window;
            let (xmin, ymax) = (g.x0 + w.col as f64 * g.dx, g.y0 - w.row as f64 * g.dy);
            let (xmax, ymin) = (xmin + w.width as f64 * g.dx, ymax - w.height as f64 * g.dy);
            let mut wargs: Vec<String> = vec![
                "-of".into(),
                "VRT".into(),
                "-t_srs".into(),
                mosaic.crs.wkt.clone(),
                "-te".into(),
                format!("{xmin:.10}"),
                format!("{ymin:.10}"),
                format!("{xmax:.10}"),
                format!("{ymax:.10}"),
                "-ts".into(),
                w.width.to_string(),
                w.height.to_string(),
                "-r".into(),
                "near".into(),
                "-dstalpha".into(),
            ];
            // Spectral bands: no no-data masking in the warper (GDAL's no-data
            // masker was ~5 % of a composite's CPU). Nearest neighbour copies the
            // raw values, and the reader's rule already makes a red/NIR no-data
            // value unobserved; the alpha band still marks the tile's footprint.
            if let BandSet::Spectral { .. } = t.info.bands {
                wargs.extend(["-srcnodata".into(), "None".into()]);
            }
            let warped = warp_vrt(&t.info.path, &subset, &wargs)?;
            let k = bands.len();
            let map_key = (matches!(t.info.bands, BandSet::Spectral { .. })
                && crate::raster::warp_map::enabled()
                && crate::raster::warp_map::eligible(&subset))
            .then(|| crate::raster::warp_map::grid_key(t));
            Ok(OpenTile {
                ds: warped,
                _subset: Some(subset),
                src: Some(src),
                bands: (1..=k).collect(),
                src_bands: bands,
                warp_args: wargs,
                map_key,
                alpha: Some(k + 1),
                table: None,
                chunk: 0,
                raw_bands: Vec::new(),
                raw_u16: false,
                row_origin: 0,
                block_rows: 1,
            })
        }
    }
}

enum Utility {
    Translate,
    Warp,
}

/// `gdalwarp -of VRT` of `src` in memory with `args` (a tile's warp, see
/// `open_tile_ds`; `warp_map` warps its index rasters with the same arguments).
pub(crate) fn warp_vrt(
    path: &Path,
    src: &Dataset,
    args: &[String],
) -> Result<Dataset, PipelineError> {
    gdal_utility(path, Utility::Warp, src, args)
}

/// Runs gdal_translate or gdalwarp in memory (to a VRT) through GDAL's C API.
fn gdal_utility(
    path: &Path,
    which: Utility,
    src: &Dataset,
    args: &[String],
) -> Result<Dataset, PipelineError> {
    let cargs: Vec<CString> = args
        .iter()
        .map(|a| CString::new(a.as_str()).expect("no NUL in args"))
        .collect();
    let mut ptrs: Vec<*mut std::os::raw::c_char> =
        cargs.iter().map(|c| c.as_ptr() as *mut _).collect();
    ptrs.push(std::ptr::null_mut());
    let empty = CString::new("").expect("empty");
    let mut usage_error: std::os::raw::c_int = 0;
    // SAFETY: the argument vector is NUL-terminated and outlives the calls; the
    // options are freed right after use; the returned handle is owned by Dataset.
    let handle = unsafe {
        match which {
            Utility::Translate => {
                let opts =
                    gdal_sys::GDALTranslateOptionsNew(ptrs.as_mut_ptr(), std::ptr::null_mut());
                let h = gdal_sys::GDALTranslate(
                    empty.as_ptr(),
                    src.c_dataset(),
                    opts,
                    &mut usage_error,
                );
                gdal_sys::GDALTranslateOptionsFree(opts);
                h
            }
            Utility::Warp => {
                let opts = gdal_sys::GDALWarpAppOptionsNew(ptrs.as_mut_ptr(), std::ptr::null_mut());
                let mut srcs = [src.c_dataset()];
                let h = gdal_sys::GDALWarp(
                    empty.as_ptr(),
                    std::ptr::null_mut(),
                    1,
                    srcs.as_mut_ptr(),
                    opts,
                    &mut usage_error,
                );
                gdal_sys::GDALWarpAppOptionsFree(opts);
                h
            }
        }
    };
    if handle.is_null() {
        let msg = gdal::errors::GdalError::NullPointer {
            method_name: "GDALWarp/GDALTranslate",
            msg: String::new(),
        };
        return Err(PipelineError::raster(
            path,
            format!("cannot bring the tile onto the working grid: {msg}"),
        ));
    }
    // SAFETY: non-null handle just created by GDAL and owned by nobody else.
    Ok(unsafe { Dataset::from_c_dataset(handle) })
}

/// State kept per rayon worker thread for the length of one parallel pass:
/// GDAL readers (opened once per thread, not once per rayon split: `map_init`
/// re-runs its init for every split, ~18 times per epoch, reopening every tile
/// and rebuilding warped VRTs, and it drops GDAL's cached blocks with them) and
/// scratch buffers. A `thread_local::ThreadLocal`: each thread gets its own
/// slot, dropped with the `PerThread` at the end of the pass.
pub struct PerThread<T: Send> {
    slots: thread_local::ThreadLocal<std::cell::RefCell<T>>,
}

impl<T: Send> Default for PerThread<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send> PerThread<T> {
    pub fn new() -> Self {
        PerThread {
            slots: thread_local::ThreadLocal::new(),
        }
    }

    /// Runs `f` on this thread's state, made with `init` on first use. `f` must
    /// not call `with` of the same `PerThread` again (nor wait on rayon work that
    /// could): the state is borrowed for the call.
    pub fn with<R>(&self, init: impl FnOnce() -> T, f: impl FnOnce(&mut T) -> R) -> R {
        let slot = self.slots.get_or(|| std::cell::RefCell::new(init()));
        f(&mut slot.borrow_mut())
    }
}

#[cfg(test)]
mod per_thread_tests {
    use super::PerThread;
    use rayon::prelude::*;

    #[test]
    fn one_init_per_thread() {
        let inits = std::sync::atomic::AtomicUsize::new(0);
        let pool = PerThread::<Vec<usize>>::new();
        let n: usize = (0..1000usize)
            .into_par_iter()
            .map(|k| {
                pool.with(
                    || {
                        inits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        Vec::new()
                    },
                    |v| {
                        v.push(k);
                        1
                    },
                )
            })
            .sum();
        assert_eq!(n, 1000);
        assert!(inits.into_inner() <= rayon::current_num_threads());
    }
}
