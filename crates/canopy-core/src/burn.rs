//! Burned area from a SWIR band: the Normalized Burn Ratio, its difference
//! between two epochs and the burn-severity classes. Pure; **not wired into the
//! run yet** (the readers do not read a SWIR band: see the README's Fire
//! section, "Not yet").
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

impl BurnClass {
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
