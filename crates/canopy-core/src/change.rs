//! Change between two epochs on one grid: per-pixel change codes, the loss mask
//! that alerts are made of, and the severity rule of an alert.
//!
//! Change is only ever counted where both epochs observed the ground: a pixel
//! cloudy in either epoch is "unobserved", never loss or gain.

use crate::forest::{FOREST, NON_FOREST, UNOBSERVED};

/// Unobserved in either epoch.
pub const CH_UNOBSERVED: u8 = 0;
/// Forest in both.
pub const CH_STABLE_FOREST: u8 = 1;
/// Non-forest in both.
pub const CH_STABLE_NON_FOREST: u8 = 2;
/// Forest, then non-forest.
pub const CH_LOSS: u8 = 3;
/// Non-forest, then forest.
pub const CH_GAIN: u8 = 4;
/// Number of change codes.
pub const CH_CODES: usize = 5;

/// The change code of a pixel from its two observation states.
#[inline]
pub const fn change_code(a: u8, b: u8) -> u8 {
    match (a, b) {
        (UNOBSERVED, _) | (_, UNOBSERVED) => CH_UNOBSERVED,
        (FOREST, FOREST) => CH_STABLE_FOREST,
        (FOREST, NON_FOREST) => CH_LOSS,
        (NON_FOREST, FOREST) => CH_GAIN,
        _ => CH_STABLE_NON_FOREST,
    }
}

/// Change codes of two strips, and the loss mask used for alerts: a loss pixel,
/// whose NDVI also dropped by at least `min_ndvi_drop` when that is given (and
/// NDVI is known for both epochs).
pub fn change_strip(
    a: &[u8],
    b: &[u8],
    ndvi: Option<(&[f32], &[f32])>,
    min_ndvi_drop: Option<f64>,
    codes: &mut Vec<u8>,
    loss_mask: &mut Vec<u8>,
) {
    // States are 0..=2: one table of the nine pairs, no branches, so both
    // loops vectorise (a state above 2 never occurs; the table follows change_code).
    const T: [u8; 16] = {
        let mut t = [CH_UNOBSERVED; 16];
        let mut k = 0;
        while k < 16 {
            t[k] = change_code((k >> 2) as u8, (k & 3) as u8);
            k += 1;
        }
        t
    };
    codes.clear();
    codes.extend(
        a.iter()
            .zip(b)
            .map(|(&x, &y)| T[(((x & 3) << 2) | (y & 3)) as usize]),
    );
    loss_mask.clear();
    loss_mask.extend(codes.iter().map(|&c| (c == CH_LOSS) as u8));
    if let (Some((na, nb)), Some(drop)) = (ndvi, min_ndvi_drop) {
        for i in 0..loss_mask.len() {
            if loss_mask[i] == 1 && ((na[i] - nb[i]) as f64) < drop {
                loss_mask[i] = 0;
            }
        }
    }
}

/// How urgent an alert is (ordered: low < medium < high; stored and served as
/// `"low"`, `"medium"`, `"high"`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            _ => None,
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// The severity rule:
/// - **high**: natural forest was lost (class epochs), or the loss lies outside
///   every planting zone (forest that nobody plans to harvest);
/// - **low**: a clear-cut inside a planting zone of a harvested species (acacia
///   and pine by default: rotation harvest, expected);
/// - **medium**: anything else (loss inside a zone of a species that is not
///   clear-cut, such as star anise or cinnamon).
pub fn severity(natural_lost: bool, zone_species: Option<&str>, harvested: &[String]) -> Severity {
    match zone_species {
        _ if natural_lost => Severity::High,
        None => Severity::High,
        Some(s) if harvested.iter().any(|h| h.eq_ignore_ascii_case(s)) => Severity::Low,
        Some(_) => Severity::Medium,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_codes_equal_the_pixel_rule() {
        let states = [UNOBSERVED, NON_FOREST, FOREST];
        let (mut a, mut b) = (vec![], vec![]);
        for &x in &states {
            for &y in &states {
                a.push(x);
                b.push(y);
            }
        }
        let (mut codes, mut mask) = (vec![], vec![]);
        change_strip(&a, &b, None, None, &mut codes, &mut mask);
        for i in 0..a.len() {
            assert_eq!(codes[i], change_code(a[i], b[i]));
            assert_eq!(mask[i], (codes[i] == CH_LOSS) as u8);
        }
    }

    #[test]
    fn codes_never_count_unobserved_land() {
        assert_eq!(change_code(FOREST, NON_FOREST), CH_LOSS);
        assert_eq!(change_code(NON_FOREST, FOREST), CH_GAIN);
        assert_eq!(change_code(FOREST, UNOBSERVED), CH_UNOBSERVED);
        assert_eq!(change_code(UNOBSERVED, NON_FOREST), CH_UNOBSERVED);
        assert_eq!(change_code(FOREST, FOREST), CH_STABLE_FOREST);
        assert_eq!(change_code(NON_FOREST, NON_FOREST), CH_STABLE_NON_FOREST);
    }

    #[test]
    fn ndvi_drop_filters_marginal_flips() {
        let (a, b) = ([FOREST, FOREST, FOREST], [NON_FOREST, NON_FOREST, FOREST]);
        let (na, nb) = ([0.60f32, 0.80, 0.8], [0.50f32, 0.30, 0.7]);
        let (mut codes, mut mask) = (vec![], vec![]);
        change_strip(&a, &b, Some((&na, &nb)), Some(0.2), &mut codes, &mut mask);
        assert_eq!(codes, [CH_LOSS, CH_LOSS, CH_STABLE_FOREST]);
        assert_eq!(mask, [0, 1, 0]);
        change_strip(&a, &b, Some((&na, &nb)), None, &mut codes, &mut mask);
        assert_eq!(mask, [1, 1, 0]);
    }

    #[test]
    fn severity_rule() {
        let h = vec!["acacia".to_string(), "pine".to_string()];
        assert_eq!(severity(false, Some("acacia"), &h), Severity::Low);
        assert_eq!(severity(false, Some("Pine"), &h), Severity::Low);
        assert_eq!(severity(false, Some("cinnamon"), &h), Severity::Medium);
        assert_eq!(severity(false, None, &h), Severity::High);
        assert_eq!(severity(true, Some("acacia"), &h), Severity::High);
        assert!(Severity::High > Severity::Medium && Severity::Medium > Severity::Low);
    }
}
