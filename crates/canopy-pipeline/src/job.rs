//! A whole `canopy run`: load the region, compute, write the store in one go.

use std::path::Path;

use crate::change::{self, ChangeResult};
use crate::config::Region;
use crate::cover::{self, CoverResult};
use crate::error::PipelineError;
use crate::zone_rows::ZoneOutputs;
use crate::zone_stats;
use crate::zones;
use canopy_store::{EpochRecord, RunRecord};

/// What a run did, for the CLI to print.
pub struct RunOutcome {
    pub region: Region,
    pub cover: CoverResult,
    pub change: ChangeResult,
    /// Warnings of the run (targets, zones), also stored in the `warnings` table.
    pub warnings: Vec<String>,
    /// Fire danger etc., when the region has `[fire]`.
    pub fire: Option<crate::fire::FireOutputs>,
    /// Burned area per pair (pairs whose epochs both have SWIR).
    pub burn: crate::burn::BurnResult,
    /// The forest-plot tables, when the region has `[parcels]`.
    pub parcels: Option<canopy_store::ParcelTables>,
}

/// Runs the region file at `region_path` and writes the store at `store_path`.
/// `extra_pairs` are epoch pairs (from, to) compared besides consecutive ones.
pub fn run(
    region_path: &Path,
    store_path: &Path,
    extra_pairs: &[(String, String)],
) -> Result<RunOutcome, PipelineError> {
    let started = chrono::Utc::now();
    limit_gdal_cache();
    let region = Region::load(region_path)?;
    if store_path.exists() {
        // Checked again under the store's lock before writing; this catches a wrong
        // `--store` before the work.
        canopy_store::check_replaceable(store_path)?;
    }
    tracing::info!(region = %region.name, epochs = region.epochs.len(), "region loaded");
    let pairs = change::pairs(&region, extra_pairs)?;
    crate::strips::set_strip_pixels(crate::strips::for_region(&region));
    let settings = settings(&region, &pairs);
    let files = input_files(&region);
    // A shard records the region, settings and inputs; a merge checks its partials.
    crate::shard::begin(&region, &settings, &files)?;
    let date_warnings = product_dates(&region)?;
    let zones = region.zones.as_ref().map(zones::read).transpose()?;
    // Plots are read and checked before any pixel: bad plots stop the run here.
    // A merge takes them as the shards placed them (`plot_share`), when it can.
    let shared_plan = match &region.parcels {
        Some(_) => crate::plot_share::from_shards()?,
        None => None,
    };
    let parcel_layer = match shared_plan {
        Some(_) => None,
        None => region
            .parcels
            .as_ref()
            .map(crate::parcels::read)
            .transpose()
            .map_err(PipelineError::from)?,
    };
    let targets = crate::targets::load(&region)?;
    let mut prep = cover::prepare(&region)?;
    let tz = std::time::Instant::now();
    let zone_plan = zones
        .as_ref()
        .map(|z| zone_stats::plan(&prep, z))
        .transpose()?;
    if let Some(p) = &zone_plan {
        prep.extra = p.polygons.clone();
        tracing::info!(
            pieces = p.pieces.len(),
            units = p.units.len(),
            seconds = tz.elapsed().as_secs_f64(),
            "zones cut by the communes"
        );
    }
    let zone_geometry_s = tz.elapsed().as_secs_f64();
    // Hotspot footprints and fire-event outlines are measured in the same pass,
    // after the zone polygons.
    let hotspot_offset = prep.extra.len();
    let mut hotspot_plan = match &region.fire {
        Some(f) => crate::fire::hotspots::plan(f, &prep, zones.as_ref())
            .map_err(crate::fire::FireError::from)?,
        None => None,
    };
    let mut hotspot_warnings = Vec::new();
    if let Some(h) = &hotspot_plan {
        prep.extra.extend(h.polygons.iter().cloned());
        for f in h.files.iter().filter(|f| f.outside > 0) {
            hotspot_warnings.push((
                "hotspots".to_string(),
                format!(
                    "{}: {} of {} detections lie outside the region's communes (not used)",
                    f.file, f.outside, f.read
                ),
            ));
        }
    }
    // Forest plots: more polygons of the same passes, after the hotspots.
    let tp = std::time::Instant::now();
    let placed = match (parcel_layer, shared_plan) {
        (Some(l), _) => {
            let path = region.parcels.as_ref().map(|c| c.path.as_path());
            let plan = crate::parcels::plan(&prep, l, path.unwrap_or(Path::new("")))?;
            crate::plot_share::record(&plan)?;
            Some(plan)
        }
        (None, shared) => shared,
    };
    let parcel_plan = match placed {
        Some(mut plan) => {
            // The plots' geometry moves into the pass (one copy, not two).
            prep.parcel_offset = prep.extra.len();
            prep.extra.append(&mut plan.polygons);
            prep.parcels = plan.attrs.clone();
            tracing::info!(
                plots = plan.parcels.len(),
                seconds = tp.elapsed().as_secs_f64(),
                "plots placed in their communes"
            );
            // The plots each hotspot footprint and fire-event outline touches.
            if let Some(h) = hotspot_plan.as_mut() {
                let plots = &prep.extra[prep.parcel_offset..];
                crate::fire::hotspots::attach_plots(h, plots, &plan.attrs);
            }
            Some((plan, tp.elapsed().as_secs_f64()))
        }
        None => None,
    };
    // Change first: its passes read both epochs of a pair and hand their cover
    // sums on, so an epoch is read once for cover and change alike.
    let t0 = std::time::Instant::now();
    let mut change = change::run(&region, &prep, zones.as_ref(), &pairs)?;
    let mut cover = cover::run(&region, &prep, &change.cover)?;
    cover.timings.extend(change.timings.iter().cloned());
    let piece_ids = zone_plan
        .as_ref()
        .map(crate::zone_rows::piece_ids)
        .unwrap_or_default();
    let burn = crate::burn::run(&region, &prep, &pairs, &piece_ids, &mut change)?;
    cover.timings.extend(burn.timings.iter().cloned());
    if zone_plan.is_some() {
        cover
            .timings
            .push(("zone geometry".into(), zone_geometry_s));
    }
    let mut parcel_tables = match parcel_plan.as_ref() {
        Some((plan, seconds)) => {
            cover.timings.push(("plot geometry".into(), *seconds));
            Some((plan, crate::parcels::outlines_wgs84(&prep)?))
        }
        None => None,
    }
    .map(|(plan, outlines)| {
        let mut t = crate::parcels::tables(
            plan,
            prep.parcel_offset,
            outlines,
            &cover.extra,
            &change.extra,
            &cover.rows,
            &change.rows,
        );
        t.alerts = std::mem::take(&mut change.alert_parcels);
        t
    });
    let zone_figures = zone_plan.as_ref().map(|p| {
        let pairs: Vec<_> = change.extra.clone();
        zone_stats::figures(p, &cover.extra, &pairs)
    });
    let mut warnings: Vec<(String, String)> = Vec::new();
    warnings.extend(
        cover
            .warnings
            .iter()
            .map(|w| ("cover".to_string(), w.clone())),
    );
    warnings.extend(
        change
            .warnings
            .iter()
            .map(|w| ("season".to_string(), w.clone())),
    );
    if let Some(t) = &targets {
        warnings.extend(
            t.warnings
                .iter()
                .map(|w| ("targets".to_string(), w.clone())),
        );
    }
    if let Some(p) = &zone_plan {
        warnings.extend(p.warnings.iter().map(|w| ("zones".to_string(), w.clone())));
    }
    warnings.extend(
        date_warnings
            .into_iter()
            .map(|w| ("products".to_string(), w)),
    );
    warnings.extend(hotspot_warnings);
    if let Some((plan, _)) = &parcel_plan {
        warnings.extend(
            plan.warnings
                .iter()
                .map(|w| ("parcels".to_string(), w.clone())),
        );
    }
    if let Some(t) = &parcel_tables {
        warnings.extend(
            crate::parcels::tiling_warnings(t)
                .into_iter()
                .map(|w| ("parcels".to_string(), w)),
        );
    }
    warnings.extend(
        burn.warnings
            .iter()
            .map(|w| ("burn".to_string(), w.clone())),
    );
    for (src, w) in &warnings {
        tracing::warn!(source = %src, "{w}");
    }
    let fire = match crate::fire::run(&region, &cover, hotspot_plan, hotspot_offset)? {
        Some((outputs, fire_alerts)) => {
            change.alerts.extend(fire_alerts);
            Some(outputs)
        }
        None => None,
    };
    // The plots of the hotspots and fire events, and of the `fire` alerts.
    if let (Some(t), Some(h)) = (
        parcel_tables.as_mut(),
        fire.as_ref().and_then(|f| f.hotspots.as_ref()),
    ) {
        t.alerts.extend(h.alert_parcel_rows());
        t.fire = Some(h.parcel_rows());
    }
    cover
        .timings
        .push(("total".into(), t0.elapsed().as_secs_f64()));

    let tf = std::time::Instant::now();
    let mut inputs = serde_json::Map::new();
    for (f, fp) in files.iter().zip(crate::shard::fingerprints(&files)?) {
        inputs.insert(f.display().to_string(), fp.into());
    }
    cover
        .timings
        .push(("fingerprints".into(), tf.elapsed().as_secs_f64()));
    let timings: serde_json::Map<String, serde_json::Value> = cover
        .timings
        .iter()
        .map(|(k, v)| (k.clone(), (*v).into()))
        .collect();
    let epochs: Vec<EpochRecord> = region
        .epochs
        .iter()
        .map(|e| EpochRecord {
            id: e.id.clone(),
            date: e.date.clone(),
            tiles: e.tiles.len(),
            pixels: cover
                .pixels
                .iter()
                .find(|(id, _)| id == &e.id)
                .map(|p| p.1)
                .unwrap_or(0),
        })
        .collect();
    let record = RunRecord {
        started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        canopy_version: env!("CARGO_PKG_VERSION").into(),
        region_file: region.file.display().to_string(),
        region_name: region.name.clone(),
        settings: settings.to_string(),
        inputs: serde_json::Value::Object(inputs).to_string(),
        timings: serde_json::Value::Object(timings).to_string(),
    };
    let zone_tables = zone_plan
        .as_ref()
        .zip(zone_figures.as_ref())
        .map(|(plan, figures)| crate::zone_rows::tables(&ZoneOutputs { plan, figures }));
    let fire_rows = fire
        .as_ref()
        .and_then(|f| f.hotspots.as_ref())
        .map(|h| (h.hotspot_rows(), h.event_rows()));
    // A shard's strips go to its partial (`run_shard`), not to a store.
    if !crate::shard::computing_shard() {
        canopy_store::Store::at(store_path).write(&canopy_store::Tables {
            communes: &cover.communes,
            cover: &cover.rows,
            province_cover: &cover.province,
            epochs: &epochs,
            observations: &cover.observations,
            change: &change.rows,
            province_change: &change.province,
            alerts: &change.alerts,
            zones: zone_tables.as_ref(),
            targets: targets.as_ref(),
            warnings: &warnings,
            fire_danger: fire
                .as_ref()
                .filter(|f| !f.danger.is_empty())
                .map(|f| &f.danger[..]),
            hotspots: fire_rows.as_ref().map(|(h, e)| (&h[..], &e[..])),
            burned_area: burn.measured.then_some(&burn.rows[..]),
            parcels: parcel_tables.as_ref(),
            run: &record,
            chips: &change.chips,
        })?;
        tracing::info!(store = %store_path.display(), "store written");
    }
    Ok(RunOutcome {
        region,
        cover,
        change,
        warnings: warnings.into_iter().map(|(_, w)| w).collect(),
        fire,
        burn,
        parcels: parcel_tables,
    })
}

pub use crate::fingerprint::fingerprint;

/// The run's input files (region file, communes, zones, targets, fire inputs,
/// tiles), sorted, without repeats: what the `runs` table fingerprints.
fn input_files(region: &Region) -> Vec<&std::path::PathBuf> {
    let mut files = vec![&region.file, &region.communes.path];
    if let Some(z) = &region.zones {
        files.push(&z.path);
    }
    if let Some(p) = region.targets.as_ref().and_then(|t| t.path.as_ref()) {
        files.push(p);
    }
    if let Some(p) = &region.parcels {
        files.push(&p.path);
    }
    if let Some(f) = &region.fire {
        files.extend(&f.stations);
        files.extend(&f.hotspots);
    }
    for e in &region.epochs {
        files.extend(&e.tiles);
    }
    files.sort();
    files.dedup();
    files
}

/// The run's settings, as the `runs` table stores them.
fn settings(region: &Region, pairs: &[(usize, usize)]) -> serde_json::Value {
    serde_json::json!({
        "area_crs": region.area_crs,
        "ndvi_min": region.forest.ndvi_min,
        "forest_classes": region.forest.forest_classes,
        "natural_classes": region.forest.natural_classes,
        "threads": rayon::current_num_threads(),
        "strip_rows": crate::strips::STRIP_ROWS,
        "strip_pixels": crate::strips::strip_pixels(),
        "min_area_ha": region.alerts.min_area_ha,
        "min_ndvi_drop": region.alerts.min_ndvi_drop,
        "harvested_species": region.alerts.harvested_species,
        "fire_danger": region.fire.as_ref().map(|f| f.scheme()),
        "pairs": pairs.iter().map(|&(i, j)| format!("{}:{}", region.epochs[i].id, region.epochs[j].id)).collect::<Vec<_>>(),
    })
}

/// `canopy run REGION --store STORE --cache DIR`: an ordinary run whose strip
/// passes and input fingerprints are reused from `DIR` when their inputs did not
/// change (see [`crate::cache`]); the store is the same as without the cache.
pub fn run_cached(
    region_path: &Path,
    store_path: &Path,
    extra_pairs: &[(String, String)],
    cache_dir: &Path,
) -> Result<(RunOutcome, crate::cache::CacheReport), PipelineError> {
    let _mode = crate::shard::enter_cache(cache_dir);
    let out = run(region_path, store_path, extra_pairs)?;
    let report = crate::shard::cache_report().unwrap_or_default();
    tracing::info!(
        reused = ?report.reused,
        computed = ?report.computed,
        "cache {}",
        cache_dir.display()
    );
    Ok((out, report))
}

/// What a shard did, for the CLI to print.
pub struct ShardOutcome {
    pub k: usize,
    pub n: usize,
    pub file: std::path::PathBuf,
    pub bytes: u64,
    /// Pass key → (strips of this shard, strips of the pass).
    pub passes: Vec<(String, usize, usize)>,
    pub seconds: f64,
}

/// `canopy run REGION --shard K/N --partial DIR`: computes shard K of N of every
/// strip pass (see [`crate::shard`]) and writes `DIR/shard-K-of-N.canopy-part`
/// atomically. No store is written.
pub fn run_shard(
    region_path: &Path,
    spec: crate::shard::ShardSpec,
    dir: &Path,
    extra_pairs: &[(String, String)],
) -> Result<ShardOutcome, PipelineError> {
    let t0 = std::time::Instant::now();
    let (k, n) = spec.resolve()?;
    std::fs::create_dir_all(dir).map_err(|source| crate::shard::ShardError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let file = dir.join(crate::shard::file_name(k, n));
    let _mode = crate::shard::enter_shard(k, n);
    tracing::info!(shard = k, of = n, partial = %file.display(), "computing a shard");
    run(region_path, Path::new(""), extra_pairs)?;
    let mut part = crate::shard::take_partial()
        .ok_or_else(|| PipelineError::Input("shard mode ended early".into()))?;
    part.seconds = t0.elapsed().as_secs_f64();
    let bytes = part.encode()?;
    canopy_store::atomic::write_file(&file, &bytes).map_err(|source| {
        crate::shard::ShardError::Io {
            path: file.clone(),
            source,
        }
    })?;
    let passes = part
        .passes
        .iter()
        .map(|(key, p)| (key.clone(), p.items.len(), p.strips as usize))
        .collect();
    Ok(ShardOutcome {
        k,
        n,
        file,
        bytes: bytes.len() as u64,
        passes,
        seconds: part.seconds,
    })
}

/// `canopy merge REGION --partials DIR --store STORE`: checks the partials (all
/// N shards, once each, same region, settings and inputs, intact) and writes the
/// store exactly as `canopy run` would (the same [`run`], its strip passes
/// answered from the partials). On any error nothing is written.
pub fn merge(
    region_path: &Path,
    dir: &Path,
    store_path: &Path,
    extra_pairs: &[(String, String)],
) -> Result<RunOutcome, PipelineError> {
    let t0 = std::time::Instant::now();
    let parts = crate::shard::load_dir(dir)?;
    let n = parts.len();
    let shard_s: f64 = parts.iter().map(|(_, p)| p.seconds).sum();
    tracing::info!(shards = n, shard_seconds = shard_s, "partials checked");
    let _mode = crate::shard::enter_merge(parts);
    let out = run(region_path, store_path, extra_pairs)?;
    tracing::info!(shards = n, seconds = t0.elapsed().as_secs_f64(), "merged");
    Ok(out)
}

/// The current time, RFC 3339 UTC, to the second.
pub fn now() -> String {
    canopy_store::now()
}

/// GDAL's block cache defaults to 5 % of RAM (1.2 GB here). Each block is read
/// once per pass and its blocks released after each read
/// (`raster::reader::release_blocks`), so the cache need only hold the blocks of
/// the reads under way: 64 MB cost no time on the 10 m plots benchmark and took
/// 0.18 GiB off its peak against 256 MB. A user's own `GDAL_CACHEMAX` wins.
fn limit_gdal_cache() {
    if std::env::var_os("GDAL_CACHEMAX").is_none() {
        let _ = gdal::config::set_config_option("GDAL_CACHEMAX", "64");
    }
}

/// Reads the dates of the products of every product epoch and checks their
/// order (an error when an epoch's scenes all predate the previous epoch's,
/// a warning when date windows overlap), before any pixel is read.
fn product_dates(region: &Region) -> Result<Vec<String>, PipelineError> {
    use crate::config::EpochBands;
    use crate::products;
    let mut epochs = Vec::new();
    for e in &region.epochs {
        let EpochBands::Product(opts) = &e.bands else {
            continue;
        };
        let mut dated = Vec::with_capacity(e.tiles.len());
        for t in &e.tiles {
            let format = products::format_of(t, opts)?;
            if format == products::ProductFormat::GeoTiff {
                continue;
            }
            let parts = products::parts(t, format, opts)?;
            dated.push((t.clone(), parts.date));
        }
        epochs.push((e.id.clone(), dated));
    }
    products::check_order(&epochs).map_err(|m| PipelineError::Config {
        file: region.file.clone(),
        msg: m,
    })
}
