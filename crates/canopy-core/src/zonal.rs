//! Zonal sums: forest and observed area of a polygon, from its exact coverage and
//! one strip of observation states.
//!
//! The raster is streamed in strips of whole rows; each polygon's coverage is
//! computed once for the working grid and each strip only visits the polygon's
//! spans on its rows. Interior spans (coverage 1) are counted as integers and
//! boundary pixels are weighted by their exact fraction, so the cost is the number
//! of pixels inside the polygon with no per-pixel geometry.

use crate::coverage::Coverage;
use crate::forest::{FOREST, UNOBSERVED};
use crate::pixel_area::PixelArea;

/// Area sums of one polygon: forest and observed (forest or not), in area units.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CoverSums {
    pub forest: f64,
    pub observed: f64,
}

impl std::ops::AddAssign for CoverSums {
    fn add_assign(&mut self, o: CoverSums) {
        self.forest += o.forest;
        self.observed += o.observed;
    }
}

/// A strip of observation states: rows `row0 .. row0 + rows` of a grid `width` wide.
#[derive(Clone, Copy, Debug)]
pub struct Strip<'a> {
    pub row0: usize,
    pub width: usize,
    pub states: &'a [u8],
}

impl Strip<'_> {
    pub fn rows(&self) -> std::ops::Range<usize> {
        self.row0..self.row0 + self.states.len() / self.width.max(1)
    }
}

/// Adds the coverage-weighted forest and observed area of `cov` over `strip`.
pub fn accumulate(cov: &Coverage, strip: Strip<'_>, area: &PixelArea) -> CoverSums {
    let rows = cov.rows();
    let lo = rows.start.max(strip.row0);
    let hi = rows.end.min(strip.rows().end);
    let mut sums = CoverSums::default();
    match area {
        PixelArea::Constant(a) => {
            // Sum fractions in pixel units first: fewer multiplications, and the
            // interior counts are exact integers.
            let (mut forest, mut observed) = (0.0f64, 0.0f64);
            for r in lo..hi {
                let line = &strip.states[(r - strip.row0) * strip.width..][..strip.width];
                for s in cov.row(r) {
                    let px = &line[s.start as usize..(s.end as usize).min(strip.width)];
                    let (f, o) = count(px);
                    forest += s.frac * f as f64;
                    observed += s.frac * o as f64;
                }
            }
            sums.forest = forest * a;
            sums.observed = observed * a;
        }
        lattice => {
            for r in lo..hi {
                let line = &strip.states[(r - strip.row0) * strip.width..][..strip.width];
                for s in cov.row(r) {
                    let (c0, c1) = (s.start as usize, (s.end as usize).min(strip.width));
                    for (c, &st) in (c0..c1).zip(&line[c0..c1]) {
                        if st != UNOBSERVED {
                            let w = s.frac * lattice.at(c, r);
                            sums.observed += w;
                            if st == FOREST {
                                sums.forest += w;
                            }
                        }
                    }
                }
            }
        }
    }
    sums
}

/// (forest, observed) pixel counts of a run of states; written so the compiler
/// can vectorise it.
#[inline]
fn count(px: &[u8]) -> (u32, u32) {
    let mut f = 0u32;
    let mut o = 0u32;
    for &s in px {
        f += (s == FOREST) as u32;
        o += (s != UNOBSERVED) as u32;
    }
    (f, o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coverage::coverage;
    use crate::forest::NON_FOREST;
    use crate::grid::Grid;
    use geo::{polygon, MultiPolygon};

    #[test]
    fn half_pixel_offset_square_on_a_checkerboard() {
        // 4×4 grid of 10 m pixels, a 20 m square shifted by half a pixel: it covers
        // one whole pixel, four half pixels and four quarter pixels (4 px of area).
        let g = Grid {
            x0: 0.0,
            y0: 40.0,
            dx: 10.0,
            dy: 10.0,
            width: 4,
            height: 4,
        };
        let sq: MultiPolygon<f64> = polygon![
            (x: 5.0, y: 35.0), (x: 25.0, y: 35.0), (x: 25.0, y: 15.0), (x: 5.0, y: 15.0)
        ]
        .into();
        let cov = coverage(&sq, &g);
        // Row 0 forest, row 1 non-forest, rows 2–3 unobserved.
        let mut states = vec![FOREST; 4];
        states.extend([NON_FOREST; 4]);
        states.extend([UNOBSERVED; 8]);
        // Split into two strips to check that strips add up.
        let a = accumulate(
            &cov,
            Strip {
                row0: 0,
                width: 4,
                states: &states[..8],
            },
            &PixelArea::Constant(100.0),
        );
        let b = accumulate(
            &cov,
            Strip {
                row0: 2,
                width: 4,
                states: &states[8..],
            },
            &PixelArea::Constant(100.0),
        );
        // Row 0 holds 0.25 + 0.5 + 0.25 = 1 px of the square; row 1 holds 2 px.
        assert!((a.forest - 100.0).abs() < 1e-9, "{a:?}");
        assert!((a.observed - 300.0).abs() < 1e-9, "{a:?}");
        assert_eq!(b, CoverSums::default());
        // The lattice path gives the same with a constant lattice.
        let lat = PixelArea::Lattice {
            step: 2,
            cols: 3,
            rows: 3,
            values: vec![100.0; 9],
        };
        let c = accumulate(
            &cov,
            Strip {
                row0: 0,
                width: 4,
                states: &states[..8],
            },
            &lat,
        );
        assert!((c.forest - a.forest).abs() < 1e-9 && (c.observed - a.observed).abs() < 1e-9);
    }
}
