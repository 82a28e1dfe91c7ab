//! North-up raster grids and windows on them.
//!
//! Every raster Canopy reads is brought onto one *working grid* per epoch, so the
//! rest of the core only needs this one shape: an origin, a pixel size and a
//! size in pixels. Rotated geotransforms are rejected at the I/O edge.

/// A north-up grid. Pixel `(col, row)` covers
/// `[x0 + col·dx, x0 + (col+1)·dx] × [y0 − (row+1)·dy, y0 − row·dy]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grid {
    /// x of the grid's left edge.
    pub x0: f64,
    /// y of the grid's top edge.
    pub y0: f64,
    /// Pixel width (> 0).
    pub dx: f64,
    /// Pixel height (> 0; rows go down, so y decreases with the row index).
    pub dy: f64,
    /// Number of columns.
    pub width: usize,
    /// Number of rows.
    pub height: usize,
}

impl Grid {
    /// Builds a grid from a GDAL geotransform `[x0, dx, 0, y0, 0, -dy]`.
    /// Returns `None` for rotated or south-up transforms.
    pub fn from_geotransform(gt: [f64; 6], width: usize, height: usize) -> Option<Grid> {
        if gt[2] != 0.0 || gt[4] != 0.0 || gt[1] <= 0.0 || gt[5] >= 0.0 {
            return None;
        }
        Some(Grid {
            x0: gt[0],
            y0: gt[3],
            dx: gt[1],
            dy: -gt[5],
            width,
            height,
        })
    }

    /// The GDAL geotransform of this grid.
    pub fn geotransform(&self) -> [f64; 6] {
        [self.x0, self.dx, 0.0, self.y0, 0.0, -self.dy]
    }

    /// The sub-grid of `width × height` pixels starting at `(col_off, row_off)`.
    /// It shares this grid's pixel lattice exactly.
    pub fn window(&self, col_off: usize, row_off: usize, width: usize, height: usize) -> Grid {
        Grid {
            x0: self.x0 + col_off as f64 * self.dx,
            y0: self.y0 - row_off as f64 * self.dy,
            dx: self.dx,
            dy: self.dy,
            width,
            height,
        }
    }

    /// Fractional column of x (0 at the left edge, `width` at the right edge).
    pub fn col_of(&self, x: f64) -> f64 {
        (x - self.x0) / self.dx
    }

    /// Fractional row of y (0 at the top edge, `height` at the bottom edge).
    pub fn row_of(&self, y: f64) -> f64 {
        (self.y0 - y) / self.dy
    }

    /// Area of one pixel in the grid's own units.
    pub fn pixel_area(&self) -> f64 {
        self.dx * self.dy
    }

    /// `(xmin, ymin, xmax, ymax)` of the whole grid.
    pub fn bounds(&self) -> (f64, f64, f64, f64) {
        (
            self.x0,
            self.y0 - self.height as f64 * self.dy,
            self.x0 + self.width as f64 * self.dx,
            self.y0,
        )
    }

    /// Total number of pixels.
    pub fn len(&self) -> usize {
        self.width * self.height
    }

    /// True when the grid has no pixel.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_shares_the_lattice() {
        let g = Grid {
            x0: 100.0,
            y0: 50.0,
            dx: 2.0,
            dy: 3.0,
            width: 10,
            height: 10,
        };
        let w = g.window(3, 4, 2, 2);
        assert_eq!(w.x0, 106.0);
        assert_eq!(w.y0, 38.0);
        assert_eq!(g.col_of(w.x0), 3.0);
        assert_eq!(g.row_of(w.y0), 4.0);
    }

    #[test]
    fn geotransform_round_trips_and_rejects_rotation() {
        let g = Grid {
            x0: 1.0,
            y0: 2.0,
            dx: 0.5,
            dy: 0.25,
            width: 4,
            height: 3,
        };
        assert_eq!(Grid::from_geotransform(g.geotransform(), 4, 3), Some(g));
        assert_eq!(
            Grid::from_geotransform([0.0, 1.0, 0.1, 0.0, 0.0, -1.0], 1, 1),
            None
        );
        assert_eq!(
            Grid::from_geotransform([0.0, 1.0, 0.0, 0.0, 0.0, 1.0], 1, 1),
            None
        );
    }
}
