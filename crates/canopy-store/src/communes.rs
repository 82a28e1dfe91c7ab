//! `communes` (MultiPolygon, EPSG:4326): code, name, natural_ha.

use gdal::vector::{LayerAccess, OGRFieldType};
use gdal::Dataset;
use geo::MultiPolygon;

use crate::error::{Result, StoreError};
use crate::rows::Val::{Real, Str};
use crate::rows::{indices, names, real, string, write_shapes, Field, GResult};
use crate::Reader;

pub const LAYER: &str = "communes";

const FIELDS: [Field; 3] = [
    ("code", OGRFieldType::OFTString),
    ("name", OGRFieldType::OFTString),
    ("natural_ha", OGRFieldType::OFTReal),
];

/// One commune as a run writes it.
#[derive(Debug, Clone)]
pub struct CommuneOut {
    pub code: String,
    pub name: String,
    /// Polygon in WGS84 (EPSG:4326, lon/lat), for the store and the web.
    pub geom_wgs84: MultiPolygon<f64>,
    pub natural_ha: f64,
}

/// A commune's stored figures.
#[derive(Debug, Clone)]
pub struct StoredCommune {
    pub code: String,
    pub name: String,
    pub natural_ha: f64,
}

pub(crate) fn write(ds: &mut Dataset, rows: &[CommuneOut]) -> GResult<()> {
    write_shapes(
        ds,
        LAYER,
        &["FID=fid", "GEOMETRY_NAME=geom"],
        &FIELDS,
        rows.iter().map(|c| {
            let values = [Str(&c.code), Str(&c.name), Real(c.natural_ha)];
            (values, &c.geom_wgs84)
        }),
    )
}

impl Reader {
    /// The communes, in stored order.
    pub fn communes(&self) -> Result<Vec<StoredCommune>> {
        let mut l = self.layer(LAYER)?;
        let ix = indices(&l, &names(&FIELDS), &self.path)?;
        Ok(l.features()
            .map(|f| StoredCommune {
                code: string(&f, ix[0]),
                name: string(&f, ix[1]),
                natural_ha: real(&f, ix[2]).unwrap_or(0.0),
            })
            .collect())
    }

    /// The communes with their outlines as `geo` geometries, in stored order (for
    /// the server).
    pub fn commune_features(&self) -> Result<Vec<(StoredCommune, Option<geo::Geometry<f64>>)>> {
        let mut l = self.layer(LAYER)?;
        let ix = indices(&l, &names(&FIELDS), &self.path)?;
        Ok(l.features()
            .map(|f| {
                let c = StoredCommune {
                    code: string(&f, ix[0]),
                    name: string(&f, ix[1]),
                    natural_ha: real(&f, ix[2]).unwrap_or(0.0),
                };
                (c, crate::rows::shape(&f))
            })
            .collect())
    }

    /// The communes' outlines as stored (EPSG:4326, lon/lat), by code.
    pub fn commune_shapes(&self) -> Result<Vec<(String, MultiPolygon<f64>)>> {
        let mut l = self
            .ds
            .layer_by_name(LAYER)
            .map_err(|_| StoreError::invalid(&self.path, "no communes layer"))?;
        let c = crate::rows::idx(&l, "code", &self.path)?;
        let mut out = Vec::new();
        for f in l.features() {
            let shape = match f.geometry().map(|g| g.to_geo()) {
                Some(Ok(geo::Geometry::MultiPolygon(m))) => m,
                Some(Ok(geo::Geometry::Polygon(p))) => MultiPolygon(vec![p]),
                _ => continue,
            };
            out.push((string(&f, c), shape));
        }
        Ok(out)
    }
}
