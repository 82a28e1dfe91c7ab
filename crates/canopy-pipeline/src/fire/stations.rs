//! Reading daily weather-station observations (CSV) for the fire danger index.
//!
//! One row per station and day, any number of stations, columns by name (order
//! free, extra columns ignored):
//!
//! | column | meaning |
//! |---|---|
//! | `station` | station id |
//! | `lon`, `lat` | WGS84 position (decimal degrees) |
//! | `date` | `YYYY-MM-DD` |
//! | `t13` | air temperature at 13:00, °C |
//! | `rh13` *or* `td13` | relative humidity at 13:00 (%) or dew point at 13:00 (°C) |
//! | `rain_mm` | rainfall over 24 h, mm |
//!
//! When both `rh13` and `td13` exist, `rh13` is used where it is filled and
//! `td13` otherwise. Each station's days must be strictly increasing (a date out
//! of order or repeated is an error naming the line); a station's position must
//! not change. A missing day between two rows is allowed: it adds nothing to the
//! sum and does not reset it (the bulletin of a day the station did not report
//! comes from the next-nearest station that did).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use canopy_core::fire::{DayObs, Humidity};
use chrono::{Datelike, NaiveDate};

/// What is wrong with a station file.
#[derive(Debug, thiserror::Error)]
pub enum StationError {
    #[error("station file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("station file {}: missing column \"{column}\" (columns: {found})", path.display())]
    Column {
        path: PathBuf,
        column: String,
        found: String,
    },
    #[error("station file {}, line {line}: {msg}", path.display())]
    Row {
        path: PathBuf,
        line: u64,
        msg: String,
    },
    #[error("station file {}: no observations", path.display())]
    Empty { path: PathBuf },
}

/// One station and its days, in date order.
#[derive(Debug, Clone)]
pub struct Station {
    pub id: String,
    pub lon: f64,
    pub lat: f64,
    pub days: Vec<(NaiveDate, DayObs)>,
}

/// Reads a station file; stations in order of first appearance.
pub fn read(path: &Path) -> Result<Vec<Station>, StationError> {
    let table = super::table::Table::csv(path).map_err(|source| StationError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let headers = &table.headers;
    let col = |name: &str| table.col(name);
    let need = |name: &str| {
        col(name).ok_or_else(|| StationError::Column {
            path: path.to_path_buf(),
            column: name.into(),
            found: table.columns(),
        })
    };
    let (c_st, c_lon, c_lat, c_date, c_t, c_rain) = (
        need("station")?,
        need("lon")?,
        need("lat")?,
        need("date")?,
        need("t13")?,
        need("rain_mm")?,
    );
    let (c_rh, c_td) = (col("rh13"), col("td13"));
    if c_rh.is_none() && c_td.is_none() {
        need("rh13 or td13")?;
    }
    let mut stations: Vec<Station> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for rec in &table.rows {
        let line = rec.line;
        let row_err = |msg: String| StationError::Row {
            path: path.to_path_buf(),
            line,
            msg,
        };
        let get = |c: usize| rec.get(c);
        let num = |c: usize| -> Result<f64, StationError> {
            let s = get(c);
            s.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| row_err(format!("{} = \"{s}\" is not a number", &headers[c])))
        };
        let id = get(c_st).to_string();
        if id.is_empty() {
            return Err(row_err("station is empty".into()));
        }
        let (lon, lat) = (num(c_lon)?, num(c_lat)?);
        if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
            return Err(row_err(format!(
                "station {id}: lon/lat {lon}, {lat} out of range"
            )));
        }
        let date = NaiveDate::parse_from_str(get(c_date), "%Y-%m-%d")
            .map_err(|_| row_err(format!("date \"{}\" is not YYYY-MM-DD", get(c_date))))?;
        let t13 = num(c_t)?;
        if !(-60.0..=60.0).contains(&t13) {
            return Err(row_err(format!("t13 = {t13} °C is implausible")));
        }
        let rh = c_rh.filter(|&c| !get(c).is_empty());
        let humidity = match (rh, c_td) {
            (Some(c), _) => {
                let v = num(c)?;
                if !(0.0..=100.0).contains(&v) {
                    return Err(row_err(format!(
                        "rh13 = {v} %: relative humidity must be within 0–100 %"
                    )));
                }
                Humidity::Relative(v)
            }
            (None, Some(c)) if !get(c).is_empty() => {
                let v = num(c)?;
                if v > t13 + 0.5 {
                    return Err(row_err(format!(
                        "td13 = {v} °C is above the air temperature t13 = {t13} °C"
                    )));
                }
                Humidity::DewPoint(v)
            }
            _ => return Err(row_err("neither rh13 nor td13 is given".into())),
        };
        let rain_mm = num(c_rain)?;
        if rain_mm < 0.0 {
            return Err(row_err(format!("rain_mm = {rain_mm} is negative")));
        }
        let i = *index.entry(id.clone()).or_insert_with(|| {
            stations.push(Station {
                id: id.clone(),
                lon,
                lat,
                days: Vec::new(),
            });
            stations.len() - 1
        });
        let st = &mut stations[i];
        if (st.lon - lon).abs() > 1e-6 || (st.lat - lat).abs() > 1e-6 {
            return Err(row_err(format!(
                "station {id} moved: {lon}, {lat} here, {}, {} before",
                st.lon, st.lat
            )));
        }
        if let Some((prev, _)) = st.days.last() {
            if date == *prev {
                return Err(row_err(format!("station {id}: date {date} is repeated")));
            }
            if date < *prev {
                return Err(row_err(format!(
                    "station {id}: date {date} comes after {prev} (dates must increase)"
                )));
            }
        }
        st.days.push((
            date,
            DayObs {
                month: date.month(),
                t13,
                humidity,
                rain_mm,
            },
        ));
    }
    if stations.is_empty() {
        return Err(StationError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(stations)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("st.csv");
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    #[test]
    fn reads_rh_and_dew_point_rows() {
        let (_d, p) = file(
            "station,lon,lat,date,t13,rh13,td13,rain_mm\n\
             A,106.2,22.6,2026-01-01,30,50,,0\n\
             B,106.5,22.9,2026-01-01,25,,10,0\n\
             A,106.2,22.6,2026-01-03,28,45,,2.5\n",
        );
        let s = read(&p).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].id, "A");
        assert_eq!(s[0].days.len(), 2);
        assert_eq!(s[0].days[1].1.month, 1);
        assert_eq!(s[0].days[1].1.rain_mm, 2.5);
        assert_eq!(s[1].days[0].1.humidity, Humidity::DewPoint(10.0));
    }

    fn err(text: &str) -> String {
        let (_d, p) = file(text);
        read(&p).unwrap_err().to_string()
    }

    #[test]
    fn bad_input_names_the_culprit() {
        let h = "station,lon,lat,date,t13,rh13,rain_mm\n";
        let e = err("station,lon,lat,date,t13,rh13\nA,1,2,2026-01-01,30,50\n");
        assert!(e.contains("missing column \"rain_mm\""), "{e}");
        let e = err("station,lon,lat,date,t13,rain_mm\nA,1,2,2026-01-01,30,0\n");
        assert!(e.contains("rh13 or td13"), "{e}");
        let e = err(&format!(
            "{h}A,1,2,2026-01-02,30,50,0\nA,1,2,2026-01-01,30,50,0\n"
        ));
        assert!(
            e.contains("line 3") && e.contains("dates must increase"),
            "{e}"
        );
        let e = err(&format!(
            "{h}A,1,2,2026-01-02,30,50,0\nA,1,2,2026-01-02,30,50,0\n"
        ));
        assert!(e.contains("line 3") && e.contains("repeated"), "{e}");
        let e = err(&format!("{h}A,1,2,2026-01-02,30,101,0\n"));
        assert!(e.contains("line 2") && e.contains("0–100 %"), "{e}");
        let e = err(&format!("{h}A,1,2,2026-13-02,30,50,0\n"));
        assert!(e.contains("not YYYY-MM-DD"), "{e}");
        let e = err(&format!("{h}A,1,2,2026-01-02,hot,50,0\n"));
        assert!(e.contains("t13 = \"hot\""), "{e}");
        let e = err(h);
        assert!(e.contains("no observations"), "{e}");
    }
}
