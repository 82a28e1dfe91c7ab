//! Canopy's pure logic: no I/O, no GDAL.
//!
//! Everything here works on plain numbers and `geo` geometries so that it can be
//! tested exhaustively and fast. The I/O edge (`canopy-pipeline`) reads rasters and
//! vectors, brings them onto a [`grid::Grid`], and hands them to these modules:
//!
//! - [`grid`]: north-up grids and windows;
//! - [`coverage`]: exact fractional coverage of a polygon on a grid, as sparse spans;
//! - [`forest`]: band values → observation state (unobserved / non-forest / forest);
//! - [`pixel_area`]: the true area of each pixel in the area CRS;
//! - [`zonal`]: coverage × states → forest and observed area;
//! - [`stats`]: the per-commune figures (ha, cover %, observed %);
//! - [`change`]: change codes between two epochs, the loss mask, the alert severity rule;
//! - [`composite`]: many scenes of an epoch → one state per pixel (max/median NDVI), clear counts, first seen;
//! - [`components`]: streaming 8-connected labelling of pixel runs (alert patches);
//! - [`outline`]: the exact outline of a pixel set as a valid polygon;
//! - [`targets`]: progress against cover-rate and planting-zone targets, measured on
//!   stored figures ([`targets::progress`]);
//! - [`fire`]: the fire danger index (Decision 127/2000), its levels, the day's bulletin
//!   over danger rows;
//! - [`triage`]: a ranger's verdict on an alert ([`triage::TriageStatus`]);
//! - [`hotspot`]: satellite hotspot footprints, fire events (grouping), their severity;
//! - [`burn`]: NBR, dNBR, the burn-severity classes, burn codes and alert causes;
//! - [`parcel`]: forest plots: function, owner category, origin, severity by function, summaries;
//! - [`text`]: NFC names and diacritic-free search keys.

pub mod bbox;
pub mod burn;
pub mod change;
pub mod components;
pub mod composite;
pub mod coverage;
pub mod fire;
pub mod forest;
pub mod grid;
pub mod hotspot;
pub mod outline;
pub mod palette;
pub mod parcel;
pub mod pixel_area;
pub mod stats;
pub mod targets;
pub mod text;
pub mod triage;
pub mod zonal;
