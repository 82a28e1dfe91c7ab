//! Forest plots (lô rừng): the typed attributes the law gives a plot, the alert
//! severity rule by forest function, and the change-tracking summaries
//! (theo dõi diễn biến rừng) over plot figures.
//!
//! - [`ForestFunction`]: special-use / protection / production (Forestry Law 2017,
//!   art. 5: rừng đặc dụng, rừng phòng hộ, rừng sản xuất);
//! - [`OwnerCategory`]: the forest owners the law names (art. 8), plus the commune
//!   People's Committee for forest not yet assigned (art. 102);
//! - [`Origin`]: natural or planted;
//! - [`severity`]: an alert's severity once its plot is known;
//! - [`summarise`]: start area, loss, gain and end area per group of plots.
//!
//! Values read from files are matched by [`crate::text::fold`] (case, tone marks and
//! Unicode form do not matter) against each value's code, Vietnamese and English
//! labels; anything else is `None` and the reader reports it (never guessed).

use std::collections::BTreeMap;

use crate::change::Severity;
use crate::text::fold;

/// The three forest functions of the Forestry Law (art. 5).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ForestFunction {
    /// Rừng đặc dụng.
    SpecialUse,
    /// Rừng phòng hộ.
    Protection,
    /// Rừng sản xuất.
    Production,
}

/// Forest owner categories (chủ rừng, Forestry Law 2017 art. 8), and the commune
/// People's Committee that manages forest not yet assigned to an owner.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum OwnerCategory {
    /// Ban quản lý rừng đặc dụng, phòng hộ.
    ManagementBoard,
    /// Doanh nghiệp nhà nước (state forest companies).
    StateCompany,
    /// Tổ chức kinh tế khác (other economic organisations).
    OtherOrganisation,
    /// Tổ chức khoa học và công nghệ, đào tạo, giáo dục nghề nghiệp về lâm nghiệp.
    ScienceTraining,
    /// Hộ gia đình, cá nhân.
    Household,
    /// Cộng đồng dân cư.
    Community,
    /// Đơn vị vũ trang nhân dân.
    ArmedForces,
    /// Doanh nghiệp có vốn đầu tư nước ngoài.
    ForeignInvested,
    /// UBND xã (forest not yet assigned).
    CommuneCommittee,
}

/// A plot's origin.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Origin {
    /// Rừng tự nhiên.
    Natural,
    /// Rừng trồng.
    Planted,
}

/// Code, Vietnamese label, English label, and other accepted spellings.
type Names = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
);

/// Every spelling in `names`, folded (`text::fold`: case, tone marks, Unicode
/// form and spacing ignored).
fn folded(names: Names) -> Vec<String> {
    [names.0, names.1, names.2]
        .into_iter()
        .chain(names.3.iter().copied())
        .map(fold)
        .collect()
}

/// The value one of whose folded spellings (`table`, from [`folded`]) is `s`
/// folded. A plot layer has hundreds of thousands of values to parse: each is
/// folded once and the spellings only once per process.
fn find_folded<T: Copy>(table: &[(T, Vec<String>)], s: &str) -> Option<T> {
    let k = fold(s);
    if k.is_empty() {
        return None;
    }
    table
        .iter()
        .find(|(_, names)| names.contains(&k))
        .map(|(v, _)| *v)
}

macro_rules! labelled {
    ($t:ty, $($v:ident => $names:expr),+ $(,)?) => {
        impl $t {
            /// Every value, in order.
            pub const ALL: &'static [$t] = &[$(<$t>::$v),+];
            fn names(self) -> Names {
                match self { $(<$t>::$v => $names),+ }
            }
            /// The stored code (kebab-case English, as serde writes it).
            pub fn code(self) -> &'static str { self.names().0 }
            /// The Vietnamese label.
            pub fn label_vi(self) -> &'static str { self.names().1 }
            /// The English label.
            pub fn label_en(self) -> &'static str { self.names().2 }
            /// Parses a code or label in either language (case, tone marks and
            /// Unicode form ignored); `None` when it is none of them.
            pub fn parse(s: &str) -> Option<$t> {
                static FOLDED: std::sync::OnceLock<Vec<($t, Vec<String>)>> =
                    std::sync::OnceLock::new();
                let table = FOLDED
                    .get_or_init(|| Self::ALL.iter().map(|&v| (v, folded(v.names()))).collect());
                find_folded(table, s)
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.code())
            }
        }
    };
}

labelled!(ForestFunction,
    SpecialUse => ("special-use", "Đặc dụng", "Special-use", &["DD", "rừng đặc dụng", "special use", "1"]),
    Protection => ("protection", "Phòng hộ", "Protection", &["PH", "rừng phòng hộ", "2"]),
    Production => ("production", "Sản xuất", "Production", &["SX", "rừng sản xuất", "3"]),
);

labelled!(OwnerCategory,
    ManagementBoard => ("management-board", "Ban quản lý rừng", "Management board", &["BQL", "ban quản lý rừng đặc dụng, phòng hộ", "management board"]),
    StateCompany => ("state-company", "Doanh nghiệp nhà nước", "State forest company", &["DNNN", "công ty lâm nghiệp", "state company"]),
    OtherOrganisation => ("other-organisation", "Tổ chức kinh tế khác", "Other organisation", &["TCKT", "other organization"]),
    ScienceTraining => ("science-training", "Tổ chức khoa học, đào tạo", "Science or training organisation", &["KHCN"]),
    Household => ("household", "Hộ gia đình, cá nhân", "Households and individuals", &["HGD", "hộ gia đình", "household or individual"]),
    Community => ("community", "Cộng đồng dân cư", "Community", &["CD", "cộng đồng"]),
    ArmedForces => ("armed-forces", "Đơn vị vũ trang", "Armed-forces unit", &["LLVT", "đơn vị vũ trang nhân dân", "armed forces"]),
    ForeignInvested => ("foreign-invested", "Doanh nghiệp vốn nước ngoài", "Foreign-invested enterprise", &["FDI"]),
    CommuneCommittee => ("commune-committee", "UBND xã", "Commune People's Committee", &["UBND", "ủy ban nhân dân xã", "uỷ ban nhân dân xã"]),
);

labelled!(Origin,
    Natural => ("natural", "Rừng tự nhiên", "Natural", &["TN", "tự nhiên"]),
    Planted => ("planted", "Rừng trồng", "Planted", &["RT", "trồng"]),
);

/// A plot's attributes, as the change pass needs them to name the plots an
/// alert touches (the pipeline fills them from the plot layer).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ParcelAttr {
    pub id: String,
    pub function: ForestFunction,
    pub origin: Option<Origin>,
    pub forest_type: String,
    pub owner: String,
    pub owner_category: OwnerCategory,
    pub commune_code: String,
}

impl ParcelAttr {
    /// What [`severity`] needs of the plot.
    pub fn context(&self) -> PlotContext<'_> {
        PlotContext {
            function: self.function,
            origin: self.origin,
            forest_type: &self.forest_type,
        }
    }
}

/// The plot an alert mostly lies in, as far as severity is concerned.
#[derive(Clone, Debug, PartialEq)]
pub struct PlotContext<'a> {
    pub function: ForestFunction,
    pub origin: Option<Origin>,
    /// The plot's forest type or species (e.g. "acacia"), lower case.
    pub forest_type: &'a str,
}

/// The severity of a loss alert once the plot holding most of it is known.
///
/// - loss in **special-use or protection** forest is **high**, whatever the zone
///   (the law forbids clearing it);
/// - in a **production** plot that is **planted** with a **harvested species**
///   (`[alerts] harvested_species`: the plot's forest type names one) the loss is a
///   rotation harvest: **low**, unless natural forest was lost (class epochs);
/// - any other production plot keeps the zone rule (`zone_severity`,
///   [`crate::change::severity`]).
pub fn severity(
    plot: &PlotContext<'_>,
    natural_lost: bool,
    zone_severity: Severity,
    harvested: &[String],
) -> Severity {
    match plot.function {
        ForestFunction::SpecialUse | ForestFunction::Protection => Severity::High,
        ForestFunction::Production => {
            let ft = fold(plot.forest_type);
            let harvested_species = harvested
                .iter()
                .any(|h| !h.is_empty() && ft.contains(&fold(h)));
            if !natural_lost && plot.origin == Some(Origin::Planted) && harvested_species {
                Severity::Low
            } else {
                zone_severity
            }
        }
    }
}

/// The severity of a loss alert from the plots it touches (`(plot, ha of the
/// alert inside it)`, largest first): [`severity`] with the plot holding the
/// largest part of the alert, and **high** whenever at least `min_ha` (the alert
/// minimum, 0.3 ha) of the loss lies in special-use or protection forest, whichever
/// plot holds most. No plot: the zone rule unchanged.
pub fn severity_of_plots(
    touched: &[(PlotContext<'_>, f64)],
    min_ha: f64,
    natural_lost: bool,
    zone_severity: Severity,
    harvested: &[String],
) -> Severity {
    let Some((main, _)) = touched.first() else {
        return zone_severity;
    };
    let protected: f64 = touched
        .iter()
        .filter(|(p, _)| p.function != ForestFunction::Production)
        .map(|(_, ha)| ha)
        .sum();
    if protected >= min_ha - 1e-9 {
        return Severity::High;
    }
    severity(main, natural_lost, zone_severity, harvested)
}

/// One plot's figures between two epochs, for [`summarise`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PlotChange {
    /// Plot area (ha).
    pub area_ha: f64,
    /// Forest at the start and at the end of the period (ha).
    pub start_forest_ha: f64,
    pub end_forest_ha: f64,
    pub loss_ha: f64,
    pub gain_ha: f64,
}

/// The change-tracking row of one group of plots.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct GroupTotals {
    pub plots: u64,
    pub area_ha: f64,
    pub start_forest_ha: f64,
    pub loss_ha: f64,
    pub gain_ha: f64,
    pub end_forest_ha: f64,
}

impl GroupTotals {
    fn add(&mut self, p: &PlotChange) {
        self.plots += 1;
        self.area_ha += p.area_ha;
        self.start_forest_ha += p.start_forest_ha;
        self.loss_ha += p.loss_ha;
        self.gain_ha += p.gain_ha;
        self.end_forest_ha += p.end_forest_ha;
    }
}

/// Sums plots per group key (in key order).
pub fn summarise<K: Ord + Clone>(
    plots: impl IntoIterator<Item = (K, PlotChange)>,
) -> BTreeMap<K, GroupTotals> {
    let mut out: BTreeMap<K, GroupTotals> = BTreeMap::new();
    for (k, p) in plots {
        out.entry(k).or_default().add(&p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_in_both_languages_and_codes() {
        for f in ForestFunction::ALL {
            assert_eq!(ForestFunction::parse(f.code()), Some(*f));
            assert_eq!(ForestFunction::parse(f.label_vi()), Some(*f));
            assert_eq!(ForestFunction::parse(f.label_en()), Some(*f));
        }
        for o in OwnerCategory::ALL {
            assert_eq!(OwnerCategory::parse(o.code()), Some(*o));
            assert_eq!(OwnerCategory::parse(o.label_vi()), Some(*o));
            assert_eq!(OwnerCategory::parse(o.label_en()), Some(*o));
        }
        // Tone marks, case, decomposed Unicode and abbreviations.
        assert_eq!(
            ForestFunction::parse("PHONG HO"),
            Some(ForestFunction::Protection)
        );
        assert_eq!(
            ForestFunction::parse("Đặc dụng"),
            Some(ForestFunction::SpecialUse)
        );
        assert_eq!(
            ForestFunction::parse("sx"),
            Some(ForestFunction::Production)
        );
        assert_eq!(
            OwnerCategory::parse("Cộng đồng dân cư"),
            Some(OwnerCategory::Community)
        );
        assert_eq!(
            OwnerCategory::parse("ubnd"),
            Some(OwnerCategory::CommuneCommittee)
        );
        assert_eq!(Origin::parse("Rừng trồng"), Some(Origin::Planted));
        // Unknown values are not guessed.
        assert_eq!(ForestFunction::parse("mixed"), None);
        assert_eq!(ForestFunction::parse(""), None);
        assert_eq!(OwnerCategory::parse("company"), None);
        // Serde writes the code.
        assert_eq!(
            serde_json::to_string(&OwnerCategory::CommuneCommittee).unwrap(),
            "\"commune-committee\""
        );
    }

    fn ctx(function: ForestFunction, origin: Option<Origin>, ft: &str) -> PlotContext<'_> {
        PlotContext {
            function,
            origin,
            forest_type: ft,
        }
    }

    #[test]
    fn severity_by_function_hand_built_cases() {
        let harvested = vec!["acacia".to_string(), "pine".to_string()];
        use ForestFunction::*;
        use Severity::*;
        // Special-use and protection: high whatever the zone says.
        for f in [SpecialUse, Protection] {
            for zone in [Low, Medium, High] {
                assert_eq!(
                    severity(
                        &ctx(f, Some(Origin::Planted), "acacia"),
                        false,
                        zone,
                        &harvested
                    ),
                    High
                );
            }
        }
        // Production plantation of a harvested species: low, even outside a zone.
        let acacia = ctx(Production, Some(Origin::Planted), "Keo (Acacia mangium)");
        assert_eq!(severity(&acacia, false, High, &harvested), Low);
        // ... unless natural forest went with it.
        assert_eq!(severity(&acacia, true, High, &harvested), High);
        // Natural production forest, or a species not harvested: the zone rule.
        let natural = ctx(Production, Some(Origin::Natural), "acacia");
        assert_eq!(severity(&natural, false, High, &harvested), High);
        let anise = ctx(Production, Some(Origin::Planted), "anise");
        assert_eq!(severity(&anise, false, Medium, &harvested), Medium);
        let unknown_origin = ctx(Production, None, "pine");
        assert_eq!(severity(&unknown_origin, false, High, &harvested), High);
    }

    #[test]
    fn severity_from_the_plots_an_alert_touches() {
        let harvested = vec!["acacia".to_string()];
        use ForestFunction::*;
        use Severity::*;
        let acacia = ctx(Production, Some(Origin::Planted), "acacia");
        let protection = ctx(Protection, Some(Origin::Natural), "");
        // No plot: the zone rule.
        assert_eq!(
            severity_of_plots(&[], 0.3, false, Medium, &harvested),
            Medium
        );
        // Mostly in an acacia plantation, 0.1 ha spilling into protection forest: low.
        let t = [(acacia.clone(), 2.0), (protection.clone(), 0.1)];
        assert_eq!(severity_of_plots(&t, 0.3, false, High, &harvested), Low);
        // 0.3 ha or more in protection forest: high, though the plantation holds most.
        let t = [(acacia.clone(), 2.0), (protection.clone(), 0.3)];
        assert_eq!(severity_of_plots(&t, 0.3, false, Low, &harvested), High);
        // Mostly in protection forest: high.
        let t = [(protection, 0.2), (acacia, 0.1)];
        assert_eq!(severity_of_plots(&t, 0.3, false, Low, &harvested), High);
    }

    #[test]
    fn summaries_add_per_group() {
        let p = |a, s, l, g, e| PlotChange {
            area_ha: a,
            start_forest_ha: s,
            end_forest_ha: e,
            loss_ha: l,
            gain_ha: g,
        };
        let s = summarise([
            ("x", p(2.0, 1.5, 0.5, 0.0, 1.0)),
            ("y", p(4.0, 0.0, 0.0, 1.0, 1.0)),
            ("x", p(1.0, 1.0, 0.0, 0.25, 1.0)),
        ]);
        assert_eq!(s.len(), 2);
        let x = s["x"];
        assert_eq!(x.plots, 2);
        assert_eq!(x.area_ha, 3.0);
        assert_eq!(x.start_forest_ha, 2.5);
        assert_eq!(x.loss_ha, 0.5);
        assert_eq!(x.gain_ha, 0.25);
        assert_eq!(x.end_forest_ha, 2.0);
        assert_eq!(s["y"].plots, 1);
    }
}
