//! The `canopy` command: parse arguments, call the crates, print, exit.
//!
//! Every subcommand is a thin shell over a crate (`canopy-pipeline` for `run`,
//! `canopy-store` for reads and triage, `canopy-report`, `canopy-server`,
//! `canopy-synth`); errors from the crates carry the file, layer, feature or key
//! at fault and are printed as one line with a non-zero exit.

mod fire_print;
mod obs_print;
mod parcel_print;
mod print;
#[cfg(feature = "synth")]
mod synth_cmd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use canopy_core::change::Severity;
use canopy_core::triage::TriageStatus;
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "canopy",
    version,
    about = "Forest cover, change and alerts per commune, from satellite tiles"
)]
struct Cli {
    /// Worker threads (default: all cores; RAYON_NUM_THREADS also works).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compute forest cover for a region and write the GeoPackage store.
    Run {
        /// The region file (region.toml).
        region: PathBuf,
        /// Where to write the store (default: out/<region directory name>.gpkg).
        #[arg(long)]
        store: Option<PathBuf>,
        /// Also compare these epochs (FROM:TO), besides every consecutive pair.
        #[arg(long = "pair", value_name = "FROM:TO")]
        pairs: Vec<String>,
        /// Compute only shard K of N (0 ≤ K < N) of every strip pass and write a
        /// partial to --partial (no store); `auto/N` takes K from
        /// SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX. Then `canopy merge`.
        #[arg(
            long,
            value_name = "K/N",
            requires = "partial",
            conflicts_with = "store"
        )]
        shard: Option<canopy_pipeline::shard::ShardSpec>,
        /// The folder of the shards' partials (with --shard).
        #[arg(long, value_name = "DIR", requires = "shard")]
        partial: Option<PathBuf>,
        /// Keep each strip pass's results (and the inputs' fingerprints) in DIR and
        /// reuse those whose inputs did not change: after adding an epoch only the
        /// new epoch and its pairs are read. The store is the same as without it.
        #[arg(long, value_name = "DIR", conflicts_with = "shard")]
        cache: Option<PathBuf>,
    },
    /// Merge the partials of a sharded run (`run --shard K/N`) into the store,
    /// identical to a single-process run's; refuses a missing, duplicate,
    /// truncated or foreign shard (nothing written).
    Merge {
        /// The region file the shards ran.
        region: PathBuf,
        /// The folder holding every shard's partial.
        #[arg(long, value_name = "DIR")]
        partials: PathBuf,
        /// Where to write the store (default: out/<region directory name>.gpkg).
        #[arg(long)]
        store: Option<PathBuf>,
        /// The same --pair options the shards were given.
        #[arg(long = "pair", value_name = "FROM:TO")]
        pairs: Vec<String>,
    },
    /// List forest-loss alerts of a region's store.
    Alerts {
        /// The region file (its default store is read) …
        region: Option<PathBuf>,
        /// … or the store itself.
        #[arg(long)]
        store: Option<PathBuf>,
        /// Only alerts of changes since this epoch (pairs starting at it or later).
        #[arg(long)]
        since: Option<String>,
        /// Only alerts touching this commune: its code or its name (case and
        /// diacritics ignored, as the API: "khanh khe" finds Khánh Khê).
        #[arg(long)]
        commune: Option<String>,
        /// Only alerts at least this severe.
        #[arg(long, value_enum)]
        min_severity: Option<Severity>,
        #[arg(long, value_enum, default_value = "table")]
        format: AlertFormat,
    },
    /// Record a ranger's check of an alert (kept in the store's triage history).
    Triage {
        /// The store written by `canopy run`.
        #[arg(long)]
        store: PathBuf,
        /// The alert id (see `canopy alerts`).
        alert_id: String,
        #[arg(long, value_enum)]
        status: TriageStatus,
        #[arg(long, default_value = "")]
        note: String,
        /// Who checked it.
        #[arg(long)]
        by: String,
    },
    /// Print the figures of a store again.
    Stats {
        /// The GeoPackage written by `canopy run`.
        #[arg(long)]
        store: PathBuf,
        /// Epoch to print (default: the latest).
        #[arg(long)]
        epoch: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Serve a store over HTTP: OGC API - Features, statistics, triage, the web map.
    Serve {
        /// The GeoPackage written by `canopy run` (reloaded when a new run replaces it).
        #[arg(long)]
        store: PathBuf,
        /// Address to listen on (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: String,
        /// File of `name:sha256hex` lines: the rangers' tokens for triage writes
        /// (default: $CANOPY_TOKENS_FILE; entries in $CANOPY_TOKENS are added).
        #[arg(long)]
        tokens: Option<PathBuf>,
        /// Allow browser clients from these origins (`*`: any origin).
        #[arg(long, num_args = 1..)]
        cors: Vec<String>,
        /// Base URL of links when behind a proxy (default: http://<Host header>).
        #[arg(long)]
        public_url: Option<String>,
        /// Reads need a token too (default: reads are public).
        #[arg(long)]
        private: bool,
        /// How often to check the store for a new version, in milliseconds.
        #[arg(long, default_value_t = 1000)]
        poll_ms: u64,
        /// Connections served at once; beyond it a JSON 503 (default: 1024, or
        /// three quarters of the open-file limit when that is lower).
        #[arg(long)]
        max_connections: Option<usize>,
        /// Seconds a client has to send a request's headers.
        #[arg(long, default_value_t = 10.0)]
        header_timeout_s: f64,
        /// Seconds after which a connection that moves no byte is closed.
        #[arg(long, default_value_t = 60.0)]
        idle_timeout_s: f64,
        /// On a PostgreSQL store: database tasks at once (triage and photo writes,
        /// photo/chip/report reads, reloads; each holds at most two connections).
        #[arg(long, default_value_t = 16)]
        pg_pool: usize,
        /// Milliseconds a request waits for a free database task before a 503 with
        /// Retry-After.
        #[arg(long, default_value_t = 5000)]
        pg_pool_wait_ms: u64,
    },
    /// The planners' report of one epoch: per commune and for the province,
    /// cover, change, zones, alerts and target progress.
    Report {
        /// The region file (its default store is read) …
        region: Option<PathBuf>,
        /// … or the store itself.
        #[arg(long)]
        store: Option<PathBuf>,
        /// Epoch to report (default: the latest).
        #[arg(long)]
        epoch: Option<String>,
        #[arg(long, value_enum, default_value = "md")]
        format: ReportFormat,
        /// Language of the HTML report: vi (Vietnamese, the default) or en. Markdown
        /// and CSV are English (column names and numbers for tools).
        #[arg(long, default_value = "vi")]
        lang: canopy_report::Lang,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Export one layer of the store for GIS software, phones or spreadsheets:
    /// GeoPackage, shapefile (UTF-8, short field names), KML, GPX (waypoints at the
    /// features' centroids), CSV or XLSX (attributes only).
    Export {
        /// The region file (its default store is read) …
        region: Option<PathBuf>,
        /// … or the store itself.
        #[arg(long)]
        store: Option<PathBuf>,
        /// The layer (communes, alerts, zones, cover, change, hotspots, fire_events, …).
        /// Without it (and a .gpkg output): the whole store, every layer plus the
        /// triage history and photos, as a Canopy GeoPackage (`canopy import` brings it back).
        #[arg(long)]
        layer: Option<String>,
        /// The file to write; its extension gives the format unless --format is given.
        #[arg(long, short)]
        output: PathBuf,
        /// gpkg, shp, kml, gpx, csv or xlsx.
        #[arg(long, value_parser = parse_export_format)]
        format: Option<canopy_export::Format>,
        /// Reproject to this CRS (default: WGS 84 as stored), e.g. EPSG:9215
        /// (VN-2000 / TM-3 107-15, Lạng Sơn) or EPSG:9210 (105-45, Cao Bằng).
        #[arg(long)]
        crs: Option<String>,
    },
    /// Bring a whole-store GeoPackage (from `canopy export` without --layer) back into
    /// a PostgreSQL store: its results replace the schema's, its triage events and
    /// photos are merged (none lost, none doubled; importing again adds nothing).
    Import {
        /// The GeoPackage store to import.
        gpkg: PathBuf,
        /// The PostgreSQL store (`PG:... schema=NAME` or `postgresql://...?schema=NAME`).
        #[arg(long)]
        store: PathBuf,
    },
    /// Generate a deterministic Sentinel-2-like sample region over commune polygons.
    #[cfg(feature = "synth")]
    Synth(synth_cmd::SynthArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum AlertFormat {
    Table,
    Geojson,
    Csv,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Md,
    Csv,
    Html,
    /// The forest-plot change-tracking table (per function, owner category,
    /// commune × function) as CSV.
    PlotsCsv,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

fn main() -> ExitCode {
    fixed_mmap_threshold();
    init_logging();
    let cli = Cli::parse();
    if let Some(n) = cli.threads {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
        {
            eprintln!("error: --threads {n}: {e}");
            return ExitCode::from(2);
        }
    }
    match dispatch(cli.cmd) {
        Ok(()) => ExitCode::SUCCESS,
        // `canopy alerts | head`: the reader left; nothing more to say.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether the error is a write to a closed pipe (the reader, e.g. `head`, exited).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Allocations of 4 MiB and more (a strip's buffers, a composite's stacks, GDAL's
/// block rows) get pages of their own from the kernel, returned when freed.
///
/// glibc's default raises that threshold to the size of each large block freed,
/// after which a strip's buffers come from the heap; freed, they leave holes the
/// next sizes do not fit, and the heap grows. On the 10 m plots benchmark
/// (README, "Forest plots at province scale") the fixed threshold took the peak
/// from 2.14 GiB to 1.82 GiB and the run from 121 s to 116 s. Left alone when
/// `MALLOC_MMAP_THRESHOLD_` is set (glibc reads it itself).
fn fixed_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        // SAFETY: mallopt only sets a parameter of the allocator; called before
        // any other thread exists.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        }
    }
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("CANOPY_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    // GDAL's own warnings and errors go through tracing too.
    canopy_pipeline::gdal::config::set_error_handler(|class, code, msg| {
        use canopy_pipeline::gdal::errors::CplErrType;
        match class {
            CplErrType::Failure | CplErrType::Fatal => tracing::debug!(code, "GDAL: {msg}"),
            CplErrType::Warning => tracing::warn!(code, "GDAL: {msg}"),
            _ => tracing::debug!(code, "GDAL: {msg}"),
        }
    });
}

/// A run's results once printed: the process ends next and its memory goes
/// back to the system with it, so they are not dropped value by value (half
/// a second of a merge's CPU for a province of plots: millions of strings).
fn at_exit<T>(results: T) {
    std::mem::forget(results);
}

fn dispatch(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Run {
            region,
            store,
            pairs,
            shard,
            partial,
            cache,
        } => {
            let pairs = parse_pairs(&pairs)?;
            if let (Some(spec), Some(dir)) = (shard, partial) {
                let s = canopy_pipeline::job::run_shard(&region, spec, &dir, &pairs)?;
                let strips: usize = s.passes.iter().map(|p| p.1).sum();
                let total: usize = s.passes.iter().map(|p| p.2).sum();
                println!(
                    "Shard {}/{}: {strips} of {total} strips in {} passes, {:.1} s; partial {} ({} bytes)",
                    s.k,
                    s.n,
                    s.passes.len(),
                    s.seconds,
                    s.file.display(),
                    s.bytes
                );
                return Ok(());
            }
            let store = store.unwrap_or_else(|| default_store(&region));
            if let Some(dir) = cache {
                let (out, r) = canopy_pipeline::job::run_cached(&region, &store, &pairs, &dir)?;
                print_run(&store, &out)?;
                println!(
                    "Evidence chips: {} alert(s) from the cache, {} rendered",
                    out.change.chips_reused, out.change.chips_rendered
                );
                let list = |v: &[String]| {
                    if v.is_empty() {
                        "none".to_string()
                    } else {
                        v.join(", ")
                    }
                };
                println!(
                    "Cache {}: reused {}; computed {}; input fingerprints: {} reused, {} hashed",
                    dir.display(),
                    list(&r.reused),
                    list(&r.computed),
                    r.hash_reused,
                    r.hashed
                );
                return Ok(());
            }
            let out = canopy_pipeline::job::run(&region, &store, &pairs)?;
            print_run(&store, &out)?;
            at_exit(out);
            Ok(())
        }
        Command::Merge {
            region,
            partials,
            store,
            pairs,
        } => {
            let pairs = parse_pairs(&pairs)?;
            let store = store.unwrap_or_else(|| default_store(&region));
            let out = canopy_pipeline::job::merge(&region, &partials, &store, &pairs)?;
            print_run(&store, &out)?;
            println!(
                "Evidence chips: {} alert(s) rendered by the shards, {} at the merge (crossing a shard border)",
                out.change.chips_reused, out.change.chips_rendered
            );
            at_exit(out);
            Ok(())
        }
        Command::Export {
            region,
            store,
            layer,
            output,
            format,
            crs,
        } => {
            let store = pick_store(store, region)?;
            let Some(layer) = layer else {
                anyhow::ensure!(
                    crs.is_none(),
                    "--crs reprojects one layer: give --layer too (a whole-store copy keeps the store's CRS)"
                );
                return whole_store_export(&store, &output, format);
            };
            let opts = canopy_export::Options {
                crs,
                ..Default::default()
            };
            let done = canopy_export::export_with(&store, &layer, &output, format, &opts)?;
            for (long, short) in &done.renamed {
                eprintln!("field {long} written as {short}");
            }
            for f in &done.skipped {
                eprintln!("field {f} left out (binary)");
            }
            eprintln!(
                "{} features of {layer} written as {} to {}",
                done.features,
                done.format,
                done.files
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(())
        }
        Command::Import { gpkg, store } => {
            let done = canopy_store::transfer::import_store(&gpkg, &store)?;
            for r in &done.runs_replaced {
                eprintln!("warning: the results of the store's run of {r} were replaced (the GeoPackage does not have that run; run again to redo it)");
            }
            let m = done.merged;
            eprintln!(
                "{} imported into {}: {} layers; {} triage events and {} photos added{}",
                gpkg.display(),
                canopy_store::display_name(&store),
                done.layers.len(),
                m.events_added,
                m.photos_added,
                if m.reordered {
                    " (interleaved by time)"
                } else {
                    ""
                }
            );
            Ok(())
        }
        Command::Report {
            region,
            store,
            epoch,
            format,
            lang,
            output,
        } => {
            let store = pick_store(store, region)?;
            let report = canopy_report::build(&store, epoch.as_deref())?;
            let text = match format {
                ReportFormat::Md => canopy_report::markdown(&report),
                ReportFormat::Csv => canopy_report::csv(&report),
                ReportFormat::Html => canopy_report::html(&report, lang),
                ReportFormat::PlotsCsv => canopy_report::change_tracking_csv(&report),
            };
            match output {
                Some(path) => {
                    write_atomically(&path, text.as_bytes())?;
                    eprintln!("report written to {}", path.display());
                }
                None => {
                    use std::io::Write;
                    std::io::stdout().write_all(text.as_bytes())?;
                }
            }
            Ok(())
        }
        Command::Alerts {
            region,
            store,
            since,
            commune,
            min_severity,
            format,
        } => {
            let store = pick_store(store, region)?;
            let filter = print::AlertFilter {
                since,
                commune,
                min_severity,
            };
            print::alerts(&store, &filter, format, &mut std::io::stdout())
        }
        Command::Triage {
            store,
            alert_id,
            status,
            note,
            by,
        } => {
            let event = canopy_store::TriageEvent {
                alert_id,
                status,
                note,
                by,
                at: canopy_store::now(),
            };
            canopy_store::append_triage(&store, &event, None)?;
            println!(
                "{}: {} by {} at {}",
                event.alert_id, event.status, event.by, event.at
            );
            Ok(())
        }
        Command::Stats {
            store,
            epoch,
            format,
        } => {
            let stored = canopy_store::read_cover(&store)?;
            let mut w = std::io::stdout();
            match format {
                Format::Table => {
                    print::cover_table(&stored, epoch.as_deref(), &mut w)?;
                    let obs = canopy_store::read_observations(&store)?;
                    obs_print::observations_table(&stored, &obs, epoch.as_deref(), &mut w)?;
                }
                Format::Csv => print::cover_csv(&stored, epoch.as_deref(), &mut w)?,
                Format::Json => print::cover_json(&stored, epoch.as_deref(), &mut w)?,
            }
            Ok(())
        }
        Command::Serve {
            store,
            bind,
            tokens,
            cors,
            public_url,
            private,
            poll_ms,
            max_connections,
            header_timeout_s,
            idle_timeout_s,
            pg_pool,
            pg_pool_wait_ms,
        } => {
            let secs = |name: &str, v: f64| {
                if v.is_finite() && v > 0.0 && v <= 86_400.0 {
                    Ok(std::time::Duration::from_secs_f64(v))
                } else {
                    Err(anyhow::anyhow!(
                        "--{name} must be a number of seconds in (0, 86400], not {v}"
                    ))
                }
            };
            let mut limits = canopy_server::conn::Limits::default();
            if let Some(m) = max_connections {
                anyhow::ensure!(m > 0, "--max-connections must be at least 1");
                limits.max_connections = m;
            }
            limits.header_timeout = secs("header-timeout-s", header_timeout_s)?;
            limits.idle_timeout = secs("idle-timeout-s", idle_timeout_s)?;
            anyhow::ensure!(
                (1..=1000).contains(&pg_pool),
                "--pg-pool must be 1 to 1000, not {pg_pool}"
            );
            limits.pg_pool = pg_pool;
            limits.pg_pool_wait = std::time::Duration::from_millis(pg_pool_wait_ms);
            serve(
                store, bind, tokens, cors, public_url, private, poll_ms, limits,
            )
        }
        #[cfg(feature = "synth")]
        Command::Synth(args) => synth_cmd::run(args),
    }
}

/// `canopy serve`: tokens from the file and the environment, then the server until
/// Ctrl-C or SIGTERM.
fn serve(
    store: PathBuf,
    bind: String,
    tokens_file: Option<PathBuf>,
    cors: Vec<String>,
    public_url: Option<String>,
    private: bool,
    poll_ms: u64,
    limits: canopy_server::conn::Limits,
) -> anyhow::Result<()> {
    let mut tokens = canopy_server::auth::Tokens::none();
    let file = tokens_file.or_else(|| std::env::var_os("CANOPY_TOKENS_FILE").map(PathBuf::from));
    if let Some(f) = &file {
        tokens.add_file(f)?;
    }
    if let Ok(v) = std::env::var("CANOPY_TOKENS") {
        tokens.add_env(&v)?;
    }
    if tokens.is_empty() {
        tracing::warn!(
            "no tokens configured (--tokens FILE or CANOPY_TOKENS): triage writes are refused"
        );
    }
    let opts = canopy_server::ServeOptions {
        store,
        bind,
        tokens,
        cors,
        settings: canopy_server::Settings {
            public_url,
            private_reads: private,
        },
        poll: std::time::Duration::from_millis(poll_ms.max(50)),
        limits,
    };
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(canopy_server::serve(opts, |addr| {
        println!("Canopy is serving on http://{addr}/  (OGC API - Features; API at /api)");
        println!("Web map: http://{addr}/map");
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }))?;
    Ok(())
}

/// `--store`, or the default store of the region file.
fn parse_export_format(s: &str) -> Result<canopy_export::Format, String> {
    canopy_export::Format::parse(s)
        .ok_or_else(|| format!("\"{s}\": expected gpkg, shp, kml, gpx, csv or xlsx"))
}

/// `canopy export` without `--layer`: the whole store as a GeoPackage.
fn whole_store_export(
    store: &Path,
    output: &Path,
    format: Option<canopy_export::Format>,
) -> anyhow::Result<()> {
    let format = format.or_else(|| canopy_export::Format::from_path(output));
    if format != Some(canopy_export::Format::Gpkg) {
        anyhow::bail!(
            "{}: without --layer the whole store is exported, as a GeoPackage (.gpkg); give --layer NAME for other formats",
            output.display()
        );
    }
    let done = canopy_store::transfer::export_store(store, output)?;
    eprintln!(
        "{} exported to {}: {} layers, {} triage events, {} photos",
        canopy_store::display_name(store),
        output.display(),
        done.layers.len(),
        done.events,
        done.photos
    );
    Ok(())
}

fn pick_store(store: Option<PathBuf>, region: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match (store, region) {
        (Some(s), _) => Ok(s),
        (None, Some(r)) => find_store(&r),
        (None, None) => anyhow::bail!("give a region file or --store"),
    }
}

/// The store `canopy run REGION` wrote by default: `out/<slug>.gpkg` in the
/// working directory, else in the region file's directory or any directory above
/// it (the run may have been started from the repository's root and this command
/// from elsewhere). None found: an error naming where it looked.
fn find_store(region: &Path) -> anyhow::Result<PathBuf> {
    let cwd = default_store(region);
    if cwd.exists() {
        return Ok(cwd);
    }
    anyhow::ensure!(
        region.exists(),
        "region file {} not found (or give --store)",
        region.display()
    );
    let file = cwd.file_name().map(PathBuf::from).unwrap_or_default();
    let mut looked = vec![cwd.clone()];
    if let Some(dir) = region
        .canonicalize()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        for d in dir.ancestors() {
            let cand = d.join("out").join(&file);
            if cand.exists() {
                return Ok(cand);
            }
            looked.push(cand);
        }
    }
    anyhow::bail!(
        "no store for {}: looked for {} (run `canopy run {}` first, or give --store)",
        region.display(),
        looked
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        region.display()
    )
}

/// Writes a file through a temporary sibling and a rename: never half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    canopy_store::atomic::write_file(path, bytes)
        .with_context(|| format!("writing {}", path.display()))
}

/// `out/<name of the region's directory>.gpkg`.
/// `--pair FROM:TO` options as epoch id pairs.
fn parse_pairs(pairs: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    pairs
        .iter()
        .map(|p| match p.split_once(':') {
            Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a.to_string(), b.to_string())),
            _ => Err(anyhow::anyhow!(
                "--pair {p}: expected FROM:TO, e.g. --pair 2020:2025"
            )),
        })
        .collect()
}

/// What `run` and `merge` print: the figures read back from the store just written.
fn print_run(store: &Path, out: &canopy_pipeline::job::RunOutcome) -> anyhow::Result<()> {
    let stored = canopy_store::read_cover(store)
        .with_context(|| format!("reading back {}", store.display()))?;
    let mut w = std::io::stdout();
    print::cover_table(&stored, None, &mut w)?;
    print::change_summary(&stored, &out.change, &mut w)?;
    print::zone_summary(store, &mut w)?;
    parcel_print::summary(store, &mut w)?;
    print::progress(store, &mut w)?;
    fire_print::bulletin(store, &mut w)?;
    fire_print::events(store, out.fire.as_ref(), &mut w)?;
    fire_print::burned(store, &mut w)?;
    use std::io::Write;
    writeln!(
        w,
        "\nStore: {}  ({} communes × {} epochs; open it with QGIS or `ogrinfo {}`)",
        canopy_store::display_name(store),
        out.cover.communes.len(),
        out.region.epochs.len(),
        canopy_store::display_name(store)
    )?;
    Ok(())
}

fn default_store(region: &Path) -> PathBuf {
    let dir = region
        .canonicalize()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let slug = dir
        .as_ref()
        .and_then(|d| d.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "region".into());
    PathBuf::from("out").join(format!("{slug}.gpkg"))
}
