//! `burned_area` (no geometry): burned forest per unit and epoch pair, by burn
//! severity class (Key & Benson 2006, `core::burn`). One row per unit (`commune`,
//! `province`, `zone_piece` or `parcel`: a forest plot with forest in the earlier epoch), pair of epochs that both have a SWIR band:
//! the forest of the earlier epoch in each dNBR class (ha), `burned_ha` (low
//! severity or worse) and `no_dnbr_ha` (forest without a clear SWIR observation
//! in one of the epochs). Written when some pair has SWIR (`pipeline::burn`).

use canopy_core::burn::BurnClass;
use gdal::vector::OGRFieldType;
use gdal::Dataset;

use crate::error::Result;
use crate::rows::Val::{Real, Str};
use crate::rows::{read_rows_where, real, string, write_table, Field, GResult, Val};
use crate::Reader;

pub const LAYER: &str = "burned_area";

const FIELDS: [Field; 13] = [
    ("unit", OGRFieldType::OFTString),
    ("code", OGRFieldType::OFTString),
    ("from_epoch", OGRFieldType::OFTString),
    ("to_epoch", OGRFieldType::OFTString),
    ("regrowth_high_ha", OGRFieldType::OFTReal),
    ("regrowth_low_ha", OGRFieldType::OFTReal),
    ("unburned_ha", OGRFieldType::OFTReal),
    ("low_ha", OGRFieldType::OFTReal),
    ("moderate_low_ha", OGRFieldType::OFTReal),
    ("moderate_high_ha", OGRFieldType::OFTReal),
    ("high_ha", OGRFieldType::OFTReal),
    ("burned_ha", OGRFieldType::OFTReal),
    ("no_dnbr_ha", OGRFieldType::OFTReal),
];

/// Unit names of [`BurnedAreaRow::unit`].
pub const UNIT_COMMUNE: &str = "commune";
pub const UNIT_PROVINCE: &str = "province";
pub const UNIT_ZONE_PIECE: &str = "zone_piece";
/// A forest plot (lô rừng, `parcels`): only plots with forest in the earlier epoch.
pub const UNIT_PARCEL: &str = "parcel";

/// Burned forest of one unit between two epochs.
#[derive(Debug, Clone, PartialEq)]
pub struct BurnedAreaRow {
    /// `commune`, `province`, `zone_piece` or `parcel`.
    pub unit: String,
    /// Commune code, `PROVINCE_CODE`, the zone piece id or the plot id.
    pub code: String,
    pub from_epoch: String,
    pub to_epoch: String,
    /// Forest of the earlier epoch per class, in [`BurnClass::ALL`] order (ha).
    pub class_ha: [f64; 7],
    /// Forest without dNBR (no clear SWIR observation in one epoch), ha.
    pub no_dnbr_ha: f64,
}

impl BurnedAreaRow {
    /// Low severity or worse, ha.
    pub fn burned_ha(&self) -> f64 {
        BurnClass::ALL
            .iter()
            .filter(|c| c.is_burned())
            .map(|c| self.class_ha[c.index()])
            .sum()
    }
    /// The hectares of one class.
    pub fn ha(&self, c: BurnClass) -> f64 {
        self.class_ha[c.index()]
    }
}

pub(crate) fn write(ds: &mut Dataset, rows: &[BurnedAreaRow]) -> GResult<()> {
    write_table(
        ds,
        LAYER,
        &FIELDS,
        rows.iter().map(|r| {
            let mut v: Vec<Val<'_>> = vec![
                Str(&r.unit),
                Str(&r.code),
                Str(&r.from_epoch),
                Str(&r.to_epoch),
            ];
            v.extend(r.class_ha.iter().map(|&h| Real(h)));
            v.push(Real(r.burned_ha()));
            v.push(Real(r.no_dnbr_ha));
            v
        }),
    )
}

impl Reader {
    /// The stored burned-area rows (empty when no pair had SWIR, or an older store).
    pub fn burned_area(&self) -> Result<Vec<BurnedAreaRow>> {
        self.burned_area_where(None)
    }

    /// The stored burned-area rows of the units named `units` only (e.g.
    /// [`UNIT_PROVINCE`] and [`UNIT_COMMUNE`], without a row per plot).
    pub fn burned_area_of(&self, units: &[&str]) -> Result<Vec<BurnedAreaRow>> {
        let list: Vec<String> = units
            .iter()
            .map(|u| format!("'{}'", u.replace('\'', "''")))
            .collect();
        self.burned_area_where(Some(&format!("unit IN ({})", list.join(","))))
    }

    fn burned_area_where(&self, filter: Option<&str>) -> Result<Vec<BurnedAreaRow>> {
        let names: Vec<&str> = FIELDS
            .iter()
            .map(|f| f.0)
            .filter(|n| *n != "burned_ha")
            .collect();
        read_rows_where(&self.ds, LAYER, filter, &names, &self.path, |f, ix| {
            let mut class_ha = [0.0; 7];
            for (k, h) in class_ha.iter_mut().enumerate() {
                *h = real(f, ix[4 + k]).unwrap_or(0.0);
            }
            BurnedAreaRow {
                unit: string(f, ix[0]),
                code: string(f, ix[1]),
                from_epoch: string(f, ix[2]),
                to_epoch: string(f, ix[3]),
                class_ha,
                no_dnbr_ha: real(f, ix[11]).unwrap_or(0.0),
            }
        })
    }
}
