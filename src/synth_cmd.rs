//! `canopy synth`: the sample generator (`canopy-synth`), behind the default
//! `synth` cargo feature so that a build without it links no generator.

use std::path::PathBuf;

/// Arguments of `canopy synth`.
#[derive(clap::Args)]
pub struct SynthArgs {
    /// Region directory to write (tiles/, truth/, truth.json, region.toml if absent).
    pub out_dir: PathBuf,
    /// Commune polygons (any OGR layer).
    #[arg(long)]
    pub communes: PathBuf,
    #[arg(long, default_value = "ma_xa")]
    pub code_field: String,
    #[arg(long, default_value = "ten_xa")]
    pub name_field: String,
    /// Region name written into a new region.toml.
    #[arg(long, default_value = "Sample region")]
    pub name: String,
    /// Pixel size in metres (30 for the sample, 10 for a province-scale benchmark).
    #[arg(long, default_value_t = 30.0)]
    pub pixel_size: f64,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Number of epochs (≥ 2).
    #[arg(long, default_value_t = 2)]
    pub epochs: usize,
    /// Targets file naming the communes of each species zone: zones are
    /// generated there (zones.geojson), with harvest blocks inside them.
    #[arg(long)]
    pub targets: Option<PathBuf>,
    /// Scenes per epoch (≥ 1). Above 1: dates through the year with moving
    /// clouds, haze the mask misses, a leaf-off January scene and mown meadows;
    /// region.toml composites them (max-ndvi).
    #[arg(long, default_value_t = 1)]
    pub scenes: usize,
    /// Forest plots (lô rừng) into parcels.geojson: every commune at 10 m (about
    /// 300,000 plots over Lạng Sơn), two communes at coarser pixel sizes.
    #[arg(long)]
    pub parcels: bool,
    /// Write only parcels.geojson (no tiles, truth or region.toml).
    #[arg(long)]
    pub parcels_only: bool,
}

/// Generates the region and prints one summary line.
pub fn run(a: SynthArgs) -> anyhow::Result<()> {
    let opts = canopy_synth::SynthOptions {
        out_dir: a.out_dir.clone(),
        communes: a.communes,
        code_field: a.code_field,
        name_field: a.name_field,
        region_name: a.name,
        pixel_size: a.pixel_size,
        seed: a.seed,
        epochs: a.epochs,
        targets: a.targets,
        scenes: a.scenes.max(1),
        parcels: a.parcels,
        parcels_only: a.parcels_only,
    };
    let s = canopy_synth::generate(&opts)?;
    if s.parcels > 0 {
        println!("Generated {} forest plots in parcels.geojson", s.parcels);
    }
    if a.parcels_only {
        return Ok(());
    }
    println!(
        "Generated {} tiles over a {}×{} working grid ({} px per band per epoch), {} planted changes, in {}",
        s.tiles,
        s.grid.width,
        s.grid.height,
        s.pixels_per_band_per_epoch,
        s.changes,
        a.out_dir.display()
    );
    Ok(())
}
