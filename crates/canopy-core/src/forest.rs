//! Forest rules: from band values to one observation state per pixel.
//!
//! Every epoch, spectral or classified, is reduced to the same three states so
//! that compositing, zonal sums and (later) change detection never need to know
//! where a pixel came from. "Unobserved" is a first-class answer: a cloud or a
//! nodata pixel is reported as unobserved land, never as non-forest.

/// No usable observation: nodata, cloud/mask, outside every tile, undefined NDVI.
pub const UNOBSERVED: u8 = 0;
/// Observed and not forest.
pub const NON_FOREST: u8 = 1;
/// Observed forest.
pub const FOREST: u8 = 2;

/// How a band's stored numbers become physical values: GDAL's
/// `value = raw × scale + offset`, with `raw == nodata` (or NaN) meaning no data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BandScaling {
    pub scale: f64,
    pub offset: f64,
    pub nodata: Option<f64>,
}

impl Default for BandScaling {
    fn default() -> Self {
        BandScaling {
            scale: 1.0,
            offset: 0.0,
            nodata: None,
        }
    }
}

impl BandScaling {
    #[inline]
    fn is_nodata(&self, raw: f32) -> bool {
        raw.is_nan() || self.nodata.is_some_and(|nd| raw as f64 == nd)
    }
    #[inline]
    fn value(&self, raw: f32) -> f64 {
        raw as f64 * self.scale + self.offset
    }
}

/// The NDVI rule of spectral epochs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpectralRule {
    pub ndvi_min: f64,
    pub red: BandScaling,
    pub nir: BandScaling,
}

/// NDVI of one pixel from physical reflectances; `None` when red + NIR ≤ 0.
#[inline]
pub fn ndvi(red: f64, nir: f64) -> Option<f64> {
    let s = nir + red;
    (s > 0.0).then(|| (nir - red) / s)
}

impl SpectralRule {
    /// Classifies one pixel. `mask` is the cloud/QA value: non-zero (or NaN) =
    /// unusable. A mask band's own nodata declaration is ignored on purpose: a
    /// GeoTIFF has one nodata value for all its bands, so a mask band stored beside
    /// reflectance bands with nodata 0 would otherwise turn every clear pixel
    /// (mask 0) into "no data".
    #[inline]
    pub fn classify(&self, red: f32, nir: f32, mask: Option<f32>) -> u8 {
        if let Some(m) = mask {
            if m != 0.0 || m.is_nan() {
                return UNOBSERVED;
            }
        }
        if self.red.is_nodata(red) || self.nir.is_nodata(nir) {
            return UNOBSERVED;
        }
        match ndvi(self.red.value(red), self.nir.value(nir)) {
            Some(v) if v >= self.ndvi_min => FOREST,
            Some(_) => NON_FOREST,
            None => UNOBSERVED,
        }
    }

    /// NDVI of an observed pixel (NaN when unobserved), for change alerts.
    #[inline]
    pub fn ndvi_of(&self, red: f32, nir: f32) -> f32 {
        ndvi(self.red.value(red), self.nir.value(nir))
            .map(|v| v as f32)
            .unwrap_or(f32::NAN)
    }

    /// Classifies slices of equal length into `out`, and writes each pixel's NDVI
    /// (NaN where unobserved) into `ndvi`.
    pub fn classify_into(
        &self,
        red: &[f32],
        nir: &[f32],
        mask: Option<&[f32]>,
        out: &mut [u8],
        ndvi: &mut [f32],
    ) {
        assert!(red.len() == out.len() && nir.len() == out.len() && ndvi.len() == out.len());
        for i in 0..out.len() {
            let s = self.classify(red[i], nir[i], mask.map(|m| m[i]));
            out[i] = s;
            ndvi[i] = if s == UNOBSERVED {
                f32::NAN
            } else {
                self.ndvi_of(red[i], nir[i])
            };
        }
    }
}

/// The class rule of land-cover epochs.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassRule {
    pub forest_classes: Vec<i64>,
    pub nodata: Option<f64>,
}

impl ClassRule {
    #[inline]
    pub fn classify(&self, code: f64) -> u8 {
        if code.is_nan() || self.nodata == Some(code) {
            UNOBSERVED
        } else if self.forest_classes.contains(&(code as i64)) {
            FOREST
        } else {
            NON_FOREST
        }
    }

    pub fn classify_into(&self, codes: &[f64], out: &mut [u8]) {
        assert_eq!(codes.len(), out.len());
        for (o, &c) in out.iter_mut().zip(codes) {
            *o = self.classify(c);
        }
    }

    /// The rule as a lookup table over the integer codes `lo .. lo + n` (a band of
    /// 8 or 16 bits has at most 65 536 codes): entry `code − lo` is the state of
    /// `code`, or [`UNKNOWN_CLASS`] for an observed code outside a non-empty
    /// `legend` (sorted). Same answers as [`ClassRule::classify`], one load per pixel.
    pub fn table(&self, lo: i64, n: usize, legend: &[i64]) -> ClassTable {
        let states = (0..n as i64)
            .map(|k| {
                let code = lo + k;
                let s = self.classify(code as f64);
                if s != UNOBSERVED && !legend.is_empty() && legend.binary_search(&code).is_err() {
                    UNKNOWN_CLASS
                } else {
                    s
                }
            })
            .collect();
        ClassTable { lo, states }
    }
}

/// Table entry of an observed class code that the legend does not name (an error
/// the reader reports with the pixel's position).
pub const UNKNOWN_CLASS: u8 = 3;

/// A [`ClassRule`] tabulated over the codes of an integer band.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassTable {
    lo: i64,
    states: Vec<u8>,
}

impl ClassTable {
    /// States of `codes` into `out`. Every code must lie in the table's range
    /// (true of a table over a band type's whole range).
    pub fn classify_into<T: Copy + Into<i64>>(&self, codes: &[T], out: &mut [u8]) {
        assert_eq!(codes.len(), out.len());
        let (lo, t) = (self.lo, &self.states[..]);
        for (o, &c) in out.iter_mut().zip(codes) {
            *o = t[(c.into() - lo) as usize];
        }
    }
}

/// Composites a lower-priority observation under a higher-priority one: wherever
/// `acc` is still unobserved, take `next`. Applying tiles in priority order gives
/// "the first clear observation wins".
pub fn fill_unobserved(acc: &mut [u8], next: &[u8]) {
    for (a, &n) in acc.iter_mut().zip(next) {
        if *a == UNOBSERVED {
            *a = n;
        }
    }
}

/// Like [`fill_unobserved`], carrying a per-pixel value (NDVI or class code)
/// along with the state it belongs to.
pub fn fill_unobserved_with<T: Copy>(acc: &mut [u8], acc_v: &mut [T], next: &[u8], next_v: &[T]) {
    for i in 0..acc.len() {
        if acc[i] == UNOBSERVED && next[i] != UNOBSERVED {
            acc[i] = next[i];
            acc_v[i] = next_v[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sentinel-2 L2A, processing baseline 04.00: reflectance = DN × 1e-4 − 0.1.
    fn l2a() -> SpectralRule {
        let b = BandScaling {
            scale: 1e-4,
            offset: -0.1,
            nodata: Some(0.0),
        };
        SpectralRule {
            ndvi_min: 0.55,
            red: b,
            nir: b,
        }
    }

    #[test]
    fn l2a_offset_is_applied_before_ndvi() {
        // Forest: red 0.03, NIR 0.30 → DN 1300 / 4000. NDVI = 0.27 / 0.33 = 0.818.
        // On raw DN the NDVI would be 2700/5300 = 0.509 < 0.55: wrong answer.
        assert_eq!(l2a().classify(1300.0, 4000.0, None), FOREST);
        let raw = SpectralRule {
            red: BandScaling::default(),
            nir: BandScaling::default(),
            ..l2a()
        };
        assert_eq!(raw.classify(1300.0, 4000.0, None), NON_FOREST);
    }

    #[test]
    fn nodata_mask_and_undefined_ndvi_are_unobserved() {
        let r = l2a();
        assert_eq!(r.classify(0.0, 4000.0, None), UNOBSERVED);
        assert_eq!(r.classify(1300.0, 4000.0, Some(1.0)), UNOBSERVED);
        assert_eq!(r.classify(1300.0, 4000.0, Some(0.0)), FOREST);
        // both reflectances ≤ 0 after the offset: NDVI undefined.
        assert_eq!(r.classify(900.0, 950.0, None), UNOBSERVED);
        assert_eq!(r.classify(f32::NAN, 4000.0, None), UNOBSERVED);
    }

    #[test]
    fn threshold_is_inclusive() {
        let r = SpectralRule {
            ndvi_min: 0.5,
            red: BandScaling::default(),
            nir: BandScaling::default(),
        };
        assert_eq!(r.classify(1.0, 3.0, None), FOREST); // NDVI exactly 0.5
        assert_eq!(r.classify(1.0, 2.9, None), NON_FOREST);
    }

    #[test]
    fn classes_and_compositing() {
        let r = ClassRule {
            forest_classes: vec![2],
            nodata: Some(0.0),
        };
        let mut acc = vec![0u8; 4];
        r.classify_into(&[0.0, 2.0, 3.0, 0.0], &mut acc);
        assert_eq!(acc, [UNOBSERVED, FOREST, NON_FOREST, UNOBSERVED]);
        fill_unobserved(&mut acc, &[NON_FOREST, NON_FOREST, FOREST, FOREST]);
        assert_eq!(acc, [NON_FOREST, FOREST, NON_FOREST, FOREST]);
    }
}

#[cfg(test)]
mod table_tests {
    use super::*;

    /// The table gives the rule's answer for every code of a 16-bit band.
    #[test]
    fn table_equals_the_rule() {
        for nodata in [None, Some(0.0), Some(65535.0), Some(-1.0), Some(2.5)] {
            let r = ClassRule {
                forest_classes: vec![1, 2, 300],
                nodata,
            };
            let legend = [0, 1, 2, 7, 300, 65535];
            for (lo, n) in [(0i64, 65536usize), (-32768, 65536), (0, 256)] {
                let t = r.table(lo, n, &legend);
                let codes: Vec<i64> = (lo..lo + n as i64).collect();
                let mut out = vec![9u8; n];
                t.classify_into(&codes, &mut out);
                for (&c, &s) in codes.iter().zip(&out) {
                    let want = r.classify(c as f64);
                    if want != UNOBSERVED && legend.binary_search(&c).is_err() {
                        assert_eq!(s, UNKNOWN_CLASS, "code {c}");
                    } else {
                        assert_eq!(s, want, "code {c}");
                    }
                }
                // No legend: nothing is unknown.
                let t = r.table(lo, n, &[]);
                t.classify_into(&codes, &mut out);
                assert!(out
                    .iter()
                    .zip(&codes)
                    .all(|(&s, &c)| s == r.classify(c as f64)));
            }
        }
    }
}
