//! The zone tables' rows (`canopy_store::zones`) from a run's zone plan and
//! figures: pieces with their ids, latest epoch and the change ending there, every
//! piece × epoch and pair, species units, overlaps and zone totals.

use std::collections::BTreeMap;

use canopy_core::stats::M2_PER_HA;
use canopy_store::zones::{PieceChange, PieceCover, SpeciesRow, ZonePiece, ZoneTables};

use crate::zone_stats::{Piece, ZoneChange, ZoneCover, ZoneFigures, ZonePlan};

/// The zone results of a run.
pub struct ZoneOutputs<'a> {
    pub plan: &'a ZonePlan,
    pub figures: &'a ZoneFigures,
}

/// Unique piece ids: `zone_code@commune_code`, with `#n` if codes repeat.
pub(crate) fn piece_ids(plan: &ZonePlan) -> Vec<String> {
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

/// Every zone table's rows.
pub fn tables(z: &ZoneOutputs) -> ZoneTables {
    let ids = piece_ids(z.plan);
    let piece_rows = pieces(z, &ids)
        .map(|(p, id, covers, changes)| {
            let last = covers.last();
            let change = last.and_then(|l| ending_at(changes, &l.epoch));
            let f = last.map(|l| &l.figures);
            ZonePiece {
                piece_id: id.to_string(),
                zone_code: p.zone_code.clone(),
                species: p.species.clone(),
                commune_code: p.commune_code.clone(),
                commune_name: p.commune_name.clone(),
                area_ha: p.area_m2 / M2_PER_HA,
                zone_area_ha: z.plan.zones[p.zone].area_ha,
                epoch: last.map(|l| l.epoch.clone()),
                forest_ha: f.map(|f| f.forest_ha),
                observed_ha: f.map(|f| f.observed_ha),
                cover_pct: f.and_then(|f| f.cover_pct),
                change_from: change.map(|c| c.from_epoch.clone()),
                loss_ha: change.map(|c| c.loss_ha),
                gain_ha: change.map(|c| c.gain_ha),
                geom_wgs84: p.geom_wgs84.clone(),
            }
        })
        .collect();
    let cover = pieces(z, &ids)
        .flat_map(|(p, id, covers, _)| {
            covers.iter().map(move |c| PieceCover {
                piece_id: id.to_string(),
                zone_code: p.zone_code.clone(),
                commune_code: p.commune_code.clone(),
                epoch: c.epoch.clone(),
                area_ha: c.figures.natural_ha,
                forest_ha: c.figures.forest_ha,
                observed_ha: c.figures.observed_ha,
                cover_pct: c.figures.cover_pct,
            })
        })
        .collect();
    let change = pieces(z, &ids)
        .flat_map(|(p, id, _, changes)| {
            changes.iter().map(move |c| PieceChange {
                piece_id: id.to_string(),
                zone_code: p.zone_code.clone(),
                commune_code: p.commune_code.clone(),
                from_epoch: c.from_epoch.clone(),
                to_epoch: c.to_epoch.clone(),
                loss_ha: c.loss_ha,
                gain_ha: c.gain_ha,
            })
        })
        .collect();
    let species = z
        .plan
        .units
        .iter()
        .zip(&z.figures.units)
        .flat_map(|(u, (covers, changes))| {
            covers.iter().map(move |c| {
                let ch = ending_at(changes, &c.epoch);
                SpeciesRow {
                    species: u.species.clone(),
                    commune_code: u.commune_code.clone(),
                    epoch: c.epoch.clone(),
                    zone_ha: u.area_m2 / M2_PER_HA,
                    forest_ha: c.figures.forest_ha,
                    observed_ha: c.figures.observed_ha,
                    cover_pct: c.figures.cover_pct,
                    change_from: ch.map(|c| c.from_epoch.clone()),
                    loss_ha: ch.map(|c| c.loss_ha),
                    gain_ha: ch.map(|c| c.gain_ha),
                }
            })
        })
        .collect();
    ZoneTables {
        pieces: piece_rows,
        cover,
        change,
        species,
        overlaps: z.plan.overlaps.clone(),
        zones: z.plan.zones.clone(),
    }
}
