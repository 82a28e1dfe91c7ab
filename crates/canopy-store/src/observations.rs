//! `observations` (commune_code, epoch, scenes, clear_obs): how many scenes reached
//! a commune (or the province) in an epoch and its mean clear observations per pixel.

use gdal::vector::{LayerAccess, OGRFieldType};
use gdal::Dataset;

use crate::error::Result;
use crate::rows::Val::{Int, Real, Str};
use crate::rows::{indices, names, real, string, write_table, Field, GResult};
use crate::Reader;

pub const LAYER: &str = "observations";

const FIELDS: [Field; 4] = [
    ("commune_code", OGRFieldType::OFTString),
    ("epoch", OGRFieldType::OFTString),
    ("scenes", OGRFieldType::OFTInteger),
    ("clear_obs", OGRFieldType::OFTReal),
];

/// How many scenes reached a commune (or the province) in an epoch, and its
/// mean number of clear observations per pixel (area-weighted over the whole
/// commune, unobserved land counting zero).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ObservationRow {
    pub commune_code: String,
    pub epoch: String,
    pub scenes: u32,
    pub clear_obs: f64,
}

pub(crate) fn write(ds: &mut Dataset, rows: &[ObservationRow]) -> GResult<()> {
    write_table(
        ds,
        LAYER,
        &FIELDS,
        rows.iter().map(|r| {
            [
                Str(&r.commune_code),
                Str(&r.epoch),
                Int(r.scenes as i32),
                Real(r.clear_obs),
            ]
        }),
    )
}

impl Reader {
    /// The `observations` table (empty for a store written before it existed).
    pub fn observations(&self) -> Result<Vec<ObservationRow>> {
        let Ok(mut l) = self.ds.layer_by_name(LAYER) else {
            return Ok(Vec::new());
        };
        let ix = indices(&l, &names(&FIELDS), &self.path)?;
        Ok(l.features()
            .map(|f| ObservationRow {
                commune_code: string(&f, ix[0]),
                epoch: string(&f, ix[1]),
                scenes: f.field_as_integer(ix[2]).ok().flatten().unwrap_or(0) as u32,
                clear_obs: real(&f, ix[3]).unwrap_or(0.0),
            })
            .collect())
    }
}
