//! Exports of a store's layers in the formats GIS staff and phones use
//! (`canopy export --store S.gpkg --layer L -o FILE`): GeoPackage, shapefile
//! (UTF-8 with a `.cpg`, short field names from [`shapefile::SHORT`]), KML (for
//! phones and Google Earth), GPX (one waypoint per feature at its centroid: alerts
//! as waypoints to walk to), CSV and XLSX (the attributes, for tables).
//!
//! Every format is written by GDAL's own driver. The layer is read from the store
//! file read-only (after `canopy_store` has checked it is a store), fields keep
//! their types, and the `alerts` layer gets each alert's latest triage `status`
//! (read through the store's typed reader). The output is written in a temporary
//! folder beside it and renamed into place only when complete, so a failed export
//! leaves no half-written file (a shapefile is several files, renamed one by one).
//!
//! [`Options::crs`] (`canopy export --crs EPSG:9215`) reprojects the geometries
//! (stored in WGS 84) with GDAL/PROJ into any CRS GDAL accepts (`EPSG:n`, WKT,
//! PROJ string), e.g. VN-2000 TM-3 (EPSG:9215 for Lạng Sơn's 107°15′, EPSG:9210
//! for Cao Bằng's 105°45′): PROJ picks its best operation, the official 7-parameter
//! VN-2000 → WGS 84 shift. KML and GPX are WGS 84 by definition and refuse another CRS.

pub mod format;
pub mod shapefile;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use gdal::raster::RasterCreationOptions;
use gdal::vector::{
    Defn, Feature, FieldDefn, FieldValue, Geometry, LayerAccess, LayerOptions, OGRFieldType,
    OGRwkbGeometryType,
};
use gdal::DriverManager;
use geo::Centroid;

pub use format::Format;

/// Why an export failed; each names the store, layer or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] canopy_store::StoreError),
    #[error("no layer \"{layer}\" in {} (layers: {})", store.display(), known.join(", "))]
    NoLayer {
        layer: String,
        store: PathBuf,
        known: Vec<String>,
    },
    #[error("{}: unknown export format (use .gpkg, .shp, .kml, .gpx, .csv or .xlsx, or --format)", path.display())]
    UnknownFormat { path: PathBuf },
    #[error("layer \"{layer}\" has no geometry: {format} needs one (use csv or xlsx)")]
    NoGeometry { layer: String, format: Format },
    #[error("{what} ({})", path.display())]
    Gdal {
        what: String,
        path: PathBuf,
        #[source]
        source: gdal::errors::GdalError,
    },
    #[error("--crs {crs}: not a CRS GDAL/PROJ knows (use e.g. EPSG:9215, VN-2000 / TM-3 107-15)")]
    Crs {
        crs: String,
        #[source]
        source: gdal::errors::GdalError,
    },
    #[error(
        "--crs {crs}: {format} is always WGS 84 (EPSG:4326); use gpkg, shp or csv for another CRS"
    )]
    CrsNotAllowed { crs: String, format: Format },
    #[error("layer \"{layer}\" has no field \"{field}\"")]
    NoField { layer: String, field: String },
    #[error("{what} ({})", path.display())]
    Io {
        what: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn gdal_err(
    what: impl Into<String>,
    path: &Path,
) -> impl FnOnce(gdal::errors::GdalError) -> ExportError {
    let (what, path) = (what.into(), path.to_path_buf());
    move |source| ExportError::Gdal { what, path, source }
}

fn io_err(what: impl Into<String>, path: &Path) -> impl FnOnce(std::io::Error) -> ExportError {
    let (what, path) = (what.into(), path.to_path_buf());
    move |source| ExportError::Io { what, path, source }
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct Summary {
    pub format: Format,
    pub features: usize,
    /// The files written (a shapefile's `.shp`, `.shx`, `.dbf`, `.prj`, `.cpg`).
    pub files: Vec<PathBuf>,
    /// Fields renamed for the format (store name, written name).
    pub renamed: Vec<(String, String)>,
    /// Fields left out (binary fields).
    pub skipped: Vec<String>,
}

/// One source field and how it is written.
struct OutField {
    src: usize,
    name: String,
    ty: OGRFieldType::Type,
    width: i32,
    precision: i32,
}

/// Options of an export beyond the layer, file and format.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The output CRS (anything GDAL's `SetFromUserInput` takes); `None`: as stored (WGS 84).
    pub crs: Option<String>,
    /// Only the features whose field `.0` holds one of the values `.1` (the server's
    /// `?f=` exports of a filtered selection); `None`: every feature.
    pub only: Option<(String, HashSet<String>)>,
}

/// Exports layer `layer` of the store `store` to `out`, in `format` (default: from
/// `out`'s extension).
pub fn export(
    store: &Path,
    layer: &str,
    out: &Path,
    format: Option<Format>,
) -> Result<Summary, ExportError> {
    export_with(store, layer, out, format, &Options::default())
}

/// The output CRS and the transformation to it from the layer's CRS (traditional
/// GIS axis order, x = easting/longitude, on both sides).
fn target_crs(
    crs: &str,
    src: Option<&gdal::spatial_ref::SpatialRef>,
) -> Result<
    (
        gdal::spatial_ref::SpatialRef,
        gdal::spatial_ref::CoordTransform,
    ),
    ExportError,
> {
    use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
    let err = |source| ExportError::Crs {
        crs: crs.to_string(),
        source,
    };
    let mut dst = SpatialRef::from_definition(crs).map_err(err)?;
    dst.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut src = match src {
        Some(s) => s.clone(),
        None => SpatialRef::from_epsg(4326).map_err(err)?,
    };
    src.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let ct = CoordTransform::new(&src, &dst).map_err(err)?;
    Ok((dst, ct))
}

/// [`export`] with [`Options`] (the output CRS).
pub fn export_with(
    store: &Path,
    layer: &str,
    out: &Path,
    format: Option<Format>,
    opts: &Options,
) -> Result<Summary, ExportError> {
    let format = match format.or_else(|| Format::from_path(out)) {
        Some(f) => f,
        None => {
            return Err(ExportError::UnknownFormat {
                path: out.to_path_buf(),
            })
        }
    };
    // A store (checked, a hot journal rolled back) and the alerts' triage status.
    let reader = canopy_store::Store::open(store)?.read()?;
    let status: HashMap<String, String> = if layer == "alerts" {
        reader
            .alerts()?
            .into_iter()
            .map(|a| (a.id, a.status.as_str().to_string()))
            .collect()
    } else {
        HashMap::new()
    };
    // Named in messages as the reader names it (a PostgreSQL store without its password).
    let shown = reader.path().to_path_buf();
    let store = shown.as_path();
    // The layer is read through the same reader (a GeoPackage or a PostgreSQL
    // store: one consistent state, the readers' lock held until the end).
    let src = reader.dataset();
    let mut lyr = match src.layer_by_name(layer) {
        Ok(l) => l,
        Err(_) => {
            let mut known: Vec<String> = src.layers().map(|l| l.name()).collect();
            known.sort();
            return Err(ExportError::NoLayer {
                layer: layer.to_string(),
                store: store.to_path_buf(),
                known,
            });
        }
    };
    let geom_type = lyr.defn().geometry_type();
    let spatial = geom_type != OGRwkbGeometryType::wkbNone && format.spatial();
    if format.spatial() && geom_type == OGRwkbGeometryType::wkbNone {
        return Err(ExportError::NoGeometry {
            layer: layer.to_string(),
            format,
        });
    }
    let mut srs = lyr.spatial_ref();
    let mut transform = None;
    if let Some(crs) = opts.crs.as_deref() {
        if matches!(format, Format::Kml | Format::Gpx) {
            let (dst, _) = target_crs(crs, srs.as_ref())?;
            if dst.auth_code().ok() != Some(4326) {
                return Err(ExportError::CrsNotAllowed {
                    crs: crs.to_string(),
                    format,
                });
            }
        } else if spatial {
            let (dst, ct) = target_crs(crs, srs.as_ref())?;
            srs = Some(dst);
            transform = Some(ct);
        }
    }

    // Fields: binary ones left out, long names shortened for shapefiles.
    let mut skipped = Vec::new();
    let mut fields: Vec<OutField> = Vec::new();
    for (i, f) in lyr.defn().fields().enumerate() {
        if f.field_type() == OGRFieldType::OFTBinary {
            skipped.push(f.name());
            continue;
        }
        fields.push(OutField {
            src: i,
            name: f.name(),
            ty: f.field_type(),
            width: f.width(),
            precision: f.precision(),
        });
    }
    let id_field = fields.iter().position(|f| f.name == "alert_id");
    let mut renamed = Vec::new();
    if format == Format::Shapefile {
        let names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
        for (f, short) in fields.iter_mut().zip(shapefile::short_names(&names)) {
            if short != f.name {
                renamed.push((f.name.clone(), short.clone()));
                f.name = short;
            }
        }
    }

    // Read every feature (a store's layers are small: communes, alerts, zones).
    struct Row {
        values: Vec<Option<FieldValue>>,
        geometry: Option<Geometry>,
    }
    let only = match &opts.only {
        Some((name, keep)) => {
            let i = lyr
                .defn()
                .field_index(name)
                .map_err(|_| ExportError::NoField {
                    layer: layer.to_string(),
                    field: name.clone(),
                })?;
            Some((i, keep))
        }
        None => None,
    };
    let mut rows = Vec::new();
    for feat in lyr.features() {
        if let Some((i, keep)) = only {
            let id = feat
                .field_as_string(i)
                .map_err(gdal_err(format!("reading layer {layer}"), store))?
                .unwrap_or_default();
            if !keep.contains(&id) {
                continue;
            }
        }
        let mut values = Vec::with_capacity(fields.len());
        for f in &fields {
            values.push(
                feat.field(f.src)
                    .map_err(gdal_err(format!("reading layer {layer}"), store))?,
            );
        }
        let geometry = match (feat.geometry(), &transform) {
            (Some(g), Some(ct)) => Some(g.transform(ct).map_err(gdal_err(
                format!(
                    "reprojecting a feature of {layer} to {}",
                    opts.crs.as_deref().unwrap_or("?")
                ),
                store,
            ))?),
            (g, _) => g.cloned(),
        };
        rows.push(Row { values, geometry });
    }
    // A shapefile's text fields as wide as their longest UTF-8 value (the DBF
    // width is in bytes; GDAL's default of 80 would cut long Vietnamese names).
    if format == Format::Shapefile {
        for (k, f) in fields.iter_mut().enumerate() {
            if f.ty == OGRFieldType::OFTString {
                let longest = rows
                    .iter()
                    .filter_map(|r| match &r.values[k] {
                        Some(FieldValue::StringValue(s)) => Some(s.len()),
                        _ => None,
                    })
                    .max()
                    .unwrap_or(1);
                f.width = (longest as i32).clamp(1, 254);
            }
        }
    }

    // Write into a temporary folder beside `out`, then rename into place.
    let name = out.file_name().ok_or_else(|| ExportError::UnknownFormat {
        path: out.to_path_buf(),
    })?;
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // No extension in the folder's name: GDAL's /vsizip/ (XLSX) would take a
    // folder named `x.xlsx.tmp` for the archive.
    let tmp = dir.join(format!(".canopy-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(io_err("cannot create a temporary folder", &tmp))?;
    let result = (|| {
        let target = tmp.join(name);
        let count = if format == Format::Gpx {
            write_gpx(
                &target,
                layer,
                &fields,
                id_field,
                &status,
                rows.iter().map(|r| (&r.values, r.geometry.as_ref())),
            )?
        } else {
            let driver = DriverManager::get_driver_by_name(format.driver()).map_err(gdal_err(
                format!("GDAL has no {} driver", format.driver()),
                out,
            ))?;
            // KML's <name>: the alert id, the commune name, else an id-like field.
            let dsco: Vec<String> = match (format, kml_name_field(&fields)) {
                (Format::Kml, Some(n)) => vec![format!("NameField={n}")],
                _ => Vec::new(),
            };
            let mut ds = driver
                .create_with_band_type_with_options::<u8, _>(
                    &target,
                    0,
                    0,
                    0,
                    &RasterCreationOptions::from_iter(dsco.iter().map(String::as_str)),
                )
                .map_err(gdal_err(
                    format!("cannot create a {} file", format.driver()),
                    out,
                ))?;
            let ty = if spatial {
                geom_type
            } else {
                OGRwkbGeometryType::wkbNone
            };
            let lco: Vec<&str> = format.layer_options().to_vec();
            let out_layer = ds
                .create_layer(LayerOptions {
                    name: layer,
                    srs: if spatial { srs.as_ref() } else { None },
                    ty,
                    options: Some(&lco),
                })
                .map_err(gdal_err(format!("cannot create layer {layer}"), out))?;
            for f in &fields {
                let d = FieldDefn::new(&f.name, f.ty)
                    .map_err(gdal_err(format!("field {}", f.name), out))?;
                if f.width > 0 {
                    d.set_width(f.width);
                }
                if f.precision > 0 {
                    d.set_precision(f.precision);
                }
                d.add_to_layer(&out_layer)
                    .map_err(gdal_err(format!("cannot add field {}", f.name), out))?;
            }
            if layer == "alerts" && id_field.is_some() {
                let d = FieldDefn::new("status", OGRFieldType::OFTString)
                    .map_err(gdal_err("field status", out))?;
                d.set_width(9);
                d.add_to_layer(&out_layer)
                    .map_err(gdal_err("cannot add field status", out))?;
            }
            // Fields by name: a driver may have fields of its own first (KML's Name
            // and Description, which our `name` field becomes).
            let defn = Defn::from_layer(&out_layer);
            let out_idx: Vec<usize> = fields
                .iter()
                .map(|f| {
                    defn.field_index(&f.name)
                        .map_err(gdal_err(format!("field {} in the output", f.name), out))
                })
                .collect::<Result<_, _>>()?;
            let status_idx = if layer == "alerts" && id_field.is_some() {
                defn.field_index("status").ok()
            } else {
                None
            };
            for r in &rows {
                let mut feat = Feature::new(&defn).map_err(gdal_err("new feature", out))?;
                for (k, v) in r.values.iter().enumerate() {
                    if let Some(v) = v {
                        feat.set_field(out_idx[k], v)
                            .map_err(gdal_err(format!("field {}", fields[k].name), out))?;
                    }
                }
                if let (Some(si), Some(ii)) = (status_idx, id_field) {
                    if let Some(FieldValue::StringValue(id)) = &r.values[ii] {
                        let s = status.get(id).map(String::as_str).unwrap_or("new");
                        feat.set_field_string(si, s)
                            .map_err(gdal_err("field status", out))?;
                    }
                }
                if spatial {
                    if let Some(g) = &r.geometry {
                        feat.set_geometry(g.clone())
                            .map_err(gdal_err("geometry", out))?;
                    }
                }
                feat.create(&out_layer)
                    .map_err(gdal_err(format!("cannot write a feature of {layer}"), out))?;
            }
            drop(out_layer);
            ds.close().map_err(gdal_err(
                format!("cannot finish the {} file", format.driver()),
                out,
            ))?;
            rows.len()
        };
        // Rename every file written into place.
        let mut files = Vec::new();
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&tmp)
            .map_err(io_err("cannot list the temporary folder", &tmp))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            let dest = dir.join(p.file_name().unwrap_or_default());
            std::fs::rename(&p, &dest)
                .map_err(io_err("cannot move the export into place", &dest))?;
            files.push(dest);
        }
        Ok::<_, ExportError>((count, files))
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    let (features, files) = result?;
    tracing::info!(layer, format = %format, features, "exported");
    Ok(Summary {
        format,
        features,
        files,
        renamed,
        skipped,
    })
}

/// The field KML shows as a placemark's name.
fn kml_name_field(fields: &[OutField]) -> Option<&str> {
    [
        "alert_id",
        "name",
        "commune_name",
        "event_id",
        "hotspot_id",
        "piece_id",
        "zone_code",
        "code",
    ]
    .into_iter()
    .find(|n| fields.iter().any(|f| f.name == *n))
}

/// GPX: one waypoint per feature at its centroid (the stored centroid of an alert),
/// named by its id, with a description and the other fields as GPX extensions.
fn write_gpx<'a>(
    target: &Path,
    layer: &str,
    fields: &[OutField],
    id_field: Option<usize>,
    status: &HashMap<String, String>,
    rows: impl Iterator<Item = (&'a Vec<Option<FieldValue>>, Option<&'a Geometry>)>,
) -> Result<usize, ExportError> {
    let driver = DriverManager::get_driver_by_name("GPX")
        .map_err(gdal_err("GDAL has no GPX driver", target))?;
    let mut ds = driver
        .create_with_band_type_with_options::<u8, _>(
            target,
            0,
            0,
            0,
            &RasterCreationOptions::from_iter([
                "GPX_USE_EXTENSIONS=YES",
                "GPX_EXTENSIONS_NS=canopy",
                "GPX_EXTENSIONS_NS_URL=urn:canopy",
            ]),
        )
        .map_err(gdal_err("cannot create a GPX file", target))?;
    let wp = ds
        .create_layer(LayerOptions {
            name: "waypoints",
            srs: None,
            ty: OGRwkbGeometryType::wkbPoint,
            options: None,
        })
        .map_err(gdal_err("cannot create the GPX waypoints", target))?;
    // Extensions: the layer's fields (and the alerts' status) after GPX's own.
    for f in fields {
        let ty = match f.ty {
            OGRFieldType::OFTInteger | OGRFieldType::OFTInteger64 | OGRFieldType::OFTReal => f.ty,
            _ => OGRFieldType::OFTString,
        };
        FieldDefn::new(&f.name, ty)
            .and_then(|d| d.add_to_layer(&wp))
            .map_err(gdal_err(format!("GPX extension field {}", f.name), target))?;
    }
    if layer == "alerts" {
        FieldDefn::new("status", OGRFieldType::OFTString)
            .and_then(|d| d.add_to_layer(&wp))
            .map_err(gdal_err("GPX extension field status", target))?;
    }
    let defn = Defn::from_layer(&wp);
    let idx = |n: &str| defn.field_index(n).ok();
    let (name_i, desc_i, type_i) = (idx("name"), idx("desc"), idx("type"));
    let pos = |n: &str| fields.iter().position(|f| f.name == n);
    let (lon_i, lat_i) = (pos("centroid_lon"), pos("centroid_lat"));
    let name_src = id_field.or_else(|| kml_name_field(fields).and_then(|n| pos(n)));
    let mut count = 0;
    for (values, geometry) in rows {
        let real = |i: Option<usize>| match i.and_then(|i| values[i].clone()) {
            Some(FieldValue::RealValue(v)) => Some(v),
            _ => None,
        };
        let point = match (real(lon_i), real(lat_i)) {
            (Some(lon), Some(lat)) => Some((lon, lat)),
            _ => geometry
                .and_then(|g| g.to_geo().ok())
                .and_then(|g| g.centroid())
                .map(|p| (p.x(), p.y())),
        };
        let Some((lon, lat)) = point else { continue };
        let mut feat = Feature::new(&defn).map_err(gdal_err("new waypoint", target))?;
        let mut g =
            Geometry::empty(OGRwkbGeometryType::wkbPoint).map_err(gdal_err("waypoint", target))?;
        g.add_point_2d((lon, lat));
        feat.set_geometry(g).map_err(gdal_err("waypoint", target))?;
        let text = |i: Option<usize>| match i.and_then(|i| values[i].clone()) {
            Some(v) => v.into_string(),
            None => None,
        };
        let id = text(name_src);
        if let (Some(ni), Some(id)) = (name_i, &id) {
            feat.set_field_string(ni, id)
                .map_err(gdal_err("waypoint name", target))?;
        }
        if layer == "alerts" {
            let st = id
                .as_ref()
                .and_then(|i| status.get(i))
                .map(String::as_str)
                .unwrap_or("new");
            let desc = format!(
                "{}, {} ha, {}, commune {}, {}",
                text(pos("kind")).unwrap_or_else(|| "loss".into()),
                real(pos("area_ha"))
                    .map(|a| format!("{a:.2}"))
                    .unwrap_or_default(),
                text(pos("severity")).unwrap_or_default(),
                text(pos("commune_code")).unwrap_or_default(),
                st
            );
            if let Some(di) = desc_i {
                feat.set_field_string(di, &desc)
                    .map_err(gdal_err("waypoint desc", target))?;
            }
            if let (Some(ti), Some(sev)) = (type_i, text(pos("severity"))) {
                feat.set_field_string(ti, &sev)
                    .map_err(gdal_err("waypoint type", target))?;
            }
            if let Some(si) = idx("status") {
                feat.set_field_string(si, st)
                    .map_err(gdal_err("waypoint status", target))?;
            }
        }
        for (k, f) in fields.iter().enumerate() {
            let (Some(oi), Some(v)) = (idx(&f.name), values[k].clone()) else {
                continue;
            };
            let r = match v {
                FieldValue::IntegerValue(_)
                | FieldValue::Integer64Value(_)
                | FieldValue::RealValue(_) => feat.set_field(oi, &v),
                other => match other.into_string() {
                    Some(s) => feat.set_field_string(oi, &s),
                    None => Ok(()),
                },
            };
            r.map_err(gdal_err(format!("waypoint field {}", f.name), target))?;
        }
        feat.create(&wp)
            .map_err(gdal_err("cannot write a waypoint", target))?;
        count += 1;
    }
    drop(wp);
    ds.close()
        .map_err(gdal_err("cannot finish the GPX file", target))?;
    Ok(count)
}
