//! What the generator tells the tests: `truth/truth.json`, and the `region.toml`
//! that points the pipeline at the tiles.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use super::files::write_atomic;
use super::layout::Corner;
use super::SynthError;

/// `truth/truth.json`.
#[derive(Serialize, Debug)]
pub(crate) struct Truth {
    pub generator: &'static str,
    pub seed: u64,
    pub pixel_size: f64,
    pub crs: &'static str,
    pub grid: GridJson,
    pub epochs: Vec<EpochJson>,
    /// Forest share per epoch over the whole working grid (the communes' bounding box
    /// plus 1 km), from the truth rasters.
    pub forest_fraction: Vec<f64>,
    pub forest_threshold: f64,
    pub tiles: Vec<TileJson>,
    pub changes: Vec<ChangeJson>,
    /// The alert rule the `expected_severity` of the changes assumes.
    pub alerts: AlertsJson,
    /// Planting zones; `null` when no targets file was given.
    pub zones: Option<ZonesJson>,
}

/// The alert rule behind `expected_severity`: a loss patch of at least
/// `min_area_ha` is "low" inside a zone of a harvested species, "medium" inside any
/// other zone, "high" outside every zone (natural forest); smaller patches, gains
/// and losses hidden by clouds give no alert.
#[derive(Serialize, Debug)]
pub(crate) struct AlertsJson {
    pub min_area_ha: f64,
    pub harvested_species: Vec<&'static str>,
    /// Expected alerts per epoch pair and severity ("none" = no alert expected).
    pub expected: Vec<ExpectedJson>,
}

#[derive(Serialize, Debug)]
pub(crate) struct ExpectedJson {
    pub from: String,
    pub to: String,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub none: usize,
}

/// `zones` in truth.json.
#[derive(Serialize, Debug)]
pub(crate) struct ZonesJson {
    /// Relative to the region directory.
    pub file: &'static str,
    pub crs: &'static str,
    /// The CRS of every area below (planar areas of the polygons as written).
    pub area_crs: &'static str,
    /// The targets file, as given.
    pub targets: String,
    pub margin_m: f64,
    pub gap_m: f64,
    /// Inside zones forest is forced except in `gap_cell_m` cells drawn with
    /// probability `gap_share` (where the forest field decides).
    pub gap_cell_m: f64,
    pub gap_share: f64,
    /// Pixels of the working grid whose centre is in a zone, and how many of them
    /// are forced to forest.
    pub pixels_inside: u64,
    pub pixels_forced: u64,
    /// Per species key: count, total area, communes.
    pub species: BTreeMap<String, SpeciesJson>,
    /// Total area of all zones minus the deliberate overlaps, ha.
    pub union_area_ha: f64,
    /// The deliberate overlaps between zones of different species.
    pub overlaps: Vec<OverlapJson>,
    /// Communes the plan names that are not in the layer (no zones made for them).
    pub unmatched: Vec<super::zones::Unmatched>,
    /// Communes found only by their diacritic-free name (e.g. "Lợi Bắc").
    pub matched_by_fallback: Vec<super::zones::Fallback>,
    /// Targets tables left out (another province, or no commune found).
    pub skipped: Vec<super::zones::Skipped>,
    /// (species, commune) pairs where fewer than 2 zones fitted (normally empty).
    pub shortfalls: Vec<ShortfallJson>,
    /// Every zone, in file order.
    pub items: Vec<ZoneJson>,
}

#[derive(Serialize, Debug)]
pub(crate) struct SpeciesJson {
    pub zones: usize,
    pub area_ha: f64,
    pub communes: Vec<CommuneUseJson>,
}

#[derive(Serialize, Debug)]
pub(crate) struct CommuneUseJson {
    pub code: String,
    pub name: String,
    /// The name as the plan writes it.
    pub plan_name: String,
    pub zones: usize,
    pub area_ha: f64,
}

#[derive(Serialize, Debug)]
pub(crate) struct ShortfallJson {
    pub species: String,
    pub commune_code: String,
    pub zones: usize,
}

#[derive(Serialize, Debug)]
pub(crate) struct OverlapJson {
    pub zone_a: String,
    pub species_a: String,
    pub zone_b: String,
    pub species_b: String,
    pub commune: String,
    pub area_ha: f64,
}

#[derive(Serialize, Debug)]
pub(crate) struct ZoneJson {
    pub zone_code: String,
    pub species: String,
    pub commune_code: String,
    pub commune_name: String,
    pub shape: &'static str,
    pub area_ha: f64,
    /// `[xmin, ymin, xmax, ymax]` in EPSG:32648.
    pub bbox: [f64; 4],
}

#[derive(Serialize, Debug)]
pub(crate) struct GridJson {
    pub x0: f64,
    pub y0: f64,
    pub dx: f64,
    pub dy: f64,
    pub width: usize,
    pub height: usize,
}

#[derive(Serialize, Debug)]
pub(crate) struct EpochJson {
    pub id: String,
    pub date: String,
    /// The forest truth raster, relative to the region directory.
    pub truth: String,
}

#[derive(Serialize, Debug)]
pub(crate) struct TriangleJson {
    pub corner: Corner,
    pub legs_px: usize,
}

#[derive(Serialize, Debug)]
pub(crate) struct TileJson {
    /// Relative to the region directory.
    pub file: String,
    pub epoch: String,
    pub crs: &'static str,
    /// `[xmin, ymin, xmax, ymax]` in the tile's CRS.
    pub bounds: [f64; 4],
    pub width: usize,
    pub height: usize,
    pub geotransform: [f64; 6],
    /// UTM tiles: `[col_off, row_off, width, height]` on the working grid.
    pub window: Option<[usize; 4]>,
    pub nodata_triangle: Option<TriangleJson>,
    pub nodata_pixels: u64,
    pub cloud_pixels: u64,
    pub cloud_fraction: f64,
}

#[derive(Serialize, Debug)]
pub(crate) struct ChangeJson {
    pub id: u32,
    pub kind: &'static str,
    pub from: String,
    pub to: String,
    /// `[xmin, ymin, xmax, ymax]` in EPSG:32648, on the pixel lattice.
    pub rect: [f64; 4],
    /// `[col0, row0, col1, row1)` on the working grid.
    pub px: [usize; 4],
    pub pixels: usize,
    pub area_ha: f64,
    pub nominal_ha: f64,
    pub commune: String,
    pub cloud_covered_in_to_epoch: bool,
    pub straddles_tiles: bool,
    /// Species of the zone the change lies in (≥ 2 px inside), `null` outside every
    /// zone (≥ 2 px outside).
    pub zone_species: Option<String>,
    pub zone_code: Option<String>,
    /// "high" | "medium" | "low", or `null` when no alert is expected.
    pub expected_severity: Option<&'static str>,
}

/// The smallest alert (ha) and the species whose zones are harvested.
pub(crate) const MIN_ALERT_HA: f64 = 0.3;
pub(crate) const HARVESTED: [&str; 2] = ["acacia", "pine"];

/// The severity of the alert a change should raise (see [`AlertsJson`]).
pub(crate) fn expected_severity(
    loss: bool,
    cloud_covered: bool,
    area_ha: f64,
    zone_species: Option<&str>,
) -> Option<&'static str> {
    if !loss || cloud_covered || area_ha < MIN_ALERT_HA - 1e-9 {
        return None;
    }
    Some(match zone_species {
        None => "high",
        Some(s) if HARVESTED.contains(&s) => "low",
        Some(_) => "medium",
    })
}

/// Writes `truth.json`.
pub(crate) fn write_truth_json(path: &Path, truth: &Truth) -> Result<(), SynthError> {
    let mut s = serde_json::to_string_pretty(truth).expect("truth serialises");
    s.push('\n');
    write_atomic(path, s.as_bytes())
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `target` relative to directory `base` (both absolute), with `..` as needed.
fn relative_to(target: &Path, base: &Path) -> Option<PathBuf> {
    let t: Vec<Component> = target.components().collect();
    let b: Vec<Component> = base.components().collect();
    if t.first() != b.first() {
        return None;
    }
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c.as_os_str());
    }
    Some(out)
}

/// The communes path as written in region.toml: relative to `out_dir` when possible.
pub(crate) fn communes_path_for(out_dir: &Path, communes: &Path) -> String {
    let rel = match (
        std::fs::canonicalize(communes),
        std::fs::canonicalize(out_dir),
    ) {
        (Ok(c), Ok(o)) => relative_to(&c, &o).unwrap_or(c),
        _ => communes.to_path_buf(),
    };
    rel.to_string_lossy().replace('\\', "/")
}

/// The text of region.toml (`zones`: whether to point at `zones.geojson`).
pub(crate) fn region_toml(
    name: &str,
    communes_path: &str,
    code_field: &str,
    name_field: &str,
    epochs: &[(String, String)],
    zones: bool,
    scenes: usize,
    hotspots: bool,
) -> String {
    let mut s = String::new();
    s.push_str(&format!("name = {}\n", toml_str(name)));
    s.push_str("area_crs = \"EPSG:32648\"\n\n");
    s.push_str("[communes]\n");
    s.push_str(&format!("path = {}\n", toml_str(communes_path)));
    s.push_str(&format!("code_field = {}\n", toml_str(code_field)));
    s.push_str(&format!("name_field = {}\n\n", toml_str(name_field)));
    s.push_str("[forest]\nndvi_min = 0.55\n");
    if zones {
        s.push_str("\n[zones]\npath = \"zones.geojson\"\n");
        s.push_str("species_field = \"species\"\ncode_field = \"zone_code\"\n");
    }
    s.push_str(&format!("\n[alerts]\nmin_area_ha = {MIN_ALERT_HA}\n"));
    s.push_str("\n[fire]\nstations = \"weather/stations.csv\"\n");
    if hotspots {
        s.push_str(&format!("hotspots = [{}]\n", toml_str(super::fires::FILE)));
    }
    for (id, date) in epochs {
        s.push_str("\n[[epochs]]\n");
        s.push_str(&format!("id = {}\n", toml_str(id)));
        s.push_str(&format!("date = {}\n", toml_str(date)));
        if scenes > 1 {
            s.push_str(&format!(
                "tiles = [{}, {}]\n",
                toml_str(&format!("tiles/{id}/*.tif")),
                toml_str(&format!("tiles/{id}/scenes/*.tif"))
            ));
            s.push_str("composite = \"max-ndvi\"\n");
        } else {
            s.push_str(&format!(
                "tiles = [{}]\n",
                toml_str(&format!("tiles/{id}/*.tif"))
            ));
        }
        s.push_str("red_band = 1\nnir_band = 2\nmask_band = 3\nswir_band = 4\n");
    }
    s
}

/// Writes region.toml unless a file is already there. Returns whether it wrote.
pub(crate) fn write_region_toml_if_absent(path: &Path, text: &str) -> Result<bool, SynthError> {
    use std::io::Write;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(mut f) => {
            f.write_all(text.as_bytes())
                .map_err(|source| SynthError::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(source) => Err(SynthError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synth_relative_paths() {
        let r = relative_to(Path::new("/a/b/c.geojson"), Path::new("/a/b")).unwrap();
        assert_eq!(r, PathBuf::from("c.geojson"));
        let r = relative_to(Path::new("/a/x/c.geojson"), Path::new("/a/b/d")).unwrap();
        assert_eq!(r, PathBuf::from("../../x/c.geojson"));
    }

    #[test]
    fn synth_region_toml_parses() {
        let t = region_toml(
            "Lạng \"Sơn\"",
            "communes.geojson",
            "ma_xa",
            "ten_xa",
            &[
                ("2024".into(), "2024-12-31".into()),
                ("2025".into(), "2025-12-31".into()),
            ],
            false,
            1,
            true,
        );
        let v: toml::Table = t.parse().unwrap();
        assert_eq!(
            v["fire"]["hotspots"][0].as_str(),
            Some("fire/firms_viirs.csv")
        );
        assert_eq!(v["name"].as_str(), Some("Lạng \"Sơn\""));
        assert_eq!(v["epochs"].as_array().unwrap().len(), 2);
        assert_eq!(
            v["epochs"][1]["tiles"][0].as_str(),
            Some("tiles/2025/*.tif")
        );
        assert_eq!(v["forest"]["ndvi_min"].as_float(), Some(0.55));
        assert!(
            t.starts_with("name = \"Lạng \\\"Sơn\\\"\"\narea_crs = \"EPSG:32648\"\n\n[communes]\n")
        );
        assert!(v.get("zones").is_none());
        assert_eq!(v["alerts"]["min_area_ha"].as_float(), Some(0.3));
        let z = region_toml("X", "c.geojson", "ma_xa", "ten_xa", &[], true, 1, false);
        assert!(z.contains(
            "\n[zones]\npath = \"zones.geojson\"\nspecies_field = \"species\"\ncode_field = \"zone_code\"\n\n[alerts]\nmin_area_ha = 0.3\n"
        ));
        let v: toml::Table = z.parse().unwrap();
        assert_eq!(v["zones"]["code_field"].as_str(), Some("zone_code"));
    }

    #[test]
    fn synth_expected_severities() {
        assert_eq!(expected_severity(true, false, 0.36, None), Some("high"));
        assert_eq!(expected_severity(true, false, 0.27, None), None);
        assert_eq!(expected_severity(true, false, 0.3, None), Some("high"));
        assert_eq!(expected_severity(true, true, 5.0, None), None);
        assert_eq!(expected_severity(false, false, 5.0, None), None);
        assert_eq!(
            expected_severity(true, false, 2.0, Some("acacia")),
            Some("low")
        );
        assert_eq!(
            expected_severity(true, false, 2.0, Some("pine")),
            Some("low")
        );
        assert_eq!(
            expected_severity(true, false, 0.54, Some("anise")),
            Some("medium")
        );
        assert_eq!(
            expected_severity(true, false, 0.54, Some("cinnamon")),
            Some("medium")
        );
    }
}
