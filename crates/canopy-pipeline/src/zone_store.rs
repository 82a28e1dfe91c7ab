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
use gdal::spatial_ref::SpatialRef;
use gdal::vector::{Feature, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType, ToGdal};
use gdal::Dataset;
use serde::Serialize;

use crate::error::PipelineError;
use crate::store::{idx, open_store, set_opt, string, table, GResult};
use crate::targets::{Measured, Progress, Targets};
use crate::zone_stats::{ZoneFigures, ZonePlan};

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
    let layer = table(
        ds,
        "warnings",
        &[
            ("source", OGRFieldType::OFTString),
            ("message", OGRFieldType::OFTString),
        ],
    )
    .map_err(|e| ("warnings".to_string(), e))?;
    for (s, m) in &x.warnings {
        let mut f = Feature::new(layer.defn()).map_err(|e| ("warnings".to_string(), e))?;
        f.set_field_string(0, s)
            .and_then(|_| f.set_field_string(1, m))
            .and_then(|_| f.create(&layer))
            .map_err(|e| ("warnings".to_string(), e))?;
    }
    Ok(())
}

fn write_zones(ds: &mut Dataset, z: &ZoneOutputs) -> GResult<()> {
    let (plan, figs) = (z.plan, z.figures);
    let ids = piece_ids(plan);
    {
        let mut srs = SpatialRef::from_epsg(4326)?;
        srs.set_axis_mapping_strategy(gdal::spatial_ref::AxisMappingStrategy::TraditionalGisOrder);
        let layer = ds.create_layer(LayerOptions {
            name: "zones",
            srs: Some(&srs),
            ty: OGRwkbGeometryType::wkbMultiPolygon,
            options: Some(&["FID=fid", "GEOMETRY_NAME=geom", "SPATIAL_INDEX=YES"]),
        })?;
        layer.create_defn_fields(&[
            ("piece_id", OGRFieldType::OFTString),
            ("zone_code", OGRFieldType::OFTString),
            ("species", OGRFieldType::OFTString),
            ("commune_code", OGRFieldType::OFTString),
            ("commune_name", OGRFieldType::OFTString),
            ("area_ha", OGRFieldType::OFTReal),
            ("zone_area_ha", OGRFieldType::OFTReal),
            ("epoch", OGRFieldType::OFTString),
            ("forest_ha", OGRFieldType::OFTReal),
            ("observed_ha", OGRFieldType::OFTReal),
            ("cover_pct", OGRFieldType::OFTReal),
            ("change_from", OGRFieldType::OFTString),
            ("loss_ha", OGRFieldType::OFTReal),
            ("gain_ha", OGRFieldType::OFTReal),
        ])?;
        for ((p, id), (covers, changes)) in plan.pieces.iter().zip(&ids).zip(&figs.pieces) {
            let mut f = Feature::new(layer.defn())?;
            f.set_field_string(0, id)?;
            f.set_field_string(1, &p.zone_code)?;
            f.set_field_string(2, &p.species)?;
            f.set_field_string(3, &p.commune_code)?;
            f.set_field_string(4, &p.commune_name)?;
            f.set_field_double(5, p.area_m2 / M2_PER_HA)?;
            f.set_field_double(6, plan.zones[p.zone].area_ha)?;
            if let Some(last) = covers.last() {
                f.set_field_string(7, &last.epoch)?;
                f.set_field_double(8, last.figures.forest_ha)?;
                f.set_field_double(9, last.figures.observed_ha)?;
                set_opt(&mut f, 10, last.figures.cover_pct)?;
                if let Some(c) = changes.iter().find(|c| c.to_epoch == last.epoch) {
                    f.set_field_string(11, &c.from_epoch)?;
                    f.set_field_double(12, c.loss_ha)?;
                    f.set_field_double(13, c.gain_ha)?;
                }
            }
            f.set_geometry(p.geom_wgs84.to_gdal()?)?;
            f.create(&layer)?;
        }
    }
    {
        let layer = table(
            ds,
            "zone_cover",
            &[
                ("piece_id", OGRFieldType::OFTString),
                ("zone_code", OGRFieldType::OFTString),
                ("commune_code", OGRFieldType::OFTString),
                ("epoch", OGRFieldType::OFTString),
                ("area_ha", OGRFieldType::OFTReal),
                ("forest_ha", OGRFieldType::OFTReal),
                ("observed_ha", OGRFieldType::OFTReal),
                ("cover_pct", OGRFieldType::OFTReal),
            ],
        )?;
        for ((p, id), (covers, _)) in plan.pieces.iter().zip(&ids).zip(&figs.pieces) {
            for c in covers {
                let mut f = Feature::new(layer.defn())?;
                f.set_field_string(0, id)?;
                f.set_field_string(1, &p.zone_code)?;
                f.set_field_string(2, &p.commune_code)?;
                f.set_field_string(3, &c.epoch)?;
                f.set_field_double(4, c.figures.natural_ha)?;
                f.set_field_double(5, c.figures.forest_ha)?;
                f.set_field_double(6, c.figures.observed_ha)?;
                set_opt(&mut f, 7, c.figures.cover_pct)?;
                f.create(&layer)?;
            }
        }
    }
    {
        let layer = table(
            ds,
            "zone_change",
            &[
                ("piece_id", OGRFieldType::OFTString),
                ("zone_code", OGRFieldType::OFTString),
                ("commune_code", OGRFieldType::OFTString),
                ("from_epoch", OGRFieldType::OFTString),
                ("to_epoch", OGRFieldType::OFTString),
                ("loss_ha", OGRFieldType::OFTReal),
                ("gain_ha", OGRFieldType::OFTReal),
            ],
        )?;
        for ((p, id), (_, changes)) in plan.pieces.iter().zip(&ids).zip(&figs.pieces) {
            for c in changes {
                let mut f = Feature::new(layer.defn())?;
                f.set_field_string(0, id)?;
                f.set_field_string(1, &p.zone_code)?;
                f.set_field_string(2, &p.commune_code)?;
                f.set_field_string(3, &c.from_epoch)?;
                f.set_field_string(4, &c.to_epoch)?;
                f.set_field_double(5, c.loss_ha)?;
                f.set_field_double(6, c.gain_ha)?;
                f.create(&layer)?;
            }
        }
    }
    {
        let layer = table(
            ds,
            "species_summary",
            &[
                ("species", OGRFieldType::OFTString),
                ("commune_code", OGRFieldType::OFTString),
                ("epoch", OGRFieldType::OFTString),
                ("zone_ha", OGRFieldType::OFTReal),
                ("forest_ha", OGRFieldType::OFTReal),
                ("observed_ha", OGRFieldType::OFTReal),
                ("cover_pct", OGRFieldType::OFTReal),
                ("change_from", OGRFieldType::OFTString),
                ("loss_ha", OGRFieldType::OFTReal),
                ("gain_ha", OGRFieldType::OFTReal),
            ],
        )?;
        for (u, (covers, changes)) in plan.units.iter().zip(&figs.units) {
            for c in covers {
                let mut f = Feature::new(layer.defn())?;
                f.set_field_string(0, &u.species)?;
                f.set_field_string(1, &u.commune_code)?;
                f.set_field_string(2, &c.epoch)?;
                f.set_field_double(3, u.area_m2 / M2_PER_HA)?;
                f.set_field_double(4, c.figures.forest_ha)?;
                f.set_field_double(5, c.figures.observed_ha)?;
                set_opt(&mut f, 6, c.figures.cover_pct)?;
                // The change that ends at this epoch (consecutive pair first).
                if let Some(ch) = changes.iter().find(|ch| ch.to_epoch == c.epoch) {
                    f.set_field_string(7, &ch.from_epoch)?;
                    f.set_field_double(8, ch.loss_ha)?;
                    f.set_field_double(9, ch.gain_ha)?;
                }
                f.create(&layer)?;
            }
        }
    }
    {
        let layer = table(
            ds,
            "species_overlap",
            &[
                ("species_a", OGRFieldType::OFTString),
                ("species_b", OGRFieldType::OFTString),
                ("commune_code", OGRFieldType::OFTString),
                ("overlap_ha", OGRFieldType::OFTReal),
            ],
        )?;
        for o in &plan.overlaps {
            let mut f = Feature::new(layer.defn())?;
            f.set_field_string(0, &o.species_a)?;
            f.set_field_string(1, &o.species_b)?;
            f.set_field_string(2, &o.commune_code)?;
            f.set_field_double(3, o.overlap_ha)?;
            f.create(&layer)?;
        }
    }
    let layer = table(
        ds,
        "zone_list",
        &[
            ("zone_code", OGRFieldType::OFTString),
            ("species", OGRFieldType::OFTString),
            ("area_ha", OGRFieldType::OFTReal),
            ("inside_ha", OGRFieldType::OFTReal),
        ],
    )?;
    for z in &plan.zones {
        let mut f = Feature::new(layer.defn())?;
        f.set_field_string(0, &z.zone_code)?;
        f.set_field_string(1, &z.species)?;
        f.set_field_double(2, z.area_ha)?;
        f.set_field_double(3, z.inside_ha)?;
        f.create(&layer)?;
    }
    Ok(())
}

fn write_targets(ds: &mut Dataset, t: Option<&Targets>) -> GResult<()> {
    let layer = table(
        ds,
        "targets",
        &[
            ("kind", OGRFieldType::OFTString),
            ("json", OGRFieldType::OFTString),
        ],
    )?;
    let Some(t) = t else { return Ok(()) };
    let rows = t
        .cover
        .iter()
        .map(|c| ("cover", serde_json::to_string(c)))
        .chain(t.zones.iter().map(|z| ("zone", serde_json::to_string(z))));
    for (kind, json) in rows {
        let mut f = Feature::new(layer.defn())?;
        f.set_field_string(0, kind)?;
        f.set_field_string(1, &json.unwrap_or_default())?;
        f.create(&layer)?;
    }
    Ok(())
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

fn dbl(f: &Feature, i: usize) -> Option<f64> {
    f.field_as_double(i).ok().flatten()
}

fn opt_str(f: &Feature, i: usize) -> Option<String> {
    f.field_as_string(i)
        .ok()
        .flatten()
        .filter(|s| !s.is_empty())
}

/// Reads the `zones` layer and the species tables back.
pub fn read_zones(path: &Path) -> Result<StoredZones, PipelineError> {
    let ds = open_store(path)?;
    let mut out = StoredZones::default();
    let fields = |l: &gdal::vector::Layer, names: &[&str]| -> Result<Vec<usize>, PipelineError> {
        names.iter().map(|n| idx(l, n, path)).collect()
    };
    if let Ok(mut l) = ds.layer_by_name("zones") {
        let ix = fields(
            &l,
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
        )?;
        for f in l.features() {
            out.pieces.push(StoredZone {
                piece_id: string(&f, ix[0]),
                zone_code: string(&f, ix[1]),
                species: string(&f, ix[2]),
                commune_code: string(&f, ix[3]),
                commune_name: string(&f, ix[4]),
                area_ha: dbl(&f, ix[5]).unwrap_or(0.0),
                zone_area_ha: dbl(&f, ix[6]).unwrap_or(0.0),
                epoch: opt_str(&f, ix[7]),
                forest_ha: dbl(&f, ix[8]),
                observed_ha: dbl(&f, ix[9]),
                cover_pct: dbl(&f, ix[10]),
                change_from: opt_str(&f, ix[11]),
                loss_ha: dbl(&f, ix[12]),
                gain_ha: dbl(&f, ix[13]),
                geometry: f
                    .geometry()
                    .and_then(|g| g.json().ok())
                    .unwrap_or_else(|| "null".into()),
            });
        }
    }
    if let Ok(mut l) = ds.layer_by_name("species_summary") {
        let ix = fields(
            &l,
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
        )?;
        for f in l.features() {
            out.species.push(SpeciesRow {
                species: string(&f, ix[0]),
                commune_code: string(&f, ix[1]),
                epoch: string(&f, ix[2]),
                zone_ha: dbl(&f, ix[3]).unwrap_or(0.0),
                forest_ha: dbl(&f, ix[4]).unwrap_or(0.0),
                observed_ha: dbl(&f, ix[5]).unwrap_or(0.0),
                cover_pct: dbl(&f, ix[6]),
                change_from: opt_str(&f, ix[7]),
                loss_ha: dbl(&f, ix[8]),
                gain_ha: dbl(&f, ix[9]),
            });
        }
    }
    if let Ok(mut l) = ds.layer_by_name("species_overlap") {
        let ix = fields(
            &l,
            &["species_a", "species_b", "commune_code", "overlap_ha"],
        )?;
        for f in l.features() {
            out.overlaps.push(crate::zone_stats::Overlap {
                species_a: string(&f, ix[0]),
                species_b: string(&f, ix[1]),
                commune_code: string(&f, ix[2]),
                overlap_ha: dbl(&f, ix[3]).unwrap_or(0.0),
            });
        }
    }
    if let Ok(mut l) = ds.layer_by_name("zone_list") {
        let ix = fields(&l, &["zone_code", "species", "area_ha", "inside_ha"])?;
        for f in l.features() {
            out.zones.push(crate::zone_stats::ZoneTotal {
                zone_code: string(&f, ix[0]),
                species: string(&f, ix[1]),
                area_ha: dbl(&f, ix[2]).unwrap_or(0.0),
                inside_ha: dbl(&f, ix[3]).unwrap_or(0.0),
            });
        }
    }
    Ok(out)
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
    let Ok(mut l) = ds.layer_by_name("warnings") else {
        return Ok(Vec::new());
    };
    let (s, m) = (idx(&l, "source", path)?, idx(&l, "message", path)?);
    Ok(l.features()
        .map(|f| (string(&f, s), string(&f, m)))
        .collect())
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
