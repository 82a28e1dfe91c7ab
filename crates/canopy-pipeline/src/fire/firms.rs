//! Reading NASA FIRMS active-fire CSV files as FIRMS distributes them.
//!
//! Two layouts, told apart by their columns:
//! - **MODIS** (1 km, Collection 6/6.1): `brightness`, `bright_t31`, confidence
//!   0–100;
//! - **VIIRS** (375 m, S-NPP / NOAA-20 / NOAA-21): `bright_ti4`, `bright_ti5`,
//!   confidence `l`/`n`/`h` (also `low`/`nominal`/`high`).
//!
//! Both: latitude, longitude, scan, track (km), acq_date, acq_time (UTC HHMM,
//! sometimes without leading zeros: `3` is 00:03, `415` is 04:15), satellite,
//! instrument, version (`6.03`, `6.1NRT`, `2.0NRT`: kept as text), frp (MW),
//! daynight (D/N); `type` only in archive (standard) files. MODIS confidence is
//! put in FIRMS' three classes: < 30 low, 30–79 nominal, ≥ 80 high.
//!
//! Files: CSV (`.csv`, as FIRMS distributes them), or any OGR vector source
//! (FIRMS shapefiles, GeoJSON, GeoPackage) with the same fields (any case; dates
//! as `YYYY-MM-DD` or OGR's `YYYY/MM/DD`; a point layer without latitude and
//! longitude fields takes them from its WGS84 geometry). Footprints, communes,
//! forest fractions and events: [`super::hotspots`].

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::table::Table;

/// What is wrong with a FIRMS file.
#[derive(Debug, thiserror::Error)]
pub enum FirmsError {
    #[error("FIRMS file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("FIRMS file {}: cannot be read as a vector layer: {source}", path.display())]
    Ogr {
        path: PathBuf,
        #[source]
        source: gdal::errors::GdalError,
    },
    #[error(
        "FIRMS file {}: unknown layout (neither MODIS: brightness, bright_t31 nor VIIRS: \
         bright_ti4, bright_ti5; or missing {missing}); columns: {found}",
        path.display()
    )]
    Layout {
        path: PathBuf,
        missing: String,
        found: String,
    },
    #[error("FIRMS file {}, {unit} {line}: {msg}", path.display())]
    Row {
        path: PathBuf,
        unit: &'static str,
        line: u64,
        msg: String,
    },
}

/// The sensor layout of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Sensor {
    Modis,
    Viirs,
}

impl Sensor {
    pub fn as_str(self) -> &'static str {
        match self {
            Sensor::Modis => "MODIS",
            Sensor::Viirs => "VIIRS",
        }
    }
}

/// FIRMS' confidence classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Confidence {
    Low,
    Nominal,
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Nominal => "nominal",
            Confidence::High => "high",
        }
    }
}

/// One detection.
#[derive(Clone, Debug, PartialEq)]
pub struct Hotspot {
    pub lon: f64,
    pub lat: f64,
    pub sensor: Sensor,
    /// Brightness temperature (K): MODIS `brightness`, VIIRS `bright_ti4`.
    pub brightness_k: f64,
    /// Pixel size along scan and along track, km.
    pub scan_km: f64,
    pub track_km: f64,
    pub date: NaiveDate,
    /// Minutes after 00:00 UTC.
    pub minute: u32,
    pub satellite: String,
    pub instrument: String,
    pub confidence: Confidence,
    /// The confidence as written (`52`, `n`).
    pub confidence_raw: String,
    pub version: String,
    pub frp_mw: f64,
    pub night: bool,
    /// Archive files only: 0 vegetation fire, 1 volcano, 2 other static land source, 3 offshore.
    pub kind: Option<u8>,
}

/// `HHMM` with or without leading zeros → minutes after midnight.
pub fn parse_acq_time(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: u32 = s.parse().ok()?;
    let (h, m) = (v / 100, v % 100);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// FIRMS confidence → class (MODIS 0–100, VIIRS l/n/h).
pub fn parse_confidence(sensor: Sensor, s: &str) -> Option<Confidence> {
    match sensor {
        Sensor::Modis => {
            let v: f64 = s.parse().ok()?;
            if !(0.0..=100.0).contains(&v) {
                return None;
            }
            Some(if v < 30.0 {
                Confidence::Low
            } else if v < 80.0 {
                Confidence::Nominal
            } else {
                Confidence::High
            })
        }
        Sensor::Viirs => match s.to_ascii_lowercase().as_str() {
            "l" | "low" => Some(Confidence::Low),
            "n" | "nominal" => Some(Confidence::Nominal),
            "h" | "high" => Some(Confidence::High),
            _ => None,
        },
    }
}

/// Reads a FIRMS file (either layout): CSV when its name ends in `.csv`, else
/// through OGR.
pub fn read(path: &Path) -> Result<(Sensor, Vec<Hotspot>), FirmsError> {
    let is_csv = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let table = if is_csv {
        Table::csv(path).map_err(|source| FirmsError::Read {
            path: path.to_path_buf(),
            source,
        })?
    } else {
        Table::ogr(path).map_err(|source| FirmsError::Ogr {
            path: path.to_path_buf(),
            source,
        })?
    };
    parse(&table, path)
}

/// Reads a FIRMS CSV file (either layout).
pub fn read_csv(path: &Path) -> Result<(Sensor, Vec<Hotspot>), FirmsError> {
    let table = Table::csv(path).map_err(|source| FirmsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&table, path)
}

/// The hotspots of a table in FIRMS' layout; `path` for messages.
fn parse(table: &Table, path: &Path) -> Result<(Sensor, Vec<Hotspot>), FirmsError> {
    let headers = &table.headers;
    let col = |n: &str| table.col(n);
    let layout_err = |missing: &str| FirmsError::Layout {
        path: path.to_path_buf(),
        missing: missing.into(),
        found: table.columns(),
    };
    let (sensor, c_bright) = match (
        col("brightness"),
        col("bright_t31"),
        col("bright_ti4"),
        col("bright_ti5"),
    ) {
        (Some(b), Some(_), _, _) => (Sensor::Modis, b),
        (_, _, Some(b), Some(_)) => (Sensor::Viirs, b),
        _ => return Err(layout_err("the brightness columns")),
    };
    let need = |n: &str| col(n).ok_or_else(|| layout_err(n));
    let c = [
        need("latitude")?,
        need("longitude")?,
        need("scan")?,
        need("track")?,
        need("acq_date")?,
        need("acq_time")?,
        need("satellite")?,
        need("instrument")?,
        need("confidence")?,
        need("version")?,
        need("frp")?,
        need("daynight")?,
    ];
    let c_type = col("type");
    let mut out = Vec::new();
    for rec in &table.rows {
        let line = rec.line;
        let row_err = |msg: String| FirmsError::Row {
            path: path.to_path_buf(),
            unit: table.unit,
            line,
            msg,
        };
        let get = |i: usize| rec.get(i);
        let num = |i: usize| {
            get(i)
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| row_err(format!("{} = \"{}\" is not a number", &headers[i], get(i))))
        };
        let (lat, lon) = (num(c[0])?, num(c[1])?);
        if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
            return Err(row_err(format!(
                "latitude/longitude {lat}, {lon} out of range"
            )));
        }
        let date = NaiveDate::parse_from_str(get(c[4]), "%Y-%m-%d")
            .or_else(|_| NaiveDate::parse_from_str(get(c[4]), "%Y/%m/%d"))
            .map_err(|_| row_err(format!("acq_date \"{}\" is not YYYY-MM-DD", get(c[4]))))?;
        let minute = parse_acq_time(get(c[5]))
            .ok_or_else(|| row_err(format!("acq_time \"{}\" is not HHMM (UTC)", get(c[5]))))?;
        let confidence = parse_confidence(sensor, get(c[8])).ok_or_else(|| {
            row_err(format!(
                "confidence \"{}\" is not {}",
                get(c[8]),
                if sensor == Sensor::Modis {
                    "0–100"
                } else {
                    "l, n or h"
                }
            ))
        })?;
        let night = match get(c[11]) {
            "D" | "d" => false,
            "N" | "n" => true,
            o => return Err(row_err(format!("daynight \"{o}\" is not D or N"))),
        };
        let kind = match c_type.map(get) {
            None | Some("") => None,
            Some(t) => Some(
                t.parse::<u8>()
                    .ok()
                    .filter(|v| *v <= 3)
                    .ok_or_else(|| row_err(format!("type \"{t}\" is not 0–3")))?,
            ),
        };
        let (scan_km, track_km) = (num(c[2])?, num(c[3])?);
        if !(scan_km > 0.0 && scan_km < 20.0 && track_km > 0.0 && track_km < 20.0) {
            return Err(row_err(format!(
                "scan × track = {scan_km} × {track_km} km is not a sensor pixel size"
            )));
        }
        out.push(Hotspot {
            lon,
            lat,
            sensor,
            brightness_k: num(c_bright)?,
            scan_km,
            track_km,
            date,
            minute,
            satellite: get(c[6]).into(),
            instrument: get(c[7]).into(),
            confidence,
            confidence_raw: get(c[8]).into(),
            version: get(c[9]).into(),
            frp_mw: num(c[10])?,
            night,
            kind,
        });
    }
    Ok((sensor, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real MODIS files of `../shared/data/fire` (see its README), when present.
    fn shared(name: &str) -> Option<PathBuf> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data/fire")
            .join(name);
        p.exists().then_some(p)
    }

    #[test]
    fn acq_time_without_leading_zeros() {
        assert_eq!(parse_acq_time("0403"), Some(4 * 60 + 3));
        assert_eq!(parse_acq_time("403"), Some(4 * 60 + 3));
        assert_eq!(parse_acq_time("3"), Some(3));
        assert_eq!(parse_acq_time("0"), Some(0));
        assert_eq!(parse_acq_time("2359"), Some(23 * 60 + 59));
        assert_eq!(parse_acq_time("2400"), None);
        assert_eq!(parse_acq_time("1260"), None);
        assert_eq!(parse_acq_time("12:30"), None);
    }

    #[test]
    fn confidence_classes() {
        assert_eq!(parse_confidence(Sensor::Modis, "29"), Some(Confidence::Low));
        assert_eq!(
            parse_confidence(Sensor::Modis, "30"),
            Some(Confidence::Nominal)
        );
        assert_eq!(
            parse_confidence(Sensor::Modis, "80"),
            Some(Confidence::High)
        );
        assert_eq!(parse_confidence(Sensor::Modis, "101"), None);
        assert_eq!(
            parse_confidence(Sensor::Viirs, "n"),
            Some(Confidence::Nominal)
        );
        assert_eq!(parse_confidence(Sensor::Viirs, "h"), Some(Confidence::High));
        assert_eq!(parse_confidence(Sensor::Viirs, "52"), None);
    }

    #[test]
    fn viirs_layout_and_unknown_layout() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("v.csv");
        std::fs::write(
            &p,
            "latitude,longitude,bright_ti4,scan,track,acq_date,acq_time,satellite,instrument,confidence,version,bright_ti5,frp,daynight\n\
             22.1,106.3,330.5,0.39,0.36,2026-01-05,618,N20,VIIRS,n,2.0NRT,290.1,3.2,N\n",
        )
        .unwrap();
        let (s, h) = read_csv(&p).unwrap();
        assert_eq!(s, Sensor::Viirs);
        assert_eq!(
            (h[0].minute, h[0].night, h[0].kind),
            (6 * 60 + 18, true, None)
        );
        assert_eq!(h[0].version, "2.0NRT");
        std::fs::write(&p, "lat,lon,frp\n1,2,3\n").unwrap();
        let e = read_csv(&p).unwrap_err().to_string();
        assert!(
            e.contains("unknown layout") && e.contains("lat, lon, frp"),
            "{e}"
        );
    }

    #[test]
    fn real_modis_archive_and_nrt_files() {
        let (Some(arch), Some(nrt)) = (
            shared("firms_modis_archive_sumatra_first20000.csv"),
            shared("firms_modis_nrt_sumatra_2026.csv"),
        ) else {
            eprintln!("skipped: ../shared/data/fire not present");
            return;
        };
        // Expected counts from the files themselves (wc -l minus the header).
        let (s, h) = read_csv(&arch).unwrap();
        assert_eq!((s, h.len()), (Sensor::Modis, 20_000));
        // First row: 3.745,101.5211,314.1,1.6,1.2,2020-01-01,0403,Terra,MODIS,52,6.03,301.1,12.6,D,2
        let f = &h[0];
        assert_eq!(
            (f.lat, f.lon, f.scan_km, f.track_km),
            (3.745, 101.5211, 1.6, 1.2)
        );
        assert_eq!(
            (f.minute, f.confidence, f.kind),
            (243, Confidence::Nominal, Some(2))
        );
        assert_eq!(
            (f.version.as_str(), f.frp_mw, f.night),
            ("6.03", 12.6, false)
        );
        assert!(h.iter().all(|x| x.kind.is_some()));
        let (s, h) = read_csv(&nrt).unwrap();
        assert_eq!((s, h.len()), (Sensor::Modis, 2_149));
        assert!(h.iter().all(|x| x.kind.is_none() && x.version == "6.1NRT"));
    }
}

#[cfg(test)]
mod ogr_tests {
    use super::*;

    /// The real NRT file (data/fire) converted by `ogr2ogr` to a shapefile and a
    /// GeoJSON with detected field types, as a GIS would: ACQ_DATE becomes a Date
    /// field (`YYYY/MM/DD` as text), ACQ_TIME an integer (`234`: no leading zero),
    /// names may be truncated/upper-cased. Both read the same as the CSV.
    #[test]
    fn real_nrt_file_as_shapefile_and_geojson_reads_like_the_csv() {
        let csv = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../data/fire/firms_modis_nrt_sumatra_2026.csv");
        let (_, want) = read(&csv).unwrap();
        assert_eq!(want.len(), 2_149);
        let d = tempfile::tempdir().unwrap();
        for (driver, name) in [("ESRI Shapefile", "nrt.shp"), ("GeoJSON", "nrt.geojson")] {
            let out = d.path().join(name);
            let o = std::process::Command::new("ogr2ogr")
                .args(["-f", driver])
                .arg(&out)
                .arg(&csv)
                .args([
                    "-oo",
                    "X_POSSIBLE_NAMES=longitude",
                    "-oo",
                    "Y_POSSIBLE_NAMES=latitude",
                    "-oo",
                    "AUTODETECT_TYPE=YES",
                    "-a_srs",
                    "EPSG:4326",
                ])
                .output()
                .expect("ogr2ogr runs");
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let (s, got) = read(&out).unwrap();
            assert_eq!(s, Sensor::Modis, "{name}");
            assert_eq!(got.len(), want.len(), "{name}");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(
                    (g.date, g.minute, g.confidence),
                    (w.date, w.minute, w.confidence),
                    "{name}"
                );
                assert!(
                    (g.lon - w.lon).abs() < 1e-9 && (g.lat - w.lat).abs() < 1e-9,
                    "{name}"
                );
                assert_eq!(
                    (g.scan_km, g.track_km, g.frp_mw),
                    (w.scan_km, w.track_km, w.frp_mw)
                );
            }
        }
    }
}
