//! Criterion benches of the core kernels, on the shapes and sizes of a real run:
//! the 65 Lạng Sơn communes on the province's 10 m grid (13 400 × 12 700 px).
//!
//! ```sh
//! cargo bench -p canopy-core --bench kernels            # all
//! cargo bench -p canopy-core --bench kernels -- zonal   # one group
//! ```
//!
//! - `coverage/*`: exact coverage of one polygon on the grid: a square (4
//!   vertices), a real commune (the largest, ~300 vertices), a 3 000-vertex and a
//!   100 000-vertex wiggly polygon, and all 65 communes (what a run does per epoch);
//! - `zonal/*`: one 256-row strip of states accumulated for every commune that
//!   crosses it (constant pixel area, and the interpolated lattice of a grid that is
//!   not in the area CRS);
//! - `rules/*`: NDVI + threshold + cloud mask on a strip (f32 red/NIR/mask), the
//!   class rule (f64 codes, and the lookup table on Byte codes the reader uses),
//!   and compositing (`fill_unobserved`);
//! - `components/*`: runs of a sparse loss mask (`row_runs`) and 8-connected
//!   labelling of a whole strip (`Labeller`).
//!
//! Throughputs are in pixels (elements) per second. The communes are read from
//! `data/regions/lang-son/communes.geojson` and taken to metres with a local
//! equirectangular projection: the shapes are real, the CRS need not be.

use std::hint::black_box;
use std::path::Path;

use canopy_core::components::{row_runs, Labeller, Run};
use canopy_core::coverage::{coverage, Coverage};
use canopy_core::forest::{
    fill_unobserved, BandScaling, ClassRule, SpectralRule, FOREST, NON_FOREST, UNOBSERVED,
};
use canopy_core::grid::Grid;
use canopy_core::pixel_area::PixelArea;
use canopy_core::zonal::{accumulate, Strip};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use geo::{BoundingRect, Coord, LineString, MultiPolygon, Polygon};

const PIXEL: f64 = 10.0;
const STRIP_ROWS: usize = 256;

/// The communes in metres, and the 10 m grid over their bounding box.
fn communes() -> (Vec<MultiPolygon<f64>>, Grid) {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/regions/lang-son/communes.geojson");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let fc: serde_json::Value = serde_json::from_str(&text).expect("GeoJSON");
    let (lon0, lat0) = (106.7f64, 21.9f64);
    let (kx, ky) = (111_320.0 * lat0.to_radians().cos(), 110_574.0);
    let ring = |r: &serde_json::Value| -> LineString<f64> {
        r.as_array()
            .expect("ring")
            .iter()
            .map(|p| {
                let (lon, lat) = (p[0].as_f64().unwrap(), p[1].as_f64().unwrap());
                Coord {
                    x: 500_000.0 + (lon - lon0) * kx,
                    y: 2_400_000.0 + (lat - lat0) * ky,
                }
            })
            .collect()
    };
    let polys: Vec<MultiPolygon<f64>> = fc["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            let g = &f["geometry"];
            let parts: Vec<&serde_json::Value> = match g["type"].as_str() {
                Some("Polygon") => vec![&g["coordinates"]],
                Some("MultiPolygon") => g["coordinates"].as_array().unwrap().iter().collect(),
                t => panic!("unexpected geometry {t:?}"),
            };
            MultiPolygon(
                parts
                    .into_iter()
                    .map(|p| {
                        let rings = p.as_array().unwrap();
                        Polygon::new(ring(&rings[0]), rings[1..].iter().map(ring).collect())
                    })
                    .collect(),
            )
        })
        .collect();
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for p in &polys {
        let r = p.bounding_rect().expect("extent");
        x0 = x0.min(r.min().x);
        y0 = y0.min(r.min().y);
        x1 = x1.max(r.max().x);
        y1 = y1.max(r.max().y);
    }
    let (x0, y1) = ((x0 / PIXEL).floor() * PIXEL, (y1 / PIXEL).ceil() * PIXEL);
    let grid = Grid {
        x0,
        y0: y1,
        dx: PIXEL,
        dy: PIXEL,
        width: ((x1 - x0) / PIXEL).ceil() as usize,
        height: ((y1 - y0) / PIXEL).ceil() as usize,
    };
    (polys, grid)
}

/// A closed wiggly ring of `n` vertices around (cx, cy), mean radius `r` metres:
/// lobes plus a deterministic jitter of ±2 m (a fifth of a pixel, like a finely
/// digitised boundary), so edges cross pixels at every angle.
fn wiggly(n: usize, cx: f64, cy: f64, r: f64) -> MultiPolygon<f64> {
    let mut pts: Vec<Coord<f64>> = (0..n)
        .map(|i| {
            let t = i as f64 / n as f64 * std::f64::consts::TAU;
            let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
            let jitter = (h as f64 / (1u64 << 24) as f64 - 0.5) * 4.0;
            let rr = r * (1.0 + 0.25 * (7.0 * t).sin() + 0.08 * (31.0 * t).sin()) + jitter;
            Coord {
                x: cx + rr * t.cos(),
                y: cy + rr * t.sin(),
            }
        })
        .collect();
    pts.push(pts[0]);
    MultiPolygon(vec![Polygon::new(LineString(pts), vec![])])
}

/// Deterministic states with ~62 % forest, ~8 % unobserved, in patches.
fn states(width: usize, rows: usize, row0: usize) -> Vec<u8> {
    (0..rows)
        .flat_map(|r| {
            (0..width).map(move |c| {
                let (a, b) = ((c / 7) as u64, ((r + row0) / 5) as u64);
                let h = (a.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F))
                    >> 56;
                match h {
                    0..=19 => UNOBSERVED,
                    20..=116 => NON_FOREST,
                    _ => FOREST,
                }
            })
        })
        .collect()
}

fn bench_coverage(c: &mut Criterion) {
    let (communes, grid) = communes();
    let (cx, cy) = (
        grid.x0 + grid.width as f64 * PIXEL / 2.0,
        grid.y0 - grid.height as f64 * PIXEL / 2.0,
    );
    let largest = communes
        .iter()
        .max_by_key(|p| p.0.iter().map(|q| q.exterior().0.len()).sum::<usize>())
        .expect("communes")
        .clone();
    let square: MultiPolygon<f64> = MultiPolygon(vec![Polygon::new(
        LineString::from(vec![
            (cx - 3_003.0, cy - 2_997.0),
            (cx + 2_996.0, cy - 2_997.0),
            (cx + 2_996.0, cy + 3_001.0),
            (cx - 3_003.0, cy + 3_001.0),
            (cx - 3_003.0, cy - 2_997.0),
        ]),
        vec![],
    )]);
    let cases = [
        ("square 6 km, 4 vertices", square),
        ("largest commune", largest),
        ("wiggly 3k vertices, 6 km", wiggly(3_000, cx, cy, 3_000.0)),
        (
            "wiggly 100k vertices, 30 km",
            wiggly(100_000, cx, cy, 15_000.0),
        ),
    ];
    let mut g = c.benchmark_group("coverage");
    g.sample_size(20);
    for (name, poly) in &cases {
        let cov = coverage(poly, &grid);
        g.throughput(Throughput::Elements(
            poly.0.iter().map(|p| p.exterior().0.len() as u64).sum(),
        ));
        eprintln!(
            "coverage/{name}: {:.0} px covered, {} spans",
            cov.total(),
            cov.span_count()
        );
        g.bench_function(*name, |b| {
            b.iter(|| coverage(black_box(poly), black_box(&grid)))
        });
    }
    g.throughput(Throughput::Elements(
        communes
            .iter()
            .flat_map(|p| &p.0)
            .map(|p| p.exterior().0.len() as u64)
            .sum(),
    ));
    g.bench_function("65 communes of Lạng Sơn", |b| {
        b.iter(|| {
            communes
                .iter()
                .map(|p| coverage(black_box(p), &grid))
                .collect::<Vec<Coverage>>()
        })
    });
    g.finish();
}

fn bench_zonal(c: &mut Criterion) {
    let (communes, grid) = communes();
    let covs: Vec<Coverage> = communes.iter().map(|p| coverage(p, &grid)).collect();
    // The strip crossing the most communes.
    let row0 = (0..grid.height)
        .step_by(STRIP_ROWS)
        .max_by_key(|&r| {
            covs.iter()
                .filter(|c| c.rows().start < r + STRIP_ROWS && c.rows().end > r)
                .count()
        })
        .expect("strips");
    let rows = STRIP_ROWS.min(grid.height - row0);
    let st = states(grid.width, rows, row0);
    let crossing: Vec<&Coverage> = covs
        .iter()
        .filter(|c| c.rows().start < row0 + rows && c.rows().end > row0)
        .collect();
    let strip = Strip {
        row0,
        width: grid.width,
        states: &st,
    };
    let constant = PixelArea::Constant(PIXEL * PIXEL);
    let (lc, lr) = PixelArea::lattice_points(grid.width, grid.height, 64);
    let lattice = PixelArea::Lattice {
        step: 64,
        cols: lc,
        rows: lr,
        values: (0..lc * lr)
            .map(|i| 100.0 + (i % 97) as f64 * 1e-4)
            .collect(),
    };
    let mut g = c.benchmark_group("zonal");
    g.throughput(Throughput::Elements((grid.width * rows) as u64));
    eprintln!(
        "zonal: strip at row {row0}, {} communes cross it",
        crossing.len()
    );
    for (name, area) in [
        ("strip, all communes, constant area", &constant),
        ("strip, all communes, area lattice", &lattice),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                crossing
                    .iter()
                    .map(|c| accumulate(c, black_box(strip), area).forest)
                    .sum::<f64>()
            })
        });
    }
    g.finish();
}

fn bench_rules(c: &mut Criterion) {
    let width = 13_400;
    let n = width * STRIP_ROWS;
    let st = states(width, STRIP_ROWS, 0);
    // L2A-like digital numbers: forest (NDVI ≈ 0.8), non-forest (≈ 0.3), some clouds.
    let red: Vec<f32> = st
        .iter()
        .map(|&s| if s == FOREST { 1300.0 } else { 2200.0 })
        .collect();
    let nir: Vec<f32> = st
        .iter()
        .map(|&s| if s == FOREST { 4000.0 } else { 3300.0 })
        .collect();
    let mask: Vec<f32> = st
        .iter()
        .map(|&s| if s == UNOBSERVED { 1.0 } else { 0.0 })
        .collect();
    let l2a = BandScaling {
        scale: 1e-4,
        offset: -0.1,
        nodata: Some(0.0),
    };
    let rule = SpectralRule {
        ndvi_min: 0.55,
        red: l2a,
        nir: l2a,
        mask: canopy_core::forest::MaskRule::NonZero,
    };
    let codes: Vec<f64> = st.iter().map(|&s| s as f64).collect();
    let class = ClassRule {
        forest_classes: vec![2],
        nodata: Some(0.0),
    };
    let mut out = vec![0u8; n];
    let mut ndvi = vec![0f32; n];
    let mut g = c.benchmark_group("rules");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("NDVI + threshold + mask, one strip", |b| {
        b.iter(|| {
            rule.classify_into(
                black_box(&red),
                black_box(&nir),
                Some(black_box(&mask)),
                &mut out,
                &mut ndvi,
            )
        })
    });
    g.bench_function("NDVI + threshold, no mask, one strip", |b| {
        b.iter(|| rule.classify_into(black_box(&red), black_box(&nir), None, &mut out, &mut ndvi))
    });
    g.bench_function("class rule (f64 codes), one strip", |b| {
        b.iter(|| class.classify_into(black_box(&codes), &mut out))
    });
    // What the reader does with a Byte class band: native codes, one table load.
    let codes_u8: Vec<u8> = st.clone();
    let table = class.table(0, 256, &[0, 1, 2]);
    g.bench_function("class table (u8 codes), one strip", |b| {
        b.iter(|| table.classify_into(black_box(&codes_u8), &mut out))
    });
    g.bench_function("fill_unobserved, one strip", |b| {
        b.iter_batched_ref(
            || st.clone(),
            |acc| fill_unobserved(acc, black_box(&out)),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// A sparse loss mask (~1 % of pixels, in patches of a few to a few hundred pixels).
fn loss_mask(width: usize, rows: usize) -> Vec<u8> {
    let mut m = vec![0u8; width * rows];
    let mut h = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        h ^= h << 13;
        h ^= h >> 7;
        h ^= h << 17;
        h
    };
    let mut set = 0usize;
    while set < width * rows / 100 {
        let (c, r) = (
            (next() % width as u64) as usize,
            (next() % rows as u64) as usize,
        );
        let (w, hgt) = (1 + (next() % 24) as usize, 1 + (next() % 12) as usize);
        for rr in r..(r + hgt).min(rows) {
            let skew = (rr - r) / 3;
            for cc in (c + skew)..(c + skew + w).min(width) {
                if m[rr * width + cc] == 0 {
                    m[rr * width + cc] = 1;
                    set += 1;
                }
            }
        }
    }
    m
}

fn bench_components(c: &mut Criterion) {
    let width = 13_400;
    let mask = loss_mask(width, STRIP_ROWS);
    let mut g = c.benchmark_group("components");
    g.throughput(Throughput::Elements((width * STRIP_ROWS) as u64));
    let mut runs: Vec<Run> = Vec::new();
    g.bench_function("row_runs, 1 % loss, one strip", |b| {
        b.iter(|| {
            runs.clear();
            for (r, row) in mask.chunks_exact(width).enumerate() {
                row_runs(r as u32, black_box(row), &mut runs);
            }
            runs.len()
        })
    });
    let per_row: Vec<Vec<Run>> = mask
        .chunks_exact(width)
        .enumerate()
        .map(|(r, row)| {
            let mut v = Vec::new();
            row_runs(r as u32, row, &mut v);
            v
        })
        .collect();
    g.bench_function("label (push_row + finish), 1 % loss, one strip", |b| {
        b.iter(|| {
            let mut l = Labeller::new();
            for rr in &per_row {
                l.push_row(black_box(rr));
            }
            l.finish().len()
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_coverage,
    bench_zonal,
    bench_rules,
    bench_components
);
criterion_main!(benches);
