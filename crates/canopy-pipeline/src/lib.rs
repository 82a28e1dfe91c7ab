//! Canopy's I/O edge and orchestration.
//!
//! - [`config`]: the region file;
//! - [`communes`]: reading and checking the commune layer;
//! - [`crs`]: CRSs and PROJ transforms;
//! - [`raster`]: tiles, the per-epoch working grid, composite strip reads;
//! - [`cover`]: the forest-cover job (coverage × strips, in parallel);
//! - [`job`]: a whole run: checksums, cover job, store write;
//! - [`layers`]: generic read-back of store layers (for the server);
//! - [`store`]: the GeoPackage results store;
//! - `store_rows`: store rows ↔ GDAL features, for the store's writers and readers;
//! - [`zones`], [`zone_stats`], [`zone_store`]: planting zones, their statistics and tables;
//! - [`fire`], [`fire_store`]: fire danger per commune and day, its table;
//! - [`targets`]: plan targets and progress against them;
//! - [`report`]: the planners' report (md, csv, html);
//! - [`synth`]: the deterministic sample-region generator;
//! - [`progress`]: progress bars.

pub mod change;
pub mod chip_store;
pub mod chips;
pub mod communes;
pub mod config;
pub mod cover;
pub mod crs;
pub mod error;
pub mod fingerprint;
pub mod fire;
pub mod fire_store;
pub mod job;
pub mod layers;
pub mod photo_store;
pub mod products;
pub mod progress;
pub mod raster;
pub mod report;
pub mod store;
mod store_rows;
pub mod synth;
pub mod targets;
pub mod text;
pub mod zone_stats;
pub mod zone_store;
pub mod zones;

pub use error::PipelineError;
pub use gdal;
