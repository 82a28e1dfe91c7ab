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
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CoverSums {
    pub forest: f64,
    pub observed: f64,
    /// Σ area × clear observations (composite epochs; [`accumulate_counts`]).
    /// Divided by the polygon's area: the mean number of clear observations per
    /// pixel. Priority epochs count one per observed pixel (`clear = observed`).
    pub clear: f64,
}

impl std::ops::AddAssign for CoverSums {
    fn add_assign(&mut self, o: CoverSums) {
        self.forest += o.forest;
        self.observed += o.observed;
        self.clear += o.clear;
    }
}

/// Σ coverage × pixel area × `counts` of `cov` over a strip (rows `row0 ..`,
/// `width` wide) of per-pixel counts.
pub fn accumulate_counts(
    cov: &Coverage,
    row0: usize,
    width: usize,
    counts: &[u16],
    area: &PixelArea,
) -> f64 {
    let rows = cov.rows();
    let lo = rows.start.max(row0);
    let hi = rows.end.min(row0 + counts.len() / width.max(1));
    let mut sum = 0.0;
    for r in lo..hi {
        let line = &counts[(r - row0) * width..][..width];
        for s in cov.row(r) {
            let (c0, c1) = (s.start as usize, (s.end as usize).min(width));
            for (c, &n) in (c0..c1).zip(&line[c0..c1]) {
                if n > 0 {
                    sum += s.frac * area.at(c, r) * n as f64;
                }
            }
        }
    }
    sum
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
            sums.clear = sums.observed;
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
                            sums.clear += w;
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

/// Coverage-weighted area of each category of a strip of category codes
/// (`codes[i] < out.len()`), added into `out`.
pub fn accumulate_categories(cov: &Coverage, strip: Strip<'_>, area: &PixelArea, out: &mut [f64]) {
    let rows = cov.rows();
    let lo = rows.start.max(strip.row0);
    let hi = rows.end.min(strip.rows().end);
    for r in lo..hi {
        let line = &strip.states[(r - strip.row0) * strip.width..][..strip.width];
        for s in cov.row(r) {
            let (c0, c1) = (s.start as usize, (s.end as usize).min(strip.width));
            match area {
                PixelArea::Constant(a) => {
                    let w = s.frac * a;
                    for &code in &line[c0..c1] {
                        out[code as usize] += w;
                    }
                }
                lattice => {
                    for (c, &code) in (c0..c1).zip(&line[c0..c1]) {
                        out[code as usize] += s.frac * lattice.at(c, r);
                    }
                }
            }
        }
    }
}

/// Area of the part of a set of pixel runs that a polygon covers.
pub fn runs_overlap(cov: &Coverage, runs: &[crate::components::Run], area: &PixelArea) -> f64 {
    let rows = cov.rows();
    let mut total = 0.0;
    for run in runs {
        let r = run.row as usize;
        if r < rows.start || r >= rows.end {
            continue;
        }
        for s in cov.row(r) {
            let c0 = s.start.max(run.c0);
            let c1 = s.end.min(run.c1);
            if c0 < c1 {
                total += match area {
                    PixelArea::Constant(a) => s.frac * (c1 - c0) as f64 * a,
                    lattice => (c0..c1).map(|c| s.frac * lattice.at(c as usize, r)).sum(),
                };
            }
        }
    }
    total
}

/// Area of a set of pixel runs.
pub fn runs_area(runs: &[crate::components::Run], area: &PixelArea) -> f64 {
    runs.iter()
        .map(|run| match area {
            PixelArea::Constant(a) => (run.c1 - run.c0) as f64 * a,
            lattice => (run.c0..run.c1)
                .map(|c| lattice.at(c as usize, run.row as usize))
                .sum(),
        })
        .sum()
}

#[cfg(test)]
mod category_tests {
    use super::*;
    use crate::components::Run;
    use crate::coverage::coverage;
    use crate::grid::Grid;
    use geo::{polygon, MultiPolygon};

    #[test]
    fn categories_and_run_overlaps_by_hand() {
        // 4×2 grid of 10 m pixels; polygon covers columns 1..3 fully and half of column 3.
        let g = Grid {
            x0: 0.0,
            y0: 20.0,
            dx: 10.0,
            dy: 10.0,
            width: 4,
            height: 2,
        };
        let p: MultiPolygon<f64> =
            polygon![(x: 10.0, y: 0.0), (x: 35.0, y: 0.0), (x: 35.0, y: 20.0), (x: 10.0, y: 20.0)]
                .into();
        let cov = coverage(&p, &g);
        let codes = [0u8, 1, 2, 3, 0, 4, 4, 1];
        let mut out = [0.0; 5];
        accumulate_categories(
            &cov,
            Strip {
                row0: 0,
                width: 4,
                states: &codes,
            },
            &PixelArea::Constant(100.0),
            &mut out,
        );
        // Row 0: codes 1 and 2 fully, code 3 half; row 1: code 4 twice, code 1 half.
        assert_eq!(out, [0.0, 150.0, 100.0, 50.0, 200.0]);
        let runs = [
            Run {
                row: 0,
                c0: 0,
                c1: 4,
            },
            Run {
                row: 1,
                c0: 3,
                c1: 4,
            },
        ];
        assert_eq!(
            runs_overlap(&cov, &runs, &PixelArea::Constant(100.0)),
            250.0 + 50.0
        );
        assert_eq!(runs_area(&runs, &PixelArea::Constant(100.0)), 500.0);
    }
}

/// Everything a change pass needs of one polygon over a pair of strips (the
/// same rows of two epochs), gathered in one sweep over its spans.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PairSums {
    /// Cover of the earlier epoch.
    pub a: CoverSums,
    /// Cover of the later epoch.
    pub b: CoverSums,
    /// Area per change code ([`crate::change`]'s `CH_*`).
    pub change: [f64; crate::change::CH_CODES],
}

/// Pixel counts of a run of state pairs: forest/observed of each epoch and the
/// five change codes. Branch-free so the compiler can vectorise it.
#[inline]
fn pair_counts(a: &[u8], b: &[u8]) -> [u32; 9] {
    use crate::forest::NON_FOREST;
    // Scalar accumulators (not an array) so the loop vectorises.
    let (mut fa, mut oa, mut fb, mut ob) = (0u32, 0u32, 0u32, 0u32);
    let (mut sf, mut snf, mut loss, mut gain) = (0u32, 0u32, 0u32, 0u32);
    for (&x, &y) in a.iter().zip(b) {
        let (xf, yf) = (x == FOREST, y == FOREST);
        let (xn, yn) = (x == NON_FOREST, y == NON_FOREST);
        fa += xf as u32;
        oa += (x != UNOBSERVED) as u32;
        fb += yf as u32;
        ob += (y != UNOBSERVED) as u32;
        sf += (xf & yf) as u32;
        snf += (xn & yn) as u32;
        loss += (xf & yn) as u32;
        gain += (xn & yf) as u32;
    }
    // Unobserved in either epoch: whatever is not observed in both.
    let unobserved = a.len() as u32 - (sf + snf + loss + gain);
    [fa, oa, fb, ob, unobserved, sf, snf, loss, gain]
}

/// [`PairSums`] of `cov` over strips `a` and `b` (rows `row0..`, `width` wide).
pub fn accumulate_pair(cov: &Coverage, a: Strip<'_>, b: &[u8], area: &PixelArea) -> PairSums {
    let rows = cov.rows();
    let lo = rows.start.max(a.row0);
    let hi = rows.end.min(a.rows().end);
    let mut w = [0.0f64; 9];
    for r in lo..hi {
        let at = (r - a.row0) * a.width;
        let (la, lb) = (&a.states[at..at + a.width], &b[at..at + a.width]);
        for s in cov.row(r) {
            let (c0, c1) = (s.start as usize, (s.end as usize).min(a.width));
            match area {
                PixelArea::Constant(_) => {
                    let k = pair_counts(&la[c0..c1], &lb[c0..c1]);
                    for i in 0..9 {
                        w[i] += s.frac * k[i] as f64;
                    }
                }
                lattice => {
                    for c in c0..c1 {
                        let k = pair_counts(&la[c..c + 1], &lb[c..c + 1]);
                        let px = s.frac * lattice.at(c, r);
                        for i in 0..9 {
                            w[i] += px * k[i] as f64;
                        }
                    }
                }
            }
        }
    }
    let scale = match area {
        PixelArea::Constant(a) => *a,
        _ => 1.0,
    };
    let w = w.map(|v| v * scale);
    PairSums {
        a: CoverSums {
            forest: w[0],
            observed: w[1],
            clear: w[1],
        },
        b: CoverSums {
            forest: w[2],
            observed: w[3],
            clear: w[3],
        },
        change: [w[4], w[5], w[6], w[7], w[8]],
    }
}

#[cfg(test)]
mod pair_tests {
    use super::*;
    use crate::change::{change_code, CH_CODES};
    use crate::coverage::coverage;
    use crate::grid::Grid;
    use geo::{polygon, MultiPolygon};

    /// The one-sweep pair sums equal the separate cover and category sums.
    #[test]
    fn pair_sums_equal_the_separate_sums() {
        let g = Grid {
            x0: 0.0,
            y0: 70.0,
            dx: 10.0,
            dy: 10.0,
            width: 7,
            height: 7,
        };
        let p: MultiPolygon<f64> =
            polygon![(x: 3.0, y: 2.0), (x: 66.0, y: 9.0), (x: 51.0, y: 68.0), (x: 8.0, y: 44.0)]
                .into();
        let cov = coverage(&p, &g);
        let a: Vec<u8> = (0..49).map(|i| (i * 7 % 3) as u8).collect();
        let b: Vec<u8> = (0..49).map(|i| (i * 5 % 3) as u8).collect();
        let codes: Vec<u8> = a.iter().zip(&b).map(|(&x, &y)| change_code(x, y)).collect();
        for area in [
            PixelArea::Constant(100.0),
            PixelArea::Lattice {
                step: 4,
                cols: 3,
                rows: 3,
                values: (0..9).map(|i| 90.0 + i as f64).collect(),
            },
        ] {
            let sa = Strip {
                row0: 0,
                width: 7,
                states: &a,
            };
            let sb = Strip {
                row0: 0,
                width: 7,
                states: &b,
            };
            let got = accumulate_pair(&cov, sa, &b, &area);
            let close = |x: f64, y: f64| (x - y).abs() < 1e-9 * y.abs().max(1.0);
            let (ca, cb) = (accumulate(&cov, sa, &area), accumulate(&cov, sb, &area));
            assert!(
                close(got.a.forest, ca.forest) && close(got.a.observed, ca.observed),
                "{got:?} {ca:?}"
            );
            assert!(
                close(got.b.forest, cb.forest) && close(got.b.observed, cb.observed),
                "{got:?} {cb:?}"
            );
            let mut cat = [0.0; CH_CODES];
            accumulate_categories(
                &cov,
                Strip {
                    row0: 0,
                    width: 7,
                    states: &codes,
                },
                &area,
                &mut cat,
            );
            for (k, (g, c)) in got.change.iter().zip(&cat).enumerate().take(CH_CODES) {
                assert!(close(*g, *c), "code {k}: {g} vs {c}");
            }
        }
    }
}

/// Adds, for each pair (class in epoch A, class in epoch B) of the pixels of
/// `cov` over a strip (rows `row0..`, `width` wide, codes `ca` and `cb`), its
/// coverage-weighted area into `out`. Pixels where either code is `none` are
/// skipped. Land cover comes in patches, so each run of equal pairs along a span
/// is added at once: the map is touched per run, not per pixel.
#[allow(clippy::too_many_arguments)]
pub fn accumulate_transitions(
    cov: &Coverage,
    row0: usize,
    width: usize,
    ca: &[i32],
    cb: &[i32],
    none: i32,
    area: &PixelArea,
    out: &mut std::collections::BTreeMap<(i32, i32), f64>,
) {
    let rows = cov.rows();
    let nrows = ca.len() / width.max(1);
    let mut add = |pair: (i32, i32), w: f64| {
        if pair.0 != none && pair.1 != none {
            *out.entry(pair).or_insert(0.0) += w;
        }
    };
    for r in rows.start.max(row0)..rows.end.min(row0 + nrows) {
        let base = (r - row0) * width;
        let (la, lb) = (&ca[base..base + width], &cb[base..base + width]);
        for s in cov.row(r) {
            let (c0, c1) = (s.start as usize, (s.end as usize).min(width));
            if c0 >= c1 {
                continue;
            }
            let (sa, sb) = (&la[c0..c1], &lb[c0..c1]);
            match area.constant() {
                Some(a) => {
                    let mut start = 0;
                    while start < sa.len() {
                        let pair = (sa[start], sb[start]);
                        let mut end = start + 1;
                        while end < sa.len() && sa[end] == pair.0 && sb[end] == pair.1 {
                            end += 1;
                        }
                        add(pair, s.frac * ((end - start) as f64 * a));
                        start = end;
                    }
                }
                None => {
                    let mut cur = (sa[0], sb[0]);
                    let mut w = 0.0;
                    for (k, c) in (c0..c1).enumerate() {
                        let pair = (sa[k], sb[k]);
                        if pair != cur {
                            add(cur, s.frac * w);
                            cur = pair;
                            w = 0.0;
                        }
                        w += area.at(c, r);
                    }
                    add(cur, s.frac * w);
                }
            }
        }
    }
}

#[cfg(test)]
mod transition_tests {
    use super::*;
    use crate::coverage::coverage;
    use crate::grid::Grid;
    use geo::{polygon, MultiPolygon};
    use std::collections::BTreeMap;

    /// Runs of pairs add up to the pixel-by-pixel sum, with both kinds of area.
    #[test]
    fn transitions_equal_the_pixel_sums() {
        let g = Grid {
            x0: 0.0,
            y0: 70.0,
            dx: 10.0,
            dy: 10.0,
            width: 7,
            height: 7,
        };
        let p: MultiPolygon<f64> =
            polygon![(x: 3.0, y: 2.0), (x: 66.0, y: 9.0), (x: 51.0, y: 68.0), (x: 8.0, y: 44.0)]
                .into();
        let cov = coverage(&p, &g);
        let none = i32::MIN;
        let ca: Vec<i32> = (0..49)
            .map(|i| if i % 11 == 0 { none } else { i / 9 })
            .collect();
        let cb: Vec<i32> = (0..49).map(|i| (i / 6) % 3).collect();
        for area in [
            PixelArea::Constant(100.0),
            PixelArea::Lattice {
                step: 4,
                cols: 3,
                rows: 3,
                values: (0..9).map(|i| 90.0 + i as f64).collect(),
            },
        ] {
            // Two strips of 3 and 4 rows add up to the whole.
            let mut got = BTreeMap::new();
            accumulate_transitions(&cov, 0, 7, &ca[..21], &cb[..21], none, &area, &mut got);
            accumulate_transitions(&cov, 3, 7, &ca[21..], &cb[21..], none, &area, &mut got);
            let mut want: BTreeMap<(i32, i32), f64> = BTreeMap::new();
            for r in cov.rows() {
                for s in cov.row(r) {
                    for c in s.start as usize..s.end as usize {
                        let (a, b) = (ca[r * 7 + c], cb[r * 7 + c]);
                        if a != none {
                            *want.entry((a, b)).or_insert(0.0) += s.frac * area.at(c, r);
                        }
                    }
                }
            }
            assert_eq!(got.len(), want.len());
            for (k, v) in &want {
                assert!((got[k] - v).abs() < 1e-9, "{k:?}: {} vs {v}", got[k]);
            }
        }
    }
}
