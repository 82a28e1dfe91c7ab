//! The communes layer, reprojected to the working CRS (EPSG:32648), with a small
//! bucket index for point-in-polygon tests.

use std::path::Path;

use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use gdal::vector::LayerAccess;
use gdal::Dataset;
use geo::{BoundingRect, Contains, MultiPolygon, Point};

use super::SynthError;

/// One commune polygon in EPSG:32648.
pub(crate) struct Commune {
    pub code: String,
    /// The name (NFC), empty when no name field was asked for.
    pub name: String,
    pub bbox: (f64, f64, f64, f64),
    pub geom: MultiPolygon<f64>,
}

/// All communes in EPSG:32648 plus a bucket index over their bounding boxes.
pub(crate) struct Communes {
    pub items: Vec<Commune>,
    /// Bounding box of every vertex, `(xmin, ymin, xmax, ymax)`.
    pub bbox: (f64, f64, f64, f64),
    cells: usize,
    buckets: Vec<Vec<usize>>,
}

const INDEX_CELLS: usize = 48;

fn read_err(path: &Path, source: gdal::errors::GdalError) -> SynthError {
    SynthError::CommunesRead {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads every polygon of the first layer of `path`, checks that `fields` exist, and
/// reprojects the polygons to EPSG:32648; `name_field`, if given, fills the names.
pub(crate) fn read(
    path: &Path,
    code_field: &str,
    name_field: Option<&str>,
    fields: &[&str],
) -> Result<Communes, SynthError> {
    let ds = Dataset::open(path).map_err(|e| read_err(path, e))?;
    let mut layer = ds.layer(0).map_err(|e| read_err(path, e))?;
    for f in fields {
        if layer.defn().field_index(f).is_err() {
            return Err(SynthError::MissingField {
                path: path.to_path_buf(),
                field: f.to_string(),
            });
        }
    }
    let mut src = match layer.spatial_ref() {
        Some(s) => s,
        None => {
            tracing::warn!(
                "{} has no CRS; assuming EPSG:4326 (lon, lat)",
                path.display()
            );
            SpatialRef::from_epsg(4326).map_err(|e| read_err(path, e))?
        }
    };
    src.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut dst = SpatialRef::from_epsg(32648).map_err(|e| read_err(path, e))?;
    dst.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let ct = CoordTransform::new(&src, &dst).map_err(|e| SynthError::Reproject {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    let code_idx = layer.defn().field_index(code_field).ok();
    let name_idx = name_field.and_then(|f| layer.defn().field_index(f).ok());

    let mut items = Vec::new();
    for feature in layer.features() {
        let Some(g) = feature.geometry() else {
            continue;
        };
        let t = g.transform(&ct).map_err(|e| SynthError::Reproject {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })?;
        let geom = match t.to_geo() {
            Ok(geo::Geometry::Polygon(p)) => MultiPolygon(vec![p]),
            Ok(geo::Geometry::MultiPolygon(m)) => m,
            Ok(geo::Geometry::GeometryCollection(gc)) => MultiPolygon(
                gc.0.into_iter()
                    .flat_map(|g| match g {
                        geo::Geometry::Polygon(p) => vec![p],
                        geo::Geometry::MultiPolygon(m) => m.0,
                        _ => vec![],
                    })
                    .collect(),
            ),
            _ => continue,
        };
        let Some(r) = geom.bounding_rect() else {
            continue;
        };
        let code = code_idx
            .and_then(|i| feature.field_as_string(i).ok().flatten())
            .unwrap_or_default();
        let name = name_idx
            .and_then(|i| feature.field_as_string(i).ok().flatten())
            .map(|n| canopy_core::text::nfc(&n))
            .unwrap_or_default();
        items.push(Commune {
            code,
            name,
            bbox: (r.min().x, r.min().y, r.max().x, r.max().y),
            geom,
        });
    }
    if items.is_empty() {
        return Err(SynthError::NoPolygons {
            path: path.to_path_buf(),
        });
    }
    Ok(Communes::new(items))
}

impl Communes {
    /// Indexes `items` (non-empty).
    pub fn new(items: Vec<Commune>) -> Communes {
        let mut bbox = (
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        );
        for c in &items {
            bbox.0 = bbox.0.min(c.bbox.0);
            bbox.1 = bbox.1.min(c.bbox.1);
            bbox.2 = bbox.2.max(c.bbox.2);
            bbox.3 = bbox.3.max(c.bbox.3);
        }
        let cells = INDEX_CELLS;
        let mut me = Communes {
            items,
            bbox,
            cells,
            buckets: vec![Vec::new(); cells * cells],
        };
        for (i, c) in me.items.iter().enumerate() {
            let (i0, j0) = me.cell(c.bbox.0, c.bbox.1);
            let (i1, j1) = me.cell(c.bbox.2, c.bbox.3);
            for j in j0..=j1 {
                for ii in i0..=i1 {
                    me.buckets[j * cells + ii].push(i);
                }
            }
        }
        me
    }

    fn cell(&self, x: f64, y: f64) -> (usize, usize) {
        let (x0, y0, x1, y1) = self.bbox;
        let fx = ((x - x0) / (x1 - x0).max(1e-9) * self.cells as f64).floor();
        let fy = ((y - y0) / (y1 - y0).max(1e-9) * self.cells as f64).floor();
        let c = |f: f64| (f.max(0.0) as usize).min(self.cells - 1);
        (c(fx), c(fy))
    }

    /// Index of the commune containing `(x, y)` (EPSG:32648), if any.
    pub fn locate(&self, x: f64, y: f64) -> Option<usize> {
        let (x0, y0, x1, y1) = self.bbox;
        if x < x0 || x > x1 || y < y0 || y > y1 {
            return None;
        }
        let (i, j) = self.cell(x, y);
        let p = Point::new(x, y);
        self.buckets[j * self.cells + i].iter().copied().find(|&k| {
            let b = self.items[k].bbox;
            x >= b.0 && x <= b.2 && y >= b.1 && y <= b.3 && self.items[k].geom.contains(&p)
        })
    }
}
