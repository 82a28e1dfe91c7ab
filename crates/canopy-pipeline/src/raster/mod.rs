//! Raster input: tiles, the per-epoch working grid, and block-wise composite reads.
//!
//! - [`tile`] opens one tile and checks it (CRS, geotransform, bands, scaling);
//! - [`mosaic`] plans an epoch: its working grid and where each tile lands on it;
//! - [`reader`] reads strips of the working grid, compositing tiles by priority;
//! - [`warp_map`] reads warped tiles that share a source grid through one warp.

pub mod mosaic;
pub mod reader;
pub mod tile;
pub mod warp_map;
