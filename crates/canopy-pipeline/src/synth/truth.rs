//! What the generator tells the tests: `truth/truth.json`, and the `region.toml`
//! that points the pipeline at the tiles.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

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
}

/// Writes `contents` to `path` through a temporary name.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), SynthError> {
    let tmp = super::tiles::partial_path(path);
    let io = |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, contents).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
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

/// The text of region.toml.
pub(crate) fn region_toml(
    name: &str,
    communes_path: &str,
    code_field: &str,
    name_field: &str,
    epochs: &[(String, String)],
) -> String {
    let mut s = String::new();
    s.push_str(&format!("name = {}\n", toml_str(name)));
    s.push_str("area_crs = \"EPSG:32648\"\n\n");
    s.push_str("[communes]\n");
    s.push_str(&format!("path = {}\n", toml_str(communes_path)));
    s.push_str(&format!("code_field = {}\n", toml_str(code_field)));
    s.push_str(&format!("name_field = {}\n\n", toml_str(name_field)));
    s.push_str("[forest]\nndvi_min = 0.55\n");
    for (id, date) in epochs {
        s.push_str("\n[[epochs]]\n");
        s.push_str(&format!("id = {}\n", toml_str(id)));
        s.push_str(&format!("date = {}\n", toml_str(date)));
        s.push_str(&format!(
            "tiles = [{}]\n",
            toml_str(&format!("tiles/{id}/*.tif"))
        ));
        s.push_str("red_band = 1\nnir_band = 2\nmask_band = 3\n");
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
        );
        let v: toml::Table = t.parse().unwrap();
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
    }
}
