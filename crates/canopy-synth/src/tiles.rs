//! GeoTIFF writing: the Sentinel-2-like tiles and the forest truth rasters, streamed
//! in strips of 256 rows (rows computed in parallel, strips written in order while
//! the next one is computed), into a temporary name renamed when complete.

use std::path::Path;

use gdal::raster::{Buffer, GdalType, RasterCreationOptions};
use gdal::spatial_ref::SpatialRef;
use gdal::{Dataset, DriverManager, GeoTransform, Metadata};
use indicatif::ProgressBar;
use rayon::prelude::*;

use super::files::partial_path;
use super::layout::lonlat_to_utm;
use super::scene::{Scene, WGS_TILE};
use super::SynthError;

/// Rows per strip (= the GeoTIFF block height).
pub(crate) const STRIP: usize = 256;
/// Sentinel-2 L2A (baseline 04.00) band scale and offset.
pub(crate) const L2A_SCALE: f64 = 0.0001;
pub(crate) const L2A_OFFSET: f64 = -0.1;

/// Pixel counts gathered while writing one file.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counts {
    pub pixels: u64,
    pub nodata: u64,
    pub cloud: u64,
    pub forest: u64,
}

impl Counts {
    fn add(self, o: Counts) -> Counts {
        Counts {
            pixels: self.pixels + o.pixels,
            nodata: self.nodata + o.nodata,
            cloud: self.cloud + o.cloud,
            forest: self.forest + o.forest,
        }
    }
}

fn gdal_err(path: &Path, source: gdal::errors::GdalError) -> SynthError {
    SynthError::Gdal {
        path: path.to_path_buf(),
        source,
    }
}

fn creation_options(predictor: bool) -> RasterCreationOptions {
    let mut v = vec![
        "TILED=YES",
        "BLOCKXSIZE=256",
        "BLOCKYSIZE=256",
        "COMPRESS=DEFLATE",
        "NUM_THREADS=ALL_CPUS",
        "BIGTIFF=IF_SAFER",
    ];
    if predictor {
        v.push("PREDICTOR=2");
    }
    v.into_iter().collect()
}

/// Creates `path`'s partial file.
fn create<T: GdalType>(
    path: &Path,
    width: usize,
    height: usize,
    bands: usize,
    gt: [f64; 6],
    epsg: u32,
    predictor: bool,
) -> Result<Dataset, SynthError> {
    let tmp = partial_path(path);
    let driver = DriverManager::get_driver_by_name("GTiff").map_err(|e| gdal_err(path, e))?;
    let mut ds = driver
        .create_with_band_type_with_options::<T, _>(
            &tmp,
            width,
            height,
            bands,
            &creation_options(predictor),
        )
        .map_err(|e| gdal_err(&tmp, e))?;
    let gt: GeoTransform = gt;
    ds.set_geo_transform(&gt).map_err(|e| gdal_err(&tmp, e))?;
    let srs = SpatialRef::from_epsg(epsg).map_err(|e| gdal_err(&tmp, e))?;
    ds.set_spatial_ref(&srs).map_err(|e| gdal_err(&tmp, e))?;
    Ok(ds)
}

/// Closes the dataset and puts its partial file in place of `path`
/// (`canopy_store::atomic::replace`: synced, renamed).
fn finish(ds: Dataset, path: &Path) -> Result<(), SynthError> {
    let tmp = partial_path(path);
    ds.close().map_err(|e| gdal_err(&tmp, e))?;
    canopy_store::atomic::replace(&tmp, path).map_err(|source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Sets the band metadata of a spectral tile: descriptions, L2A scale/offset, nodata.
fn describe_spectral(
    ds: &mut Dataset,
    path: &Path,
    meta: &[(&str, String)],
) -> Result<(), SynthError> {
    let tmp = partial_path(path);
    let e = |err| gdal_err(&tmp, err);
    for (k, v) in meta {
        ds.set_metadata_item(k, v, "").map_err(e)?;
    }
    for (i, name) in ["B4", "B8", "cloud", "B12"].iter().enumerate() {
        let mut b = ds.rasterband(i + 1).map_err(e)?;
        b.set_description(name).map_err(e)?;
        if i != 2 {
            b.set_scale(L2A_SCALE).map_err(e)?;
            b.set_offset(L2A_OFFSET).map_err(e)?;
            b.set_no_data_value(Some(0.0)).map_err(e)?;
        }
    }
    Ok(())
}

/// One computed strip: `bands` buffers of `width × rows` values.
struct Strip<T> {
    row0: usize,
    rows: usize,
    bands: Vec<Vec<T>>,
}

/// Streams `height` rows into `ds`, strip by strip: `compute(row0, rows)` builds a
/// strip (it may use the rayon pool), and strip *k* is written while strip *k + 1*
/// is computed. Memory: two strips.
fn stream<T, F>(
    ds: &mut Dataset,
    path: &Path,
    width: usize,
    height: usize,
    pb: &ProgressBar,
    compute: F,
) -> Result<Counts, SynthError>
where
    T: GdalType + Copy + Send,
    F: Fn(usize, usize) -> (Vec<Vec<T>>, Counts) + Sync,
{
    let tmp = partial_path(path);
    let nstrips = height.div_ceil(STRIP);
    let mut total = Counts::default();
    let mut pending: Option<Strip<T>> = None;
    for s in 0..=nstrips {
        let to_write = pending.take();
        let ds_w: &mut Dataset = &mut *ds;
        let tmp = &tmp;
        let (written, next) = rayon::join(
            move || -> Result<(), SynthError> {
                let ds = ds_w;
                let Some(strip) = to_write else { return Ok(()) };
                for (i, data) in strip.bands.into_iter().enumerate() {
                    let mut band = ds.rasterband(i + 1).map_err(|e| gdal_err(tmp, e))?;
                    let mut buf = Buffer::new((width, strip.rows), data);
                    band.write((0, strip.row0 as isize), (width, strip.rows), &mut buf)
                        .map_err(|e| gdal_err(tmp, e))?;
                }
                pb.inc(1);
                Ok(())
            },
            || {
                (s < nstrips).then(|| {
                    let row0 = s * STRIP;
                    let rows = STRIP.min(height - row0);
                    let (bands, counts) = compute(row0, rows);
                    (Strip { row0, rows, bands }, counts)
                })
            },
        );
        written?;
        if let Some((strip, counts)) = next {
            total = total.add(counts);
            pending = Some(strip);
        }
    }
    Ok(total)
}

/// Computes a four-band strip (red, NIR, mask, SWIR2) row by row in parallel;
/// `row_fn(j, red, nir, mask, swir)` fills strip row `j` and returns its counts.
fn four_band_strip<F>(width: usize, rows: usize, row_fn: F) -> (Vec<Vec<u16>>, Counts)
where
    F: Fn(usize, &mut [u16], &mut [u16], &mut [u16], &mut [u16]) -> Counts + Sync,
{
    let mut red = vec![0u16; width * rows];
    let mut nir = vec![0u16; width * rows];
    let mut mask = vec![0u16; width * rows];
    let mut swir = vec![0u16; width * rows];
    let counts = red
        .par_chunks_mut(width)
        .zip(nir.par_chunks_mut(width))
        .zip(mask.par_chunks_mut(width))
        .zip(swir.par_chunks_mut(width))
        .enumerate()
        .map(|(j, (((r, n), m), w))| row_fn(j, r, n, m, w))
        .reduce(Counts::default, Counts::add);
    (vec![red, nir, mask, swir], counts)
}

fn tile_meta(scene: &Scene, e: usize, sc: usize, tile: &str) -> Vec<(&'static str, String)> {
    let mut meta = vec![
        ("CANOPY_SYNTH", "1".to_string()),
        ("CANOPY_SYNTH_SEED", scene.seed.to_string()),
        ("EPOCH", scene.epochs[e].id.clone()),
        ("DATE", scene.epochs[e].date.clone()),
        ("TILE", tile.to_string()),
        ("PROCESSING_BASELINE", "04.00".to_string()),
        ("BOA_ADD_OFFSET", "-1000".to_string()),
        ("BOA_QUANTIFICATION_VALUE", "10000".to_string()),
    ];
    if sc > 0 {
        // Extra scenes carry their own acquisition date (read by the pipeline).
        meta.push(("SCENE", sc.to_string()));
        meta.push((
            "ACQUISITIONDATETIME",
            format!(
                "{}T03:30:00Z",
                super::scene_date(&scene.epochs[e], sc, scene.scenes())
            ),
        ));
    }
    meta
}

/// Writes UTM tile `t` of epoch `e` to `path`.
pub(crate) fn write_utm_tile(
    scene: &Scene,
    t: usize,
    e: usize,
    sc: usize,
    path: &Path,
    pb: &ProgressBar,
) -> Result<Counts, SynthError> {
    let tile = &scene.layout.utm[t];
    let (w, h) = (tile.width(), tile.height());
    let gt = tile.grid(&scene.layout.grid).geotransform();
    let mut ds = create::<u16>(path, w, h, 4, gt, 32648, true)?;
    describe_spectral(&mut ds, path, &tile_meta(scene, e, sc, &tile.name))?;
    let win = tile.window;
    let k = stream(&mut ds, path, w, h, pb, |row0, rows| {
        four_band_strip(w, rows, |j, red, nir, mask, swir| {
            let lr = row0 + j;
            let r = win.r0 + lr;
            let ctx = scene.row_ctx(e, r, r + 1);
            let burned = scene.burned_patch();
            let mut fs = scene.forest.sampler();
            let mut cs = scene.clouds[t][e].sampler();
            let (mut cx, mut hx) = scene.extra_samplers(t, e, sc);
            let mut k = Counts {
                pixels: w as u64,
                ..Counts::default()
            };
            for i in 0..w {
                if tile.triangle.is_some_and(|tr| tr.contains(i, lr, w, h)) {
                    k.nodata += 1;
                    continue; // red = nir = 0, mask 0
                }
                let c = win.c0 + i;
                let (rd, ni, m) = if sc == 0 {
                    scene.pixel(t, e, c, r, &ctx, &mut fs, &mut cs)
                } else {
                    scene.scene_pixel(t, e, sc, c, r, &ctx, &mut fs, &mut cs, &mut cx, &mut hx)
                };
                red[i] = rd;
                nir[i] = ni;
                mask[i] = m;
                swir[i] = super::fires::swir_dn(ni, burned.is_some_and(|b| b.burned(c, r, e)));
                k.cloud += m as u64;
            }
            k
        })
    })?;
    finish(ds, path)?;
    Ok(k)
}

/// Writes the WGS84 tile of epoch `e` to `path`. Each pixel takes the values of the
/// working-grid pixel containing its centre (transformed to EPSG:32648 with PROJ,
/// one batch per row); centres outside the working grid are nodata.
pub(crate) fn write_wgs_tile(
    scene: &Scene,
    e: usize,
    sc: usize,
    path: &Path,
    pb: &ProgressBar,
) -> Result<Counts, SynthError> {
    let wt = &scene.layout.wgs;
    let g = wt.grid;
    let (w, h) = (g.width, g.height);
    let mut ds = create::<u16>(path, w, h, 4, g.geotransform(), 4326, true)?;
    describe_spectral(&mut ds, path, &tile_meta(scene, e, sc, &wt.name))?;
    let failure = std::sync::Mutex::new(None::<String>);
    let k = stream(&mut ds, path, w, h, pb, |row0, rows| {
        four_band_strip(w, rows, |j, red, nir, mask, swir| {
            let lat = g.y0 - ((row0 + j) as f64 + 0.5) * g.dy;
            let mut pts: Vec<(f64, f64)> = (0..w)
                .map(|i| (g.x0 + (i as f64 + 0.5) * g.dx, lat))
                .collect();
            let mut k = Counts {
                pixels: w as u64,
                ..Counts::default()
            };
            if let Err(msg) = lonlat_to_utm(&mut pts) {
                *failure.lock().expect("poisoned") = Some(msg);
                return k;
            }
            let cells: Vec<Option<(usize, usize)>> = pts
                .iter()
                .map(|&(x, y)| scene.layout.pixel_of(x, y))
                .collect();
            let (rmin, rmax) = cells
                .iter()
                .flatten()
                .fold((usize::MAX, 0), |(a, b), &(_, r)| (a.min(r), b.max(r)));
            let ctx = scene.row_ctx(e, rmin, rmax + 1);
            let burned = scene.burned_patch();
            let mut fs = scene.forest.sampler();
            let mut cs = scene.clouds[WGS_TILE][e].sampler();
            let (mut cx, mut hx) = scene.extra_samplers(WGS_TILE, e, sc);
            for (i, cell) in cells.iter().enumerate() {
                match cell {
                    None => k.nodata += 1,
                    Some((c, r)) => {
                        let (rd, ni, m) = if sc == 0 {
                            scene.pixel(WGS_TILE, e, *c, *r, &ctx, &mut fs, &mut cs)
                        } else {
                            scene.scene_pixel(
                                WGS_TILE, e, sc, *c, *r, &ctx, &mut fs, &mut cs, &mut cx, &mut hx,
                            )
                        };
                        red[i] = rd;
                        nir[i] = ni;
                        mask[i] = m;
                        swir[i] =
                            super::fires::swir_dn(ni, burned.is_some_and(|b| b.burned(*c, *r, e)));
                        k.cloud += m as u64;
                    }
                }
            }
            k
        })
    })?;
    if let Some(msg) = failure.into_inner().expect("poisoned") {
        return Err(SynthError::Proj {
            what: format!("pixel centres of {}", path.display()),
            msg,
        });
    }
    finish(ds, path)?;
    Ok(k)
}

/// Writes the Byte 0/1 forest truth of epoch `e` on the whole working grid.
pub(crate) fn write_truth(
    scene: &Scene,
    e: usize,
    path: &Path,
    pb: &ProgressBar,
) -> Result<Counts, SynthError> {
    let g = scene.layout.grid;
    let (w, h) = (g.width, g.height);
    let mut ds = create::<u8>(path, w, h, 1, g.geotransform(), 32648, false)?;
    {
        let tmp = partial_path(path);
        ds.set_metadata_item("EPOCH", &scene.epochs[e].id, "")
            .map_err(|err| gdal_err(&tmp, err))?;
        let mut b = ds.rasterband(1).map_err(|err| gdal_err(&tmp, err))?;
        b.set_description("forest")
            .map_err(|err| gdal_err(&tmp, err))?;
    }
    let k = stream(&mut ds, path, w, h, pb, |row0, rows| {
        let mut out = vec![0u8; w * rows];
        let counts = out
            .par_chunks_mut(w)
            .enumerate()
            .map(|(j, row)| {
                let r = row0 + j;
                let active = scene.changes_in_rows(r, r + 1);
                let mut fs = scene.forest.sampler();
                let mut k = Counts {
                    pixels: w as u64,
                    ..Counts::default()
                };
                for (c, v) in row.iter_mut().enumerate() {
                    let f = scene.forest_at(c, r, e, &active, &mut fs);
                    *v = f as u8;
                    k.forest += f as u64;
                }
                k
            })
            .reduce(Counts::default, Counts::add);
        (vec![out], counts)
    })?;
    finish(ds, path)?;
    Ok(k)
}

/// Number of strips a file of `height` rows takes.
pub(crate) fn strips(height: usize) -> u64 {
    height.div_ceil(STRIP) as u64
}
