//! Planted changes: clearings and regrowth patches of known size and place, one set
//! per consecutive epoch pair, placed deterministically from the seed.

use super::communes::Communes;
use super::field::{hash, salt};
use super::layout::PxRect;
use super::scene::{Change, ForcedCloud, Kind, Scene, WGS_TILE};

/// Clear pixels kept between any two planted rectangles (and forced clouds).
pub(crate) const GAP_PX: usize = 3;

/// Nominal clearing sizes (ha) and how many of each per epoch pair.
pub(crate) const CLEARINGS: &[(f64, usize)] = &[
    (20.0, 3),
    (5.0, 3),
    (2.0, 3),
    (1.0, 3),
    (0.5, 3),
    (0.36, 3),
    (0.27, 2),
    (0.2, 2),
    (0.1, 2),
];
/// Nominal regrowth sizes (ha), per epoch pair.
pub(crate) const REGROWTH: &[f64] = &[5.0, 2.0, 1.0];
/// Nominal size of the clearing hidden under a cloud of the later epoch.
pub(crate) const CLOUDED_HA: f64 = 1.0;

const ATTEMPTS: u64 = 6000;

/// Width × height in pixels of a patch of about `ha` hectares (≥ 1 px): the exact
/// pixel count when it factors with an aspect ≤ 3, else the nearest near-square.
pub(crate) fn shape(ha: f64, pixel: f64) -> (usize, usize) {
    let n = ((ha * 10_000.0 / (pixel * pixel)).round() as usize).max(1);
    let mut best: Option<(usize, usize)> = None;
    for w in 1..=n {
        if (n / w) * w == n {
            let h = n / w;
            if w >= h {
                let better = match best {
                    None => true,
                    Some((bw, bh)) => w * bh < bw * h,
                };
                if better {
                    best = Some((w, h));
                }
            }
        }
        if w * w > 4 * n {
            break;
        }
    }
    match best {
        Some((w, h)) if w <= 3 * h || n <= 3 => (w, h),
        _ => {
            let w = (n as f64).sqrt().round().max(1.0) as usize;
            let h = ((n as f64 / w as f64).round() as usize).max(1);
            (w, h)
        }
    }
}

struct Planter<'a> {
    scene: &'a Scene,
    communes: &'a Communes,
    allowed: PxRect,
    forbidden: Vec<PxRect>,
    occupied: Vec<PxRect>,
    changes: Vec<Change>,
    forced: Vec<ForcedCloud>,
    cleared: Vec<ForcedCloud>,
    stream: u64,
}

/// The planted changes and the cloud edits they need.
pub(crate) struct Planted {
    pub changes: Vec<Change>,
    /// Clouds forced over the clouded clearings in their later epoch.
    pub forced: Vec<ForcedCloud>,
    /// Zones kept clear for changes that found no naturally clear place.
    pub cleared: Vec<ForcedCloud>,
}

/// How hard a candidate is checked: the first third of the attempts wants the right
/// base cover (forest for a clearing, non-forest for a regrowth), the second third
/// takes any cover, the last third also ignores natural clouds and clears them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Strict,
    AnyCover,
    ClearClouds,
}

fn phase(attempt: u64) -> Phase {
    if attempt < ATTEMPTS / 3 {
        Phase::Strict
    } else if attempt < 2 * ATTEMPTS / 3 {
        Phase::AnyCover
    } else {
        Phase::ClearClouds
    }
}

/// What a candidate must satisfy.
struct Want {
    kind: Kind,
    from: usize,
    /// Epochs in which every covering tile must be cloud-free over the rectangle.
    clear_epochs: Vec<usize>,
    /// Must fit inside a single UTM tile.
    in_one_tile: bool,
}

impl Planter<'_> {
    fn candidate(&mut self, attempt: u64, w: usize, h: usize) -> Option<PxRect> {
        let a = self.allowed;
        if a.c1 - a.c0 < w || a.r1 - a.r0 < h {
            return None;
        }
        let k = hash(self.scene.seed, &[salt::PLANT, self.stream, attempt]);
        let c0 = a.c0 + (k % (a.c1 - a.c0 - w + 1) as u64) as usize;
        let r0 = a.r0 + ((k >> 32) % (a.r1 - a.r0 - h + 1) as u64) as usize;
        Some(PxRect {
            c0,
            r0,
            c1: c0 + w,
            r1: r0 + h,
        })
    }

    fn forest_share(&self, rect: &PxRect) -> f64 {
        let mut n = 0usize;
        for r in rect.r0..rect.r1 {
            for c in rect.c0..rect.c1 {
                n += self.scene.base_forest(c, r) as usize;
            }
        }
        n as f64 / rect.pixels() as f64
    }

    fn clear(&self, rect: &PxRect, epochs: &[usize]) -> bool {
        let l = &self.scene.layout;
        let g = rect.grow(1);
        let g = PxRect {
            c0: g.c0,
            r0: g.r0,
            c1: g.c1.min(l.grid.width),
            r1: g.r1.min(l.grid.height),
        };
        let mut tiles: Vec<usize> = (0..l.utm.len())
            .filter(|&t| l.utm[t].window.intersects(&g))
            .collect();
        if l.wgs_may_cover(&g) {
            tiles.push(WGS_TILE);
        }
        for &e in epochs {
            if self
                .forced
                .iter()
                .any(|f| f.epoch == e && f.rect.intersects(&g))
            {
                return false;
            }
            let cleared: Vec<&PxRect> = self
                .cleared
                .iter()
                .filter(|f| f.epoch == e && f.rect.intersects(&g))
                .map(|f| &f.rect)
                .collect();
            for &t in &tiles {
                for r in g.r0..g.r1 {
                    for c in g.c0..g.c1 {
                        if !cleared.iter().any(|z| z.contains(c, r))
                            && self.scene.natural_cloud(t, e, c, r)
                        {
                            return false;
                        }
                    }
                }
            }
        }
        true
    }

    /// Checks a candidate; returns the commune it is in.
    fn check(&self, rect: &PxRect, want: &Want, phase: Phase) -> Option<usize> {
        if !self.allowed.contains_rect(rect) {
            return None;
        }
        let grown = rect.grow(GAP_PX);
        if self.forbidden.iter().any(|f| f.intersects(&grown)) {
            return None;
        }
        if self.occupied.iter().any(|o| o.intersects(rect)) {
            return None;
        }
        let l = &self.scene.layout;
        if want.in_one_tile && !l.utm.iter().any(|t| t.window.contains_rect(rect)) {
            return None;
        }
        let g = &l.grid;
        let cx = g.x0 + 0.5 * (rect.c0 + rect.c1) as f64 * g.dx;
        let cy = g.y0 - 0.5 * (rect.r0 + rect.r1) as f64 * g.dy;
        let commune = self.communes.locate(cx, cy)?;
        if phase == Phase::Strict {
            let share = self.forest_share(rect);
            let ok = match want.kind {
                Kind::Clearing => share >= 0.75,
                Kind::Regrowth => share <= 0.25,
            };
            if !ok {
                return None;
            }
        }
        if phase != Phase::ClearClouds && !self.clear(rect, &want.clear_epochs) {
            return None;
        }
        Some(commune)
    }

    /// Accepts a candidate found in `phase`.
    fn accept(
        &mut self,
        rect: PxRect,
        want: &Want,
        nominal_ha: f64,
        commune: usize,
        phase: Phase,
    ) -> u32 {
        if phase == Phase::ClearClouds {
            for &e in &want.clear_epochs {
                self.cleared.push(ForcedCloud {
                    epoch: e,
                    rect: rect.grow(1),
                });
            }
        }
        let id = self.changes.len() as u32 + 1;
        let straddles = !self
            .scene
            .layout
            .utm
            .iter()
            .any(|t| t.window.contains_rect(&rect));
        self.occupied.push(rect.grow(GAP_PX));
        self.changes.push(Change {
            id,
            kind: want.kind,
            from: want.from,
            rect,
            nominal_ha,
            cloud_covered: false,
            straddles,
            commune: self.communes.items[commune].code.clone(),
        });
        id
    }

    /// Places a `w × h` patch by random search; `None` when nothing fits.
    fn place(
        &mut self,
        w: usize,
        h: usize,
        want: &Want,
        extra: usize,
    ) -> Option<(PxRect, usize, Phase)> {
        self.stream += 1;
        for attempt in 0..ATTEMPTS {
            let phase = phase(attempt);
            let rect = self.candidate(attempt, w, h)?;
            // Room for an extra margin (the forced cloud) around the rectangle.
            if extra > 0 {
                let big = rect.grow(extra);
                if rect.c0 < extra
                    || rect.r0 < extra
                    || self.occupied.iter().any(|o| o.intersects(&big))
                {
                    continue;
                }
            }
            if let Some(c) = self.check(&rect, want, phase) {
                return Some((rect, c, phase));
            }
        }
        None
    }

    fn place_straddler(&mut self, from: usize) {
        let l = &self.scene.layout;
        let p = l.grid.dx;
        let m = ((150.0 / p).ceil() as usize).max(GAP_PX);
        let h = ((90.0 / p).round() as usize).max(2);
        let (a, b) = l.col_seam;
        let (c0, c1) = (a.saturating_sub(m), b + m);
        let height = l.grid.height;
        if height < h + 2 {
            return;
        }
        let want = Want {
            kind: Kind::Clearing,
            from,
            clear_epochs: vec![from, from + 1],
            in_one_tile: false,
        };
        self.stream += 1;
        for attempt in 0..ATTEMPTS {
            let k = hash(self.scene.seed, &[salt::PLANT, self.stream, attempt]);
            let r0 = (k % (height - h) as u64) as usize;
            let rect = PxRect {
                c0,
                r0,
                c1,
                r1: r0 + h,
            };
            let phase = phase(attempt);
            if let Some(c) = self.check(&rect, &want, phase) {
                let nominal = rect.pixels() as f64 * p * p / 10_000.0;
                self.accept(rect, &want, nominal, c, phase);
                return;
            }
        }
        tracing::warn!("synth: found no place for the seam-straddling clearing");
    }
}

/// Places every planted change for every consecutive epoch pair.
pub(crate) fn plant(scene: &Scene, communes: &Communes) -> Planted {
    let l = &scene.layout;
    let p = l.grid.dx;
    let forbidden = l.utm.iter().filter_map(|t| t.triangle_box()).collect();
    let mut pl = Planter {
        scene,
        communes,
        allowed: l.utm_area(),
        forbidden,
        occupied: Vec::new(),
        changes: Vec::new(),
        forced: Vec::new(),
        cleared: Vec::new(),
        stream: 0,
    };
    let cloud_margin = ((200.0 / p).ceil() as usize).max(2);
    for from in 0..scene.epochs.len() - 1 {
        let both = vec![from, from + 1];
        // 1. A clearing fully under a cloud of the later epoch in every tile.
        let want = Want {
            kind: Kind::Clearing,
            from,
            clear_epochs: vec![from],
            in_one_tile: true,
        };
        let (w, h) = shape(CLOUDED_HA, p);
        match pl.place(w, h, &want, cloud_margin) {
            Some((rect, c, phase)) => {
                let id = pl.accept(rect, &want, CLOUDED_HA, c, phase);
                pl.changes[id as usize - 1].cloud_covered = true;
                let cloud = rect.grow(cloud_margin);
                pl.forced.push(ForcedCloud {
                    epoch: from + 1,
                    rect: cloud,
                });
                pl.occupied.push(cloud.grow(GAP_PX));
            }
            None => tracing::warn!("synth: found no place for the clouded clearing"),
        }
        // 2. A clearing across the seam of the west and east UTM tiles.
        pl.place_straddler(from);
        // 3. Clearings by size class, largest first; 4. regrowth.
        let mut todo: Vec<(Kind, f64)> = Vec::new();
        for &(ha, n) in CLEARINGS {
            todo.extend(std::iter::repeat_n((Kind::Clearing, ha), n));
        }
        todo.extend(REGROWTH.iter().map(|&ha| (Kind::Regrowth, ha)));
        for (kind, ha) in todo {
            let want = Want {
                kind,
                from,
                clear_epochs: both.clone(),
                in_one_tile: true,
            };
            let (w, h) = shape(ha, p);
            match pl.place(w, h, &want, 0) {
                Some((rect, c, phase)) => {
                    pl.accept(rect, &want, ha, c, phase);
                }
                None => tracing::warn!("synth: found no place for a {ha} ha {}", kind.as_str()),
            }
        }
    }
    if !pl.cleared.is_empty() {
        tracing::debug!(
            "synth: {} zones kept cloud-free for planted changes",
            pl.cleared.len()
        );
    }
    Planted {
        changes: pl.changes,
        forced: pl.forced,
        cleared: pl.cleared,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synth_shapes_have_the_nominal_pixel_count() {
        assert_eq!(shape(0.1, 30.0), (1, 1));
        assert_eq!(shape(0.2, 30.0), (2, 1));
        assert_eq!(shape(0.27, 30.0), (3, 1));
        assert_eq!(shape(0.36, 30.0), (2, 2));
        assert_eq!(shape(0.5, 30.0).0 * shape(0.5, 30.0).1, 6);
        let (w, h) = shape(20.0, 30.0);
        assert!((w * h) as f64 * 900.0 / 1e4 > 19.0 && w <= 3 * h);
        assert_eq!(shape(0.1, 500.0), (1, 1));
        let (w, h) = shape(20.0, 10.0);
        assert_eq!(w * h, 2000);
    }
}
