//! Plan targets: reading them (`[targets]` in the region file) and measuring
//! progress against a store's figures.
//!
//! A targets file may hold several provinces' targets (the shared
//! `domain/targets.toml` has Cao Bằng's and Lạng Sơn's); only those whose
//! province is the region's (compared without case or diacritics) apply, and the
//! others are reported as skipped. Problems that do not stop a run (a target
//! year before the first epoch, a species with no zone, a named commune the
//! region does not have) become warnings that the run, the report and the API
//! all show: never a silent zero.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub use canopy_core::targets::{decimal_year, progress, Measured, Progress, Targets, METHOD};
use canopy_core::targets::{CoverTarget, ZoneTarget};
use serde::Deserialize;

use crate::config::Region;
use crate::error::PipelineError;
use crate::text::fold;

/// The format of a targets file (`domain/targets.toml`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetsFile {
    #[serde(default)]
    cover_target: Vec<CoverTarget>,
    #[serde(default)]
    zone_target: BTreeMap<String, ZoneTarget>,
}

/// Reads the region's targets (file and inline), keeps the region's own and
/// checks them. `None` when the region has no `[targets]`.
pub fn load(region: &Region) -> Result<Option<Targets>, PipelineError> {
    let Some(cfg) = &region.targets else {
        return Ok(None);
    };
    let mut cover = cfg.cover_target.clone();
    let mut zone_map = cfg.zone_target.clone();
    let source = cfg.path.clone().unwrap_or_else(|| region.file.clone());
    if let Some(path) = &cfg.path {
        let text = std::fs::read_to_string(path).map_err(|e| PipelineError::Config {
            file: path.clone(),
            msg: format!("cannot read the targets file (region.toml [targets] path): {e}"),
        })?;
        let file: TargetsFile = toml::from_str(&text).map_err(|e| PipelineError::Config {
            file: path.clone(),
            msg: e.to_string(),
        })?;
        cover.extend(file.cover_target);
        for (k, v) in file.zone_target {
            zone_map.entry(k).or_insert(v);
        }
    }
    let mut zones: Vec<ZoneTarget> = zone_map
        .into_iter()
        .map(|(k, mut v)| {
            v.species = k.to_lowercase();
            v.province = crate::text::nfc(&v.province);
            v.communes = v.communes.iter().map(|c| crate::text::nfc(c)).collect();
            v
        })
        .collect();
    for c in &mut cover {
        c.province = crate::text::nfc(&c.province);
    }
    select(region, &source, cover, &mut zones).map(Some)
}

fn select(
    region: &Region,
    source: &Path,
    cover: Vec<CoverTarget>,
    zones: &mut Vec<ZoneTarget>,
) -> Result<Targets, PipelineError> {
    let err = |msg: String| PipelineError::Config {
        file: source.to_path_buf(),
        msg,
    };
    for c in &cover {
        if !(c.pct > 0.0 && c.pct <= 100.0) {
            return Err(err(format!(
                "cover_target for {} by {}: pct = {} is not within (0, 100]",
                c.province, c.year, c.pct
            )));
        }
        check_year(c.year).map_err(|m| err(format!("cover_target for {}: {m}", c.province)))?;
    }
    for z in zones.iter() {
        if !(z.min_ha >= 0.0 && z.min_ha <= z.max_ha) {
            return Err(err(format!(
                "zone_target.{}: min_ha = {} and max_ha = {} must satisfy 0 ≤ min_ha ≤ max_ha",
                z.species, z.min_ha, z.max_ha
            )));
        }
        check_year(z.year).map_err(|m| err(format!("zone_target.{}: {m}", z.species)))?;
    }
    let mine = fold(&region.name);
    let provinces: BTreeSet<String> = cover
        .iter()
        .map(|c| c.province.clone())
        .chain(zones.iter().map(|z| z.province.clone()))
        .collect();
    let mut warnings = Vec::new();
    let others: Vec<&String> = provinces.iter().filter(|p| fold(p) != mine).collect();
    if !provinces.is_empty() && others.len() == provinces.len() {
        return Err(err(format!(
            "no target is for this region's province \"{}\" (the targets name: {}); \
             check the province names or the region's name",
            region.name,
            provinces.iter().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    if !others.is_empty() {
        warnings.push(format!(
            "{}: targets for {} skipped (this region is {})",
            source.display(),
            others
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            region.name
        ));
    }
    let cover: Vec<CoverTarget> = cover
        .into_iter()
        .filter(|c| fold(&c.province) == mine)
        .collect();
    zones.retain(|z| fold(&z.province) == mine);
    // A target year before the first epoch: still measured, never projected.
    if let Some(first) = region.epochs.first() {
        let first_year: i32 = first.date[..4].parse().unwrap_or(i32::MIN);
        for c in &cover {
            if c.year < first_year {
                warnings.push(format!(
                    "cover target {} % by {} is before the first epoch ({} on {}): \
                     its gap is reported, no projection applies",
                    c.pct, c.year, first.id, first.date
                ));
            }
        }
        for z in zones.iter() {
            if z.year < first_year {
                warnings.push(format!(
                    "zone target for {} by {} is before the first epoch ({} on {})",
                    z.species, z.year, first.id, first.date
                ));
            }
        }
    }
    Ok(Targets {
        cover,
        zones: std::mem::take(zones),
        warnings,
    })
}

fn check_year(y: i32) -> Result<(), String> {
    if (1900..=2200).contains(&y) {
        Ok(())
    } else {
        Err(format!("year = {y} is not a plausible year"))
    }
}
