//! The working grid (EPSG:32648) and the tile layout on it: a 2×2 set of
//! overlapping UTM tiles over the west ~85 % and one EPSG:4326 tile over the east
//! ~25 %.

use std::cell::RefCell;

use canopy_core::grid::Grid;
use proj::Proj;

use super::SynthError;

/// Margin added around the communes' bounding box, metres.
pub(crate) const MARGIN_M: f64 = 1000.0;
/// Share of the working grid's width covered by the UTM tiles (from the west).
pub(crate) const UTM_SHARE: f64 = 0.85;
/// Share of the working grid's width covered by the WGS84 tile (from the east).
pub(crate) const WGS_SHARE: f64 = 0.25;
/// Minimum overlap between neighbouring UTM tiles, pixels.
pub(crate) const MIN_OVERLAP_PX: usize = 16;
/// Smallest working grid accepted, pixels per side.
pub(crate) const MIN_GRID_PX: usize = 64;
/// Largest working grid accepted, pixels per side.
pub(crate) const MAX_GRID_PX: usize = 400_000;

/// The working grid: the communes' bounding box plus `MARGIN_M`, snapped outward to
/// multiples of `pixel`.
pub(crate) fn working_grid(
    (xmin, ymin, xmax, ymax): (f64, f64, f64, f64),
    pixel: f64,
) -> Result<Grid, SynthError> {
    let x0 = ((xmin - MARGIN_M) / pixel).floor() * pixel;
    let x1 = ((xmax + MARGIN_M) / pixel).ceil() * pixel;
    let y0 = ((ymax + MARGIN_M) / pixel).ceil() * pixel;
    let y1 = ((ymin - MARGIN_M) / pixel).floor() * pixel;
    let width = ((x1 - x0) / pixel).round();
    let height = ((y0 - y1) / pixel).round();
    let (w, h) = (width as usize, height as usize);
    if !(width.is_finite() && height.is_finite()) || w > MAX_GRID_PX || h > MAX_GRID_PX {
        return Err(SynthError::GridSize {
            width,
            height,
            pixel_size: pixel,
        });
    }
    if w < MIN_GRID_PX || h < MIN_GRID_PX {
        return Err(SynthError::GridSize {
            width,
            height,
            pixel_size: pixel,
        });
    }
    Ok(Grid {
        x0,
        y0,
        dx: pixel,
        dy: pixel,
        width: w,
        height: h,
    })
}

/// A corner of a tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Corner {
    Nw,
    Ne,
    Sw,
    Se,
}

/// A right triangle of nodata in one tile corner, legs of `legs` pixels.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Triangle {
    pub corner: Corner,
    pub legs: usize,
}

impl Triangle {
    /// True when tile-local pixel `(i, j)` of a `w × h` tile is nodata.
    #[inline]
    pub fn contains(&self, i: usize, j: usize, w: usize, h: usize) -> bool {
        let (di, dj) = match self.corner {
            Corner::Nw => (i, j),
            Corner::Ne => (w - 1 - i, j),
            Corner::Sw => (i, h - 1 - j),
            Corner::Se => (w - 1 - i, h - 1 - j),
        };
        di + dj < self.legs
    }
}

/// A pixel rectangle `[c0, c1) × [r0, r1)` on the working grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PxRect {
    pub c0: usize,
    pub r0: usize,
    pub c1: usize,
    pub r1: usize,
}

impl PxRect {
    pub fn intersects(&self, o: &PxRect) -> bool {
        self.c0 < o.c1 && o.c0 < self.c1 && self.r0 < o.r1 && o.r0 < self.r1
    }
    pub fn contains_rect(&self, o: &PxRect) -> bool {
        self.c0 <= o.c0 && o.c1 <= self.c1 && self.r0 <= o.r0 && o.r1 <= self.r1
    }
    #[inline]
    pub fn contains(&self, c: usize, r: usize) -> bool {
        c >= self.c0 && c < self.c1 && r >= self.r0 && r < self.r1
    }
    /// Grown by `m` pixels on every side (clamped at 0 on the low side).
    pub fn grow(&self, m: usize) -> PxRect {
        PxRect {
            c0: self.c0.saturating_sub(m),
            r0: self.r0.saturating_sub(m),
            c1: self.c1 + m,
            r1: self.r1 + m,
        }
    }
    pub fn pixels(&self) -> usize {
        (self.c1 - self.c0) * (self.r1 - self.r0)
    }
}

/// One UTM tile: a window of the working grid.
#[derive(Clone, Debug)]
pub(crate) struct UtmTile {
    pub name: String,
    pub window: PxRect,
    pub triangle: Option<Triangle>,
}

impl UtmTile {
    pub fn width(&self) -> usize {
        self.window.c1 - self.window.c0
    }
    pub fn height(&self) -> usize {
        self.window.r1 - self.window.r0
    }
    pub fn grid(&self, g: &Grid) -> Grid {
        g.window(self.window.c0, self.window.r0, self.width(), self.height())
    }
    /// The square of pixels that holds the nodata triangle, on the working grid.
    pub fn triangle_box(&self) -> Option<PxRect> {
        let t = self.triangle?;
        let w = &self.window;
        let l = t.legs;
        Some(match t.corner {
            Corner::Nw => PxRect {
                c0: w.c0,
                r0: w.r0,
                c1: w.c0 + l,
                r1: w.r0 + l,
            },
            Corner::Ne => PxRect {
                c0: w.c1 - l,
                r0: w.r0,
                c1: w.c1,
                r1: w.r0 + l,
            },
            Corner::Sw => PxRect {
                c0: w.c0,
                r0: w.r1 - l,
                c1: w.c0 + l,
                r1: w.r1,
            },
            Corner::Se => PxRect {
                c0: w.c1 - l,
                r0: w.r1 - l,
                c1: w.c1,
                r1: w.r1,
            },
        })
    }
}

/// The EPSG:4326 tile: a lon/lat grid (`x0` = west longitude, `y0` = north latitude).
#[derive(Clone, Debug)]
pub(crate) struct WgsTile {
    pub name: String,
    pub grid: Grid,
    /// First working-grid column of the east strip it was made to cover.
    pub col_from: usize,
    /// Smallest easting of its footprint in EPSG:32648.
    pub min_x_utm: f64,
}

/// The whole layout.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    pub grid: Grid,
    /// The UTM tiles cover working columns `[0, utm_cols)`.
    pub utm_cols: usize,
    /// `r{i}_c{j}` order: r0_c0, r0_c1, r1_c0, r1_c1.
    pub utm: Vec<UtmTile>,
    pub wgs: WgsTile,
    /// The columns shared by the west and east UTM tiles, `[a, b)`.
    pub col_seam: (usize, usize),
}

/// Splits `[0, n)` into two ranges overlapping by ~5 % of a half (≥ 16 px).
fn split(n: usize) -> ((usize, usize), (usize, usize)) {
    let half = n / 2;
    let ov = ((half as f64 * 0.05).round() as usize).max(MIN_OVERLAP_PX);
    let a = half - ov / 2;
    let b = a + ov;
    ((0, b), (a, n))
}

impl Layout {
    /// The layout on `grid` (EPSG:32648).
    pub fn new(grid: Grid) -> Result<Layout, SynthError> {
        let utm_cols = (grid.width as f64 * UTM_SHARE).round() as usize;
        let (cw, ce) = split(utm_cols);
        let (rn, rs) = split(grid.height);
        let mut utm = Vec::new();
        for (i, &(r0, r1)) in [rn, rs].iter().enumerate() {
            for (j, &(c0, c1)) in [cw, ce].iter().enumerate() {
                utm.push(UtmTile {
                    name: format!("utm_r{i}_c{j}"),
                    window: PxRect { c0, r0, c1, r1 },
                    triangle: None,
                });
            }
        }
        let col_from = (grid.width as f64 * (1.0 - WGS_SHARE)).round() as usize;
        let wgs = wgs_tile(&grid, col_from)?;
        Ok(Layout {
            grid,
            utm_cols,
            utm,
            wgs,
            col_seam: (ce.0, cw.1),
        })
    }

    /// The area the UTM tiles cover.
    pub fn utm_area(&self) -> PxRect {
        PxRect {
            c0: 0,
            r0: 0,
            c1: self.utm_cols,
            r1: self.grid.height,
        }
    }

    /// Centre of working pixel `(c, r)` in EPSG:32648.
    #[inline]
    pub fn centre(&self, c: usize, r: usize) -> (f64, f64) {
        let g = &self.grid;
        (
            g.x0 + (c as f64 + 0.5) * g.dx,
            g.y0 - (r as f64 + 0.5) * g.dy,
        )
    }

    /// Bounds of a pixel rectangle in EPSG:32648, `[xmin, ymin, xmax, ymax]`.
    pub fn rect_bounds(&self, r: &PxRect) -> [f64; 4] {
        let g = &self.grid;
        [
            g.x0 + r.c0 as f64 * g.dx,
            g.y0 - r.r1 as f64 * g.dy,
            g.x0 + r.c1 as f64 * g.dx,
            g.y0 - r.r0 as f64 * g.dy,
        ]
    }

    /// Working pixel containing EPSG:32648 point `(x, y)`, if inside the grid.
    #[inline]
    pub fn pixel_of(&self, x: f64, y: f64) -> Option<(usize, usize)> {
        let g = &self.grid;
        let c = ((x - g.x0) / g.dx).floor();
        let r = ((g.y0 - y) / g.dy).floor();
        if c >= 0.0 && r >= 0.0 && c < g.width as f64 && r < g.height as f64 {
            Some((c as usize, r as usize))
        } else {
            None
        }
    }

    /// True when the WGS84 tile may cover part of `rect`.
    pub fn wgs_may_cover(&self, rect: &PxRect) -> bool {
        let b = self.rect_bounds(rect);
        b[2] + 2.0 * self.grid.dx >= self.wgs.min_x_utm
    }
}

fn proj_err(what: &str, e: impl std::fmt::Display) -> SynthError {
    SynthError::Proj {
        what: what.to_string(),
        msg: e.to_string(),
    }
}

/// Points along the boundary of a rectangle, `n` per edge.
fn densified(xmin: f64, ymin: f64, xmax: f64, ymax: f64, n: usize) -> Vec<(f64, f64)> {
    let mut v = Vec::with_capacity(4 * n);
    for k in 0..n {
        let t = k as f64 / n as f64;
        v.push((xmin + t * (xmax - xmin), ymin));
        v.push((xmax, ymin + t * (ymax - ymin)));
        v.push((xmax - t * (xmax - xmin), ymax));
        v.push((xmin, ymax - t * (ymax - ymin)));
    }
    v
}

fn wgs_tile(grid: &Grid, col_from: usize) -> Result<WgsTile, SynthError> {
    let to_ll = Proj::new_known_crs("EPSG:32648", "EPSG:4326", None)
        .map_err(|e| proj_err("EPSG:32648 → EPSG:4326", e))?;
    let (_, ymin, xmax, ymax) = grid.bounds();
    let xmin = grid.x0 + col_from as f64 * grid.dx;
    let mut pts = densified(xmin, ymin, xmax, ymax, 256);
    to_ll
        .convert_array(&mut pts)
        .map_err(|e| proj_err("WGS84 tile bounds", e))?;
    let (mut lon0, mut lat0, mut lon1, mut lat1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for &(lon, lat) in &pts {
        lon0 = lon0.min(lon);
        lon1 = lon1.max(lon);
        lat0 = lat0.min(lat);
        lat1 = lat1.max(lat);
    }
    // Half the working pixel size: a WGS84 pixel then never straddles two working
    // pixels' centres, so nearest-neighbour warping back onto the working grid
    // reproduces the truth exactly. At the same size, a pixel seen through this
    // tile in one epoch and natively in the other can differ at forest edges,
    // which shows up as spurious 1–4 pixel "changes" (resampling noise).
    let p = grid.dx / 2.0;
    let lat_c = 0.5 * (lat0 + lat1);
    let dy = p / 110_574.0;
    let dx = p / (111_320.0 * lat_c.to_radians().cos());
    let width = ((lon1 - lon0) / dx).ceil() as usize;
    let height = ((lat1 - lat0) / dy).ceil() as usize;
    let g = Grid {
        x0: lon0,
        y0: lat1,
        dx,
        dy,
        width,
        height,
    };
    let (gx0, gy0, gx1, gy1) = g.bounds();
    let mut foot = densified(gx0, gy0, gx1, gy1, 256);
    lonlat_to_utm(&mut foot).map_err(|e| proj_err("WGS84 tile footprint", e))?;
    let min_x_utm = foot.iter().map(|p| p.0).fold(f64::MAX, f64::min);
    Ok(WgsTile {
        name: "wgs84".into(),
        grid: g,
        col_from,
        min_x_utm,
    })
}

thread_local! {
    static TO_UTM: RefCell<Option<Proj>> = const { RefCell::new(None) };
}

/// Transforms (lon, lat) points to EPSG:32648 in place (one PROJ object per thread).
pub(crate) fn lonlat_to_utm(points: &mut [(f64, f64)]) -> Result<(), String> {
    TO_UTM.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            let p =
                Proj::new_known_crs("EPSG:4326", "EPSG:32648", None).map_err(|e| e.to_string())?;
            *slot = Some(p);
        }
        let proj = slot.as_ref().expect("just set");
        proj.convert_array(points)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synth_split_overlaps() {
        for n in [100usize, 221, 3700, 11050] {
            let ((a0, a1), (b0, b1)) = split(n);
            assert_eq!(a0, 0);
            assert_eq!(b1, n);
            assert!(a1 - b0 >= MIN_OVERLAP_PX);
            assert!(a1 < n && b0 > 0);
        }
    }

    #[test]
    fn synth_triangle_corners() {
        let t = Triangle {
            corner: Corner::Se,
            legs: 3,
        };
        assert!(t.contains(9, 9, 10, 10));
        assert!(t.contains(7, 9, 10, 10));
        assert!(!t.contains(6, 9, 10, 10));
        assert!(!t.contains(0, 0, 10, 10));
    }
}
