//! Composites over a season: many scenes of one epoch → one state per pixel.
//!
//! An epoch may hold scenes of different dates over the same ground. With
//! [`Method::Priority`] (the default) the first scene with a clear observation
//! of a pixel wins (see `forest::fill_unobserved`). With [`Method::MaxNdvi`] or
//! [`Method::MedianNdvi`] every clear observation counts: the pixel's NDVI is the
//! largest (or the median) of its clear observations, and its state follows from
//! that NDVI and the forest threshold. Haze the cloud mask misses and a meadow
//! mown on one date lower NDVI on that date only, so the maximum (or the median of
//! enough dates) looks past them; the price is that a real clearing made late in
//! the window is only seen as non-forest once most (median) or all (max) of the
//! pixel's remaining clear observations are after it.
//!
//! Per pixel the composite also keeps the number of clear observations (a pixel
//! with fewer than `min_clear` is unobserved), the number of clear observations
//! that saw it as non-forest (they confirm a loss) and the date of the first of
//! them ("first seen").
//!
//! A [`Composite`] covers one strip of the working grid; scenes are added run by
//! run. Memory is per strip: the maximum keeps one value per pixel whatever the
//! number of scenes; the median keeps every clear value of the strip, in one
//! `f32` slot per pixel per scene tile whose window covers the pixel
//! ([`Composite::reset_windows`]; not one per tile reaching the strip, which
//! at 10 m over a province was three times as many). The result does not
//! depend on the order in which scenes are added, hence not on threads either.

use chrono::{NaiveDate, TimeDelta};

use crate::forest::{FOREST, NON_FOREST, UNOBSERVED};

/// "No date" in day numbers (no non-forest observation).
pub const NO_DAY: i32 = i32::MAX;

/// How an epoch's scenes are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Method {
    /// The first scene (in the region file's order) with a clear observation wins.
    #[default]
    Priority,
    /// The largest NDVI of the pixel's clear observations.
    MaxNdvi,
    /// The median NDVI of the pixel's clear observations (mean of the two middle
    /// values for an even count).
    MedianNdvi,
}

impl Method {
    /// Parses the region file's `composite` value.
    pub fn parse(s: &str) -> Option<Method> {
        match s {
            "priority" => Some(Method::Priority),
            "max-ndvi" => Some(Method::MaxNdvi),
            "median-ndvi" => Some(Method::MedianNdvi),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Priority => "priority",
            Method::MaxNdvi => "max-ndvi",
            Method::MedianNdvi => "median-ndvi",
        }
    }
}

/// 1970-01-01, day number 0.
const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");

/// Days since 1970-01-01 of a date that starts with `YYYY-MM-DD` (proleptic
/// Gregorian, as `chrono` counts); `None` when the text does not start with
/// such a date (a time may follow: `2025-01-20T03:30:00Z`).
pub fn day_number(date: &str) -> Option<i32> {
    let d = NaiveDate::parse_from_str(date.get(..10)?, "%Y-%m-%d").ok()?;
    i32::try_from((d - EPOCH).num_days()).ok()
}

/// The `YYYY-MM-DD` text of a day number.
pub fn date_of(day: i32) -> String {
    EPOCH
        .checked_add_signed(TimeDelta::days(day.into()))
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// The month (1–12) of a `YYYY-MM-DD` date.
pub fn month_of(date: &str) -> Option<u32> {
    date.get(5..7)?
        .parse()
        .ok()
        .filter(|m| (1..=12).contains(m))
}

/// Distance between two months on the yearly circle (0–6).
pub fn month_distance(a: u32, b: u32) -> u32 {
    let d = a.abs_diff(b) % 12;
    d.min(12 - d)
}

/// The phenology guard: two epochs whose scene-date windows (earliest, latest
/// date) start or end in months more than two apart cover different seasons,
/// and leaf-off or senescent vegetation then looks like loss.
pub fn different_seasons(a: (&str, &str), b: (&str, &str)) -> bool {
    let far = |x: &str, y: &str| match (month_of(x), month_of(y)) {
        (Some(p), Some(q)) => month_distance(p, q) > 2,
        _ => false,
    };
    far(a.0, b.0) || far(a.1, b.1)
}

/// The composite of one strip, built scene by scene.
#[derive(Debug, Default, Clone)]
pub struct Composite {
    method: Method,
    ndvi_min: f64,
    min_clear: u16,
    /// Clear observations per pixel.
    pub clear: Vec<u16>,
    /// Clear observations per pixel that saw non-forest.
    pub confirm: Vec<u16>,
    /// Day number of the first non-forest clear observation ([`NO_DAY`]: none).
    pub first_nf: Vec<i32>,
    /// Maximum: the best NDVI so far and its state.
    best: Vec<f32>,
    best_state: Vec<u8>,
    /// Median: the slots of each pixel ([`Slots`]), the first `clear[p]` filled.
    stack: Vec<f32>,
    slots: Slots,
}

/// Where each pixel's median slots lie in [`Composite::stack`].
#[derive(Debug, Clone)]
enum Slots {
    /// The same number of slots for every pixel: pixel `p` has `p·m .. (p+1)·m`.
    Uniform(usize),
    /// As many slots as windows covering the pixel, on a strip `width` wide.
    Windows {
        width: usize,
        /// Per row of the strip: its profile and its first slot.
        rows: Vec<(usize, usize)>,
        /// Per distinct set of windows crossing a row: the first slot of each
        /// column within the row (prefix sums of the depth, `width + 1` long).
        profiles: Vec<Vec<usize>>,
    },
}

impl Default for Slots {
    fn default() -> Self {
        Slots::Uniform(0)
    }
}

impl Slots {
    /// The slots of `width × rows` pixels, each with one slot per window
    /// `[col0, col1, row0, row1)` (strip rows) covering it.
    fn of_windows(width: usize, rows: usize, windows: &[[usize; 4]]) -> Slots {
        let mut keys: Vec<Vec<usize>> = Vec::new();
        let mut profiles: Vec<Vec<usize>> = Vec::new();
        let mut row_slots = Vec::with_capacity(rows);
        let mut base = 0;
        let mut set = Vec::new();
        for r in 0..rows {
            set.clear();
            set.extend((0..windows.len()).filter(|&i| {
                let w = windows[i];
                w[2] <= r && r < w[3] && w[0] < w[1].min(width)
            }));
            let k = match keys.iter().position(|k| *k == set) {
                Some(k) => k,
                None => {
                    let mut depth = vec![0isize; width + 1];
                    for &i in &set {
                        let w = windows[i];
                        depth[w[0]] += 1;
                        depth[w[1].min(width)] -= 1;
                    }
                    let mut prefix = Vec::with_capacity(width + 1);
                    let (mut at, mut d) = (0usize, 0isize);
                    prefix.push(0);
                    for dc in &depth[..width] {
                        d += dc;
                        at += d as usize;
                        prefix.push(at);
                    }
                    keys.push(set.clone());
                    profiles.push(prefix);
                    profiles.len() - 1
                }
            };
            row_slots.push((k, base));
            base += profiles[k][width];
        }
        Slots::Windows {
            width,
            rows: row_slots,
            profiles,
        }
    }

    /// Slots in all for `n` pixels.
    fn total(&self, n: usize) -> usize {
        match self {
            Slots::Uniform(m) => n * m,
            Slots::Windows {
                rows,
                profiles,
                width,
            } => rows
                .last()
                .map_or(0, |&(k, base)| base + profiles[k][*width]),
        }
    }

    /// First slot and number of slots of pixel `p`.
    #[inline]
    fn of(&self, p: usize) -> (usize, usize) {
        match self {
            Slots::Uniform(m) => (p * m, *m),
            Slots::Windows {
                width,
                rows,
                profiles,
            } => {
                let (r, c) = (p / width, p % width);
                let (k, base) = rows[r];
                let prof = &profiles[k];
                (base + prof[c], prof[c + 1] - prof[c])
            }
        }
    }
}

impl Composite {
    /// Starts a strip of `n` pixels that at most `scenes` scenes cover.
    pub fn reset(
        &mut self,
        method: Method,
        ndvi_min: f64,
        min_clear: u16,
        n: usize,
        scenes: usize,
    ) {
        self.method = method;
        self.ndvi_min = ndvi_min;
        self.min_clear = min_clear.max(1);
        self.clear.clear();
        self.clear.resize(n, 0);
        self.confirm.clear();
        self.confirm.resize(n, 0);
        self.first_nf.clear();
        self.first_nf.resize(n, NO_DAY);
        self.best.clear();
        self.best_state.clear();
        self.stack.clear();
        self.slots = Slots::Uniform(scenes);
        match method {
            Method::MedianNdvi => self.stack.resize(self.slots.total(n), f32::NAN),
            _ => {
                self.best.resize(n, f32::NEG_INFINITY);
                self.best_state.resize(n, UNOBSERVED);
            }
        }
    }

    /// Starts a strip of `width × rows` pixels that the scene tiles' windows
    /// `[col0, col1, row0, row1)` (columns of the strip, rows from its first)
    /// cover: a median keeps one slot per pixel per window covering it, so its
    /// stack grows with how many tiles overlap, not with how many reach the strip.
    /// A tile must add only pixels inside its window.
    pub fn reset_windows(
        &mut self,
        method: Method,
        ndvi_min: f64,
        min_clear: u16,
        (width, rows): (usize, usize),
        windows: &[[usize; 4]],
    ) {
        self.reset(method, ndvi_min, min_clear, width * rows, 0);
        if method == Method::MedianNdvi {
            self.slots = Slots::of_windows(width, rows, windows);
            self.stack.resize(self.slots.total(width * rows), f32::NAN);
        }
    }

    /// Adds one scene's observations of the pixels `at .. at + states.len()`
    /// (states and NDVI as `SpectralRule::classify_into` writes them), observed on `day`.
    pub fn add(&mut self, at: usize, states: &[u8], ndvi: &[f32], day: i32) {
        assert_eq!(states.len(), ndvi.len());
        if self.method == Method::MedianNdvi {
            self.add_with(at, states.len(), day, |k| (states[k], ndvi[k]));
            return;
        }
        let n = states.len();
        add_best(
            Best {
                best: &mut self.best[at..at + n],
                state: &mut self.best_state[at..at + n],
                confirm: &mut self.confirm[at..at + n],
                first_nf: &mut self.first_nf[at..at + n],
                clear: &mut self.clear[at..at + n],
            },
            states,
            ndvi,
            day,
        );
    }

    /// Adds one scene's observations of the pixels `at .. at + n`, where
    /// `obs(k)` gives pixel `at + k`'s state and NDVI (as
    /// `SpectralRule::state_and_ndvi` does): classification fused with
    /// compositing, no per-scene buffer of states. Same result as [`Composite::add`]
    /// of the same observations.
    #[inline]
    pub fn add_with(&mut self, at: usize, n: usize, day: i32, obs: impl Fn(usize) -> (u8, f32)) {
        let clear = &mut self.clear[at..at + n];
        let confirm = &mut self.confirm[at..at + n];
        let first_nf = &mut self.first_nf[at..at + n];
        match self.method {
            Method::MedianNdvi => {
                for k in 0..n {
                    let (s, v) = obs(k);
                    if s == UNOBSERVED {
                        continue;
                    }
                    if s == NON_FOREST {
                        confirm[k] += 1;
                        first_nf[k] = first_nf[k].min(day);
                    }
                    let c = clear[k] as usize;
                    let (first, m) = self.slots.of(at + k);
                    if c < m {
                        self.stack[first + c] = v;
                    }
                    clear[k] = clear[k].saturating_add(1);
                }
            }
            _ => {
                let mut b = Best {
                    best: &mut self.best[at..at + n],
                    state: &mut self.best_state[at..at + n],
                    confirm,
                    first_nf,
                    clear,
                };
                for k in 0..n {
                    let (s, v) = obs(k);
                    b.add(k, s, v, day);
                }
            }
        }
    }

    /// Writes the composite states and NDVI (NaN where unobserved) of the strip.
    pub fn finish(&mut self, states: &mut Vec<u8>, ndvi: &mut Vec<f32>) {
        let n = self.clear.len();
        states.clear();
        states.resize(n, UNOBSERVED);
        ndvi.clear();
        ndvi.resize(n, f32::NAN);
        for p in 0..n {
            let c = self.clear[p] as usize;
            if c < self.min_clear as usize {
                continue;
            }
            match self.method {
                Method::MedianNdvi => {
                    let (first, m) = self.slots.of(p);
                    let vals = &mut self.stack[first..][..c.min(m)];
                    let v = median(vals);
                    ndvi[p] = v;
                    states[p] = if v as f64 >= self.ndvi_min {
                        FOREST
                    } else {
                        NON_FOREST
                    };
                }
                _ => {
                    ndvi[p] = self.best[p];
                    states[p] = self.best_state[p];
                }
            }
        }
    }
}

/// Median of a non-empty slice (reordered); the mean of the two middle values
/// when the length is even.
fn median(v: &mut [f32]) -> f32 {
    let n = v.len();
    let mid = n / 2;
    let (_, &mut hi, _) = v.select_nth_unstable_by(mid, f32::total_cmp);
    if n % 2 == 1 {
        hi
    } else {
        let lo = v[..mid].iter().copied().fold(f32::NEG_INFINITY, f32::max);
        ((lo as f64 + hi as f64) / 2.0) as f32
    }
}

/// The per-pixel state of a maximum (or priority) composite over a run of
/// pixels: one slice per field, all of the run's length.
struct Best<'a> {
    best: &'a mut [f32],
    state: &'a mut [u8],
    confirm: &'a mut [u16],
    first_nf: &'a mut [i32],
    clear: &'a mut [u16],
}

impl Best<'_> {
    /// Pixel `k` observed as `s` with NDVI `v` on `day`. Without branches
    /// (selects), so that clouds scattered over a scene cost no mispredictions
    /// and a row compiles to vector code; an unobserved pixel changes nothing.
    #[inline(always)]
    fn add(&mut self, k: usize, s: u8, v: f32, day: i32) {
        let seen = s != UNOBSERVED;
        let nf = s == NON_FOREST;
        self.confirm[k] = self.confirm[k].wrapping_add(nf as u16);
        self.first_nf[k] = if nf {
            self.first_nf[k].min(day)
        } else {
            self.first_nf[k]
        };
        // Ties keep the larger state (forest over non-forest) so the result
        // does not depend on the order of scenes.
        let better = seen & ((v > self.best[k]) | ((v == self.best[k]) & (s > self.state[k])));
        self.best[k] = if better { v } else { self.best[k] };
        self.state[k] = if better { s } else { self.state[k] };
        self.clear[k] = self.clear[k].saturating_add(seen as u16);
    }
}

/// [`Best::add`] of a row of observations (`states`, `ndvi` as
/// `SpectralRule::classify_into` writes them), compiled for each vector
/// instruction set and chosen at run time (`multiversion`): the same integer
/// and float operations, so the same result on every CPU.
#[multiversion::multiversion(targets = "simd")]
fn add_best<'a>(mut b: Best<'a>, states: &[u8], ndvi: &[f32], day: i32) {
    let n = states.len();
    let ndvi = &ndvi[..n];
    assert!(
        b.best.len() == n
            && b.state.len() == n
            && b.confirm.len() == n
            && b.first_nf.len() == n
            && b.clear.len() == n
    );
    for k in 0..n {
        b.add(k, states[k], ndvi[k], day);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(day_number("1970-01-01"), Some(0));
        assert_eq!(day_number("2016-03-01"), Some(16861));
        assert_eq!(
            day_number("2015-07-11").map(date_of).as_deref(),
            Some("2015-07-11")
        );
        for d in [-1000, 0, 59, 60, 16800, 20000] {
            assert_eq!(day_number(&date_of(d)), Some(d));
        }
        assert_eq!(day_number("2015-13-01"), None);
        assert_eq!(day_number("15-07-11"), None);
        // Impossible days are refused, not rolled over into the next month.
        assert_eq!(day_number("2015-02-29"), None);
        assert_eq!(day_number("2016-02-29"), Some(16860));
        // A date-time: its date.
        assert_eq!(day_number("2025-01-20T03:30:00Z"), Some(20108));
        // Every day of four centuries (leap rules of 100 and 400 years) round-trips
        // and consecutive day numbers are consecutive dates.
        for d in -1000..(-1000 + 146_097) {
            assert_eq!(day_number(&date_of(d)), Some(d));
        }
    }

    #[test]
    fn seasons() {
        assert_eq!(month_distance(1, 12), 1);
        assert_eq!(month_distance(7, 1), 6);
        // Summer composites a year apart: same season.
        assert!(!different_seasons(
            ("2015-07-11", "2015-09-09"),
            ("2016-06-25", "2016-09-13")
        ));
        // Summer against January: leaf-off.
        assert!(different_seasons(
            ("2015-07-11", "2015-07-11"),
            ("2016-01-27", "2016-01-27")
        ));
        // Windows starting together but one running into December.
        assert!(different_seasons(
            ("2015-07-01", "2015-09-30"),
            ("2016-07-01", "2016-12-20")
        ));
    }

    const F: u8 = FOREST;
    const N: u8 = NON_FOREST;
    const U: u8 = UNOBSERVED;

    fn run(method: Method, min_clear: u16, scenes: &[(&[u8], &[f32], i32)]) -> Composite {
        let mut c = Composite::default();
        c.reset(method, 0.5, min_clear, scenes[0].0.len(), scenes.len());
        for (s, v, d) in scenes {
            c.add(0, s, v, *d);
        }
        c
    }

    /// Three dates of four pixels: a forest pixel hazy once (0.3), a meadow mown
    /// once (0.2 in a 0.6 season), a clearing cut after the first date, a pixel
    /// seen once.
    fn season() -> Vec<(&'static [u8], &'static [f32], i32)> {
        const NAN: f32 = f32::NAN;
        vec![
            (&[F, F, F, U], &[0.8, 0.6, 0.8, NAN], 10),
            (&[N, N, N, U], &[0.3, 0.2, 0.2, NAN], 20),
            (&[F, F, N, N], &[0.82, 0.62, 0.1, 0.3], 30),
        ]
    }

    #[test]
    fn max_ndvi_looks_past_haze_and_mowing() {
        let mut c = run(Method::MaxNdvi, 1, &season());
        let (mut s, mut v) = (Vec::new(), Vec::new());
        c.finish(&mut s, &mut v);
        assert_eq!(s, vec![F, F, F, N]);
        assert_eq!(v, vec![0.82, 0.62, 0.8, 0.3]);
        assert_eq!(c.clear, vec![3, 3, 3, 1]);
        assert_eq!(c.confirm, vec![1, 1, 2, 1]);
        assert_eq!(c.first_nf, vec![20, 20, 20, 30]);
    }

    #[test]
    fn median_sees_a_clearing_observed_on_most_dates() {
        let mut c = run(Method::MedianNdvi, 1, &season());
        let (mut s, mut v) = (Vec::new(), Vec::new());
        c.finish(&mut s, &mut v);
        // Medians: 0.8, 0.6, 0.2, 0.3.
        assert_eq!(v, vec![0.8, 0.6, 0.2, 0.3]);
        assert_eq!(s, vec![F, F, N, N]);
    }

    #[test]
    fn min_clear_leaves_thin_pixels_unobserved() {
        let mut c = run(Method::MedianNdvi, 2, &season());
        let (mut s, mut v) = (Vec::new(), Vec::new());
        c.finish(&mut s, &mut v);
        assert_eq!(s[3], U);
        assert!(v[3].is_nan());
    }

    #[test]
    fn even_median_is_the_mean_of_the_middle_two() {
        let mut v = [0.9f32, 0.1, 0.5, 0.7];
        assert_eq!(median(&mut v), 0.6);
    }

    /// A strip 5 × 2 that three tiles' windows cover in part: each pixel gets
    /// one slot per window over it, and the median is the same as with a
    /// slot per tile for every pixel.
    #[test]
    fn median_slots_follow_the_windows_that_cover_each_pixel() {
        const NAN: f32 = f32::NAN;
        let windows = [[0, 3, 0, 2], [2, 5, 0, 2], [0, 5, 1, 2]];
        // Scene by scene: (window, states and NDVI of the window's pixels, row by row).
        let obs: [(usize, Vec<u8>, Vec<f32>); 3] = [
            (
                0,
                vec![F, N, F, F, F, N],
                vec![0.9, 0.2, 0.7, 0.8, 0.6, 0.3],
            ),
            (
                1,
                vec![N, F, F, U, F, F],
                vec![0.1, 0.8, 0.9, NAN, 0.7, 0.6],
            ),
            (2, vec![F, F, N, F, F], vec![0.6, 0.9, 0.4, 0.55, 0.95]),
        ];
        let (width, rows) = (5, 2);
        let mut by_windows = Composite::default();
        by_windows.reset_windows(Method::MedianNdvi, 0.5, 1, (width, rows), &windows);
        let mut uniform = Composite::default();
        uniform.reset(Method::MedianNdvi, 0.5, 1, width * rows, windows.len());
        for (w, st, v) in &obs {
            let [c0, c1, r0, r1] = windows[*w];
            let cols = c1 - c0;
            for r in r0..r1 {
                let k = (r - r0) * cols;
                for c in [&mut by_windows, &mut uniform] {
                    c.add(r * width + c0, &st[k..k + cols], &v[k..k + cols], 1);
                }
            }
        }
        // Slots: row 0 has depths 1 1 2 1 1, row 1 has 2 2 3 2 2.
        assert_eq!(by_windows.stack.len(), 6 + 11);
        assert_eq!(uniform.stack.len(), 30);
        let (mut s1, mut v1, mut s2, mut v2) = (vec![], vec![], vec![], vec![]);
        by_windows.finish(&mut s1, &mut v1);
        uniform.finish(&mut s2, &mut v2);
        assert_eq!(s1, s2);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&v1), bits(&v2));
        // Pixel (1, 2) saw 0.3 (window 0), a cloud (window 1) and 0.4 (window 2).
        assert_eq!(by_windows.clear[7], 2);
        assert!((v1[7] - 0.35).abs() < 1e-6, "{}", v1[7]);
        assert_eq!(by_windows.clear, uniform.clear);
    }

    #[test]
    fn order_of_scenes_does_not_matter() {
        for m in [Method::MaxNdvi, Method::MedianNdvi] {
            let mut fw = season();
            let a = run(m, 1, &fw);
            fw.reverse();
            let b = run(m, 1, &fw);
            let (mut sa, mut va, mut sb, mut vb) = (vec![], vec![], vec![], vec![]);
            a.clone().finish(&mut sa, &mut va);
            b.clone().finish(&mut sb, &mut vb);
            assert_eq!(sa, sb);
            assert_eq!(
                va.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                vb.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
            assert_eq!(
                (a.clear, a.confirm, a.first_nf),
                (b.clear, b.confirm, b.first_nf)
            );
        }
    }
}
