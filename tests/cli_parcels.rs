//! End-to-end: forest plots (lô rừng, issue 14) on the hand-built two-epoch
//! region, plots drawn as rectangles so every figure is known by hand; and the
//! plot layer's bad input (errors naming file, feature and field; nothing written).
//!
//! Distances are metres east of the grid's west edge (x) and south of its north
//! edge (y). The planted clearing is x 600..800, y 200..300 (2 ha). Plots:
//! - 1/1/1: production plantation of acacia, x 600..790, y 150..350 (most of the clearing);
//! - 1/1/2: protection, x 790..900, y 150..350 (0.1 ha of the clearing);
//! - 1/2/1: special-use, x 200..500, y 600..900 with a hole x 300..400, y 700..800;
//! - 1/2/2: the enclave x 300..400, y 700..800 (household);
//! - 1/2/3: a multipolygon, x 100..200 and x 250..300, y 1000..1100;
//! - 2/1/1: across the A/B boundary (A: x 55..1003, B: x 953..1917.5), x 900..1100, y 500..700;
//! - 9/9/9: outside every commune (x 1950..1990, y 10..50): reported, not counted.

mod common;
use common::*;

fn r(xa: f64, xb: f64, ya: f64, yb: f64) -> [f64; 4] {
    [X0 + xa, Y0 - yb, X0 + xb, Y0 - ya]
}

fn ring(q: [f64; 4]) -> String {
    let [x0, y0, x1, y1] = q;
    format!("[[{x0},{y0}],[{x1},{y0}],[{x1},{y1}],[{x0},{y1}],[{x0},{y0}]]")
}

fn ring_cw(q: [f64; 4]) -> String {
    let [x0, y0, x1, y1] = q;
    format!("[[{x0},{y0}],[{x0},{y1}],[{x1},{y1}],[{x1},{y0}],[{x0},{y0}]]")
}

struct Plot {
    tk: &'static str,
    kh: &'static str,
    lo: &'static str,
    function: &'static str,
    origin: &'static str,
    forest_type: &'static str,
    owner: &'static str,
    category: &'static str,
    /// MultiPolygon coordinates.
    coords: String,
}

fn p1() -> [f64; 4] {
    r(600.0, 790.0, 150.0, 350.0)
}
fn p2() -> [f64; 4] {
    r(790.0, 900.0, 150.0, 350.0)
}
fn p3_outer() -> [f64; 4] {
    r(200.0, 500.0, 600.0, 900.0)
}
fn p3_hole() -> [f64; 4] {
    r(300.0, 400.0, 700.0, 800.0)
}
fn p5a() -> [f64; 4] {
    r(100.0, 200.0, 1000.0, 1100.0)
}
fn p5b() -> [f64; 4] {
    r(250.0, 300.0, 1000.0, 1100.0)
}
fn p6() -> [f64; 4] {
    r(900.0, 1100.0, 500.0, 700.0)
}

fn plots() -> Vec<Plot> {
    let one = |q| format!("[[{}]]", ring(q));
    vec![
        Plot {
            tk: "1",
            kh: "1",
            lo: "1",
            function: "Sản xuất",
            origin: "Rừng trồng",
            forest_type: "Keo (acacia)",
            owner: "Hộ Hoàng Văn Thắng",
            category: "Hộ gia đình, cá nhân",
            coords: one(p1()),
        },
        Plot {
            tk: "1",
            kh: "1",
            lo: "2",
            function: "PH",
            origin: "TN",
            forest_type: "",
            owner: "BQL rừng phòng hộ Lộc Bình",
            category: "management-board",
            coords: one(p2()),
        },
        Plot {
            tk: "1",
            kh: "2",
            lo: "1",
            function: "special-use",
            origin: "natural",
            forest_type: "",
            owner: "BQL Khu bảo tồn",
            category: "BQL",
            coords: format!("[[{}, {}]]", ring(p3_outer()), ring_cw(p3_hole())),
        },
        Plot {
            tk: "1",
            kh: "2",
            lo: "2",
            function: "Sản xuất",
            origin: "",
            forest_type: "",
            owner: "Hộ Nông Thị Hoa",
            category: "household",
            coords: one(p3_hole()),
        },
        Plot {
            tk: "1",
            kh: "2",
            lo: "3",
            function: "Production",
            origin: "planted",
            forest_type: "pine",
            owner: "",
            category: "UBND xã",
            coords: format!("[[{}], [{}]]", ring(p5a()), ring(p5b())),
        },
        Plot {
            tk: "2",
            kh: "1",
            lo: "1",
            function: "Phòng hộ",
            origin: "",
            forest_type: "",
            owner: "Cộng đồng thôn Nà 1",
            category: "Cộng đồng dân cư",
            coords: one(p6()),
        },
        Plot {
            tk: "9",
            kh: "9",
            lo: "9",
            function: "Sản xuất",
            origin: "",
            forest_type: "",
            owner: "Đồn Biên phòng",
            category: "armed-forces",
            coords: one(r(1950.0, 1990.0, 10.0, 50.0)),
        },
    ]
}

fn geojson(plots: &[Plot]) -> String {
    let feats: Vec<String> = plots
        .iter()
        .map(|p| {
            format!(
                r#"{{"type":"Feature","properties":{{"tk":"{}","kh":"{}","lo":"{}","cn":"{}","ng":"{}","lr":"{}","chu":"{}","loai_chu":"{}"}},"geometry":{{"type":"MultiPolygon","coordinates":{}}}}}"#,
                p.tk, p.kh, p.lo, p.function, p.origin, p.forest_type, p.owner, p.category, p.coords
            )
        })
        .collect();
    format!(
        r#"{{"type":"FeatureCollection","crs":{{"type":"name","properties":{{"name":"urn:ogc:def:crs:EPSG::32648"}}}},"features":[{}]}}"#,
        feats.join(",")
    )
}

const PARCELS_CFG: &str = "\n[parcels]\npath = \"plots.geojson\"\ncompartment_field = \"tk\"\nsub_compartment_field = \"kh\"\nplot_field = \"lo\"\nfunction_field = \"cn\"\norigin_field = \"ng\"\nforest_type_field = \"lr\"\nowner_field = \"chu\"\nowner_category_field = \"loai_chu\"\n";

/// The two-epoch fixture with `plots` and the `[parcels]` section `cfg`.
fn plot_region(plots: &[Plot], cfg: &str) -> tempfile::TempDir {
    let d = region_two_epochs();
    std::fs::write(d.path().join("plots.geojson"), geojson(plots)).unwrap();
    let mut text = std::fs::read_to_string(d.path().join("region.toml")).unwrap();
    let at = text.find("[communes]").unwrap();
    text.insert_str(at, &format!("{cfg}\n"));
    std::fs::write(d.path().join("region.toml"), text).unwrap();
    d
}

fn close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() < 1e-9, "{what}: got {a}, expected {b}");
}

fn area_ha(q: [f64; 4]) -> f64 {
    (q[2] - q[0]) * (q[3] - q[1]) / 10_000.0
}

#[test]
fn plot_figures_summaries_and_alert_attribution_by_hand() {
    let d = plot_region(&plots(), PARCELS_CFG);
    let (store, out) = run_region(d.path());
    let reader = canopy_store::Store::open(&store).unwrap().read().unwrap();
    let rows = reader.parcels().unwrap();
    let ids: Vec<&str> = rows.iter().map(|p| p.parcel_id.as_str()).collect();
    assert_eq!(
        ids,
        ["1/1/1", "1/1/2", "1/2/1", "1/2/2", "1/2/3", "2/1/1"],
        "9/9/9 is outside"
    );
    let plot = |id: &str| rows.iter().find(|p| p.parcel_id == id).unwrap();

    // Areas exact; holes and multipolygons measured as such.
    let want_area = [
        ("1/1/1", area_ha(p1())),
        ("1/1/2", area_ha(p2())),
        ("1/2/1", area_ha(p3_outer()) - area_ha(p3_hole())),
        ("1/2/2", area_ha(p3_hole())),
        ("1/2/3", area_ha(p5a()) + area_ha(p5b())),
        ("2/1/1", area_ha(p6())),
    ];
    for (id, a) in want_area {
        close(plot(id).area_ha, a, &format!("{id} area"));
    }
    // Typed attributes parsed from codes and labels in both languages.
    use canopy_core::parcel::{ForestFunction as F, Origin, OwnerCategory as O};
    assert_eq!(plot("1/1/1").function, F::Production);
    assert_eq!(plot("1/1/1").origin, Some(Origin::Planted));
    assert_eq!(plot("1/1/1").owner_category, O::Household);
    assert_eq!(plot("1/1/2").function, F::Protection);
    assert_eq!(plot("1/2/1").function, F::SpecialUse);
    assert_eq!(plot("1/2/1").owner_category, O::ManagementBoard);
    assert_eq!(plot("1/2/3").owner_category, O::CommuneCommittee);
    assert_eq!(plot("2/1/1").owner_category, O::Community);
    // The plot across the A/B boundary belongs to the commune holding its interior point.
    assert_eq!(plot("2/1/1").commune_code, "00001");
    assert_eq!(plot("1/2/3").compartment, "1");
    assert_eq!(plot("1/2/3").plot, "3");

    // Per plot and epoch: forest and observed by hand (2024 has clouds, 2025 none).
    let hand = |id: &str| -> (f64, f64, f64, f64) {
        let (f24, o24) = match id {
            "1/2/1" => {
                let (fo, oo) = expected(p3_outer(), &|c, r| !is_cloud(c, r));
                let (fh, oh) = expected(p3_hole(), &|c, r| !is_cloud(c, r));
                (fo - fh, oo - oh)
            }
            "1/2/3" => {
                let (fa, oa) = expected(p5a(), &|c, r| !is_cloud(c, r));
                let (fb, ob) = expected(p5b(), &|c, r| !is_cloud(c, r));
                (fa + fb, oa + ob)
            }
            _ => {
                let q = match id {
                    "1/1/1" => p1(),
                    "1/1/2" => p2(),
                    "1/2/2" => p3_hole(),
                    _ => p6(),
                };
                expected(q, &|c, r| !is_cloud(c, r))
            }
        };
        let q: Vec<[f64; 4]> = match id {
            "1/1/1" => vec![p1()],
            "1/1/2" => vec![p2()],
            "1/2/2" => vec![p3_hole()],
            "1/2/3" => vec![p5a(), p5b()],
            "2/1/1" => vec![p6()],
            _ => vec![],
        };
        let f25 = if id == "1/2/1" {
            expected_where(p3_outer(), &is_forest_2025) - expected_where(p3_hole(), &is_forest_2025)
        } else {
            q.iter().map(|q| expected_where(*q, &is_forest_2025)).sum()
        };
        let loss: f64 = q
            .iter()
            .map(|q| {
                expected_where(*q, &|c, r| {
                    is_forest(c, r) && !is_forest_2025(c, r) && !is_cloud(c, r)
                })
            })
            .sum();
        (f24, o24, f25, loss)
    };
    let db = rusqlite_free_query(&store);
    for (id, _) in want_area {
        let (f24, o24, f25, loss) = hand(id);
        let c24 = db.cover(id, "2024");
        close(c24.0, f24, &format!("{id} forest 2024"));
        close(c24.1, o24, &format!("{id} observed 2024"));
        close(db.cover(id, "2025").0, f25, &format!("{id} forest 2025"));
        close(
            plot(id).forest_ha.unwrap(),
            f25,
            &format!("{id} latest forest"),
        );
        close(plot(id).loss_ha.unwrap(), loss, &format!("{id} loss"));
    }
    assert!(
        plot("1/1/1").loss_ha.unwrap() > 1.0,
        "the clearing lies mostly in 1/1/1"
    );

    // The clearing's alert: mostly in the acacia plantation (low), 0.1 ha in
    // protection forest (under the 0.3 ha minimum, so not high).
    let alerts = canopy_store::read_alerts(&store).unwrap();
    let big = alerts
        .iter()
        .find(|a| a.area_ha > 1.0)
        .expect("the clearing's alert");
    assert_eq!(big.severity, canopy_core::change::Severity::Low);
    let ap: Vec<_> = reader
        .alert_parcels()
        .unwrap()
        .into_iter()
        .filter(|p| p.alert_id == big.id)
        .collect();
    assert_eq!(ap.len(), 2, "{ap:?}");
    assert_eq!(ap[0].parcel_id, "1/1/1");
    assert_eq!(ap[0].owner, "Hộ Hoàng Văn Thắng");
    assert_eq!(ap[1].parcel_id, "1/1/2");
    assert_eq!(ap[1].function, F::Protection);
    close(ap[0].share + ap[1].share, 1.0, "shares");
    close(
        ap[1].area_ha,
        big.area_ha * ap[1].share,
        "area = share × alert",
    );

    // Summaries: per function and owner category, every plot once.
    let s = reader.parcel_summary().unwrap();
    let total_area: f64 = rows.iter().map(|p| p.area_ha).sum();
    for g in ["function", "owner_category", "commune_function", "commune"] {
        let a: f64 = s
            .iter()
            .filter(|r| r.grouping == g)
            .map(|r| r.area_ha)
            .sum();
        close(a, total_area, &format!("{g} area"));
        let n: u64 = s.iter().filter(|r| r.grouping == g).map(|r| r.plots).sum();
        assert_eq!(n, 6, "{g}");
    }
    let prod = s
        .iter()
        .find(|r| r.grouping == "function" && r.function == Some(F::Production))
        .unwrap();
    assert_eq!(prod.plots, 3);
    close(
        prod.loss_ha,
        hand("1/1/1").3 + hand("1/2/2").3 + hand("1/2/3").3,
        "production loss",
    );
    // Commune rows carry the commune's own figures; these plots do not tile A,
    // and the difference is reported.
    let a_row = s
        .iter()
        .find(|r| r.grouping == "commune" && r.commune_code.as_deref() == Some("00001"))
        .unwrap();
    close(a_row.commune_area_ha.unwrap(), area_ha(A), "commune A area");
    let warnings: Vec<String> = reader
        .warnings()
        .unwrap()
        .into_iter()
        .map(|w| w.1)
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("commune 00001") && w.contains("plot")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("outside every commune") && w.contains("9/9/9")),
        "{warnings:?}"
    );
    assert!(
        !warnings.iter().any(|w| w.contains("no owner name")),
        "a commune committee needs no name: {warnings:?}"
    );

    // The run prints the per-function summary; `canopy alerts` names plot and owner.
    assert!(out.contains("Forest plots (lô rừng)"), "{out}");
    assert!(out.contains("Sản xuất (Production)"), "{out}");
    let o = run(&["alerts", "--store", &path_str(&store)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("plot 1/1/1 (") && text.contains("%, production)"),
        "{text}"
    );
    assert!(
        text.contains("owner Hộ Hoàng Văn Thắng [household]"),
        "{text}"
    );

    // The report's change-tracking table: md, html (vi), csv.
    let report = |fmt: &str, lang: &str| {
        let o = run(&[
            "report",
            "--store",
            &path_str(&store),
            "--format",
            fmt,
            "--lang",
            lang,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let md = report("md", "en");
    assert!(md.contains("## Forest change tracking by plot"), "{md}");
    assert!(md.contains("| Production | 3 |"), "{md}");
    assert!(md.contains("| 00001 · Protection |"), "{md}");
    let html = report("html", "vi");
    assert!(
        html.contains("Theo dõi diễn biến rừng theo lô") && html.contains("<td>Phòng hộ</td>"),
        "html"
    );
    let csv = report("plots-csv", "en");
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("grouping,commune_code,function,owner_category"),
        "{csv}"
    );
    let n_rows = s.iter().filter(|r| r.grouping != "commune").count();
    assert_eq!(lines.len(), 1 + n_rows, "{csv}");
    assert!(csv.contains("function,,production,,2024,2025,3,"), "{csv}");
}

/// Minimal reads of `parcel_cover` through GDAL (the store's own reader has no
/// per-epoch plot query; this is what a GIS user would run).
struct Db {
    rows: Vec<(String, String, f64, f64)>,
}

impl Db {
    fn cover(&self, id: &str, epoch: &str) -> (f64, f64) {
        let r = self
            .rows
            .iter()
            .find(|r| r.0 == id && r.1 == epoch)
            .unwrap_or_else(|| panic!("no parcel_cover row {id} {epoch}"));
        (r.2, r.3)
    }
}

fn rusqlite_free_query(store: &std::path::Path) -> Db {
    use canopy_pipeline::gdal::vector::LayerAccess;
    let ds = canopy_pipeline::gdal::Dataset::open(store).unwrap();
    let mut layer = ds.layer_by_name("parcel_cover").unwrap();
    let rows = layer
        .features()
        .map(|f| {
            let s = |n: &str| {
                f.field_as_string(f.field_index(n).unwrap())
                    .unwrap()
                    .unwrap_or_default()
            };
            let x = |n: &str| {
                f.field_as_double(f.field_index(n).unwrap())
                    .unwrap()
                    .unwrap_or(f64::NAN)
            };
            (s("parcel_id"), s("epoch"), x("forest_ha"), x("observed_ha"))
        })
        .collect();
    Db { rows }
}

/// Runs the region in `d` expecting failure: returns stderr; no store is written.
fn fails(d: &tempfile::TempDir) -> String {
    let store = store_in(d.path());
    let o = run_into(d.path(), &store);
    assert!(!o.status.success(), "the run should fail");
    assert!(!store.exists(), "nothing is written on error");
    stderr(&o)
}

#[test]
fn bad_plot_layers_are_errors_naming_file_feature_and_field() {
    let base = plots();
    let with = |f: &dyn Fn(&mut Vec<Plot>)| {
        let mut p = plots();
        f(&mut p);
        p
    };
    // Duplicate id (tiểu khu/khoảnh/lô).
    let d = plot_region(&with(&|p| p[1].lo = "1"), PARCELS_CFG);
    let e = fails(&d);
    assert!(
        e.contains("plots.geojson")
            && e.contains("feature 1")
            && e.contains("duplicate plot id \"1/1/1\"")
            && e.contains("also feature 0"),
        "{e}"
    );
    // Unknown function: the field, the value and the accepted values.
    let d = plot_region(&with(&|p| p[2].function = "mixed"), PARCELS_CFG);
    let e = fails(&d);
    assert!(
        e.contains("feature 2")
            && e.contains("field \"cn\"")
            && e.contains("unknown \"mixed\"")
            && e.contains("protection (Phòng hộ)"),
        "{e}"
    );
    // Missing function value.
    let d = plot_region(&with(&|p| p[0].function = ""), PARCELS_CFG);
    let e = fails(&d);
    assert!(
        e.contains("feature 0") && e.contains("missing forest function"),
        "{e}"
    );
    // Unknown owner category.
    let d = plot_region(&with(&|p| p[3].category = "company"), PARCELS_CFG);
    let e = fails(&d);
    assert!(
        e.contains("feature 3")
            && e.contains("field \"loai_chu\"")
            && e.contains("unknown \"company\"")
            && e.contains("commune-committee (UBND xã)"),
        "{e}"
    );
    // Unknown origin.
    let d = plot_region(&with(&|p| p[0].origin = "alien"), PARCELS_CFG);
    let e = fails(&d);
    assert!(
        e.contains("field \"ng\"") && e.contains("unknown origin \"alien\""),
        "{e}"
    );
    // Invalid geometry (a bow-tie) and empty geometry.
    let bow = format!(
        "[[[[{x0},{y0}],[{x1},{y1}],[{x1},{y0}],[{x0},{y1}],[{x0},{y0}]]]]",
        x0 = X0 + 100.0,
        y0 = Y0 - 200.0,
        x1 = X0 + 200.0,
        y1 = Y0 - 100.0
    );
    let d = plot_region(&with(&|p| p[4].coords = bow.clone()), PARCELS_CFG);
    let e = fails(&d);
    assert!(
        e.contains("feature 4") && e.contains("invalid polygon"),
        "{e}"
    );
    let d = plot_region(&with(&|p| p[5].coords = "[]".into()), PARCELS_CFG);
    let e = fails(&d);
    assert!(
        e.contains("feature 5") && (e.contains("empty geometry") || e.contains("no geometry")),
        "{e}"
    );
    // A field named in the region file that the layer lacks.
    let d = plot_region(
        &base,
        &PARCELS_CFG.replace("owner_field = \"chu\"", "owner_field = \"chu_rung\""),
    );
    let e = fails(&d);
    assert!(
        e.contains("plots.geojson") && e.contains("no field \"chu_rung\""),
        "{e}"
    );
    // An id needs id_field or all three compartment fields.
    let d = plot_region(&base, &PARCELS_CFG.replace("plot_field = \"lo\"\n", ""));
    let e = fails(&d);
    assert!(e.contains("[parcels]") && e.contains("plot_field"), "{e}");
}
