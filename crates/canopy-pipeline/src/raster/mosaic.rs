//! Planning an epoch: one working grid and where every tile lands on it.
//!
//! The rule (documented in the README):
//! - The working grid takes the CRS, pixel size and pixel lattice of the epoch's
//!   first tile (tiles in the order the region file lists them, each glob sorted
//!   by name). Its extent is the union of the tiles' footprints, cut to the
//!   bounding box of the communes and snapped outward to the lattice.
//! - A tile on that lattice (same CRS, same pixel size, origin a whole number of
//!   pixels away) is read directly, pixel for pixel.
//! - Any other tile (another CRS, resolution or origin) is brought onto the
//!   working grid by GDAL's warper, nearest neighbour (so classes and masks keep
//!   their values), with an alpha band marking its true footprint.
//! - Where tiles overlap, the first tile with a clear observation wins: a pixel
//!   cloudy or nodata in one tile is filled from the next tile that sees it.

use canopy_core::composite::{day_number, Method};
use canopy_core::grid::Grid;
use std::path::Path;

use geo::{Coord, Rect};

use crate::config::EpochConfig;
use crate::crs::{Crs, Transformer};
use crate::error::PipelineError;
use crate::raster::tile::{self, TileInfo};

/// A window of the working grid, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub col: usize,
    pub row: usize,
    pub width: usize,
    pub height: usize,
}

/// How a tile is read onto the working grid.
#[derive(Debug, Clone, PartialEq)]
pub enum Placement {
    /// Same lattice: working pixel `(c, r)` is tile pixel `(c − col_shift, r − row_shift)`.
    Direct { col_shift: i64, row_shift: i64 },
    /// Warped onto `window` of the working grid.
    Warped,
}

/// One tile of a planned epoch.
#[derive(Debug, Clone)]
pub struct PlacedTile {
    pub info: TileInfo,
    /// The part of the working grid this tile can fill.
    pub window: Window,
    pub placement: Placement,
    /// The scene's date: from the file's metadata, else the epoch's date.
    pub date: String,
    /// `date` as a day number (`core::composite::day_number`).
    pub day: i32,
}

/// A planned epoch: its working grid and its tiles in priority order.
#[derive(Debug, Clone)]
pub struct Mosaic {
    pub epoch: String,
    pub crs: Crs,
    pub grid: Grid,
    pub tiles: Vec<PlacedTile>,
    /// How the tiles (scenes) are combined, and the fewest clear observations.
    pub composite: Method,
    pub min_clear: u16,
}

impl Mosaic {
    /// The earliest and latest scene date of the epoch (its season window).
    pub fn window(&self) -> Option<(String, String)> {
        let lo = self.tiles.iter().map(|t| &t.date).min()?;
        let hi = self.tiles.iter().map(|t| &t.date).max()?;
        Some((lo.clone(), hi.clone()))
    }
}

fn near_int(v: f64) -> Option<i64> {
    let r = v.round();
    ((v - r).abs() < 1e-6).then_some(r as i64)
}

fn same_size(a: f64, b: f64) -> bool {
    ((a - b) / a).abs() < 1e-9
}

/// A tile's footprint in the working CRS and, when it sits on the working
/// lattice, its whole-pixel shift from the lattice origin.
struct Footprint {
    rect: Rect<f64>,
    shift: Option<(i64, i64)>,
}

fn footprint(t: &TileInfo, crs: &Crs, lattice: &Grid) -> Result<Footprint, PipelineError> {
    let (x0, y0, x1, y1) = t.grid.bounds();
    let rect = Rect::new(Coord { x: x0, y: y0 }, Coord { x: x1, y: y1 });
    let same_crs = t.crs.same_as(crs);
    let shift = if same_crs && same_size(t.grid.dx, lattice.dx) && same_size(t.grid.dy, lattice.dy)
    {
        match (
            near_int((t.grid.x0 - lattice.x0) / lattice.dx),
            near_int((lattice.y0 - t.grid.y0) / lattice.dy),
        ) {
            (Some(c), Some(r)) => Some((c, r)),
            _ => None,
        }
    } else {
        None
    };
    let rect = if same_crs {
        rect
    } else {
        Transformer::new(&t.crs, crs)
            .and_then(|tr| tr.rect_bounds(rect))
            .map_err(|e| PipelineError::raster(&t.path, e))?
    };
    Ok(Footprint { rect, shift })
}

/// The largest working grid a run accepts: 2 × 10⁹ pixels, 200,000 columns (a strip
/// of 256 rows is read into memory). Checked before anything is allocated.
pub const MAX_GRID_PIXELS: u64 = 2_000_000_000;
pub const MAX_GRID_COLUMNS: usize = 200_000;

fn check_grid_size(grid: &Grid, epoch: &str, first_tile: &Path) -> Result<(), PipelineError> {
    let pixels = grid.width as u64 * grid.height as u64;
    if pixels > MAX_GRID_PIXELS || grid.width > MAX_GRID_COLUMNS {
        return Err(PipelineError::raster(
            first_tile,
            format!(
                "epoch \"{epoch}\": the working grid over the communes would be {} × {} pixels \
                 ({pixels} pixels, pixel size {} × {}); the limit is {MAX_GRID_COLUMNS} columns and \
                 {MAX_GRID_PIXELS} pixels. Is the pixel size (geotransform) of this tile right? \
                 Resample it (gdalwarp -tr) if it is",
                grid.width, grid.height, grid.dx, grid.dy
            ),
        ));
    }
    Ok(())
}

fn inspect_all(epoch: &EpochConfig) -> Result<Vec<TileInfo>, PipelineError> {
    epoch
        .tiles
        .iter()
        .map(|p| tile::inspect(p, &epoch.bands))
        .collect()
}

/// Plans an epoch on its own working grid. `aoi` gives the communes' bounding
/// box in a CRS.
pub fn plan(
    epoch: &EpochConfig,
    aoi: &dyn Fn(&Crs) -> Result<Rect<f64>, PipelineError>,
) -> Result<Mosaic, PipelineError> {
    let infos = inspect_all(epoch)?;
    let crs = infos[0].crs.clone();
    let lattice = infos[0].grid;
    let prints: Vec<Footprint> = infos
        .iter()
        .map(|t| footprint(t, &crs, &lattice))
        .collect::<Result<_, _>>()?;

    let area = aoi(&crs)?;
    let (mut ux0, mut uy0, mut ux1, mut uy1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for f in &prints {
        ux0 = ux0.min(f.rect.min().x);
        uy0 = uy0.min(f.rect.min().y);
        ux1 = ux1.max(f.rect.max().x);
        uy1 = uy1.max(f.rect.max().y);
    }
    let (x0, y0) = (ux0.max(area.min().x), uy0.max(area.min().y));
    let (x1, y1) = (ux1.min(area.max().x), uy1.min(area.max().y));
    if x0 >= x1 || y0 >= y1 {
        return Err(PipelineError::Input(format!(
            "epoch \"{}\": none of its {} tile(s) overlaps the communes (tiles cover x {ux0:.1}..{ux1:.1}, \
             y {uy0:.1}..{uy1:.1}; communes x {:.1}..{:.1}, y {:.1}..{:.1}, in {}); first tile: {}",
            epoch.id,
            infos.len(),
            area.min().x,
            area.max().x,
            area.min().y,
            area.max().y,
            crs.label,
            infos[0].path.display()
        )));
    }
    let c0 = ((x0 - lattice.x0) / lattice.dx).floor() as i64;
    let c1 = ((x1 - lattice.x0) / lattice.dx).ceil() as i64;
    let r0 = ((lattice.y0 - y1) / lattice.dy).floor() as i64;
    let r1 = ((lattice.y0 - y0) / lattice.dy).ceil() as i64;
    let grid = Grid {
        x0: lattice.x0 + c0 as f64 * lattice.dx,
        y0: lattice.y0 - r0 as f64 * lattice.dy,
        dx: lattice.dx,
        dy: lattice.dy,
        width: (c1 - c0) as usize,
        height: (r1 - r0) as usize,
    };
    check_grid_size(&grid, &epoch.id, &infos[0].path)?;
    // Shifts are measured from the final grid's origin.
    let prints: Vec<Footprint> = infos
        .iter()
        .map(|t| footprint(t, &crs, &grid))
        .collect::<Result<_, _>>()?;
    let tiles = place(epoch, infos, prints, &grid);
    Ok(Mosaic {
        epoch: epoch.id.clone(),
        crs,
        grid,
        tiles,
        composite: epoch.composite,
        min_clear: epoch.min_clear,
    })
}

/// Plans an epoch on a grid chosen elsewhere (another epoch's, for change
/// detection): tiles on its lattice are read directly, the others warped.
/// Fails when no tile reaches the grid.
pub fn plan_on(epoch: &EpochConfig, crs: &Crs, grid: Grid) -> Result<Mosaic, PipelineError> {
    let infos = inspect_all(epoch)?;
    let prints: Vec<Footprint> = infos
        .iter()
        .map(|t| footprint(t, crs, &grid))
        .collect::<Result<_, _>>()?;
    let n = infos.len();
    let tiles = place(epoch, infos, prints, &grid);
    if tiles.is_empty() {
        return Err(PipelineError::Input(format!(
            "epoch \"{}\": none of its {n} tile(s) overlaps the grid of the epoch it is compared with",
            epoch.id
        )));
    }
    Ok(Mosaic {
        epoch: epoch.id.clone(),
        crs: crs.clone(),
        grid,
        tiles,
        composite: epoch.composite,
        min_clear: epoch.min_clear,
    })
}

fn place(
    epoch: &EpochConfig,
    infos: Vec<TileInfo>,
    prints: Vec<Footprint>,
    grid: &Grid,
) -> Vec<PlacedTile> {
    let mut tiles = Vec::new();
    let n_tiles = infos.len();
    let px = |i: &TileInfo| i.grid.width as f64 * i.grid.height as f64;
    let total_px: f64 = infos.iter().map(px).sum();
    for (info, fp) in infos.into_iter().zip(prints) {
        let r = fp.rect;
        let wc0 = grid.col_of(r.min().x).floor().max(0.0) as i64;
        let wc1 = (grid.col_of(r.max().x).ceil() as i64).min(grid.width as i64);
        let wr0 = grid.row_of(r.max().y).floor().max(0.0) as i64;
        let wr1 = (grid.row_of(r.min().y).ceil() as i64).min(grid.height as i64);
        if wc0 >= wc1 || wr0 >= wr1 {
            let share = if total_px > 0.0 {
                100.0 * px(&info) / total_px
            } else {
                0.0
            };
            tracing::warn!(
                tile = %info.path.display(),
                epoch = %epoch.id,
                "TILE OUTSIDE THE REGION: this tile of epoch \"{}\" overlaps no commune and is \
                 skipped; it is {share:.1} % of the epoch's pixels (1 of {n_tiles} tiles). Check its \
                 CRS ({}) and geotransform: a tile in a wrong CRS lands far away and its area goes \
                 unobserved",
                epoch.id,
                info.crs.label
            );
            continue;
        }
        let window = Window {
            col: wc0 as usize,
            row: wr0 as usize,
            width: (wc1 - wc0) as usize,
            height: (wr1 - wr0) as usize,
        };
        // `footprint` measured the shift from the grid's own origin here.
        let placement = match fp.shift {
            Some((c, r)) => Placement::Direct {
                col_shift: c,
                row_shift: r,
            },
            None => Placement::Warped,
        };
        let date = info.date.clone().unwrap_or_else(|| epoch.date.clone());
        let day = day_number(&date).unwrap_or(0);
        tiles.push(PlacedTile {
            info,
            window,
            placement,
            date,
            day,
        });
    }
    tiles
}
