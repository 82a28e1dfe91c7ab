//! Streaming 8-connected labelling of run-length masks.
//!
//! A forest-loss alert is one connected patch (8-connectivity) of loss pixels.
//! Province rasters are read in strips of rows, loss is sparse (< 1 % of
//! pixels) but a patch may straddle strips and tiles and hold 10⁷ pixels, so
//! labelling works on *runs* (maximal horizontal stretches of set pixels), never
//! on pixels, and never needs more than one row of context:
//!
//! 1. [`row_runs`] turns one mask row into runs (skipping zero bytes eight at a
//!    time, so the sparse mask costs about one load per 8 pixels).
//! 2. [`Labeller::push_row`] gives every new run a union-find node and unites it
//!    with the runs of the row above that it touches. 8-connectivity means run
//!    `[c0, c1)` touches `[p0, p1)` one row up when `c0 ≤ p1` and `p0 ≤ c1`
//!    (column ranges overlap or meet at a corner). Runs of a row are swept
//!    against the previous row with two pointers: `O(runs)` per row.
//! 3. [`Labeller::finish`] resolves the union-find (path halving, union by
//!    rank: effectively `O(1)` per run) and groups runs into [`Component`]s.
//!
//! Why runs and one union-find node per run: memory is `O(runs)` (≈ 17 bytes a
//! run), there is no per-pixel work, and since the runs must be kept anyway to
//! outline each patch ([`crate::outline`]), nodes need no separate bookkeeping.
//!
//! # Determinism
//!
//! Runs that touch on the same row (`c0` = previous `c1`, as when a row is fed
//! tile by tile) are merged into one run, so the stored runs — and therefore the
//! components, their order and their runs — do not depend on how rows were cut
//! into strips, tiles or calls. Components are ordered by their first run in
//! `(row, c0)` order.

/// A run of set pixels on one row: columns `[c0, c1)`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Run {
    /// Row index.
    pub row: u32,
    /// First column of the run.
    pub c0: u32,
    /// One past the last column of the run.
    pub c1: u32,
}

impl Run {
    /// Number of pixels of the run.
    pub fn len(&self) -> u32 {
        self.c1.saturating_sub(self.c0)
    }

    /// True when the run holds no pixel.
    pub fn is_empty(&self) -> bool {
        self.c1 <= self.c0
    }
}

/// Appends to `out` the runs of set (non-zero) pixels of one row of a mask, in
/// increasing column order. Column 0 is `mask_row[0]`; add a column offset to
/// the runs yourself when the row is a window of a larger grid.
pub fn row_runs(row: u32, mask_row: &[u8], out: &mut Vec<Run>) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    assert!(
        mask_row.len() <= u32::MAX as usize,
        "row of {} pixels is too long",
        mask_row.len()
    );
    let n = mask_row.len();
    let word = |c: usize| u64::from_ne_bytes(mask_row[c..c + 8].try_into().unwrap());
    let mut c = 0;
    while c < n {
        // Skip zeros, a word at a time.
        while c + 8 <= n && word(c) == 0 {
            c += 8;
        }
        while c < n && mask_row[c] == 0 {
            c += 1;
        }
        if c == n {
            break;
        }
        let start = c;
        // Skip non-zeros, a word at a time while the word has no zero byte.
        while c + 8 <= n && {
            let v = word(c);
            v.wrapping_sub(ONES) & !v & HIGHS == 0
        } {
            c += 8;
        }
        while c < n && mask_row[c] != 0 {
            c += 1;
        }
        out.push(Run {
            row,
            c0: start as u32,
            c1: c as u32,
        });
    }
}

/// One 8-connected component: its runs sorted by `(row, c0)` (touching runs on
/// a row merged), its pixel count and bounding box.
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    /// Runs sorted by `(row, c0)`; runs on one row neither overlap nor touch.
    pub runs: Vec<Run>,
    /// Number of pixels.
    pub pixels: u64,
    /// `[c0, r0, c1, r1)`: columns `c0..c1`, rows `r0..r1` (ends exclusive).
    pub bbox: [u32; 4],
}

/// Streaming labeller: feed rows in increasing order (rows may be skipped =
/// empty), then [`finish`](Labeller::finish).
///
/// Memory: about 17 bytes per (merged) run. Time: `O(runs)` plus the
/// near-constant union-find cost.
#[derive(Clone, Debug, Default)]
pub struct Labeller {
    /// Every run pushed so far, in `(row, c0)` order (touching runs merged).
    runs: Vec<Run>,
    /// Union-find parent of each run.
    parent: Vec<u32>,
    /// Union-find rank of each run (only meaningful for roots).
    rank: Vec<u8>,
    /// Row of the runs `runs[cur_start..]`, `None` before the first run.
    cur_row: Option<u32>,
    /// Index of the first run of the current row.
    cur_start: usize,
    /// Runs of the row just above the current row: `runs[prev_start..cur_start]`
    /// (empty when that row had no run).
    prev_start: usize,
    /// First run of the previous row that can still touch the current or a
    /// later run of the current row.
    lo: usize,
    /// First run of the previous row not yet united with the last run.
    scan: usize,
}

impl Labeller {
    /// An empty labeller.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of (merged) runs stored so far.
    pub fn run_count(&self) -> usize {
        self.runs.len()
    }

    /// Adds runs in `(row, c0)` order: usually the runs of one row, as given by
    /// [`row_runs`], but any slice continuing the order is accepted (several
    /// rows at once, or one row in several calls, e.g. tile by tile). Empty runs
    /// are ignored.
    ///
    /// # Panics
    ///
    /// If a run comes before the last run pushed (lower row, or same row and
    /// overlapping or to its left), or if more than `u32::MAX` runs are stored.
    pub fn push_row(&mut self, runs: &[Run]) {
        for &run in runs {
            if !run.is_empty() {
                self.push_run(run);
            }
        }
    }

    fn push_run(&mut self, run: Run) {
        let n = self.runs.len();
        match self.cur_row {
            Some(r) if r == run.row => {
                let last = self.runs[n - 1];
                assert!(
                    run.c0 >= last.c1,
                    "run {run:?} overlaps or precedes the last run pushed {last:?}"
                );
                if run.c0 == last.c1 {
                    // Touches the last run: same run. Unite with the previous-row
                    // runs the extension newly touches.
                    self.runs[n - 1].c1 = run.c1;
                    self.unite_above(n - 1);
                    return;
                }
            }
            cur => {
                if let Some(r) = cur {
                    assert!(
                        run.row > r,
                        "run {run:?} comes after row {r}: rows must increase"
                    );
                }
                self.prev_start = if cur.is_some() && cur == run.row.checked_sub(1) {
                    self.cur_start
                } else {
                    n
                };
                self.cur_start = n;
                self.cur_row = Some(run.row);
                self.lo = self.prev_start;
            }
        }
        assert!(n < u32::MAX as usize, "too many runs");
        self.runs.push(run);
        self.parent.push(n as u32);
        self.rank.push(0);
        // Previous-row runs ending before c0 − 1 cannot touch this run nor any
        // later run of this row.
        while self.lo < self.cur_start && self.runs[self.lo].c1 < run.c0 {
            self.lo += 1;
        }
        self.scan = self.lo;
        self.unite_above(n);
    }

    /// Unites run `i` (the last run) with the previous-row runs from `scan` on
    /// that it touches.
    fn unite_above(&mut self, i: usize) {
        let c1 = self.runs[i].c1;
        while self.scan < self.cur_start && self.runs[self.scan].c0 <= c1 {
            self.union(self.scan as u32, i as u32);
            self.scan += 1;
        }
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }

    fn union(&mut self, a: u32, b: u32) {
        let (a, b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        let (ra, rb) = (self.rank[a as usize], self.rank[b as usize]);
        if ra < rb {
            self.parent[a as usize] = b;
        } else {
            self.parent[b as usize] = a;
            if ra == rb {
                self.rank[a as usize] += 1;
            }
        }
    }

    /// All components, each with its runs sorted by `(row, c0)`; components
    /// ordered by their first run (deterministic whatever the strip sizes).
    pub fn finish(mut self) -> Vec<Component> {
        let n = self.runs.len();
        // Component id of each run, numbered in order of first run. Roots are
        // found first: ids must not overwrite parents that later finds follow.
        for i in 0..n {
            let root = self.find(i as u32);
            self.parent[i] = root;
        }
        drop(self.rank);
        let mut id_of_root = vec![u32::MAX; n];
        let mut sizes: Vec<u32> = Vec::new();
        let mut ids = Vec::with_capacity(n);
        for &root in &self.parent {
            let root = root as usize;
            if id_of_root[root] == u32::MAX {
                id_of_root[root] = sizes.len() as u32;
                sizes.push(0);
            }
            let id = id_of_root[root];
            sizes[id as usize] += 1;
            ids.push(id);
        }
        drop(id_of_root);
        drop(self.parent);
        let mut comps: Vec<Component> = sizes
            .iter()
            .map(|&s| Component {
                runs: Vec::with_capacity(s as usize),
                pixels: 0,
                bbox: [u32::MAX, u32::MAX, 0, 0],
            })
            .collect();
        for (run, &id) in self.runs.iter().zip(&ids) {
            let c = &mut comps[id as usize];
            c.runs.push(*run);
            c.pixels += run.len() as u64;
            c.bbox[0] = c.bbox[0].min(run.c0);
            c.bbox[1] = c.bbox[1].min(run.row);
            c.bbox[2] = c.bbox[2].max(run.c1);
            c.bbox[3] = c.bbox[3].max(run.row + 1);
        }
        comps
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    /// A row-major mask.
    #[derive(Clone, Debug)]
    pub(crate) struct Mask {
        pub w: usize,
        pub h: usize,
        pub px: Vec<u8>,
    }

    impl Mask {
        pub fn from_rows(rows: &[&str]) -> Mask {
            let h = rows.len();
            let w = rows.iter().map(|r| r.len()).max().unwrap_or(0);
            let mut px = vec![0; w * h];
            for (r, row) in rows.iter().enumerate() {
                for (c, ch) in row.bytes().enumerate() {
                    px[r * w + c] = (ch == b'#') as u8;
                }
            }
            Mask { w, h, px }
        }

        pub fn get(&self, c: i64, r: i64) -> bool {
            c >= 0
                && r >= 0
                && (c as usize) < self.w
                && (r as usize) < self.h
                && self.px[r as usize * self.w + c as usize] != 0
        }

        pub fn runs(&self) -> Vec<Run> {
            let mut out = Vec::new();
            for r in 0..self.h {
                row_runs(r as u32, &self.px[r * self.w..(r + 1) * self.w], &mut out);
            }
            out
        }

        pub fn components(&self) -> Vec<Component> {
            let mut l = Labeller::new();
            l.push_row(&self.runs());
            l.finish()
        }
    }

    /// Independent oracle: BFS flood fill, 8-connectivity, per pixel. Labels
    /// numbered in row-major order of first pixel; −1 for unset pixels.
    pub(crate) fn flood_fill(m: &Mask) -> Vec<i64> {
        let mut label = vec![-1i64; m.w * m.h];
        let mut next = 0;
        let mut queue = VecDeque::new();
        for start in 0..m.w * m.h {
            if m.px[start] == 0 || label[start] >= 0 {
                continue;
            }
            label[start] = next;
            queue.push_back(start);
            while let Some(p) = queue.pop_front() {
                let (c, r) = ((p % m.w) as i64, (p / m.w) as i64);
                for dr in -1..=1 {
                    for dc in -1..=1 {
                        let (nc, nr) = (c + dc, r + dr);
                        if m.get(nc, nr) {
                            let q = nr as usize * m.w + nc as usize;
                            if label[q] < 0 {
                                label[q] = next;
                                queue.push_back(q);
                            }
                        }
                    }
                }
            }
            next += 1;
        }
        label
    }

    /// Per-pixel component index from the labeller's output.
    fn labels_of(comps: &[Component], m: &Mask) -> Vec<i64> {
        let mut label = vec![-1i64; m.w * m.h];
        for (i, comp) in comps.iter().enumerate() {
            for run in &comp.runs {
                for c in run.c0..run.c1 {
                    let p = run.row as usize * m.w + c as usize;
                    assert_eq!(label[p], -1, "pixel in two components");
                    label[p] = i as i64;
                }
            }
        }
        label
    }

    /// Checks everything a component list promises, against the flood fill.
    fn check_against_flood_fill(m: &Mask, comps: &[Component]) -> Result<(), TestCaseError> {
        let got = labels_of(comps, m);
        // Both oracles number components by first pixel in row-major order =
        // by first run, so the partitions must be equal label for label.
        prop_assert_eq!(&got, &flood_fill(m));
        for comp in comps {
            prop_assert!(!comp.runs.is_empty());
            let mut pixels = 0;
            let mut bbox = [u32::MAX, u32::MAX, 0, 0];
            for (k, run) in comp.runs.iter().enumerate() {
                prop_assert!(run.c0 < run.c1);
                if k > 0 {
                    let prev = comp.runs[k - 1];
                    prop_assert!(
                        prev.row < run.row || prev.c1 < run.c0,
                        "unsorted or touching runs {:?} {:?}",
                        prev,
                        run
                    );
                }
                pixels += run.len() as u64;
                bbox = [
                    bbox[0].min(run.c0),
                    bbox[1].min(run.row),
                    bbox[2].max(run.c1),
                    bbox[3].max(run.row + 1),
                ];
            }
            prop_assert_eq!(comp.pixels, pixels);
            prop_assert_eq!(comp.bbox, bbox);
        }
        Ok(())
    }

    // ------------------------------------------------------------ hand cases

    #[test]
    fn row_runs_finds_runs_across_word_boundaries() {
        let mut row = vec![0u8; 40];
        for c in [0, 1, 2, 7, 8, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 39] {
            row[c] = 1 + c as u8; // any non-zero value is set
        }
        let mut out = vec![Run {
            row: 9,
            c0: 0,
            c1: 1,
        }];
        row_runs(3, &row, &mut out);
        let got: Vec<(u32, u32, u32)> = out.iter().map(|r| (r.row, r.c0, r.c1)).collect();
        assert_eq!(
            got,
            vec![
                (9, 0, 1), // appended, not cleared
                (3, 0, 3),
                (3, 7, 9),
                (3, 15, 25),
                (3, 39, 40)
            ]
        );
        let mut out = Vec::new();
        row_runs(0, &[], &mut out);
        row_runs(0, &[0; 17], &mut out);
        assert!(out.is_empty());
        row_runs(0, &[255; 17], &mut out);
        assert_eq!(
            out,
            vec![Run {
                row: 0,
                c0: 0,
                c1: 17
            }]
        );
    }

    #[test]
    fn diagonal_touch_connects_and_gap_does_not() {
        let m = Mask::from_rows(&["#..#.", ".#...", "....#", "...#."]);
        let comps = m.components();
        // {(0,0),(1,1)}, {(3,0)}, {(4,2),(3,3)}
        assert_eq!(comps.len(), 3);
        assert_eq!(comps[0].pixels, 2);
        assert_eq!(comps[0].bbox, [0, 0, 2, 2]);
        assert_eq!(comps[1].pixels, 1);
        assert_eq!(comps[2].bbox, [3, 2, 5, 4]);
    }

    #[test]
    fn u_shape_merges_late_and_skipped_rows_disconnect() {
        let m = Mask::from_rows(&["#...#", "#...#", "#####", ".....", "#####"]);
        let comps = m.components();
        assert_eq!(comps.len(), 2);
        assert_eq!(comps[0].pixels, 9);
        assert_eq!(comps[0].runs.len(), 5);
        assert_eq!(comps[1].bbox, [0, 4, 5, 5]);
        // Skipped rows are empty rows.
        let mut l = Labeller::new();
        l.push_row(&[Run {
            row: 0,
            c0: 0,
            c1: 2,
        }]);
        l.push_row(&[Run {
            row: 2,
            c0: 0,
            c1: 2,
        }]);
        assert_eq!(l.finish().len(), 2);
    }

    #[test]
    fn touching_runs_on_a_row_are_merged() {
        let mut l = Labeller::new();
        l.push_row(&[Run {
            row: 0,
            c0: 5,
            c1: 6,
        }]);
        // Row 1 fed as three tiles: [0,3) [3,4) [4,8) form one run that
        // touches (5,0); row 2 touches only the last piece's end diagonally.
        l.push_row(&[Run {
            row: 1,
            c0: 0,
            c1: 3,
        }]);
        l.push_row(&[Run {
            row: 1,
            c0: 3,
            c1: 4,
        }]);
        l.push_row(&[
            Run {
                row: 1,
                c0: 4,
                c1: 8,
            },
            Run {
                row: 2,
                c0: 8,
                c1: 9,
            },
        ]);
        assert_eq!(l.run_count(), 3);
        let comps = l.finish();
        assert_eq!(comps.len(), 1);
        assert_eq!(
            comps[0].runs[1],
            Run {
                row: 1,
                c0: 0,
                c1: 8
            }
        );
        assert_eq!(comps[0].pixels, 10);
    }

    #[test]
    fn empty_input() {
        assert!(Labeller::new().finish().is_empty());
        let mut l = Labeller::new();
        l.push_row(&[Run {
            row: 4,
            c0: 3,
            c1: 3,
        }]);
        assert!(l.finish().is_empty());
    }

    #[test]
    #[should_panic(expected = "rows must increase")]
    fn rows_out_of_order_panic() {
        let mut l = Labeller::new();
        l.push_row(&[Run {
            row: 2,
            c0: 0,
            c1: 1,
        }]);
        l.push_row(&[Run {
            row: 1,
            c0: 0,
            c1: 1,
        }]);
    }

    #[test]
    #[should_panic(expected = "overlaps")]
    fn overlapping_runs_panic() {
        let mut l = Labeller::new();
        l.push_row(&[
            Run {
                row: 2,
                c0: 0,
                c1: 3,
            },
            Run {
                row: 2,
                c0: 2,
                c1: 4,
            },
        ]);
    }

    /// A large comb: the teeth only join at the bottom row, so the union-find
    /// sees 10⁵ separate labels merging at once.
    #[test]
    fn comb_joins_at_the_last_row() {
        let w = 200_000u32;
        let mut l = Labeller::new();
        for r in 0..50 {
            let runs: Vec<Run> = (0..w / 2)
                .map(|k| Run {
                    row: r,
                    c0: 2 * k,
                    c1: 2 * k + 1,
                })
                .collect();
            l.push_row(&runs);
        }
        // 8-connectivity: teeth 2 px apart don't touch; a full bottom row joins them.
        l.push_row(&[Run {
            row: 50,
            c0: 0,
            c1: w,
        }]);
        let comps = l.finish();
        assert_eq!(comps.len(), 1);
        assert_eq!(comps[0].pixels, 50 * (w as u64 / 2) + w as u64);
    }

    // ------------------------------------------------------- property tests

    fn config() -> ProptestConfig {
        // No regression files: this module must not write beside the sources.
        ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    /// Random masks up to 40 × 40 with a random density (sparse to dense).
    pub(crate) fn any_mask() -> impl Strategy<Value = Mask> {
        (1usize..=40, 1usize..=40, 0.02f64..0.9).prop_flat_map(|(w, h, density)| {
            prop::collection::vec(prop::bool::weighted(density), w * h).prop_map(move |bits| Mask {
                w,
                h,
                px: bits.into_iter().map(u8::from).collect(),
            })
        })
    }

    proptest! {
        #![proptest_config(config())]

        /// The labelling is the flood fill's partition, runs sorted, counts and
        /// boxes right.
        #[test]
        fn prop_labelling_matches_flood_fill(m in any_mask()) {
            let comps = m.components();
            check_against_flood_fill(&m, &comps)?;
        }

        /// Feeding the same mask as strips of random heights, each row cut at
        /// random tile columns and pushed in pieces, gives the same components.
        #[test]
        fn prop_strips_and_tiles_give_the_same_components(
            m in any_mask(),
            strip_cuts in prop::collection::vec(1usize..=40, 0..6),
            tile_cuts in prop::collection::vec(1u32..40, 0..6),
            calls_per_row in 1usize..4,
        ) {
            let whole = m.components();
            let mut l = Labeller::new();
            let mut strips: Vec<usize> = strip_cuts.into_iter().filter(|&c| c < m.h).collect();
            strips.push(0);
            strips.push(m.h);
            strips.sort_unstable();
            strips.dedup();
            let mut tiles: Vec<u32> = tile_cuts.into_iter().filter(|&c| (c as usize) < m.w).collect();
            tiles.push(m.w as u32);
            tiles.sort_unstable();
            tiles.dedup();
            for s in strips.windows(2) {
                // One strip: runs of each row cut at tile edges, pushed in
                // `calls_per_row` slices when several rows or one by one.
                let mut strip_runs = Vec::new();
                for r in s[0]..s[1] {
                    let mut row = Vec::new();
                    row_runs(r as u32, &m.px[r * m.w..(r + 1) * m.w], &mut row);
                    for run in row {
                        let mut c0 = run.c0;
                        for &t in &tiles {
                            if t > c0 && t < run.c1 {
                                strip_runs.push(Run { row: run.row, c0, c1: t });
                                c0 = t;
                            }
                        }
                        strip_runs.push(Run { row: run.row, c0, c1: run.c1 });
                    }
                }
                let chunk = strip_runs.len().div_ceil(calls_per_row).max(1);
                for part in strip_runs.chunks(chunk) {
                    l.push_row(part);
                }
            }
            prop_assert_eq!(l.finish(), whole);
        }
    }

    /// Timing of a big sparse labelling: 10⁶ runs on a 13 000 × 12 500 raster.
    #[test]
    fn big_sparse_raster_timing() {
        let (w, h) = (13_000u32, 12_500u32);
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        // ≈ 80 random 1–4 px runs per row: 10⁶ runs, 2.5 M pixels (1.5 %).
        let mut rows: Vec<Vec<Run>> = Vec::with_capacity(h as usize);
        for r in 0..h {
            let mut cols: Vec<u32> = (0..80).map(|_| (rnd() % w as u64) as u32).collect();
            cols.sort_unstable();
            let mut runs: Vec<Run> = Vec::new();
            for c in cols {
                let c1 = (c + 1 + (rnd() % 4) as u32).min(w);
                match runs.last_mut() {
                    Some(last) if c <= last.c1 => last.c1 = last.c1.max(c1),
                    _ => runs.push(Run { row: r, c0: c, c1 }),
                }
            }
            rows.push(runs);
        }
        let n_runs: usize = rows.iter().map(Vec::len).sum();
        let t0 = std::time::Instant::now();
        let mut l = Labeller::new();
        for runs in &rows {
            l.push_row(runs);
        }
        let t_push = t0.elapsed();
        let comps = l.finish();
        let dt = t0.elapsed();
        let pixels: u64 = comps.iter().map(|c| c.pixels).sum();
        let biggest = comps.iter().map(|c| c.pixels).max().unwrap();
        eprintln!(
            "labelled {n_runs} runs ({pixels} px) into {} components (largest {biggest} px) in {dt:?} \
             (push_row {t_push:?}, finish {:?})",
            comps.len(),
            dt - t_push
        );
        assert_eq!(
            pixels,
            rows.iter().flatten().map(|r| r.len() as u64).sum::<u64>()
        );
    }
}
