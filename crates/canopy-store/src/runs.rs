//! `runs`: one row per run (when, version, region, settings, inputs' checksums,
//! timings), carried over from store to store so the history is never lost.

use gdal::vector::LayerAccess;
use gdal::Dataset;

use crate::error::{Result, StoreError};
use crate::rows::Val::Str;
use crate::rows::{indices, string, string_fields, write_table, GResult};
use crate::Reader;

pub const LAYER: &str = "runs";

const FIELDS: [&str; 8] = [
    "started_at",
    "finished_at",
    "canopy_version",
    "region_file",
    "region_name",
    "settings",
    "inputs",
    "timings",
];

/// One row of the `runs` table.
#[derive(Debug, Clone, Default)]
pub struct RunRecord {
    pub started_at: String,
    pub finished_at: String,
    pub canopy_version: String,
    pub region_file: String,
    pub region_name: String,
    /// JSON: rules, threads, strip size.
    pub settings: String,
    /// JSON: file → checksum.
    pub inputs: String,
    /// JSON: step → seconds.
    pub timings: String,
}

fn values(r: &RunRecord) -> [&str; 8] {
    [
        &r.started_at,
        &r.finished_at,
        &r.canopy_version,
        &r.region_file,
        &r.region_name,
        &r.settings,
        &r.inputs,
        &r.timings,
    ]
}

pub(crate) fn write(ds: &mut Dataset, runs: &[RunRecord]) -> GResult<()> {
    let rows = runs.iter().map(|r| values(r).map(Str));
    // The two times are date-times (RFC 3339, UTC), the rest text.
    let mut fields = string_fields(&FIELDS);
    fields[0].1 = crate::rows::DATETIME;
    fields[1].1 = crate::rows::DATETIME;
    write_table(ds, LAYER, &fields, rows)
}

impl Reader {
    /// The runs recorded in the store, oldest first.
    pub fn runs(&self) -> Result<Vec<RunRecord>> {
        let mut layer = self
            .ds
            .layer_by_name(LAYER)
            .map_err(|_| StoreError::invalid(&self.path, "no runs layer"))?;
        let ix = indices(&layer, &FIELDS, &self.path)?;
        Ok(layer
            .features()
            .map(|f| {
                let [started_at, finished_at, canopy_version, region_file, region_name, settings, inputs, timings] =
                    std::array::from_fn(|i| string(&f, ix[i]));
                RunRecord {
                    started_at,
                    finished_at,
                    canopy_version,
                    region_file,
                    region_name,
                    settings,
                    inputs,
                    timings,
                }
            })
            .collect())
    }
}

/// The time now, RFC 3339 in UTC to the second (run records, triage events).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
