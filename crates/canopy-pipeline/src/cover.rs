//! The forest-cover job: per commune and epoch, exact forest and observed area.
//!
//! For each epoch: plan the working grid ([`crate::raster::mosaic`]), compute each
//! commune's exact coverage on it once, then stream the grid in strips of whole
//! rows, in parallel, each strip read once for all communes. Strip results are
//! reduced in strip order, so the figures are bit-identical whatever the number
//! of threads. The province is the union of the communes (their overlaps counted
//! once), treated as one more polygon.

use std::time::Instant;

use canopy_core::coverage::{coverage, Coverage};
use canopy_core::grid::Grid;
use canopy_core::pixel_area::PixelArea;
use canopy_core::stats::CoverFigures;
use canopy_core::zonal::{accumulate, accumulate_counts, CoverSums, Strip};

use crate::touched::{touches, Touched};
use geo::{Area, BoundingRect, MultiPolygon, Rect};
use rayon::prelude::*;

use crate::communes::{self, CommuneLayer};
use crate::config::Region;
use crate::crs::{Crs, Transformer};
use crate::error::PipelineError;
use crate::raster::mosaic::{self, Mosaic};
use crate::raster::reader::{MosaicReader, PerThread, Rules, StripData};

pub use canopy_store::{CommuneOut, CoverRow, ObservationRow, PROVINCE_CODE};

/// What the cover job produces.
#[derive(Debug, Clone)]
pub struct CoverResult {
    pub communes: Vec<CommuneOut>,
    /// One row per commune and epoch, communes in source order, epochs in order.
    pub rows: Vec<CoverRow>,
    /// Province (union of communes) figures per epoch.
    pub province: Vec<CoverRow>,
    /// Seconds spent per step (for the runs table).
    pub timings: Vec<(String, f64)>,
    /// Pixels of each epoch's working grid.
    pub pixels: Vec<(String, u64)>,
    /// Per epoch: the sums of [`Prepared::extra`]'s polygons.
    pub extra: Vec<(String, Vec<CoverSums>)>,
    /// Scenes and clear observations per commune and epoch (province last per epoch).
    pub observations: Vec<ObservationRow>,
    /// Communes with no clear observation at all in a composite epoch.
    pub warnings: Vec<String>,
}

/// A region read and checked once, shared by the cover and change jobs.
pub struct Prepared {
    pub layer: CommuneLayer,
    /// The union of the communes (the province), in the layer's CRS.
    pub union: MultiPolygon<f64>,
    /// Areas in `area_crs` (m²): every commune, then the union.
    pub natural_m2: Vec<f64>,
    pub area_crs: Crs,
    /// Bounding box of the communes in the layer's CRS.
    pub bbox: Rect<f64>,
    pub rules: Rules,
    pub communes_out: Vec<CommuneOut>,
    /// More polygons measured in the same pass (zone pieces and species unions,
    /// see [`crate::zone_stats`]), in `area_crs`. Their sums follow the province's.
    pub extra: Vec<MultiPolygon<f64>>,
    /// Forest plots among the extra polygons (`crate::parcels`): their attributes,
    /// and where they start among `extra`. Empty without `[parcels]`.
    pub parcels: Vec<canopy_core::parcel::ParcelAttr>,
    pub parcel_offset: usize,
}

impl Prepared {
    /// The communes' bounding box in another CRS.
    pub fn aoi(&self, crs: &Crs) -> Result<Rect<f64>, PipelineError> {
        if crs.same_as(&self.layer.crs) {
            Ok(self.bbox)
        } else {
            Transformer::new(&self.layer.crs, crs)?.rect_bounds(self.bbox)
        }
    }

    /// Index of the province (the union) among the pass's polygons.
    pub fn province_ix(&self) -> usize {
        self.layer.communes.len()
    }
}

/// Reads the communes, builds the province union and the areas.
pub fn prepare(region: &Region) -> Result<Prepared, PipelineError> {
    let layer = communes::read(&region.communes)?;
    let area_crs = Crs::from_user(&region.area_crs).map_err(|e| PipelineError::Config {
        file: region.file.clone(),
        msg: format!("area_crs: {e}"),
    })?;
    if !area_crs.is_projected_metres() {
        return Err(PipelineError::Config {
            file: region.file.clone(),
            msg: format!(
                "area_crs = \"{}\" is not a projected CRS in metres; use an equal-area or local \
                 projected CRS such as EPSG:32648 (UTM 48N)",
                region.area_crs
            ),
        });
    }
    let wgs84 = Crs::from_user("EPSG:4326")?;
    let to_area = Transformer::new(&layer.crs, &area_crs)?;
    let to_wgs = Transformer::new(&layer.crs, &wgs84)?;

    // Province = union of the communes, so overlaps between neighbours count once.
    let union = geo::unary_union(layer.communes.iter().map(|c| &c.geom));
    let mut natural_m2 = Vec::with_capacity(layer.communes.len() + 1);
    for p in layer
        .communes
        .iter()
        .map(|c| &c.geom)
        .chain(std::iter::once(&union))
    {
        natural_m2.push(to_area.multipolygon(p)?.unsigned_area());
    }
    let communes_out = layer
        .communes
        .iter()
        .zip(&natural_m2)
        .map(|(c, a)| {
            Ok(CommuneOut {
                code: c.code.clone(),
                name: c.name.clone(),
                geom_wgs84: to_wgs.multipolygon(&c.geom)?,
                natural_ha: a / canopy_core::stats::M2_PER_HA,
            })
        })
        .collect::<Result<Vec<_>, PipelineError>>()?;
    let bbox = union
        .bounding_rect()
        .ok_or_else(|| PipelineError::Input("the communes have no extent".into()))?;
    let rules = Rules {
        ndvi_min: region.forest.ndvi_min.unwrap_or(f64::NAN),
        forest_classes: region.forest.forest_classes.clone(),
        legend: region.legend.keys().copied().collect(),
    };
    Ok(Prepared {
        layer,
        union,
        natural_m2,
        area_crs,
        bbox,
        rules,
        communes_out,
        extra: Vec::new(),
        parcels: Vec::new(),
        parcel_offset: 0,
    })
}

/// Runs the cover job on a prepared region.
/// Zonal sums of epochs already computed by the change pass (epoch index →
/// per-polygon sums and working-grid pixels), so they are not read twice.
pub type KnownSums = std::collections::BTreeMap<usize, (Vec<CoverSums>, u64)>;

/// Runs the cover job on a prepared region; epochs in `known` reuse those sums.
pub fn run(
    region: &Region,
    prep: &Prepared,
    known: &KnownSums,
) -> Result<CoverResult, PipelineError> {
    let t0 = Instant::now();
    let mut timings = Vec::new();
    let (layer, natural_m2) = (&prep.layer, &prep.natural_m2);
    let n_polygons = natural_m2.len();

    let mut rows = Vec::new();
    let mut province = Vec::new();
    let mut pixels = Vec::new();
    let mut extra = Vec::new();
    let mut observations = Vec::new();
    let mut warnings = Vec::new();
    for (k, epoch) in region.epochs.iter().enumerate() {
        let te = Instant::now();
        let (sums, npix) = match known.get(&k) {
            Some((sums, npix)) => (sums.clone(), *npix),
            None => epoch_sums(epoch, prep)?,
        };
        for (i, c) in layer.communes.iter().enumerate() {
            rows.push(CoverRow {
                commune_code: c.code.clone(),
                epoch: epoch.id.clone(),
                figures: CoverFigures::new(natural_m2[i], sums[i]),
            });
        }
        let p = n_polygons - 1;
        province.push(CoverRow {
            commune_code: PROVINCE_CODE.into(),
            epoch: epoch.id.clone(),
            figures: CoverFigures::new(natural_m2[p], sums[p]),
        });
        let scenes = scenes_per_polygon(epoch, prep)?;
        for (i, code) in layer
            .communes
            .iter()
            .map(|c| c.code.as_str())
            .chain(std::iter::once(PROVINCE_CODE))
            .enumerate()
        {
            observations.push(ObservationRow {
                commune_code: code.to_string(),
                epoch: epoch.id.clone(),
                scenes: scenes[i],
                clear_obs: if natural_m2[i] > 0.0 {
                    sums[i].clear / natural_m2[i]
                } else {
                    0.0
                },
            });
        }
        if epoch.composite != canopy_core::composite::Method::Priority {
            for (i, c) in layer.communes.iter().enumerate() {
                if sums[i].clear <= 0.0 {
                    warnings.push(format!(
                        "epoch \"{}\": commune {} ({}) has no clear observation in any of the \
                         epoch's scenes; it is reported unobserved",
                        epoch.id, c.code, c.name
                    ));
                }
            }
        }
        pixels.push((epoch.id.clone(), npix));
        extra.push((epoch.id.clone(), sums[n_polygons..].to_vec()));
        if !known.contains_key(&k) {
            timings.push((format!("epoch {}", epoch.id), te.elapsed().as_secs_f64()));
        }
    }
    timings.push(("cover".into(), t0.elapsed().as_secs_f64()));
    Ok(CoverResult {
        communes: prep.communes_out.clone(),
        rows,
        province,
        timings,
        pixels,
        extra,
        observations,
        warnings,
    })
}

/// One epoch's zonal sums on its own working grid, and the grid's pixel count.
fn epoch_sums(
    epoch: &crate::config::EpochConfig,
    prep: &Prepared,
) -> Result<(Vec<CoverSums>, u64), PipelineError> {
    let (area_crs, rules) = (&prep.area_crs, &prep.rules);
    {
        let mosaic = mosaic::plan(epoch, &|crs: &Crs| prep.aoi(crs))?;
        tracing::info!(
            epoch = %epoch.id,
            crs = %mosaic.crs.label,
            width = mosaic.grid.width,
            height = mosaic.grid.height,
            tiles = mosaic.tiles.len(),
            warped = mosaic.tiles.iter().filter(|t| t.placement == mosaic::Placement::Warped).count(),
            "working grid planned"
        );
        // At a merge the strips' sums come from the partials: the coverages
        // are not looked at, only counted.
        let covs = if crate::shard::merging() {
            coverages_without_extra(prep, &mosaic)?
        } else {
            coverages(prep, &mosaic)?
        };
        let area = pixel_areas(&mosaic, area_crs)?;
        let sums = zonal_sums(&mosaic, rules, &covs, &area)?;
        Ok((sums, mosaic.grid.len() as u64))
    }
}

/// Coverage of every commune, then of the province union, then of the extra
/// polygons, on the working grid.
pub(crate) fn coverages(prep: &Prepared, mosaic: &Mosaic) -> Result<Vec<Coverage>, PipelineError> {
    let mut covs = coverages_without_extra(prep, mosaic)?;
    let all = vec![true; prep.extra.len()];
    extra_coverages(prep, mosaic, &all, &mut covs)?;
    Ok(covs)
}

/// As [`coverages`], with every extra polygon's coverage empty: where only
/// some of them will be looked at ([`add_extra_near`]).
pub(crate) fn coverages_without_extra(
    prep: &Prepared,
    mosaic: &Mosaic,
) -> Result<Vec<Coverage>, PipelineError> {
    let tr = Transformer::new(&prep.layer.crs, &mosaic.crs)?;
    let mut batch = Vec::with_capacity(prep.layer.communes.len() + 1);
    for c in &prep.layer.communes {
        batch.push(tr.multipolygon(&c.geom)?);
    }
    batch.push(tr.multipolygon(&prep.union)?);
    let mut covs = Vec::with_capacity(batch.len() + prep.extra.len());
    covs.par_extend(batch.par_iter().map(|p| coverage(p, &mosaic.grid)));
    covs.resize_with(covs.len() + prep.extra.len(), Coverage::default);
    Ok(covs)
}

/// Fills in, in `covs` (as [`coverages_without_extra`] made them), the coverage
/// of each extra polygon that may reach into one of the pixel boxes `near`
/// (columns `[0]..[2]`, rows `[1]..[3]` of the working grid): those whose
/// bounding box in the area CRS meets a box's image there (the box widened by
/// two pixels, its outline sampled every sixteenth of a side). The others stay
/// empty, which changes nothing for a reader of the boxes: a polygon outside
/// them covers none of their pixels. At a merge, the alerts are all that looks
/// at the plots' coverages, so 291,166 plots need not be projected and
/// rasterised again for a few dozen alerts.
pub(crate) fn add_extra_near(
    prep: &Prepared,
    mosaic: &Mosaic,
    near: &[[u32; 4]],
    covs: &mut [Coverage],
) -> Result<(), PipelineError> {
    if prep.extra.is_empty() || near.is_empty() {
        return Ok(());
    }
    let g = mosaic.grid;
    let to_area = (!prep.area_crs.same_as(&mosaic.crs))
        .then(|| Transformer::new(&mosaic.crs, &prep.area_crs))
        .transpose()?;
    let mut boxes = Vec::with_capacity(near.len());
    for b in near {
        let (x0, x1) = (
            g.x0 + (b[0] as f64 - 2.0) * g.dx,
            g.x0 + (b[2] as f64 + 2.0) * g.dx,
        );
        let (y1, y0) = (
            g.y0 - (b[1] as f64 - 2.0) * g.dy,
            g.y0 - (b[3] as f64 + 2.0) * g.dy,
        );
        let mut pts: Vec<(f64, f64)> = (0..=16)
            .flat_map(|i| {
                let t = i as f64 / 16.0;
                let (x, y) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
                [(x, y0), (x, y1), (x0, y), (x1, y)]
            })
            .collect();
        if let Some(tr) = &to_area {
            tr.points(&mut pts)?;
        }
        let fold = |f: fn(f64, f64) -> f64, init: f64, pick: fn(&(f64, f64)) -> f64| {
            pts.iter().map(pick).fold(init, f)
        };
        boxes.push([
            fold(f64::min, f64::INFINITY, |p| p.0),
            fold(f64::min, f64::INFINITY, |p| p.1),
            fold(f64::max, f64::NEG_INFINITY, |p| p.0),
            fold(f64::max, f64::NEG_INFINITY, |p| p.1),
        ]);
    }
    let keep: Vec<bool> = prep
        .extra
        .par_iter()
        .map(|p| {
            p.bounding_rect().is_some_and(|r| {
                boxes.iter().any(|b| {
                    r.min().x <= b[2] && r.max().x >= b[0] && r.min().y <= b[3] && r.max().y >= b[1]
                })
            })
        })
        .collect();
    extra_coverages(prep, mosaic, &keep, covs)
}

/// The coverage of extra polygon `k` into `covs` (after the communes and the
/// province) where `keep[k]`.
///
/// Extra polygons (a province of plots) are projected a batch at a time, so no
/// projected copy of all of them is ever held; already in the grid's CRS, they
/// are not copied at all.
fn extra_coverages(
    prep: &Prepared,
    mosaic: &Mosaic,
    keep: &[bool],
    covs: &mut [Coverage],
) -> Result<(), PipelineError> {
    const BATCH: usize = 8192;
    let grid = mosaic.grid;
    let out = &mut covs[prep.province_ix() + 1..];
    let kept: Vec<usize> = (0..prep.extra.len()).filter(|&k| keep[k]).collect();
    let tr = (!prep.area_crs.same_as(&mosaic.crs))
        .then(|| Transformer::new(&prep.area_crs, &mosaic.crs))
        .transpose()?;
    for chunk in kept.chunks(BATCH) {
        let projected: Vec<MultiPolygon<f64>> = match &tr {
            Some(tr) => chunk
                .iter()
                .map(|&k| tr.multipolygon(&prep.extra[k]))
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let made: Vec<Coverage> = chunk
            .par_iter()
            .enumerate()
            .map(|(i, &k)| coverage(projected.get(i).unwrap_or(&prep.extra[k]), &grid))
            .collect();
        for (&k, c) in chunk.iter().zip(made) {
            out[k] = c;
        }
    }
    Ok(())
}

/// Lattice step (pixels) for pixel areas when the working grid is not in the area CRS.
const AREA_STEP: usize = 64;

/// The area of each working-grid pixel in the area CRS.
pub(crate) fn pixel_areas(mosaic: &Mosaic, area_crs: &Crs) -> Result<PixelArea, PipelineError> {
    let g: Grid = mosaic.grid;
    if mosaic.crs.same_as(area_crs) {
        return Ok(PixelArea::Constant(g.pixel_area()));
    }
    let tr = Transformer::new(&mosaic.crs, area_crs)?;
    let (cols, rows) = PixelArea::lattice_points(g.width, g.height, AREA_STEP);
    let mut values = Vec::with_capacity(cols * rows);
    let mut pts = Vec::with_capacity(cols * 4);
    for j in 0..rows {
        pts.clear();
        for i in 0..cols {
            let x = g.x0 + (i * AREA_STEP) as f64 * g.dx;
            let y = g.y0 - (j * AREA_STEP) as f64 * g.dy;
            pts.extend([(x, y), (x + g.dx, y), (x + g.dx, y - g.dy), (x, y - g.dy)]);
        }
        tr.points(&mut pts)?;
        for q in pts.chunks_exact(4) {
            // Shoelace area of the pixel's image (a quadrilateral to first order).
            let mut s = 0.0;
            for k in 0..4 {
                let (a, b) = (q[k], q[(k + 1) % 4]);
                s += a.0 * b.1 - b.0 * a.1;
            }
            values.push(s.abs() / 2.0);
        }
    }
    Ok(PixelArea::Lattice {
        step: AREA_STEP,
        cols,
        rows,
        values,
    })
}

/// For each commune and the province: how many of the epoch's scenes reach its
/// bounding box (a scene is a tile of the epoch).
fn scenes_per_polygon(
    epoch: &crate::config::EpochConfig,
    prep: &Prepared,
) -> Result<Vec<u32>, PipelineError> {
    let m = mosaic::plan(epoch, &|crs: &Crs| prep.aoi(crs))?;
    let tr = Transformer::new(&prep.layer.crs, &m.crs)?;
    let g = m.grid;
    let polys = prep
        .layer
        .communes
        .iter()
        .map(|c| &c.geom)
        .chain(std::iter::once(&prep.union));
    let mut out = Vec::new();
    for p in polys {
        let n = match p.bounding_rect() {
            Some(b) => {
                let b = tr.rect_bounds(b)?;
                m.tiles
                    .iter()
                    .filter(|t| {
                        let w = t.window;
                        let (x0, y1) = (g.x0 + w.col as f64 * g.dx, g.y0 - w.row as f64 * g.dy);
                        let (x1, y0) = (x0 + w.width as f64 * g.dx, y1 - w.height as f64 * g.dy);
                        x0 < b.max().x && x1 > b.min().x && y0 < b.max().y && y1 > b.min().y
                    })
                    .count() as u32
            }
            None => 0,
        };
        out.push(n);
    }
    Ok(out)
}

/// Streams the working grid in strips and reduces per-polygon sums in strip order.
fn zonal_sums(
    mosaic: &Mosaic,
    rules: &Rules,
    covs: &[Coverage],
    area: &PixelArea,
) -> Result<Vec<CoverSums>, PipelineError> {
    let g = mosaic.grid;
    let strips = crate::strips::strip_rows(g.width, g.height);
    let pb = crate::progress::bar(strips.len() as u64, format!("epoch {}", mosaic.epoch));
    let readers = PerThread::new();
    let key = format!("cover:{}", mosaic.epoch);
    let per_strip: Vec<Touched<CoverSums>> =
        crate::shard::map_strips(&key, &[&mosaic.epoch], &strips, |&(row0, rows)| {
            readers.with(
                || (MosaicReader::new(mosaic, rules), StripData::default()),
                |(reader, data)| {
                    let reader = reader
                        .as_mut()
                        .map_err(|e| PipelineError::Input(e.to_string()))?;
                    reader.read(row0, rows, data, false)?;
                    let strip = Strip {
                        row0,
                        width: g.width,
                        states: &data.states,
                    };
                    let mut sums = Touched::default();
                    for (k, c) in covs.iter().enumerate() {
                        if !touches(c, row0, rows) {
                            continue;
                        }
                        let mut s = accumulate(c, strip, area);
                        if !data.clear.is_empty() {
                            s.clear = accumulate_counts(c, row0, g.width, &data.clear, area);
                        }
                        sums.push(k, s);
                    }
                    pb.inc(1);
                    Ok(sums)
                },
            )
        })?;
    pb.finish_and_clear();
    let mut total = vec![CoverSums::default(); covs.len()];
    for s in per_strip {
        for (k, v) in s.into_iter() {
            total[k] += v;
        }
    }
    Ok(total)
}
