//! Coordinate reference systems and PROJ transforms.
//!
//! CRSs are carried as WKT (what GDAL/OGR hand us) with a short label for
//! messages. Transforms go through PROJ with axis order normalised for GIS use
//! (x = easting/longitude, y = northing/latitude), which is also the order OGR
//! returns coordinates in, so EPSG:4326 data never comes out swapped.

use gdal::spatial_ref::SpatialRef;
use geo::{Coord, LineString, MultiPolygon, Polygon, Rect};

use crate::error::PipelineError;

/// A CRS as WKT plus a label such as "EPSG:32648".
#[derive(Debug, Clone)]
pub struct Crs {
    pub wkt: String,
    pub label: String,
}

impl Crs {
    /// Parses a user-given definition ("EPSG:32648", WKT, PROJ string).
    pub fn from_user(def: &str) -> Result<Crs, PipelineError> {
        let srs = SpatialRef::from_definition(def)
            .map_err(|e| PipelineError::Crs(format!("cannot understand \"{def}\": {e}")))?;
        Crs::from_srs(&srs).map(|mut c| {
            c.label = def.to_string();
            c
        })
    }

    /// From a GDAL/OGR spatial reference.
    pub fn from_srs(srs: &SpatialRef) -> Result<Crs, PipelineError> {
        let wkt = srs
            .to_wkt()
            .map_err(|e| PipelineError::Crs(e.to_string()))?;
        let label = match (srs.auth_name(), srs.auth_code()) {
            (Some(a), Ok(c)) => format!("{a}:{c}"),
            _ => srs.name().unwrap_or_else(|| "custom CRS".into()),
        };
        Ok(Crs { wkt, label })
    }

    fn srs(&self) -> Result<SpatialRef, PipelineError> {
        SpatialRef::from_wkt(&self.wkt)
            .map_err(|e| PipelineError::Crs(format!("{}: {e}", self.label)))
    }

    /// True when both describe the same CRS (OSRIsSame).
    pub fn same_as(&self, other: &Crs) -> bool {
        match (self.srs(), other.srs()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }

    /// True for a projected CRS whose linear unit is the metre.
    pub fn is_projected_metres(&self) -> bool {
        self.srs()
            .map(|s| s.is_projected() && (s.linear_units() - 1.0).abs() < 1e-12)
            .unwrap_or(false)
    }
}

/// A PROJ transformation between two CRSs.
pub struct Transformer {
    proj: proj::Proj,
    from: String,
    to: String,
}

impl Transformer {
    pub fn new(from: &Crs, to: &Crs) -> Result<Transformer, PipelineError> {
        let proj = proj::Proj::new_known_crs(&from.wkt, &to.wkt, None).map_err(|e| {
            PipelineError::Crs(format!(
                "no transformation from {} to {}: {e}",
                from.label, to.label
            ))
        })?;
        Ok(Transformer {
            proj,
            from: from.label.clone(),
            to: to.label.clone(),
        })
    }

    /// Transforms points in place.
    pub fn points(&self, pts: &mut [(f64, f64)]) -> Result<(), PipelineError> {
        self.proj.convert_array(pts).map(|_| ()).map_err(|e| {
            PipelineError::Crs(format!(
                "transforming from {} to {}: {e}",
                self.from, self.to
            ))
        })?;
        if pts.iter().any(|p| !p.0.is_finite() || !p.1.is_finite()) {
            return Err(PipelineError::Crs(format!(
                "a point has no position in {} (transforming from {})",
                self.to, self.from
            )));
        }
        Ok(())
    }

    /// Transforms every vertex of a multipolygon.
    pub fn multipolygon(&self, mp: &MultiPolygon<f64>) -> Result<MultiPolygon<f64>, PipelineError> {
        let ring = |ls: &LineString<f64>| -> Result<LineString<f64>, PipelineError> {
            let mut pts: Vec<(f64, f64)> = ls.coords().map(|c| (c.x, c.y)).collect();
            self.points(&mut pts)?;
            Ok(LineString::from(pts))
        };
        let polys =
            mp.0.iter()
                .map(|p| {
                    let ext = ring(p.exterior())?;
                    let holes = p
                        .interiors()
                        .iter()
                        .map(ring)
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(Polygon::new(ext, holes))
                })
                .collect::<Result<Vec<_>, PipelineError>>()?;
        Ok(MultiPolygon(polys))
    }

    /// The bounding box of a rectangle's image, from 21 points along each edge
    /// (straight edges in one CRS are curves in another).
    pub fn rect_bounds(&self, r: Rect<f64>) -> Result<Rect<f64>, PipelineError> {
        let (min, max) = (r.min(), r.max());
        let n = 20;
        let mut pts = Vec::with_capacity(4 * (n + 1));
        for i in 0..=n {
            let t = i as f64 / n as f64;
            let x = min.x + t * (max.x - min.x);
            let y = min.y + t * (max.y - min.y);
            pts.extend([(x, min.y), (x, max.y), (min.x, y), (max.x, y)]);
        }
        self.points(&mut pts)?;
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for (x, y) in pts {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
        Ok(Rect::new(Coord { x: x0, y: y0 }, Coord { x: x1, y: y1 }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lonlat_goes_to_utm_48n_in_gis_order() {
        let wgs = Crs::from_user("EPSG:4326").unwrap();
        let utm = Crs::from_user("EPSG:32648").unwrap();
        assert!(!wgs.same_as(&utm));
        assert!(utm.is_projected_metres() && !wgs.is_projected_metres());
        let t = Transformer::new(&wgs, &utm).unwrap();
        // 105°E is the central meridian of zone 48: easting 500 000 m exactly.
        let mut p = [(105.0, 21.0)];
        t.points(&mut p).unwrap();
        assert!((p[0].0 - 500_000.0).abs() < 1e-6, "{:?}", p);
        assert!((p[0].1 - 2_323_000.0).abs() < 5_000.0, "{:?}", p);
    }

    #[test]
    fn unknown_crs_is_named() {
        let e = Crs::from_user("EPSG:999999").unwrap_err().to_string();
        assert!(e.contains("EPSG:999999"), "{e}");
    }
}
