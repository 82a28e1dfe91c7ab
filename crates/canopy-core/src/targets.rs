//! Progress against the provinces' plan targets.
//!
//! Two kinds of target come from the plans (`targets.toml`): a forest-cover rate
//! to reach by a year (Cao Bằng: 55.43 % by 2026), and a planting-zone area per
//! species, between a minimum and a maximum, in named communes (Lạng Sơn: pine
//! 155,000–160,000 ha by 2030). This module does the arithmetic on measured
//! figures only; reading files and stores is the pipeline's job.
//!
//! The trend is a **linear projection**: the least-squares line through the
//! measured cover of every epoch (with two epochs, the line through both),
//! extended to the end of the target year. It is a statement about the current
//! pace, not a forecast, and the report says so.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::text::fold;

/// A forest-cover target: `pct` % of the natural area by the end of `year`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CoverTarget {
    pub province: String,
    pub year: i32,
    pub pct: f64,
}

/// A planting-zone target for one species.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ZoneTarget {
    /// Filled from the table key (`[zone_target.pine]` → "pine").
    #[serde(default)]
    pub species: String,
    pub province: String,
    /// Vietnamese name ("Thông").
    #[serde(default)]
    pub name_vi: String,
    pub year: i32,
    pub min_ha: f64,
    pub max_ha: f64,
    /// Communes the plan names for this species.
    #[serde(default)]
    pub communes: Vec<String>,
}

/// One measured point of a cover series.
#[derive(Clone, Debug, PartialEq)]
pub struct CoverPoint {
    pub epoch: String,
    /// The epoch's date as a decimal year (2025-12-31 → 2025.997…).
    pub year: f64,
    pub cover_pct: f64,
}

/// Where a cover target stands.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CoverProgress {
    pub target: CoverTarget,
    /// The latest epoch with a measured cover.
    pub latest_epoch: String,
    pub latest_pct: f64,
    /// `target − latest`, percentage points (negative: above the target).
    pub gap_pp: f64,
    /// The gap as forest area: `gap_pp / 100 × natural_ha`.
    pub gap_ha: f64,
    /// Slope of the linear trend, pp per year (`None` with a single epoch).
    pub trend_pp_per_year: Option<f64>,
    /// The trend's value at the end of the target year.
    pub projected_pct: Option<f64>,
    pub status: CoverStatus,
}

/// The verdict on a cover target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CoverStatus {
    /// The latest measured cover is at or above the target.
    Met,
    /// Not yet met; the linear trend reaches it by the end of the target year.
    OnTrack,
    /// Not yet met; at the current pace it is not reached in time.
    OffTrack,
    /// Not met and the target year ended before the latest epoch.
    Missed,
    /// Not met, one epoch only: no trend to project.
    NoTrend,
}

impl CoverStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CoverStatus::Met => "met",
            CoverStatus::OnTrack => "on track",
            CoverStatus::OffTrack => "off track",
            CoverStatus::Missed => "missed",
            CoverStatus::NoTrend => "no trend (one epoch)",
        }
    }
}

/// The end of a target year as a decimal year (targets are "by `year`").
pub fn end_of_year(year: i32) -> f64 {
    year as f64 + 1.0
}

/// Least-squares slope and intercept of `(x, y)` points; `None` for fewer than
/// two distinct x.
pub fn linear_fit(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    Some((slope, my - slope * mx))
}

/// Progress of a cover target from the measured series (in date order) and the
/// province's natural area. `None` when nothing was measured.
pub fn cover_progress(
    target: &CoverTarget,
    series: &[CoverPoint],
    natural_ha: f64,
) -> Option<CoverProgress> {
    let latest = series.last()?;
    let gap_pp = target.pct - latest.cover_pct;
    let fit = linear_fit(
        &series
            .iter()
            .map(|p| (p.year, p.cover_pct))
            .collect::<Vec<_>>(),
    );
    let deadline = end_of_year(target.year);
    // Projecting backwards to a deadline already past says nothing.
    let projected = fit
        .filter(|_| deadline > latest.year)
        .map(|(a, b)| a * deadline + b);
    let status = if gap_pp <= 0.0 {
        CoverStatus::Met
    } else if deadline <= latest.year {
        CoverStatus::Missed
    } else {
        match projected {
            None => CoverStatus::NoTrend,
            Some(p) if p >= target.pct => CoverStatus::OnTrack,
            Some(_) => CoverStatus::OffTrack,
        }
    };
    Some(CoverProgress {
        target: target.clone(),
        latest_epoch: latest.epoch.clone(),
        latest_pct: latest.cover_pct,
        gap_pp,
        gap_ha: gap_pp / 100.0 * natural_ha,
        trend_pp_per_year: fit.map(|f| f.0),
        projected_pct: projected,
        status,
    })
}

/// Where a species' zone-area target stands.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ZoneProgress {
    pub target: ZoneTarget,
    /// Measured zone area of the species in the province (overlaps counted once).
    pub zone_ha: f64,
    pub status: ZoneStatus,
    /// Hectares still to plan to reach `min_ha` (0 when reached).
    pub shortfall_ha: f64,
    /// Hectares above `max_ha` (0 when within).
    pub excess_ha: f64,
    /// Named communes with no zone of this species yet (plan order).
    pub communes_without_zone: Vec<String>,
    /// Named communes that are not communes of the region (names as written).
    pub unknown_communes: Vec<String>,
}

/// The verdict on a zone-area target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ZoneStatus {
    /// No zone of this species at all.
    NoZones,
    Below,
    Within,
    Above,
}

impl ZoneStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneStatus::NoZones => "no zones",
            ZoneStatus::Below => "below",
            ZoneStatus::Within => "within",
            ZoneStatus::Above => "above",
        }
    }
}

/// Progress of a zone target. `has_zone(name)` says whether a commune (as named
/// in the plan) has a zone of the species: `Some(bool)` for a known commune,
/// `None` for a name that is not a commune of the region.
pub fn zone_progress(
    target: &ZoneTarget,
    zone_ha: f64,
    has_zone: impl Fn(&str) -> Option<bool>,
) -> ZoneProgress {
    let status = if zone_ha <= 0.0 {
        ZoneStatus::NoZones
    } else if zone_ha < target.min_ha {
        ZoneStatus::Below
    } else if zone_ha > target.max_ha {
        ZoneStatus::Above
    } else {
        ZoneStatus::Within
    };
    let mut without = Vec::new();
    let mut unknown = Vec::new();
    for name in &target.communes {
        match has_zone(name) {
            Some(true) => {}
            Some(false) => without.push(name.clone()),
            None => unknown.push(name.clone()),
        }
    }
    ZoneProgress {
        target: target.clone(),
        zone_ha,
        status,
        shortfall_ha: (target.min_ha - zone_ha).max(0.0),
        excess_ha: (zone_ha - target.max_ha).max(0.0),
        communes_without_zone: without,
        unknown_communes: unknown,
    }
}

/// The targets that apply to a region, and what was noticed reading them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    pub cover: Vec<CoverTarget>,
    pub zones: Vec<ZoneTarget>,
    pub warnings: Vec<String>,
}

/// A `YYYY-MM-DD` date as a decimal year (2025-12-31 → 2025 + 364/365).
pub fn decimal_year(date: &str) -> Option<f64> {
    use chrono::Datelike;
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    let days = if d.leap_year() { 366.0 } else { 365.0 };
    Some(d.year() as f64 + (d.ordinal0() as f64) / days)
}

/// Progress on every target of a region.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Progress {
    pub cover: Vec<CoverProgress>,
    pub zones: Vec<ZoneProgress>,
    /// Warnings from reading the targets and from measuring them.
    pub warnings: Vec<String>,
    /// How the trend is computed (said wherever progress is shown).
    pub method: &'static str,
}

/// The sentence that goes with every projection.
pub const METHOD: &str = "Trend = least-squares line through the province cover of every \
epoch, extended to the end of the target year (a linear projection at the current pace, \
not a forecast).";

/// What progress is measured on: figures read back from a store.
pub struct Measured<'a> {
    /// Province cover per epoch, date order: (epoch id, date, cover %).
    pub province_cover: &'a [(String, String, Option<f64>)],
    pub province_natural_ha: f64,
    /// Zone area per species in the province (overlaps counted once).
    pub species_ha: &'a BTreeMap<String, f64>,
    /// Commune names (NFC) per species that has a zone in them.
    pub communes_with_species: &'a BTreeMap<String, BTreeSet<String>>,
    /// Every commune name of the region (NFC).
    pub commune_names: &'a [String],
}

/// Measures every target.
pub fn progress(targets: &Targets, m: &Measured) -> Progress {
    let mut warnings = targets.warnings.clone();
    let series: Vec<CoverPoint> = m
        .province_cover
        .iter()
        .filter_map(|(id, date, pct)| {
            Some(CoverPoint {
                epoch: id.clone(),
                year: decimal_year(date)?,
                cover_pct: (*pct)?,
            })
        })
        .collect();
    let cover = targets
        .cover
        .iter()
        .filter_map(|t| cover_progress(t, &series, m.province_natural_ha))
        .collect();
    let names: BTreeMap<String, &String> = m.commune_names.iter().map(|n| (fold(n), n)).collect();
    let zones = targets
        .zones
        .iter()
        .map(|t| {
            let ha = m.species_ha.get(&t.species).copied().unwrap_or(0.0);
            if ha <= 0.0 {
                warnings.push(format!(
                    "species {} has a zone target ({}–{} ha by {}) but no zone polygon",
                    t.species, t.min_ha, t.max_ha, t.year
                ));
            }
            let with = m.communes_with_species.get(&t.species);
            let p = zone_progress(t, ha, |name| {
                names
                    .get(&fold(name))
                    .map(|n| with.is_some_and(|w| w.contains(*n)))
            });
            if !p.unknown_communes.is_empty() {
                warnings.push(format!(
                    "zone target {}: {} not a commune of the region",
                    t.species,
                    p.unknown_communes.join(", ")
                ));
            }
            p
        })
        .collect();
    Progress {
        cover,
        zones,
        warnings,
        method: METHOD,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(year: i32, pct: f64) -> CoverTarget {
        CoverTarget {
            province: "Cao Bằng".into(),
            year,
            pct,
        }
    }

    fn pt(epoch: &str, year: f64, pct: f64) -> CoverPoint {
        CoverPoint {
            epoch: epoch.into(),
            year,
            cover_pct: pct,
        }
    }

    #[test]
    fn on_track_by_hand() {
        // 54.0 % at 2024.0, 54.5 % at 2025.0: +0.5 pp/yr. Target 55.43 % by the
        // end of 2026 (2027.0): 54.5 + 2 × 0.5 = 55.5 ≥ 55.43 → on track.
        // Province of 670,000 ha: gap 0.93 pp = 6,231 ha.
        let p = cover_progress(
            &target(2026, 55.43),
            &[pt("2024", 2024.0, 54.0), pt("2025", 2025.0, 54.5)],
            670_000.0,
        )
        .unwrap();
        assert_eq!(p.latest_epoch, "2025");
        assert!((p.gap_pp - 0.93).abs() < 1e-12);
        assert!((p.gap_ha - 6_231.0).abs() < 1e-6);
        assert!((p.trend_pp_per_year.unwrap() - 0.5).abs() < 1e-12);
        assert!((p.projected_pct.unwrap() - 55.5).abs() < 1e-9);
        assert_eq!(p.status, CoverStatus::OnTrack);
    }

    #[test]
    fn off_track_by_hand() {
        // +0.3 pp/yr from 54.5 at 2025.0 gives 55.1 at 2027.0 < 55.43.
        let p = cover_progress(
            &target(2026, 55.43),
            &[pt("a", 2024.0, 54.2), pt("b", 2025.0, 54.5)],
            100.0,
        )
        .unwrap();
        assert!((p.projected_pct.unwrap() - 55.1).abs() < 1e-9);
        assert_eq!(p.status, CoverStatus::OffTrack);
        // A falling trend is off track too.
        let p = cover_progress(
            &target(2030, 56.15),
            &[pt("a", 2024.0, 55.0), pt("b", 2025.0, 54.0)],
            100.0,
        )
        .unwrap();
        assert_eq!(p.status, CoverStatus::OffTrack);
        assert!((p.trend_pp_per_year.unwrap() + 1.0).abs() < 1e-12);
    }

    #[test]
    fn met_missed_and_single_epoch() {
        let met = cover_progress(&target(2030, 50.0), &[pt("a", 2025.0, 51.0)], 200.0).unwrap();
        assert_eq!(met.status, CoverStatus::Met);
        assert!(
            (met.gap_ha + 2.0).abs() < 1e-12,
            "negative gap: above target"
        );
        // Lạng Sơn's 64.2 % by 2023, measured at the end of 2024 and 2025 below it.
        let missed = cover_progress(
            &target(2023, 64.2),
            &[pt("2024", 2024.997, 60.0), pt("2025", 2025.997, 61.0)],
            100.0,
        )
        .unwrap();
        assert_eq!(missed.status, CoverStatus::Missed);
        assert_eq!(missed.projected_pct, None, "no projection into the past");
        assert!((missed.trend_pp_per_year.unwrap() - 1.0).abs() < 1e-9);
        let one = cover_progress(&target(2030, 60.0), &[pt("a", 2025.0, 50.0)], 100.0).unwrap();
        assert_eq!(one.status, CoverStatus::NoTrend);
        assert_eq!(one.projected_pct, None);
        assert!(cover_progress(&target(2030, 60.0), &[], 1.0).is_none());
    }

    #[test]
    fn least_squares_by_hand() {
        // (0,1), (1,3), (2,2): mean x 1, mean y 2, sxy = (−1)(−1)+0+(1)(0) = 1,
        // sxx = 2 → slope 0.5, intercept 1.5.
        let (a, b) = linear_fit(&[(0.0, 1.0), (1.0, 3.0), (2.0, 2.0)]).unwrap();
        assert!((a - 0.5).abs() < 1e-15 && (b - 1.5).abs() < 1e-15);
        assert!(linear_fit(&[(1.0, 1.0), (1.0, 2.0)]).is_none());
    }

    #[test]
    fn zone_target_by_hand() {
        let t = ZoneTarget {
            species: "pine".into(),
            province: "Lạng Sơn".into(),
            name_vi: "Thông".into(),
            year: 2030,
            min_ha: 155_000.0,
            max_ha: 160_000.0,
            communes: vec!["Đình Lập".into(), "Lộc Bình".into(), "Nowhere".into()],
        };
        let has = |n: &str| match n {
            "Đình Lập" => Some(true),
            "Lộc Bình" => Some(false),
            _ => None,
        };
        let p = zone_progress(&t, 150_000.0, has);
        assert_eq!(p.status, ZoneStatus::Below);
        assert_eq!(p.shortfall_ha, 5_000.0);
        assert_eq!(p.excess_ha, 0.0);
        assert_eq!(p.communes_without_zone, vec!["Lộc Bình".to_string()]);
        assert_eq!(p.unknown_communes, vec!["Nowhere".to_string()]);
        assert_eq!(zone_progress(&t, 157_000.0, has).status, ZoneStatus::Within);
        let above = zone_progress(&t, 161_000.0, has);
        assert_eq!(
            (above.status, above.excess_ha),
            (ZoneStatus::Above, 1_000.0)
        );
        assert_eq!(zone_progress(&t, 0.0, has).status, ZoneStatus::NoZones);
    }
}
