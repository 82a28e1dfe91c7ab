//! The store's zone, target and warning tables: written in the run's
//! transaction by [`crate::store::write`], read back by the CLI, the report and
//! the server (which all show the same numbers because they read the same rows).
//!
//! Layers and tables (names are a contract; see the README):
//! - `zones` (MultiPolygon, EPSG:4326): one feature per zone × commune piece:
//!   piece_id, zone_code, species, commune_code, commune_name, area_ha,
//!   zone_area_ha, and the latest epoch's epoch, forest_ha, observed_ha,
//!   cover_pct, with the loss/gain of the pair ending at it;
//! - `zone_cover` (piece_id, zone_code, commune_code, epoch, area_ha, forest_ha,
//!   observed_ha, cover_pct) and `zone_change` (piece_id, …, from_epoch,
//!   to_epoch, loss_ha, gain_ha): every epoch and pair;
//! - `species_summary` (species, commune_code or PROVINCE, epoch, zone_ha,
//!   forest_ha, observed_ha, cover_pct, change_from, loss_ha, gain_ha): overlapping
//!   zones of one species counted once;
//! - `species_overlap` (species_a, species_b, commune_code or PROVINCE, overlap_ha);
//! - `zone_list` (zone_code, species, area_ha, inside_ha);
//! - `targets` (kind, json) and `warnings` (source, message).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use canopy_core::stats::M2_PER_HA;
use canopy_core::targets::{CoverTarget, ZoneTarget};
use gdal::vector::{LayerAccess, OGRFieldType};
use gdal::Dataset;
use serde::Serialize;

use crate::error::PipelineError;
use crate::store::open_store;
use crate::store_rows::Val::{Real, Str, Text};
use crate::store_rows::{
    geojson, idx, opt, opt_string, read_rows, real, string, write_shapes, write_table, Field,
    GResult, Val,
};
use crate::targets::{Measured, Progress, Targets};
use crate::zone_stats::{Piece, ZoneChange, ZoneCover, ZoneFigures, ZonePlan};

/// The zone results of a run, for [`crate::store::write`].
pub struct ZoneOutputs<'a> {
    pub plan: &'a ZonePlan,
    pub figures: &'a ZoneFigures,
}

/// The extra things a run writes besides cover and change.
#[derive(Default)]
pub struct Extras<'a> {
    pub zones: Option<ZoneOutputs<'a>>,
    pub targets: Option<&'a Targets>,
    /// (source, message): everything the run warned about.
    pub warnings: Vec<(String, String)>,
    /// Fire danger (and later hotspots, burned area), when the region has `[fire]`.
    pub fire: Option<&'a crate::fire::FireOutputs>,
}

/// Unique piece ids: `zone_code@commune_code`, with `#n` if codes repeat.
fn piece_ids(plan: &ZonePlan) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    plan.pieces
        .iter()
        .map(|p| {
            let base = format!("{}@{}", p.zone_code, p.commune_code);
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            if *n == 1 {
                base
            } else {
                format!("{base}#{n}")
            }
        })
        .collect()
}

pub(crate) fn write(ds: &mut Dataset, x: &Extras) -> Result<(), (String, gdal::errors::GdalError)> {
    if let Some(z) = &x.zones {
        write_zones(ds, z).map_err(|e| ("zones".to_string(), e))?;
    }
    write_targets(ds, x.targets).map_err(|e| ("targets".to_string(), e))?;
    write_table(
        ds,
        "warnings",
        &[
            ("source", OGRFieldType::OFTString),
            ("message", OGRFieldType::OFTString),
        ],
        x.warnings.iter().map(|(s, m)| [Str(s), Str(m)]),
    )
    .map_err(|e| ("warnings".to_string(), e))
}

fn write_zones(ds: &mut Dataset, z: &ZoneOutputs) -> GResult<()> {
    let ids = piece_ids(z.plan);
    write_pieces(ds, z, &ids)?;
    write_piece_cover(ds, z, &ids)?;
    write_piece_change(ds, z, &ids)?;
    write_species_summary(ds, z)?;
    write_overlaps(ds, z.plan)?;
    write_zone_list(ds, z.plan)
}

/// Every piece with its id, its cover per epoch and its change per pair.
fn pieces<'a>(
    z: &'a ZoneOutputs,
    ids: &'a [String],
) -> impl Iterator<Item = (&'a Piece, &'a str, &'a [ZoneCover], &'a [ZoneChange])> {
    z.plan
        .pieces
        .iter()
        .zip(ids)
        .zip(&z.figures.pieces)
        .map(|((p, id), (covers, changes))| (p, id.as_str(), &covers[..], &changes[..]))
}

/// The change that ends at `epoch` (the consecutive pair comes first).
fn ending_at<'a>(changes: &'a [ZoneChange], epoch: &str) -> Option<&'a ZoneChange> {
    changes.iter().find(|c| c.to_epoch == epoch)
}

/// The key of a piece's rows in `zone_cover` and `zone_change`.
const PIECE_KEY: [Field; 3] = [
    ("piece_id", OGRFieldType::OFTString),
    ("zone_code", OGRFieldType::OFTString),
    ("commune_code", OGRFieldType::OFTString),
];

fn piece_key<'a>(p: &'a Piece, id: &'a str) -> [Val<'a>; 3] {
    [Str(id), Str(&p.zone_code), Str(&p.commune_code)]
}

/// An epoch's figures.
const FIGURES: [Field; 3] = [
    ("forest_ha", OGRFieldType::OFTReal),
    ("observed_ha", OGRFieldType::OFTReal),
    ("cover_pct", OGRFieldType::OFTReal),
];

/// [`FIGURES`] of an epoch (NULL without one).
fn figure_values(c: Option<&ZoneCover>) -> [Val<'static>; 3] {
    let f = c.map(|c| &c.figures);
    [
        opt(f.map(|f| Real(f.forest_ha))),
        opt(f.map(|f| Real(f.observed_ha))),
        opt(f.and_then(|f| f.cover_pct).map(Real)),
    ]
}

/// The change that ends at an epoch.
const CHANGE_TO: [Field; 3] = [
    ("change_from", OGRFieldType::OFTString),
    ("loss_ha", OGRFieldType::OFTReal),
    ("gain_ha", OGRFieldType::OFTReal),
];

/// [`CHANGE_TO`] of a change (NULL without one).
fn change_values(c: Option<&ZoneChange>) -> [Val<'_>; 3] {
    [
        opt(c.map(|c| Str(&c.from_epoch))),
        opt(c.map(|c| Real(c.loss_ha))),
        opt(c.map(|c| Real(c.gain_ha))),
    ]
}

/// The `zones` layer: each piece with its latest epoch and the change ending at it.
fn write_pieces(ds: &mut Dataset, z: &ZoneOutputs, ids: &[String]) -> GResult<()> {
    let piece = [
        ("piece_id", OGRFieldType::OFTString),
        ("zone_code", OGRFieldType::OFTString),
        ("species", OGRFieldType::OFTString),
        ("commune_code", OGRFieldType::OFTString),
        ("commune_name", OGRFieldType::OFTString),
        ("area_ha", OGRFieldType::OFTReal),
        ("zone_area_ha", OGRFieldType::OFTReal),
        ("epoch", OGRFieldType::OFTString),
    ];
    let rows = pieces(z, ids).map(|(p, id, covers, changes)| {
        let last = covers.last();
        let change = last.and_then(|l| ending_at(changes, &l.epoch));
        let values = [
            Str(id),
            Str(&p.zone_code),
            Str(&p.species),
            Str(&p.commune_code),
            Str(&p.commune_name),
            Real(p.area_m2 / M2_PER_HA),
            Real(z.plan.zones[p.zone].area_ha),
            opt(last.map(|l| Str(&l.epoch))),
        ];
        let values = values
            .into_iter()
            .chain(figure_values(last))
            .chain(change_values(change));
        (values, &p.geom_wgs84)
    });
    let fields = [&piece[..], &FIGURES, &CHANGE_TO].concat();
    let options = ["FID=fid", "GEOMETRY_NAME=geom", "SPATIAL_INDEX=YES"];
    write_shapes(ds, "zones", &options, &fields, rows)
}

/// `zone_cover`: every piece × epoch.
fn write_piece_cover(ds: &mut Dataset, z: &ZoneOutputs, ids: &[String]) -> GResult<()> {
    let cover = [
        ("epoch", OGRFieldType::OFTString),
        ("area_ha", OGRFieldType::OFTReal),
    ];
    let rows = pieces(z, ids).flat_map(|(p, id, covers, _)| {
        covers.iter().map(move |c| {
            piece_key(p, id)
                .into_iter()
                .chain([Str(&c.epoch), Real(c.figures.natural_ha)])
                .chain(figure_values(Some(c)))
        })
    });
    let fields = [&PIECE_KEY[..], &cover, &FIGURES].concat();
    write_table(ds, "zone_cover", &fields, rows)
}

/// `zone_change`: every piece × pair.
fn write_piece_change(ds: &mut Dataset, z: &ZoneOutputs, ids: &[String]) -> GResult<()> {
    let change = [
        ("from_epoch", OGRFieldType::OFTString),
        ("to_epoch", OGRFieldType::OFTString),
        ("loss_ha", OGRFieldType::OFTReal),
        ("gain_ha", OGRFieldType::OFTReal),
    ];
    let rows = pieces(z, ids).flat_map(|(p, id, _, changes)| {
        changes.iter().map(move |c| {
            piece_key(p, id).into_iter().chain([
                Str(&c.from_epoch),
                Str(&c.to_epoch),
                Real(c.loss_ha),
                Real(c.gain_ha),
            ])
        })
    });
    let fields = [&PIECE_KEY[..], &change].concat();
    write_table(ds, "zone_change", &fields, rows)
}

/// `species_summary`: every species unit × epoch, with the change ending there.
fn write_species_summary(ds: &mut Dataset, z: &ZoneOutputs) -> GResult<()> {
    let unit = [
        ("species", OGRFieldType::OFTString),
        ("commune_code", OGRFieldType::OFTString),
        ("epoch", OGRFieldType::OFTString),
        ("zone_ha", OGRFieldType::OFTReal),
    ];
    let units = z.plan.units.iter().zip(&z.figures.units);
    let rows = units.flat_map(|(u, (covers, changes))| {
        covers.iter().map(move |c| {
            let values = [
                Str(&u.species),
                Str(&u.commune_code),
                Str(&c.epoch),
                Real(u.area_m2 / M2_PER_HA),
            ];
            values
                .into_iter()
                .chain(figure_values(Some(c)))
                .chain(change_values(ending_at(changes, &c.epoch)))
        })
    });
    let fields = [&unit[..], &FIGURES, &CHANGE_TO].concat();
    write_table(ds, "species_summary", &fields, rows)
}

fn write_overlaps(ds: &mut Dataset, plan: &ZonePlan) -> GResult<()> {
    write_table(
        ds,
        "species_overlap",
        &[
            ("species_a", OGRFieldType::OFTString),
            ("species_b", OGRFieldType::OFTString),
            ("commune_code", OGRFieldType::OFTString),
            ("overlap_ha", OGRFieldType::OFTReal),
        ],
        plan.overlaps.iter().map(|o| {
            [
                Str(&o.species_a),
                Str(&o.species_b),
                Str(&o.commune_code),
                Real(o.overlap_ha),
            ]
        }),
    )
}

fn write_zone_list(ds: &mut Dataset, plan: &ZonePlan) -> GResult<()> {
    write_table(
        ds,
        "zone_list",
        &[
            ("zone_code", OGRFieldType::OFTString),
            ("species", OGRFieldType::OFTString),
            ("area_ha", OGRFieldType::OFTReal),
            ("inside_ha", OGRFieldType::OFTReal),
        ],
        plan.zones.iter().map(|z| {
            [
                Str(&z.zone_code),
                Str(&z.species),
                Real(z.area_ha),
                Real(z.inside_ha),
            ]
        }),
    )
}

/// `targets`: one row per target, as JSON (the table exists, empty, without targets).
fn write_targets(ds: &mut Dataset, t: Option<&Targets>) -> GResult<()> {
    let cover = t.into_iter().flat_map(|t| &t.cover);
    let zones = t.into_iter().flat_map(|t| &t.zones);
    let rows = cover
        .map(|c| ("cover", serde_json::to_string(c)))
        .chain(zones.map(|z| ("zone", serde_json::to_string(z))))
        .map(|(kind, json)| [Str(kind), Text(json.unwrap_or_default())]);
    write_table(
        ds,
        "targets",
        &[
            ("kind", OGRFieldType::OFTString),
            ("json", OGRFieldType::OFTString),
        ],
        rows,
    )
}

/// One row of `species_summary`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpeciesRow {
    pub species: String,
    /// A commune code or `PROVINCE`.
    pub commune_code: String,
    pub epoch: String,
    pub zone_ha: f64,
    pub forest_ha: f64,
    pub observed_ha: f64,
    pub cover_pct: Option<f64>,
    /// The pair ending at `epoch` (none for the first epoch).
    pub change_from: Option<String>,
    pub loss_ha: Option<f64>,
    pub gain_ha: Option<f64>,
}

/// One feature of the `zones` layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredZone {
    pub piece_id: String,
    pub zone_code: String,
    pub species: String,
    pub commune_code: String,
    pub commune_name: String,
    pub area_ha: f64,
    pub zone_area_ha: f64,
    pub epoch: Option<String>,
    pub forest_ha: Option<f64>,
    pub observed_ha: Option<f64>,
    pub cover_pct: Option<f64>,
    pub change_from: Option<String>,
    pub loss_ha: Option<f64>,
    pub gain_ha: Option<f64>,
    /// GeoJSON geometry (EPSG:4326).
    pub geometry: String,
}

/// Everything zone-related a store holds (empty when the region has no zones).
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoredZones {
    pub pieces: Vec<StoredZone>,
    pub species: Vec<SpeciesRow>,
    pub overlaps: Vec<crate::zone_stats::Overlap>,
    pub zones: Vec<crate::zone_stats::ZoneTotal>,
}

/// Reads the `zones` layer and the species tables back.
pub fn read_zones(path: &Path) -> Result<StoredZones, PipelineError> {
    let ds = open_store(path)?;
    let pieces = read_rows(
        &ds,
        "zones",
        &[
            "piece_id",
            "zone_code",
            "species",
            "commune_code",
            "commune_name",
            "area_ha",
            "zone_area_ha",
            "epoch",
            "forest_ha",
            "observed_ha",
            "cover_pct",
            "change_from",
            "loss_ha",
            "gain_ha",
        ],
        path,
        |f, ix| StoredZone {
            piece_id: string(f, ix[0]),
            zone_code: string(f, ix[1]),
            species: string(f, ix[2]),
            commune_code: string(f, ix[3]),
            commune_name: string(f, ix[4]),
            area_ha: real(f, ix[5]).unwrap_or(0.0),
            zone_area_ha: real(f, ix[6]).unwrap_or(0.0),
            epoch: opt_string(f, ix[7]),
            forest_ha: real(f, ix[8]),
            observed_ha: real(f, ix[9]),
            cover_pct: real(f, ix[10]),
            change_from: opt_string(f, ix[11]),
            loss_ha: real(f, ix[12]),
            gain_ha: real(f, ix[13]),
            geometry: geojson(f),
        },
    )?;
    let species = read_rows(
        &ds,
        "species_summary",
        &[
            "species",
            "commune_code",
            "epoch",
            "zone_ha",
            "forest_ha",
            "observed_ha",
            "cover_pct",
            "change_from",
            "loss_ha",
            "gain_ha",
        ],
        path,
        |f, ix| SpeciesRow {
            species: string(f, ix[0]),
            commune_code: string(f, ix[1]),
            epoch: string(f, ix[2]),
            zone_ha: real(f, ix[3]).unwrap_or(0.0),
            forest_ha: real(f, ix[4]).unwrap_or(0.0),
            observed_ha: real(f, ix[5]).unwrap_or(0.0),
            cover_pct: real(f, ix[6]),
            change_from: opt_string(f, ix[7]),
            loss_ha: real(f, ix[8]),
            gain_ha: real(f, ix[9]),
        },
    )?;
    let overlaps = read_rows(
        &ds,
        "species_overlap",
        &["species_a", "species_b", "commune_code", "overlap_ha"],
        path,
        |f, ix| crate::zone_stats::Overlap {
            species_a: string(f, ix[0]),
            species_b: string(f, ix[1]),
            commune_code: string(f, ix[2]),
            overlap_ha: real(f, ix[3]).unwrap_or(0.0),
        },
    )?;
    let zones = read_rows(
        &ds,
        "zone_list",
        &["zone_code", "species", "area_ha", "inside_ha"],
        path,
        |f, ix| crate::zone_stats::ZoneTotal {
            zone_code: string(f, ix[0]),
            species: string(f, ix[1]),
            area_ha: real(f, ix[2]).unwrap_or(0.0),
            inside_ha: real(f, ix[3]).unwrap_or(0.0),
        },
    )?;
    Ok(StoredZones {
        pieces,
        species,
        overlaps,
        zones,
    })
}

/// The region's targets as stored (`None` when the run had no `[targets]`).
pub fn read_targets(path: &Path) -> Result<Option<Targets>, PipelineError> {
    let ds = open_store(path)?;
    let Ok(mut l) = ds.layer_by_name("targets") else {
        return Ok(None);
    };
    let (k, j) = (idx(&l, "kind", path)?, idx(&l, "json", path)?);
    let mut t = Targets::default();
    let bad = |e: serde_json::Error| PipelineError::store(path, format!("targets table: {e}"));
    for f in l.features() {
        let json = string(&f, j);
        match string(&f, k).as_str() {
            "cover" => t
                .cover
                .push(serde_json::from_str::<CoverTarget>(&json).map_err(bad)?),
            "zone" => t
                .zones
                .push(serde_json::from_str::<ZoneTarget>(&json).map_err(bad)?),
            other => {
                return Err(PipelineError::store(
                    path,
                    format!("targets table: unknown kind \"{other}\""),
                ))
            }
        }
    }
    if t.cover.is_empty() && t.zones.is_empty() {
        return Ok(None);
    }
    Ok(Some(t))
}

/// The warnings the last run recorded: (source, message).
pub fn read_warnings(path: &Path) -> Result<Vec<(String, String)>, PipelineError> {
    let ds = open_store(path)?;
    read_rows(&ds, "warnings", &["source", "message"], path, |f, ix| {
        (string(f, ix[0]), string(f, ix[1]))
    })
}

/// Epoch ids and dates, in order.
pub fn read_epoch_dates(path: &Path) -> Result<Vec<(String, String)>, PipelineError> {
    let ds = open_store(path)?;
    let mut l = ds
        .layer_by_name("epochs")
        .map_err(|_| PipelineError::store(path, "no epochs layer"))?;
    let (i, d) = (idx(&l, "id", path)?, idx(&l, "date", path)?);
    Ok(l.features()
        .map(|f| (string(&f, i), string(&f, d)))
        .collect())
}

/// Progress on the stored targets, measured on the stored figures
/// (`None` when the run had no targets).
pub fn read_progress(path: &Path) -> Result<Option<Progress>, PipelineError> {
    let Some(targets) = read_targets(path)? else {
        return Ok(None);
    };
    let cover = crate::store::read_cover(path)?;
    let dates = read_epoch_dates(path)?;
    let zones = read_zones(path)?;
    let province_cover: Vec<(String, String, Option<f64>)> = dates
        .iter()
        .map(|(id, date)| {
            let pct = cover
                .province
                .iter()
                .find(|r| &r.epoch == id)
                .and_then(|r| r.figures.cover_pct);
            (id.clone(), date.clone(), pct)
        })
        .collect();
    let natural = cover
        .province
        .first()
        .map(|r| r.figures.natural_ha)
        .unwrap_or(0.0);
    let mut species_ha = BTreeMap::new();
    for r in zones
        .species
        .iter()
        .filter(|r| r.commune_code == crate::cover::PROVINCE_CODE)
    {
        species_ha.insert(r.species.clone(), r.zone_ha);
    }
    let name_of: BTreeMap<&str, &str> = cover
        .communes
        .iter()
        .map(|c| (c.code.as_str(), c.name.as_str()))
        .collect();
    let mut with: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in zones.species.iter().filter(|r| r.zone_ha > 0.0) {
        if let Some(n) = name_of.get(r.commune_code.as_str()) {
            with.entry(r.species.clone())
                .or_default()
                .insert((*n).to_string());
        }
    }
    let names: Vec<String> = cover.communes.iter().map(|c| c.name.clone()).collect();
    let mut p = crate::targets::progress(
        &targets,
        &Measured {
            province_cover: &province_cover,
            province_natural_ha: natural,
            species_ha: &species_ha,
            communes_with_species: &with,
            commune_names: &names,
        },
    );
    // Warnings recorded by the run (reading the targets, zones outside) first.
    let mut all: Vec<String> = read_warnings(path)?.into_iter().map(|(_, m)| m).collect();
    for w in p.warnings.drain(..) {
        if !all.contains(&w) {
            all.push(w);
        }
    }
    p.warnings = all;
    Ok(Some(p))
}
