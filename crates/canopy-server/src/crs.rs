//! OGC API - Features Part 2 (coordinate reference systems by reference): the CRSs a
//! client may ask for with `crs=` (the features' coordinates) and `bbox-crs=` (the
//! `bbox` parameter's), and the transformation of served geometries into them.
//!
//! Features are stored and prepared in CRS84 (lon/lat, WGS 84). Other CRSs are
//! produced per request with PROJ through GDAL's OSR (as `canopy export --crs` does),
//! coordinates in the CRS's own axis order as Part 2 requires: EPSG:4326 is
//! latitude, longitude; EPSG:3857 and the VN-2000 TM-3 zones are easting, northing.
//! PROJ picks its best operation, for VN-2000 the official 7-parameter shift.
//! Transformations are built once per thread and CRS (building one reads PROJ's
//! database) and reused.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use geo::{CoordsIter, MapCoords};

/// A CRS a client may ask for.
#[derive(Debug, PartialEq, Eq)]
pub struct Crs {
    /// Its OGC URI (what `crs`, `storageCrs` and `Content-Crs` carry).
    pub uri: &'static str,
    /// EPSG code; `None` for CRS84 (the stored CRS: nothing to transform).
    pub epsg: Option<u32>,
    /// What it is, for the documentation.
    pub name: &'static str,
    /// Decimal places of served coordinates (degrees: 1e-7 ≈ 1 cm; metres: 1 mm).
    pub decimals: i32,
}

pub const CRS84_URI: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

/// The CRSs served, the stored one (CRS84) first.
pub static SUPPORTED: [Crs; 5] = [
    Crs {
        uri: CRS84_URI,
        epsg: None,
        name: "WGS 84 longitude, latitude (CRS84, the stored CRS)",
        decimals: 7,
    },
    Crs {
        uri: "http://www.opengis.net/def/crs/EPSG/0/4326",
        epsg: Some(4326),
        name: "WGS 84 latitude, longitude (EPSG:4326, axis order as EPSG defines it)",
        decimals: 7,
    },
    Crs {
        uri: "http://www.opengis.net/def/crs/EPSG/0/3857",
        epsg: Some(3857),
        name: "WGS 84 / Pseudo-Mercator (EPSG:3857)",
        decimals: 3,
    },
    Crs {
        uri: "http://www.opengis.net/def/crs/EPSG/0/9215",
        epsg: Some(9215),
        name: "VN-2000 / TM-3 107-15 (EPSG:9215; Lạng Sơn), easting, northing",
        decimals: 3,
    },
    Crs {
        uri: "http://www.opengis.net/def/crs/EPSG/0/9210",
        epsg: Some(9210),
        name: "VN-2000 / TM-3 105-45 (EPSG:9210; Cao Bằng), easting, northing",
        decimals: 3,
    },
];

/// The stored CRS.
pub fn crs84() -> &'static Crs {
    &SUPPORTED[0]
}

/// Why a CRS cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CrsError {
    #[error("{param}={value}: unsupported CRS; supported: {}", supported())]
    Unsupported { param: String, value: String },
    #[error("cannot transform to or from EPSG:{epsg} with PROJ")]
    Proj {
        epsg: u32,
        #[source]
        source: gdal::errors::GdalError,
    },
}

fn supported() -> String {
    SUPPORTED
        .iter()
        .map(|c| c.uri)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The CRS `value` names: its URI, `EPSG:n`, `[EPSG:n]` (a safe CURIE) or `CRS84`.
pub fn parse(param: &str, value: &str) -> Result<&'static Crs, CrsError> {
    let v = value.trim();
    let v = v
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(v);
    let found = SUPPORTED.iter().find(|c| {
        c.uri == v
            || c.uri.replace("http://", "https://") == v
            || match c.epsg {
                Some(n) => v.eq_ignore_ascii_case(&format!("EPSG:{n}")),
                None => v.eq_ignore_ascii_case("CRS84") || v.eq_ignore_ascii_case("OGC:CRS84"),
            }
    });
    found.ok_or_else(|| CrsError::Unsupported {
        param: param.to_string(),
        value: value.to_string(),
    })
}

/// Which way a transformation goes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Dir {
    /// CRS84 → the CRS (served coordinates).
    Out,
    /// The CRS → CRS84 (a `bbox-crs` box).
    In,
}

thread_local! {
    static TRANSFORMS: RefCell<HashMap<(u32, Dir), CoordTransform>> = RefCell::new(HashMap::new());
}

fn build(epsg: u32, dir: Dir) -> Result<CoordTransform, CrsError> {
    let err = |source| CrsError::Proj { epsg, source };
    let mut wgs84 = SpatialRef::from_epsg(4326).map_err(err)?;
    wgs84.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let mut other = SpatialRef::from_epsg(epsg).map_err(err)?;
    other.set_axis_mapping_strategy(AxisMappingStrategy::AuthorityCompliant);
    match dir {
        Dir::Out => CoordTransform::new(&wgs84, &other),
        Dir::In => CoordTransform::new(&other, &wgs84),
    }
    .map_err(err)
}

fn with_transform<T>(
    epsg: u32,
    dir: Dir,
    f: impl FnOnce(&CoordTransform) -> Result<T, CrsError>,
) -> Result<T, CrsError> {
    TRANSFORMS.with(|cell| {
        let mut map = cell.borrow_mut();
        if !map.contains_key(&(epsg, dir)) {
            map.insert((epsg, dir), build(epsg, dir)?);
        }
        f(&map[&(epsg, dir)])
    })
}

fn round(x: f64, decimals: i32) -> f64 {
    let k = 10f64.powi(decimals);
    (x * k).round() / k
}

/// `g` (CRS84) in `crs`, in its axis order, rounded to its precision.
pub fn transform(g: &geo::Geometry<f64>, crs: &Crs) -> Result<geo::Geometry<f64>, CrsError> {
    let Some(epsg) = crs.epsg else {
        return Ok(g.clone());
    };
    let (mut xs, mut ys): (Vec<f64>, Vec<f64>) = g.coords_iter().map(|c| (c.x, c.y)).unzip();
    with_transform(epsg, Dir::Out, |ct| {
        ct.transform_coords(&mut xs, &mut ys, &mut [])
            .map_err(|source| CrsError::Proj { epsg, source })
    })?;
    // `map_coords` visits the coordinates in `coords_iter`'s order.
    let i = Cell::new(0usize);
    let (xs, ys, d) = (&xs, &ys, crs.decimals);
    Ok(g.map_coords(|_| {
        let k = i.get();
        i.set(k + 1);
        geo::Coord {
            x: round(xs[k], d),
            y: round(ys[k], d),
        }
    }))
}

/// A `bbox` given in `crs` (its axis order) as `[min lon, min lat, max lon, max lat]`
/// in CRS84: the box around the transformed edges (densified).
pub fn bbox_to_crs84(b: [f64; 4], crs: &Crs) -> Result<[f64; 4], CrsError> {
    let Some(epsg) = crs.epsg else {
        return Ok(b);
    };
    with_transform(epsg, Dir::In, |ct| {
        ct.transform_bounds(&b, 21)
            .map_err(|source| CrsError::Proj { epsg, source })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn names_of_a_crs() {
        assert_eq!(parse("crs", "EPSG:9215").unwrap().epsg, Some(9215));
        assert_eq!(parse("crs", "[EPSG:3857]").unwrap().epsg, Some(3857));
        assert_eq!(
            parse("crs", "http://www.opengis.net/def/crs/EPSG/0/4326")
                .unwrap()
                .epsg,
            Some(4326)
        );
        assert_eq!(parse("crs", "CRS84").unwrap(), crs84());
        assert_eq!(parse("crs", CRS84_URI).unwrap(), crs84());
        let e = parse("bbox-crs", "EPSG:32648").unwrap_err().to_string();
        assert!(
            e.contains("bbox-crs=EPSG:32648") && e.contains("EPSG/0/9215"),
            "{e}"
        );
    }

    #[test]
    fn axis_order_and_a_round_trip() {
        let p = geo::Geometry::Point(geo::Point::new(106.75, 21.85));
        // EPSG:4326 is latitude first.
        let ll = transform(&p, parse("crs", "EPSG:4326").unwrap()).unwrap();
        let geo::Geometry::Point(q) = ll else {
            panic!()
        };
        assert_eq!((q.x(), q.y()), (21.85, 106.75));
        // VN-2000 TM-3 107-15: west of the central meridian, easting below 500 km;
        // the false northing is 0, so northing ≈ 2.42e6 m at 21.85° N.
        let vn = parse("crs", "EPSG:9215").unwrap();
        let geo::Geometry::Point(e) = transform(&p, vn).unwrap() else {
            panic!()
        };
        assert!(e.x() > 440_000.0 && e.x() < 500_000.0, "{e:?}");
        assert!(e.y() > 2_400_000.0 && e.y() < 2_450_000.0, "{e:?}");
        let b = bbox_to_crs84([e.x(), e.y(), e.x(), e.y()], vn).unwrap();
        assert!(
            (b[0] - 106.75).abs() < 1e-7 && (b[1] - 21.85).abs() < 1e-7,
            "{b:?}"
        );
    }

    #[test]
    fn polygons_keep_their_coordinate_order() {
        let poly = geo::Geometry::Polygon(polygon!(
            exterior: [(x: 106.0, y: 21.0), (x: 106.1, y: 21.0), (x: 106.1, y: 21.1), (x: 106.0, y: 21.0)],
            interiors: [[(x: 106.02, y: 21.02), (x: 106.03, y: 21.02), (x: 106.03, y: 21.03), (x: 106.02, y: 21.02)]],
        ));
        let crs = parse("crs", "EPSG:4326").unwrap();
        let geo::Geometry::Polygon(t) = transform(&poly, crs).unwrap() else {
            panic!()
        };
        assert_eq!(t.exterior().0[1], geo::coord! {x: 21.0, y: 106.1});
        assert_eq!(t.interiors()[0].0[2], geo::coord! {x: 21.03, y: 106.03});
    }
}
