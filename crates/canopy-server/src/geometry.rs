//! GeoJSON geometry encoding per RFC 7946.
//!
//! Stores hold EPSG:4326 geometries in lon/lat order (GIS axis order), which is what
//! RFC 7946 wants. Here they are oriented by the right-hand rule (exterior rings
//! counter-clockwise, holes clockwise), rounded to 1e-7 degree (about 1 cm, far below a
//! 10 m pixel, and it keeps responses small) and serialized once, when a snapshot is
//! loaded, so a page of features is only string copies.

use geo::{MapCoords, Orient};
use serde_json::value::RawValue;

/// Decimal places of served coordinates.
pub const DECIMALS: i32 = 7;

fn round(x: f64) -> f64 {
    let k = 10f64.powi(DECIMALS);
    (x * k).round() / k
}

/// The geometry oriented and rounded, ready to serve.
pub fn prepare(g: &geo::Geometry<f64>) -> geo::Geometry<f64> {
    let oriented = match g {
        geo::Geometry::Polygon(p) => {
            geo::Geometry::Polygon(p.orient(geo::orient::Direction::Default))
        }
        geo::Geometry::MultiPolygon(p) => {
            geo::Geometry::MultiPolygon(p.orient(geo::orient::Direction::Default))
        }
        other => other.clone(),
    };
    oriented.map_coords(|c| geo::Coord {
        x: round(c.x),
        y: round(c.y),
    })
}

/// The GeoJSON text of a prepared geometry.
pub fn to_json(g: &geo::Geometry<f64>) -> Box<RawValue> {
    let gj = geojson::Geometry::new(geojson::Value::from(g));
    let text = serde_json::to_string(&gj).expect("a geometry serializes");
    RawValue::from_string(text).expect("serde_json wrote valid JSON")
}

/// `[min lon, min lat, max lon, max lat]`, rounded outwards like the coordinates.
pub fn bbox(g: &geo::Geometry<f64>) -> Option<[f64; 4]> {
    canopy_core::bbox::of(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{polygon, Area};

    #[test]
    fn rings_follow_the_right_hand_rule_and_are_rounded() {
        // clockwise exterior, counter-clockwise hole: both must be reversed
        let p = polygon!(
            exterior: [(x: 0.0, y: 0.0), (x: 0.0, y: 1.000000049), (x: 1.0, y: 1.0), (x: 1.0, y: 0.0)],
            interiors: [[(x: 0.2, y: 0.2), (x: 0.4, y: 0.2), (x: 0.4, y: 0.4), (x: 0.2, y: 0.4)]],
        );
        let g = prepare(&geo::Geometry::Polygon(p));
        let geo::Geometry::Polygon(q) = &g else {
            panic!()
        };
        assert!(geo::Polygon::new(q.exterior().clone(), vec![]).signed_area() > 0.0);
        assert!(geo::Polygon::new(q.interiors()[0].clone(), vec![]).signed_area() < 0.0);
        let text = to_json(&g).get().to_string();
        assert!(
            text.contains("1.0000000") || text.contains("[0.0,1.0]"),
            "{text}"
        );
        assert!(!text.contains("049"), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["type"], "Polygon");
        assert_eq!(bbox(&g), Some([0.0, 0.0, 1.0, 1.0]));
    }
}
