//! The strips every pass streams a working grid in (cover, change, burned
//! area; shards split them, the reader carries rows between them).
//!
//! A strip is [`STRIP_ROWS`] rows (a multiple of the usual 256-row GeoTIFF
//! block), halved while a strip of the grid's width would hold more than
//! [`STRIP_PIXELS`]: every per-strip buffer of a reader (composites, their
//! median stacks, the strip's states and values) grows with the strip's pixels,
//! and a change pass holds two readers per thread. Over Lạng Sơn a strip is 256
//! rows at 30 and 20 m, and 128 rows at 10 m (13,359 pixels wide).
//!
//! Halving is not free: a tile whose 256-row blocks do not start on a strip
//! boundary then has block rows over three strips, and the reader's carry
//! (`raster::reader`) reaches only the next one, so part of those blocks is
//! decoded twice. Measured on the 10 m sample with 291,166 plots: 128-row
//! strips took 0.45 GiB less memory (2.27 against 2.72 GiB) for 7 % more CPU
//! (200 against 186 s) and the same wall time. On the 12-scene composite at 10 m
//! (no SWIR) they cost far more: 134 against 95 CPU s (1.41×; the blocks of the
//! misaligned tiles are decoded 1.5 times), for 616 against 719 MB.
//!
//! So the budget depends on the region ([`for_region`]): a region where no
//! epoch can read a SWIR band has no NBR composites, whose buffers double a
//! reader's per pixel, and its strips may hold twice the pixels
//! ([`STRIP_PIXELS_NO_NBR`]): 256 rows at 10 m. The budget is set once per run
//! (`job::run`), before any strip is planned, and recorded in the run's settings.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Rows of a strip of a narrow grid; the most a strip has.
pub const STRIP_ROWS: usize = 256;

/// Rows of a strip of the widest grids; the least a strip has.
pub const MIN_STRIP_ROWS: usize = 64;

/// Pixels a strip holds at most (unless it is [`MIN_STRIP_ROWS`] rows high)
/// when an epoch of the region may read a SWIR band (NBR composites).
pub const STRIP_PIXELS: usize = 1 << 21;

/// The same when no epoch reads a SWIR band.
pub const STRIP_PIXELS_NO_NBR: usize = 1 << 22;

static PIXELS: AtomicUsize = AtomicUsize::new(STRIP_PIXELS);

/// The strip budget of a region: [`STRIP_PIXELS_NO_NBR`] when none of its
/// epochs names a `swir_band` or is a product (which finds its own), else
/// [`STRIP_PIXELS`].
pub fn for_region(region: &crate::config::Region) -> usize {
    let nbr = region
        .epochs
        .iter()
        .any(|e| e.swir_band.is_some() || matches!(e.bands, crate::config::EpochBands::Product(_)));
    if nbr {
        STRIP_PIXELS
    } else {
        STRIP_PIXELS_NO_NBR
    }
}

/// Sets the strip budget of this process's runs (`job::run`, from [`for_region`]).
pub fn set_strip_pixels(pixels: usize) {
    PIXELS.store(pixels, Ordering::Relaxed);
}

/// The strip budget in force.
pub fn strip_pixels() -> usize {
    PIXELS.load(Ordering::Relaxed)
}

/// Rows of every strip (but the last) of a grid `width` pixels wide.
pub fn strip_height(width: usize) -> usize {
    height_for(width, strip_pixels())
}

/// [`strip_height`] under the budget `budget` (pixels per strip).
fn height_for(width: usize, budget: usize) -> usize {
    let mut rows = STRIP_ROWS;
    while rows > MIN_STRIP_ROWS && rows * width > budget {
        rows /= 2;
    }
    rows
}

/// The strips of a `width` × `height` grid: (first row, rows), every strip but
/// the last [`strip_height`] rows.
pub fn strip_rows(width: usize, height: usize) -> Vec<(usize, usize)> {
    let step = strip_height(width);
    (0..height)
        .step_by(step)
        .map(|r| (r, step.min(height - r)))
        .collect()
}

/// Is `(row0, rows)` a strip of the passes on a grid `width` pixels wide (not a
/// last, shorter strip, nor another window such as a chip's)?
pub fn is_strip(width: usize, row0: usize, rows: usize) -> bool {
    let step = strip_height(width);
    rows == step && row0 % step == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_are_256_rows_unless_the_grid_is_wide() {
        // The 30, 20 and 10 m Lạng Sơn grids, then wider ones.
        assert_eq!(strip_height(4_453), 256);
        assert_eq!(strip_height(6_680), 256);
        assert_eq!(strip_height(13_359), 128);
        assert_eq!(strip_height(16_385), 64);
        assert_eq!(strip_height(40_000), 64);
        assert_eq!(strip_height(1_000_000), MIN_STRIP_ROWS);
        for w in [1, 4_453, 8_192, 8_193, 13_359, 40_000] {
            let h = strip_height(w);
            assert!(h * w <= STRIP_PIXELS || h == MIN_STRIP_ROWS, "{w}");
            assert!(
                h == STRIP_ROWS || 2 * h * w > STRIP_PIXELS,
                "{w}: not the largest"
            );
        }
    }

    #[test]
    fn without_nbr_strips_hold_twice_the_pixels() {
        // 256 rows at 10 m over Lạng Sơn, halved only on grids twice as wide.
        assert_eq!(height_for(13_359, STRIP_PIXELS_NO_NBR), 256);
        assert_eq!(height_for(16_385, STRIP_PIXELS_NO_NBR), 128);
        assert_eq!(height_for(13_359, STRIP_PIXELS), 128);
        for w in [1, 8_192, 16_384, 16_385, 40_000] {
            let h = height_for(w, STRIP_PIXELS_NO_NBR);
            assert!(h * w <= STRIP_PIXELS_NO_NBR || h == MIN_STRIP_ROWS, "{w}");
            assert!(h == STRIP_ROWS || 2 * h * w > STRIP_PIXELS_NO_NBR, "{w}");
        }
    }

    #[test]
    fn strips_cover_every_row_once() {
        for (w, h) in [(100, 0), (100, 1), (13_359, 12_696), (4_453, 4_232)] {
            let s = strip_rows(w, h);
            let mut next = 0;
            for &(r, n) in &s {
                assert_eq!(r, next);
                assert!(n > 0 && n <= strip_height(w));
                next = r + n;
            }
            assert_eq!(next, h);
            // All but the last are whole strips.
            for &(r, n) in s.iter().rev().skip(1) {
                assert!(is_strip(w, r, n));
            }
        }
    }
}
