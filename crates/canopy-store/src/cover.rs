//! `cover` (commune_code, epoch, natural_ha, forest_ha, observed_ha, unobserved_ha,
//! cover_pct, observed_pct) and `province_cover` (the same without the code, for the
//! union of the communes).

use canopy_core::stats::CoverFigures;
use gdal::vector::{Feature, LayerAccess, OGRFieldType};
use gdal::Dataset;

use crate::error::Result;
use crate::rows::Val::{Real, Str};
use crate::rows::{
    idx, indices, opt, real, string, unit_fields, unit_values, write_table, Field, GResult,
};
use crate::Reader;

pub const LAYER: &str = "cover";
pub const PROVINCE_LAYER: &str = "province_cover";

/// The code under which province totals are reported.
pub const PROVINCE_CODE: &str = "PROVINCE";

const FIELDS: [Field; 7] = [
    ("epoch", OGRFieldType::OFTString),
    ("natural_ha", OGRFieldType::OFTReal),
    ("forest_ha", OGRFieldType::OFTReal),
    ("observed_ha", OGRFieldType::OFTReal),
    ("unobserved_ha", OGRFieldType::OFTReal),
    ("cover_pct", OGRFieldType::OFTReal),
    ("observed_pct", OGRFieldType::OFTReal),
];

const FIGURE_FIELDS: [&str; 6] = [
    "natural_ha",
    "forest_ha",
    "observed_ha",
    "unobserved_ha",
    "cover_pct",
    "observed_pct",
];

/// Figures of one commune (or the province) in one epoch.
#[derive(Debug, Clone)]
pub struct CoverRow {
    pub commune_code: String,
    pub epoch: String,
    pub figures: CoverFigures,
}

/// What `canopy stats` prints: communes, their cover rows and the province rows.
#[derive(Debug, Clone)]
pub struct StoredCover {
    pub region_name: String,
    pub communes: Vec<crate::communes::StoredCommune>,
    pub epochs: Vec<String>,
    pub rows: Vec<CoverRow>,
    pub province: Vec<CoverRow>,
}

/// Writes `cover` (`with_code`) or `province_cover`.
pub(crate) fn write(
    ds: &mut Dataset,
    name: &str,
    rows: &[CoverRow],
    with_code: bool,
) -> GResult<()> {
    let values = rows.iter().map(|r| {
        let x: &CoverFigures = &r.figures;
        let figures = [
            Str(&r.epoch),
            Real(x.natural_ha),
            Real(x.forest_ha),
            Real(x.observed_ha),
            Real(x.unobserved_ha),
            opt(x.cover_pct.map(Real)),
            Real(x.observed_pct),
        ];
        unit_values(with_code, &r.commune_code, figures)
    });
    write_table(ds, name, &unit_fields(with_code, &FIELDS), values)
}

fn read_figures(f: &Feature, ix: &[usize]) -> CoverFigures {
    let d = |i: usize| real(f, ix[i]);
    CoverFigures {
        natural_ha: d(0).unwrap_or(0.0),
        forest_ha: d(1).unwrap_or(0.0),
        observed_ha: d(2).unwrap_or(0.0),
        unobserved_ha: d(3).unwrap_or(0.0),
        cover_pct: d(4),
        observed_pct: d(5).unwrap_or(0.0),
    }
}

impl Reader {
    /// The rows of `cover` (`with_code`) or `province_cover` (code [`PROVINCE_CODE`]).
    pub fn cover_rows(&self, with_code: bool) -> Result<Vec<CoverRow>> {
        let name = if with_code { LAYER } else { PROVINCE_LAYER };
        let mut l = self.layer(name)?;
        let ix = indices(&l, &FIGURE_FIELDS, &self.path)?;
        let e = idx(&l, "epoch", &self.path)?;
        let c = if with_code {
            Some(idx(&l, "commune_code", &self.path)?)
        } else {
            None
        };
        Ok(l.features()
            .map(|f| CoverRow {
                commune_code: c
                    .map(|c| string(&f, c))
                    .unwrap_or_else(|| PROVINCE_CODE.into()),
                epoch: string(&f, e),
                figures: read_figures(&f, &ix),
            })
            .collect())
    }

    /// The cover figures: communes, epochs, commune and province rows, region name.
    pub fn cover(&self) -> Result<StoredCover> {
        let communes = self.communes()?;
        let rows = self.cover_rows(true)?;
        let province = self.cover_rows(false)?;
        let epochs = self.epoch_ids()?;
        let region_name = self
            .runs()?
            .last()
            .map(|r| r.region_name.clone())
            .unwrap_or_default();
        Ok(StoredCover {
            region_name,
            communes,
            epochs,
            rows,
            province,
        })
    }
}
