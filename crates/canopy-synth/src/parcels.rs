//! Forest plots (lô rừng) for the sample: `parcels.geojson` (`canopy synth --parcels`).
//!
//! Communes are subdivided into plots by recursive cuts of their bounding box
//! (longer side, at 35–65 %), the commune polygon clipped along the way, until a
//! piece is below a size drawn per cut (log-normal, median 2.2 ha, 0.6–28 ha), so
//! plots measure 0.5–30 ha with a median of a few ha (pieces at the commune
//! boundary can be smaller). At 10 m every commune is subdivided (about 300,000
//! plots over Lạng Sơn); at a coarser pixel size only the two communes with the
//! most planted changes (a few thousand plots), so the sample stays small.
//!
//! Codes: tiểu khu = a 3 km cell of the province grid (province-unique number),
//! khoảnh = its 1 km sub-cell (1–9), lô = a number within the khoảnh. Function per
//! khoảnh (about 12 % special-use, 30 % protection, the rest production), origin,
//! forest type and owner category per plot; plots touching a planting zone are
//! production plantations of the zone's species, plots touching a planted
//! clearing natural forest, so the sample's alert severities keep their meaning.
//!
//! Shapes the tests need: ~4 % of inner plots get an enclave (a plot with a hole,
//! the enclave another plot), ~3 % are split in three along their long side with
//! the two outer thirds one plot (a multipolygon); in the sample, one boundary
//! piece in seven of the second commune keeps its whole rectangle (when its centre
//! lies in the commune) and so crosses the commune boundary, while the first
//! commune's plots tile it exactly.
//! Written in EPSG:32648 (the `crs` member), Vietnamese labels for function,
//! origin and owner category. Deterministic from the seed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use geo::{
    Area, BooleanOps, BoundingRect, Contains, Intersects, MultiPolygon, Point, Polygon, Rect,
};

use crate::communes::Communes;
use crate::field::{hash, unit};
use crate::scene::{Change, Kind};
use crate::zones::Zones;
use crate::SynthError;
use canopy_core::grid::Grid;

/// The `[parcels]` section of a region.toml for `parcels.geojson`.
pub(crate) const REGION_SECTION: &str = r#"
[parcels]                        # forest plots (lô rừng), canopy synth --parcels
path = "parcels.geojson"
compartment_field = "tieu_khu"   # tiểu khu
sub_compartment_field = "khoanh" # khoảnh
plot_field = "lo"                # lô
function_field = "chuc_nang"     # đặc dụng / phòng hộ / sản xuất
forest_type_field = "loai_rung"
origin_field = "nguon_goc"
owner_field = "chu_rung"
owner_category_field = "loai_chu_rung"
"#;

const KEY: u64 = 0x10_7a_2c_e1;
const M2_PER_HA: f64 = 10_000.0;

/// One generated plot.
pub(crate) struct Plot {
    pub tk: u32,
    pub khoanh: u32,
    pub lo: u32,
    pub commune: usize,
    pub function: &'static str,
    pub origin: &'static str,
    pub forest_type: String,
    pub owner: String,
    pub category: &'static str,
    pub geom: MultiPolygon<f64>,
}

/// A leaf of the subdivision: its rectangle and, at a commune boundary, the
/// clipped piece (`None`: the whole rectangle lies in the commune).
struct Leaf {
    rect: Rect<f64>,
    piece: Option<MultiPolygon<f64>>,
    key: u64,
}

fn rect_poly(r: &Rect<f64>) -> MultiPolygon<f64> {
    MultiPolygon(vec![r.to_polygon()])
}

fn split(
    seed: u64,
    rect: Rect<f64>,
    piece: Option<MultiPolygon<f64>>,
    key: u64,
    out: &mut Vec<Leaf>,
) {
    let area = rect.width() * rect.height();
    // Stop size: log-normal around 2.2 ha (Box–Muller from two hashes).
    let (u1, u2) = (
        unit(hash(seed ^ KEY, &[key, 1])).max(1e-12),
        unit(hash(seed ^ KEY, &[key, 2])),
    );
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    let stop_ha = (2.2f64.ln() + 0.75 * z).exp().clamp(0.6, 28.0);
    let inside_area = piece.as_ref().map_or(area, |p| p.unsigned_area());
    if area <= 2.0 * stop_ha * M2_PER_HA
        || inside_area <= 0.6 * M2_PER_HA && area < 60.0 * M2_PER_HA
    {
        out.push(Leaf { rect, piece, key });
        return;
    }
    let t = 0.35 + 0.3 * unit(hash(seed ^ KEY, &[key, 3]));
    let (min, max) = (rect.min(), rect.max());
    let (a, b) = if rect.width() >= rect.height() {
        let x = min.x + t * rect.width();
        (
            Rect::new(min, geo::coord! {x: x, y: max.y}),
            Rect::new(geo::coord! {x: x, y: min.y}, max),
        )
    } else {
        let y = min.y + t * rect.height();
        (
            Rect::new(min, geo::coord! {x: max.x, y: y}),
            Rect::new(geo::coord! {x: min.x, y: y}, max),
        )
    };
    for (k, child) in [a, b].into_iter().enumerate() {
        let ck = hash(key, &[k as u64 + 11]);
        match &piece {
            None => split(seed, child, None, ck, out),
            Some(p) => {
                let cr = rect_poly(&child);
                if !p.intersects(&cr) {
                    continue;
                }
                let clip = p.intersection(&cr);
                let ca = clip.unsigned_area();
                let full = child.width() * child.height();
                if ca <= 1.0 {
                    continue;
                }
                let next = if ca >= full * (1.0 - 1e-9) {
                    None
                } else {
                    Some(clip)
                };
                split(seed, child, next, ck, out);
            }
        }
    }
}

const SURNAMES: [&str; 8] = ["Hoàng", "Nông", "Lương", "Vi", "Lộc", "Triệu", "Lăng", "Mã"];
const GIVEN: [&str; 8] = [
    "Văn Thắng",
    "Thị Hoa",
    "Văn Phúc",
    "Thị Mai",
    "Văn Hùng",
    "Thị Lan",
    "Văn Khoa",
    "Thị Nhung",
];

fn pick<T: Copy>(u: f64, table: &[(f64, T)]) -> T {
    let mut acc = 0.0;
    for &(w, v) in table {
        acc += w;
        if u < acc {
            return v;
        }
    }
    table[table.len() - 1].1
}

/// Generates the plots. `sample`: only the two communes with the most changes.
pub(crate) fn generate(
    seed: u64,
    communes: &Communes,
    zones: &Zones,
    changes: &[Change],
    grid: &Grid,
    all_communes: bool,
) -> Vec<Plot> {
    let mut chosen: Vec<usize> = (0..communes.items.len()).collect();
    if !all_communes {
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        for c in changes {
            *count.entry(c.commune.as_str()).or_default() += 1;
        }
        chosen.sort_by(|&a, &b| {
            let (ca, cb) = (&communes.items[a].code, &communes.items[b].code);
            count
                .get(cb.as_str())
                .cmp(&count.get(ca.as_str()))
                .then(ca.cmp(cb))
        });
        chosen.truncate(2);
        chosen.sort();
    }
    // Changes in metres (EPSG:32648).
    let change_rects: Vec<(Kind, Rect<f64>)> = changes
        .iter()
        .map(|c| {
            let r = &c.rect;
            let x0 = grid.x0 + r.c0 as f64 * grid.dx;
            let x1 = grid.x0 + r.c1 as f64 * grid.dx;
            let y0 = grid.y0 - r.r1 as f64 * grid.dy;
            let y1 = grid.y0 - r.r0 as f64 * grid.dy;
            (
                c.kind,
                Rect::new(geo::coord! {x: x0, y: y0}, geo::coord! {x: x1, y: y1}),
            )
        })
        .collect();
    let (bx0, _by0, _bx1, by1) = communes.bbox;
    let cells_x = ((communes.bbox.2 - bx0) / 3000.0).ceil() as u32 + 1;
    let mut plots = Vec::new();
    let mut lo_counter: BTreeMap<(u32, u32), u32> = BTreeMap::new();
    // In the sample, the second commune's boundary plots may cross its boundary;
    // the first commune's plots tile it exactly.
    let crossing = (!all_communes).then(|| chosen.get(1).copied()).flatten();
    for &ci in &chosen {
        let c = &communes.items[ci];
        let b = c.bbox;
        let rect = Rect::new(geo::coord! {x: b.0, y: b.1}, geo::coord! {x: b.2, y: b.3});
        let mut leaves = Vec::new();
        split(
            seed,
            rect,
            Some(c.geom.clone()),
            hash(seed, &[ci as u64]),
            &mut leaves,
        );
        for leaf in leaves {
            let u = unit(hash(seed ^ KEY, &[leaf.key, 4]));
            let area = leaf.rect.width() * leaf.rect.height();
            let mut shapes: Vec<MultiPolygon<f64>> = Vec::new();
            match &leaf.piece {
                Some(p) => {
                    // One boundary piece in seven keeps its whole rectangle (sample
                    // only, second commune, the rectangle's centre in the commune).
                    let centre = leaf.rect.center();
                    if crossing == Some(ci)
                        && u < 1.0 / 7.0
                        && c.geom.contains(&Point::new(centre.x, centre.y))
                    {
                        shapes.push(rect_poly(&leaf.rect));
                    } else {
                        shapes.push(p.clone());
                    }
                }
                None if u < 0.04 && area > 4.0 * M2_PER_HA => {
                    let (min, w, h) = (leaf.rect.min(), leaf.rect.width(), leaf.rect.height());
                    let inner = Rect::new(
                        geo::coord! {x: min.x + 0.3 * w, y: min.y + 0.35 * h},
                        geo::coord! {x: min.x + 0.7 * w, y: min.y + 0.75 * h},
                    );
                    let outer = Polygon::new(
                        leaf.rect.to_polygon().exterior().clone(),
                        vec![inner.to_polygon().exterior().clone()],
                    );
                    shapes.push(MultiPolygon(vec![outer]));
                    shapes.push(rect_poly(&inner));
                }
                None if u < 0.07 && area > 3.0 * M2_PER_HA => {
                    let (min, max) = (leaf.rect.min(), leaf.rect.max());
                    let (p1, p2) = if leaf.rect.width() >= leaf.rect.height() {
                        let w = leaf.rect.width();
                        let (x1, x2) = (min.x + w / 3.0, min.x + 2.0 * w / 3.0);
                        (
                            [
                                Rect::new(min, geo::coord! {x: x1, y: max.y}),
                                Rect::new(geo::coord! {x: x2, y: min.y}, max),
                            ],
                            Rect::new(geo::coord! {x: x1, y: min.y}, geo::coord! {x: x2, y: max.y}),
                        )
                    } else {
                        let h = leaf.rect.height();
                        let (y1, y2) = (min.y + h / 3.0, min.y + 2.0 * h / 3.0);
                        (
                            [
                                Rect::new(min, geo::coord! {x: max.x, y: y1}),
                                Rect::new(geo::coord! {x: min.x, y: y2}, max),
                            ],
                            Rect::new(geo::coord! {x: min.x, y: y1}, geo::coord! {x: max.x, y: y2}),
                        )
                    };
                    shapes.push(MultiPolygon(vec![p1[0].to_polygon(), p1[1].to_polygon()]));
                    shapes.push(rect_poly(&p2));
                }
                None => shapes.push(rect_poly(&leaf.rect)),
            }
            for (s, geom) in shapes.into_iter().enumerate() {
                let Some(bb) = geom.bounding_rect() else {
                    continue;
                };
                let k = hash(leaf.key, &[s as u64 + 100]);
                let cx = (bb.min().x + bb.max().x) / 2.0;
                let cy = (bb.min().y + bb.max().y) / 2.0;
                let (col, row) = (((cx - bx0) / 3000.0) as u32, ((by1 - cy) / 3000.0) as u32);
                let tk = 100 + row * cells_x + col;
                let (sc, sr) = (
                    (((cx - bx0) % 3000.0) / 1000.0) as u32,
                    (((by1 - cy) % 3000.0) / 1000.0) as u32,
                );
                let khoanh = 1 + sr.min(2) * 3 + sc.min(2);
                let lo = {
                    let n = lo_counter.entry((tk, khoanh)).or_insert(0);
                    *n += 1;
                    *n
                };
                plots.push(attributes(
                    seed,
                    k,
                    tk,
                    khoanh,
                    lo,
                    ci,
                    c,
                    geom,
                    zones,
                    &change_rects,
                ));
            }
        }
    }
    plots
}

#[allow(clippy::too_many_arguments)]
fn attributes(
    seed: u64,
    k: u64,
    tk: u32,
    khoanh: u32,
    lo: u32,
    ci: usize,
    c: &crate::communes::Commune,
    geom: MultiPolygon<f64>,
    zones: &Zones,
    changes: &[(Kind, Rect<f64>)],
) -> Plot {
    let bb = geom.bounding_rect().expect("plots are not empty");
    let overlaps = |b: (f64, f64, f64, f64)| {
        b.0 < bb.max().x && b.2 > bb.min().x && b.1 < bb.max().y && b.3 > bb.min().y
    };
    let zone = zones
        .items
        .iter()
        .find(|z| overlaps(z.bbox) && geom.intersects(&z.poly));
    let clearing = changes.iter().any(|(kind, r)| {
        *kind == Kind::Clearing
            && overlaps((r.min().x, r.min().y, r.max().x, r.max().y))
            && geom.intersects(&r.to_polygon())
    });
    let uf = unit(hash(seed ^ KEY, &[tk as u64, khoanh as u64, 5]));
    let u = |n: u64| unit(hash(seed ^ KEY, &[k, n]));
    let function = if zone.is_some() {
        "Sản xuất"
    } else {
        pick(
            uf,
            &[(0.12, "Đặc dụng"), (0.30, "Phòng hộ"), (1.0, "Sản xuất")],
        )
    };
    let natural_share = match function {
        "Đặc dụng" => 0.95,
        "Phòng hộ" => 0.7,
        _ => 0.2,
    };
    let planted = zone.is_some() || (!clearing && u(6) >= natural_share);
    let origin = if planted {
        "Rừng trồng"
    } else {
        "Rừng tự nhiên"
    };
    let forest_type = match zone {
        Some(z) => zones.species[z.species].clone(),
        None if planted => pick(
            u(7),
            &[
                (0.6, "acacia"),
                (0.2, "pine"),
                (0.1, "anise"),
                (0.1, "cinnamon"),
            ],
        )
        .to_string(),
        None => pick(
            u(7),
            &[
                (0.7, "natural broadleaf evergreen"),
                (0.2, "natural mixed bamboo"),
                (0.1, "natural limestone"),
            ],
        )
        .to_string(),
    };
    let category = match function {
        "Đặc dụng" => pick(u(8), &[(0.9, "Ban quản lý rừng"), (1.0, "Đơn vị vũ trang")]),
        "Phòng hộ" => pick(
            u(8),
            &[
                (0.5, "Ban quản lý rừng"),
                (0.2, "Cộng đồng dân cư"),
                (0.15, "Hộ gia đình, cá nhân"),
                (1.0, "UBND xã"),
            ],
        ),
        _ => pick(
            u(8),
            &[
                (0.45, "Hộ gia đình, cá nhân"),
                (0.2, "Doanh nghiệp nhà nước"),
                (0.1, "Tổ chức kinh tế khác"),
                (0.08, "Cộng đồng dân cư"),
                (0.07, "UBND xã"),
                (0.04, "Tổ chức khoa học, đào tạo"),
                (0.03, "Doanh nghiệp vốn nước ngoài"),
                (1.0, "Đơn vị vũ trang"),
            ],
        ),
    };
    let n = (u(9) * 8.0) as usize % 8;
    let m = (u(10) * 8.0) as usize % 8;
    let owner = match category {
        "Hộ gia đình, cá nhân" => format!("Hộ {} {}", SURNAMES[n], GIVEN[m]),
        "Ban quản lý rừng" if function == "Đặc dụng" => {
            "BQL Khu bảo tồn thiên nhiên Hữu Liên".to_string()
        }
        "Ban quản lý rừng" => format!("BQL rừng phòng hộ {}", c.name),
        "Doanh nghiệp nhà nước" => "Công ty TNHH MTV Lâm nghiệp Đình Lập".to_string(),
        "Tổ chức kinh tế khác" => format!("HTX Nông lâm nghiệp {}", c.name),
        "Tổ chức khoa học, đào tạo" => {
            "Trung tâm Khoa học Lâm nghiệp vùng Đông Bắc Bộ".to_string()
        }
        "Cộng đồng dân cư" => format!("Cộng đồng thôn Nà {}", 1 + n),
        "Đơn vị vũ trang" => format!("Đồn Biên phòng {}", 100 + tk % 50),
        "Doanh nghiệp vốn nước ngoài" => "Công ty TNHH Lâm sản Việt – Nhật".to_string(),
        _ => format!("UBND xã {}", c.name),
    };
    Plot {
        tk,
        khoanh,
        lo,
        commune: ci,
        function,
        origin,
        forest_type,
        owner,
        category,
        geom,
    }
}

fn ring_json(r: &geo::LineString<f64>) -> String {
    let pts: Vec<String> =
        r.0.iter()
            .map(|c| format!("[{:.3}, {:.3}]", c.x, c.y))
            .collect();
    format!("[{}]", pts.join(", "))
}

/// The plots as GeoJSON in EPSG:32648.
pub(crate) fn geojson(plots: &[Plot], communes: &Communes) -> String {
    let js = |s: &str| serde_json::to_string(s).expect("string serialises");
    let mut out = String::with_capacity(plots.len() * 400);
    out.push_str("{\n\"type\": \"FeatureCollection\",\n\"name\": \"parcels\",\n");
    out.push_str(
        "\"crs\": { \"type\": \"name\", \"properties\": { \"name\": \"urn:ogc:def:crs:EPSG::32648\" } },\n",
    );
    out.push_str("\"features\": [\n");
    for (i, p) in plots.iter().enumerate() {
        let polys: Vec<String> = p
            .geom
            .0
            .iter()
            .map(|poly| {
                let mut rings = vec![ring_json(poly.exterior())];
                rings.extend(poly.interiors().iter().map(ring_json));
                format!("[{}]", rings.join(", "))
            })
            .collect();
        out.push_str(&format!(
            "{{ \"type\": \"Feature\", \"properties\": {{ \"tieu_khu\": \"{}\", \"khoanh\": \"{}\", \"lo\": \"{}\", \"ma_xa\": {}, \"chuc_nang\": {}, \"nguon_goc\": {}, \"loai_rung\": {}, \"chu_rung\": {}, \"loai_chu_rung\": {} }}, \"geometry\": {{ \"type\": \"MultiPolygon\", \"coordinates\": [{}] }} }}{}\n",
            p.tk,
            p.khoanh,
            p.lo,
            js(&communes.items[p.commune].code),
            js(p.function),
            js(p.origin),
            js(&p.forest_type),
            js(&p.owner),
            js(p.category),
            polys.join(", "),
            if i + 1 < plots.len() { "," } else { "" }
        ));
    }
    out.push_str("]\n}\n");
    out
}

/// Writes `parcels.geojson` into `out_dir`; returns its path.
pub(crate) fn write(
    out_dir: &Path,
    plots: &[Plot],
    communes: &Communes,
) -> Result<PathBuf, SynthError> {
    let path = out_dir.join("parcels.geojson");
    crate::files::write_atomic(&path, geojson(plots, communes).as_bytes())?;
    Ok(path)
}
