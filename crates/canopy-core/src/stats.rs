//! Per-commune (and province) cover figures, from zonal sums and polygon area.

use serde::{Deserialize, Serialize};

use crate::zonal::CoverSums;

/// Square metres in a hectare.
pub const M2_PER_HA: f64 = 10_000.0;

/// The figures of one unit (commune or province) in one epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoverFigures {
    /// Polygon area in the area CRS.
    pub natural_ha: f64,
    pub forest_ha: f64,
    pub observed_ha: f64,
    /// `natural_ha − observed_ha`: clouds, nodata and land outside every tile.
    pub unobserved_ha: f64,
    /// `100 × forest_ha / observed_ha`; `None` when nothing was observed.
    pub cover_pct: Option<f64>,
    /// `100 × observed_ha / natural_ha`.
    pub observed_pct: f64,
}

impl CoverFigures {
    /// Figures from sums in m² and the polygon's area in m².
    pub fn new(natural_m2: f64, sums: CoverSums) -> CoverFigures {
        let natural_ha = natural_m2 / M2_PER_HA;
        let forest_ha = sums.forest / M2_PER_HA;
        // A working grid in another CRS than the area CRS can make the summed
        // pixel areas differ from the polygon area by a hair; never report more
        // observed land than there is.
        let observed_ha = (sums.observed / M2_PER_HA).min(natural_ha);
        let forest_ha = forest_ha.min(observed_ha);
        CoverFigures {
            natural_ha,
            forest_ha,
            observed_ha,
            unobserved_ha: (natural_ha - observed_ha).max(0.0),
            cover_pct: (observed_ha > 0.0).then(|| 100.0 * forest_ha / observed_ha),
            observed_pct: if natural_ha > 0.0 {
                100.0 * observed_ha / natural_ha
            } else {
                0.0
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_by_hand() {
        // 100 ha commune, 60 ha observed of which 45 ha forest.
        let f = CoverFigures::new(
            1_000_000.0,
            CoverSums {
                forest: 450_000.0,
                observed: 600_000.0,
                ..Default::default()
            },
        );
        assert_eq!(f.natural_ha, 100.0);
        assert_eq!(f.unobserved_ha, 40.0);
        assert_eq!(f.cover_pct, Some(75.0));
        assert_eq!(f.observed_pct, 60.0);
        let none = CoverFigures::new(1_000_000.0, CoverSums::default());
        assert_eq!(none.cover_pct, None);
        assert_eq!(none.unobserved_ha, 100.0);
    }
}
