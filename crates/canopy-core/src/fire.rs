//! Forest fire danger: Vietnam's cumulative index and its five levels.
//!
//! The forest protection service computes, per weather station and day, the
//! cumulative index of Decision 127/2000/QĐ-BNN-KL (Ministry of Agriculture and
//! Rural Development, 1 December 2000, "Quy định về dự báo, cảnh báo cháy rừng"),
//! a Nesterov-type index:
//!
//! ```text
//! P = Σ k · t13 · d13      over the days since the last heavy rain
//! ```
//!
//! with `t13` the air temperature (°C) and `d13` the saturation deficit (hPa) at
//! 13:00, and `k = 0` on a day with rain ≥ the reset threshold (5 mm nationally),
//! which restarts the sum (the rain day's index is 0), else `k = 1`. Levels:
//! I ≤ 1,000, II 1,001–2,500, III 2,501–5,000, IV 5,001–10,000, V > 10,000.
//! A province's People's Committee may set its own thresholds and rain rule
//! (Decree 156/2018/NĐ-CP art. 46), so both are a [`DangerScheme`] (the region
//! file's `[fire]` section); [`DangerScheme::default`] is the national scheme.
//!
//! The saturation deficit is `d = e_s(t) − e`, in hPa, with the Magnus formula
//! `e_s(t) = 6.112 · exp(17.62 t / (243.12 + t))` (WMO Guide No. 8, 2018, Annex
//! 4.B, over water) and the vapour pressure `e = e_s(t) · RH / 100` from relative
//! humidity, or `e = e_s(t_dew)` from the dew point.
//!
//! Pure: no I/O, no dates (a day is given with its month, which is all the rain
//! rule needs).

use serde::{Deserialize, Serialize};

/// Saturation vapour pressure over water (hPa) at `t` °C, Magnus (WMO 2018).
pub fn saturation_vapour_pressure(t: f64) -> f64 {
    6.112 * (17.62 * t / (243.12 + t)).exp()
}

/// The humidity of an observation: relative humidity (%) or dew point (°C).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Humidity {
    Relative(f64),
    DewPoint(f64),
}

/// Saturation deficit (hPa) at `t` °C and the given humidity (never negative:
/// a dew point above the air temperature is saturation).
pub fn saturation_deficit(t: f64, h: Humidity) -> f64 {
    let es = saturation_vapour_pressure(t);
    let e = match h {
        Humidity::Relative(rh) => es * rh / 100.0,
        Humidity::DewPoint(td) => saturation_vapour_pressure(td),
    };
    (es - e).max(0.0)
}

/// One day's observation at a station.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DayObs {
    /// Month 1–12 (for a rain rule that depends on the month).
    pub month: u32,
    /// Air temperature at 13:00, °C.
    pub t13: f64,
    pub humidity: Humidity,
    /// Rainfall over 24 h, mm.
    pub rain_mm: f64,
}

/// A rain threshold for some months (a province's rule, e.g. 10 mm in the wet
/// months).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RainRule {
    /// Months 1–12 the rule applies to.
    pub months: Vec<u32>,
    /// Rain (mm) from which the sum restarts.
    pub reset_mm: f64,
}

/// Thresholds and rain rule of the index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DangerScheme {
    /// Upper bounds (inclusive) of levels I, II, III and IV; above the last is V.
    pub thresholds: [f64; 4],
    /// Rain (mm) from which the sum restarts, in months no rule covers.
    pub reset_mm: f64,
    /// Month-specific rain thresholds (first matching rule wins).
    pub rain_rules: Vec<RainRule>,
}

impl Default for DangerScheme {
    /// The national scheme of Decision 127/2000/QĐ-BNN-KL.
    fn default() -> Self {
        DangerScheme {
            thresholds: [1_000.0, 2_500.0, 5_000.0, 10_000.0],
            reset_mm: 5.0,
            rain_rules: Vec::new(),
        }
    }
}

/// What is wrong with a scheme.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SchemeError {
    #[error("thresholds must be positive and increasing, got {0:?}")]
    Thresholds([f64; 4]),
    #[error("rain threshold must be ≥ 0 mm, got {0}")]
    Rain(f64),
    #[error("rain rule month {0} is not 1–12")]
    Month(u32),
}

impl DangerScheme {
    /// Checks thresholds (positive, strictly increasing), rain and months.
    pub fn check(&self) -> Result<(), SchemeError> {
        let t = self.thresholds;
        if !(t[0] > 0.0 && t.windows(2).all(|w| w[0] < w[1]) && t.iter().all(|x| x.is_finite())) {
            return Err(SchemeError::Thresholds(t));
        }
        for r in std::iter::once(self.reset_mm).chain(self.rain_rules.iter().map(|r| r.reset_mm)) {
            if !(r >= 0.0 && r.is_finite()) {
                return Err(SchemeError::Rain(r));
            }
        }
        for m in self.rain_rules.iter().flat_map(|r| &r.months) {
            if !(1..=12).contains(m) {
                return Err(SchemeError::Month(*m));
            }
        }
        Ok(())
    }

    /// The rain (mm) from which the sum restarts in `month`.
    pub fn reset_mm(&self, month: u32) -> f64 {
        self.rain_rules
            .iter()
            .find(|r| r.months.contains(&month))
            .map_or(self.reset_mm, |r| r.reset_mm)
    }

    /// The level (1 = I … 5 = V) of index `p`.
    pub fn level(&self, p: f64) -> u8 {
        1 + self.thresholds.iter().filter(|&&t| p > t).count() as u8
    }

    /// The index of each day of a station's consecutive series.
    pub fn series(&self, days: &[DayObs]) -> Vec<f64> {
        let mut p = 0.0;
        days.iter()
            .map(|d| {
                if d.rain_mm >= self.reset_mm(d.month) {
                    p = 0.0;
                } else {
                    p += d.t13 * saturation_deficit(d.t13, d.humidity);
                }
                p
            })
            .collect()
    }
}

/// Roman numeral of a level 1–5 ("?" otherwise).
pub fn level_name(level: u8) -> &'static str {
    match level {
        1 => "I",
        2 => "II",
        3 => "III",
        4 => "IV",
        5 => "V",
        _ => "?",
    }
}

/// One commune on one day.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DangerRow {
    pub commune_code: String,
    pub commune_name: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    pub index: f64,
    /// 1 (I) … 5 (V).
    pub level: u8,
    pub station: String,
    pub distance_km: f64,
    pub forest_ha: f64,
}

/// The bulletin of one day: communes at level IV and V, highest level first,
/// then most forest first.
pub fn bulletin<'a>(rows: &'a [DangerRow], date: &str) -> Vec<&'a DangerRow> {
    let mut b: Vec<&DangerRow> = rows
        .iter()
        .filter(|r| r.date == date && r.level >= 4)
        .collect();
    b.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then(b.forest_ha.total_cmp(&a.forest_ha))
            .then(a.commune_code.cmp(&b.commune_code))
    });
    b
}

/// Forest ha at each level (index 0 = I) on one day.
pub fn forest_by_level(rows: &[DangerRow], date: &str) -> [f64; 5] {
    let mut out = [0.0; 5];
    for r in rows.iter().filter(|r| r.date == date) {
        out[(r.level.clamp(1, 5) - 1) as usize] += r.forest_ha;
    }
    out
}

/// The last day of the rows.
pub fn last_date(rows: &[DangerRow]) -> Option<&str> {
    rows.iter().map(|r| r.date.as_str()).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(t13: f64, rh: f64, rain: f64) -> DayObs {
        DayObs {
            month: 1,
            t13,
            humidity: Humidity::Relative(rh),
            rain_mm: rain,
        }
    }

    #[test]
    fn magnus_known_values() {
        // e_s(0) = 6.112 exactly; e_s(20) = 6.112·e^(352.4/263.12) = 6.112·e^1.339313
        // = 23.326 hPa (tables: 23.39); e_s(30) = 6.112·e^(528.6/273.12) =
        // 6.112·e^1.935413 = 42.337 hPa (tables: 42.46): Magnus is within 0.3 %.
        assert_eq!(saturation_vapour_pressure(0.0), 6.112);
        assert!((saturation_vapour_pressure(20.0) - 23.326).abs() < 0.001);
        assert!((saturation_vapour_pressure(30.0) - 42.337).abs() < 0.001);
    }

    #[test]
    fn deficit_from_rh_and_dew_point_agree() {
        // Hand-worked: t = 30 °C, RH = 50 % → d = 42.337/2 = 21.169 hPa.
        let d = saturation_deficit(30.0, Humidity::Relative(50.0));
        assert!((d - 21.169).abs() < 0.001, "{d}");
        // The dew point of 30 °C at 50 % (Magnus inverse) gives the same deficit.
        let e: f64 = saturation_vapour_pressure(30.0) * 0.5;
        let g = (e / 6.112).ln();
        let td = 243.12 * g / (17.62 - g);
        let d2 = saturation_deficit(30.0, Humidity::DewPoint(td));
        assert!((d - d2).abs() < 1e-9);
        // Saturated (RH 100, or dew point above the air temperature) → 0.
        assert_eq!(saturation_deficit(25.0, Humidity::Relative(100.0)), 0.0);
        assert_eq!(saturation_deficit(25.0, Humidity::DewPoint(26.0)), 0.0);
    }

    #[test]
    fn hand_worked_series_with_rain_reset() {
        // Hand-worked with e_s(30) = 42.3372, e_s(25) = 31.6006, e_s(20) = 23.3260:
        // day 1: 30 °C, 50 %: 30 × 21.1686 = 635.06
        // day 2: 25 °C, 40 %: 25 × 18.9603 = 474.01 → 1109.07
        // day 3: 6 mm rain → 0 (reset, national 5 mm)
        // day 4: 20 °C, 60 %: 20 × 9.3304 = 186.61
        // day 5: 4.9 mm (below the threshold) 30 °C, 50 % → 186.61 + 635.06 = 821.67
        let s = DangerScheme::default();
        let p = s.series(&[
            day(30.0, 50.0, 0.0),
            day(25.0, 40.0, 0.0),
            day(30.0, 30.0, 6.0),
            day(20.0, 60.0, 0.0),
            day(30.0, 50.0, 4.9),
        ]);
        let want = [635.06, 1109.07, 0.0, 186.61, 821.67];
        for (g, w) in p.iter().zip(want) {
            assert!((g - w).abs() < 0.01, "{p:?}");
        }
        // Exactly the threshold resets.
        assert_eq!(
            s.series(&[day(30.0, 50.0, 0.0), day(30.0, 50.0, 5.0)])[1],
            0.0
        );
    }

    #[test]
    fn month_rules_change_the_reset() {
        // Thừa Thiên Huế-like: 10 mm in months 9–12; 7 mm in October does not reset.
        let s = DangerScheme {
            rain_rules: vec![RainRule {
                months: vec![9, 10, 11, 12],
                reset_mm: 10.0,
            }],
            ..Default::default()
        };
        let mut d = day(30.0, 50.0, 7.0);
        d.month = 10;
        let p = s.series(&[day(30.0, 50.0, 0.0), d]);
        assert!(p[1] > p[0]);
        d.month = 3;
        assert_eq!(s.series(&[day(30.0, 50.0, 0.0), d])[1], 0.0);
        assert_eq!(s.reset_mm(11), 10.0);
        assert_eq!(s.reset_mm(1), 5.0);
    }

    #[test]
    fn level_boundaries() {
        let s = DangerScheme::default();
        for (p, l) in [
            (0.0, 1),
            (1000.0, 1),
            (1000.5, 2),
            (2500.0, 2),
            (2501.0, 3),
            (5000.0, 3),
            (5001.0, 4),
            (10_000.0, 4),
            (10_000.1, 5),
            (1e9, 5),
        ] {
            assert_eq!(s.level(p), l, "P = {p}");
        }
        assert_eq!(level_name(4), "IV");
        // A province's scheme (Huế 2022): 5,000/10,000/15,000/20,000.
        let hue = DangerScheme {
            thresholds: [5_000.0, 10_000.0, 15_000.0, 20_000.0],
            ..Default::default()
        };
        assert_eq!(hue.level(12_000.0), 3);
        assert!(hue.check().is_ok());
    }

    #[test]
    fn bad_schemes_are_rejected() {
        let mut s = DangerScheme::default();
        s.thresholds = [1000.0, 900.0, 5000.0, 10000.0];
        assert!(matches!(s.check(), Err(SchemeError::Thresholds(_))));
        let mut s = DangerScheme::default();
        s.reset_mm = -1.0;
        assert_eq!(s.check(), Err(SchemeError::Rain(-1.0)));
        let mut s = DangerScheme::default();
        s.rain_rules = vec![RainRule {
            months: vec![13],
            reset_mm: 5.0,
        }];
        assert_eq!(s.check(), Err(SchemeError::Month(13)));
    }
}
