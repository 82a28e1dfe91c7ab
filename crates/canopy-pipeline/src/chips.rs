//! Evidence chips: for each alert, a small PNG of the earlier and of the later epoch
//! around the patch, with the patch's outline drawn, so that a ranger sees why the
//! system thinks the forest was cut before walking there.
//!
//! Rendered by the run from the same strips the change pass reads (`MosaicReader`,
//! on the earlier epoch's working grid, so both chips share one lattice). Spectral
//! epochs are drawn as NDVI ([`ndvi_colour`]: browns below the forest threshold,
//! greens above it, grey where unobserved); class epochs by observation state
//! (forest green, non-forest tan, grey unobserved). Each source pixel becomes a
//! [`SCALE`]×[`SCALE`] block; the outline is a 1-px yellow (#ffff00, a colour the
//! ramps never use) line along the block edges between patch and non-patch pixels,
//! so the pixels inside keep their colour. Bounded: a window of at most
//! [`MAX_SIDE`] source pixels a side (centred on the patch), at most [`MAX_ALERTS`]
//! alerts a pair (the largest first); PNG via GDAL's PNG driver.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use canopy_core::components::Component;
use canopy_core::composite::Method;
use canopy_core::forest::{FOREST, NON_FOREST};
use gdal::raster::Buffer;
use gdal::DriverManager;
use rayon::prelude::*;

use crate::raster::mosaic::Mosaic;
use crate::raster::reader::{MosaicReader, PerThread, Rules, StripData};
use crate::PipelineError;

/// Block size of a source pixel in the chip.
pub const SCALE: usize = 4;
/// Largest window side, in source pixels.
pub const MAX_SIDE: usize = 96;
/// Smallest window side, in source pixels.
pub const MIN_SIDE: usize = 24;
/// Most alerts with chips per epoch pair.
pub const MAX_ALERTS: usize = 5000;
/// The outline colour.
pub const OUTLINE: [u8; 3] = [255, 255, 0];
/// Unobserved pixels.
pub const UNOBSERVED: [u8; 3] = [190, 190, 190];

pub use canopy_store::chips::Chip;

/// One scene of a composite epoch, over the alert's pixels.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SeriesPoint {
    pub epoch: String,
    pub date: String,
    /// Mean NDVI of the patch's pixels the scene saw clear (`None`: none).
    pub ndvi: Option<f64>,
    /// Patch pixels the scene saw clear, of `pixels`.
    pub clear: usize,
    pub pixels: usize,
}

/// Each scene date of a composite epoch as a one-scene mosaic (no series for a
/// priority epoch: its one observation per pixel is the chip).
fn scenes(m: &Mosaic) -> Vec<Mosaic> {
    if m.composite == Method::Priority {
        return Vec::new();
    }
    let mut dates: Vec<&String> = m.tiles.iter().map(|t| &t.date).collect();
    dates.sort();
    dates.dedup();
    dates
        .into_iter()
        .map(|d| Mosaic {
            tiles: m.tiles.iter().filter(|t| &t.date == d).cloned().collect(),
            composite: Method::Priority,
            min_clear: 1,
            ..m.clone()
        })
        .collect()
}

/// An NDVI as a colour: below `threshold` (not forest) browns to tan, at and above it
/// light to dark green. Red exceeds green for every non-forest value and green
/// exceeds red for every forest value, whatever the threshold.
pub fn ndvi_colour(ndvi: f32, threshold: f64) -> [u8; 3] {
    if !ndvi.is_finite() {
        return UNOBSERVED;
    }
    let v = ndvi as f64;
    let lerp = |a: [f64; 3], b: [f64; 3], t: f64| {
        let t = t.clamp(0.0, 1.0);
        [0, 1, 2].map(|i| (a[i] + (b[i] - a[i]) * t).round() as u8)
    };
    if v < threshold {
        // -0.2 .. threshold: dark brown → tan
        lerp(
            [110.0, 70.0, 40.0],
            [215.0, 180.0, 120.0],
            (v + 0.2) / (threshold + 0.2),
        )
    } else {
        // threshold .. 0.9: light green → dark green
        lerp(
            [150.0, 205.0, 110.0],
            [20.0, 100.0, 35.0],
            (v - threshold) / (0.9 - threshold).max(1e-6),
        )
    }
}

fn state_colour(s: u8) -> [u8; 3] {
    match s {
        FOREST => [30, 120, 45],
        NON_FOREST => [215, 180, 120],
        _ => UNOBSERVED,
    }
}

/// The window `[c0, r0, c1, r1)` around a patch's bbox, clamped to the grid.
fn window(bbox: [u32; 4], width: usize, height: usize) -> [usize; 4] {
    let (c0, r0, c1, r1) = (
        bbox[0] as usize,
        bbox[1] as usize,
        bbox[2] as usize,
        bbox[3] as usize,
    );
    let side = ((c1 - c0).max(r1 - r0) * 2).clamp(MIN_SIDE, MAX_SIDE);
    let (cx, cy) = ((c0 + c1) / 2, (r0 + r1) / 2);
    let place = |centre: usize, len: usize| {
        let side = side.min(len);
        let start = centre.saturating_sub(side / 2).min(len - side);
        (start, start + side)
    };
    let (x0, x1) = place(cx, width);
    let (y0, y1) = place(cy, height);
    [x0, y0, x1, y1]
}

static VSI_SEQ: AtomicUsize = AtomicUsize::new(0);

/// RGB rows (`w`×`h`) as PNG bytes, via GDAL.
fn png(rgb: &[u8], w: usize, h: usize) -> Result<Vec<u8>, PipelineError> {
    let err = |e: gdal::errors::GdalError| PipelineError::Input(format!("rendering a chip: {e}"));
    let mem = DriverManager::get_driver_by_name("MEM").map_err(err)?;
    let ds = mem
        .create_with_band_type::<u8, _>("", w, h, 3)
        .map_err(err)?;
    for b in 0..3 {
        let data: Vec<u8> = rgb.iter().skip(b).step_by(3).copied().collect();
        let mut buf = Buffer::new((w, h), data);
        ds.rasterband(b + 1)
            .map_err(err)?
            .write((0, 0), (w, h), &mut buf)
            .map_err(err)?;
    }
    let path = format!(
        "/vsimem/canopy-chip-{}-{}.png",
        std::process::id(),
        VSI_SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let driver = DriverManager::get_driver_by_name("PNG").map_err(err)?;
    let out = ds
        .create_copy(&driver, &path, &Default::default())
        .map_err(err)?;
    drop(out);
    gdal::vsi::get_vsi_mem_file_bytes_owned(&path).map_err(err)
}

/// Draws one epoch's window with the patch's outline.
fn draw(
    data: &StripData,
    grid_w: usize,
    row0: usize,
    win: [usize; 4],
    patch: &HashSet<(usize, usize)>,
    threshold: f64,
) -> (Vec<u8>, usize, usize) {
    let (w, h) = (win[2] - win[0], win[3] - win[1]);
    let (cw, ch) = (w * SCALE, h * SCALE);
    let mut rgb = vec![0u8; cw * ch * 3];
    let inside = |c: isize, r: isize| c >= 0 && r >= 0 && patch.contains(&(c as usize, r as usize));
    for y in 0..h {
        for x in 0..w {
            let (c, r) = (win[0] + x, win[1] + y);
            let i = (r - row0) * grid_w + c;
            let colour = if !data.ndvi.is_empty() {
                ndvi_colour(data.ndvi[i], threshold)
            } else {
                state_colour(data.states[i])
            };
            let here = inside(c as isize, r as isize);
            let (ci, ri) = (c as isize, r as isize);
            let edge = |dx: isize, dy: isize| here && !inside(ci + dx, ri + dy);
            let (left, right, top, bottom) = (edge(-1, 0), edge(1, 0), edge(0, -1), edge(0, 1));
            for by in 0..SCALE {
                for bx in 0..SCALE {
                    let line = (left && bx == 0)
                        || (right && bx == SCALE - 1)
                        || (top && by == 0)
                        || (bottom && by == SCALE - 1);
                    let o = ((y * SCALE + by) * cw + x * SCALE + bx) * 3;
                    rgb[o..o + 3].copy_from_slice(if line { &OUTLINE } else { &colour });
                }
            }
        }
    }
    (rgb, cw, ch)
}

/// One alert to render: its place in the output order, id, patch and window.
struct Job<'a> {
    idx: usize,
    id: &'a str,
    comp: &'a Component,
    win: [usize; 4],
}

/// Alerts grouped by rows (sorted by window top; a group spans at most `rows`
/// rows of windows), so that each group reads every epoch once. `render` takes
/// a strip's height (`strips::strip_height`): a group's reads are whole grid
/// rows of every epoch and scene, held at once, so they are bounded as a strip's.
fn groups<'a>(mut jobs: Vec<Job<'a>>, rows: usize) -> Vec<Vec<Job<'a>>> {
    jobs.sort_by_key(|j| (j.win[1], j.idx));
    let mut out: Vec<Vec<Job>> = Vec::new();
    let mut span = (0usize, 0usize);
    for j in jobs {
        match out.last_mut() {
            Some(g) if j.win[3].max(span.1) - span.0 <= rows => {
                span.1 = span.1.max(j.win[3]);
                g.push(j);
            }
            _ => {
                span = (j.win[1], j.win[3]);
                out.push(vec![j]);
            }
        }
    }
    out
}

/// The before/after chips of every patch (`(alert id, component)`) of the pair
/// `ma` → `mb` (`mb` planned on `ma`'s grid), and the NDVI series of composite
/// epochs. Alerts are rendered in row groups ([`groups`]): each group reads the
/// rows of its windows once per epoch and the rows of its patches once per scene,
/// instead of once per alert (reads are whole grid rows, so per-alert reads made
/// the run about twice as slow). The output is in the order of the largest first.
///
/// `done`: chips already rendered (by a shard, or cached), by alert id; an alert
/// found there is not rendered again (its chips are taken out of `done`). The
/// output is the same either way: a chip depends only on its alert's patch.
/// Also returns how many alerts were rendered here.
pub fn render(
    ma: &Mosaic,
    mb: &Mosaic,
    rules: &Rules,
    patches: &[(String, Component)],
    done: &mut HashMap<String, Vec<Chip>>,
) -> Result<(Vec<Chip>, usize), PipelineError> {
    let g = ma.grid;
    let mut order: Vec<&(String, Component)> = patches.iter().collect();
    order.sort_by(|a, b| b.1.pixels.cmp(&a.1.pixels).then(a.0.cmp(&b.0)));
    if order.len() > MAX_ALERTS {
        // A shard keeps its own largest (every alert of the pair's largest
        // MAX_ALERTS that lies in the shard is among them); the merge warns.
        if !crate::shard::computing_shard() {
            tracing::warn!(
                alerts = order.len(),
                kept = MAX_ALERTS,
                "chips only for the largest alerts"
            );
        }
        order.truncate(MAX_ALERTS);
    }
    let mut slots: Vec<Option<Vec<Chip>>> = order.iter().map(|(id, _)| done.remove(id)).collect();
    let jobs: Vec<Job> = order
        .iter()
        .enumerate()
        .filter(|(idx, _)| slots[*idx].is_none())
        .map(|(idx, (id, comp))| Job {
            idx,
            id,
            comp,
            win: window(comp.bbox, g.width, g.height),
        })
        .collect();
    let rendered_here = jobs.len();
    let groups = groups(jobs, crate::strips::strip_height(g.width));
    let scene_mosaics: Vec<Mosaic> = scenes(ma).into_iter().chain(scenes(mb)).collect();
    let per_thread = PerThread::new();
    let rendered: Vec<Result<Vec<(usize, Vec<Chip>)>, PipelineError>> = groups
        .par_iter()
        .map(|group| {
            per_thread.with(
                || {
                    MosaicReader::new(ma, rules).and_then(|a| {
                        let b = MosaicReader::new(mb, rules)?;
                        let s = scene_mosaics
                            .iter()
                            .map(|m| MosaicReader::new(m, rules))
                            .collect::<Result<Vec<_>, _>>()?;
                        Ok((a, b, s))
                    })
                },
                |readers| {
                    let (ra, rb, rs) = readers
                        .as_mut()
                        .map_err(|e| PipelineError::Input(e.to_string()))?;
                    render_group(group, ma, mb, ra, rb, rs, &scene_mosaics, rules)
                },
            )
        })
        .collect();
    for group in rendered {
        for (idx, chips) in group? {
            slots[idx] = Some(chips);
        }
    }
    Ok((
        slots.into_iter().flatten().flatten().collect(),
        rendered_here,
    ))
}

/// Chips as CBOR values (a shard's partial, the cache): `[alert id, kind, epoch,
/// bytes]` each, the PNG/JSON as a byte string.
pub fn to_values(chips: &[Chip]) -> Vec<ciborium::Value> {
    use ciborium::Value;
    chips
        .iter()
        .map(|c| {
            Value::Array(vec![
                Value::Text(c.alert_id.clone()),
                Value::Text(c.kind.to_string()),
                Value::Text(c.epoch.clone()),
                Value::Bytes(c.png.clone()),
            ])
        })
        .collect()
}

/// The chips of [`to_values`], grouped by alert id (in their order); an item
/// that is not a chip is an error naming it.
pub fn from_values(values: &[ciborium::Value]) -> Result<HashMap<String, Vec<Chip>>, String> {
    use ciborium::Value;
    let mut out: HashMap<String, Vec<Chip>> = HashMap::new();
    for (i, v) in values.iter().enumerate() {
        let bad = || format!("chip {i} is not [alert id, kind, epoch, bytes]");
        let Value::Array(a) = v else {
            return Err(bad());
        };
        let [Value::Text(id), Value::Text(kind), Value::Text(epoch), Value::Bytes(png)] = &a[..]
        else {
            return Err(bad());
        };
        let kind = match kind.as_str() {
            "before" => "before",
            "after" => "after",
            "series" => "series",
            _ => return Err(bad()),
        };
        out.entry(id.clone()).or_default().push(Chip {
            alert_id: id.clone(),
            kind,
            epoch: epoch.clone(),
            png: png.clone(),
        });
    }
    Ok(out)
}

/// The chips of one row group: one read of the windows' rows per epoch, one read
/// of the patches' rows per scene.
#[allow(clippy::too_many_arguments)]
fn render_group(
    group: &[Job],
    ma: &Mosaic,
    mb: &Mosaic,
    ra: &mut MosaicReader,
    rb: &mut MosaicReader,
    rs: &mut [MosaicReader],
    scene_mosaics: &[Mosaic],
    rules: &Rules,
) -> Result<Vec<(usize, Vec<Chip>)>, PipelineError> {
    let g = ma.grid;
    let w0 = group.iter().map(|j| j.win[1]).min().unwrap_or(0);
    let w1 = group.iter().map(|j| j.win[3]).max().unwrap_or(0);
    let mut before = StripData::default();
    let mut after = StripData::default();
    ra.read(w0, w1 - w0, &mut before, true)?;
    rb.read(w0, w1 - w0, &mut after, true)?;
    // Only the patches' rows for the series: a scene read is whole grid rows.
    let p0 = group
        .iter()
        .map(|j| j.comp.bbox[1] as usize)
        .min()
        .unwrap_or(0);
    let p1 = group
        .iter()
        .map(|j| j.comp.bbox[3] as usize)
        .max()
        .unwrap_or(0);
    let mut scene_data = Vec::with_capacity(rs.len());
    for reader in rs.iter_mut() {
        let mut data = StripData::default();
        reader.read(p0, p1 - p0, &mut data, true)?;
        scene_data.push(data);
    }
    let mut out = Vec::with_capacity(group.len());
    for job in group {
        let (id, comp, win) = (job.id, job.comp, job.win);
        let patch: HashSet<(usize, usize)> = comp
            .runs
            .iter()
            .flat_map(|r| (r.c0..r.c1).map(move |c| (c as usize, r.row as usize)))
            .collect();
        let mut chips = Vec::with_capacity(3);
        for (data, kind, epoch) in [(&before, "before", &ma.epoch), (&after, "after", &mb.epoch)] {
            let (rgb, w, h) = draw(data, g.width, w0, win, &patch, rules.ndvi_min);
            chips.push(Chip {
                alert_id: id.to_string(),
                kind,
                epoch: epoch.to_string(),
                png: png(&rgb, w, h)?,
            });
        }
        if !scene_data.is_empty() {
            let mut points = Vec::with_capacity(scene_data.len());
            for (data, m) in scene_data.iter().zip(scene_mosaics) {
                // In run order (not the hash set's), so the mean is the same every run.
                let vals: Vec<f64> = comp
                    .runs
                    .iter()
                    .flat_map(|r| (r.c0..r.c1).map(move |c| (c as usize, r.row as usize)))
                    .map(|(c, r)| {
                        data.ndvi
                            .get((r - p0) * g.width + c)
                            .copied()
                            .unwrap_or(f32::NAN) as f64
                    })
                    .filter(|v| v.is_finite())
                    .collect();
                points.push(SeriesPoint {
                    epoch: m.epoch.clone(),
                    date: m.tiles.first().map(|t| t.date.clone()).unwrap_or_default(),
                    ndvi: (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64),
                    clear: vals.len(),
                    pixels: patch.len(),
                });
            }
            let json = serde_json::to_vec(&points)
                .map_err(|e| PipelineError::Input(format!("series of alert {id}: {e}")))?;
            chips.push(Chip {
                alert_id: id.to_string(),
                kind: "series",
                epoch: String::new(),
                png: json,
            });
        }
        out.push((job.idx, chips));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_separates_forest_from_non_forest() {
        for t in [0.3, 0.5, 0.6] {
            for k in -20..=90 {
                let v = k as f32 / 100.0;
                let [r, g, _] = ndvi_colour(v, t);
                if (v as f64) < t {
                    assert!(r > g, "ndvi {v} < {t}: {r} {g}");
                } else {
                    assert!(g > r, "ndvi {v} >= {t}: {r} {g}");
                }
                assert_ne!(ndvi_colour(v, t), OUTLINE);
            }
        }
        assert_eq!(ndvi_colour(f32::NAN, 0.5), UNOBSERVED);
    }

    #[test]
    fn windows_are_clamped_and_bounded() {
        assert_eq!(window([10, 10, 14, 12], 1000, 1000), [0, 0, 24, 24]);
        assert_eq!(
            window([500, 500, 700, 520], 1000, 1000),
            [552, 462, 648, 558]
        );
        assert_eq!(
            window([990, 990, 1000, 1000], 1000, 1000),
            [976, 976, 1000, 1000]
        );
        assert_eq!(window([0, 0, 5, 5], 10, 8), [0, 0, 10, 8]);
    }

    #[test]
    fn groups_span_at_most_group_rows() {
        let comp = Component {
            runs: Vec::new(),
            pixels: 1,
            bbox: [0, 0, 1, 1],
        };
        let job = |idx: usize, r0: usize, r1: usize| Job {
            idx,
            id: "a",
            comp: &comp,
            win: [0, r0, 10, r1],
        };
        let gs = groups(
            vec![
                job(0, 300, 330),
                job(1, 0, 24),
                job(2, 200, 256),
                job(3, 10, 40),
                job(4, 250, 260),
            ],
            256,
        );
        let idx: Vec<Vec<usize>> = gs
            .iter()
            .map(|g| g.iter().map(|j| j.idx).collect())
            .collect();
        // 0..256 holds alerts 1, 3, 2 (ends at 256); 4 would end at 260: a new group from 250.
        assert_eq!(idx, vec![vec![1, 3, 2], vec![4, 0]]);
    }
}
