//! `fire_danger` (no geometry): commune_code, commune_name, date (YYYY-MM-DD),
//! danger_index, level (1 = I … 5 = V), level_name, station, distance_km,
//! forest_ha (the latest epoch's forest of the commune). One row per commune
//! and day some station reported; written only when the region has `[fire]`.

use canopy_core::fire::DangerRow;
use gdal::vector::OGRFieldType;
use gdal::Dataset;

use crate::error::Result;
use crate::rows::Val::{Int, Real, Str};
use crate::rows::{read_rows, real, string, write_table, Field, GResult};
use crate::Reader;

pub const LAYER: &str = "fire_danger";

const FIELDS: [Field; 9] = [
    ("commune_code", OGRFieldType::OFTString),
    ("commune_name", OGRFieldType::OFTString),
    ("date", crate::rows::DATE),
    ("danger_index", OGRFieldType::OFTReal),
    ("level", OGRFieldType::OFTInteger),
    ("level_name", OGRFieldType::OFTString),
    ("station", OGRFieldType::OFTString),
    ("distance_km", OGRFieldType::OFTReal),
    ("forest_ha", OGRFieldType::OFTReal),
];

pub(crate) fn write(ds: &mut Dataset, rows: &[DangerRow]) -> GResult<()> {
    write_table(
        ds,
        LAYER,
        &FIELDS,
        rows.iter().map(|r| {
            [
                Str(&r.commune_code),
                Str(&r.commune_name),
                Str(&r.date),
                Real(r.index),
                Int(r.level as i32),
                Str(canopy_core::fire::level_name(r.level)),
                Str(&r.station),
                Real(r.distance_km),
                Real(r.forest_ha),
            ]
        }),
    )
}

impl Reader {
    /// The stored danger rows (empty when the run had no `[fire]`), of one day if
    /// `date` is given.
    pub fn fire_danger(&self, date: Option<&str>) -> Result<Vec<DangerRow>> {
        let names: Vec<&str> = FIELDS
            .iter()
            .map(|f| f.0)
            .filter(|n| *n != "level_name")
            .collect();
        let rows = read_rows(&self.ds, LAYER, &names, &self.path, |f, ix| DangerRow {
            commune_code: string(f, ix[0]),
            commune_name: string(f, ix[1]),
            date: string(f, ix[2]),
            index: real(f, ix[3]).unwrap_or(f64::NAN),
            level: f.field_as_integer(ix[4]).ok().flatten().unwrap_or(0) as u8,
            station: string(f, ix[5]),
            distance_km: real(f, ix[6]).unwrap_or(f64::NAN),
            forest_ha: real(f, ix[7]).unwrap_or(f64::NAN),
        })?;
        Ok(match date {
            Some(d) => rows.into_iter().filter(|r| r.date == d).collect(),
            None => rows,
        })
    }
}
