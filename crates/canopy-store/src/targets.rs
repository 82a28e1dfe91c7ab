//! `targets` (kind, json: one row per plan target; the table exists, empty, without
//! targets), `warnings` (source, message: everything the run warned about), and
//! target progress measured on the stored figures ([`Reader::progress`]).

use std::collections::{BTreeMap, BTreeSet};

use canopy_core::targets::{CoverTarget, Measured, Progress, Targets, ZoneTarget};
use gdal::vector::{LayerAccess, OGRFieldType};
use gdal::Dataset;

use crate::cover::PROVINCE_CODE;
use crate::error::{Result, StoreError};
use crate::rows::Val::{Str, Text};
use crate::rows::{idx, read_rows, string, write_table, Field, GResult};
use crate::Reader;

pub const LAYER: &str = "targets";
pub const WARNINGS: &str = "warnings";

const FIELDS: [Field; 2] = [
    ("kind", OGRFieldType::OFTString),
    ("json", OGRFieldType::OFTString),
];

const WARNING_FIELDS: [Field; 2] = [
    ("source", OGRFieldType::OFTString),
    ("message", OGRFieldType::OFTString),
];

pub(crate) fn write(ds: &mut Dataset, t: Option<&Targets>) -> GResult<()> {
    let cover = t.into_iter().flat_map(|t| &t.cover);
    let zones = t.into_iter().flat_map(|t| &t.zones);
    let rows = cover
        .map(|c| ("cover", serde_json::to_string(c)))
        .chain(zones.map(|z| ("zone", serde_json::to_string(z))))
        .map(|(kind, json)| [Str(kind), Text(json.unwrap_or_default())]);
    write_table(ds, LAYER, &FIELDS, rows)
}

pub(crate) fn write_warnings(ds: &mut Dataset, warnings: &[(String, String)]) -> GResult<()> {
    write_table(
        ds,
        WARNINGS,
        &WARNING_FIELDS,
        warnings.iter().map(|(s, m)| [Str(s), Str(m)]),
    )
}

impl Reader {
    /// The region's targets as stored (`None` when the run had no `[targets]`).
    pub fn targets(&self) -> Result<Option<Targets>> {
        let path = &self.path;
        let Ok(mut l) = self.ds.layer_by_name(LAYER) else {
            return Ok(None);
        };
        let (k, j) = (idx(&l, "kind", path)?, idx(&l, "json", path)?);
        let mut t = Targets::default();
        let bad = |e: serde_json::Error| StoreError::invalid(path, format!("targets table: {e}"));
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
                    return Err(StoreError::invalid(
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
    pub fn warnings(&self) -> Result<Vec<(String, String)>> {
        read_rows(
            &self.ds,
            WARNINGS,
            &["source", "message"],
            &self.path,
            |f, ix| (string(f, ix[0]), string(f, ix[1])),
        )
    }

    /// Progress on the stored targets, measured on the stored figures
    /// (`None` when the run had no targets).
    pub fn progress(&self) -> Result<Option<Progress>> {
        let Some(targets) = self.targets()? else {
            return Ok(None);
        };
        let cover = self.cover()?;
        let dates = self.epoch_dates()?;
        let zones = self.zones()?;
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
            .filter(|r| r.commune_code == PROVINCE_CODE)
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
        let mut p = canopy_core::targets::progress(
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
        let mut all: Vec<String> = self.warnings()?.into_iter().map(|(_, m)| m).collect();
        for w in p.warnings.drain(..) {
            if !all.contains(&w) {
                all.push(w);
            }
        }
        p.warnings = all;
        Ok(Some(p))
    }
}
