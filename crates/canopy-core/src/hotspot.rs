//! Satellite fire hotspots: footprints, grouping into fire events, the severity
//! of a fire event. Pure: coordinates are already in a metric CRS (metres).
//!
//! **Footprint.** A FIRMS detection is the centre of a sensor pixel whose size
//! FIRMS gives as `scan` × `track` (km): along the scan line (across the orbit)
//! and along the track. The footprint is the axis-aligned rectangle of
//! `scan` km east–west by `track` km north–south centred on the point in the
//! region's metric `area_crs`. Approximation, documented: MODIS and VIIRS fly
//! near-polar sun-synchronous orbits (inclination ≈ 98.7°), so the scan runs
//! within ≈ 9° of east–west at the latitudes of Vietnam; the rotation, the bow-tie
//! overlap of neighbouring scans and the CRS's grid convergence are ignored.
//!
//! **Fire events.** Two detections belong to the same fire when they are at most
//! [`EVENT_HOURS`] apart in time (acquisition date and UTC time) **and** their
//! footprints touch or lie within [`EVENT_GAP_M`] of each other (distance
//! between the rectangles, 0 when they overlap or touch). Events are the
//! connected groups of that relation (union-find), so a fire that spreads for
//! several days stays one event as long as every day has a detection near the
//! previous day's. Ids and order do not depend on the input order.

use geo::{Coord, MultiPolygon, Rect};

/// Hotspots at most this many hours apart can belong to the same event.
pub const EVENT_HOURS: i64 = 24;
/// Footprints at most this far apart (m) can belong to the same event.
pub const EVENT_GAP_M: f64 = 1000.0;

/// The footprint of a detection at `(x, y)` (metres) of `scan_km` × `track_km`.
pub fn footprint(x: f64, y: f64, scan_km: f64, track_km: f64) -> Rect<f64> {
    let (hx, hy) = (scan_km * 500.0, track_km * 500.0);
    Rect::new(
        Coord {
            x: x - hx,
            y: y - hy,
        },
        Coord {
            x: x + hx,
            y: y + hy,
        },
    )
}

/// Distance between two rectangles (0 when they touch or overlap).
pub fn rect_gap(a: &Rect<f64>, b: &Rect<f64>) -> f64 {
    let dx = (a.min().x.max(b.min().x) - a.max().x.min(b.max().x)).max(0.0);
    let dy = (a.min().y.max(b.min().y) - a.max().y.min(b.max().y)).max(0.0);
    dx.hypot(dy)
}

/// What grouping needs of a hotspot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// Minutes since an arbitrary origin (e.g. days since 1970 × 1440 + UTC minute).
    pub minute: i64,
    pub footprint: Rect<f64>,
}

/// Union-find with path halving and union by index (the smaller index is the root).
struct UnionFind(Vec<usize>);

impl UnionFind {
    fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            self.0[hi] = lo;
        }
    }
}

/// Groups detections into fire events. Returns the events as lists of indices
/// into `d`; each list is in (time, x, y) order, events in the order of their
/// first detection. The result does not depend on the order of `d`.
pub fn group(d: &[Detection]) -> Vec<Vec<usize>> {
    let key = |i: usize| {
        (
            d[i].minute,
            d[i].footprint.center().x,
            d[i].footprint.center().y,
        )
    };
    let mut order: Vec<usize> = (0..d.len()).collect();
    order.sort_by(|&a, &b| {
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0)
            .then(ka.1.total_cmp(&kb.1))
            .then(ka.2.total_cmp(&kb.2))
            .then(a.cmp(&b))
    });
    let mut uf = UnionFind((0..d.len()).collect());
    // Sweep in time: only pairs within EVENT_HOURS are compared.
    // Union-find over positions in `order`.
    for (p, &i) in order.iter().enumerate() {
        for (q, &j) in order.iter().enumerate().skip(p + 1) {
            if d[j].minute - d[i].minute > EVENT_HOURS * 60 {
                break;
            }
            if rect_gap(&d[i].footprint, &d[j].footprint) <= EVENT_GAP_M {
                uf.union(p, q);
            }
        }
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut root_group: std::collections::HashMap<usize, usize> = Default::default();
    for (p, &i) in order.iter().enumerate() {
        let r = uf.find(p);
        let g = *root_group.entry(r).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    groups
}

/// The outline of a set of footprints (their union).
pub fn outline(footprints: &[Rect<f64>]) -> MultiPolygon<f64> {
    geo::unary_union(
        footprints
            .iter()
            .map(|r| r.to_polygon())
            .collect::<Vec<_>>()
            .iter(),
    )
}

/// The severity of a fire event in forest:
/// - **high** when it touches forest outside every planting zone (in Canopy, as
///   for loss alerts, forest outside the production plantations' zones is the
///   natural, protection and special-use forest) or natural forest (class
///   epochs);
/// - **medium** when all the forest it touches lies in planting zones
///   (a plantation fire).
pub fn fire_severity(touches_unzoned_forest: bool, natural: bool) -> crate::change::Severity {
    if touches_unzoned_forest || natural {
        crate::change::Severity::High
    } else {
        crate::change::Severity::Medium
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(minute: i64, x: f64, y: f64, km: f64) -> Detection {
        Detection {
            minute,
            footprint: footprint(x, y, km, km),
        }
    }

    #[test]
    fn footprint_is_scan_by_track_centred() {
        let r = footprint(1000.0, 2000.0, 0.39, 0.36);
        assert_eq!((r.min().x, r.max().x), (805.0, 1195.0));
        assert_eq!((r.min().y, r.max().y), (1820.0, 2180.0));
        assert!((r.width() * r.height() - 390.0 * 360.0).abs() < 1e-6);
    }

    #[test]
    fn gap_between_rectangles() {
        let a = footprint(0.0, 0.0, 1.0, 1.0); // -500..500
        assert_eq!(rect_gap(&a, &footprint(1000.0, 0.0, 1.0, 1.0)), 0.0); // touching
        assert_eq!(rect_gap(&a, &footprint(2000.0, 0.0, 1.0, 1.0)), 1000.0);
        // Diagonal: 300 m and 400 m apart along the axes → 500 m.
        assert!((rect_gap(&a, &footprint(1300.0, 1400.0, 1.0, 1.0)) - 500.0).abs() < 1e-9);
        assert_eq!(rect_gap(&a, &footprint(100.0, 0.0, 1.0, 1.0)), 0.0); // overlapping
    }

    #[test]
    fn grouping_by_hand() {
        let day = 1440;
        let d = vec![
            // Event 1: a, b touching at the same overpass; c 900 m east of b's
            // footprint 20 h later (chains to b).
            det(0, 0.0, 0.0, 0.375),                         // 0 a
            det(0, 375.0, 0.0, 0.375),                       // 1 b (touches a)
            det(20 * 60, 375.0 + 375.0 + 900.0, 0.0, 0.375), // 2 c (gap 900 m)
            // Event 2: same place as a but 2 days later.
            det(2 * day, 0.0, 0.0, 0.375), // 3
            // Event 3: 1,001 m from a's footprint, same time.
            det(0, -375.0 - 1001.0, 0.0, 0.375), // 4
            // Event 4: within 1 km of c but 25 h after it.
            det(20 * 60 + 25 * 60, 1650.0, 500.0, 0.375), // 5
        ];
        // In (time, x) order: 4 alone (1,001 m), a-b-c, 5 alone (25 h), 3 alone (28 h).
        assert_eq!(group(&d), vec![vec![4], vec![0, 1, 2], vec![5], vec![3]]);
    }

    #[test]
    fn grouping_does_not_depend_on_input_order() {
        let d = vec![
            det(0, 0.0, 0.0, 1.0),
            det(30, 1500.0, 0.0, 1.0),
            det(3000, 0.0, 0.0, 1.0),
            det(60, 9000.0, 0.0, 1.0),
        ];
        let g = group(&d);
        let mut rev = d.clone();
        rev.reverse();
        let n = d.len() - 1;
        let gr: Vec<Vec<usize>> = group(&rev)
            .into_iter()
            .map(|v| v.into_iter().map(|i| n - i).collect())
            .collect();
        assert_eq!(g, gr);
        assert_eq!(g, vec![vec![0, 1], vec![3], vec![2]]);
    }

    #[test]
    fn outline_of_touching_footprints_is_one_polygon() {
        let o = outline(&[
            footprint(0.0, 0.0, 1.0, 1.0),
            footprint(1000.0, 0.0, 1.0, 1.0),
        ]);
        use geo::Area;
        assert_eq!(o.0.len(), 1);
        assert!((o.unsigned_area() - 2.0e6).abs() < 1e-3);
        let o = outline(&[
            footprint(0.0, 0.0, 1.0, 1.0),
            footprint(500.0, 0.0, 1.0, 1.0),
        ]);
        assert!((o.unsigned_area() - 1.5e6).abs() < 1e-3);
    }

    #[test]
    fn severity_rule() {
        use crate::change::Severity;
        assert_eq!(fire_severity(true, false), Severity::High);
        assert_eq!(fire_severity(false, true), Severity::High);
        assert_eq!(fire_severity(false, false), Severity::Medium);
    }
}
