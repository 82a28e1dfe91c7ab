//! The sample's weather stations (`weather/stations.csv`) for the fire danger
//! bulletin: three stations across the working grid (west, centre, east),
//! daily 13:00 observations for the 122 days up to the last epoch's date. A
//! wet autumn (rain every few days) ends in a dry spell whose length differs per
//! station, so the last day shows levels III (west, P ≈ 2,650), IV (east, ≈ 5,550) and V (centre, ≈ 11,500)
//! under the national scheme. Deterministic (no random numbers: smooth sine
//! variations), so the sample is reproducible.

use std::fmt::Write as _;
use std::path::Path;

use canopy_core::grid::Grid;
use chrono::{Duration, NaiveDate};
use proj::Proj;

use super::SynthError;

/// (id, fraction of the grid's width, days before the last day of the last rain ≥ 5 mm).
const STATIONS: [(&str, f64, i64); 3] = [("TAY", 0.15, 9), ("TRUNG", 0.5, 42), ("DONG", 0.85, 21)];

/// Days in the series.
const DAYS: i64 = 122;

/// Writes `weather/stations.csv` under `out_dir`; `last` is `YYYY-MM-DD`.
pub(crate) fn write(out_dir: &Path, grid: &Grid, last: &str) -> Result<(), SynthError> {
    let proj_err = |msg: String| SynthError::Proj {
        what: "weather stations".into(),
        msg,
    };
    let last: NaiveDate = last
        .parse()
        .map_err(|_| proj_err(format!("last epoch date {last} is not YYYY-MM-DD")))?;
    let to_ll = Proj::new_known_crs("EPSG:32648", "EPSG:4326", None)
        .map_err(|e| proj_err(e.to_string()))?;
    let (x0, y0, x1, y1) = grid.bounds();
    let mut text = String::from("station,lon,lat,date,t13,rh13,rain_mm\n");
    for (k, &(id, fx, dry_days)) in STATIONS.iter().enumerate() {
        let (lon, lat) = to_ll
            .convert((x0 + fx * (x1 - x0), 0.5 * (y0 + y1)))
            .map_err(|e| proj_err(e.to_string()))?;
        for n in 0..DAYS {
            let back = DAYS - 1 - n;
            let date = last - Duration::days(back);
            let s = n as f64 + 3.0 * k as f64;
            let t13 = 24.0 + 3.0 * (0.45 * s).sin() - 0.02 * n as f64;
            let rh = 52.0 + 8.0 * (0.9 * s).sin();
            // Rain: every 4th day before the dry spell, none after its first day.
            let rain = if back == dry_days {
                12.0
            } else if back > dry_days && (n + k as i64) % 4 == 0 {
                8.0 + 4.0 * (0.3 * s).sin()
            } else if back > dry_days {
                1.5
            } else {
                0.0
            };
            let _ = writeln!(
                text,
                "{id},{lon:.5},{lat:.5},{date},{t13:.1},{rh:.0},{rain:.1}"
            );
        }
    }
    let dir = out_dir.join("weather");
    let io = |source| SynthError::Io {
        path: dir.join("stations.csv"),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    std::fs::write(dir.join("stations.csv"), text).map_err(io)?;
    Ok(())
}
