//! The GDAL read floor for `benches/compare.sh`: read (and decompress) every block
//! of the given bands with `GDALReadBlock`, doing nothing with the pixels.
//!
//! ```sh
//! cargo run --release -p canopy-pipeline --example gdal_floor -- \
//!     [--threads N] FILE[:BAND,BAND...] ...
//! ```
//!
//! Every listed band (default: all bands) is read block by block, each block once.
//! With `--threads N` the blocks are dealt round-robin to N threads, each with its
//! own dataset handles (GDAL handles are not shared between threads). Prints the
//! pixels and blocks read and the time spent reading.

use std::time::Instant;

use gdal::Dataset;

/// One block position of one file; all its listed bands are read by the same thread
/// (a pixel-interleaved GeoTIFF decodes every band of a block at once).
struct Job {
    file: usize,
    bx: usize,
    by: usize,
}

fn main() {
    let mut threads = 1usize;
    let mut specs: Vec<(String, Vec<usize>)> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--threads" {
            threads = args
                .next()
                .and_then(|v| v.parse().ok())
                .filter(|&n| n > 0)
                .unwrap_or_else(|| die("--threads needs a positive number"));
        } else {
            let (path, bands) = match a.rsplit_once(':') {
                Some((p, b))
                    if !b.is_empty() && b.split(',').all(|x| x.parse::<usize>().is_ok()) =>
                {
                    (
                        p.to_string(),
                        b.split(',').map(|x| x.parse().unwrap()).collect(),
                    )
                }
                _ => (a.clone(), Vec::new()),
            };
            specs.push((path, bands));
        }
    }
    if specs.is_empty() {
        die("usage: gdal_floor [--threads N] FILE[:BAND,BAND...] ...");
    }
    let t0 = Instant::now();
    let mut jobs = Vec::new();
    for (f, (path, bands)) in specs.iter_mut().enumerate() {
        let ds = Dataset::open(path.as_str()).unwrap_or_else(|e| die(&format!("{path}: {e}")));
        if bands.is_empty() {
            *bands = (1..=ds.raster_count()).collect();
        }
        let mut shape = None;
        for &b in bands.iter() {
            let band = ds
                .rasterband(b)
                .unwrap_or_else(|e| die(&format!("{path} band {b}: {e}")));
            let s = (band.size(), band.block_size());
            if shape.is_some_and(|t| t != s) {
                die(&format!("{path}: bands with different block layouts"));
            }
            shape = Some(s);
        }
        let ((w, h), (bw, bh)) = shape.unwrap_or_else(|| die(&format!("{path}: no band")));
        for by in 0..h.div_ceil(bh) {
            for bx in 0..w.div_ceil(bw) {
                jobs.push(Job { file: f, bx, by });
            }
        }
    }
    let pixels: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let (jobs, specs) = (&jobs, &specs);
                s.spawn(move || {
                    let dss: Vec<Dataset> = specs
                        .iter()
                        .map(|(p, _)| {
                            Dataset::open(p.as_str()).unwrap_or_else(|e| die(&format!("{p}: {e}")))
                        })
                        .collect();
                    let mut buf: Vec<u8> = Vec::new();
                    let mut n = 0u64;
                    for (j, b) in jobs
                        .iter()
                        .skip(k)
                        .step_by(threads)
                        .flat_map(|j| specs[j.file].1.iter().map(move |&b| (j, b)))
                    {
                        let band = dss[j.file].rasterband(b).expect("band checked above");
                        let (bw, bh) = band.block_size();
                        // SAFETY: plain C calls on a live band handle; the buffer holds a
                        // whole block of the band's data type.
                        let rc = unsafe {
                            let h = band.c_rasterband();
                            let sz = gdal_sys::GDALGetDataTypeSizeBytes(
                                gdal_sys::GDALGetRasterDataType(h),
                            );
                            buf.resize(bw * bh * sz as usize, 0);
                            gdal_sys::GDALReadBlock(
                                h,
                                j.bx as i32,
                                j.by as i32,
                                buf.as_mut_ptr().cast(),
                            )
                        };
                        if rc != gdal_sys::CPLErr::CE_None {
                            die(&format!(
                                "{}: band {b} block ({}, {}) failed",
                                specs[j.file].0, j.bx, j.by
                            ));
                        }
                        n += (bw * bh) as u64;
                    }
                    n
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("reader thread"))
            .sum()
    });
    println!(
        "{pixels} pixels ({} block positions) read on {threads} thread(s) in {:.3} s",
        jobs.len(),
        t0.elapsed().as_secs_f64()
    );
}

fn die(msg: &str) -> ! {
    eprintln!("gdal_floor: {msg}");
    std::process::exit(1)
}
