//! Change between epochs and forest-loss alerts.
//!
//! For each pair of epochs (every consecutive pair, plus any asked for), the
//! later epoch is read onto the earlier epoch's working grid, so both are
//! compared pixel for pixel. In one parallel pass over strips it computes, per
//! commune and for the province: loss, gain and the area unobserved in either
//! epoch (never counted as change), the class-to-class transition matrix when
//! both epochs are class rasters, and the runs of loss pixels. The runs are then
//! labelled into 8-connected patches across strip and tile borders (in strip
//! order, so the result does not depend on the thread count); each patch of at
//! least `[alerts] min_area_ha` becomes an alert with its exact outline.

use std::collections::BTreeMap;
use std::time::Instant;

use canopy_core::change::{change_strip, severity, CH_CODES, CH_GAIN, CH_LOSS, CH_UNOBSERVED};
use canopy_core::components::{row_runs, Component, Labeller, Run};
use canopy_core::composite::{date_of, different_seasons, NO_DAY};
use canopy_core::coverage::{coverage, Coverage};
use canopy_core::outline::outline;
use canopy_core::pixel_area::PixelArea;
use canopy_core::stats::M2_PER_HA;
use canopy_core::zonal::{
    accumulate_counts, accumulate_pair, runs_area, runs_overlap, CoverSums, PairSums, Strip,
};
use geo::{Centroid, MultiPolygon};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::config::{EpochBands, Region};
use crate::cover::{add_extra_near, coverages, coverages_without_extra, pixel_areas, Prepared};
use crate::crs::{Crs, Transformer};
use crate::error::PipelineError;
use crate::raster::mosaic::{self, Mosaic};
use crate::raster::reader::{MosaicReader, PerThread, StripData, NO_CLASS};
use crate::touched::{touches, Touched};
use crate::zones::ZoneLayer;

pub use canopy_store::alerts::AlertKind;
pub use canopy_store::{Alert, ChangeRow};

/// A run of loss pixels of one row with the same confirming-observation count
/// and first non-forest day in the later epoch.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct ObsRun {
    c0: u32,
    c1: u32,
    confirm: u16,
    first: i32,
}

/// What the change job produces.
#[derive(Debug, Clone, Default)]
pub struct ChangeResult {
    pub rows: Vec<ChangeRow>,
    pub province: Vec<ChangeRow>,
    pub alerts: Vec<Alert>,
    pub timings: Vec<(String, f64)>,
    /// Cover sums of the epochs read on their own working grid in a change pass.
    pub cover: crate::cover::KnownSums,
    /// Per pair (from, to): change sums of [`Prepared::extra`]'s polygons.
    pub extra: Vec<(String, String, Vec<[f64; CH_CODES]>)>,
    /// Phenology-guard warnings (pairs of epochs in different seasons).
    pub warnings: Vec<String>,
    /// Each alert's before/after evidence chips (`chips`), stored by `chip_store`.
    pub chips: Vec<crate::chips::Chip>,
    /// Each loss alert's pixels (its id, its runs on its pair's earlier working
    /// grid), for `burn` (the share of the alert that burned).
    pub patches: Vec<(String, Vec<Run>)>,
    /// The forest plots each loss alert touches (regions with `[parcels]`).
    pub alert_parcels: Vec<canopy_store::parcels::AlertParcel>,
    /// Per pair, its burned-area figures, computed in the same strips (`burn`).
    pub burn: Vec<((usize, usize), crate::burn::PairStrips)>,
    /// Alerts whose chips were rendered by this process, and those whose chips
    /// came rendered (from the shards at a merge, from the cache).
    pub chips_rendered: usize,
    pub chips_reused: usize,
}

/// The pairs to compare: every consecutive pair, then `extra` (epoch ids),
/// without repeats. Unknown ids and backward pairs are errors naming them.
pub fn pairs(
    region: &Region,
    extra: &[(String, String)],
) -> Result<Vec<(usize, usize)>, PipelineError> {
    let idx = |id: &str| {
        region
            .epochs
            .iter()
            .position(|e| e.id == id)
            .ok_or_else(|| {
                let ids: Vec<&str> = region.epochs.iter().map(|e| e.id.as_str()).collect();
                PipelineError::Input(format!(
                    "no epoch \"{id}\" in {} (epochs: {})",
                    region.file.display(),
                    ids.join(", ")
                ))
            })
    };
    let mut out: Vec<(usize, usize)> = (1..region.epochs.len()).map(|i| (i - 1, i)).collect();
    if !extra.is_empty() && region.epochs.len() < 2 {
        return Err(PipelineError::Input(format!(
            "change needs two epochs, and {} has only one",
            region.file.display()
        )));
    }
    for (a, b) in extra {
        let (i, j) = (idx(a)?, idx(b)?);
        if i >= j {
            return Err(PipelineError::Input(format!(
                "change pair {a}:{b}: \"{a}\" must come before \"{b}\""
            )));
        }
        if !out.contains(&(i, j)) {
            out.push((i, j));
        }
    }
    Ok(out)
}

/// What one strip contributes (also what a shard's partial holds per strip).
#[derive(serde::Serialize, serde::Deserialize)]
struct StripOut {
    /// Per polygon the strip touches: its sums.
    polys: Touched<PolyOut>,
    /// Loss runs, by row.
    runs: Vec<Run>,
    /// Loss runs of natural forest (class epochs), by row.
    natural: Vec<Run>,
    /// Loss runs by confirming observations of B (composite epochs), with their row.
    obs: Vec<(u32, ObsRun)>,
    /// The strip's burned-area output (`burn`; empty for a pair without NBR).
    burn: crate::burn::StripOut,
}

/// One polygon's sums over one strip.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct PolyOut {
    /// Area per change code.
    change: [f64; CH_CODES],
    /// Class transitions (class epochs; communes and the province only).
    trans: BTreeMap<(i32, i32), f64>,
    /// Cover sums of epoch A, and of B (zero unless B is on its own grid).
    a: CoverSums,
    b: CoverSums,
}

/// Runs the change job for every pair.
pub fn run(
    region: &Region,
    prep: &Prepared,
    zones: Option<&ZoneLayer>,
    pairs: &[(usize, usize)],
) -> Result<ChangeResult, PipelineError> {
    let mut result = ChangeResult::default();
    for &(i, j) in pairs {
        let t0 = Instant::now();
        let (ea, eb) = (&region.epochs[i], &region.epochs[j]);
        let ma = mosaic::plan(ea, &|crs: &Crs| prep.aoi(crs))?;
        let mb = mosaic::plan_on(eb, &ma.crs, ma.grid).map_err(|e| match e {
            PipelineError::Input(m) => PipelineError::Input(format!(
                "{m}: epochs \"{}\" and \"{}\" do not overlap",
                ea.id, eb.id
            )),
            other => other,
        })?;
        // At a merge the strips come from the partials, and only the alerts
        // look at coverages: the extra polygons' (plots') are made for the
        // alerts' patches alone, once they are known (`add_extra_near`).
        let merging = crate::shard::merging();
        let mut covs = if merging {
            coverages_without_extra(prep, &ma)?
        } else {
            coverages(prep, &ma)?
        };
        let zone_covs = match zones {
            Some(z) => {
                let tr = Transformer::new(&z.crs, &ma.crs)?;
                let projected = z
                    .zones
                    .iter()
                    .map(|z| tr.multipolygon(&z.geom))
                    .collect::<Result<Vec<_>, _>>()?;
                projected
                    .par_iter()
                    .map(|p| coverage(p, &ma.grid))
                    .collect()
            }
            None => Vec::new(),
        };
        let area = pixel_areas(&ma, &prep.area_crs)?;
        // B's cover comes with this pass when B's own working grid is A's.
        let b_own = mosaic::plan(eb, &|crs: &Crs| prep.aoi(crs))?;
        let b_cover = b_own.grid == ma.grid && b_own.crs.same_as(&ma.crs);
        let classes = matches!(ea.bands, EpochBands::Classes { .. })
            && matches!(eb.bands, EpochBands::Classes { .. });
        let natural: Vec<i32> = region
            .forest
            .natural_classes
            .iter()
            .map(|&c| c as i32)
            .collect();
        // The NBR of both epochs, read in the same strips (burned area, `burn`).
        let nbr = crate::burn::pair_mosaics(&ma, &mb, ea, eb)?;
        let outs = strips(
            &ma,
            &mb,
            nbr.as_ref().ok().map(|(a, b)| (a, b)),
            prep,
            region,
            &covs,
            &area,
            classes,
            &natural,
            b_cover,
        )?;
        let mut burn_strips = Vec::with_capacity(outs.len());

        // Ordered reduction: identical whatever the thread count.
        let n = covs.len();
        let mut sums = vec![[0.0; CH_CODES]; n];
        let mut trans: Vec<BTreeMap<(i32, i32), f64>> = vec![BTreeMap::new(); n];
        let mut labeller = Labeller::new();
        let mut natural_runs: BTreeMap<u32, Vec<Run>> = BTreeMap::new();
        let mut obs_runs: BTreeMap<u32, Vec<ObsRun>> = BTreeMap::new();
        let mut cover_a = vec![CoverSums::default(); n];
        let mut cover_b = vec![CoverSums::default(); n];
        for mut o in outs {
            burn_strips.push(std::mem::take(&mut o.burn));
            for (p, s) in std::mem::take(&mut o.polys).into_iter() {
                cover_a[p] += s.a;
                cover_b[p] += s.b;
                for k in 0..CH_CODES {
                    sums[p][k] += s.change[k];
                }
                for (k, v) in s.trans {
                    *trans[p].entry(k).or_insert(0.0) += v;
                }
            }
            for row in o.runs.chunk_by(|a, b| a.row == b.row) {
                labeller.push_row(row);
            }
            for r in o.natural {
                natural_runs.entry(r.row).or_default().push(r);
            }
            for (row, r) in o.obs {
                obs_runs.entry(row).or_default().push(r);
            }
        }
        let burn = match nbr {
            Ok(_) => {
                let (s, b) = crate::burn::reduce(burn_strips, n);
                Ok((s, b, area.clone()))
            }
            Err(w) => Err(w),
        };
        result.burn.push(((i, j), burn));
        let row_of = |k: usize, code: &str| {
            let s = &sums[k];
            let mut t: Vec<(i64, i64, f64)> = trans[k]
                .iter()
                .map(|(&(a, b), &v)| (a as i64, b as i64, v / M2_PER_HA))
                .collect();
            t.sort_by_key(|x| (x.0, x.1));
            ChangeRow {
                commune_code: code.to_string(),
                from_epoch: ea.id.clone(),
                to_epoch: eb.id.clone(),
                loss_ha: s[CH_LOSS as usize] / M2_PER_HA,
                gain_ha: s[CH_GAIN as usize] / M2_PER_HA,
                net_ha: (s[CH_GAIN as usize] - s[CH_LOSS as usize]) / M2_PER_HA,
                unobserved_ha: s[CH_UNOBSERVED as usize] / M2_PER_HA,
                transitions: t,
            }
        };
        for (k, c) in prep.layer.communes.iter().enumerate() {
            result.rows.push(row_of(k, &c.code));
        }
        let province = prep.province_ix();
        result
            .province
            .push(row_of(province, crate::cover::PROVINCE_CODE));
        result
            .extra
            .push((ea.id.clone(), eb.id.clone(), sums[province + 1..].to_vec()));

        let npix = ma.grid.len() as u64;
        result.cover.entry(i).or_insert((cover_a, npix));
        if b_cover {
            result.cover.entry(j).or_insert((cover_b, npix));
        }
        let mismatch = season_mismatch(&ma, &mb);
        if mismatch {
            let (wa, wb) = (
                ma.window().unwrap_or_default(),
                mb.window().unwrap_or_default(),
            );
            result.warnings.push(format!(
                "epochs \"{}\" (scenes {} to {}) and \"{}\" (scenes {} to {}) cover different \
                 seasons: leaf-off or dry-season vegetation can look like loss; their alerts are \
                 flagged season_mismatch",
                ea.id, wa.0, wa.1, eb.id, wb.0, wb.1
            ));
        }
        let chip_key = format!("chips:{}:{}", ea.id, eb.id);
        let pair_ids = [ea.id.as_str(), eb.id.as_str()];
        if let Some(own) =
            crate::shard::own_rows(&crate::strips::strip_rows(ma.grid.width, ma.grid.height))
        {
            // A shard's loss runs are labelled at the merge, with every shard's.
            // The shard renders the chips of the alerts wholly inside its rows
            // (a patch off its border rows cannot join another shard's runs):
            // their ids are known here, so the merge renders only the others.
            let h = ma.grid.height;
            let inside: Vec<Component> = labeller
                .finish()
                .into_iter()
                .filter(|c| {
                    (own.start == 0 || c.bbox[1] as usize > own.start)
                        && (own.end == h || (c.bbox[3] as usize) < own.end)
                })
                .collect();
            let patches: Vec<(String, Component)> =
                alert_patches(inside, prep, region, &covs, &area)
                    .into_iter()
                    .map(|c| {
                        (
                            alert_id(&ea.id, &eb.id, &ma.crs, &ma.grid, &c.runs[0], c.pixels),
                            c,
                        )
                    })
                    .collect();
            let (chips, _) = crate::chips::render(
                &ma,
                &mb,
                &prep.rules,
                &patches,
                &mut std::collections::HashMap::new(),
            )?;
            crate::shard::record_chips(&chip_key, &chips);
            continue;
        }
        let big = alert_patches(labeller.finish(), prep, region, &covs, &area);
        if merging {
            let boxes: Vec<[u32; 4]> = big.iter().map(|c| c.bbox).collect();
            add_extra_near(prep, &ma, &boxes, &mut covs)?;
        }
        let mut patches = Vec::new();
        let alerts = alerts_of(
            big,
            &ma,
            prep,
            region,
            zones,
            &covs,
            &zone_covs,
            &area,
            &natural_runs,
            &obs_runs,
            mismatch,
            classes,
            (i, j),
            &mut patches,
            &mut result.alert_parcels,
        )?;
        let t_chips = std::time::Instant::now();
        let mut known = crate::shard::known_chips(&chip_key, &pair_ids)?;
        let (chips, rendered) = crate::chips::render(&ma, &mb, &prep.rules, &patches, &mut known)?;
        let reused = patches.len().min(crate::chips::MAX_ALERTS) - rendered;
        tracing::info!(from = %ea.id, to = %eb.id, rendered, reused, "evidence chips");
        result.chips_rendered += rendered;
        result.chips_reused += reused;
        crate::shard::remember_chips(&chip_key, &pair_ids, &chips, rendered);
        result.chips.extend(chips);
        result.timings.push((
            format!("chips {}→{}", ea.id, eb.id),
            t_chips.elapsed().as_secs_f64(),
        ));
        result
            .patches
            .extend(patches.into_iter().map(|(id, c)| (id, c.runs)));
        tracing::info!(from = %ea.id, to = %eb.id, alerts = alerts.len(), "change computed");
        result.alerts.extend(alerts);
        result.timings.push((
            format!("change {}→{}", ea.id, eb.id),
            t0.elapsed().as_secs_f64(),
        ));
    }
    Ok(result)
}

/// How a change pass reads the NBR of its pair (burned area).
enum Nbr<'a> {
    /// No NBR (an epoch without SWIR).
    None,
    /// In the NDVI readers' own reads (composite epochs).
    Folded,
    /// With readers of their own, A's then B's.
    Readers(MosaicReader<'a>, MosaicReader<'a>),
}

#[allow(clippy::too_many_arguments)]
fn strips(
    ma: &Mosaic,
    mb: &Mosaic,
    nbr: Option<(&Mosaic, &Mosaic)>,
    prep: &Prepared,
    region: &Region,
    covs: &[Coverage],
    area: &PixelArea,
    classes: bool,
    natural: &[i32],
    b_cover: bool,
) -> Result<Vec<StripOut>, PipelineError> {
    let g = ma.grid;
    let rows = crate::strips::strip_rows(g.width, g.height);
    let pb = crate::progress::bar(
        rows.len() as u64,
        format!("change {}→{}", ma.epoch, mb.epoch),
    );
    let min_drop = region.alerts.min_ndvi_drop;
    let rules = &prep.rules;
    let per_thread = PerThread::new();
    let key = format!("change:{}:{}", ma.epoch, mb.epoch);
    let outs = crate::shard::map_strips(&key, &[&ma.epoch, &mb.epoch], &rows, |&(row0, nrows)| {
        per_thread.with(
            || {
                // Composite epochs composite their NBR from the NDVI readers'
                // own reads (`MosaicReader::with_nbr`); others read it with
                // readers of their own.
                let readers = (|| -> Result<_, PipelineError> {
                    let Some((na, nb)) = nbr else {
                        let (a, b) = (MosaicReader::new(ma, rules)?, MosaicReader::new(mb, rules)?);
                        return Ok((a, b, Nbr::None));
                    };
                    let a = MosaicReader::with_nbr(ma, na, rules)?;
                    let b = MosaicReader::with_nbr(mb, nb, rules)?;
                    Ok(match (a, b) {
                        (Some(a), Some(b)) => (a, b, Nbr::Folded),
                        _ => (
                            MosaicReader::new(ma, rules)?,
                            MosaicReader::new(mb, rules)?,
                            Nbr::Readers(
                                MosaicReader::new(na, rules)?,
                                MosaicReader::new(nb, rules)?,
                            ),
                        ),
                    })
                })();
                (
                    readers,
                    [StripData::default(), StripData::default()],
                    [StripData::default(), StripData::default()],
                    Vec::new(),
                    Vec::new(),
                )
            },
            |(readers, [da, db], [dna, dnb], codes, mask)| {
                let (ra, rb, rn) = readers
                    .as_mut()
                    .map_err(|e| PipelineError::Input(e.to_string()))?;
                ra.read(row0, nrows, da, true)?;
                rb.read(row0, nrows, db, true)?;
                // The burn codes, while A's states are at hand (`codes` is reused below).
                let nbr_pair = match rn {
                    Nbr::Readers(rna, rnb) => {
                        rna.read(row0, nrows, dna, true)?;
                        rnb.read(row0, nrows, dnb, true)?;
                        Some((&dna.ndvi, &dnb.ndvi))
                    }
                    Nbr::Folded => Some((&da.nbr, &db.nbr)),
                    Nbr::None => None,
                };
                let burn = match nbr_pair {
                    Some((na, nb)) => crate::burn::strip(
                        &da.states, na, nb, row0, nrows, g.width, covs, area, codes,
                    ),
                    None => crate::burn::StripOut::default(),
                };
                let ndvi = (!da.ndvi.is_empty() && !db.ndvi.is_empty())
                    .then(|| (&da.ndvi[..], &db.ndvi[..]));
                change_strip(&da.states, &db.states, ndvi, min_drop, codes, mask);
                let strip_a = Strip {
                    row0,
                    width: g.width,
                    states: &da.states,
                };
                let mut polys = Touched::default();
                for (k, c) in covs.iter().enumerate() {
                    if !touches(c, row0, nrows) {
                        continue;
                    }
                    // One sweep: both epochs' cover and the change codes.
                    let p: PairSums = accumulate_pair(c, strip_a, &db.states, area);
                    let mut out = PolyOut {
                        change: p.change,
                        a: p.a,
                        b: if b_cover { p.b } else { CoverSums::default() },
                        ..PolyOut::default()
                    };
                    // Transitions for communes and the province only.
                    if classes && k <= prep.province_ix() {
                        transitions(
                            c,
                            row0,
                            nrows,
                            g.width,
                            &da.classes,
                            &db.classes,
                            area,
                            &mut out.trans,
                        );
                    }
                    if !da.clear.is_empty() {
                        out.a.clear = accumulate_counts(c, row0, g.width, &da.clear, area);
                    }
                    if b_cover && !db.clear.is_empty() {
                        out.b.clear = accumulate_counts(c, row0, g.width, &db.clear, area);
                    }
                    polys.push(k, out);
                }
                let mut obs = Vec::new();
                if !db.confirm.is_empty() {
                    for r in 0..nrows {
                        let at = r * g.width;
                        let line = &mask[at..][..g.width];
                        let mut c = 0;
                        while c < g.width {
                            if line[c] != 1 {
                                c += 1;
                                continue;
                            }
                            let key = (db.confirm[at + c], db.first_nf[at + c]);
                            let c0 = c;
                            while c < g.width
                                && line[c] == 1
                                && (db.confirm[at + c], db.first_nf[at + c]) == key
                            {
                                c += 1;
                            }
                            obs.push((
                                (row0 + r) as u32,
                                ObsRun {
                                    c0: c0 as u32,
                                    c1: c as u32,
                                    confirm: key.0,
                                    first: key.1,
                                },
                            ));
                        }
                    }
                }
                let mut runs = Vec::new();
                let mut nat = Vec::new();
                let mut nat_mask = Vec::new();
                for r in 0..nrows {
                    let line = &mask[r * g.width..][..g.width];
                    row_runs((row0 + r) as u32, line, &mut runs);
                    if classes && !natural.is_empty() {
                        nat_mask.clear();
                        nat_mask.extend(
                            line.iter()
                                .zip(&da.classes[r * g.width..][..g.width])
                                .map(|(&m, c)| (m == 1 && natural.contains(c)) as u8),
                        );
                        row_runs((row0 + r) as u32, &nat_mask, &mut nat);
                    }
                }
                pb.inc(1);
                Ok(StripOut {
                    polys,
                    runs,
                    natural: nat,
                    obs,
                    burn,
                })
            },
        )
    });
    pb.finish_and_clear();
    outs
}

/// Adds the class transitions of one polygon over a strip.
#[allow(clippy::too_many_arguments)]
fn transitions(
    cov: &Coverage,
    row0: usize,
    nrows: usize,
    width: usize,
    ca: &[i32],
    cb: &[i32],
    area: &PixelArea,
    out: &mut BTreeMap<(i32, i32), f64>,
) {
    canopy_core::zonal::accumulate_transitions(
        cov,
        row0,
        width,
        &ca[..nrows * width],
        &cb[..nrows * width],
        NO_CLASS,
        area,
        out,
    );
}

/// The phenology guard for a pair: do the epochs' scene-date windows cover
/// different seasons (`core::composite::different_seasons`)?
pub fn season_mismatch(a: &Mosaic, b: &Mosaic) -> bool {
    match (a.window(), b.window()) {
        (Some(wa), Some(wb)) => different_seasons((&wa.0, &wa.1), (&wb.0, &wb.1)),
        _ => false,
    }
}

fn bbox_overlaps(cov: &Coverage, bbox: [u32; 4]) -> bool {
    let rows = cov.rows();
    match cov.cols() {
        Some(cols) => {
            (rows.start as u32) < bbox[3]
                && (rows.end as u32) > bbox[1]
                && cols.start < bbox[2]
                && cols.end > bbox[0]
        }
        None => false,
    }
}

/// The stable id of a patch: the same inputs give the same id, so triage
/// survives re-runs. Built from the pair, the CRS, the map position of the
/// patch's first pixel and its pixel count.
fn alert_id(
    from: &str,
    to: &str,
    crs: &Crs,
    grid: &canopy_core::grid::Grid,
    first: &Run,
    pixels: u64,
) -> String {
    let x = grid.x0 + first.c0 as f64 * grid.dx;
    let y = grid.y0 - first.row as f64 * grid.dy;
    let key = format!("{from}|{to}|{}|{x:.3}|{y:.3}|{pixels}", crs.label);
    let h = hex::encode(Sha256::digest(key.as_bytes()));
    format!("{from}-{to}-{}", &h[..12])
}

/// The patches that become alerts: at least `[alerts] min_area_ha`, and in the province.
fn alert_patches(
    comps: Vec<Component>,
    prep: &Prepared,
    region: &Region,
    covs: &[Coverage],
    area: &PixelArea,
) -> Vec<Component> {
    let min_m2 = region.alerts.min_area_ha * M2_PER_HA;
    let province = prep.province_ix();
    comps
        .into_iter()
        .filter(|c| runs_area(&c.runs, area) >= min_m2 - 1e-9)
        .filter(|c| {
            bbox_overlaps(&covs[province], c.bbox)
                && runs_overlap(&covs[province], &c.runs, area) > 0.0
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn alerts_of(
    big: Vec<Component>,
    ma: &Mosaic,
    prep: &Prepared,
    region: &Region,
    zones: Option<&ZoneLayer>,
    covs: &[Coverage],
    zone_covs: &[Coverage],
    area: &PixelArea,
    natural_runs: &BTreeMap<u32, Vec<Run>>,
    obs_runs: &BTreeMap<u32, Vec<ObsRun>>,
    season_mismatch: bool,
    classes: bool,
    (i, j): (usize, usize),
    patches: &mut Vec<(String, Component)>,
    alert_parcels: &mut Vec<canopy_store::parcels::AlertParcel>,
) -> Result<Vec<Alert>, PipelineError> {
    let (ea, eb) = (&region.epochs[i], &region.epochs[j]);
    let province = prep.province_ix();
    // Outlines in parallel (pure), transforms sequentially (PROJ handles are not shared).
    let outlines: Vec<MultiPolygon<f64>> =
        big.par_iter().map(|c| outline(&c.runs, &ma.grid)).collect();
    let to_wgs = Transformer::new(&ma.crs, &Crs::from_user("EPSG:4326")?)?;
    let mut out = Vec::with_capacity(big.len());
    for (comp, shape) in big.iter().zip(outlines) {
        let area_m2 = runs_area(&comp.runs, area);
        let mut communes: Vec<(String, f64)> = prep
            .layer
            .communes
            .iter()
            .zip(covs)
            .filter(|(_, cov)| bbox_overlaps(cov, comp.bbox))
            .map(|(c, cov)| {
                (
                    c.code.clone(),
                    runs_overlap(cov, &comp.runs, area) / M2_PER_HA,
                )
            })
            .filter(|(_, ha)| *ha > 0.0)
            .collect();
        communes.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let commune_code = communes.first().map(|c| c.0.clone()).unwrap_or_default();
        // The zone holding at least half of the patch, if any.
        let mut zone: Option<(usize, f64)> = None;
        for (k, cov) in zone_covs.iter().enumerate() {
            if bbox_overlaps(cov, comp.bbox) {
                let ov = runs_overlap(cov, &comp.runs, area);
                if ov >= 0.5 * area_m2 && zone.is_none_or(|(_, best)| ov > best) {
                    zone = Some((k, ov));
                }
            }
        }
        let zone = zone.and_then(|(k, _)| zones.map(|z| &z.zones[k]));
        let natural_m2: f64 = comp
            .runs
            .iter()
            .filter_map(|r| natural_runs.get(&r.row).map(|nr| (r, nr)))
            .flat_map(|(r, nr)| nr.iter().filter(move |n| n.c0 < r.c1 && n.c1 > r.c0))
            .map(|n| runs_area(std::slice::from_ref(n), area))
            .sum();
        let natural_lost = classes.then_some(natural_m2 > 0.0);
        let (mut clear_obs, mut first) = (0u16, NO_DAY);
        for r in &comp.runs {
            if let Some(rs) = obs_runs.get(&r.row) {
                for o in rs.iter().filter(|o| o.c0 < r.c1 && o.c1 > r.c0) {
                    clear_obs = clear_obs.max(o.confirm);
                    first = first.min(o.first);
                }
            }
        }
        // Priority epochs give each pixel one confirming observation dated by the
        // scene that won it (`raster::reader`); the epoch's date is the fallback.
        let (clear_obs, first_seen) = if obs_runs.is_empty() {
            (1, eb.date.clone())
        } else if first == NO_DAY {
            (clear_obs as u32, eb.date.clone())
        } else {
            (clear_obs as u32, date_of(first))
        };
        let sev = severity(
            natural_lost == Some(true),
            zone.map(|z| z.species.as_str()),
            &region.alerts.harvested_species,
        );
        // The forest plots the patch touches, largest part first (issue 14).
        let plot_covs = if prep.parcels.is_empty() {
            &covs[..0]
        } else {
            let start = province + 1 + prep.parcel_offset;
            &covs[start..start + prep.parcels.len()]
        };
        let mut touched: Vec<(usize, f64)> = plot_covs
            .iter()
            .enumerate()
            .filter(|(_, cov)| bbox_overlaps(cov, comp.bbox))
            .map(|(k, cov)| (k, runs_overlap(cov, &comp.runs, area)))
            .filter(|(_, m2)| *m2 > 0.0)
            .collect();
        touched.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then_with(|| prep.parcels[a.0].id.cmp(&prep.parcels[b.0].id))
        });
        let plots: Vec<_> = touched
            .iter()
            .map(|&(k, m2)| (prep.parcels[k].context(), m2 / M2_PER_HA))
            .collect();
        let sev = canopy_core::parcel::severity_of_plots(
            &plots,
            region.alerts.min_area_ha,
            natural_lost == Some(true),
            sev,
            &region.alerts.harvested_species,
        );
        let centroid = shape
            .centroid()
            .map(|p| (p.x(), p.y()))
            .unwrap_or((0.0, 0.0));
        let mut c = [centroid];
        to_wgs.points(&mut c)?;
        out.push(Alert {
            id: alert_id(
                &ea.id,
                &eb.id,
                &ma.crs,
                &ma.grid,
                &comp.runs[0],
                comp.pixels,
            ),
            kind: AlertKind::Loss,
            from_epoch: ea.id.clone(),
            to_epoch: eb.id.clone(),
            from_date: ea.date.clone(),
            to_date: eb.date.clone(),
            geom_wgs84: to_wgs.multipolygon(&shape)?,
            area_ha: area_m2 / M2_PER_HA,
            pixels: comp.pixels,
            centroid: c[0],
            commune_code,
            communes,
            zone_species: zone.map(|z| z.species.clone()),
            zone_code: zone.map(|z| z.code.clone()),
            natural_lost,
            natural_lost_ha: natural_m2 / M2_PER_HA,
            severity: sev,
            clear_obs,
            first_seen,
            season_mismatch,
            cause: canopy_store::alerts::AlertCause::Unknown,
        });
        if let Some(a) = out.last() {
            patches.push((a.id.clone(), comp.clone()));
            for &(k, m2) in &touched {
                let p = &prep.parcels[k];
                alert_parcels.push(canopy_store::parcels::AlertParcel {
                    alert_id: a.id.clone(),
                    parcel_id: p.id.clone(),
                    area_ha: m2 / M2_PER_HA,
                    share: if area_m2 > 0.0 { m2 / area_m2 } else { 0.0 },
                    owner: p.owner.clone(),
                    owner_category: p.owner_category,
                    function: p.function,
                    commune_code: p.commune_code.clone(),
                });
            }
        }
    }
    Ok(out)
}
