//! The region file (`region.toml`): a user-facing contract.
//!
//! Parsing is strict on purpose: an unknown key is an error naming the key (a typo
//! such as `nir_bnad` must not silently fall back to a default), and every path is
//! resolved relative to the region file so a region directory can be moved whole.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::PipelineError;
use crate::products::{ProductFormat, ProductOptions};

/// A parsed and checked region file, with paths resolved against its directory.
#[derive(Debug, Clone)]
pub struct Region {
    /// The region file itself.
    pub file: PathBuf,
    /// Display name, e.g. "Lạng Sơn" (NFC).
    pub name: String,
    /// CRS in which areas are computed (e.g. "EPSG:32648").
    pub area_crs: String,
    pub communes: CommunesConfig,
    pub forest: ForestConfig,
    pub epochs: Vec<EpochConfig>,
    /// Planting zones, if the region has any.
    pub zones: Option<ZonesConfig>,
    pub alerts: AlertsConfig,
    /// Plan targets (cover rate, zone areas), if the region has any.
    pub targets: Option<TargetsConfig>,
    /// Class epochs: the name of every class code (empty = not checked).
    pub legend: std::collections::BTreeMap<i64, String>,
    /// Fire danger (`[fire]`), if the region has weather stations.
    pub fire: Option<FireConfig>,
    /// Forest plots (`[parcels]`, lô rừng), if the region has a plot layer.
    pub parcels: Option<ParcelsConfig>,
}

/// `[parcels]`: the forest-plot layer (any OGR polygon layer, any CRS) and the
/// names of its fields (see [`crate::parcels`]). The plot id is `id_field`, or
/// built from `compartment_field` (tiểu khu), `sub_compartment_field` (khoảnh) and
/// `plot_field` (lô) as `<tiểu khu>/<khoảnh>/<lô>`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParcelsConfig {
    pub path: PathBuf,
    #[serde(default)]
    pub layer: Option<String>,
    #[serde(default)]
    pub id_field: Option<String>,
    #[serde(default)]
    pub compartment_field: Option<String>,
    #[serde(default)]
    pub sub_compartment_field: Option<String>,
    #[serde(default)]
    pub plot_field: Option<String>,
    /// Special-use / protection / production (codes or labels, vi or en).
    pub function_field: String,
    /// Forest state, land-forest type or species (free text, optional).
    #[serde(default)]
    pub forest_type_field: Option<String>,
    /// Natural / planted (optional).
    #[serde(default)]
    pub origin_field: Option<String>,
    pub owner_field: String,
    pub owner_category_field: String,
}

/// `[fire]`: the weather-station file and the danger scheme (thresholds and rain
/// rule; the national scheme of Decision 127/2000 when absent, see
/// [`canopy_core::fire`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FireConfig {
    /// Daily station observations (CSV, see [`crate::fire::stations`]).
    #[serde(default)]
    pub stations: Option<PathBuf>,
    /// NASA FIRMS active-fire files (CSV, shapefile, GeoJSON; see
    /// [`crate::fire::firms`] and [`crate::fire::hotspots`]).
    #[serde(default)]
    pub hotspots: Vec<PathBuf>,
    /// Whether low-confidence detections can make a fire alert (default: no;
    /// they are stored either way).
    #[serde(default)]
    pub alert_low_confidence: bool,
    /// The least forest (ha) a fire event must touch to become an alert
    /// (default 0.3, the legal minimum size of a forest, as for loss alerts).
    #[serde(default = "default_fire_min_forest")]
    pub alert_min_forest_ha: f64,
    /// Upper bounds of levels I–IV (default 1000, 2500, 5000, 10000).
    #[serde(default)]
    pub thresholds: Option<[f64; 4]>,
    /// Rain (mm) that restarts the sum (default 5).
    #[serde(default)]
    pub reset_mm: Option<f64>,
    /// Month-specific rain thresholds: `[[fire.rain_rules]] months = [9, 10], reset_mm = 10`.
    #[serde(default)]
    pub rain_rules: Vec<canopy_core::fire::RainRule>,
}

fn default_fire_min_forest() -> f64 {
    0.3
}

impl FireConfig {
    /// The danger scheme: the national one with this file's overrides.
    pub fn scheme(&self) -> canopy_core::fire::DangerScheme {
        let d = canopy_core::fire::DangerScheme::default();
        canopy_core::fire::DangerScheme {
            thresholds: self.thresholds.unwrap_or(d.thresholds),
            reset_mm: self.reset_mm.unwrap_or(d.reset_mm),
            rain_rules: self.rain_rules.clone(),
        }
    }
}

/// Planting zones: a polygon layer with a species field and an optional zone code.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZonesConfig {
    pub path: PathBuf,
    #[serde(default)]
    pub layer: Option<String>,
    pub species_field: String,
    /// The planting-zone code (mã số vùng trồng), if the layer has one.
    #[serde(default)]
    pub code_field: Option<String>,
}

/// `[targets]`: a targets file (the format of `domain/targets.toml`), targets
/// written inline, or both (merged).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetsConfig {
    #[serde(default)]
    pub path: Option<PathBuf>,
    #[serde(default)]
    pub cover_target: Vec<canopy_core::targets::CoverTarget>,
    #[serde(default)]
    pub zone_target: std::collections::BTreeMap<String, canopy_core::targets::ZoneTarget>,
}

/// Change alerts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Smallest patch reported, in ha (0.3 ha: the legal minimum size of a forest).
    #[serde(default = "default_min_area")]
    pub min_area_ha: f64,
    /// Spectral epochs: a loss pixel must also lose at least this much NDVI.
    #[serde(default)]
    pub min_ndvi_drop: Option<f64>,
    /// Species whose plantations are harvested by clear-cut: loss inside their
    /// zones is expected harvest (low severity).
    #[serde(default = "default_harvested")]
    pub harvested_species: Vec<String>,
}

fn default_min_area() -> f64 {
    0.3
}

fn default_harvested() -> Vec<String> {
    vec!["acacia".into(), "pine".into()]
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            min_area_ha: default_min_area(),
            min_ndvi_drop: None,
            harvested_species: default_harvested(),
        }
    }
}

/// Where the commune polygons are and which fields hold code and name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommunesConfig {
    pub path: PathBuf,
    /// Layer name inside a multi-layer source (GeoPackage); the first layer if absent.
    #[serde(default)]
    pub layer: Option<String>,
    pub code_field: String,
    pub name_field: String,
}

/// The forest rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForestConfig {
    /// Spectral epochs: NDVI ≥ this is forest.
    #[serde(default)]
    pub ndvi_min: Option<f64>,
    /// Class epochs: codes that count as forest.
    #[serde(default)]
    pub forest_classes: Vec<i64>,
    /// Class epochs: codes that are natural forest (a subset of `forest_classes`).
    #[serde(default)]
    pub natural_classes: Vec<i64>,
}

/// How one epoch's tiles are read.
#[derive(Debug, Clone, PartialEq)]
pub enum EpochBands {
    /// Red and NIR reflectance (1-based band numbers) and an optional cloud mask band.
    Spectral {
        red: usize,
        nir: usize,
        mask: Option<usize>,
    },
    /// A land-cover class raster.
    Classes { class: usize },
    /// Satellite products as distributed (STAC Items, Sentinel-2 SAFE, Landsat
    /// C2 L2): the bands, scaling, mask and date come from each product.
    Product(crate::products::ProductOptions),
}

/// One epoch: an id, a date and its tiles in priority order.
#[derive(Debug, Clone)]
pub struct EpochConfig {
    pub id: String,
    pub date: String,
    /// The tile patterns as written in the file (for messages and the runs table).
    pub patterns: Vec<String>,
    /// Every tile, globs expanded (each glob sorted by name), in priority order.
    pub tiles: Vec<PathBuf>,
    pub bands: EpochBands,
    /// How the epoch's scenes are combined (`composite`, default priority).
    pub composite: canopy_core::composite::Method,
    /// Fewest clear observations for a pixel to count as observed (`min_clear`, default 1).
    pub min_clear: u16,
    /// GeoTIFF spectral epochs: the SWIR2 band (Sentinel-2 B12, Landsat SR_B7), for
    /// burned area (`pipeline::burn`). Products find theirs themselves.
    pub swir_band: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegion {
    name: String,
    area_crs: String,
    communes: CommunesConfig,
    forest: ForestConfig,
    #[serde(default)]
    epochs: Vec<RawEpoch>,
    #[serde(default)]
    zones: Option<ZonesConfig>,
    #[serde(default)]
    alerts: Option<AlertsConfig>,
    #[serde(default)]
    targets: Option<TargetsConfig>,
    #[serde(default)]
    legend: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    fire: Option<FireConfig>,
    #[serde(default)]
    parcels: Option<ParcelsConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEpoch {
    id: String,
    date: String,
    tiles: Vec<String>,
    red_band: Option<usize>,
    nir_band: Option<usize>,
    mask_band: Option<usize>,
    class_band: Option<usize>,
    /// SWIR2 band of a GeoTIFF spectral epoch (burned area).
    swir_band: Option<usize>,
    composite: Option<String>,
    min_clear: Option<u16>,
    /// "stac" | "sentinel2-safe" | "landsat-c2-l2" | "geotiff"; recognised from each file if absent.
    format: Option<String>,
    /// Sentinel-2 SCL classes that are not a clear view (default 0,1,3,8,9,10,11).
    scl_invalid: Option<Vec<u8>>,
}

impl Region {
    /// Reads, parses and checks a region file. Globs are expanded here, so a
    /// pattern that matches nothing is reported before any work starts.
    pub fn load(path: &Path) -> Result<Region, PipelineError> {
        let text = std::fs::read_to_string(path).map_err(|e| PipelineError::Config {
            file: path.to_path_buf(),
            msg: format!("cannot read the region file: {e}"),
        })?;
        Region::parse(&text, path)
    }

    /// Parses region-file text; `path` is used for messages and to resolve relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Region, PipelineError> {
        let cfg_err = |msg: String| PipelineError::Config {
            file: path.to_path_buf(),
            msg,
        };
        let raw: RawRegion = toml::from_str(text).map_err(|e| cfg_err(e.to_string()))?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };

        if raw.epochs.is_empty() {
            return Err(cfg_err(
                "no [[epochs]]: a region needs at least one epoch".into(),
            ));
        }
        if let Some(t) = raw.forest.ndvi_min {
            if !(-1.0..=1.0).contains(&t) {
                return Err(cfg_err(format!("forest.ndvi_min = {t} is outside [-1, 1]")));
            }
        }
        for c in &raw.forest.natural_classes {
            if !raw.forest.forest_classes.contains(c) {
                return Err(cfg_err(format!(
                    "forest.natural_classes has {c}, which is not in forest.forest_classes"
                )));
            }
        }

        let mut epochs = Vec::with_capacity(raw.epochs.len());
        for (i, e) in raw.epochs.into_iter().enumerate() {
            let ctx = format!("epochs[{i}] (id \"{}\")", e.id);
            if e.id.trim().is_empty() {
                return Err(cfg_err(format!("epochs[{i}].id is empty")));
            }
            if epochs.iter().any(|p: &EpochConfig| p.id == e.id) {
                return Err(cfg_err(format!("{ctx}: duplicate epoch id")));
            }
            check_date(&e.date).map_err(|m| cfg_err(format!("{ctx}.date: {m}")))?;
            let format = match e.format.as_deref() {
                None => None,
                Some(f) => Some(ProductFormat::parse(f).ok_or_else(|| {
                    cfg_err(format!(
                        "{ctx}.format = \"{f}\": expected one of \"stac\", \"sentinel2-safe\", \
                         \"landsat-c2-l2\", \"geotiff\""
                    ))
                })?),
            };
            let band_keys = e.red_band.is_some()
                || e.swir_band.is_some()
                || e.nir_band.is_some()
                || e.mask_band.is_some()
                || e.class_band.is_some();
            let product = match format {
                Some(ProductFormat::GeoTiff) => false,
                Some(_) => true,
                None => !band_keys,
            };
            if product && band_keys {
                return Err(cfg_err(format!(
                    "{ctx}: red_band/nir_band/mask_band/class_band/swir_band do not apply to format \"{}\" \
                     (the product says where its bands are)",
                    format.map(ProductFormat::name).unwrap_or("?")
                )));
            }
            if !product && e.scl_invalid.is_some() {
                return Err(cfg_err(format!(
                    "{ctx}.scl_invalid only applies to Sentinel-2 products (STAC or SAFE)"
                )));
            }
            let bands = if product {
                let mut opts = ProductOptions {
                    format,
                    ..Default::default()
                };
                if let Some(c) = &e.scl_invalid {
                    opts.scl_invalid = canopy_core::forest::ClassSet::new(c.iter().copied());
                }
                EpochBands::Product(opts)
            } else {
                match (e.red_band, e.nir_band, e.class_band) {
                    (Some(red), Some(nir), None) => EpochBands::Spectral {
                        red,
                        nir,
                        mask: e.mask_band,
                    },
                    (None, None, Some(class)) if e.mask_band.is_none() => {
                        EpochBands::Classes { class }
                    }
                    (None, None, Some(_)) => {
                        return Err(cfg_err(format!(
                            "{ctx}: mask_band only applies to red/NIR epochs"
                        )))
                    }
                    (_, _, Some(_)) => {
                        return Err(cfg_err(format!(
                            "{ctx}: give either red_band + nir_band or class_band, not both"
                        )))
                    }
                    _ => {
                        return Err(cfg_err(format!(
                            "{ctx}: needs red_band and nir_band (spectral) or class_band (classes)"
                        )))
                    }
                }
            };
            for (key, b) in [
                ("red_band", e.red_band),
                ("nir_band", e.nir_band),
                ("mask_band", e.mask_band),
                ("class_band", e.class_band),
                ("swir_band", e.swir_band),
            ] {
                if b == Some(0) {
                    return Err(cfg_err(format!("{ctx}.{key}: bands are numbered from 1")));
                }
            }
            match bands {
                EpochBands::Spectral { .. } | EpochBands::Product(_)
                    if raw.forest.ndvi_min.is_none() =>
                {
                    return Err(cfg_err(format!(
                        "{ctx} is spectral but forest.ndvi_min is not set"
                    )))
                }
                EpochBands::Classes { .. } if raw.forest.forest_classes.is_empty() => {
                    return Err(cfg_err(format!(
                        "{ctx} reads classes but forest.forest_classes is empty"
                    )))
                }
                _ => {}
            }
            if e.tiles.is_empty() {
                return Err(cfg_err(format!("{ctx}.tiles is empty")));
            }
            let mut tiles = Vec::new();
            for pat in &e.tiles {
                let found = expand(&dir, pat).map_err(|m| cfg_err(format!("{ctx}.tiles: {m}")))?;
                if found.is_empty() {
                    // No imagery yet: most often a sample region not generated.
                    return Err(cfg_err(format!(
                        "{ctx}.tiles: \"{pat}\" matches no file (looked in {}); \
                         no imagery yet? `canopy synth {} --communes {} --name NAME` \
                         generates sample tiles (scripts/sample.sh does it for the \
                         sample regions)",
                        dir.display(),
                        dir.display(),
                        dir.join(&raw.communes.path).display()
                    )));
                }
                for f in found {
                    if !tiles.contains(&f) {
                        tiles.push(f);
                    }
                }
            }
            let composite = match e.composite.as_deref() {
                None => canopy_core::composite::Method::Priority,
                Some(c) => canopy_core::composite::Method::parse(c).ok_or_else(|| {
                    cfg_err(format!(
                        "{ctx}.composite = \"{c}\": expected \"priority\", \"max-ndvi\" or \"median-ndvi\""
                    ))
                })?,
            };
            if composite != canopy_core::composite::Method::Priority
                && matches!(bands, EpochBands::Classes { .. })
            {
                return Err(cfg_err(format!(
                    "{ctx}.composite = \"{}\" needs red_band and nir_band (NDVI); class epochs composite by priority",
                    composite.as_str()
                )));
            }
            if e.swir_band.is_some() && !matches!(bands, EpochBands::Spectral { .. }) {
                return Err(cfg_err(format!(
                    "{ctx}: swir_band only applies to red/NIR epochs"
                )));
            }
            if e.min_clear == Some(0) {
                return Err(cfg_err(format!("{ctx}.min_clear must be at least 1")));
            }
            if e.min_clear.is_some_and(|m| m > 1)
                && composite == canopy_core::composite::Method::Priority
            {
                return Err(cfg_err(format!(
                    "{ctx}.min_clear needs composite = \"max-ndvi\" or \"median-ndvi\" (priority keeps one observation per pixel)"
                )));
            }
            epochs.push(EpochConfig {
                id: e.id,
                composite,
                min_clear: e.min_clear.unwrap_or(1),
                swir_band: e.swir_band,
                date: e.date,
                patterns: e.tiles,
                tiles,
                bands,
            });
        }
        for w in epochs.windows(2) {
            if w[1].date < w[0].date {
                return Err(cfg_err(format!(
                    "epochs must be in date order: \"{}\" ({}) comes after \"{}\" ({})",
                    w[1].id, w[1].date, w[0].id, w[0].date
                )));
            }
        }

        let alerts = raw.alerts.unwrap_or_default();
        if alerts.min_area_ha.is_nan() || alerts.min_area_ha < 0.0 {
            return Err(cfg_err(format!(
                "alerts.min_area_ha = {} must be ≥ 0",
                alerts.min_area_ha
            )));
        }
        if let Some(d) = alerts.min_ndvi_drop {
            if !(0.0..=2.0).contains(&d) {
                return Err(cfg_err(format!(
                    "alerts.min_ndvi_drop = {d} must be within [0, 2]"
                )));
            }
        }
        let mut legend = std::collections::BTreeMap::new();
        for (k, v) in raw.legend {
            let code: i64 = k
                .trim()
                .parse()
                .map_err(|_| cfg_err(format!("legend key \"{k}\" is not an integer class code")))?;
            legend.insert(code, v);
        }
        for c in raw.forest.forest_classes.iter() {
            if !legend.is_empty() && !legend.contains_key(c) {
                return Err(cfg_err(format!(
                    "forest.forest_classes has {c}, which [legend] does not name"
                )));
            }
        }
        let mut zones = raw.zones;
        if let Some(z) = zones.as_mut() {
            z.path = dir.join(&z.path);
        }
        let mut communes = raw.communes;
        communes.path = dir.join(&communes.path);
        let mut targets = raw.targets;
        if let Some(t) = targets.as_mut() {
            t.path = t.path.as_ref().map(|p| dir.join(p));
        }
        let mut fire = raw.fire;
        if let Some(f) = fire.as_mut() {
            f.stations = f.stations.as_ref().map(|p| dir.join(p));
            f.hotspots = f.hotspots.iter().map(|p| dir.join(p)).collect();
            if f.stations.is_none() && f.hotspots.is_empty() {
                return Err(cfg_err(
                    "[fire] needs stations = \"…\" and/or hotspots = [\"…\"]".into(),
                ));
            }
            for p in f.hotspots.iter().chain(&f.stations) {
                if !p.exists() {
                    return Err(cfg_err(format!("[fire]: {} does not exist", p.display())));
                }
            }
            if !(f.alert_min_forest_ha >= 0.0) {
                return Err(cfg_err(format!(
                    "[fire] alert_min_forest_ha = {} must be ≥ 0",
                    f.alert_min_forest_ha
                )));
            }
            f.scheme()
                .check()
                .map_err(|e| cfg_err(format!("[fire]: {e}")))?;
        }
        let mut parcels = raw.parcels;
        if let Some(p) = parcels.as_mut() {
            p.path = dir.join(&p.path);
            let parts = [
                &p.compartment_field,
                &p.sub_compartment_field,
                &p.plot_field,
            ];
            let given = parts.iter().filter(|f| f.is_some()).count();
            if p.id_field.is_none() && given != 3 {
                return Err(cfg_err(
                    "[parcels] needs id_field = \"…\", or all of compartment_field (tiểu khu), \
                     sub_compartment_field (khoảnh) and plot_field (lô)"
                        .into(),
                ));
            }
            if given != 0 && given != 3 {
                return Err(cfg_err(
                    "[parcels]: compartment_field, sub_compartment_field and plot_field go \
                     together (give all three or none)"
                        .into(),
                ));
            }
        }
        Ok(Region {
            parcels,
            fire,
            zones,
            targets,
            alerts,
            legend,
            file: path.to_path_buf(),
            name: crate::text::nfc(&raw.name),
            area_crs: raw.area_crs,
            communes,
            forest: raw.forest,
            epochs,
        })
    }
}

/// Expands one tile pattern relative to `dir`: a plain path must exist; a glob is
/// expanded and sorted by name.
fn expand(dir: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let full = dir.join(pattern);
    let is_glob = pattern.contains(['*', '?', '[']);
    if !is_glob {
        return Ok(if full.exists() { vec![full] } else { vec![] });
    }
    let s = full
        .to_str()
        .ok_or_else(|| format!("\"{pattern}\" is not valid UTF-8"))?;
    let mut out: Vec<PathBuf> = glob::glob(s)
        .map_err(|e| format!("\"{pattern}\" is not a valid glob: {e}"))?
        .filter_map(Result::ok)
        .filter(|p| p.is_file() || crate::products::is_product_dir(p))
        .collect();
    out.sort();
    Ok(out)
}

/// Accepts `YYYY-MM-DD` with a plausible month and day.
fn check_date(d: &str) -> Result<(), String> {
    let parts: Vec<&str> = d.split('-').collect();
    let ok = parts.len() == 3
        && parts[0].len() == 4
        && parts[1].len() == 2
        && parts[2].len() == 2
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()))
        && (1..=12).contains(&parts[1].parse::<u32>().unwrap_or(0))
        && (1..=31).contains(&parts[2].parse::<u32>().unwrap_or(0));
    if ok {
        Ok(())
    } else {
        Err(format!("\"{d}\" is not a date of the form YYYY-MM-DD"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region_dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("tiles/2024")).unwrap();
        std::fs::write(d.path().join("tiles/2024/b.tif"), b"x").unwrap();
        std::fs::write(d.path().join("tiles/2024/a.tif"), b"x").unwrap();
        d
    }

    const GOOD: &str = r#"
name = "Lạng Sơn"
area_crs = "EPSG:32648"
[communes]
path = "communes.geojson"
code_field = "code"
name_field = "name"
[forest]
ndvi_min = 0.55
[[epochs]]
id = "2024"
date = "2024-12-31"
tiles = ["tiles/2024/*.tif"]
red_band = 3
nir_band = 4
mask_band = 5
"#;

    #[test]
    fn composite_keys() {
        let d = region_dir();
        let f = d.path().join("region.toml");
        let r = Region::parse(GOOD, &f).unwrap();
        assert_eq!(
            r.epochs[0].composite,
            canopy_core::composite::Method::Priority
        );
        assert_eq!(r.epochs[0].min_clear, 1);
        let with = |extra: &str| Region::parse(&format!("{GOOD}{extra}\n"), &f);
        let r = with("composite = \"median-ndvi\"\nmin_clear = 3").unwrap();
        assert_eq!(
            r.epochs[0].composite,
            canopy_core::composite::Method::MedianNdvi
        );
        assert_eq!(r.epochs[0].min_clear, 3);
        for (extra, needle) in [
            (
                "composite = \"mean\"",
                "epochs[0] (id \"2024\").composite = \"mean\": expected",
            ),
            (
                "composite = \"max-ndvi\"\nmin_clear = 0",
                "min_clear must be at least 1",
            ),
            ("min_clear = 2", "min_clear needs composite"),
        ] {
            let e = with(extra).unwrap_err().to_string();
            assert!(e.contains(needle), "{extra}: {e}");
            assert!(e.contains("region.toml"), "{e}");
        }
    }

    #[test]
    fn parses_and_sorts_globs() {
        let d = region_dir();
        let r = Region::parse(GOOD, &d.path().join("region.toml")).unwrap();
        assert_eq!(r.epochs.len(), 1);
        let names: Vec<_> = r.epochs[0]
            .tiles
            .iter()
            .map(|p| p.file_name().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["a.tif", "b.tif"]);
        assert_eq!(
            r.epochs[0].bands,
            EpochBands::Spectral {
                red: 3,
                nir: 4,
                mask: Some(5)
            }
        );
        assert_eq!(r.communes.path, d.path().join("communes.geojson"));
    }

    #[test]
    fn unknown_key_is_named() {
        let d = region_dir();
        let text = GOOD.replace("nir_band = 4", "nir_bnad = 4");
        let e = Region::parse(&text, &d.path().join("region.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nir_bnad"), "{e}");
    }

    #[test]
    fn empty_glob_is_named() {
        let d = region_dir();
        let text = GOOD.replace("tiles/2024/*.tif", "tiles/2023/*.tif");
        let e = Region::parse(&text, &d.path().join("region.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("tiles/2023/*.tif") && e.contains("matches no file"),
            "{e}"
        );
    }

    #[test]
    fn band_zero_and_mixed_bands_are_rejected() {
        let d = region_dir();
        let p = d.path().join("region.toml");
        let e = Region::parse(&GOOD.replace("red_band = 3", "red_band = 0"), &p).unwrap_err();
        assert!(e.to_string().contains("red_band"), "{e}");
        let e = Region::parse(&GOOD.replace("mask_band = 5", "class_band = 1"), &p).unwrap_err();
        assert!(e.to_string().contains("not both"), "{e}");
    }

    #[test]
    fn malformed_toml_is_reported() {
        let d = region_dir();
        let e = Region::parse("name = ", &d.path().join("region.toml")).unwrap_err();
        assert!(e.to_string().contains("region.toml"), "{e}");
    }

    #[test]
    fn zones_alerts_and_legend() {
        let d = region_dir();
        let p = d.path().join("region.toml");
        let text = format!(
            "{GOOD}\n[zones]\npath = \"zones.geojson\"\nspecies_field = \"species\"\n\n[alerts]\nmin_area_ha = 0.5\n\n[legend]\n1 = \"natural forest\"\n10 = \"cropland\"\n"
        );
        let r = Region::parse(&text, &p).unwrap();
        assert_eq!(
            r.zones.as_ref().unwrap().path,
            d.path().join("zones.geojson")
        );
        assert_eq!(r.alerts.min_area_ha, 0.5);
        assert_eq!(r.alerts.harvested_species, ["acacia", "pine"]);
        assert_eq!(r.legend.get(&10).map(String::as_str), Some("cropland"));
        let defaults = Region::parse(GOOD, &p).unwrap();
        assert_eq!(defaults.alerts.min_area_ha, 0.3);
        let e = Region::parse(&format!("{GOOD}\n[legend]\nforest = \"x\"\n"), &p).unwrap_err();
        assert!(e.to_string().contains("legend key \"forest\""), "{e}");
        let e = Region::parse(&format!("{GOOD}\n[alerts]\nmin_area = 1\n"), &p).unwrap_err();
        assert!(e.to_string().contains("min_area"), "{e}");
    }

    #[test]
    fn product_epochs_format_and_scl_invalid() {
        let d = region_dir();
        let p = d.path().join("region.toml");
        let bands = "red_band = 3\nnir_band = 4\nmask_band = 5\n";
        // No band keys: products, format recognised per file.
        let r = Region::parse(&GOOD.replace(bands, ""), &p).unwrap();
        assert_eq!(
            r.epochs[0].bands,
            EpochBands::Product(ProductOptions::default())
        );
        let r = Region::parse(
            &GOOD.replace(bands, "format = \"sentinel2-safe\"\nscl_invalid = [0, 9]\n"),
            &p,
        )
        .unwrap();
        let EpochBands::Product(o) = r.epochs[0].bands else {
            panic!("not a product epoch")
        };
        assert_eq!(o.format, Some(ProductFormat::Sentinel2Safe));
        assert_eq!(o.scl_invalid.codes(), [0, 9]);
        // Forced GeoTIFF keeps the band keys; band keys on a product are an error.
        let r = Region::parse(
            &GOOD.replace(bands, &format!("{bands}format = \"geotiff\"\n")),
            &p,
        );
        assert!(matches!(
            r.unwrap().epochs[0].bands,
            EpochBands::Spectral { .. }
        ));
        let e = Region::parse(
            &GOOD.replace(bands, &format!("{bands}format = \"stac\"\n")),
            &p,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("do not apply to format \"stac\""),
            "{e}"
        );
        let e = Region::parse(&GOOD.replace(bands, "format = \"landsat\"\n"), &p).unwrap_err();
        assert!(e.to_string().contains("landsat-c2-l2"), "{e}");
        let e = Region::parse(
            &GOOD.replace(bands, &format!("{bands}scl_invalid = [9]\n")),
            &p,
        )
        .unwrap_err();
        assert!(e.to_string().contains("scl_invalid"), "{e}");
    }

    #[test]
    fn bad_date_is_named() {
        let d = region_dir();
        let e = Region::parse(
            &GOOD.replace("2024-12-31", "2024-13-01"),
            &d.path().join("r.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("date"), "{e}");
    }
}
