//! Burned area between epoch pairs (issue 17): NBR per epoch, dNBR per pair,
//! burned forest per commune, province, zone piece and forest plot by burn-severity class
//! (`core::burn`, Key & Benson 2006), and the cause of each loss alert.
//!
//! Computed in the pair's change pass (`change`): each strip the change pass
//! reads also gets its burn codes, from the earlier epoch's states that pass
//! already read and the two epochs' NBR read on the same rows (no pass of its
//! own, no second read of the earlier epoch's cover). [`run`] then reduces the
//! strips and, the alerts being known, sets their causes. It reuses the tile reader:
//! an epoch's *NBR mosaic* is its mosaic with each tile's red band
//! replaced by its SWIR2 band, so the reader's "NDVI", `(NIR − red) / (NIR + red)`,
//! is `(NIR − SWIR2) / (NIR + SWIR2)`, the NBR, with the same clear-sky mask,
//! nodata, scaling, warping and priority order. A composite epoch's NBR is
//! composited by the NDVI reader itself from the same reads
//! (`raster::reader::MosaicReader::with_nbr`: one read and one decode of each
//! block, bit-identical to a reader of its own); a priority epoch's NBR has
//! readers of its own. Hence:
//!
//! - a **priority** epoch's NBR is that of the same scene whose observation the
//!   forest cover used (the first clear tile; the mask is the same);
//! - a **composite** epoch's NBR is the per-pixel **median** of its clear
//!   observations' NBR (for `max-ndvi` epochs too: the scene of the max NDVI is
//!   not carried through the composite), with the epoch's `min_clear`.
//!
//! A pixel counts when it is forest in the earlier epoch (its own cover rule);
//! its class is that of `NBR(earlier) − NBR(later)`; "burned" is low severity or
//! worse (dNBR ≥ 0.100). Areas are exact: each polygon's coverage fractions
//! times the pixel areas in `area_crs`, as the cover figures are.
//!
//! A loss alert of the pair gets cause `fire` when more than
//! [`canopy_core::burn::FIRE_SHARE`] of its area burned. A pair where an
//! epoch has no SWIR band is skipped with a warning (tracing and the run's
//! warnings), never a silent zero.

use std::collections::BTreeMap;
use std::time::Instant;

use canopy_core::burn::{burn_codes, AlertCause, BurnClass, BURN_CODES, CODE_NO_DNBR};
use canopy_core::components::{row_runs, Run};
use canopy_core::composite::Method;
use canopy_core::coverage::Coverage;
use canopy_core::forest::{BandScaling, FOREST};
use canopy_core::pixel_area::PixelArea;
use canopy_core::stats::M2_PER_HA;
use canopy_core::zonal::{accumulate_categories, runs_area, Strip};

use crate::touched::{touches, Touched};
use canopy_store::burned_area::{UNIT_COMMUNE, UNIT_PARCEL, UNIT_PROVINCE, UNIT_ZONE_PIECE};
use canopy_store::{AlertKind, BurnedAreaRow};

use crate::change::ChangeResult;
use crate::config::{EpochBands, EpochConfig, Region};
use crate::cover::{Prepared, PROVINCE_CODE};
use crate::error::PipelineError;
use crate::raster::mosaic::Mosaic;
use crate::raster::tile::{self, BandSet};
use gdal::Metadata;

/// The description of the SWIR2 band in a product's stacked VRT (`products::vrt`).
pub const SWIR_DESCRIPTION: &str = "SWIR2";

/// What the burned-area pass produces.
#[derive(Debug, Clone, Default)]
pub struct BurnResult {
    pub rows: Vec<BurnedAreaRow>,
    /// Pairs without SWIR.
    pub warnings: Vec<String>,
    pub timings: Vec<(String, f64)>,
    /// Whether some pair was measured (the table is written then).
    pub measured: bool,
}

/// The epoch's NBR mosaic, or why it has none (a message naming the epoch/tile).
fn nbr_mosaic(m: &Mosaic, epoch: &EpochConfig) -> Result<Result<Mosaic, String>, PipelineError> {
    let mut out = m.clone();
    // Composites take the median of the clear observations' NBR.
    if out.composite != Method::Priority {
        out.composite = Method::MedianNdvi;
    }
    for t in &mut out.tiles {
        let BandSet::Spectral { red, .. } = &mut t.info.bands else {
            return Ok(Err(format!(
                "epoch \"{}\" is a class raster (no SWIR band)",
                epoch.id
            )));
        };
        let ds = tile::open(&t.info.path)?;
        let band = match &epoch.bands {
            EpochBands::Spectral { .. } => match epoch.swir_band {
                Some(b) if b <= ds.raster_count() => b,
                Some(b) => {
                    return Err(PipelineError::raster(
                        &t.info.source,
                        format!(
                            "swir_band = {b}, but the file has {} band(s)",
                            ds.raster_count()
                        ),
                    ))
                }
                None => return Ok(Err(format!("epoch \"{}\" has no swir_band", epoch.id))),
            },
            EpochBands::Product(_) => {
                let found = (1..=ds.raster_count()).find(|&b| {
                    ds.rasterband(b)
                        .map(|r| r.description().ok().as_deref() == Some(SWIR_DESCRIPTION))
                        .unwrap_or(false)
                });
                match found {
                    Some(b) => b,
                    None => {
                        return Ok(Err(format!(
                            "epoch \"{}\": product {} has no SWIR2 band (Sentinel-2 B12, \
                             STAC swir22/B12, Landsat SR_B7)",
                            epoch.id,
                            t.info.source.display()
                        )))
                    }
                }
            }
            EpochBands::Classes { .. } => {
                return Ok(Err(format!(
                    "epoch \"{}\" is a class raster (no SWIR band)",
                    epoch.id
                )))
            }
        };
        let b = ds
            .rasterband(band)
            .map_err(|e| PipelineError::raster(&t.info.source, format!("band {band}: {e}")))?;
        *red = (
            band,
            BandScaling {
                scale: b.scale().unwrap_or(1.0),
                offset: b.offset().unwrap_or(0.0),
                nodata: b.no_data_value(),
            },
        );
    }
    Ok(Ok(out))
}

/// What one strip contributes: per polygon, area per burn code; burned runs
/// (part of a change strip's output, so of a shard's partial too). Empty for a
/// pair without NBR.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct StripOut {
    sums: Touched<[f64; BURN_CODES]>,
    burned: Vec<Run>,
}

/// The NBR mosaics of a pair (`ma`, `mb` as the change pass planned them), or
/// why there are none (a warning naming the epochs).
pub fn pair_mosaics(
    ma: &Mosaic,
    mb: &Mosaic,
    ea: &EpochConfig,
    eb: &EpochConfig,
) -> Result<Result<(Mosaic, Mosaic), String>, PipelineError> {
    match (nbr_mosaic(ma, ea)?, nbr_mosaic(mb, eb)?) {
        (Ok(a), Ok(b)) => Ok(Ok((a, b))),
        (Err(why), _) | (_, Err(why)) => Ok(Err(format!(
            "epochs \"{}\" → \"{}\": no burned area and no alert causes ({why}); give \
             both epochs a SWIR band (swir_band, or products with B12/SR_B7)",
            ea.id, eb.id
        ))),
    }
}

/// The burn codes of one strip (`forest`: the earlier epoch's states; `nbr_a`,
/// `nbr_b`: the epochs' NBR on the same rows) and what they contribute.
#[allow(clippy::too_many_arguments)]
pub fn strip(
    states_a: &[u8],
    nbr_a: &[f32],
    nbr_b: &[f32],
    row0: usize,
    nrows: usize,
    width: usize,
    covs: &[Coverage],
    area: &PixelArea,
    codes: &mut Vec<u8>,
) -> StripOut {
    let forest: Vec<bool> = states_a.iter().map(|&s| s == FOREST).collect();
    burn_codes(&forest, nbr_a, nbr_b, codes);
    let strip = Strip {
        row0,
        width,
        states: codes,
    };
    let mut sums = Touched::default();
    for (k, c) in covs.iter().enumerate() {
        if touches(c, row0, nrows) {
            let mut s = [0.0; BURN_CODES];
            accumulate_categories(c, strip, area, &mut s);
            sums.push(k, s);
        }
    }
    let mut burned = Vec::new();
    let mut mask = vec![0u8; width];
    for r in 0..nrows {
        let line = &codes[r * width..][..width];
        for (m, &c) in mask.iter_mut().zip(line) {
            *m = BurnClass::code_is_burned(c) as u8;
        }
        row_runs((row0 + r) as u32, &mask, &mut burned);
    }
    StripOut { sums, burned }
}

/// A pair's burn figures as the change pass hands them over: per polygon the
/// area per burn code, the burned runs by row, the pixel areas of the pair's
/// grid; or the warning of a pair without NBR.
pub type PairStrips = Result<(Vec<[f64; BURN_CODES]>, BTreeMap<u32, Vec<Run>>, PixelArea), String>;

/// The ordered reduction of a pair's strips (`n` polygons), in strip order.
pub fn reduce(outs: Vec<StripOut>, n: usize) -> (Vec<[f64; BURN_CODES]>, BTreeMap<u32, Vec<Run>>) {
    let mut sums = vec![[0.0; BURN_CODES]; n];
    let mut burned: BTreeMap<u32, Vec<Run>> = BTreeMap::new();
    for o in outs {
        for (p, s) in o.sums.into_iter() {
            for k in 0..BURN_CODES {
                sums[p][k] += s[k];
            }
        }
        for r in o.burned {
            burned.entry(r.row).or_default().push(r);
        }
    }
    (sums, burned)
}

/// Runs the burned-area pass for every pair, and sets the cause of the pair's
/// loss alerts in `change`. `piece_ids`: the zone pieces, the first of `prep.extra`.
pub fn run(
    region: &Region,
    prep: &Prepared,
    pairs: &[(usize, usize)],
    piece_ids: &[String],
    change: &mut ChangeResult,
) -> Result<BurnResult, PipelineError> {
    let mut result = BurnResult::default();
    let strips = std::mem::take(&mut change.burn);
    for &(i, j) in pairs {
        let t0 = Instant::now();
        let (ea, eb) = (&region.epochs[i], &region.epochs[j]);
        let Some((_, pair)) = strips.iter().find(|(p, _)| *p == (i, j)) else {
            continue;
        };
        let (sums, burned, area) = match pair {
            Ok(v) => v,
            Err(w) => {
                tracing::warn!("{w}");
                result.warnings.push(w.clone());
                continue;
            }
        };
        let row = |unit: &str, code: &str, s: &[f64; BURN_CODES]| {
            let mut class_ha = [0.0; 7];
            for c in BurnClass::ALL {
                class_ha[c.index()] = s[c.index()] / M2_PER_HA;
            }
            BurnedAreaRow {
                unit: unit.into(),
                code: code.into(),
                from_epoch: ea.id.clone(),
                to_epoch: eb.id.clone(),
                class_ha,
                no_dnbr_ha: s[CODE_NO_DNBR as usize] / M2_PER_HA,
            }
        };
        for (k, c) in prep.layer.communes.iter().enumerate() {
            result.rows.push(row(UNIT_COMMUNE, &c.code, &sums[k]));
        }
        let province = prep.province_ix();
        let prow = row(UNIT_PROVINCE, PROVINCE_CODE, &sums[province]);
        let burned_ha = prow.burned_ha();
        result.rows.push(prow);
        for (k, id) in piece_ids.iter().enumerate() {
            if let Some(s) = sums.get(province + 1 + k) {
                result.rows.push(row(UNIT_ZONE_PIECE, id, s));
            }
        }
        // Forest plots (issue 14/17): a row per plot with forest in the earlier epoch.
        for (k, p) in prep.parcels.iter().enumerate() {
            if let Some(s) = sums.get(province + 1 + prep.parcel_offset + k) {
                if s.iter().any(|&v| v > 0.0) {
                    result.rows.push(row(UNIT_PARCEL, &p.id, s));
                }
            }
        }
        let fire = set_causes(change, &ea.id, &eb.id, burned, area);
        result.measured = true;
        tracing::info!(from = %ea.id, to = %eb.id, burned_ha, fire_alerts = fire, "burned area computed");
        result.timings.push((
            format!("burned area {}→{}", ea.id, eb.id),
            t0.elapsed().as_secs_f64(),
        ));
    }
    Ok(result)
}

/// Sets the cause of the pair's loss alerts; returns how many burned.
fn set_causes(
    change: &mut ChangeResult,
    from: &str,
    to: &str,
    burned: &BTreeMap<u32, Vec<Run>>,
    area: &PixelArea,
) -> usize {
    let patches: BTreeMap<&str, &Vec<Run>> = change
        .patches
        .iter()
        .map(|(id, runs)| (id.as_str(), runs))
        .collect();
    let mut n = 0;
    for a in change.alerts.iter_mut() {
        if a.kind != AlertKind::Loss || a.from_epoch != from || a.to_epoch != to {
            continue;
        }
        let Some(runs) = patches.get(a.id.as_str()) else {
            continue;
        };
        let inter: Vec<Run> = runs
            .iter()
            .flat_map(|r| {
                burned
                    .get(&r.row)
                    .into_iter()
                    .flatten()
                    .filter_map(move |b| {
                        let (c0, c1) = (r.c0.max(b.c0), r.c1.min(b.c1));
                        (c0 < c1).then_some(Run { row: r.row, c0, c1 })
                    })
            })
            .collect();
        a.cause = AlertCause::of(runs_area(&inter, area), runs_area(runs, area));
        if a.cause == AlertCause::Fire {
            n += 1;
        }
    }
    n
}
