//! Planting zones: the `[zone_target.<species>]` tables of a targets file, matched to
//! the communes layer, and 2–4 zone polygons per species and named commune, written
//! to `zones.geojson` (EPSG:4326).
//!
//! Each zone is a blob (a smooth star-shaped outline) or a rotated rectangle of
//! 50–600 ha, at least [`ZONE_MARGIN_M`] inside its commune and at least
//! [`ZONE_GAP_M`] from every other zone, except [`OVERLAPS`] deliberate pairs of zones
//! of different species that overlap partly. The polygons used everywhere (areas,
//! forest mask, planted changes, truth) are the ones read back from the written
//! lon/lat coordinates, so what the pipeline reads is exactly what the truth
//! describes. Everything is a pure function of the seed (shapes use no `sin`/`cos`:
//! a polynomial of `+ − ×`, and rotations by rational parametrisation).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use canopy_core::grid::Grid;
use geo::{Area, BooleanOps, Contains, Coord, LineString, Polygon, Validation};
use proj::Proj;

use super::communes::Communes;
use super::field::{hash, salt, unit};
use super::layout::lonlat_to_utm;
use super::names::{self, NameMatch};
use super::SynthError;

/// Smallest and largest zone, ha.
pub(crate) const ZONE_MIN_HA: f64 = 50.0;
pub(crate) const ZONE_MAX_HA: f64 = 600.0;
/// Range the zone sizes are drawn from (inside the promised one, so the lon/lat
/// rounding and the shrinking never leave it).
const DRAW_MIN_HA: f64 = 60.0;
const DRAW_MAX_HA: f64 = 560.0;
/// Distance every zone keeps from its commune's boundary, metres.
pub(crate) const ZONE_MARGIN_M: f64 = 400.0;
/// Distance between zones that are not meant to overlap, metres.
pub(crate) const ZONE_GAP_M: f64 = 150.0;
/// Deliberate overlaps between zones of different species.
pub(crate) const OVERLAPS: usize = 2;
/// Zones per species and commune: `MIN_PER_COMMUNE..=MAX_PER_COMMUNE`.
pub(crate) const MIN_PER_COMMUNE: usize = 2;
pub(crate) const MAX_PER_COMMUNE: usize = 4;
/// Inside a zone, forest is forced except in cells of this size (metres) drawn with
/// probability `GAP_SHARE`, where the ordinary forest field decides.
pub(crate) const GAP_CELL_M: f64 = 120.0;
pub(crate) const GAP_SHARE: f64 = 0.08;
/// Lon/lat are written rounded to 1e-8 degree (~1 mm).
const LONLAT_SCALE: f64 = 1e8;
/// Vertices of a blob outline.
const BLOB_VERTICES: usize = 48;
/// Attempts per zone; the drawn size shrinks by a quarter every `SHRINK_EVERY`.
const ZONE_ATTEMPTS: u64 = 720;
const SHRINK_EVERY: u64 = 120;
const OVERLAP_ATTEMPTS: u64 = 2000;
/// Overlap between the deliberate pairs, as a share of the smaller zone.
pub(crate) const OVERLAP_SHARE: (f64, f64) = (0.10, 0.50);

/// One `[zone_target.<species>]` table.
#[derive(Clone, Debug)]
pub(crate) struct ZoneTarget {
    pub species: String,
    pub province: Option<String>,
    pub communes: Vec<String>,
}

fn targets_err(path: &Path, msg: impl Into<String>) -> SynthError {
    SynthError::Targets {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// Reads the `[zone_target.<species>]` tables of a targets file, sorted by species.
pub(crate) fn read_targets(path: &Path) -> Result<Vec<ZoneTarget>, SynthError> {
    let text = std::fs::read_to_string(path).map_err(|e| targets_err(path, e.to_string()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| targets_err(path, e.to_string()))?;
    let Some(zt) = table.get("zone_target") else {
        return Ok(vec![]);
    };
    let zt = zt
        .as_table()
        .ok_or_else(|| targets_err(path, "zone_target must be a table of species tables"))?;
    let mut out = Vec::new();
    for (species, v) in zt {
        let t = v
            .as_table()
            .ok_or_else(|| targets_err(path, format!("zone_target.{species} must be a table")))?;
        let communes = match t.get("communes") {
            None => {
                tracing::warn!("synth: zone_target.{species} has no communes; ignored");
                continue;
            }
            Some(c) => c
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .map(|x| x.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| {
                    targets_err(
                        path,
                        format!("zone_target.{species}.communes must be a list of names"),
                    )
                })?,
        };
        let province = t
            .get("province")
            .and_then(|p| p.as_str())
            .map(str::to_string);
        out.push(ZoneTarget {
            species: species.clone(),
            province,
            communes,
        });
    }
    out.sort_by(|a, b| a.species.cmp(&b.species));
    Ok(out)
}

/// A (species, commune) pair named by the plan and found in the layer.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// Index into [`Matched::species`].
    pub species: usize,
    /// Index into the communes.
    pub commune: usize,
    /// The name as the plan writes it.
    pub plan_name: String,
}

/// A name of the plan not found in the layer.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Unmatched {
    pub species: String,
    pub name: String,
    /// "not found", or "ambiguous: <codes>".
    pub reason: String,
}

/// A name found only by its diacritic-free form.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Fallback {
    pub species: String,
    pub plan_name: String,
    pub commune_name: String,
    pub commune_code: String,
}

/// A targets table left out.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Skipped {
    pub species: String,
    pub province: Option<String>,
    pub reason: String,
}

/// The plan's communes matched to the layer.
#[derive(Clone, Debug, Default)]
pub(crate) struct Matched {
    /// Species keys with at least one commune found, sorted.
    pub species: Vec<String>,
    pub entries: Vec<Entry>,
    pub unmatched: Vec<Unmatched>,
    pub fallbacks: Vec<Fallback>,
    pub skipped: Vec<Skipped>,
}

/// Matches every target's communes to the layer (see [`super::names`]). A table
/// whose `province` names another region than `region_name` is skipped (names are
/// not unique across provinces), and so is one none of whose communes is found.
pub(crate) fn match_targets(
    targets: &[ZoneTarget],
    communes: &Communes,
    region_name: &str,
) -> Matched {
    let names: Vec<String> = communes.items.iter().map(|c| c.name.clone()).collect();
    let mut m = Matched::default();
    for t in targets {
        if let Some(p) = &t.province {
            if names::plain_key(p) != names::plain_key(region_name) {
                tracing::info!(
                    "synth: zone_target.{} is for {p}, not {region_name}; skipped",
                    t.species
                );
                m.skipped.push(Skipped {
                    species: t.species.clone(),
                    province: Some(p.clone()),
                    reason: format!("province {p} is not the region {region_name}"),
                });
                continue;
            }
        }
        let mut entries = Vec::new();
        let mut unmatched = Vec::new();
        let mut fallbacks = Vec::new();
        for name in &t.communes {
            let found = match names::find(name, &names) {
                NameMatch::Exact(i) => Some(i),
                NameMatch::Plain(i) => {
                    fallbacks.push(Fallback {
                        species: t.species.clone(),
                        plan_name: name.clone(),
                        commune_name: names[i].clone(),
                        commune_code: communes.items[i].code.clone(),
                    });
                    Some(i)
                }
                NameMatch::Ambiguous(v) => {
                    let codes: Vec<&str> =
                        v.iter().map(|&i| communes.items[i].code.as_str()).collect();
                    unmatched.push(Unmatched {
                        species: t.species.clone(),
                        name: name.clone(),
                        reason: format!("ambiguous: {}", codes.join(", ")),
                    });
                    None
                }
                NameMatch::NotFound => {
                    unmatched.push(Unmatched {
                        species: t.species.clone(),
                        name: name.clone(),
                        reason: "not found".into(),
                    });
                    None
                }
            };
            if let Some(i) = found {
                if !entries.iter().any(|e: &Entry| e.commune == i) {
                    entries.push(Entry {
                        species: m.species.len(),
                        commune: i,
                        plan_name: name.clone(),
                    });
                }
            }
        }
        if entries.is_empty() {
            tracing::warn!(
                "synth: none of the {} communes of zone_target.{} is in the communes layer; skipped",
                t.communes.len(),
                t.species
            );
            m.skipped.push(Skipped {
                species: t.species.clone(),
                province: t.province.clone(),
                reason: "no commune found".into(),
            });
            continue;
        }
        for u in &unmatched {
            tracing::warn!(
                "synth: zone_target.{}: commune {:?} {} in the communes layer; no zones for it",
                u.species,
                u.name,
                if u.reason == "not found" {
                    "not found".to_string()
                } else {
                    format!("is {}", u.reason)
                }
            );
        }
        for f in &fallbacks {
            tracing::info!(
                "synth: zone_target.{}: {:?} taken as {:?} ({})",
                f.species,
                f.plan_name,
                f.commune_name,
                f.commune_code
            );
        }
        m.species.push(t.species.clone());
        m.entries.extend(entries);
        m.unmatched.extend(unmatched);
        m.fallbacks.extend(fallbacks);
    }
    m
}

/// One planting zone.
#[derive(Clone, Debug)]
pub(crate) struct Zone {
    /// Planting-zone code, e.g. "LS-ACACIA-0007".
    pub code: String,
    /// Index into [`Zones::species`].
    pub species: usize,
    /// Index into the communes.
    pub commune: usize,
    /// "blob" or "rectangle".
    pub shape: &'static str,
    /// The polygon in EPSG:32648, from the written lon/lat (closed, counter-clockwise).
    pub poly: Polygon<f64>,
    /// The ring as written, (lon, lat), closed.
    pub lonlat: Vec<(f64, f64)>,
    /// `(xmin, ymin, xmax, ymax)` of `poly`.
    pub bbox: (f64, f64, f64, f64),
    /// Planar area of `poly`, ha.
    pub area_ha: f64,
}

/// A deliberate overlap of two zones of different species.
#[derive(Clone, Debug)]
pub(crate) struct Overlap {
    /// Indices into [`Zones::items`]: `a` was placed first, `b` over it.
    pub a: usize,
    pub b: usize,
    pub area_ha: f64,
}

/// The zones of a region.
#[derive(Clone, Debug, Default)]
pub(crate) struct Zones {
    pub species: Vec<String>,
    pub items: Vec<Zone>,
    pub overlaps: Vec<Overlap>,
    pub matched: Matched,
    /// (species, commune) pairs that got fewer than `MIN_PER_COMMUNE` zones.
    pub short: Vec<(usize, usize, usize)>,
}

impl Zones {
    /// Index of species `key`, if it has zones.
    pub fn species_index(&self, key: &str) -> Option<usize> {
        self.species.iter().position(|s| s == key)
    }
}

/// `(sin θ, cos θ)` by range reduction and Taylor polynomials: only `+ − × ÷ floor`,
/// so the same bits everywhere (error < 1e-12).
pub(crate) fn sin_cos(theta: f64) -> (f64, f64) {
    use std::f64::consts::{FRAC_PI_2, PI};
    let two_pi = 2.0 * PI;
    let k = ((theta + PI) / two_pi).floor();
    let x = theta - k * two_pi;
    let (x, sign) = if x > FRAC_PI_2 {
        (PI - x, -1.0)
    } else if x < -FRAC_PI_2 {
        (-PI - x, -1.0)
    } else {
        (x, 1.0)
    };
    let x2 = x * x;
    let s = x
        * (1.0
            - x2 / 6.0
                * (1.0
                    - x2 / 20.0
                        * (1.0
                            - x2 / 42.0
                                * (1.0
                                    - x2 / 72.0
                                        * (1.0
                                            - x2 / 110.0
                                                * (1.0
                                                    - x2 / 156.0
                                                        * (1.0
                                                            - x2 / 210.0
                                                                * (1.0 - x2 / 272.0))))))));
    let c = 1.0
        - x2 / 2.0
            * (1.0
                - x2 / 12.0
                    * (1.0
                        - x2 / 30.0
                            * (1.0
                                - x2 / 56.0
                                    * (1.0
                                        - x2 / 90.0
                                            * (1.0
                                                - x2 / 132.0
                                                    * (1.0 - x2 / 182.0 * (1.0 - x2 / 240.0)))))));
    (s, sign * c)
}

/// A rotation `(cos, sin)` from `u` in `[0, 1)`: the rational parametrisation with
/// `t = 2u − 1`, covering −90°..90° (enough for shapes symmetric under a half turn).
fn rotation(u: f64) -> (f64, f64) {
    let t = 2.0 * u - 1.0;
    let d = 1.0 + t * t;
    ((1.0 - t * t) / d, 2.0 * t / d)
}

/// Signed area of an open ring (counter-clockwise positive).
fn ring_area(ring: &[(f64, f64)]) -> f64 {
    let n = ring.len();
    let mut a = 0.0;
    for i in 0..n {
        let (x0, y0) = ring[i];
        let (x1, y1) = ring[(i + 1) % n];
        a += x0 * y1 - x1 * y0;
    }
    0.5 * a
}

/// An open counter-clockwise ring of about `area_ha` around `(cx, cy)`: a blob or a
/// rotated rectangle, from the hash stream `h(i)`.
pub(crate) fn shape_ring(
    h: &dyn Fn(u64) -> u64,
    area_ha: f64,
    (cx, cy): (f64, f64),
) -> (Vec<(f64, f64)>, &'static str) {
    let blob = unit(h(0)) < 0.6;
    let (c, s) = rotation(unit(h(1)));
    let local: Vec<(f64, f64)> = if blob {
        // r(θ) = 1 + Σ a_k cos(kθ + φ_k), k = 2..4, Σ a_k ≤ 0.42: star-shaped, so simple;
        // then stretched along x by up to 1.8 (still star-shaped) and rotated.
        let amps: Vec<(f64, f64, f64)> = (2..=4)
            .map(|k| {
                (
                    k as f64,
                    0.04 + 0.10 * unit(h(10 + k)),
                    2.0 * std::f64::consts::PI * unit(h(20 + k)),
                )
            })
            .collect();
        let stretch = 1.0 + 0.8 * unit(h(2));
        (0..BLOB_VERTICES)
            .map(|i| {
                let th = 2.0 * std::f64::consts::PI * i as f64 / BLOB_VERTICES as f64;
                let mut r = 1.0;
                for &(k, a, phi) in &amps {
                    r += a * sin_cos(k * th + phi).1;
                }
                let (st, ct) = sin_cos(th);
                (r * ct * stretch, r * st)
            })
            .collect()
    } else {
        let aspect = 1.0 + 1.5 * unit(h(3));
        let (hw, hh) = (0.5 * aspect, 0.5);
        vec![(-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh)]
    };
    let a1 = ring_area(&local);
    let k = (area_ha * 10_000.0 / a1).sqrt();
    let ring = local
        .iter()
        .map(|&(x, y)| {
            let (x, y) = (x * k, y * k);
            (cx + x * c - y * s, cy + x * s + y * c)
        })
        .collect();
    (ring, if blob { "blob" } else { "rectangle" })
}

/// Segments of a commune's rings, `[x0, y0, x1, y1]`.
fn commune_segments(communes: &Communes, i: usize) -> Vec<[f64; 4]> {
    let mut v = Vec::new();
    for p in &communes.items[i].geom.0 {
        for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
            for l in ring.lines() {
                v.push([l.start.x, l.start.y, l.end.x, l.end.y]);
            }
        }
    }
    v
}

fn seg_bbox_meets(s: &[f64; 4], b: (f64, f64, f64, f64)) -> bool {
    s[0].min(s[2]) <= b.2 && s[0].max(s[2]) >= b.0 && s[1].min(s[3]) <= b.3 && s[1].max(s[3]) >= b.1
}

#[inline]
fn orient(ax: f64, ay: f64, bx: f64, by: f64, cx: f64, cy: f64) -> f64 {
    (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
}

fn point_seg_dist(px: f64, py: f64, s: &[f64; 4]) -> f64 {
    let (dx, dy) = (s[2] - s[0], s[3] - s[1]);
    let l2 = dx * dx + dy * dy;
    let t = if l2 > 0.0 {
        (((px - s[0]) * dx + (py - s[1]) * dy) / l2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (s[0] + t * dx - px, s[1] + t * dy - py);
    (qx * qx + qy * qy).sqrt()
}

/// Distance between two segments (0 when they touch or cross).
pub(crate) fn seg_seg_dist(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let d1 = orient(b[0], b[1], b[2], b[3], a[0], a[1]);
    let d2 = orient(b[0], b[1], b[2], b[3], a[2], a[3]);
    let d3 = orient(a[0], a[1], a[2], a[3], b[0], b[1]);
    let d4 = orient(a[0], a[1], a[2], a[3], b[2], b[3]);
    if d1 * d2 <= 0.0 && d3 * d4 <= 0.0 {
        return 0.0;
    }
    point_seg_dist(a[0], a[1], b)
        .min(point_seg_dist(a[2], a[3], b))
        .min(point_seg_dist(b[0], b[1], a))
        .min(point_seg_dist(b[2], b[3], a))
}

fn segments(p: &Polygon<f64>) -> impl Iterator<Item = [f64; 4]> + '_ {
    p.exterior()
        .lines()
        .map(|l| [l.start.x, l.start.y, l.end.x, l.end.y])
}

fn bbox_of(p: &Polygon<f64>) -> (f64, f64, f64, f64) {
    let mut b = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for c in p.exterior().coords() {
        b.0 = b.0.min(c.x);
        b.1 = b.1.min(c.y);
        b.2 = b.2.max(c.x);
        b.3 = b.3.max(c.y);
    }
    b
}

fn grow_bbox(b: (f64, f64, f64, f64), m: f64) -> (f64, f64, f64, f64) {
    (b.0 - m, b.1 - m, b.2 + m, b.3 + m)
}

fn bboxes_meet(a: (f64, f64, f64, f64), b: (f64, f64, f64, f64)) -> bool {
    a.0 <= b.2 && b.0 <= a.2 && a.1 <= b.3 && b.1 <= a.3
}

/// Distance from polygon `p` to the outside of commune `i` is at least `margin`:
/// no boundary segment of the commune within `margin` of `p`'s boundary, one vertex
/// of `p` inside the commune, and no commune ring inside `p`.
pub(crate) fn inside_with_margin(
    p: &Polygon<f64>,
    communes: &Communes,
    i: usize,
    segs: &[[f64; 4]],
    margin: f64,
) -> bool {
    let pb = bbox_of(p);
    let cb = communes.items[i].bbox;
    if pb.0 - margin < cb.0 || pb.1 - margin < cb.1 || pb.2 + margin > cb.2 || pb.3 + margin > cb.3
    {
        return false;
    }
    let near: Vec<&[f64; 4]> = segs
        .iter()
        .filter(|s| seg_bbox_meets(s, grow_bbox(pb, margin)))
        .collect();
    for a in segments(p) {
        let ab = (
            a[0].min(a[2]) - margin,
            a[1].min(a[3]) - margin,
            a[0].max(a[2]) + margin,
            a[1].max(a[3]) + margin,
        );
        for s in &near {
            if seg_bbox_meets(s, ab) && seg_seg_dist(&a, s) < margin {
                return false;
            }
        }
    }
    let v0 = p.exterior().0[0];
    if !communes.items[i].geom.contains(&v0) {
        return false;
    }
    !near.iter().any(|s| p.contains(&Coord { x: s[0], y: s[1] }))
}

/// Polygons `a` and `b` are at least `gap` apart (neither inside the other).
pub(crate) fn separated(a: &Zone, b: &Polygon<f64>, bb: (f64, f64, f64, f64), gap: f64) -> bool {
    if !bboxes_meet(grow_bbox(a.bbox, gap), bb) {
        return true;
    }
    for sa in segments(&a.poly) {
        for sb in segments(b) {
            if seg_seg_dist(&sa, &sb) < gap {
                return false;
            }
        }
    }
    !a.poly.contains(&b.exterior().0[0]) && !b.contains(&a.poly.exterior().0[0])
}

/// A polygon in EPSG:32648 and its closed ring as written in lon/lat.
type RoundTrip = (Polygon<f64>, Vec<(f64, f64)>);

/// Writes a ring to lon/lat (rounded to 1e-8°) and reads it back to EPSG:32648.
fn round_trip(to_ll: &Proj, ring: &[(f64, f64)]) -> Result<RoundTrip, SynthError> {
    let perr = |e: String| SynthError::Proj {
        what: "planting zones".into(),
        msg: e,
    };
    let mut ll = ring.to_vec();
    to_ll
        .convert_array(&mut ll)
        .map_err(|e| perr(e.to_string()))?;
    for p in ll.iter_mut() {
        p.0 = (p.0 * LONLAT_SCALE).round() / LONLAT_SCALE;
        p.1 = (p.1 * LONLAT_SCALE).round() / LONLAT_SCALE;
    }
    let mut utm = ll.clone();
    lonlat_to_utm(&mut utm).map_err(perr)?;
    ll.push(ll[0]);
    utm.push(utm[0]);
    let poly = Polygon::new(
        LineString::from(utm.iter().map(|&(x, y)| Coord { x, y }).collect::<Vec<_>>()),
        vec![],
    );
    Ok((poly, ll))
}

/// A zone candidate in its final form, or `None` when it is not a valid polygon of
/// the promised size.
fn finish_candidate(
    to_ll: &Proj,
    ring: &[(f64, f64)],
    shape: &'static str,
    species: usize,
    commune: usize,
) -> Result<Option<Zone>, SynthError> {
    let (poly, lonlat) = round_trip(to_ll, ring)?;
    let area_ha = poly.signed_area() / 10_000.0;
    if !(ZONE_MIN_HA..=ZONE_MAX_HA).contains(&area_ha) || !poly.is_valid() {
        return Ok(None);
    }
    let ll_poly = Polygon::new(
        LineString::from(
            lonlat
                .iter()
                .map(|&(x, y)| Coord { x, y })
                .collect::<Vec<_>>(),
        ),
        vec![],
    );
    if !ll_poly.is_valid() || ll_poly.signed_area() <= 0.0 {
        return Ok(None);
    }
    let bbox = bbox_of(&poly);
    Ok(Some(Zone {
        code: String::new(),
        species,
        commune,
        shape,
        poly,
        lonlat,
        bbox,
        area_ha,
    }))
}

/// Places the zones of every matched (species, commune) pair, then the deliberate
/// overlaps, and numbers them `<prefix>-<SPECIES>-<nnnn>` per species.
pub(crate) fn place(
    seed: u64,
    matched: Matched,
    communes: &Communes,
    prefix: &str,
) -> Result<Zones, SynthError> {
    let to_ll =
        Proj::new_known_crs("EPSG:32648", "EPSG:4326", None).map_err(|e| SynthError::Proj {
            what: "EPSG:32648 → EPSG:4326".into(),
            msg: e.to_string(),
        })?;
    let mut segs: BTreeMap<usize, Vec<[f64; 4]>> = BTreeMap::new();
    let mut items: Vec<Zone> = Vec::new();
    let mut short = Vec::new();
    let mut counts: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for e in &matched.entries {
        let cs = segs
            .entry(e.commune)
            .or_insert_with(|| commune_segments(communes, e.commune))
            .clone();
        let cm = &communes.items[e.commune];
        let base = [salt::ZONE, e.species as u64, e.commune as u64];
        let want = MIN_PER_COMMUNE
            + (hash(seed, &base) % (MAX_PER_COMMUNE - MIN_PER_COMMUNE + 1) as u64) as usize;
        let mut placed = 0;
        for k in 0..want as u64 {
            let mut done = false;
            for attempt in 0..ZONE_ATTEMPTS {
                let h = |i: u64| hash(seed, &[base[0], base[1], base[2], k, attempt, i]);
                let shrink = 0.75f64.powi((attempt / SHRINK_EVERY) as i32);
                let area = (DRAW_MIN_HA + (DRAW_MAX_HA - DRAW_MIN_HA) * unit(h(100))) * shrink;
                let area = area.max(DRAW_MIN_HA);
                let (x0, y0, x1, y1) = cm.bbox;
                let centre = (x0 + (x1 - x0) * unit(h(101)), y0 + (y1 - y0) * unit(h(102)));
                if !cm.geom.contains(&Coord {
                    x: centre.0,
                    y: centre.1,
                }) {
                    continue;
                }
                let (ring, shape) = shape_ring(&h, area, centre);
                let Some(z) = finish_candidate(&to_ll, &ring, shape, e.species, e.commune)? else {
                    continue;
                };
                if !inside_with_margin(&z.poly, communes, e.commune, &cs, ZONE_MARGIN_M) {
                    continue;
                }
                if !items
                    .iter()
                    .all(|o| separated(o, &z.poly, z.bbox, ZONE_GAP_M))
                {
                    continue;
                }
                items.push(z);
                done = true;
                break;
            }
            if done {
                placed += 1;
            } else {
                break;
            }
        }
        if placed < want {
            tracing::warn!(
                "synth: only {placed} of {want} {} zones fit in commune {} ({})",
                matched.species[e.species],
                cm.name,
                cm.code
            );
        }
        if placed < MIN_PER_COMMUNE {
            short.push((e.species, e.commune, placed));
        }
        counts.insert((e.species, e.commune), placed);
    }

    // Deliberate overlaps: in communes named for several species, a zone of species
    // `b` (that has room for one more) laid partly over a zone of species `a`.
    let mut multi: Vec<(u64, usize)> = Vec::new();
    for e in &matched.entries {
        let n = matched
            .entries
            .iter()
            .filter(|x| x.commune == e.commune)
            .count();
        if n >= 2 && !multi.iter().any(|m| m.1 == e.commune) {
            multi.push((hash(seed, &[salt::ZONE, 0x0f, e.commune as u64]), e.commune));
        }
    }
    multi.sort();
    let mut overlaps = Vec::new();
    for &(_, c) in &multi {
        if overlaps.len() == OVERLAPS {
            break;
        }
        let cs = segs.get(&c).cloned().unwrap_or_default();
        let sp: Vec<usize> = matched
            .entries
            .iter()
            .filter(|e| e.commune == c)
            .map(|e| e.species)
            .collect();
        let mut pairs: Vec<(u64, usize, usize)> = Vec::new();
        for &a in &sp {
            for &b in &sp {
                let nb = counts.get(&(b, c)).copied().unwrap_or(0);
                if a != b && (1..MAX_PER_COMMUNE).contains(&nb) {
                    pairs.push((
                        hash(seed, &[salt::ZONE, 0x1f, c as u64, a as u64, b as u64]),
                        a,
                        b,
                    ));
                }
            }
        }
        pairs.sort();
        'pairs: for &(_, sa, sb) in &pairs {
            let hosts: Vec<usize> = (0..items.len())
                .filter(|&i| items[i].commune == c && items[i].species == sa)
                .collect();
            if hosts.is_empty() {
                continue;
            }
            for attempt in 0..OVERLAP_ATTEMPTS {
                let h = |i: u64| {
                    hash(
                        seed,
                        &[salt::ZONE, 0x2f, c as u64, sa as u64, sb as u64, attempt, i],
                    )
                };
                let ai = hosts[(h(200) % hosts.len() as u64) as usize];
                let host = &items[ai];
                let area = DRAW_MIN_HA + (300.0 - DRAW_MIN_HA) * unit(h(100));
                let (hc, hs) = rotation(unit(h(201)));
                let flip = if h(202) & 1 == 0 { 1.0 } else { -1.0 };
                let (dx, dy) = (flip * hc, flip * hs);
                let ra = (host.area_ha * 10_000.0 / std::f64::consts::PI).sqrt();
                let rb = (area * 10_000.0 / std::f64::consts::PI).sqrt();
                let d = (0.45 + 0.45 * unit(h(203))) * (ra + rb);
                let hcx = 0.5 * (host.bbox.0 + host.bbox.2);
                let hcy = 0.5 * (host.bbox.1 + host.bbox.3);
                let (ring, shape) = shape_ring(&h, area, (hcx + d * dx, hcy + d * dy));
                let Some(z) = finish_candidate(&to_ll, &ring, shape, sb, c)? else {
                    continue;
                };
                if !inside_with_margin(&z.poly, communes, c, &cs, ZONE_MARGIN_M) {
                    continue;
                }
                if !items
                    .iter()
                    .enumerate()
                    .all(|(i, o)| i == ai || separated(o, &z.poly, z.bbox, ZONE_GAP_M))
                {
                    continue;
                }
                let inter = items[ai].poly.intersection(&z.poly).unsigned_area() / 10_000.0;
                let smaller = items[ai].area_ha.min(z.area_ha);
                if !(inter >= OVERLAP_SHARE.0 * smaller && inter <= OVERLAP_SHARE.1 * smaller) {
                    continue;
                }
                items.push(z);
                *counts.entry((sb, c)).or_default() += 1;
                overlaps.push(Overlap {
                    a: ai,
                    b: items.len() - 1,
                    area_ha: inter,
                });
                break 'pairs;
            }
        }
    }
    if overlaps.len() < OVERLAPS {
        tracing::warn!(
            "synth: made {} of the {OVERLAPS} deliberate zone overlaps",
            overlaps.len()
        );
    }

    let mut next: Vec<usize> = vec![0; matched.species.len()];
    for z in items.iter_mut() {
        next[z.species] += 1;
        let sp = names::plain_key(&matched.species[z.species])
            .to_uppercase()
            .replace(' ', "_");
        z.code = format!("{prefix}-{sp}-{:04}", next[z.species]);
    }
    Ok(Zones {
        species: matched.species.clone(),
        items,
        overlaps,
        matched,
        short,
    })
}

/// Working-grid pixels where forest is forced: centre inside a zone and not in a gap
/// cell. A bit set over the grid (empty when there are no zones).
#[derive(Clone, Debug, Default)]
pub(crate) struct ZoneMask {
    width: usize,
    bits: Vec<u64>,
    /// Pixels whose centre is inside a zone, and how many of them are forced.
    pub inside: u64,
    pub forced: u64,
}

/// True when the gap cell holding UTM point `(x, y)` leaves forest to the field.
pub(crate) fn is_gap(seed: u64, x: f64, y: f64) -> bool {
    let i = (x / GAP_CELL_M).floor() as i64;
    let j = (y / GAP_CELL_M).floor() as i64;
    unit(hash(seed, &[salt::GAP, i as u64, j as u64])) < GAP_SHARE
}

/// Column range `[c0, c1)` of the pixels of row `r` whose centres are inside `p`
/// (even–odd rule, half-open crossings), as a list of spans.
pub(crate) fn row_spans(p: &Polygon<f64>, g: &Grid, r: usize) -> Vec<(usize, usize)> {
    let y = g.y0 - (r as f64 + 0.5) * g.dy;
    let mut xs: Vec<f64> = Vec::new();
    for l in p.exterior().lines() {
        let (a, b) = (l.start, l.end);
        if (a.y <= y) != (b.y <= y) {
            xs.push(a.x + (y - a.y) * (b.x - a.x) / (b.y - a.y));
        }
    }
    xs.sort_by(f64::total_cmp);
    let col = |x: f64| -> usize {
        let f = ((x - g.x0) / g.dx - 0.5).ceil();
        f.clamp(0.0, g.width as f64) as usize
    };
    xs.chunks_exact(2)
        .map(|w| (col(w[0]), col(w[1])))
        .filter(|(a, b)| a < b)
        .collect()
}

impl ZoneMask {
    /// The mask of `zones` on grid `g`.
    pub fn new(seed: u64, zones: &Zones, g: &Grid) -> ZoneMask {
        if zones.items.is_empty() {
            return ZoneMask::default();
        }
        let n = g.width * g.height;
        let mut bits = vec![0u64; n.div_ceil(64)];
        let mut seen = vec![0u64; n.div_ceil(64)];
        let (mut inside, mut forced) = (0u64, 0u64);
        for z in &zones.items {
            let r0 = ((g.y0 - z.bbox.3) / g.dy - 0.5).floor().max(0.0) as usize;
            let r1 = (((g.y0 - z.bbox.1) / g.dy + 0.5).ceil().max(0.0) as usize).min(g.height);
            for r in r0..r1 {
                for (c0, c1) in row_spans(&z.poly, g, r) {
                    for c in c0..c1 {
                        let i = r * g.width + c;
                        if seen[i / 64] >> (i % 64) & 1 == 1 {
                            continue;
                        }
                        seen[i / 64] |= 1 << (i % 64);
                        inside += 1;
                        let x = g.x0 + (c as f64 + 0.5) * g.dx;
                        let y = g.y0 - (r as f64 + 0.5) * g.dy;
                        if !is_gap(seed, x, y) {
                            bits[i / 64] |= 1 << (i % 64);
                            forced += 1;
                        }
                    }
                }
            }
        }
        ZoneMask {
            width: g.width,
            bits,
            inside,
            forced,
        }
    }

    /// Forest forced at working pixel `(c, r)`.
    #[inline]
    pub fn get(&self, c: usize, r: usize) -> bool {
        if self.bits.is_empty() {
            return false;
        }
        let i = r * self.width + c;
        self.bits[i / 64] >> (i % 64) & 1 == 1
    }
}

/// A GeoJSON number: the shortest decimal that reads back to the same `f64`.
fn num(v: f64) -> String {
    let s = format!("{v}");
    if s.contains('.') || s.contains('e') || s.contains("inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.0")
    }
}

/// The text of `zones.geojson`: one feature per zone, lon/lat (OGC CRS84), counter-
/// clockwise rings, properties `zone_code`, `species`, `commune_code`, `commune_name`.
pub(crate) fn geojson(zones: &Zones, communes: &Communes) -> String {
    let js = |s: &str| serde_json::to_string(s).expect("string serialises");
    let mut out = String::new();
    out.push_str("{\n\"type\": \"FeatureCollection\",\n\"name\": \"zones\",\n");
    out.push_str(
        "\"crs\": { \"type\": \"name\", \"properties\": { \"name\": \"urn:ogc:def:crs:OGC:1.3:CRS84\" } },\n",
    );
    out.push_str("\"features\": [\n");
    for (i, z) in zones.items.iter().enumerate() {
        let c = &communes.items[z.commune];
        let coords: Vec<String> = z
            .lonlat
            .iter()
            .map(|&(x, y)| format!("[{}, {}]", num(x), num(y)))
            .collect();
        out.push_str(&format!(
            "{{ \"type\": \"Feature\", \"properties\": {{ \"zone_code\": {}, \"species\": {}, \"commune_code\": {}, \"commune_name\": {} }}, \"geometry\": {{ \"type\": \"Polygon\", \"coordinates\": [ [ {} ] ] }} }}{}\n",
            js(&z.code),
            js(&zones.species[z.species]),
            js(&c.code),
            js(&c.name),
            coords.join(", "),
            if i + 1 < zones.items.len() { "," } else { "" }
        ));
    }
    out.push_str("]\n}\n");
    out
}

/// Writes `zones.geojson` into `out_dir`; returns its path.
pub(crate) fn write(
    out_dir: &Path,
    zones: &Zones,
    communes: &Communes,
) -> Result<PathBuf, SynthError> {
    let path = out_dir.join("zones.geojson");
    super::truth::write_atomic(&path, geojson(zones, communes).as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synth_targets_match_the_layer_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("targets.toml");
        std::fs::write(
            &path,
            r#"
[[cover_target]]
province = "Lạng Sơn"
year = 2023
pct = 64.2

[zone_target.pine]
province = "Lạng Sơn"
communes = ["Thuỵ Hùng", "Lợi Bắc", "Nowhere", "THIỆN HOÀ", "Thiện Hòa"]

[zone_target.tea]
province = "Cao Bằng"
communes = ["Thụy Hùng"]

[zone_target.acacia]
communes = ["Atlantis"]
"#,
        )
        .unwrap();
        let t = read_targets(&path).unwrap();
        assert_eq!(
            t.iter().map(|x| x.species.as_str()).collect::<Vec<_>>(),
            ["acacia", "pine", "tea"]
        );
        let layer = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../data/regions/lang-son/communes.geojson");
        let communes = super::super::communes::read(&layer, "ma_xa", Some("ten_xa"), &[]).unwrap();
        let m = match_targets(&t, &communes, "Lạng Sơn");
        assert_eq!(m.species, ["pine"]);
        let got: Vec<&str> = m
            .entries
            .iter()
            .map(|e| communes.items[e.commune].name.as_str())
            .collect();
        // "Thiện Hòa" twice (two spellings) gives one entry.
        assert_eq!(got, ["Thụy Hùng", "Lợi Bác", "Thiện Hòa"]);
        assert_eq!(m.unmatched.len(), 1);
        assert_eq!(m.unmatched[0].name, "Nowhere");
        assert_eq!(m.fallbacks.len(), 1);
        assert_eq!(m.fallbacks[0].plan_name, "Lợi Bắc");
        assert_eq!(m.fallbacks[0].commune_name, "Lợi Bác");
        let skipped: Vec<&str> = m.skipped.iter().map(|s| s.species.as_str()).collect();
        assert_eq!(skipped, ["acacia", "tea"]);

        let z = place(7, m, &communes, "LS").unwrap();
        assert!(z.short.is_empty());
        for e in &z.matched.entries {
            let n = z.items.iter().filter(|x| x.commune == e.commune).count();
            assert!((MIN_PER_COMMUNE..=MAX_PER_COMMUNE).contains(&n));
        }
        // One species only: no cross-species overlap is possible.
        assert!(z.overlaps.is_empty());
        assert!(z.items.iter().all(|x| x.code.starts_with("LS-PINE-")));
        assert!(read_targets(&dir.path().join("none.toml")).is_err());
        std::fs::write(&path, "[zone_target.pine]\ncommunes = [1, 2]\n").unwrap();
        assert!(read_targets(&path)
            .unwrap_err()
            .to_string()
            .contains("communes"));
    }

    #[test]
    fn synth_zone_mask_is_the_pixel_centres_inside() {
        let g = Grid {
            x0: 0.0,
            y0: 3000.0,
            dx: 30.0,
            dy: 30.0,
            width: 100,
            height: 100,
        };
        let h = |k: u64| hash(11, &[k]);
        let (ring, _) = shape_ring(&h, 200.0, (1500.0, 1500.0));
        let mut closed = ring.clone();
        closed.push(ring[0]);
        let poly = Polygon::new(
            LineString::from(
                closed
                    .iter()
                    .map(|&(x, y)| Coord { x, y })
                    .collect::<Vec<_>>(),
            ),
            vec![],
        );
        let bbox = bbox_of(&poly);
        let zones = Zones {
            species: vec!["pine".into()],
            items: vec![Zone {
                code: "T-PINE-0001".into(),
                species: 0,
                commune: 0,
                shape: "blob",
                poly: poly.clone(),
                lonlat: vec![],
                bbox,
                area_ha: 200.0,
            }],
            ..Default::default()
        };
        let m = ZoneMask::new(5, &zones, &g);
        let mut inside = 0;
        for r in 0..100 {
            for c in 0..100 {
                let p = Coord {
                    x: (c as f64 + 0.5) * 30.0,
                    y: 3000.0 - (r as f64 + 0.5) * 30.0,
                };
                let i = poly.contains(&p);
                inside += i as u64;
                if m.get(c, r) {
                    assert!(i);
                    assert!(!is_gap(5, p.x, p.y));
                } else if i {
                    assert!(is_gap(5, p.x, p.y));
                }
            }
        }
        assert_eq!(inside, m.inside);
        assert!((inside as f64 * 0.09 - 200.0).abs() < 20.0);
        assert!(m.forced as f64 > 0.8 * inside as f64 && m.forced < inside);
    }

    #[test]
    fn synth_sin_cos_is_accurate() {
        for i in -2000..2000 {
            let t = i as f64 * 0.0123;
            let (s, c) = sin_cos(t);
            assert!((s - t.sin()).abs() < 1e-11, "{t}");
            assert!((c - t.cos()).abs() < 1e-11, "{t}");
        }
    }

    #[test]
    fn synth_zone_shapes_are_valid_and_of_the_drawn_size() {
        for i in 0..400u64 {
            let h = |k: u64| hash(3, &[i, k]);
            let area = 60.0 + i as f64;
            let (ring, shape) = shape_ring(&h, area, (700_000.0, 2_400_000.0));
            assert!((ring_area(&ring) / 10_000.0 - area).abs() < 1e-6 * area);
            let mut closed = ring.clone();
            closed.push(ring[0]);
            let p = Polygon::new(
                LineString::from(
                    closed
                        .iter()
                        .map(|&(x, y)| Coord { x, y })
                        .collect::<Vec<_>>(),
                ),
                vec![],
            );
            assert!(p.is_valid(), "{shape} {i}");
            assert!(p.signed_area() > 0.0);
        }
    }

    #[test]
    fn synth_segment_distance() {
        let a = [0.0, 0.0, 10.0, 0.0];
        assert_eq!(seg_seg_dist(&a, &[5.0, -1.0, 5.0, 1.0]), 0.0);
        assert_eq!(seg_seg_dist(&a, &[5.0, 3.0, 5.0, 9.0]), 3.0);
        assert_eq!(seg_seg_dist(&a, &[13.0, 4.0, 20.0, 4.0]), 5.0);
    }

    #[test]
    fn synth_row_spans_pick_pixel_centres() {
        let g = Grid {
            x0: 0.0,
            y0: 100.0,
            dx: 10.0,
            dy: 10.0,
            width: 10,
            height: 10,
        };
        let sq = Polygon::new(
            LineString::from(vec![(12.0, 12.0), (48.0, 12.0), (48.0, 88.0), (12.0, 88.0)]),
            vec![],
        );
        // Row 5: centre y = 45; x centres 15, 25, 35, 45 are inside.
        assert_eq!(row_spans(&sq, &g, 5), vec![(1, 5)]);
        assert_eq!(row_spans(&sq, &g, 0), vec![]);
        assert_eq!(row_spans(&sq, &g, 1), vec![(1, 5)]);
    }
}
