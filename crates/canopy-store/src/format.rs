//! `store_format`: the layout version of a store, one row (`format`, `written_by`).
//!
//! Every run writes [`FORMAT`]; [`crate::Reader::open`] refuses a store whose
//! format is newer than this Canopy reads, with one line naming the store, its
//! format and the Canopy that wrote it. A run reads the previous store first (for
//! its history), so it refuses too and never replaces tables it does not know.
//! Stores written before the table existed read as format 1.
//!
//! Architecture invariant: a change to the layout that an older Canopy would
//! misread (a table renamed, a field's meaning changed) raises [`FORMAT`].

use std::path::Path;

use gdal::vector::LayerAccess;
use gdal::Dataset;

use crate::error::{Result, StoreError};
use crate::rows::Val::{Int, Str};
use crate::rows::{idx, string, write_table, GResult};

pub const LAYER: &str = "store_format";

/// The store format this Canopy writes and reads (and every older one).
pub const FORMAT: i32 = 2;

pub(crate) fn write(ds: &mut Dataset) -> GResult<()> {
    let by = format!("canopy {}", env!("CARGO_PKG_VERSION"));
    let fields = [
        ("format", gdal::vector::OGRFieldType::OFTInteger),
        ("written_by", gdal::vector::OGRFieldType::OFTString),
    ];
    write_table(ds, LAYER, &fields, std::iter::once([Int(FORMAT), Str(&by)]))
}

/// Refuses a store of a newer format than [`FORMAT`].
pub(crate) fn check(ds: &Dataset, path: &Path) -> Result<()> {
    let Ok(mut layer) = ds.layer_by_name(LAYER) else {
        return Ok(());
    };
    let (fi, bi) = (
        idx(&layer, "format", path)?,
        idx(&layer, "written_by", path)?,
    );
    for f in layer.features() {
        let format = f.field_as_integer(fi).ok().flatten().unwrap_or(0);
        if format > FORMAT {
            return Err(StoreError::invalid(
                path,
                format!(
                    "was written by a newer Canopy ({}, store format {format}); this canopy {} reads \
                     store formats up to {FORMAT}: upgrade canopy to read or replace it",
                    string(&f, bi),
                    env!("CARGO_PKG_VERSION")
                ),
            ));
        }
    }
    Ok(())
}
