//! The true area of each pixel in the area CRS.
//!
//! When the working grid is in the area CRS every pixel has the same area and the
//! sums stay exact. Otherwise (tiles in EPSG:4326, say) a pixel's area in the
//! area CRS varies smoothly over the grid: it is sampled on a coarse lattice of
//! grid points (by the I/O edge, with PROJ) and interpolated bilinearly. Over a
//! lattice step of a few kilometres the scale factor of any sane projection
//! changes by far less than 1e-6, so the interpolation error is negligible.

/// Area of pixel `(col, row)` of a working grid, in the area CRS's units².
#[derive(Clone, Debug, PartialEq)]
pub enum PixelArea {
    /// Every pixel has this area.
    Constant(f64),
    /// Areas sampled at pixel centres `(i·step + ½, j·step + ½)` for
    /// `i < cols`, `j < rows`, row-major; interpolated between them.
    Lattice {
        step: usize,
        cols: usize,
        rows: usize,
        values: Vec<f64>,
    },
}

impl PixelArea {
    /// The area of one pixel.
    #[inline]
    pub fn at(&self, col: usize, row: usize) -> f64 {
        match self {
            PixelArea::Constant(a) => *a,
            PixelArea::Lattice {
                step,
                cols,
                rows,
                values,
            } => {
                let fx = (col as f64 / *step as f64).min((*cols - 1) as f64);
                let fy = (row as f64 / *step as f64).min((*rows - 1) as f64);
                let (i, j) = (fx.floor() as usize, fy.floor() as usize);
                let (i1, j1) = ((i + 1).min(cols - 1), (j + 1).min(rows - 1));
                let (tx, ty) = (fx - i as f64, fy - j as f64);
                let v = |i: usize, j: usize| values[j * cols + i];
                let top = v(i, j) * (1.0 - tx) + v(i1, j) * tx;
                let bottom = v(i, j1) * (1.0 - tx) + v(i1, j1) * tx;
                top * (1.0 - ty) + bottom * ty
            }
        }
    }

    /// The area of every pixel, when it is the same for all.
    #[inline]
    pub fn constant(&self) -> Option<f64> {
        match self {
            PixelArea::Constant(a) => Some(*a),
            PixelArea::Lattice { .. } => None,
        }
    }

    /// Lattice sample positions (col, row) for a grid of `width × height` pixels.
    pub fn lattice_points(width: usize, height: usize, step: usize) -> (usize, usize) {
        (width.div_ceil(step) + 1, height.div_ceil(step) + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lattice_reproduces_a_linear_field_exactly() {
        // area = 100 + col + 2·row sampled every 4 pixels.
        let (cols, rows, step) = (4, 3, 4);
        let values = (0..rows)
            .flat_map(|j| {
                (0..cols).map(move |i| 100.0 + (i * step) as f64 + 2.0 * (j * step) as f64)
            })
            .collect();
        let a = PixelArea::Lattice {
            step,
            cols,
            rows,
            values,
        };
        for (c, r) in [(0, 0), (3, 5), (7, 2), (11, 7)] {
            assert!((a.at(c, r) - (100.0 + c as f64 + 2.0 * r as f64)).abs() < 1e-9);
        }
        assert_eq!(PixelArea::Constant(9.0).at(5, 5), 9.0);
    }
}
