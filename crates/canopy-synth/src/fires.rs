//! The sample's satellite hotspots (`fire/firms_viirs.csv`), in the real NASA
//! FIRMS VIIRS 375 m CSV layout (near-real-time download: no `type` column,
//! `version` 2.0NRT, `acq_time` as UTC `HHMM`, one written without its leading
//! zero as FIRMS sometimes does), during the weather stations' dry spell:
//!
//! - one fire in natural forest (≥ 70 % forest in the base field, no planting
//!   zone within 1.2 km, no planted change within 2 km): six detections by S-NPP
//!   on the last day but one (nominal and high confidence), two by NOAA-20 the
//!   next night 400 m further east: one fire event, a `fire` alert of severity
//!   high;
//! - one low-confidence detection in forest elsewhere: stored, its own event,
//!   no alert;
//! - two detections outside the region (counted and reported, not stored).
//!
//! The forest stays forest in every epoch (the fire is after the last image),
//! so the loss alerts and their truth are unchanged. Deterministic.
//!
//! - the fire that burned the **burned patch** (below): three detections (S-NPP
//!   and NOAA-20 by day, S-NPP the next night) over the patch's centre eight days
//!   after the earlier epoch's date (before the later epoch's first scene, 20
//!   January), within 30 m of the centre so their 390 × 360 m footprints stay in
//!   the clearing: one fire event over the burned clearing whose forest (in the
//!   latest epoch, where the clearing is no longer forest) is below the alert
//!   threshold, so it adds no fire alert; the clearing's loss alert carries the
//!   cause (`fire`, from dNBR). Written first (FIRMS files are in date order).
//!
//! Burned area (band 4 of every spectral tile, SWIR2 as Sentinel-2 B12, same L2A
//! scale and offset, nodata 0): SWIR2 reflectance is 0.2 × the NIR reflectance
//! (NBR = 0.8 / 1.2 = 0.667 whatever the cover), except on the **burned patch**:
//! the first planted clearing (outside zones, not under a forced cloud, not
//! straddling tiles), whose pixels in the epochs after its clearing have SWIR2 =
//! 1.5 × NIR (NBR = −0.2). So that clearing's loss alert is 100 % burned (dNBR
//! 0.867, high severity: cause `fire`) and every other pixel has dNBR ≈ 0. The
//! red, NIR and mask bands are unchanged, so every other figure of the sample is
//! too.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{Duration, NaiveDate};
use geo::BoundingRect;
use proj::Proj;

use super::communes::Communes;
use super::scene::Scene;
use super::zones::Zones;
use super::SynthError;

/// The file, relative to the region directory.
pub(crate) const FILE: &str = "fire/firms_viirs.csv";

/// Half the side (m) of the box that must be forest, zone-free and in one commune.
const HALF: f64 = 1200.0;

/// Whether a fire site at `(x, y)` (EPSG:32648) fits: in a commune with its
/// whole box, no zone near, no planted change within 2 km, mostly forest.
fn fits(scene: &Scene, communes: &Communes, zones: &Zones, x: f64, y: f64) -> bool {
    let corners = [
        (x - HALF, y - HALF),
        (x + HALF, y - HALF),
        (x - HALF, y + HALF),
        (x + HALF, y + HALF),
        (x, y),
    ];
    if corners
        .iter()
        .any(|&(a, b)| communes.locate(a, b).is_none())
    {
        return false;
    }
    let near_zone = zones.items.iter().any(|z| {
        z.poly.bounding_rect().is_some_and(|r| {
            r.min().x < x + HALF
                && r.max().x > x - HALF
                && r.min().y < y + HALF
                && r.max().y > y - HALF
        })
    });
    if near_zone {
        return false;
    }
    let g = &scene.layout.grid;
    let px = |v: f64, o: f64, d: f64| ((v - o) / d).floor();
    let (c0, c1) = (px(x - HALF, g.x0, g.dx), px(x + HALF, g.x0, g.dx));
    let (r0, r1) = (
        px(g.y0 - (y + HALF), 0.0, g.dy),
        px(g.y0 - (y - HALF), 0.0, g.dy),
    );
    if c0 < 0.0 || r0 < 0.0 || c1 >= g.width as f64 || r1 >= g.height as f64 {
        return false;
    }
    let (c0, c1, r0, r1) = (c0 as usize, c1 as usize, r0 as usize, r1 as usize);
    let margin = (2000.0 / g.dx).ceil() as usize;
    let near_change = scene.changes.iter().any(|ch| {
        let r = ch.rect.grow(margin);
        r.c0 <= c1 && c0 < r.c1 && r.r0 <= r1 && r0 < r.r1
    });
    if near_change {
        return false;
    }
    let (mut n, mut f) = (0usize, 0usize);
    for r in (r0..=r1).step_by(2) {
        for c in (c0..=c1).step_by(2) {
            n += 1;
            f += scene.base_forest(c, r) as usize;
        }
    }
    n > 0 && f as f64 >= 0.7 * n as f64
}

/// Candidate sites: a 2 km lattice over the grid, from the centre outwards.
fn sites(scene: &Scene, communes: &Communes, zones: &Zones) -> Vec<(f64, f64)> {
    let (x0, y0, x1, y1) = scene.layout.grid.bounds();
    let (cx, cy) = (0.5 * (x0 + x1), 0.5 * (y0 + y1));
    let step = 2000.0;
    let (nx, ny) = (((x1 - x0) / step) as i64 / 2, ((y1 - y0) / step) as i64 / 2);
    let mut cand: Vec<(i64, i64)> = (-nx..=nx)
        .flat_map(|i| (-ny..=ny).map(move |j| (i, j)))
        .collect();
    cand.sort_by_key(|&(i, j)| (i * i + j * j, i, j));
    cand.into_iter()
        .map(|(i, j)| (cx + i as f64 * step, cy + j as f64 * step))
        .filter(|&(x, y)| fits(scene, communes, zones, x, y))
        .collect()
}

/// Writes the hotspot file; returns the number of detections written, or 0
/// when no fire site fits (then no file is written).
pub(crate) fn write(
    out_dir: &Path,
    scene: &Scene,
    communes: &Communes,
    zones: &Zones,
    last: &str,
) -> Result<usize, SynthError> {
    let proj_err = |msg: String| SynthError::Proj {
        what: "hotspots".into(),
        msg,
    };
    let last: NaiveDate = last
        .parse()
        .map_err(|_| proj_err(format!("last epoch date {last} is not YYYY-MM-DD")))?;
    let found = sites(scene, communes, zones);
    let Some(&(fx, fy)) = found.first() else {
        tracing::warn!("synth: no place for a fire in natural forest; no hotspots written");
        return Ok(0);
    };
    // The low-confidence detection: the candidate farthest from the fire.
    let (lx, ly) = found
        .iter()
        .copied()
        .max_by(|a, b| {
            let d = |p: &(f64, f64)| (p.0 - fx).hypot(p.1 - fy);
            d(a).total_cmp(&d(b))
        })
        .unwrap_or((fx, fy));
    let to_ll = Proj::new_known_crs("EPSG:32648", "EPSG:4326", None)
        .map_err(|e| proj_err(e.to_string()))?;
    let (x0, y0, x1, _) = scene.layout.grid.bounds();
    let d1 = (last - Duration::days(1)).to_string();
    let d0 = last.to_string();
    // (x, y, date, acq_time, satellite, confidence, bright_ti4, frp, day/night)
    let mut rows: Vec<(f64, f64, &str, &str, &str, &str, f64, f64, &str)> = Vec::new();
    let burn_date = burn_fire_date(scene)?;
    if let (Some(b), Some(date)) = (scene.burned_patch(), burn_date.as_deref()) {
        let g = &scene.layout.grid;
        let cx = g.x0 + 0.5 * (b.rect.c0 + b.rect.c1) as f64 * g.dx;
        let cy = g.y0 - 0.5 * (b.rect.r0 + b.rect.r1) as f64 * g.dy;
        rows.push((cx, cy, date, "0642", "N", "h", 352.8, 24.6, "D"));
        rows.push((
            cx + 20.0,
            cy - 30.0,
            date,
            "0731",
            "N20",
            "n",
            344.1,
            18.2,
            "D",
        ));
        rows.push((
            cx - 20.0,
            cy + 20.0,
            date,
            "1857",
            "N",
            "n",
            309.5,
            7.4,
            "N",
        ));
    }
    for (k, (dx, dy)) in [
        (0.0, 0.0),
        (375.0, 0.0),
        (750.0, 0.0),
        (0.0, -375.0),
        (375.0, -375.0),
        (750.0, -375.0),
    ]
    .into_iter()
    .enumerate()
    {
        let conf = if k % 3 == 1 { "h" } else { "n" };
        rows.push((
            fx + dx,
            fy + dy,
            &d1,
            "618",
            "N",
            conf,
            336.4 + k as f64,
            6.5 + 2.0 * k as f64,
            "D",
        ));
    }
    rows.push((fx + 1150.0, fy, &d1, "1842", "N20", "n", 318.2, 4.1, "N"));
    rows.push((
        fx + 1150.0,
        fy - 375.0,
        &d1,
        "1842",
        "N20",
        "h",
        341.0,
        15.3,
        "N",
    ));
    if (lx, ly) != (fx, fy) {
        rows.push((lx, ly, &d0, "0536", "N20", "l", 302.7, 0.9, "D"));
    }
    rows.push((
        x0 - 15_000.0,
        y0 + 5_000.0,
        &d0,
        "0536",
        "N20",
        "n",
        331.0,
        3.3,
        "D",
    ));
    rows.push((
        x1 + 20_000.0,
        y0 - 8_000.0,
        &d1,
        "0618",
        "N",
        "h",
        345.9,
        21.7,
        "D",
    ));
    let mut text = String::from(
        "latitude,longitude,bright_ti4,scan,track,acq_date,acq_time,satellite,instrument,confidence,version,bright_ti5,frp,daynight\n",
    );
    for (x, y, date, time, sat, conf, bt, frp, dn) in &rows {
        let (lon, lat) = to_ll
            .convert((*x, *y))
            .map_err(|e| proj_err(e.to_string()))?;
        let _ = writeln!(
            text,
            "{lat:.5},{lon:.5},{bt:.2},0.39,0.36,{date},{time},{sat},VIIRS,{conf},2.0NRT,{:.2},{frp:.2},{dn}",
            bt - 40.0
        );
    }
    let path = out_dir.join(FILE);
    let io = |source| SynthError::Io {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(&path, text).map_err(io)?;
    Ok(rows.len())
}

/// The date of the fire that burned the burned patch: eight days after the
/// earlier epoch's date (`None` without a burned patch).
fn burn_fire_date(scene: &Scene) -> Result<Option<String>, SynthError> {
    let Some(b) = scene.burned_patch() else {
        return Ok(None);
    };
    let Some(e) = scene.epochs.get(b.from) else {
        return Ok(None);
    };
    let d: NaiveDate = e.date.parse().map_err(|_| SynthError::Proj {
        what: "hotspots".into(),
        msg: format!("epoch date {} is not YYYY-MM-DD", e.date),
    })?;
    Ok(Some((d + Duration::days(8)).to_string()))
}

/// SWIR2 / NIR reflectance ratio of unburned land and of the burned patch.
const SWIR_RATIO: (u32, u32) = (1, 5);
const SWIR_RATIO_BURNED: (u32, u32) = (3, 2);

/// The SWIR2 DN of a pixel from its NIR DN (L2A: reflectance = DN / 10000 − 0.1):
/// reflectance 0.2 × NIR, or 1.5 × NIR on the burned patch; nodata (0) stays 0.
pub(crate) fn swir_dn(nir_dn: u16, burned: bool) -> u16 {
    if nir_dn == 0 {
        return 0;
    }
    let (num, den) = if burned {
        SWIR_RATIO_BURNED
    } else {
        SWIR_RATIO
    };
    let refl = (nir_dn as u32).saturating_sub(1000);
    (1000 + (refl * num + den / 2) / den).min(u16::MAX as u32) as u16
}

/// The sample's burned patch: a planted clearing's rectangle, burned in every
/// epoch after `from`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BurnedPatch {
    pub rect: super::layout::PxRect,
    pub from: usize,
}

impl BurnedPatch {
    pub fn burned(&self, c: usize, r: usize, e: usize) -> bool {
        e > self.from && self.rect.contains(c, r)
    }
}

impl Scene {
    /// The burned patch (see the module doc), if the sample has a fitting clearing.
    pub(crate) fn burned_patch(&self) -> Option<BurnedPatch> {
        self.changes
            .iter()
            .find(|c| {
                c.kind == super::scene::Kind::Clearing
                    && !c.cloud_covered
                    && !c.straddles
                    && c.zone.is_none()
            })
            .map(|c| BurnedPatch {
                rect: c.rect,
                from: c.from,
            })
    }
}

#[cfg(test)]
mod swir_tests {
    use super::swir_dn;

    #[test]
    fn swir_by_hand() {
        // NIR DN 4000 → reflectance 0.3; SWIR2 0.06 → DN 1600; burned 0.45 → 5500.
        assert_eq!(swir_dn(4000, false), 1600);
        assert_eq!(swir_dn(4000, true), 5500);
        assert_eq!(swir_dn(0, false), 0);
        assert_eq!(swir_dn(900, false), 1000);
    }
}
