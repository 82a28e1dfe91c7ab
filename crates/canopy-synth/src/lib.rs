//! Deterministic generator of Sentinel-2-like tiles over a region's communes.
//!
//! No real imagery over the provinces exists offline, so [`generate`] writes a region
//! directory the pipeline can run on, with a known answer:
//!
//! - `tiles/<epoch>/utm_r{i}_c{j}.tif` (i, j ∈ {0, 1}): four EPSG:32648 tiles on the
//!   working grid's pixel lattice over the west ~85 % of the extent, each overlapping
//!   its neighbours by ~5 % (≥ 16 px); `tiles/<epoch>/wgs84.tif`: one EPSG:4326 tile (pixels
//!   half the working pixel size, so warping it back is exact) over
//!   the east ~25 %. Bands (UInt16): 1 = red (B4), 2 = NIR (B8), both with scale 0.0001,
//!   offset −0.1 and nodata 0 (Sentinel-2 L2A baseline 04.00); 3 = cloud mask (0 clear,
//!   1 cloud). Clouds cover ~8 % of each tile, elsewhere in every tile and epoch. One
//!   UTM tile has a nodata triangle in its outer corner.
//! - `truth/forest_<epoch>.tif`: Byte 0/1 forest on the whole working grid, and
//!   `truth/truth.json`: grid, epochs, forest fractions, tiles, planted changes, the
//!   alert rule they assume and the planting zones.
//! - `zones.geojson`, when [`SynthOptions::targets`] is given: planting zones (see
//!   below), EPSG:4326 like the communes, properties `zone_code`, `species`,
//!   `commune_code`, `commune_name`.
//! - `region.toml`, only when absent; with `[zones]` when zones were made, and
//!   `[alerts] min_area_ha = 0.3`, `[fire] stations = "weather/stations.csv"` and
//!   `hotspots = ["fire/firms_viirs.csv"]`;
//! - `weather/stations.csv`: three stations' daily 13:00 weather ending in a dry
//!   spell (see `weather`), for the fire danger bulletin;
//! - `fire/firms_viirs.csv`: FIRMS VIIRS hotspots of one fire in natural forest
//!   during the dry spell, a low-confidence detection and two outside the region
//!   (see `fires`); `region.toml`'s `[fire] hotspots` names it.
//!
//! # Planting zones
//!
//! The `[zone_target.<species>]` tables of the targets file (species key, `communes`
//! list) are matched to the layer's `name_field` up to case, Unicode form and
//! tone-mark placement ("Thụy" = "Thuỵ", "Hòa" = "Hoà"), then, failing that, on a
//! unique diacritic-free match (the plan's "Lợi Bắc" is "Lợi Bác"). A table whose
//! `province` is not the region is skipped (names repeat across provinces); names not
//! found are warned about and listed in truth.json (`zones.unmatched`). Each species
//! gets 2–4 zones in each named commune: blobs or rotated rectangles of 50–600 ha,
//! ≥ 400 m inside the commune and ≥ 150 m from every other zone, except exactly two
//! pairs of zones of different species that overlap partly (listed in
//! `zones.overlaps`). Zones are numbered `<region initials>-<SPECIES>-<nnnn>`
//! ("LS-ACACIA-0007"). Inside zones the base field is forest except in ~8 % of 120 m
//! cells, where the ordinary field decides.
//!
//! # Planted changes
//!
//! Per consecutive epoch pair, in this order, each at least 3 px from any other:
//!
//! 1. a 1 ha clearing under a cloud of the later epoch in every tile (no alert
//!    expected);
//! 2. a clearing across the seam of the west and east UTM tiles ("high");
//! 3. with zones: harvests (kind "harvest") of 1–10 ha in acacia and pine zones
//!    (expected severity "low") and clearings of 0.5–2 ha in anise and cinnamon
//!    zones ("medium"), each ≥ 2 px inside one zone and ≥ 2 px away from all others;
//! 4. clearings of natural forest from 20 ha down to 0.1 ha ("high" from 0.3 ha, no
//!    alert below);
//! 5. three regrowth patches (no alert).
//!
//! Every change but those of step 3 lies ≥ 2 px outside every zone. Each change is
//! one rectangle of exactly `pixels` pixels that changes and nothing around it does,
//! so it should give exactly one alert patch of `pixels × pixel area`.
//!
//! Every value is a pure function of the seed and the working-grid pixel (integer-hash
//! value noise), so the same options give byte-identical files on any machine and
//! with any number of threads.

mod communes;
mod field;
mod files;
mod fires;
mod layout;
mod names;
mod parcels;
mod plant;
mod scene;
mod tiles;
mod truth;
mod weather;
mod zones;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::Instant;

use canopy_core::grid::Grid;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use communes::Communes;
use field::{sample_points, CloudField, ForestField};
use layout::{Corner, Layout, Triangle};
use scene::{Epoch, Scene};
use zones::{ZoneMask, Zones};

/// Options of [`generate`].
#[derive(Clone, Debug)]
pub struct SynthOptions {
    /// Region directory to write into.
    pub out_dir: PathBuf,
    /// OGR polygon layer of communes (any CRS).
    pub communes: PathBuf,
    /// Field holding the commune code (written into region.toml).
    pub code_field: String,
    /// Field holding the commune name (written into region.toml).
    pub name_field: String,
    /// Region name, e.g. "Lạng Sơn".
    pub region_name: String,
    /// Pixel size of the working grid, metres (default 30).
    pub pixel_size: f64,
    /// Seed of every random choice (default 7).
    pub seed: u64,
    /// Number of epochs, ≥ 2 (default 2). The last is 2025, the others the years
    /// before it; dates are YYYY-12-31.
    pub epochs: usize,
    /// Targets file (e.g. `data/regions/lang-son/targets.toml`) whose
    /// `[zone_target.<species>]` tables name the communes of each species' planting
    /// zones; when given, zones are made and written to `zones.geojson` (default
    /// none: no zones, no zone changes).
    pub targets: Option<PathBuf>,
    /// Scenes per epoch (default 1). With more, each epoch also gets scenes
    /// `tiles/<epoch>/scenes/sNN_<tile>.tif` of other dates in the year (scene 1 in
    /// January, leaf-off), with moving clouds, haze the mask misses, leaf-off
    /// deciduous forest and mown meadows (see `Scene::scene_pixel`), and region.toml
    /// composites them (`composite = "max-ndvi"`).
    pub scenes: usize,
    /// Forest plots (`parcels.geojson`, see `parcels`): every commune at 10 m or
    /// finer, the two communes with the most planted changes otherwise.
    pub parcels: bool,
    /// Write only `parcels.geojson` (no tiles, truth or region.toml).
    pub parcels_only: bool,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            out_dir: PathBuf::new(),
            communes: PathBuf::new(),
            code_field: "ma_xa".into(),
            name_field: "ten_xa".into(),
            region_name: "Lạng Sơn".into(),
            scenes: 1,
            pixel_size: 30.0,
            seed: 7,
            epochs: 2,
            targets: None,
            parcels: false,
            parcels_only: false,
        }
    }
}

impl SynthOptions {
    /// Default options writing into `out_dir` from the communes layer `communes`.
    pub fn new(out_dir: impl Into<PathBuf>, communes: impl Into<PathBuf>) -> Self {
        SynthOptions {
            out_dir: out_dir.into(),
            communes: communes.into(),
            ..Default::default()
        }
    }
}

/// What [`generate`] wrote.
#[derive(Clone, Debug)]
pub struct SynthSummary {
    /// Tile files written, over all epochs (5 per epoch).
    pub tiles: usize,
    /// Pixels per band over the tiles of one epoch.
    pub pixels_per_band_per_epoch: u64,
    /// The working grid (EPSG:32648) of the truth rasters.
    pub grid: Grid,
    /// Forest share per epoch over the working grid.
    pub forest_fraction: Vec<f64>,
    /// Planted changes (all epoch pairs).
    pub changes: usize,
    /// Planting zones written to zones.geojson (0 without targets).
    pub zones: usize,
    /// Forest plots written to parcels.geojson (0 without `parcels`).
    pub parcels: usize,
}

/// Why [`generate`] failed.
#[derive(thiserror::Error, Debug)]
pub enum SynthError {
    #[error("synth: pixel_size must be a positive number of metres (got {0})")]
    PixelSize(f64),
    #[error("synth: epochs must be at least 2 (got {0})")]
    Epochs(usize),
    #[error("synth: cannot read targets file {path}: {msg}")]
    Targets { path: PathBuf, msg: String },
    #[error("synth: cannot read communes layer {path}: {source}")]
    CommunesRead {
        path: PathBuf,
        source: gdal::errors::GdalError,
    },
    #[error("synth: communes layer {path} has no field {field:?}")]
    MissingField { path: PathBuf, field: String },
    #[error("synth: communes layer {path} has no polygon features")]
    NoPolygons { path: PathBuf },
    #[error("synth: cannot reproject communes {path} to EPSG:32648: {msg}")]
    Reproject { path: PathBuf, msg: String },
    #[error(
        "synth: working grid of {width} × {height} px at pixel_size {pixel_size} m is out of range \
         (64 to 400000 px a side); change pixel_size"
    )]
    GridSize {
        width: f64,
        height: f64,
        pixel_size: f64,
    },
    #[error("synth: PROJ failed on {what}: {msg}")]
    Proj { what: String, msg: String },
    #[error("synth: output directory {path} is not writable: {source}")]
    OutDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("synth: cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("synth: GDAL failed on {path}: {source}")]
    Gdal {
        path: PathBuf,
        source: gdal::errors::GdalError,
    },
}

/// Points used to calibrate the forest threshold (inside the communes).
const FOREST_SAMPLE: usize = 120_000;
/// Points used to calibrate each cloud field.
const CLOUD_SAMPLE: usize = 40_000;

/// The epochs: ids and dates, the last in 2025.
fn epoch_list(n: usize) -> Vec<Epoch> {
    (0..n)
        .map(|k| {
            let year = 2025 - (n - 1 - k) as i64;
            Epoch {
                id: year.to_string(),
                date: format!("{year}-12-31"),
            }
        })
        .collect()
}

/// The date of scene `s` of epoch `ep` (of `n` scenes): scene 0 the epoch's
/// date, scene 1 on 20 January (leaf-off), the others spread from April to
/// November of the epoch's year.
pub(crate) fn scene_date(ep: &Epoch, s: usize, n: usize) -> String {
    let year = &ep.date[..4];
    match s {
        0 => ep.date.clone(),
        1 => format!("{year}-01-20"),
        _ => {
            let k = n.saturating_sub(2).max(1);
            let day = 90 + (s - 2) * 240 / k; // day of the year, April to November
            let start = canopy_core::composite::day_number(&format!("{year}-01-01")).unwrap_or(0);
            canopy_core::composite::date_of(start + day as i32)
        }
    }
}

/// The clouds and haze of the extra scenes, `[tile][epoch][s − 1]`, each
/// calibrated over its tile's area like the reference clouds.
fn extra_fields(
    seed: u64,
    layout: &Layout,
    epochs: usize,
    scenes: usize,
) -> Vec<Vec<Vec<(CloudField, CloudField)>>> {
    if scenes <= 1 {
        return Vec::new();
    }
    let areas = tile_areas(layout);
    areas
        .par_iter()
        .enumerate()
        .map(|(t, &area)| {
            (0..epochs)
                .map(|e| {
                    (1..scenes)
                        .map(|s| {
                            let mut c = CloudField::new(seed, t, e + 1000 * s);
                            let mut h = CloudField::new(seed, 100 + t, e + 1000 * s);
                            let stream = 50_000 + ((t * 1000 + e) * 100 + s) as u64;
                            let pts = sample_points(seed, stream, CLOUD_SAMPLE / 4, area);
                            c.calibrate(&pts);
                            h.calibrate(&pts);
                            (c, h)
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

fn tile_areas(layout: &Layout) -> Vec<(f64, f64, f64, f64)> {
    let g = &layout.grid;
    let mut areas: Vec<(f64, f64, f64, f64)> = layout
        .utm
        .iter()
        .map(|t| {
            let b = layout.rect_bounds(&t.window);
            (b[0], b[1], b[2], b[3])
        })
        .collect();
    let (_, ymin, xmax, ymax) = g.bounds();
    areas.push((g.x0 + layout.wgs.col_from as f64 * g.dx, ymin, xmax, ymax));
    areas
}

/// Calibrates the forest threshold on ≥ `FOREST_SAMPLE` points inside the communes
/// (falls back to the whole grid when the communes are too small to sample).
fn calibrate_forest(seed: u64, layout: &Layout, communes: &Communes) -> ForestField {
    let mut forest = ForestField::new(seed);
    let (x0, y0, x1, y1) = communes.bbox;
    let mut inside: Vec<(f64, f64)> = Vec::new();
    let mut stream = 0u64;
    while inside.len() < FOREST_SAMPLE && stream < 32 {
        let pts = sample_points(seed, 1000 + stream, FOREST_SAMPLE, (x0, y0, x1, y1));
        let mut keep: Vec<(f64, f64)> = pts
            .into_par_iter()
            .filter(|&(x, y)| communes.locate(x, y).is_some())
            .collect();
        inside.append(&mut keep);
        stream += 1;
    }
    if inside.len() < 1000 {
        inside = sample_points(seed, 999, FOREST_SAMPLE, layout.grid.bounds());
    }
    forest.calibrate(&inside);
    forest
}

/// The cloud fields `[tile][epoch]`, each calibrated over its tile's area.
fn cloud_fields(seed: u64, layout: &Layout, epochs: usize) -> Vec<Vec<CloudField>> {
    tile_areas(layout)
        .par_iter()
        .enumerate()
        .map(|(t, &area)| {
            (0..epochs)
                .map(|e| {
                    let mut f = CloudField::new(seed, t, e);
                    let stream = 2000 + (t * 1000 + e) as u64;
                    f.calibrate(&sample_points(seed, stream, CLOUD_SAMPLE, area));
                    f
                })
                .collect()
        })
        .collect()
}

/// Puts the nodata triangle in the outer corner of the UTM tile where it hides the
/// most commune land (so the pipeline has unobserved land to report).
fn place_triangle(layout: &mut Layout, communes: &Communes) {
    let corners = [Corner::Nw, Corner::Ne, Corner::Sw, Corner::Se];
    let mut best = (0usize, 0usize);
    for (t, &corner) in corners.iter().enumerate() {
        let tile = &layout.utm[t];
        let legs = ((tile.width().min(tile.height()) as f64) * 0.3).round() as usize;
        let tri = Triangle { corner, legs };
        let (w, h) = (tile.width(), tile.height());
        let mut score = 0usize;
        let step = (legs / 40).max(1);
        for j in (0..legs).step_by(step) {
            for i in (0..legs).step_by(step) {
                let (li, lj) = match corner {
                    Corner::Nw => (i, j),
                    Corner::Ne => (w - 1 - i, j),
                    Corner::Sw => (i, h - 1 - j),
                    Corner::Se => (w - 1 - i, h - 1 - j),
                };
                if tri.contains(li, lj, w, h) {
                    let (x, y) = layout.centre(tile.window.c0 + li, tile.window.r0 + lj);
                    score += communes.locate(x, y).is_some() as usize;
                }
            }
        }
        if score > best.1 || t == 0 {
            best = (t, score.max(best.1));
        }
    }
    let t = best.0;
    let tile = &mut layout.utm[t];
    let legs = ((tile.width().min(tile.height()) as f64) * 0.3).round() as usize;
    tile.triangle = Some(Triangle {
        corner: corners[t],
        legs,
    });
}

fn io_dir(path: &Path, source: std::io::Error) -> SynthError {
    SynthError::OutDir {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `out_dir` and its subdirectories and checks that they are writable.
fn prepare_dirs(out_dir: &Path, epochs: &[Epoch]) -> Result<(), SynthError> {
    std::fs::create_dir_all(out_dir).map_err(|e| io_dir(out_dir, e))?;
    let probe = out_dir.join(".canopy-synth-probe");
    std::fs::write(&probe, b"probe").map_err(|e| io_dir(out_dir, e))?;
    let _ = std::fs::remove_file(&probe);
    for e in epochs {
        let d = out_dir.join("tiles").join(&e.id);
        std::fs::create_dir_all(&d).map_err(|err| io_dir(&d, err))?;
        // Scenes of an earlier run with --scenes are not this run's.
        let scenes = d.join("scenes");
        if scenes.is_dir() {
            std::fs::remove_dir_all(&scenes).map_err(|err| io_dir(&scenes, err))?;
        }
    }
    let d = out_dir.join("truth");
    std::fs::create_dir_all(&d).map_err(|err| io_dir(&d, err))?;
    Ok(())
}

/// Generates a synthetic region into `opts.out_dir`. See the module documentation.
pub fn generate(opts: &SynthOptions) -> Result<SynthSummary, SynthError> {
    let started = Instant::now();
    let p = opts.pixel_size;
    if !(p.is_finite() && p > 0.0) {
        return Err(SynthError::PixelSize(p));
    }
    if opts.epochs < 2 {
        return Err(SynthError::Epochs(opts.epochs));
    }
    let communes = communes::read(
        &opts.communes,
        &opts.code_field,
        Some(&opts.name_field),
        &[opts.code_field.as_str(), opts.name_field.as_str()],
    )?;
    let grid = layout::working_grid(communes.bbox, p)?;
    let mut layout = Layout::new(grid)?;
    place_triangle(&mut layout, &communes);
    let epochs = epoch_list(opts.epochs);
    tracing::info!(
        "synth: working grid EPSG:32648 {} × {} px at {p} m, {} communes, {} epochs",
        grid.width,
        grid.height,
        communes.items.len(),
        epochs.len()
    );

    let zones = match &opts.targets {
        None => Zones::default(),
        Some(path) => make_zones(opts, path, &communes)?,
    };
    let zone_forest = ZoneMask::new(opts.seed, &zones, &grid);

    let forest = calibrate_forest(opts.seed, &layout, &communes);
    let clouds = cloud_fields(opts.seed, &layout, epochs.len());
    let extra = extra_fields(opts.seed, &layout, epochs.len(), opts.scenes.max(1));
    let mut scene = Scene {
        seed: opts.seed,
        layout,
        epochs,
        forest,
        clouds,
        changes: vec![],
        forced: vec![],
        cleared: vec![],
        zone_forest,
        extra,
    };
    let planted = plant::plant(&scene, &communes, &zones);
    scene.changes = planted.changes;
    scene.forced = planted.forced;
    scene.cleared = planted.cleared;
    tracing::info!("synth: planted {} changes", scene.changes.len());
    let mut n_parcels = 0;
    if opts.parcels || opts.parcels_only {
        let tp = Instant::now();
        let plots = parcels::generate(
            opts.seed,
            &communes,
            &zones,
            &scene.changes,
            &grid,
            p <= 10.0,
        );
        std::fs::create_dir_all(&opts.out_dir).map_err(|e| io_dir(&opts.out_dir, e))?;
        let path = parcels::write(&opts.out_dir, &plots, &communes)?;
        n_parcels = plots.len();
        tracing::info!(
            "synth: wrote {} ({} plots in {:.1} s)",
            path.display(),
            n_parcels,
            tp.elapsed().as_secs_f64()
        );
        if opts.parcels_only {
            return Ok(SynthSummary {
                tiles: 0,
                pixels_per_band_per_epoch: 0,
                grid,
                forest_fraction: vec![],
                changes: scene.changes.len(),
                zones: zones.items.len(),
                parcels: n_parcels,
            });
        }
    }

    prepare_dirs(&opts.out_dir, &scene.epochs)?;
    if opts.targets.is_some() {
        let path = zones::write(&opts.out_dir, &zones, &communes)?;
        tracing::info!(
            "synth: wrote {} ({} zones)",
            path.display(),
            zones.items.len()
        );
    }
    let l = &scene.layout;
    let ne = scene.epochs.len();
    let per_epoch_strips: u64 = l.utm.iter().map(|t| tiles::strips(t.height())).sum::<u64>()
        + tiles::strips(l.wgs.grid.height)
        + tiles::strips(grid.height);
    let ns = opts.scenes.max(1);
    let pb = ProgressBar::new(
        per_epoch_strips * ne as u64
            + (ns as u64 - 1) * ne as u64 * (per_epoch_strips - tiles::strips(grid.height)),
    );
    pb.set_style(
        ProgressStyle::with_template(
            "{msg:>24} [{bar:40}] {pos}/{len} strips, {elapsed} (eta {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );

    let mut tile_json = Vec::new();
    let mut forest_fraction = Vec::new();
    for (e, ep) in scene.epochs.iter().enumerate() {
        let dir = opts.out_dir.join("tiles").join(&ep.id);
        for (t, tile) in l.utm.iter().enumerate() {
            let path = dir.join(format!("{}.tif", tile.name));
            pb.set_message(format!("{}/{}", ep.id, tile.name));
            let k = tiles::write_utm_tile(&scene, t, e, 0, &path, &pb)?;
            tracing::info!(
                "synth: wrote {} ({} × {} px)",
                path.display(),
                tile.width(),
                tile.height()
            );
            let tg = tile.grid(&grid);
            let b = tg.bounds();
            tile_json.push(truth::TileJson {
                file: format!("tiles/{}/{}.tif", ep.id, tile.name),
                epoch: ep.id.clone(),
                crs: "EPSG:32648",
                bounds: [b.0, b.1, b.2, b.3],
                width: tile.width(),
                height: tile.height(),
                geotransform: tg.geotransform(),
                window: Some([tile.window.c0, tile.window.r0, tile.width(), tile.height()]),
                nodata_triangle: tile.triangle.map(|tr| truth::TriangleJson {
                    corner: tr.corner,
                    legs_px: tr.legs,
                }),
                nodata_pixels: k.nodata,
                cloud_pixels: k.cloud,
                cloud_fraction: k.cloud as f64 / k.pixels.max(1) as f64,
            });
        }
        let path = dir.join(format!("{}.tif", l.wgs.name));
        pb.set_message(format!("{}/{}", ep.id, l.wgs.name));
        let k = tiles::write_wgs_tile(&scene, e, 0, &path, &pb)?;
        let wg = l.wgs.grid;
        tracing::info!(
            "synth: wrote {} ({} × {} px, EPSG:4326)",
            path.display(),
            wg.width,
            wg.height
        );
        let b = wg.bounds();
        tile_json.push(truth::TileJson {
            file: format!("tiles/{}/{}.tif", ep.id, l.wgs.name),
            epoch: ep.id.clone(),
            crs: "EPSG:4326",
            bounds: [b.0, b.1, b.2, b.3],
            width: wg.width,
            height: wg.height,
            geotransform: wg.geotransform(),
            window: None,
            nodata_triangle: None,
            nodata_pixels: k.nodata,
            cloud_pixels: k.cloud,
            cloud_fraction: k.cloud as f64 / (k.pixels - k.nodata).max(1) as f64,
        });

        for sc in 1..ns {
            let sdir = dir.join("scenes");
            std::fs::create_dir_all(&sdir).map_err(|e| io_dir(&sdir, e))?;
            for (t, tile) in l.utm.iter().enumerate() {
                let path = sdir.join(format!("s{sc:02}_{}.tif", tile.name));
                pb.set_message(format!("{}/s{sc:02}/{}", ep.id, tile.name));
                tiles::write_utm_tile(&scene, t, e, sc, &path, &pb)?;
            }
            let path = sdir.join(format!("s{sc:02}_{}.tif", l.wgs.name));
            pb.set_message(format!("{}/s{sc:02}/{}", ep.id, l.wgs.name));
            tiles::write_wgs_tile(&scene, e, sc, &path, &pb)?;
        }
        let path = opts
            .out_dir
            .join("truth")
            .join(format!("forest_{}.tif", ep.id));
        pb.set_message(format!("truth {}", ep.id));
        let k = tiles::write_truth(&scene, e, &path, &pb)?;
        let frac = k.forest as f64 / k.pixels.max(1) as f64;
        tracing::info!(
            "synth: wrote {} (forest {:.1} %)",
            path.display(),
            100.0 * frac
        );
        forest_fraction.push(frac);
    }
    pb.finish_and_clear();

    let g = grid;
    let changes_json: Vec<truth::ChangeJson> = scene
        .changes
        .iter()
        .map(|c| {
            let area_ha = c.rect.pixels() as f64 * g.dx * g.dy / 10_000.0;
            let zone_species = c
                .zone
                .map(|z| zones.species[zones.items[z].species].clone());
            truth::ChangeJson {
                id: c.id,
                kind: c.kind.as_str(),
                from: scene.epochs[c.from].id.clone(),
                to: scene.epochs[c.from + 1].id.clone(),
                rect: l.rect_bounds(&c.rect),
                px: [c.rect.c0, c.rect.r0, c.rect.c1, c.rect.r1],
                pixels: c.rect.pixels(),
                area_ha,
                nominal_ha: c.nominal_ha,
                commune: c.commune.clone(),
                cloud_covered_in_to_epoch: c.cloud_covered,
                straddles_tiles: c.straddles,
                expected_severity: truth::expected_severity(
                    c.kind.is_loss(),
                    c.cloud_covered,
                    area_ha,
                    zone_species.as_deref(),
                ),
                zone_code: c.zone.map(|z| zones.items[z].code.clone()),
                zone_species,
            }
        })
        .collect();
    let alerts = truth::AlertsJson {
        min_area_ha: truth::MIN_ALERT_HA,
        harvested_species: truth::HARVESTED.to_vec(),
        expected: scene
            .epochs
            .windows(2)
            .map(|w| {
                let of = |sev: Option<&str>| {
                    changes_json
                        .iter()
                        .filter(|c| c.from == w[0].id && c.expected_severity == sev)
                        .count()
                };
                truth::ExpectedJson {
                    from: w[0].id.clone(),
                    to: w[1].id.clone(),
                    high: of(Some("high")),
                    medium: of(Some("medium")),
                    low: of(Some("low")),
                    none: of(None),
                }
            })
            .collect(),
    };
    let zones_json = opts
        .targets
        .as_ref()
        .map(|t| zones_json(&zones, &communes, t, &scene.zone_forest));
    let tj = truth::Truth {
        generator: "canopy synth",
        seed: opts.seed,
        pixel_size: p,
        crs: "EPSG:32648",
        grid: truth::GridJson {
            x0: g.x0,
            y0: g.y0,
            dx: g.dx,
            dy: g.dy,
            width: g.width,
            height: g.height,
        },
        epochs: scene
            .epochs
            .iter()
            .map(|e| truth::EpochJson {
                id: e.id.clone(),
                date: e.date.clone(),
                truth: format!("truth/forest_{}.tif", e.id),
            })
            .collect(),
        forest_fraction: forest_fraction.clone(),
        forest_threshold: scene.forest.threshold,
        tiles: tile_json,
        changes: changes_json,
        alerts,
        zones: zones_json,
    };
    let truth_path = opts.out_dir.join("truth").join("truth.json");
    truth::write_truth_json(&truth_path, &tj)?;
    tracing::info!("synth: wrote {}", truth_path.display());

    let mut hotspots = 0;
    if let Some(last) = scene.epochs.last() {
        weather::write(&opts.out_dir, &l.grid, &last.date)?;
        hotspots = fires::write(&opts.out_dir, &scene, &communes, &zones, &last.date)?;
        if hotspots > 0 {
            tracing::info!(
                "synth: wrote {} ({hotspots} detections)",
                opts.out_dir.join(fires::FILE).display()
            );
        }
    }
    let region = opts.out_dir.join("region.toml");
    let text = truth::region_toml(
        &opts.region_name,
        &truth::communes_path_for(&opts.out_dir, &opts.communes),
        &opts.code_field,
        &opts.name_field,
        &scene
            .epochs
            .iter()
            .map(|e| (e.id.clone(), e.date.clone()))
            .collect::<Vec<_>>(),
        opts.targets.is_some(),
        ns,
        hotspots > 0,
    );
    let text = if n_parcels > 0 {
        format!("{text}{}", parcels::REGION_SECTION)
    } else {
        text
    };
    if truth::write_region_toml_if_absent(&region, &text)? {
        tracing::info!("synth: wrote {}", region.display());
    } else {
        tracing::info!("synth: kept the existing {}", region.display());
    }

    let pixels: u64 =
        l.utm.iter().map(|t| t.window.pixels() as u64).sum::<u64>() + l.wgs.grid.len() as u64;
    tracing::info!(
        "synth: done in {:.1} s: {} tiles, {} px per band per epoch",
        started.elapsed().as_secs_f64(),
        (l.utm.len() + 1) * ne,
        pixels
    );
    Ok(SynthSummary {
        tiles: (l.utm.len() + 1) * ne * ns,
        pixels_per_band_per_epoch: pixels,
        grid,
        forest_fraction,
        changes: scene.changes.len(),
        zones: zones.items.len(),
        parcels: n_parcels,
    })
}

/// Reads the targets, matches their communes and places the zones.
fn make_zones(opts: &SynthOptions, path: &Path, communes: &Communes) -> Result<Zones, SynthError> {
    let t0 = Instant::now();
    let targets = zones::read_targets(path)?;
    let matched = zones::match_targets(&targets, communes, &opts.region_name);
    let mut prefix = names::initials(&opts.region_name);
    if prefix.is_empty() {
        prefix = "Z".into();
    }
    let z = zones::place(opts.seed, matched, communes, &prefix)?;
    if z.items.is_empty() {
        tracing::warn!(
            "synth: {} names no zone commune of this layer; zones.geojson will be empty",
            path.display()
        );
    }
    tracing::info!(
        "synth: {} planting zones of {} species ({} unmatched communes) in {:.1} s",
        z.items.len(),
        z.species.len(),
        z.matched.unmatched.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(z)
}

/// The `zones` section of truth.json.
fn zones_json(z: &Zones, communes: &Communes, targets: &Path, mask: &ZoneMask) -> truth::ZonesJson {
    let mut species = std::collections::BTreeMap::new();
    for (si, key) in z.species.iter().enumerate() {
        let of: Vec<&zones::Zone> = z.items.iter().filter(|x| x.species == si).collect();
        let used = z
            .matched
            .entries
            .iter()
            .filter(|e| e.species == si)
            .map(|e| {
                let mine: Vec<&&zones::Zone> =
                    of.iter().filter(|x| x.commune == e.commune).collect();
                let c = &communes.items[e.commune];
                truth::CommuneUseJson {
                    code: c.code.clone(),
                    name: c.name.clone(),
                    plan_name: e.plan_name.clone(),
                    zones: mine.len(),
                    area_ha: mine.iter().map(|x| x.area_ha).sum(),
                }
            })
            .collect();
        species.insert(
            key.clone(),
            truth::SpeciesJson {
                zones: of.len(),
                area_ha: of.iter().map(|x| x.area_ha).sum(),
                communes: used,
            },
        );
    }
    let total: f64 = z.items.iter().map(|x| x.area_ha).sum();
    let overlap: f64 = z.overlaps.iter().map(|o| o.area_ha).sum();
    truth::ZonesJson {
        file: "zones.geojson",
        crs: "EPSG:4326",
        area_crs: "EPSG:32648",
        targets: targets.to_string_lossy().into_owned(),
        margin_m: zones::ZONE_MARGIN_M,
        gap_m: zones::ZONE_GAP_M,
        gap_cell_m: zones::GAP_CELL_M,
        gap_share: zones::GAP_SHARE,
        pixels_inside: mask.inside,
        pixels_forced: mask.forced,
        species,
        union_area_ha: total - overlap,
        overlaps: z
            .overlaps
            .iter()
            .map(|o| {
                let (a, b) = (&z.items[o.a], &z.items[o.b]);
                truth::OverlapJson {
                    zone_a: a.code.clone(),
                    species_a: z.species[a.species].clone(),
                    zone_b: b.code.clone(),
                    species_b: z.species[b.species].clone(),
                    commune: communes.items[a.commune].code.clone(),
                    area_ha: o.area_ha,
                }
            })
            .collect(),
        unmatched: z.matched.unmatched.clone(),
        matched_by_fallback: z.matched.fallbacks.clone(),
        skipped: z.matched.skipped.clone(),
        shortfalls: z
            .short
            .iter()
            .map(|&(sp, c, n)| truth::ShortfallJson {
                species: z.species[sp].clone(),
                commune_code: communes.items[c].code.clone(),
                zones: n,
            })
            .collect(),
        items: z
            .items
            .iter()
            .map(|x| truth::ZoneJson {
                zone_code: x.code.clone(),
                species: z.species[x.species].clone(),
                commune_code: communes.items[x.commune].code.clone(),
                commune_name: communes.items[x.commune].name.clone(),
                shape: x.shape,
                area_ha: x.area_ha,
                bbox: [x.bbox.0, x.bbox.1, x.bbox.2, x.bbox.3],
            })
            .collect(),
    }
}
