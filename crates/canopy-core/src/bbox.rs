//! Bounding boxes as `[min x, min y, max x, max y]` (the order of GeoJSON's and
//! OGC API's `bbox`, and of a GeoPackage's extent).

use geo::BoundingRect;

/// The box of `g` (`None` when it is empty).
pub fn of<G: BoundingRect<f64>>(g: &G) -> Option<[f64; 4]>
where
    G::Output: Into<Option<geo::Rect<f64>>>,
{
    let r = g.bounding_rect().into()?;
    Some([r.min().x, r.min().y, r.max().x, r.max().y])
}

/// The union of a box so far (`None`: none yet) and box `b`.
pub fn union(a: Option<[f64; 4]>, b: [f64; 4]) -> [f64; 4] {
    match a {
        None => b,
        Some(a) => [
            a[0].min(b[0]),
            a[1].min(b[1]),
            a[2].max(b[2]),
            a[3].max(b[3]),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{line_string, MultiPolygon};

    #[test]
    fn boxes_and_their_union() {
        let l = line_string![(x: 3.0, y: -1.0), (x: -2.0, y: 4.0)];
        assert_eq!(of(&l), Some([-2.0, -1.0, 3.0, 4.0]));
        assert_eq!(of(&MultiPolygon::<f64>(vec![])), None);
        assert_eq!(union(None, [0.0, 1.0, 2.0, 3.0]), [0.0, 1.0, 2.0, 3.0]);
        assert_eq!(
            union(Some([0.0, 1.0, 2.0, 3.0]), [-1.0, 2.0, 1.0, 5.0]),
            [-1.0, 1.0, 2.0, 5.0]
        );
    }
}
