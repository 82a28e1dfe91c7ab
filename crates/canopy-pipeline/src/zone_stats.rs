//! Planting-zone statistics: zone area, forest inside and loss, per zone and
//! commune, per species and commune, and per species for the province.
//!
//! Zones are cut by the communes exactly (polygon intersection in `area_crs`),
//! so a zone across a commune boundary is split into pieces whose areas add up.
//! Per species, the pieces are unioned, so two overlapping zones of one species
//! count once; overlaps *between* species are measured and reported, never
//! hidden. Every piece and union is then one more polygon in the same strip
//! pass as the communes ([`crate::cover::Prepared::extra`]): forest, observed
//! area and change come with no extra read of the rasters.

use std::collections::BTreeMap;

use canopy_core::change::{CH_CODES, CH_GAIN, CH_LOSS};
use canopy_core::stats::{CoverFigures, M2_PER_HA};
use canopy_core::zonal::CoverSums;
use geo::{Area, BooleanOps, BoundingRect, Intersects, MultiPolygon};
use rayon::prelude::*;
use serde::Serialize;

use crate::cover::{Prepared, PROVINCE_CODE};
use crate::crs::{Crs, Transformer};
use crate::error::PipelineError;
use crate::zones::ZoneLayer;

/// Pieces smaller than this (m²) are slivers of shared boundaries, not zone land.
const SLIVER_M2: f64 = 1e-3;

/// One zone cut by one commune.
#[derive(Debug, Clone)]
pub struct Piece {
    /// Index of the zone in the zone layer.
    pub zone: usize,
    pub zone_code: String,
    pub species: String,
    pub commune_code: String,
    pub commune_name: String,
    /// Exact area of zone ∩ commune in `area_crs`.
    pub area_m2: f64,
    /// The piece in EPSG:4326 (lon/lat).
    pub geom_wgs84: MultiPolygon<f64>,
}

/// The union of one species' zones in a commune, or in the province.
#[derive(Debug, Clone)]
pub struct SpeciesUnit {
    pub species: String,
    /// A commune code, or [`PROVINCE_CODE`].
    pub commune_code: String,
    pub area_m2: f64,
}

pub use canopy_store::zones::{Overlap, ZoneTotal};

/// The geometry side of the zone statistics, computed once per run.
#[derive(Debug, Clone, Default)]
pub struct ZonePlan {
    pub pieces: Vec<Piece>,
    /// Species × commune units, then species × province units.
    pub units: Vec<SpeciesUnit>,
    pub overlaps: Vec<Overlap>,
    pub zones: Vec<ZoneTotal>,
    pub warnings: Vec<String>,
    /// Pieces then units, in `area_crs`: the extra polygons of the pass.
    pub polygons: Vec<MultiPolygon<f64>>,
}

fn area(mp: &MultiPolygon<f64>) -> f64 {
    mp.unsigned_area()
}

/// Cuts the zones by the communes and builds the species unions.
pub fn plan(prep: &Prepared, layer: &ZoneLayer) -> Result<ZonePlan, PipelineError> {
    let to_area = Transformer::new(&layer.crs, &prep.area_crs)?;
    let communes_to_area = Transformer::new(&prep.layer.crs, &prep.area_crs)?;
    let to_wgs = Transformer::new(&prep.area_crs, &Crs::from_user("EPSG:4326")?)?;
    let communes: Vec<MultiPolygon<f64>> = prep
        .layer
        .communes
        .iter()
        .map(|c| communes_to_area.multipolygon(&c.geom))
        .collect::<Result<_, _>>()?;
    let province = communes_to_area.multipolygon(&prep.union)?;
    let zones: Vec<MultiPolygon<f64>> = layer
        .zones
        .iter()
        .map(|z| to_area.multipolygon(&z.geom))
        .collect::<Result<_, _>>()?;

    let mut out = ZonePlan::default();
    // Per (species, commune index): the pieces, for the unions.
    let mut by_unit: BTreeMap<(String, usize), Vec<MultiPolygon<f64>>> = BTreeMap::new();
    let mut outside = Vec::new();
    // The polygon clipping is pure: every zone in parallel, assembled in order.
    let clipped: Vec<Clipped> = zones
        .par_iter()
        .map(|zg| clip_zone(zg, &province, &communes))
        .collect();
    for (zi, (z, (total, inside, pieces))) in layer.zones.iter().zip(clipped).enumerate() {
        out.zones.push(ZoneTotal {
            zone_code: z.code.clone(),
            species: z.species.clone(),
            area_ha: total / M2_PER_HA,
            inside_ha: inside / M2_PER_HA,
        });
        if inside <= SLIVER_M2 {
            outside.push(format!("{} ({})", z.code, z.species));
            continue;
        }
        for (ci, piece, a) in pieces {
            let c = &prep.layer.communes[ci];
            out.pieces.push(Piece {
                zone: zi,
                zone_code: z.code.clone(),
                species: z.species.clone(),
                commune_code: c.code.clone(),
                commune_name: c.name.clone(),
                area_m2: a,
                geom_wgs84: to_wgs.multipolygon(&piece)?,
            });
            by_unit
                .entry((z.species.clone(), ci))
                .or_default()
                .push(piece.clone());
            out.polygons.push(piece);
        }
    }
    if !outside.is_empty() {
        out.warnings.push(format!(
            "{} zone(s) lie entirely outside the region's communes and are not counted: {}",
            outside.len(),
            outside.join(", ")
        ));
    }

    // Species unions per commune, then per province; overlaps between species.
    let mut unit_geoms: BTreeMap<(String, usize), MultiPolygon<f64>> = BTreeMap::new();
    for ((species, ci), pieces) in by_unit {
        unit_geoms.insert((species, ci), geo::unary_union(&pieces));
    }
    let mut province_units: BTreeMap<String, Vec<MultiPolygon<f64>>> = BTreeMap::new();
    for ((species, ci), g) in &unit_geoms {
        out.units.push(SpeciesUnit {
            species: species.clone(),
            commune_code: prep.layer.communes[*ci].code.clone(),
            area_m2: area(g),
        });
        out.polygons.push(g.clone());
        province_units
            .entry(species.clone())
            .or_default()
            .push(g.clone());
    }
    let province_geoms: BTreeMap<String, MultiPolygon<f64>> = province_units
        .into_iter()
        .map(|(s, gs)| (s, geo::unary_union(&gs)))
        .collect();
    for (species, g) in &province_geoms {
        out.units.push(SpeciesUnit {
            species: species.clone(),
            commune_code: PROVINCE_CODE.into(),
            area_m2: area(g),
        });
        out.polygons.push(g.clone());
    }
    for (ci, c) in prep.layer.communes.iter().enumerate() {
        let here: Vec<(&String, &MultiPolygon<f64>)> = unit_geoms
            .iter()
            .filter(|((_, i), _)| *i == ci)
            .map(|((s, _), g)| (s, g))
            .collect();
        out.overlaps.extend(overlaps_of(&here, &c.code));
    }
    let all: Vec<(&String, &MultiPolygon<f64>)> = province_geoms.iter().collect();
    out.overlaps.extend(overlaps_of(&all, PROVINCE_CODE));
    for o in out
        .overlaps
        .iter()
        .filter(|o| o.commune_code == PROVINCE_CODE)
    {
        out.warnings.push(format!(
            "{:.2} ha are zoned for both {} and {}",
            o.overlap_ha, o.species_a, o.species_b
        ));
    }
    Ok(out)
}

/// A zone's area, its area inside the province, and its pieces per commune
/// (commune index, piece, area), all in `area_crs`.
type Clipped = (f64, f64, Vec<(usize, MultiPolygon<f64>, f64)>);

/// Clips one zone: see [`Clipped`].
fn clip_zone(
    zg: &MultiPolygon<f64>,
    province: &MultiPolygon<f64>,
    communes: &[MultiPolygon<f64>],
) -> Clipped {
    let total = area(zg);
    let inside = if zg.intersects(province) {
        area(&zg.intersection(province))
    } else {
        0.0
    };
    let mut pieces = Vec::new();
    let Some(zb) = zg.bounding_rect().filter(|_| inside > SLIVER_M2) else {
        return (total, inside, pieces);
    };
    for (ci, cg) in communes.iter().enumerate() {
        let overlaps_bbox = cg.bounding_rect().is_some_and(|cb| {
            cb.min().x <= zb.max().x
                && cb.max().x >= zb.min().x
                && cb.min().y <= zb.max().y
                && cb.max().y >= zb.min().y
        });
        if !overlaps_bbox || !zg.intersects(cg) {
            continue;
        }
        let piece = zg.intersection(cg);
        let a = area(&piece);
        if a > SLIVER_M2 {
            pieces.push((ci, piece, a));
        }
    }
    (total, inside, pieces)
}

fn overlaps_of(units: &[(&String, &MultiPolygon<f64>)], code: &str) -> Vec<Overlap> {
    let mut out = Vec::new();
    for (i, (sa, ga)) in units.iter().enumerate() {
        for (sb, gb) in &units[i + 1..] {
            if !ga.intersects(*gb) {
                continue;
            }
            let a = area(&ga.intersection(*gb));
            if a > SLIVER_M2 {
                out.push(Overlap {
                    species_a: (*sa).clone(),
                    species_b: (*sb).clone(),
                    commune_code: code.into(),
                    overlap_ha: a / M2_PER_HA,
                });
            }
        }
    }
    out
}

/// Cover of one zone piece or species unit in one epoch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneCover {
    pub epoch: String,
    pub figures: CoverFigures,
}

/// Change inside one zone piece or species unit between two epochs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneChange {
    pub from_epoch: String,
    pub to_epoch: String,
    pub loss_ha: f64,
    pub gain_ha: f64,
}

/// Figures of every piece and unit (same order as the plan's).
#[derive(Debug, Clone, Default)]
pub struct ZoneFigures {
    pub pieces: Vec<(Vec<ZoneCover>, Vec<ZoneChange>)>,
    pub units: Vec<(Vec<ZoneCover>, Vec<ZoneChange>)>,
}

/// Turns the pass's sums for the extra polygons into figures.
/// `cover`: per epoch, the extra polygons' sums; `change`: per pair, their change sums.
pub fn figures(
    plan: &ZonePlan,
    cover: &[(String, Vec<CoverSums>)],
    change: &[(String, String, Vec<[f64; CH_CODES]>)],
) -> ZoneFigures {
    let n = plan.pieces.len();
    let one = |k: usize, area_m2: f64| {
        let covers = cover
            .iter()
            .map(|(epoch, sums)| ZoneCover {
                epoch: epoch.clone(),
                figures: CoverFigures::new(area_m2, sums.get(k).copied().unwrap_or_default()),
            })
            .collect();
        let changes = change
            .iter()
            .map(|(from, to, sums)| {
                let s = sums.get(k).copied().unwrap_or([0.0; CH_CODES]);
                ZoneChange {
                    from_epoch: from.clone(),
                    to_epoch: to.clone(),
                    loss_ha: s[CH_LOSS as usize] / M2_PER_HA,
                    gain_ha: s[CH_GAIN as usize] / M2_PER_HA,
                }
            })
            .collect();
        (covers, changes)
    };
    ZoneFigures {
        pieces: plan
            .pieces
            .iter()
            .enumerate()
            .map(|(k, p)| one(k, p.area_m2))
            .collect(),
        units: plan
            .units
            .iter()
            .enumerate()
            .map(|(k, u)| one(n + k, u.area_m2))
            .collect(),
    }
}
