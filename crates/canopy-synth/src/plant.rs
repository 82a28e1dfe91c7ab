//! Planted changes: clearings, harvests and regrowth patches of known size and place,
//! one set per consecutive epoch pair, placed deterministically from the seed.
//!
//! Harvests (in acacia and pine zones) and zone clearings (in anise and cinnamon
//! zones) lie at least [`ZONE_INSET_PX`] inside one zone and as far from every other
//! zone; every other change lies at least as far outside every zone.

use geo::{Contains, Intersects, Rect};

use super::communes::Communes;
use super::field::{hash, salt};
use super::layout::PxRect;
use super::scene::{Change, ForcedCloud, Kind, Scene, WGS_TILE};
use super::zones::Zones;

/// Clear pixels kept between any two planted rectangles (and forced clouds).
pub(crate) const GAP_PX: usize = 3;
/// Pixels between a planted rectangle and the boundary of its zone (inside), or of
/// every zone (outside).
pub(crate) const ZONE_INSET_PX: usize = 2;

/// Harvests (clear-cuts) per epoch pair, nominal ha, by species of zone.
pub(crate) const HARVESTS: &[(&str, &[f64])] = &[
    ("acacia", &[9.0, 4.5, 2.0, 1.0]),
    ("pine", &[6.0, 2.5, 1.2]),
];
/// Clearings inside zones of tree crops per epoch pair, nominal ha, by species.
pub(crate) const ZONE_CLEARINGS: &[(&str, &[f64])] =
    &[("anise", &[2.0, 1.0, 0.5]), ("cinnamon", &[1.5, 0.8, 0.5])];

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
    zones: &'a Zones,
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

/// Where a change goes relative to the planting zones.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// ≥ `ZONE_INSET_PX` outside every zone.
    Outside,
    /// ≥ `ZONE_INSET_PX` inside one zone of this species (index into the zones'
    /// species) and outside every other zone.
    InZone(usize),
}

/// What a candidate must satisfy.
struct Want {
    kind: Kind,
    place: Place,
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

    /// A candidate inside a zone of `list` (indices into the zones): a zone by hash,
    /// then a place in its bounding box leaving room for the inset.
    fn zone_candidate(
        &self,
        attempt: u64,
        w: usize,
        h: usize,
        list: &[usize],
    ) -> Option<(PxRect, usize)> {
        if list.is_empty() {
            return None;
        }
        let k = hash(self.scene.seed, &[salt::PLANT, self.stream, attempt]);
        let z = list[(k % list.len() as u64) as usize];
        let b = self.zones.items[z].bbox;
        let g = &self.scene.layout.grid;
        let m = ZONE_INSET_PX;
        let lo = |v: f64| v.floor().max(0.0) as usize;
        let (c_lo, c_hi) = (lo((b.0 - g.x0) / g.dx), lo((b.2 - g.x0) / g.dx));
        let (r_lo, r_hi) = (lo((g.y0 - b.3) / g.dy), lo((g.y0 - b.1) / g.dy));
        if c_hi < c_lo + w + 2 * m || r_hi < r_lo + h + 2 * m {
            return None;
        }
        let k2 = hash(self.scene.seed, &[salt::PLANT, self.stream, attempt, 1]);
        let c0 = c_lo + m + (k2 % (c_hi - c_lo - w - 2 * m + 1) as u64) as usize;
        let r0 = r_lo + m + ((k2 >> 32) % (r_hi - r_lo - h - 2 * m + 1) as u64) as usize;
        Some((
            PxRect {
                c0,
                r0,
                c1: c0 + w,
                r1: r0 + h,
            },
            z,
        ))
    }

    /// The rectangle's pixels grown by `m` pixels, as an EPSG:32648 rectangle.
    fn utm_rect(&self, rect: &PxRect, m: usize) -> Rect<f64> {
        let g = &self.scene.layout.grid;
        let b = [
            g.x0 + (rect.c0 as f64 - m as f64) * g.dx,
            g.y0 - (rect.r1 + m) as f64 * g.dy,
            g.x0 + (rect.c1 + m) as f64 * g.dx,
            g.y0 - (rect.r0 as f64 - m as f64) * g.dy,
        ];
        Rect::new((b[0], b[1]), (b[2], b[3]))
    }

    /// True when `rect` grown by `ZONE_INSET_PX` meets no zone but `except`.
    fn clear_of_zones(&self, rect: &PxRect, except: Option<usize>) -> bool {
        let r = self.utm_rect(rect, ZONE_INSET_PX);
        self.zones.items.iter().enumerate().all(|(i, z)| {
            Some(i) == except
                || z.bbox.0 > r.max().x
                || z.bbox.2 < r.min().x
                || z.bbox.1 > r.max().y
                || z.bbox.3 < r.min().y
                || !z.poly.intersects(&r)
        })
    }

    /// True when `rect` grown by `ZONE_INSET_PX` is inside zone `z`.
    fn inside_zone(&self, rect: &PxRect, z: usize) -> bool {
        let r = self.utm_rect(rect, ZONE_INSET_PX);
        let p = &self.zones.items[z].poly;
        r.to_polygon().exterior().coords().all(|c| p.contains(c)) && p.contains(&r)
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

    /// Checks a candidate (in zone `zone` for `Place::InZone`); returns the commune it
    /// is in.
    fn check(
        &self,
        rect: &PxRect,
        want: &Want,
        phase: Phase,
        zone: Option<usize>,
    ) -> Option<usize> {
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
        match (want.place, zone) {
            (Place::Outside, _) => {
                if !self.clear_of_zones(rect, None) {
                    return None;
                }
            }
            (Place::InZone(_), Some(z)) => {
                if !self.inside_zone(rect, z) || !self.clear_of_zones(rect, Some(z)) {
                    return None;
                }
            }
            (Place::InZone(_), None) => return None,
        }
        if phase == Phase::Strict {
            let share = self.forest_share(rect);
            let ok = match want.kind {
                Kind::Clearing | Kind::Harvest => share >= 0.75,
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
        zone: Option<usize>,
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
            zone,
        });
        id
    }

    /// Places a `w × h` patch by random search; `None` when nothing fits. Returns the
    /// rectangle, its commune, the phase and its zone.
    fn place(
        &mut self,
        w: usize,
        h: usize,
        want: &Want,
        extra: usize,
    ) -> Option<(PxRect, usize, Phase, Option<usize>)> {
        self.stream += 1;
        let list: Vec<usize> = match want.place {
            Place::Outside => vec![],
            Place::InZone(sp) => (0..self.zones.items.len())
                .filter(|&i| self.zones.items[i].species == sp)
                .collect(),
        };
        for attempt in 0..ATTEMPTS {
            let phase = phase(attempt);
            let (rect, zone) = match want.place {
                Place::Outside => (self.candidate(attempt, w, h)?, None),
                Place::InZone(_) => {
                    if list.is_empty() {
                        return None;
                    }
                    match self.zone_candidate(attempt, w, h, &list) {
                        Some((r, z)) => (r, Some(z)),
                        None => continue,
                    }
                }
            };
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
            if let Some(c) = self.check(&rect, want, phase, zone) {
                return Some((rect, c, phase, zone));
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
            place: Place::Outside,
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
            if let Some(c) = self.check(&rect, &want, phase, None) {
                let nominal = rect.pixels() as f64 * p * p / 10_000.0;
                self.accept(rect, &want, nominal, c, phase, None);
                return;
            }
        }
        tracing::warn!("synth: found no place for the seam-straddling clearing");
    }
}

/// Places every planted change for every consecutive epoch pair.
pub(crate) fn plant(scene: &Scene, communes: &Communes, zones: &Zones) -> Planted {
    let l = &scene.layout;
    let p = l.grid.dx;
    let forbidden = l.utm.iter().filter_map(|t| t.triangle_box()).collect();
    let mut pl = Planter {
        scene,
        communes,
        zones,
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
            place: Place::Outside,
            from,
            clear_epochs: vec![from],
            in_one_tile: true,
        };
        let (w, h) = shape(CLOUDED_HA, p);
        match pl.place(w, h, &want, cloud_margin) {
            Some((rect, c, phase, _)) => {
                let id = pl.accept(rect, &want, CLOUDED_HA, c, phase, None);
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
        // 3. Harvests in acacia and pine zones, clearings in anise and cinnamon zones
        // (species the zones have); 4. clearings of natural forest (outside every
        // zone) by size class, largest first; 5. regrowth.
        let mut todo: Vec<(Kind, Place, f64)> = Vec::new();
        for (list, kind) in [(HARVESTS, Kind::Harvest), (ZONE_CLEARINGS, Kind::Clearing)] {
            for &(species, sizes) in list {
                if let Some(sp) = zones.species_index(species) {
                    todo.extend(sizes.iter().map(|&ha| (kind, Place::InZone(sp), ha)));
                }
            }
        }
        for &(ha, n) in CLEARINGS {
            todo.extend(std::iter::repeat_n((Kind::Clearing, Place::Outside, ha), n));
        }
        todo.extend(
            REGROWTH
                .iter()
                .map(|&ha| (Kind::Regrowth, Place::Outside, ha)),
        );
        for (kind, place, ha) in todo {
            let want = Want {
                kind,
                place,
                from,
                clear_epochs: both.clone(),
                in_one_tile: true,
            };
            let (w, h) = shape(ha, p);
            match pl.place(w, h, &want, 0) {
                Some((rect, c, phase, zone)) => {
                    pl.accept(rect, &want, ha, c, phase, zone);
                }
                None => match place {
                    Place::Outside => {
                        tracing::warn!("synth: found no place for a {ha} ha {}", kind.as_str())
                    }
                    Place::InZone(sp) => tracing::warn!(
                        "synth: found no place for a {ha} ha {} in a {} zone",
                        kind.as_str(),
                        zones.species[sp]
                    ),
                },
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
