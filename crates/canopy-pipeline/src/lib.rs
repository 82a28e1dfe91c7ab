//! Canopy's I/O edge and orchestration.
//!
//! - [`config`]: the region file;
//! - [`communes`]: reading and checking the commune layer;
//! - [`crs`]: CRSs and PROJ transforms;
//! - [`raster`]: tiles, the per-epoch working grid, composite strip reads;
//! - [`cover`]: the forest-cover job (coverage × strips, in parallel);
//! - [`job`]: a whole run: checksums, cover job, the store write (`canopy-store`);
//! - [`zones`], [`zone_stats`], [`zone_rows`]: planting zones, their statistics, their table rows;
//! - [`parcels`]: forest plots (lô rừng): the plot layer, plot figures, summaries;
//! - [`fire`]: fire danger per commune and day;
//! - [`targets`]: plan targets and progress against them;
//! - [`progress`]: progress bars;
//! - [`shard`]: sharded runs (`--shard K/N`) and their exact merge; [`cache`]:
//!   incremental runs (`--cache DIR`); [`framed`]: their checked file format.

pub mod burn;
pub mod cache;
pub mod change;
pub mod chips;
pub mod communes;
pub mod config;
pub mod cover;
pub mod crs;
pub mod error;
pub mod fingerprint;
pub mod fire;
pub mod framed;
pub mod job;
pub mod parcels;
pub mod plot_share;
pub mod products;
pub mod progress;
pub mod raster;
pub mod shard;
pub mod strips;
pub mod targets;
pub mod touched;
pub mod zone_rows;
pub mod zone_stats;
pub mod zones;

pub use canopy_core::text;
pub use error::PipelineError;
pub use gdal;
