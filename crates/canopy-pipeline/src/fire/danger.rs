//! Fire danger per commune and day, from the stations' index.
//!
//! Each station's series is computed with [`canopy_core::fire::DangerScheme::series`];
//! a commune takes, each day, the index of the **nearest station that reported
//! that day** (great-circle distance from the commune's interior point, so the
//! point lies inside even a crescent-shaped commune). Nearest rather than
//! inverse-distance weighting: the index is a running sum reset by rain, and an
//! average of two stations' sums is a value neither station's history produced;
//! the forest protection offices publish the nearest station's level too. The
//! station and its distance are stored with every row, so a reader can judge.
//!
//! The forest exposed is the commune's forest ha in the latest epoch.

use std::collections::{BTreeMap, BTreeSet};

use canopy_core::fire::DangerScheme;
use chrono::NaiveDate;
use geo::{Distance, Haversine, InteriorPoint, Point};

use super::stations::Station;
pub use canopy_core::fire::{bulletin, forest_by_level, last_date, DangerRow};

/// A commune's position and forest, as the danger job needs them.
#[derive(Debug, Clone)]
pub struct CommuneSite {
    pub code: String,
    pub name: String,
    /// WGS84 (lon, lat) interior point.
    pub point: Point<f64>,
    /// Forest ha in the latest epoch.
    pub forest_ha: f64,
}

impl CommuneSite {
    /// A site from a commune outline in WGS84.
    pub fn new(code: &str, name: &str, geom: &geo::MultiPolygon<f64>, forest_ha: f64) -> Self {
        CommuneSite {
            code: code.into(),
            name: name.into(),
            point: geom
                .interior_point()
                .unwrap_or(Point::new(f64::NAN, f64::NAN)),
            forest_ha,
        }
    }
}

/// Every commune × every day some station reported, communes in input order,
/// days in order.
pub fn per_commune(
    stations: &[Station],
    scheme: &DangerScheme,
    communes: &[CommuneSite],
) -> Vec<DangerRow> {
    // Station → date → index.
    let series: Vec<BTreeMap<NaiveDate, f64>> = stations
        .iter()
        .map(|s| {
            let obs: Vec<_> = s.days.iter().map(|(_, o)| *o).collect();
            s.days
                .iter()
                .map(|(d, _)| *d)
                .zip(scheme.series(&obs))
                .collect()
        })
        .collect();
    let dates: BTreeSet<NaiveDate> = series.iter().flat_map(|m| m.keys().copied()).collect();
    let mut rows = Vec::new();
    for c in communes {
        let mut near: Vec<(f64, usize)> = stations
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (
                    Haversine.distance(c.point, Point::new(s.lon, s.lat)) / 1000.0,
                    i,
                )
            })
            .collect();
        near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for d in &dates {
            if let Some((km, i, p)) = near
                .iter()
                .find_map(|&(km, i)| series[i].get(d).map(|p| (km, i, *p)))
            {
                rows.push(DangerRow {
                    commune_code: c.code.clone(),
                    commune_name: c.name.clone(),
                    date: d.to_string(),
                    index: p,
                    level: scheme.level(p),
                    station: stations[i].id.clone(),
                    distance_km: km,
                    forest_ha: c.forest_ha,
                });
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use canopy_core::fire::{DayObs, Humidity};

    fn station(id: &str, lon: f64, lat: f64, days: &[(&str, f64, f64, f64)]) -> Station {
        Station {
            id: id.into(),
            lon,
            lat,
            days: days
                .iter()
                .map(|&(d, t, rh, rain)| {
                    (
                        d.parse().unwrap(),
                        DayObs {
                            month: 1,
                            t13: t,
                            humidity: Humidity::Relative(rh),
                            rain_mm: rain,
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn nearest_reporting_station_and_bulletin() {
        // Station A at the commune X, B 0.5° east (near Y). A misses day 2.
        let a = station(
            "A",
            106.0,
            22.0,
            &[
                ("2026-01-01", 30.0, 50.0, 0.0),
                ("2026-01-03", 30.0, 50.0, 0.0),
            ],
        );
        let b = station(
            "B",
            106.5,
            22.0,
            &[
                ("2026-01-01", 30.0, 10.0, 0.0),
                ("2026-01-02", 30.0, 10.0, 0.0),
                ("2026-01-03", 30.0, 10.0, 9.0),
            ],
        );
        let sq = |x: f64| {
            geo::MultiPolygon(vec![geo::Polygon::new(
                geo::LineString::from(vec![
                    (x - 0.01, 21.99),
                    (x + 0.01, 21.99),
                    (x + 0.01, 22.01),
                    (x - 0.01, 22.01),
                    (x - 0.01, 21.99),
                ]),
                vec![],
            )])
        };
        let communes = [
            CommuneSite::new("X", "Xã X", &sq(106.0), 100.0),
            CommuneSite::new("Y", "Xã Y", &sq(106.45), 40.0),
        ];
        // Thresholds low enough that B's dry days reach IV/V.
        let scheme = DangerScheme {
            thresholds: [100.0, 500.0, 1000.0, 1500.0],
            ..Default::default()
        };
        let rows = per_commune(&[a, b], &scheme, &communes);
        assert_eq!(rows.len(), 6);
        // B: d = e_s(30)·0.9 = 38.1035 hPa → 1143.10 per day.
        // X, day 2: A did not report, so B (≈51.6 km away) gives 2286.21 → V.
        let x2 = &rows[1];
        assert_eq!((x2.station.as_str(), x2.level), ("B", 5));
        assert!((x2.index - 2286.21).abs() < 0.01, "{x2:?}");
        assert!((x2.distance_km - 51.6).abs() < 0.2, "{x2:?}");
        // X, day 3: A again (gap carried: 2 × 635.06 = 1270.12 → IV).
        assert_eq!((rows[2].station.as_str(), rows[2].level), ("A", 4));
        assert!((rows[2].index - 1270.12).abs() < 0.01);
        // Y, day 3: B reset by 9 mm.
        assert_eq!((rows[5].index, rows[5].level), (0.0, 1));
        let bul = bulletin(&rows, "2026-01-02");
        assert_eq!(
            bul.iter()
                .map(|r| r.commune_code.as_str())
                .collect::<Vec<_>>(),
            ["X", "Y"]
        );
        assert_eq!(
            forest_by_level(&rows, "2026-01-02"),
            [0.0, 0.0, 0.0, 0.0, 140.0]
        );
        assert_eq!(last_date(&rows), Some("2026-01-03"));
    }
}
