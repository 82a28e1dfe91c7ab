//! Store rows ↔ GDAL features: how a record's values become the fields of a
//! feature, and how fields are read back.
//!
//! Every table of the store (one module each) is written the same way: create it with its field list, then one feature per record with
//! value `i` in field `i`. So a writer only states the field list and maps each
//! record to its [`Val`]s, and the field list and the values read side by side.
//! Readers look fields up by name (see [`indices`]) and convert them with the
//! few helpers here, so an absent or NULL value reads the same everywhere.

use std::path::Path;

use gdal::spatial_ref::{AxisMappingStrategy, SpatialRef};
use gdal::vector::{
    Feature, Layer, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType, ToGdal,
};
use gdal::Dataset;
use geo::{BoundingRect, MultiPolygon};

use crate::error::StoreError;

pub(crate) type GResult<T> = gdal::errors::Result<T>;

/// A field of a layer: name and OGR type (or [`BOOLEAN`]).
pub(crate) type Field<'a> = (&'a str, OGRFieldType::Type);

/// A yes/no field: OGR has no boolean type but an integer with subtype
/// `OFSTBoolean` (GeoPackage `BOOLEAN`, PostgreSQL `boolean`), which GDAL, QGIS and
/// the OAPIF driver read as Boolean. Written and read as 0/1 like any integer.
/// Not an OGR type: [`create_fields`] turns it into one.
pub(crate) const BOOLEAN: OGRFieldType::Type = 0x1000;

/// A calendar date (`YYYY-MM-DD`): OGR's `OFTDate` (GeoPackage `DATE`,
/// PostgreSQL `date`). Written from the ISO text; read back as the same text
/// ([`string`]).
pub(crate) const DATE: OGRFieldType::Type = OGRFieldType::OFTDate;

/// A UTC time (RFC 3339, seconds): `OFTDateTime` (GeoPackage `DATETIME`,
/// PostgreSQL `timestamptz`). Read back as `YYYY-MM-DDTHH:MM:SSZ` ([`string`]).
pub(crate) const DATETIME: OGRFieldType::Type = OGRFieldType::OFTDateTime;

/// Creates `fields` on `layer`, in order, with their types ([`BOOLEAN`] as an
/// integer of subtype boolean): the one place the store's column types are
/// declared, for the GeoPackage and PostgreSQL alike.
pub(crate) fn create_fields<L: LayerAccess>(layer: &L, fields: &Fields) -> GResult<()> {
    for &(name, ty) in fields {
        if ty != BOOLEAN {
            gdal::vector::FieldDefn::new(name, ty)?.add_to_layer(layer)?;
            continue;
        }
        // The gdal crate cannot set a subtype: the field definition through gdal-sys.
        let c_name = std::ffi::CString::new(name)?;
        // SAFETY: a field definition created, used and destroyed here; the layer
        // handle is alive for the borrow of `layer`, and OGR copies the definition.
        let err = unsafe {
            let defn = gdal_sys::OGR_Fld_Create(c_name.as_ptr(), OGRFieldType::OFTInteger);
            gdal_sys::OGR_Fld_SetSubType(defn, gdal_sys::OGRFieldSubType::OFSTBoolean);
            let err = gdal_sys::OGR_L_CreateField(layer.c_layer(), defn, 1);
            gdal_sys::OGR_Fld_Destroy(defn);
            err
        };
        if err != gdal_sys::OGRErr::OGRERR_NONE {
            return Err(gdal::errors::GdalError::OgrError {
                err,
                method_name: "OGR_L_CreateField",
            });
        }
    }
    Ok(())
}

/// A layer's fields, in order.
pub(crate) type Fields<'a> = [Field<'a>];

/// One field value of a row.
pub(crate) enum Val<'a> {
    Str(&'a str),
    /// A string made for the row (JSON).
    Text(String),
    Real(f64),
    Int(i32),
    Int64(i64),
    Null,
}

/// `Null` when absent: `opt(x.map(Real))`.
pub(crate) fn opt(v: Option<Val>) -> Val {
    v.unwrap_or(Val::Null)
}

impl<'v> Val<'v> {
    /// The value as SQLite gets it for a field of `field`'s type, as GDAL binds
    /// it (`None`: a value of another kind than the field's).
    fn param(self, field: Field) -> Option<crate::gpkg::Param<'v>> {
        use crate::gpkg::Param;
        use OGRFieldType as T;
        Some(match (self, field.1) {
            (Val::Null, _) => Param::Null,
            (Val::Str(s), T::OFTString) => Param::Text(s.into()),
            (Val::Text(s), T::OFTString) => Param::Text(s.into()),
            (Val::Real(x), T::OFTReal) => Param::Real(x),
            (Val::Int(x), T::OFTReal) => Param::Real(x as f64),
            (Val::Int64(x), T::OFTReal) => Param::Real(x as f64),
            (Val::Int(x), T::OFTInteger | T::OFTInteger64 | BOOLEAN) => Param::Int(x as i64),
            (Val::Int64(x), T::OFTInteger64) => Param::Int(x),
            _ => return None,
        })
    }

    fn set(&self, f: &mut Feature, i: usize) -> GResult<()> {
        match self {
            Val::Str(s) => f.set_field_string(i, s),
            Val::Text(s) => f.set_field_string(i, s),
            Val::Real(x) => f.set_field_double(i, *x),
            Val::Int(x) => f.set_field_integer(i, *x),
            Val::Int64(x) => f.set_field_integer64(i, *x),
            Val::Null => f.set_field_null(i),
        }
    }
}

/// Layer creation options for the store's driver: the GeoPackage's as written by
/// the table modules; for PostgreSQL (`pg`) the same `fid`/`geom` column names and a
/// GiST index where the GeoPackage has its R-tree.
pub(crate) fn for_driver<'a>(ds: &Dataset, options: &[&'a str]) -> Vec<&'a str> {
    if ds.driver().short_name() != "PostgreSQL" {
        return options.to_vec();
    }
    let mut out: Vec<&str> = options
        .iter()
        .map(|o| {
            if *o == "SPATIAL_INDEX=YES" {
                "SPATIAL_INDEX=GIST"
            } else {
                o
            }
        })
        .collect();
    if !out.iter().any(|o| o.starts_with("FID=")) {
        out.push("FID=fid");
    }
    out
}

/// Creates a table without geometry.
fn table<'a>(ds: &'a mut Dataset, name: &'a str, fields: &Fields) -> GResult<Layer<'a>> {
    let options = for_driver(ds, &[]);
    let layer = ds.create_layer(LayerOptions {
        name,
        ty: OGRwkbGeometryType::wkbNone,
        options: Some(&options),
        ..Default::default()
    })?;
    create_fields(&layer, fields)?;
    Ok(layer)
}

/// Adds one feature: value `i` in field `i`, then the geometry if any.
pub(crate) fn add_feature<'v>(
    layer: &Layer,
    values: impl IntoIterator<Item = Val<'v>>,
    geom: Option<&MultiPolygon<f64>>,
) -> GResult<()> {
    let mut rows = Rows::new(layer)?;
    rows.add(values, geom)?;
    rows.finish()
}

/// Adds rows to a new layer one after another: through OGR, one feature
/// filled anew for each row (a table of a million rows allocates no feature
/// per row), or, for a GeoPackage table without date fields, straight into
/// SQLite ([`crate::gpkg`]). [`Rows::finish`] ends the table.
pub(crate) struct Rows<'l, 'v> {
    sink: Sink<'l, 'v>,
    /// The entries of the layer's spatial index, when [`crate::rtree`] makes it.
    index: Option<Vec<crate::rtree::Entry>>,
}

enum Sink<'l, 'v> {
    Ogr {
        layer: &'l Layer<'l>,
        f: Feature<'l>,
        fields: usize,
    },
    Gpkg {
        table: crate::gpkg::Table<'v>,
        fields: Vec<Field<'l>>,
    },
}

impl<'l, 'v> Rows<'l, 'v> {
    /// Rows through OGR.
    pub(crate) fn new(layer: &'l Layer<'l>) -> GResult<Rows<'l, 'v>> {
        Ok(Rows {
            sink: Sink::Ogr {
                layer,
                f: Feature::new(layer.defn())?,
                fields: layer.defn().fields().count(),
            },
            index: None,
        })
    }

    /// Rows of `layer`, just created with `fields` (and geometry column
    /// `geom`): straight into the GeoPackage when `db` is its connection and
    /// no field is a date, else through OGR.
    fn for_new(
        db: Option<*mut libsqlite3_sys::sqlite3>,
        layer: &'l Layer<'l>,
        fields: &Fields<'l>,
        geom: Option<&str>,
    ) -> GResult<Rows<'l, 'v>> {
        let dated = fields.iter().any(|f| f.1 == DATE || f.1 == DATETIME);
        match db {
            Some(db) if !dated => {
                let names: Vec<&str> = fields.iter().map(|f| f.0).collect();
                Ok(Rows {
                    sink: Sink::Gpkg {
                        table: crate::gpkg::Table::new(db, layer, &names, geom),
                        fields: fields.to_vec(),
                    },
                    index: None,
                })
            }
            _ => Rows::new(layer),
        }
    }

    /// As [`add_feature`]: value `i` in field `i` (fields past the values
    /// left unset, as in a new feature), then the geometry if any.
    pub(crate) fn add(
        &mut self,
        values: impl IntoIterator<Item = Val<'v>>,
        geom: Option<&MultiPolygon<f64>>,
    ) -> GResult<()> {
        let fid = match &mut self.sink {
            Sink::Gpkg { table, fields } => {
                let mut params = Vec::with_capacity(fields.len());
                for (i, v) in values.into_iter().enumerate() {
                    let field = fields
                        .get(i)
                        .copied()
                        .unwrap_or(("?", OGRFieldType::OFTString));
                    params.push(v.param(field).ok_or_else(|| {
                        crate::gpkg::failed(
                            field.0,
                            "a value of another type than the field's (a writer's bug)",
                        )
                    })?);
                }
                Some(table.add(params, geom)?)
            }
            Sink::Ogr { layer, f, fields } => {
                let mut set = 0;
                for (i, v) in values.into_iter().enumerate() {
                    v.set(f, i)?;
                    set = i + 1;
                }
                // SAFETY: a live feature of this layer's definition; the indices are
                // fields of it; a null FID makes the next insert take a new one.
                unsafe {
                    for i in set..*fields {
                        gdal_sys::OGR_F_UnsetField(f.c_feature(), i as i32);
                    }
                }
                if let Some(g) = geom {
                    f.set_geometry(g.to_gdal()?)?;
                }
                f.create(*layer)?;
                let fid = f.fid();
                // SAFETY: as above.
                unsafe { gdal_sys::OGR_F_SetFID(f.c_feature(), -1) };
                fid.map(|x| x as i64)
            }
        };
        if let (Some(index), Some(fid), Some(b)) = (
            self.index.as_mut(),
            fid,
            geom.and_then(|g| g.bounding_rect()),
        ) {
            index.push(crate::rtree::Entry {
                fid,
                bbox: [b.min().x, b.max().x, b.min().y, b.max().y],
            });
        }
        Ok(())
    }

    /// Ends the table: the rows still gathered go in, and its bookkeeping
    /// (feature count, extent) is written. Returns the spatial index's
    /// entries when they were gathered.
    pub(crate) fn finish(self) -> GResult<()> {
        if let Sink::Gpkg { table, .. } = self.sink {
            table.finish()?;
        }
        Ok(())
    }
}

/// Adds one feature with a point geometry (lon/lat).
pub(crate) fn add_point<'v>(
    layer: &Layer,
    values: impl IntoIterator<Item = Val<'v>>,
    p: geo::Point<f64>,
) -> GResult<()> {
    let mut f = Feature::new(layer.defn())?;
    for (i, v) in values.into_iter().enumerate() {
        v.set(&mut f, i)?;
    }
    f.set_geometry(p.to_gdal()?)?;
    f.create(layer)
}

/// Creates a table without geometry and writes one feature per row.
pub(crate) fn write_table<'v, R>(
    ds: &mut Dataset,
    name: &str,
    fields: &Fields,
    rows: impl IntoIterator<Item = R>,
) -> GResult<()>
where
    R: IntoIterator<Item = Val<'v>>,
{
    let db = crate::gpkg::connection(ds);
    let layer = table(ds, name, fields)?;
    let mut out = Rows::for_new(db, &layer, fields, None)?;
    for r in rows {
        out.add(r, None)?;
    }
    out.finish()
}

/// Creates a MultiPolygon layer in EPSG:4326 (lon/lat order) with the GeoPackage
/// `options`, and writes one feature per (row, outline).
pub(crate) fn write_shapes<'v, 'g, R>(
    ds: &mut Dataset,
    name: &str,
    options: &[&str],
    fields: &Fields,
    rows: impl IntoIterator<Item = (R, &'g MultiPolygon<f64>)>,
) -> GResult<()>
where
    R: IntoIterator<Item = Val<'v>>,
{
    let mut srs = SpatialRef::from_epsg(4326)?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut options = for_driver(ds, options);
    // A GeoPackage's spatial index is bulk-loaded after the rows (`rtree`),
    // not filled by GDAL row by row.
    let bulk_index = ds.driver().short_name() == "GPKG"
        && options
            .iter()
            .any(|o| o.eq_ignore_ascii_case("SPATIAL_INDEX=YES"));
    if bulk_index {
        options.retain(|o| !o.eq_ignore_ascii_case("SPATIAL_INDEX=YES"));
        options.push("SPATIAL_INDEX=NO");
    }
    let option = |key: &str, default: &'static str| {
        options
            .iter()
            .find_map(|o| o.strip_prefix(key))
            .unwrap_or(default)
            .to_string()
    };
    let (geom_col, fid_col) = (option("GEOMETRY_NAME=", "geom"), option("FID=", "fid"));
    let db = crate::gpkg::connection(ds);
    let layer = ds.create_layer(LayerOptions {
        name,
        srs: Some(&srs),
        ty: OGRwkbGeometryType::wkbMultiPolygon,
        options: Some(&options),
    })?;
    create_fields(&layer, fields)?;
    let mut out = Rows::for_new(db, &layer, fields, Some(&geom_col))?;
    if bulk_index {
        out.index = Some(Vec::new());
    }
    for (r, geom) in rows {
        out.add(r, Some(geom))?;
    }
    let entries = out.index.take();
    out.finish()?;
    if let Some(entries) = entries {
        crate::rtree::create(ds, name, &geom_col, &fid_col, &entries)?;
    }
    Ok(())
}

/// The index of field `name`, or an error naming the layer and the field.
pub(crate) fn idx(layer: &Layer, name: &str, path: &Path) -> Result<usize, StoreError> {
    layer.defn().field_index(name).map_err(|_| {
        StoreError::invalid(path, format!("layer {} has no field {name}", layer.name()))
    })
}

/// The indices of fields `names`, in that order.
pub(crate) fn indices(
    layer: &Layer,
    names: &[&str],
    path: &Path,
) -> Result<Vec<usize>, StoreError> {
    names.iter().map(|n| idx(layer, n, path)).collect()
}

/// The rows of layer `name` (none when the store has no such layer): `row` gets
/// each feature and the indices of fields `names`, in that order.
pub(crate) fn read_rows<T>(
    ds: &Dataset,
    name: &str,
    names: &[&str],
    path: &Path,
    row: impl Fn(&Feature, &[usize]) -> T,
) -> Result<Vec<T>, StoreError> {
    read_rows_where(ds, name, None, names, path, row)
}

/// As [`read_rows`], only the rows matching the OGR SQL `filter` when given.
pub(crate) fn read_rows_where<T>(
    ds: &Dataset,
    name: &str,
    filter: Option<&str>,
    names: &[&str],
    path: &Path,
    row: impl Fn(&Feature, &[usize]) -> T,
) -> Result<Vec<T>, StoreError> {
    let Ok(mut layer) = ds.layer_by_name(name) else {
        return Ok(Vec::new());
    };
    let ix = indices(&layer, names, path)?;
    if let Some(q) = filter {
        layer
            .set_attribute_filter(q)
            .map_err(|e| StoreError::invalid(path, format!("layer {name}: {e}")))?;
    }
    Ok(layer.features().map(|f| row(&f, &ix)).collect())
}

/// A string field ("" when NULL). A [`DATE`] field reads as `YYYY-MM-DD` and a
/// [`DATETIME`] one as RFC 3339 (`…Z` in UTC), as they were written (OGR's own
/// text would be `YYYY/MM/DD`); so stores written before the fields were typed
/// (text dates) read the same.
pub(crate) fn string(f: &Feature, i: usize) -> String {
    opt_text(f, i).unwrap_or_default()
}

fn opt_text(f: &Feature, i: usize) -> Option<String> {
    use gdal::vector::FieldValue;
    match f.field(i).ok().flatten()? {
        FieldValue::DateValue(d) => Some(d.format("%Y-%m-%d").to_string()),
        FieldValue::DateTimeValue(t) => {
            Some(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        }
        FieldValue::StringValue(s) => Some(s),
        _ => f.field_as_string(i).ok().flatten(),
    }
}

/// A string field, `None` when NULL or empty.
pub(crate) fn opt_string(f: &Feature, i: usize) -> Option<String> {
    opt_text(f, i).filter(|s| !s.is_empty())
}

/// A real field, `None` when NULL.
pub(crate) fn real(f: &Feature, i: usize) -> Option<f64> {
    f.field_as_double(i).ok().flatten()
}

/// The feature's (multi)polygon (empty when it has none or another type).
pub(crate) fn multipolygon(f: &Feature) -> MultiPolygon<f64> {
    match f.geometry().map(|g| g.to_geo()) {
        Some(Ok(geo::Geometry::MultiPolygon(m))) => m,
        Some(Ok(geo::Geometry::Polygon(p))) => MultiPolygon(vec![p]),
        _ => MultiPolygon(vec![]),
    }
}

/// The feature's geometry as `geo` (none when it has none or cannot be converted).
pub(crate) fn shape(f: &Feature) -> Option<geo::Geometry<f64>> {
    f.geometry().and_then(|g| g.to_geo().ok())
}

/// The feature's geometry as GeoJSON ("null" when it has none).
pub(crate) fn geojson(f: &Feature) -> String {
    f.geometry()
        .and_then(|g| g.json().ok())
        .unwrap_or_else(|| "null".into())
}

/// The fields of a table of per-commune rows (`with_code`) or province rows:
/// `commune_code` first when with code, then `fields`.
pub(crate) fn unit_fields<'a>(with_code: bool, fields: &Fields<'a>) -> Vec<Field<'a>> {
    let mut all = vec![];
    if with_code {
        all.push(("commune_code", OGRFieldType::OFTString));
    }
    all.extend_from_slice(fields);
    all
}

/// A row of a [`unit_fields`] table: the code when with code, then `values`.
pub(crate) fn unit_values<'a>(
    with_code: bool,
    code: &'a str,
    values: impl IntoIterator<Item = Val<'a>>,
) -> impl Iterator<Item = Val<'a>> {
    with_code
        .then_some(Val::Str(code))
        .into_iter()
        .chain(values)
}

/// String fields named `names`.
pub(crate) fn string_fields<'a>(names: &[&'a str]) -> Vec<Field<'a>> {
    names
        .iter()
        .map(|n| (*n, OGRFieldType::OFTString))
        .collect()
}

/// The names of `fields`, in order.
pub(crate) fn names<'a>(fields: &[Field<'a>]) -> Vec<&'a str> {
    fields.iter().map(|(n, _)| *n).collect()
}

/// Copies layer `src` into a new layer of the same name in `dst` (a whole-store
/// export or import): the fields exactly as the table's writer declared them
/// (name, OGR type and subtype, width, precision, nullability, default: whatever
/// types the schema has), the geometry type and SRS, and every feature with its
/// id, fields and geometry (`OGR_F_SetFrom`, strict: a field that cannot be
/// copied is an error, not a NULL). The layer options are the table modules'
/// (`fid`/`geom` columns, a spatial index; [`for_driver`] for PostgreSQL).
/// Returns the number of features copied.
pub(crate) fn copy_layer(src: &mut Layer, dst: &mut Dataset) -> GResult<u64> {
    use gdal::errors::GdalError;
    // From the first feature, whatever an earlier read of this layer left.
    src.clear_attribute_filter();
    src.clear_spatial_filter();
    src.reset_feature_reading();
    let name = src.name();
    let ty = src.defn().geometry_type();
    let srs = src.spatial_ref();
    let options: &[&str] = if ty == OGRwkbGeometryType::wkbNone {
        &["FID=fid"]
    } else {
        &["FID=fid", "GEOMETRY_NAME=geom", "SPATIAL_INDEX=YES"]
    };
    let options = for_driver(dst, options);
    let out = dst.create_layer(LayerOptions {
        name: &name,
        srs: srs.as_ref(),
        ty,
        options: Some(&options),
    })?;
    let failed = |msg: String| GdalError::CplError {
        class: gdal_sys::CPLErr::CE_Failure,
        number: 0,
        msg,
    };
    // SAFETY: both layers and their definitions are alive for these calls; GDAL
    // copies the field definition it is given.
    unsafe {
        let sd = src.defn().c_defn();
        for i in 0..gdal_sys::OGR_FD_GetFieldCount(sd) {
            let fd = gdal_sys::OGR_FD_GetFieldDefn(sd, i);
            let rv = gdal_sys::OGR_L_CreateField(out.c_layer(), fd, 0);
            if rv != gdal_sys::OGRErr::OGRERR_NONE {
                return Err(GdalError::OgrError {
                    err: rv,
                    method_name: "OGR_L_CreateField",
                });
            }
        }
    }
    let mut n = 0u64;
    for f in src.features() {
        let g = Feature::new(out.defn())?;
        // SAFETY: both features are alive; SetFrom copies values and geometry.
        unsafe {
            let rv = gdal_sys::OGR_F_SetFrom(g.c_feature(), f.c_feature(), 0);
            if rv != gdal_sys::OGRErr::OGRERR_NONE {
                return Err(failed(format!(
                    "feature {} of layer {name}: its fields do not fit the copy's",
                    f.fid().map_or("(no id)".into(), |i| i.to_string())
                )));
            }
            if let Some(fid) = f.fid() {
                gdal_sys::OGR_F_SetFID(g.c_feature(), fid as i64);
            }
        }
        g.create(&out)?;
        n += 1;
    }
    Ok(n)
}
