//! `epochs` (id, date, tiles, pixels): the run's epochs in order.

use gdal::vector::{LayerAccess, OGRFieldType};
use gdal::Dataset;

use crate::error::Result;
use crate::rows::Val::{Int, Int64, Str};
use crate::rows::{idx, string, write_table, Field, GResult};
use crate::Reader;

pub const LAYER: &str = "epochs";

const FIELDS: [Field; 4] = [
    ("id", OGRFieldType::OFTString),
    ("date", crate::rows::DATE),
    ("tiles", OGRFieldType::OFTInteger),
    ("pixels", OGRFieldType::OFTInteger64),
];

/// An epoch as recorded in the store.
#[derive(Debug, Clone)]
pub struct EpochRecord {
    pub id: String,
    pub date: String,
    pub tiles: usize,
    pub pixels: u64,
}

pub(crate) fn write(ds: &mut Dataset, epochs: &[EpochRecord]) -> GResult<()> {
    write_table(
        ds,
        LAYER,
        &FIELDS,
        epochs.iter().map(|e| {
            [
                Str(&e.id),
                Str(&e.date),
                Int(e.tiles as i32),
                Int64(e.pixels as i64),
            ]
        }),
    )
}

impl Reader {
    /// Epoch ids and dates, in order.
    pub fn epoch_dates(&self) -> Result<Vec<(String, String)>> {
        let mut l = self.layer(LAYER)?;
        let (i, d) = (idx(&l, "id", &self.path)?, idx(&l, "date", &self.path)?);
        Ok(l.features()
            .map(|f| (string(&f, i), string(&f, d)))
            .collect())
    }

    /// Epoch ids, in order.
    pub fn epoch_ids(&self) -> Result<Vec<String>> {
        Ok(self.epoch_dates()?.into_iter().map(|(i, _)| i).collect())
    }
}
