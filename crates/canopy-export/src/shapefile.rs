//! Shapefile field names: a DBF field name has at most 10 bytes, so the store's
//! longer names are mapped to the short names of [`SHORT`] (documented in the
//! README's "Exports" section); any other long name is cut to 10 bytes and made
//! unique with a number. Field values are written as UTF-8 with a `.cpg` beside
//! the `.dbf`, so Vietnamese names survive.

use std::collections::HashSet;

/// The store's field names longer than 10 bytes and their shapefile names.
pub const SHORT: &[(&str, &str)] = &[
    ("commune_code", "commune_cd"),
    ("commune_name", "commune_nm"),
    ("centroid_lon", "cent_lon"),
    ("centroid_lat", "cent_lat"),
    ("zone_species", "zone_spec"),
    ("natural_lost", "nat_lost"),
    ("natural_lost_ha", "nat_lost_h"),
    ("season_mismatch", "season_mis"),
    ("zone_area_ha", "zone_ar_ha"),
    ("change_from", "chg_from"),
    ("observed_ha", "obs_ha"),
    ("unobserved_ha", "unobs_ha"),
    ("observed_pct", "obs_pct"),
    ("transitions", "transition"),
    ("first_detection", "first_det"),
    ("last_detection", "last_det"),
    ("confidence_raw", "conf_raw"),
    ("brightness_k", "bright_k"),
    ("footprint_ha", "footpr_ha"),
    ("forest_fraction", "forest_frc"),
    ("danger_index", "danger_idx"),
    ("distance_km", "dist_km"),
];

/// The shapefile names of `names`, in order: [`SHORT`]'s for the store's long
/// names, the name itself when it fits, else its first 10 bytes (on a character
/// boundary) made unique with `_1`, `_2`, ….
pub fn short_names(names: &[String]) -> Vec<String> {
    let mut used: HashSet<String> = HashSet::new();
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        let mapped = SHORT
            .iter()
            .find(|(long, _)| long == n)
            .map(|(_, s)| s.to_string())
            .unwrap_or_else(|| n.clone());
        let mut candidate = cut(&mapped, 10);
        let mut k = 1;
        while !used.insert(candidate.to_ascii_lowercase()) {
            let suffix = format!("_{k}");
            candidate = format!("{}{suffix}", cut(&mapped, 10 - suffix.len()));
            k += 1;
        }
        out.push(candidate);
    }
    out
}

fn cut(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_fit_and_are_unique() {
        let names: Vec<String> = [
            "alert_id",
            "commune_code",
            "natural_lost_ha",
            "natural_lost",
            "a_very_long_name_1",
            "a_very_long_name_2",
            "tên_trường_dài",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let short = short_names(&names);
        assert_eq!(
            short[..4],
            ["alert_id", "commune_cd", "nat_lost_h", "nat_lost"]
        );
        assert_eq!(short[4], "a_very_lon");
        assert_eq!(short[5], "a_very_l_1");
        assert_eq!(
            short[6], "tên_trư",
            "cut on a character boundary: 10 bytes at most"
        );
        for s in &short {
            assert!(s.len() <= 10, "{s}");
        }
        for (long, s) in SHORT {
            assert!(s.len() <= 10 && long.len() >= s.len(), "{long} → {s}");
        }
    }
}
