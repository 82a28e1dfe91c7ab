//! Burned area from a SWIR band: the Normalized Burn Ratio, its difference
//! between two epochs and the burn-severity classes, the per-pixel burn codes a
//! strip is summed by (`pipeline::burn`), and the cause of a loss alert
//! ([`AlertCause`]: `fire` when more than half of it burned). Pure.
//!
//! - `NBR = (NIR − SWIR2) / (NIR + SWIR2)` on surface reflectance (Sentinel-2
//!   B8 and B12, Landsat 8/9 SR_B5 and SR_B7);
//! - `dNBR = NBR(before) − NBR(after)`: burning lowers NIR and raises SWIR2, so
//!   a burn is a positive dNBR;
//! - classes of Key & Benson (2006), *Landscape Assessment: Ground measure of
//!   severity, the Composite Burn Index; and Remote sensing of severity, the
//!   Normalized Burn Ratio*, FIREMON, USDA Forest Service RMRS-GTR-164-CD, as
//!   the USGS tabulates them (dNBR × 1000): enhanced regrowth high < −250,
//!   enhanced regrowth low −250…−101, unburned −100…+99, low severity
//!   +100…+269, moderate-low +270…+439, moderate-high +440…+659, high ≥ +660.
//!   "Burned" is low severity or worse (dNBR ≥ 0.100).

/// NBR of one pixel; `None` when the sum is not positive or a value is not finite.
pub fn nbr(nir: f64, swir2: f64) -> Option<f64> {
    let s = nir + swir2;
    (nir.is_finite() && swir2.is_finite() && s > 0.0).then(|| (nir - swir2) / s)
}

/// `NBR(before) − NBR(after)`.
pub fn dnbr(before: f64, after: f64) -> f64 {
    before - after
}

/// Burn-severity classes (Key & Benson 2006), least to most severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BurnClass {
    RegrowthHigh,
    RegrowthLow,
    Unburned,
    Low,
    ModerateLow,
    ModerateHigh,
    High,
}

/// Burn code of a pixel that was forest in the earlier epoch but has no dNBR
/// (no clear SWIR observation in one of the epochs).
pub const CODE_NO_DNBR: u8 = 7;
/// Burn code of a pixel that was not (observed as) forest in the earlier epoch.
pub const CODE_NOT_FOREST: u8 = 8;
/// Number of burn codes: the seven classes (`BurnClass::index`), then the two above.
pub const BURN_CODES: usize = 9;

/// A loss alert is caused by fire when more than this share of its area burned
/// (dNBR of low severity or worse).
pub const FIRE_SHARE: f64 = 0.5;

/// Why a loss alert happened, as far as the run can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum AlertCause {
    /// Nothing tells (no burn, or no SWIR band).
    #[default]
    Unknown,
    /// More than [`FIRE_SHARE`] of the alert's area burned between its epochs.
    Fire,
}

impl AlertCause {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertCause::Unknown => "unknown",
            AlertCause::Fire => "fire",
        }
    }
    pub fn parse(s: &str) -> Option<AlertCause> {
        match s {
            "unknown" => Some(AlertCause::Unknown),
            "fire" => Some(AlertCause::Fire),
            _ => None,
        }
    }
    /// The cause of an alert of `area` of which `burned` (same unit) burned.
    pub fn of(burned: f64, area: f64) -> AlertCause {
        if area > 0.0 && burned > FIRE_SHARE * area {
            AlertCause::Fire
        } else {
            AlertCause::Unknown
        }
    }
}

/// Burn codes of a strip: for each pixel forest in the earlier epoch
/// (`forest_a[i]`), the class index of `nbr_a − nbr_b` where both are finite,
/// else [`CODE_NO_DNBR`]; [`CODE_NOT_FOREST`] elsewhere.
pub fn burn_codes(forest_a: &[bool], nbr_a: &[f32], nbr_b: &[f32], out: &mut Vec<u8>) {
    out.clear();
    out.extend(
        forest_a
            .iter()
            .zip(nbr_a.iter().zip(nbr_b))
            .map(|(&f, (&a, &b))| {
                if !f {
                    CODE_NOT_FOREST
                } else if a.is_finite() && b.is_finite() {
                    BurnClass::of(dnbr(a as f64, b as f64)).index() as u8
                } else {
                    CODE_NO_DNBR
                }
            }),
    );
}

impl BurnClass {
    /// Every class, least to most severe (index order).
    pub const ALL: [BurnClass; 7] = [
        BurnClass::RegrowthHigh,
        BurnClass::RegrowthLow,
        BurnClass::Unburned,
        BurnClass::Low,
        BurnClass::ModerateLow,
        BurnClass::ModerateHigh,
        BurnClass::High,
    ];

    /// Position in [`BurnClass::ALL`] (the burn code of a strip).
    pub fn index(self) -> usize {
        self as usize
    }

    /// A burn code that is a class of low severity or worse.
    pub fn code_is_burned(code: u8) -> bool {
        (BurnClass::Low as u8..=BurnClass::High as u8).contains(&code)
    }

    /// Short name (table columns, JSON keys).
    pub fn key(self) -> &'static str {
        match self {
            BurnClass::RegrowthHigh => "regrowth_high",
            BurnClass::RegrowthLow => "regrowth_low",
            BurnClass::Unburned => "unburned",
            BurnClass::Low => "low",
            BurnClass::ModerateLow => "moderate_low",
            BurnClass::ModerateHigh => "moderate_high",
            BurnClass::High => "high",
        }
    }

    /// The class of a dNBR value (unscaled: 0.1 = 100 on the ×1000 scale).
    pub fn of(dnbr: f64) -> BurnClass {
        let v = (dnbr * 1000.0).round();
        match v {
            v if v < -250.0 => BurnClass::RegrowthHigh,
            v if v < -100.0 => BurnClass::RegrowthLow,
            v if v < 100.0 => BurnClass::Unburned,
            v if v < 270.0 => BurnClass::Low,
            v if v < 440.0 => BurnClass::ModerateLow,
            v if v < 660.0 => BurnClass::ModerateHigh,
            _ => BurnClass::High,
        }
    }

    /// Low severity or worse.
    pub fn is_burned(self) -> bool {
        self >= BurnClass::Low
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BurnClass::RegrowthHigh => "enhanced regrowth, high",
            BurnClass::RegrowthLow => "enhanced regrowth, low",
            BurnClass::Unburned => "unburned",
            BurnClass::Low => "low severity",
            BurnClass::ModerateLow => "moderate-low severity",
            BurnClass::ModerateHigh => "moderate-high severity",
            BurnClass::High => "high severity",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nbr_by_hand() {
        // Healthy forest: NIR 0.30, SWIR2 0.05 → 0.25 / 0.35.
        assert!((nbr(0.30, 0.05).unwrap() - 0.25 / 0.35).abs() < 1e-12);
        // Fresh burn: NIR 0.12, SWIR2 0.20 → −0.08 / 0.32 = −0.25.
        assert!((nbr(0.12, 0.20).unwrap() + 0.25).abs() < 1e-12);
        assert_eq!(nbr(0.0, 0.0), None);
        assert_eq!(nbr(f64::NAN, 0.1), None);
        let d = dnbr(nbr(0.30, 0.05).unwrap(), nbr(0.12, 0.20).unwrap());
        assert!((d - (0.25 / 0.35 + 0.25)).abs() < 1e-12); // 0.964: high severity
        assert_eq!(BurnClass::of(d), BurnClass::High);
    }

    #[test]
    fn codes_and_cause() {
        let forest = [true, true, true, false, true];
        let a = [0.7f32, 0.7, f32::NAN, 0.7, 0.5];
        let b = [0.7f32, -0.2, 0.1, -0.2, 0.35];
        let mut out = Vec::new();
        burn_codes(&forest, &a, &b, &mut out);
        // 0 → unburned; 0.9 → high; no NBR before; not forest; 0.15 → low.
        assert_eq!(
            out,
            vec![
                BurnClass::Unburned.index() as u8,
                BurnClass::High.index() as u8,
                CODE_NO_DNBR,
                CODE_NOT_FOREST,
                BurnClass::Low.index() as u8
            ]
        );
        assert!(BurnClass::code_is_burned(out[1]) && BurnClass::code_is_burned(out[4]));
        assert!(!BurnClass::code_is_burned(out[0]) && !BurnClass::code_is_burned(CODE_NO_DNBR));
        for (i, c) in BurnClass::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
        }
        assert_eq!(AlertCause::of(0.51, 1.0), AlertCause::Fire);
        assert_eq!(AlertCause::of(0.5, 1.0), AlertCause::Unknown);
        assert_eq!(AlertCause::of(0.0, 0.0), AlertCause::Unknown);
        assert_eq!(AlertCause::parse("fire"), Some(AlertCause::Fire));
        assert_eq!(
            AlertCause::parse(AlertCause::Unknown.as_str()),
            Some(AlertCause::Unknown)
        );
    }

    #[test]
    fn class_boundaries() {
        use BurnClass::*;
        for (v, c) in [
            (-0.251, RegrowthHigh),
            (-0.250, RegrowthLow),
            (-0.101, RegrowthLow),
            (-0.100, Unburned),
            (0.099, Unburned),
            (0.100, Low),
            (0.269, Low),
            (0.270, ModerateLow),
            (0.439, ModerateLow),
            (0.440, ModerateHigh),
            (0.659, ModerateHigh),
            (0.660, High),
            (1.300, High),
        ] {
            assert_eq!(BurnClass::of(v), c, "{v}");
        }
        assert!(!Unburned.is_burned() && Low.is_burned() && High.is_burned());
        assert!(!RegrowthHigh.is_burned());
    }
}
