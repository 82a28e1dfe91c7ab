//! The exact outline of a set of pixels, as a valid multipolygon.
//!
//! Every forest-loss alert is published with the exact outline of its pixels:
//! area = pixel count, holes kept, and valid as OGC simple features so that any
//! GIS (and PostGIS' `ST_IsValid`) takes it as is. Pixel `(c, r)` is the unit
//! square `[c, c+1] × [r, r+1]` in pixel coordinates.
//!
//! # Which rings: one polygon per 4-connected part
//!
//! Pixels that touch only at a corner make validity subtle. The open interior
//! of a union of pixels is connected exactly across shared *edges*, so its
//! connected parts are the 4-connected parts of the pixel set, and an OGC
//! multipolygon (each polygon's interior connected, polygons meeting only at
//! points, rings simple) has exactly one polygon per 4-connected part `K`:
//! its exterior is the boundary between `K` and the unbounded 4-connected part
//! of the rest of the plane, its holes the boundaries with the bounded ones.
//! A corner-touching pixel of another part, even inside a hole of `K`, is
//! another polygon touching `K` at that point (nested islands are separate
//! polygons).
//!
//! Neither fixed turn rule gives this at a vertex where two set pixels touch
//! diagonally: joining them turns two corner-touching pixels into one
//! self-touching ring, separating them does the same to a ring of pixels that
//! closes on itself at a corner. The rule that always works depends on the
//! parts: *join the two pixels when they are in the same 4-connected part,
//! separate them otherwise*. Then the two passes through such a vertex bound
//! two different 4-connected parts of the complement (a 4-path in `K` plus the
//! diagonal separates them, Jordan), so they lie on two different rings and no
//! ring ever visits a vertex twice.
//!
//! # Algorithm
//!
//! 1. Runs are sorted and merged per row; a union-find over runs with strict
//!    column overlap between consecutive rows labels the 4-connected parts.
//! 2. Boundary edges, each tagged with the part of the one set pixel it bounds
//!    and directed with that pixel on its left (in `(c, r)` coordinates taken
//!    as a mathematical plane): on each horizontal line `y = r`, the maximal
//!    stretches covered by exactly one of rows `r − 1` and `r` (symmetric
//!    difference of two sorted run lists), and the unit vertical edges at run
//!    ends. Edges are produced line by line, sorted by start vertex.
//! 3. Every vertex has one or two outgoing edges. At a two-way vertex the
//!    incoming edge continues on the outgoing edge of its own part, preferring
//!    the right turn (which joins diagonal pixels) when both are. Following
//!    successors (binary search in the start-sorted edges) yields the rings.
//! 4. Collinear vertices are dropped (a 1000 × 1000 square has 4 vertices).
//!    With the set on the left, a part's exterior has positive shoelace area and
//!    its holes negative: each part gets exactly one exterior, and its holes
//!    are assigned by construction, with no point-in-polygon test.
//!
//! Time `O(E log E_line)` for `E` boundary edges (`≈ 4 × runs`), memory `O(E)`.
//!
//! # Order and orientation
//!
//! Polygons come in the order of their part's first run in `(row, c0)` order;
//! each ring starts at its smallest `(r, c)` vertex; holes follow the order of
//! those start vertices. In pixel coordinates ([`outline_pixels`]) exteriors
//! have positive shoelace area in `(c, r)` — clockwise as drawn with rows going
//! down — and holes negative. [`outline`] maps to the grid's CRS, which flips
//! `y`, and reverses the rings so that exteriors are counter-clockwise and
//! holes clockwise there (OGC / RFC 7946).

use geo::{Coord, LineString, MultiPolygon, Polygon};

use crate::components::Run;
use crate::grid::Grid;

/// The exact outline of the pixels in `runs` (pixel `(c, r)` is the unit square
/// `[c, c+1] × [r, r+1]` in pixel coordinates), as polygons with holes, in pixel
/// coordinates. `runs` may come in any order and overlap; they need not be one
/// connected component.
pub fn outline_pixels(runs: &[Run]) -> MultiPolygon<f64> {
    build(runs, false, |c, r| Coord {
        x: c as f64,
        y: r as f64,
    })
}

/// The same in the grid's CRS (`x = x0 + c·dx`, `y = y0 − r·dy`), exteriors
/// counter-clockwise and holes clockwise in that CRS (OGC / RFC 7946
/// right-hand rule). `runs` are in the grid's pixel indices.
pub fn outline(runs: &[Run], grid: &Grid) -> MultiPolygon<f64> {
    let (x0, y0, dx, dy) = (grid.x0, grid.y0, grid.dx, grid.dy);
    build(runs, true, move |c, r| Coord {
        x: x0 + c as f64 * dx,
        y: y0 - r as f64 * dy,
    })
}

fn build(runs: &[Run], reverse: bool, to: impl Fn(u32, u32) -> Coord<f64>) -> MultiPolygon<f64> {
    let ring = |v: &[[u32; 2]]| {
        let mut pts: Vec<Coord<f64>> = Vec::with_capacity(v.len() + 1);
        pts.extend(v.iter().map(|&[c, r]| to(c, r)));
        pts.push(pts[0]);
        if reverse {
            pts.reverse();
        }
        LineString(pts)
    };
    MultiPolygon(
        pixel_polygons(runs)
            .iter()
            .map(|p| Polygon::new(ring(&p.exterior), p.holes.iter().map(|h| ring(h)).collect()))
            .collect(),
    )
}

/// One polygon in pixel coordinates, rings open (first vertex not repeated).
#[derive(Clone, Debug, Default, PartialEq)]
struct PixelPolygon {
    exterior: Vec<[u32; 2]>,
    holes: Vec<Vec<[u32; 2]>>,
}

/// A directed boundary edge from `(sx, sy)` to `(ex, ey)`, with the one set
/// pixel it bounds (of 4-connected part `part`) on its left.
#[derive(Clone, Copy, Debug)]
struct Edge {
    sx: u32,
    sy: u32,
    ex: u32,
    ey: u32,
    part: u32,
}

impl Edge {
    fn dir(&self) -> (i32, i32) {
        (
            (self.ex as i64 - self.sx as i64).signum() as i32,
            (self.ey as i64 - self.sy as i64).signum() as i32,
        )
    }
}

/// Sorted runs with touching/overlapping runs of a row merged, empty runs dropped.
fn normalise(runs: &[Run]) -> Vec<Run> {
    let mut rs: Vec<Run> = runs.iter().filter(|r| !r.is_empty()).copied().collect();
    if !rs.windows(2).all(|w| w[0] <= w[1]) {
        rs.sort_unstable();
    }
    let mut out: Vec<Run> = Vec::with_capacity(rs.len());
    for r in rs {
        match out.last_mut() {
            Some(last) if last.row == r.row && r.c0 <= last.c1 => last.c1 = last.c1.max(r.c1),
            _ => out.push(r),
        }
    }
    out
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let g = parent[parent[x as usize] as usize];
        parent[x as usize] = g;
        x = g;
    }
    x
}

/// 4-connected part of each run, numbered in run order, and the number of parts.
fn parts_of(runs: &[Run], rows: &[(u32, usize, usize)]) -> (Vec<u32>, usize) {
    let mut parent: Vec<u32> = (0..runs.len() as u32).collect();
    for w in rows.windows(2) {
        let ((pr, ps, pe), (r, s, e)) = (w[0], w[1]);
        if pr + 1 != r {
            continue;
        }
        let mut lo = ps;
        for i in s..e {
            let run = runs[i];
            while lo < pe && runs[lo].c1 <= run.c0 {
                lo += 1;
            }
            let mut j = lo;
            while j < pe && runs[j].c0 < run.c1 {
                let (a, b) = (find(&mut parent, j as u32), find(&mut parent, i as u32));
                // Link to the smaller index: roots stay the first run of a part.
                if a != b {
                    parent[a.max(b) as usize] = a.min(b);
                }
                j += 1;
            }
        }
    }
    // Roots are the first run of their part (links go to the smaller index),
    // so a run's root has already been numbered when the run is reached.
    let mut n = 0;
    let mut part: Vec<u32> = Vec::with_capacity(runs.len());
    for i in 0..runs.len() {
        let root = find(&mut parent, i as u32) as usize;
        let id = if root == i {
            n += 1;
            n - 1
        } else {
            part[root]
        };
        part.push(id);
    }
    (part, n as usize)
}

/// Calls `emit(a, b, k)` for each maximal stretch `[a, b)` of `xs[k]` not
/// covered by `ys` (both sorted, disjoint, non-touching).
fn subtract(xs: &[Run], ys: &[Run], mut emit: impl FnMut(u32, u32, usize)) {
    let mut lo = 0;
    for (k, x) in xs.iter().enumerate() {
        while lo < ys.len() && ys[lo].c1 <= x.c0 {
            lo += 1;
        }
        let mut cur = x.c0;
        let mut j = lo;
        while j < ys.len() && ys[j].c0 < x.c1 {
            if ys[j].c0 > cur {
                emit(cur, ys[j].c0, k);
            }
            cur = cur.max(ys[j].c1);
            j += 1;
        }
        if cur < x.c1 {
            emit(cur, x.c1, k);
        }
    }
}

fn pixel_polygons(runs: &[Run]) -> Vec<PixelPolygon> {
    let runs = normalise(runs);
    if runs.is_empty() {
        return Vec::new();
    }
    // Row groups: (row, start, end) into `runs`.
    let mut rows: Vec<(u32, usize, usize)> = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        match rows.last_mut() {
            Some(g) if g.0 == r.row => g.2 = i + 1,
            _ => rows.push((r.row, i, i + 1)),
        }
    }
    let (part, n_parts) = parts_of(&runs, &rows);

    // Boundary edges, line by line, each line's edges sorted by start x.
    let y_min = rows[0].0;
    let y_max = rows[rows.len() - 1].0 + 1; // last line
    let mut line_start = vec![u32::MAX; (y_max - y_min + 2) as usize];
    let mut edges: Vec<Edge> = Vec::with_capacity(runs.len() * 4);
    let mut line = |y: u32, above: (usize, usize), below: (usize, usize), edges: &mut Vec<Edge>| {
        let first = edges.len();
        line_start[(y - y_min) as usize] = first as u32;
        let (a, b) = (&runs[above.0..above.1], &runs[below.0..below.1]);
        // Top sides of row y's pixels (set below the line only): +x.
        subtract(b, a, |c0, c1, k| {
            edges.push(Edge {
                sx: c0,
                sy: y,
                ex: c1,
                ey: y,
                part: part[below.0 + k],
            })
        });
        // Bottom sides of row y − 1's pixels (set above the line only): −x.
        subtract(a, b, |c0, c1, k| {
            edges.push(Edge {
                sx: c1,
                sy: y,
                ex: c0,
                ey: y,
                part: part[above.0 + k],
            })
        });
        // Left sides of row y − 1's runs go from line y to line y − 1.
        for (k, r) in a.iter().enumerate() {
            edges.push(Edge {
                sx: r.c0,
                sy: y,
                ex: r.c0,
                ey: y - 1,
                part: part[above.0 + k],
            });
        }
        // Right sides of row y's runs go from line y to line y + 1.
        for (k, r) in b.iter().enumerate() {
            edges.push(Edge {
                sx: r.c1,
                sy: y,
                ex: r.c1,
                ey: y + 1,
                part: part[below.0 + k],
            });
        }
        edges[first..].sort_unstable_by_key(|e| (e.sx, e.ex, e.ey));
    };
    for (k, &(r, s, e)) in rows.iter().enumerate() {
        let above = match k.checked_sub(1).map(|p| rows[p]) {
            Some((pr, ps, pe)) if pr + 1 == r => (ps, pe),
            _ => (s, s),
        };
        line(r, above, (s, e), &mut edges);
        if rows.get(k + 1).is_none_or(|next| next.0 != r + 1) {
            line(r + 1, (s, e), (e, e), &mut edges);
        }
    }
    line_start[(y_max - y_min + 1) as usize] = edges.len() as u32;
    // Lines without edges start where the next line starts (for slicing).
    for i in (0..line_start.len() - 1).rev() {
        if line_start[i] == u32::MAX {
            line_start[i] = line_start[i + 1];
        }
    }

    // The edge that follows edge `i` on its ring.
    let next = |i: usize| -> usize {
        let e = edges[i];
        let l = (e.ey - y_min) as usize;
        let (s, t) = (line_start[l] as usize, line_start[l + 1] as usize);
        let k = s + edges[s..t].partition_point(|o| o.sx < e.ex);
        debug_assert!(k < t && edges[k].sx == e.ex, "dangling edge {e:?}");
        if k + 1 < t && edges[k + 1].sx == e.ex {
            let (o1, o2) = (edges[k], edges[k + 1]);
            match (o1.part == e.part, o2.part == e.part) {
                (true, false) => k,
                (false, true) => k + 1,
                _ => {
                    let (dx, dy) = e.dir();
                    if o1.dir() == (dy, -dx) {
                        k
                    } else {
                        k + 1
                    }
                }
            }
        } else {
            k
        }
    };

    // Trace rings, drop collinear vertices, sort into exteriors and holes.
    let mut polys = vec![PixelPolygon::default(); n_parts];
    let mut visited = vec![false; edges.len()];
    let mut raw: Vec<[u32; 2]> = Vec::new();
    for i in 0..edges.len() {
        if visited[i] {
            continue;
        }
        raw.clear();
        let mut cur = i;
        loop {
            visited[cur] = true;
            raw.push([edges[cur].sx, edges[cur].sy]);
            cur = next(cur);
            if cur == i {
                break;
            }
            assert!(!visited[cur], "outline: edge on two rings (internal error)");
        }
        let n = raw.len();
        let ring: Vec<[u32; 2]> = (0..n)
            .filter(|&k| {
                let (p, v, q) = (raw[(k + n - 1) % n], raw[k], raw[(k + 1) % n]);
                !((p[0] == v[0] && v[0] == q[0]) || (p[1] == v[1] && v[1] == q[1]))
            })
            .map(|k| raw[k])
            .collect();
        let poly = &mut polys[edges[i].part as usize];
        if twice_area(&ring) > 0 {
            assert!(
                poly.exterior.is_empty(),
                "outline: two exteriors (internal error)"
            );
            poly.exterior = ring;
        } else {
            poly.holes.push(ring);
        }
    }
    debug_assert!(polys.iter().all(|p| !p.exterior.is_empty()));
    polys
}

/// Twice the shoelace area of an open ring.
fn twice_area(ring: &[[u32; 2]]) -> i128 {
    let n = ring.len();
    (0..n)
        .map(|k| {
            let (p, q) = (ring[k], ring[(k + 1) % n]);
            p[0] as i128 * q[1] as i128 - q[0] as i128 * p[1] as i128
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::tests::{any_mask, flood_fill, Mask};
    use crate::components::{row_runs, Labeller};
    use geo::{Area, BoundingRect, Contains, Point, Validation, Winding};
    use proptest::prelude::*;
    use std::collections::{HashSet, VecDeque};

    fn runs_of(rows: &[&str]) -> Vec<Run> {
        Mask::from_rows(rows).runs()
    }

    fn coords(ls: &LineString<f64>) -> Vec<(f64, f64)> {
        ls.0.iter().map(|c| (c.x, c.y)).collect()
    }

    /// Own strict validity check, independent of geo's validator: every ring
    /// closed, ≥ 4 distinct vertices, axis-parallel edges, no vertex visited
    /// twice (for lattice rings whose edges meet only at vertices, this is
    /// "simple"), no three consecutive collinear vertices, exterior positive
    /// and holes negative (in pixel coordinates), no unit edge used twice in
    /// the whole multipolygon (parts and rings touch at points only).
    fn strict_check(mp: &MultiPolygon<f64>) -> Result<(), String> {
        let mut unit_edges: HashSet<(i64, i64, i64, i64)> = HashSet::new();
        for (pi, p) in mp.0.iter().enumerate() {
            for (ri, ring) in std::iter::once(p.exterior())
                .chain(p.interiors())
                .enumerate()
            {
                let v = &ring.0;
                let tag = format!("polygon {pi} ring {ri}");
                if v.len() < 5 || v[0] != v[v.len() - 1] {
                    return Err(format!("{tag}: not closed or too short"));
                }
                let open = &v[..v.len() - 1];
                let mut seen = HashSet::new();
                let mut a2 = 0.0;
                for k in 0..open.len() {
                    let (a, b, c) = (
                        open[k],
                        open[(k + 1) % open.len()],
                        open[(k + 2) % open.len()],
                    );
                    if a.x.fract() != 0.0 || a.y.fract() != 0.0 {
                        return Err(format!("{tag}: off-lattice vertex"));
                    }
                    if !seen.insert((a.x as i64, a.y as i64)) {
                        return Err(format!("{tag}: vertex ({}, {}) visited twice", a.x, a.y));
                    }
                    if (a.x != b.x) == (a.y != b.y) {
                        return Err(format!("{tag}: edge not axis-parallel"));
                    }
                    if (a.x == b.x && b.x == c.x) || (a.y == b.y && b.y == c.y) {
                        return Err(format!("{tag}: collinear vertex"));
                    }
                    a2 += a.x * b.y - b.x * a.y;
                    // Unit edges along this edge.
                    // (f64::signum(0.0) is 1: take signs on integers.)
                    let (dx, dy) = (
                        (b.x as i64 - a.x as i64).signum(),
                        (b.y as i64 - a.y as i64).signum(),
                    );
                    let (mut x, mut y) = (a.x as i64, a.y as i64);
                    while (x, y) != (b.x as i64, b.y as i64) {
                        let (nx, ny) = (x + dx, y + dy);
                        let key = (x.min(nx), y.min(ny), x.max(nx), y.max(ny));
                        if !unit_edges.insert(key) {
                            return Err(format!("{tag}: unit edge {key:?} used twice"));
                        }
                        (x, y) = (nx, ny);
                    }
                }
                if (ri == 0) != (a2 > 0.0) {
                    return Err(format!("{tag}: wrong orientation (2A = {a2})"));
                }
            }
        }
        Ok(())
    }

    /// Pixels whose centre lies in a polygon (searched in its bounding box).
    fn pixels_in(p: &Polygon<f64>) -> Vec<(i64, i64)> {
        let b = p.bounding_rect().expect("empty polygon");
        let mut out = Vec::new();
        for r in b.min().y as i64..b.max().y as i64 {
            for c in b.min().x as i64..b.max().x as i64 {
                if p.contains(&Point::new(c as f64 + 0.5, r as f64 + 0.5)) {
                    out.push((c, r));
                }
            }
        }
        out
    }

    fn is_4_connected(px: &[(i64, i64)]) -> bool {
        let set: HashSet<(i64, i64)> = px.iter().copied().collect();
        let mut seen = HashSet::from([px[0]]);
        let mut q = VecDeque::from([px[0]]);
        while let Some((c, r)) = q.pop_front() {
            for n in [(c + 1, r), (c - 1, r), (c, r + 1), (c, r - 1)] {
                if set.contains(&n) && seen.insert(n) {
                    q.push_back(n);
                }
            }
        }
        seen.len() == set.len()
    }

    /// Everything promised for one component's outline. `geo_valid`: also run
    /// geo's validator (quadratic in rings and parts: slow on whole masks).
    fn check_outline(
        runs: &[Run],
        pixels: u64,
        geo_valid: bool,
    ) -> Result<MultiPolygon<f64>, String> {
        let mp = outline_pixels(runs);
        if mp.unsigned_area() != pixels as f64 {
            return Err(format!("area {} != {pixels} pixels", mp.unsigned_area()));
        }
        strict_check(&mp)?;
        if geo_valid && !mp.is_valid() {
            return Err(format!("geo says invalid: {:?}", mp.validation_errors()));
        }
        // Pixel-centre membership: the centres inside each polygon (found in its
        // bounding box; no centre outside it can be inside) are pixels of the
        // set, each in exactly one polygon, and every pixel is in one. And one
        // polygon per 4-connected part: each polygon's pixels are 4-connected
        // (its interior is connected).
        let set: HashSet<(i64, i64)> = runs
            .iter()
            .flat_map(|r| (r.c0..r.c1).map(move |c| (c as i64, r.row as i64)))
            .collect();
        let mut found = HashSet::new();
        for (i, p) in mp.0.iter().enumerate() {
            let px = pixels_in(p);
            for &(c, r) in &px {
                if !set.contains(&(c, r)) {
                    return Err(format!(
                        "pixel ({c}, {r}) not in the set is inside polygon {i}"
                    ));
                }
                if !found.insert((c, r)) {
                    return Err(format!("pixel ({c}, {r}) inside two polygons"));
                }
            }
            if px.is_empty() || !is_4_connected(&px) {
                return Err(format!("polygon {i}: pixels not 4-connected"));
            }
        }
        if found.len() != set.len() {
            return Err(format!(
                "{} of {} pixels inside the outline",
                found.len(),
                set.len()
            ));
        }
        Ok(mp)
    }

    fn check_rows(rows: &[&str]) -> MultiPolygon<f64> {
        let m = Mask::from_rows(rows);
        let runs = m.runs();
        let pixels = runs.iter().map(|r| r.len() as u64).sum();
        match check_outline(&runs, pixels, true) {
            Ok(mp) => mp,
            Err(e) => panic!("{rows:?}: {e}\n{mp:?}", mp = outline_pixels(&runs)),
        }
    }

    // ------------------------------------------------------------ hand cases

    #[test]
    fn single_pixel() {
        let mp = check_rows(&["...", ".#.", "..."]);
        assert_eq!(mp.0.len(), 1);
        assert_eq!(
            coords(mp.0[0].exterior()),
            vec![(1., 1.), (2., 1.), (2., 2.), (1., 2.), (1., 1.)]
        );
        assert!(mp.0[0].interiors().is_empty());
    }

    #[test]
    fn block_2x2() {
        let mp = check_rows(&["##", "##"]);
        assert_eq!(
            coords(mp.0[0].exterior()),
            vec![(0., 0.), (2., 0.), (2., 2.), (0., 2.), (0., 0.)]
        );
    }

    #[test]
    fn l_shape() {
        let mp = check_rows(&["#.", "#.", "##"]);
        assert_eq!(mp.0.len(), 1);
        assert_eq!(
            coords(mp.0[0].exterior()),
            vec![
                (0., 0.),
                (1., 0.),
                (1., 2.),
                (2., 2.),
                (2., 3.),
                (0., 3.),
                (0., 0.)
            ]
        );
    }

    #[test]
    fn ring_of_8_around_a_hole() {
        let mp = check_rows(&["###", "#.#", "###"]);
        assert_eq!(mp.0.len(), 1);
        assert_eq!(mp.0[0].interiors().len(), 1);
        assert_eq!(mp.unsigned_area(), 8.0);
        assert_eq!(
            coords(&mp.0[0].interiors()[0]),
            vec![(1., 1.), (1., 2.), (2., 2.), (2., 1.), (1., 1.)]
        );
    }

    #[test]
    fn two_pixels_touching_diagonally() {
        for rows in [["#.", ".#"], [".#", "#."]] {
            let mp = check_rows(&rows);
            // Two squares meeting at (1, 1): two parts, not one pinched ring.
            assert_eq!(mp.0.len(), 2, "{rows:?}");
            assert_eq!(mp.unsigned_area(), 2.0);
        }
    }

    #[test]
    fn checkerboard_4x4() {
        let mp = check_rows(&["#.#.", ".#.#", "#.#.", ".#.#"]);
        assert_eq!(mp.0.len(), 8);
        assert_eq!(mp.unsigned_area(), 8.0);
        assert!(mp.0.iter().all(|p| p.exterior().0.len() == 5));
    }

    /// A ring that closes on itself at a corner: the enclosed pixel is a hole
    /// touching the exterior at one point, not a pinched exterior.
    #[test]
    fn ring_closing_at_a_corner() {
        let mp = check_rows(&["###.", "#.#.", "##..", "...."]);
        // Pixels (2,1) and (1,2) touch at (2,2) and are the same 4-part.
        assert_eq!(mp.0.len(), 1);
        assert_eq!(mp.0[0].interiors().len(), 1);
        assert_eq!(mp.unsigned_area(), 7.0);
        // ... and the reflection, whose pinch has the other diagonal.
        let mp = check_rows(&[".###", ".#.#", "..##"]);
        assert_eq!((mp.0.len(), mp.0[0].interiors().len()), (1, 1));
    }

    /// Island in a hole in a polygon: the island is its own polygon; an island
    /// touching the hole's rim at a corner too.
    #[test]
    fn island_in_hole() {
        let mp = check_rows(&[
            "#######", "#.....#", "#.....#", "#..#..#", "#.....#", "#.....#", "#######",
        ]);
        assert_eq!(mp.0.len(), 2);
        assert_eq!(mp.0[0].interiors().len(), 1);
        assert!(mp.0[1].interiors().is_empty());
        assert_eq!(mp.0[1].unsigned_area(), 1.0);
        assert_eq!(mp.unsigned_area(), 25.0);
        let mp = check_rows(&["#####", "#...#", "#..##", "#.#.#", "#...#", "#####"]);
        assert_eq!(mp.unsigned_area(), 20.0);
        // (2,3) touches the hole's rim only at the corner (3,3): a polygon of
        // its own, inside the hole, touching it at that point.
        assert_eq!(mp.0.len(), 2);
        assert_eq!(mp.0[0].interiors().len(), 1);
        assert_eq!(mp.0[1].unsigned_area(), 1.0);
        // A ring inside a hole with an island inside its own hole.
        let mp = check_rows(&[
            "#########",
            "#.......#",
            "#.#####.#",
            "#.#...#.#",
            "#.#.#.#.#",
            "#.#...#.#",
            "#.#####.#",
            "#.......#",
            "#########",
        ]);
        assert_eq!(mp.0.len(), 3);
        assert_eq!(
            mp.0.iter().map(|p| p.interiors().len()).collect::<Vec<_>>(),
            vec![1, 1, 0]
        );
    }

    #[test]
    fn big_square_has_four_vertices() {
        let runs: Vec<Run> = (0..1000)
            .map(|r| Run {
                row: r,
                c0: 7,
                c1: 1007,
            })
            .collect();
        let mp = outline_pixels(&runs);
        assert_eq!(mp.0.len(), 1);
        assert_eq!(
            coords(mp.0[0].exterior()),
            vec![(7., 0.), (1007., 0.), (1007., 1000.), (7., 1000.), (7., 0.)]
        );
        assert_eq!(mp.unsigned_area(), 1e6);
    }

    #[test]
    fn unsorted_overlapping_and_empty_input() {
        assert!(outline_pixels(&[]).0.is_empty());
        assert!(outline_pixels(&[Run {
            row: 3,
            c0: 5,
            c1: 5
        }])
        .0
        .is_empty());
        let runs = [
            Run {
                row: 1,
                c0: 2,
                c1: 4,
            },
            Run {
                row: 0,
                c0: 0,
                c1: 3,
            },
            Run {
                row: 0,
                c0: 3,
                c1: 4,
            },
            Run {
                row: 1,
                c0: 0,
                c1: 3,
            },
        ];
        let mp = outline_pixels(&runs);
        assert_eq!(
            coords(mp.0[0].exterior()),
            vec![(0., 0.), (4., 0.), (4., 2.), (0., 2.), (0., 0.)]
        );
    }

    #[test]
    fn crs_orientation_and_coordinates() {
        let g = Grid {
            x0: 500_000.0,
            y0: 2_500_000.0,
            dx: 10.0,
            dy: 10.0,
            width: 100,
            height: 100,
        };
        let runs = runs_of(&["###", "#.#", "###"]);
        let mp = outline(&runs, &g);
        let p = &mp.0[0];
        assert!(p.exterior().is_ccw());
        assert!(p.interiors()[0].is_cw());
        assert_eq!(mp.unsigned_area(), 800.0);
        assert_eq!(
            p.exterior().0[0],
            Coord {
                x: 500_000.0,
                y: 2_500_000.0
            }
        );
        assert!(p.exterior().0.contains(&Coord {
            x: 500_030.0,
            y: 2_499_970.0
        }));
        assert!(mp.is_valid());
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

    proptest! {
        #![proptest_config(config())]

        /// For every 8-connected component of a random mask: area = pixel
        /// count, valid (geo's validator and the strict own check), exact
        /// pixel-centre membership, one polygon per 4-connected part.
        #[test]
        fn prop_component_outlines_are_exact_and_valid(m in any_mask()) {
            let comps = m.components();
            prop_assert_eq!(
                comps.len() as i64,
                flood_fill(&m).into_iter().max().unwrap_or(-1) + 1
            );
            for comp in &comps {
                if let Err(e) = check_outline(&comp.runs, comp.pixels, true) {
                    return Err(TestCaseError::fail(format!("{e} for {:?}", comp.runs)));
                }
            }
        }

        /// The whole mask at once (many components, runs in any order) is
        /// also exact and valid (strict check), shuffled runs give the same
        /// result, and the CRS version has the right-hand rule.
        #[test]
        fn prop_whole_mask_outline_and_crs(m in any_mask(), shuffle in any::<u64>()) {
            let mut runs = m.runs();
            let pixels: u64 = runs.iter().map(|r| r.len() as u64).sum();
            if pixels == 0 {
                return Ok(());
            }
            let ordered = outline_pixels(&runs);
            // A deterministic shuffle must not change the result.
            let n = runs.len();
            for i in (1..n).rev() {
                let j = (shuffle.wrapping_mul(i as u64 + 1).rotate_left(17) % (i as u64 + 1)) as usize;
                runs.swap(i, j);
            }
            prop_assert_eq!(&outline_pixels(&runs), &ordered);
            // geo's validator already ran on each component (prop above); parts of
            // different components cannot touch, which the strict check covers.
            if let Err(e) = check_outline(&runs, pixels, false) {
                return Err(TestCaseError::fail(e));
            }
            let g = Grid { x0: 300_000.0, y0: 1_200_000.0, dx: 10.0, dy: 10.0, width: m.w, height: m.h };
            let crs = outline(&runs, &g);
            prop_assert_eq!(crs.unsigned_area(), pixels as f64 * 100.0);
            for p in &crs.0 {
                prop_assert!(p.exterior().is_ccw());
                prop_assert!(p.interiors().iter().all(|h| h.is_cw()));
            }
        }
    }

    // -------------------------------------------------------------- big case

    /// A noisy disc of ≈ 1.1 M pixels: ragged rim and 8 % of its pixels
    /// knocked out at random (tens of thousands of holes, many touching at
    /// corners), labelled then outlined.
    #[test]
    fn big_noisy_disc_timing() {
        let (w, h) = (1300usize, 1300usize);
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut px = vec![0u8; w * h];
        let (cx, cy) = (650.0, 650.0);
        for r in 0..h {
            for c in 0..w {
                let d = ((c as f64 + 0.5 - cx).powi(2) + (r as f64 + 0.5 - cy).powi(2)).sqrt();
                let rim = 600.0 + 6.0 * (rnd() - 0.5);
                px[r * w + c] = (d < rim && rnd() > 0.08) as u8;
            }
        }
        let t0 = std::time::Instant::now();
        let mut l = Labeller::new();
        let mut buf = Vec::new();
        for r in 0..h {
            buf.clear();
            row_runs(r as u32, &px[r * w..(r + 1) * w], &mut buf);
            l.push_row(&buf);
        }
        let comps = l.finish();
        let t_label = t0.elapsed();
        let big = comps.iter().max_by_key(|c| c.pixels).unwrap();
        assert!(big.pixels >= 1_000_000, "{}", big.pixels);
        let t1 = std::time::Instant::now();
        let mp = outline_pixels(&big.runs);
        let t_outline = t1.elapsed();
        let holes: usize = mp.0.iter().map(|p| p.interiors().len()).sum();
        let vertices: usize =
            mp.0.iter()
                .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                .map(|r| r.0.len() - 1)
                .sum();
        eprintln!(
            "noisy disc: {} px in {} runs; labelled (with row_runs) in {t_label:?}; \
             outlined in {t_outline:?}: {} polygons, {holes} holes, {vertices} vertices",
            big.pixels,
            big.runs.len(),
            mp.0.len()
        );
        assert_eq!(mp.unsigned_area(), big.pixels as f64);
        strict_check(&mp).unwrap();
        // Spot-check membership at 260 pixel centres on two diagonals (each
        // test walks all 3·10⁵ vertices).
        let mut member = vec![false; w * h];
        for r in &big.runs {
            member[r.row as usize * w + r.c0 as usize..r.row as usize * w + r.c1 as usize]
                .fill(true);
        }
        for k in (0..w).step_by(10) {
            for c in [k, (k * 7) % w] {
                let inside = mp.contains(&Point::new(c as f64 + 0.5, k as f64 + 0.5));
                assert_eq!(inside, member[k * w + c], "pixel ({c}, {k})");
            }
        }
    }
}
