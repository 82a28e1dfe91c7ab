//! Tabular fire inputs (weather stations, FIRMS hotspots) as a header and rows
//! of text, from a CSV file or an OGR layer (shapefile, GeoJSON, GeoPackage).
//!
//! Both readers ([`super::stations`], [`super::firms`]) look columns up by name,
//! case-insensitively (FIRMS shapefiles write `LATITUDE`, its CSV files
//! `latitude`), and name the line (CSV) or feature (OGR) at fault.

use std::path::Path;

use gdal::vector::LayerAccess;

/// One row: where it is in the file and its values as text.
#[derive(Debug, Clone)]
pub struct Record {
    /// CSV: the line number (the header is line 1); OGR: the feature's 1-based index.
    pub line: u64,
    pub values: Vec<String>,
}

impl Record {
    /// The value of column `i` ("" when the row is short).
    pub fn get(&self, i: usize) -> &str {
        self.values.get(i).map_or("", String::as_str)
    }
}

/// A header and its rows.
#[derive(Debug, Clone)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Record>,
    /// "line" (CSV) or "feature" (OGR), for messages.
    pub unit: &'static str,
}

impl Table {
    /// Reads a CSV file (fields trimmed).
    pub fn csv(path: &Path) -> Result<Table, csv::Error> {
        let mut rdr = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_path(path)?;
        let headers = rdr.headers()?.iter().map(String::from).collect();
        let mut rows = Vec::new();
        for rec in rdr.records() {
            let rec = rec?;
            rows.push(Record {
                line: rec.position().map_or(0, |p| p.line()),
                values: rec.iter().map(String::from).collect(),
            });
        }
        Ok(Table {
            headers,
            rows,
            unit: "line",
        })
    }

    /// Reads the first layer of an OGR source. Dates come as `YYYY/MM/DD` (OGR's
    /// text form of a date field). A point layer without `longitude`/`latitude`
    /// fields gets them from its geometry (which must then be in WGS84).
    pub fn ogr(path: &Path) -> Result<Table, gdal::errors::GdalError> {
        let ds = gdal::Dataset::open_ex(
            path,
            gdal::DatasetOptions {
                open_flags: gdal::GdalOpenFlags::GDAL_OF_VECTOR,
                ..Default::default()
            },
        )?;
        let mut layer = ds.layer(0)?;
        let mut headers: Vec<String> = layer.defn().fields().map(|f| f.name()).collect();
        let has = |h: &[String], n: &str| h.iter().any(|x| x.eq_ignore_ascii_case(n));
        let from_geom = !has(&headers, "longitude") && !has(&headers, "latitude");
        if from_geom {
            headers.push("longitude".into());
            headers.push("latitude".into());
        }
        let n = layer.defn().fields().count();
        let mut rows = Vec::new();
        for (k, f) in layer.features().enumerate() {
            let mut values: Vec<String> = (0..n)
                .map(|i| f.field_as_string(i).ok().flatten().unwrap_or_default())
                .collect();
            if from_geom {
                let (x, y) = f
                    .geometry()
                    .map(|g| {
                        let (x, y, _) = g.get_point(0);
                        (x.to_string(), y.to_string())
                    })
                    .unwrap_or_default();
                values.push(x);
                values.push(y);
            }
            rows.push(Record {
                line: k as u64 + 1,
                values,
            });
        }
        Ok(Table {
            headers,
            rows,
            unit: "feature",
        })
    }

    /// The index of column `name` (case-insensitive).
    pub fn col(&self, name: &str) -> Option<usize> {
        self.headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
    }

    /// The column names, comma-separated (for messages).
    pub fn columns(&self) -> String {
        self.headers.join(", ")
    }
}
