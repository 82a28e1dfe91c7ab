//! `change` (commune_code, from_epoch, to_epoch, loss_ha, gain_ha, net_ha,
//! unobserved_ha, transitions as JSON) and `province_change` (without the code).

use gdal::vector::{LayerAccess, OGRFieldType};
use gdal::Dataset;

use crate::cover::PROVINCE_CODE;
use crate::error::Result;
use crate::rows::Val::{Null, Real, Str, Text};
use crate::rows::{
    read_rows, real, string, unit_fields, unit_values, write_table, Field, GResult, Val,
};
use crate::Reader;

pub const LAYER: &str = "change";
pub const PROVINCE_LAYER: &str = "province_change";

const FIELDS: [Field; 7] = [
    ("from_epoch", OGRFieldType::OFTString),
    ("to_epoch", OGRFieldType::OFTString),
    ("loss_ha", OGRFieldType::OFTReal),
    ("gain_ha", OGRFieldType::OFTReal),
    ("net_ha", OGRFieldType::OFTReal),
    ("unobserved_ha", OGRFieldType::OFTReal),
    ("transitions", OGRFieldType::OFTString),
];

/// Change of one commune (or the province) between two epochs.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRow {
    pub commune_code: String,
    pub from_epoch: String,
    pub to_epoch: String,
    pub loss_ha: f64,
    pub gain_ha: f64,
    /// `gain_ha − loss_ha`.
    pub net_ha: f64,
    /// Unobserved in either epoch.
    pub unobserved_ha: f64,
    /// Class epochs: (from class, to class, ha), observed in both, sorted.
    pub transitions: Vec<(i64, i64, f64)>,
}

/// Writes `change` (`with_code`) or `province_change`.
pub(crate) fn write(
    ds: &mut Dataset,
    name: &str,
    rows: &[ChangeRow],
    with_code: bool,
) -> GResult<()> {
    let values = rows.iter().map(|r| {
        let change = [
            Str(&r.from_epoch),
            Str(&r.to_epoch),
            Real(r.loss_ha),
            Real(r.gain_ha),
            Real(r.net_ha),
            Real(r.unobserved_ha),
            transitions(r),
        ];
        unit_values(with_code, &r.commune_code, change)
    });
    write_table(ds, name, &unit_fields(with_code, &FIELDS), values)
}

/// The class transitions as JSON (NULL when there are none).
fn transitions(r: &ChangeRow) -> Val<'static> {
    if r.transitions.is_empty() {
        return Null;
    }
    let t: Vec<serde_json::Value> = r
        .transitions
        .iter()
        .map(|(a, b, ha)| serde_json::json!({"from": a, "to": b, "ha": ha}))
        .collect();
    Text(serde_json::Value::Array(t).to_string())
}

impl Reader {
    /// The change rows (communes, then the province under [`PROVINCE_CODE`]),
    /// with their class transitions (empty for spectral epochs and older stores).
    pub fn change(&self) -> Result<(Vec<ChangeRow>, Vec<ChangeRow>)> {
        let read = |name: &str, with_code: bool| {
            let mut names = vec![
                "from_epoch",
                "to_epoch",
                "loss_ha",
                "gain_ha",
                "net_ha",
                "unobserved_ha",
            ];
            names.extend(with_code.then_some("commune_code"));
            let t = self
                .ds
                .layer_by_name(name)
                .ok()
                .and_then(|l| l.defn().field_index("transitions").ok());
            read_rows(&self.ds, name, &names, &self.path, |f, ix| {
                let d = |i: usize| real(f, ix[i]).unwrap_or(0.0);
                ChangeRow {
                    commune_code: ix
                        .get(6)
                        .map(|&c| string(f, c))
                        .unwrap_or_else(|| PROVINCE_CODE.into()),
                    from_epoch: string(f, ix[0]),
                    to_epoch: string(f, ix[1]),
                    loss_ha: d(2),
                    gain_ha: d(3),
                    net_ha: d(4),
                    unobserved_ha: d(5),
                    transitions: t
                        .map(|t| read_transitions(&string(f, t)))
                        .unwrap_or_default(),
                }
            })
        };
        Ok((read(LAYER, true)?, read(PROVINCE_LAYER, false)?))
    }
}

/// The `transitions` JSON as written by [`transitions`] (empty when NULL or unreadable).
fn read_transitions(json: &str) -> Vec<(i64, i64, f64)> {
    #[derive(serde::Deserialize)]
    struct T {
        from: i64,
        to: i64,
        ha: f64,
    }
    serde_json::from_str::<Vec<T>>(json)
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.from, t.to, t.ha))
        .collect()
}
