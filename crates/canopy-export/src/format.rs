//! The export formats: which GDAL driver writes each, its options, and the format
//! a file name asks for.

use std::path::Path;

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Gpkg,
    Shapefile,
    Kml,
    Gpx,
    Csv,
    Xlsx,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Format::Gpkg,
        Format::Shapefile,
        Format::Kml,
        Format::Gpx,
        Format::Csv,
        Format::Xlsx,
    ];

    /// The name used by `--format` (and the usual file extension).
    pub fn name(self) -> &'static str {
        match self {
            Format::Gpkg => "gpkg",
            Format::Shapefile => "shp",
            Format::Kml => "kml",
            Format::Gpx => "gpx",
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    /// `gpkg`, `shp` (or `shapefile`), `kml`, `gpx`, `csv`, `xlsx`, any case.
    pub fn parse(s: &str) -> Option<Format> {
        let s = s.to_ascii_lowercase();
        if s == "shapefile" {
            return Some(Format::Shapefile);
        }
        Format::ALL.into_iter().find(|f| f.name() == s)
    }

    /// The format a file name's extension asks for.
    pub fn from_path(p: &Path) -> Option<Format> {
        p.extension()
            .and_then(|e| e.to_str())
            .and_then(Format::parse)
    }

    /// GDAL's driver for it.
    pub fn driver(self) -> &'static str {
        match self {
            Format::Gpkg => "GPKG",
            Format::Shapefile => "ESRI Shapefile",
            Format::Kml => "KML",
            Format::Gpx => "GPX",
            Format::Csv => "CSV",
            Format::Xlsx => "XLSX",
        }
    }

    /// Whether it carries geometry (CSV and XLSX carry the attributes only).
    pub fn spatial(self) -> bool {
        !matches!(self, Format::Csv | Format::Xlsx)
    }

    /// Layer creation options: UTF-8 (a `.cpg`) for shapefiles, a BOM for CSV (so a
    /// spreadsheet opens Vietnamese names as UTF-8), GeoPackage's own FID.
    pub fn layer_options(self) -> &'static [&'static str] {
        match self {
            Format::Shapefile => &["ENCODING=UTF-8"],
            Format::Csv => &["WRITE_BOM=YES", "STRING_QUOTING=IF_NEEDED"],
            Format::Gpkg => &["FID=fid"],
            _ => &[],
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_names_and_paths() {
        assert_eq!(
            Format::from_path(Path::new("a/b.SHP")),
            Some(Format::Shapefile)
        );
        assert_eq!(Format::from_path(Path::new("x.xlsx")), Some(Format::Xlsx));
        assert_eq!(Format::from_path(Path::new("x.geojson")), None);
        assert_eq!(Format::from_path(Path::new("x")), None);
        assert_eq!(Format::parse("Shapefile"), Some(Format::Shapefile));
        for f in Format::ALL {
            assert_eq!(Format::parse(f.name()), Some(f));
        }
    }
}
