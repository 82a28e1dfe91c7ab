//! The one palette and class scheme of cover maps: the planners' report's
//! choropleth (`canopy-report`), the web map (`static/map/map.js`, checked equal
//! by `canopy-server`'s `palette_agrees` test) and the store's default QGIS style
//! (`canopy-store::qgis`). Cover-rate classes (%) are fixed, so that maps of
//! different dates and regions compare; colours are ColorBrewer YlGn (7 classes,
//! colour-blind safe, printable in grey).

/// Class breaks of the cover rate (%): class `i` is `[BREAKS[i-1], BREAKS[i])`.
pub const COVER_BREAKS: [f64; 6] = [30.0, 40.0, 50.0, 60.0, 70.0, 80.0];

/// One colour per class (`COVER_BREAKS.len() + 1`), lowest cover first.
pub const COVER_COLORS: [&str; 7] = [
    "#ffffcc", "#d9f0a3", "#addd8e", "#78c679", "#41ab5d", "#238443", "#005a32",
];

/// No cover figure (not observed).
pub const NO_DATA: &str = "#d9d9d9";

/// Alert severity colours (high, medium, low).
pub const SEVERITY_COLORS: [(&str, &str); 3] = [
    ("high", "#d7191c"),
    ("medium", "#f07c00"),
    ("low", "#f2d21b"),
];

/// Planting-zone species colours (others get a grey).
pub const SPECIES_COLORS: [(&str, &str); 4] = [
    ("pine", "#3b6fb6"),
    ("anise", "#8856a7"),
    ("acacia", "#1c9e94"),
    ("cinnamon", "#a6611a"),
];

/// The class of a cover rate (0 … 6).
pub fn cover_class(pct: f64) -> usize {
    COVER_BREAKS.iter().take_while(|b| pct >= **b).count()
}

/// The colour of a cover rate; `None`: [`NO_DATA`].
pub fn cover_color(pct: Option<f64>) -> &'static str {
    match pct {
        Some(p) if p.is_finite() => COVER_COLORS[cover_class(p)],
        _ => NO_DATA,
    }
}

/// The label of class `i` (`< 30 %`, `30–40 %`, …, `≥ 80 %`).
pub fn cover_label(i: usize) -> String {
    let n = COVER_BREAKS.len();
    if i == 0 {
        format!("< {:.0} %", COVER_BREAKS[0])
    } else if i >= n {
        format!("≥ {:.0} %", COVER_BREAKS[n - 1])
    } else {
        format!("{:.0}–{:.0} %", COVER_BREAKS[i - 1], COVER_BREAKS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_by_hand() {
        assert_eq!(cover_class(0.0), 0);
        assert_eq!(cover_class(29.99), 0);
        assert_eq!(cover_class(30.0), 1);
        assert_eq!(cover_class(79.9), 5);
        assert_eq!(cover_class(80.0), 6);
        assert_eq!(cover_color(Some(65.0)), "#41ab5d"); // 60–70 %: class 4
        assert_eq!(cover_color(None), NO_DATA);
        assert_eq!(cover_label(0), "< 30 %");
        assert_eq!(cover_label(3), "50–60 %");
        assert_eq!(cover_label(6), "≥ 80 %");
        assert_eq!(COVER_COLORS.len(), COVER_BREAKS.len() + 1);
    }
}
