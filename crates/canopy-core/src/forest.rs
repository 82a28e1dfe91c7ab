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

/// A set of class codes 0..=255 (e.g. the Sentinel-2 SCL classes that are not a
/// clear view of the ground), stored as a bitset so rules stay `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ClassSet([u64; 4]);

impl ClassSet {
    pub fn new(codes: impl IntoIterator<Item = u8>) -> ClassSet {
        let mut s = ClassSet::default();
        for c in codes {
            s.0[(c >> 6) as usize] |= 1 << (c & 63);
        }
        s
    }
    #[inline]
    pub fn contains(&self, c: u8) -> bool {
        self.0[(c >> 6) as usize] & (1 << (c & 63)) != 0
    }
    /// The codes in the set, ascending.
    pub fn codes(&self) -> Vec<u8> {
        (0..=255u8).filter(|&c| self.contains(c)).collect()
    }
}

/// Sentinel-2 L2A scene classes that are not a clear view of the ground:
/// 0 no data, 1 saturated or defective, 3 cloud shadow, 8 cloud medium
/// probability, 9 cloud high probability, 10 thin cirrus, 11 snow.
pub const SCL_INVALID_DEFAULT: [u8; 7] = [0, 1, 3, 8, 9, 10, 11];

/// Landsat Collection 2 QA_PIXEL bits that make a pixel unusable: 0 fill,
/// 1 dilated cloud, 2 cirrus, 3 cloud, 4 cloud shadow, 5 snow.
pub const LANDSAT_QA_INVALID_BITS: u32 = 0b11_1111;

/// What a mask band's value means, per product: today's "non-zero is unusable"
/// (a GeoTIFF mask band), a set of invalid classes (Sentinel-2 SCL) or a set of
/// invalid bits (Landsat QA_PIXEL). A NaN mask value is always unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MaskRule {
    #[default]
    NonZero,
    InvalidClasses(ClassSet),
    InvalidBits(u32),
}

impl MaskRule {
    /// Whether a pixel with this mask value is unusable.
    #[inline]
    pub fn invalid(&self, m: f32) -> bool {
        if m.is_nan() {
            return true;
        }
        match self {
            MaskRule::NonZero => m != 0.0,
            MaskRule::InvalidClasses(set) => {
                !(0.0..=255.0).contains(&m) || m.fract() != 0.0 || set.contains(m as u8)
            }
            MaskRule::InvalidBits(bits) => {
                !(0.0..=u32::MAX as f32).contains(&m) || (m as u32) & bits != 0
            }
        }
    }
}

/// The NDVI rule of spectral epochs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpectralRule {
    pub ndvi_min: f64,
    pub red: BandScaling,
    pub nir: BandScaling,
    /// How the mask band (if any) is read.
    pub mask: MaskRule,
}

/// NDVI of one pixel from physical reflectances; `None` when red + NIR ≤ 0.
#[inline]
pub fn ndvi(red: f64, nir: f64) -> Option<f64> {
    let s = nir + red;
    (s > 0.0).then(|| (nir - red) / s)
}

impl SpectralRule {
    /// Classifies one pixel. `mask` is the cloud/QA value, read by the rule's
    /// [`MaskRule`] (a GeoTIFF mask band: non-zero or NaN = unusable). A mask band's own nodata declaration is ignored on purpose: a
    /// GeoTIFF has one nodata value for all its bands, so a mask band stored beside
    /// reflectance bands with nodata 0 would otherwise turn every clear pixel
    /// (mask 0) into "no data".
    #[inline]
    pub fn classify(&self, red: f32, nir: f32, mask: Option<f32>) -> u8 {
        if let Some(m) = mask {
            if self.mask.invalid(m) {
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
        let n = out.len();
        assert!(red.len() == n && nir.len() == n && ndvi.len() == n);
        assert!(mask.is_none_or(|m| m.len() == n));
        // `classify` and `ndvi_of` in one pass: the NDVI is computed once.
        for i in 0..n {
            let (s, x) = self.state_and_ndvi(red[i], nir[i], mask.map(|m| m[i]));
            out[i] = s;
            ndvi[i] = x;
        }
    }

    /// State and NDVI (NaN where unobserved) of one pixel: `classify` and
    /// `ndvi_of` with the NDVI computed once. Raw values of integer bands enter
    /// as `f32` (exact up to 2²⁴), so a `u16` band gives the same answer as its
    /// `f32` reading.
    #[inline(always)]
    pub fn state_and_ndvi(&self, red: f32, nir: f32, mask: Option<f32>) -> (u8, f32) {
        let masked = mask.is_some_and(|m| self.mask.invalid(m));
        if masked || self.red.is_nodata(red) || self.nir.is_nodata(nir) {
            (UNOBSERVED, f32::NAN)
        } else {
            match self::ndvi(self.red.value(red), self.nir.value(nir)) {
                Some(x) if x >= self.ndvi_min => (FOREST, x as f32),
                Some(x) => (NON_FOREST, x as f32),
                None => (UNOBSERVED, f32::NAN),
            }
        }
    }
}

/// [`SpectralRule`] for `u16` bands with a "non-zero is unusable" mask (or
/// none), without branches so that a row of pixels compiles to vector code: the
/// same states and NDVI, bit for bit, as [`SpectralRule::state_and_ndvi`] of
/// the values as `f32` (see the test `u16_rule_matches_the_f32_rule`).
#[derive(Clone, Copy, Debug)]
pub struct U16Rule {
    ndvi_min: f64,
    red: (f64, f64),
    nir: (f64, f64),
    /// A nodata value a `u16` can hold, else 65536 (never equal).
    red_nodata: u32,
    nir_nodata: u32,
}

impl SpectralRule {
    /// The branch-free form of this rule for `u16` bands, when the mask rule is
    /// [`MaskRule::NonZero`] (other mask rules keep the general path).
    pub fn for_u16(&self) -> Option<U16Rule> {
        if self.mask != MaskRule::NonZero {
            return None;
        }
        let nd = |b: &BandScaling| match b.nodata {
            Some(v) if (0.0..=65535.0).contains(&v) && v.fract() == 0.0 => v as u32,
            _ => 65536,
        };
        Some(U16Rule {
            ndvi_min: self.ndvi_min,
            red: (self.red.scale, self.red.offset),
            nir: (self.nir.scale, self.nir.offset),
            red_nodata: nd(&self.red),
            nir_nodata: nd(&self.nir),
        })
    }
}

impl U16Rule {
    /// State and NDVI (NaN where unobserved) of one pixel; `clear` is false
    /// where the mask or a warped tile's alpha says the pixel is unusable.
    #[inline(always)]
    pub fn state_and_ndvi(&self, red: u16, nir: u16, clear: bool) -> (u8, f32) {
        // The same operations, in the same order, as `BandScaling::value` and `ndvi`.
        let r = red as f64 * self.red.0 + self.red.1;
        let v = nir as f64 * self.nir.0 + self.nir.1;
        let s = v + r;
        let x = (v - r) / s;
        let ok =
            clear & (red as u32 != self.red_nodata) & (nir as u32 != self.nir_nodata) & (s > 0.0);
        let forest = x >= self.ndvi_min;
        let state = (ok as u8) * (NON_FOREST + forest as u8);
        (state, if ok { x as f32 } else { f32::NAN })
    }
}

/// Classifies a run of pixels with `rule`: `mask` non-zero or `alpha` zero is
/// unusable. Compiled for each vector instruction set and chosen at run time
/// (`multiversion`). Rust never fuses a multiply and an add into one FMA by
/// itself, so every version does the same IEEE operations and gives the same bits.
#[multiversion::multiversion(targets = "simd")]
pub fn classify_u16(
    rule: &U16Rule,
    red: &[u16],
    nir: &[u16],
    mask: Option<&[u16]>,
    alpha: Option<&[u16]>,
    out: &mut [u8],
    ndvi: &mut [f32],
) {
    let n = out.len();
    assert!(red.len() == n && nir.len() == n && ndvi.len() == n);
    let (red, nir, ndvi) = (&red[..n], &nir[..n], &mut ndvi[..n]);
    match (mask, alpha) {
        (None, None) => {
            for k in 0..n {
                (out[k], ndvi[k]) = rule.state_and_ndvi(red[k], nir[k], true);
            }
        }
        (Some(m), None) => {
            let m = &m[..n];
            for k in 0..n {
                (out[k], ndvi[k]) = rule.state_and_ndvi(red[k], nir[k], m[k] == 0);
            }
        }
        (None, Some(a)) => {
            let a = &a[..n];
            for k in 0..n {
                (out[k], ndvi[k]) = rule.state_and_ndvi(red[k], nir[k], a[k] != 0);
            }
        }
        (Some(m), Some(a)) => {
            let (m, a) = (&m[..n], &a[..n]);
            for k in 0..n {
                let clear = (m[k] == 0) & (a[k] != 0);
                (out[k], ndvi[k]) = rule.state_and_ndvi(red[k], nir[k], clear);
            }
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
            mask: MaskRule::NonZero,
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

    /// The branch-free `u16` rule gives the general rule's states and NDVI bit
    /// for bit: every raw value near the nodata value, the threshold and the
    /// undefined NDVI, and a pseudo-random sample of all pairs.
    #[test]
    fn u16_rule_matches_the_f32_rule() {
        let rules = [
            l2a(),
            SpectralRule {
                red: BandScaling::default(),
                nir: BandScaling::default(),
                ..l2a()
            },
            SpectralRule {
                ndvi_min: 0.5,
                red: BandScaling {
                    scale: 2.75e-5,
                    offset: -0.2,
                    nodata: Some(65535.0),
                },
                nir: BandScaling {
                    scale: 2.75e-5,
                    offset: -0.2,
                    nodata: Some(0.5),
                },
                mask: MaskRule::NonZero,
            },
        ];
        let mut vals: Vec<u16> = vec![0, 1, 2, 899, 900, 901, 999, 1000, 1001, 1300, 4000];
        vals.extend([7272, 7273, 7274, 65534, 65535]);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            vals.push((x % 65536) as u16);
        }
        let same = |a: (u8, f32), b: (u8, f32)| a.0 == b.0 && a.1.to_bits() == b.1.to_bits();
        for rule in &rules {
            let fast = rule.for_u16().expect("NonZero mask");
            for (i, &r) in vals.iter().enumerate() {
                let partners = vals.iter().skip(i % 97).step_by(97).take(300);
                for &v in partners.chain(&vals[..16]) {
                    for (m, a) in [(0u16, 1u16), (3, 1), (0, 0)] {
                        let want = if a == 0 {
                            (UNOBSERVED, f32::NAN)
                        } else {
                            rule.state_and_ndvi(r as f32, v as f32, Some(m as f32))
                        };
                        let got = fast.state_and_ndvi(r, v, m == 0 && a != 0);
                        assert!(
                            same(want, got),
                            "red {r} nir {v} mask {m} alpha {a}: {want:?} vs {got:?}"
                        );
                    }
                }
            }
            // The row form agrees with the pixel form.
            let n = 1000;
            let (red, nir) = (&vals[100..100 + n], &vals[5000..5000 + n]);
            let mask: Vec<u16> = (0..n as u16).map(|k| k % 7 / 6).collect();
            let alpha: Vec<u16> = (0..n as u16).map(|k| (k % 11 != 0) as u16 * 255).collect();
            let (mut s, mut v) = (vec![0u8; n], vec![0f32; n]);
            classify_u16(&fast, red, nir, Some(&mask), Some(&alpha), &mut s, &mut v);
            for k in 0..n {
                let want = if alpha[k] == 0 {
                    (UNOBSERVED, f32::NAN)
                } else {
                    rule.state_and_ndvi(red[k] as f32, nir[k] as f32, Some(mask[k] as f32))
                };
                assert!(same(want, (s[k], v[k])), "pixel {k}");
            }
        }
        let scl = SpectralRule {
            mask: MaskRule::InvalidClasses(ClassSet::new(SCL_INVALID_DEFAULT)),
            ..l2a()
        };
        assert!(scl.for_u16().is_none());
    }

    #[test]
    fn threshold_is_inclusive() {
        let r = SpectralRule {
            ndvi_min: 0.5,
            red: BandScaling::default(),
            nir: BandScaling::default(),
            mask: MaskRule::NonZero,
        };
        assert_eq!(r.classify(1.0, 3.0, None), FOREST); // NDVI exactly 0.5
        assert_eq!(r.classify(1.0, 2.9, None), NON_FOREST);
    }

    #[test]
    fn product_masks_keep_their_meaning() {
        let scl = SpectralRule {
            mask: MaskRule::InvalidClasses(ClassSet::new(SCL_INVALID_DEFAULT)),
            ..l2a()
        };
        // SCL 4 vegetation, 5 bare soil, 6 water, 7 unclassified, 2 dark area: clear.
        for c in [2.0, 4.0, 5.0, 6.0, 7.0] {
            assert_eq!(scl.classify(1300.0, 4000.0, Some(c)), FOREST, "SCL {c}");
        }
        for c in [0.0, 1.0, 3.0, 8.0, 9.0, 10.0, 11.0, 12.5, -1.0, f32::NAN] {
            assert_eq!(scl.classify(1300.0, 4000.0, Some(c)), UNOBSERVED, "SCL {c}");
        }
        let qa = SpectralRule {
            mask: MaskRule::InvalidBits(LANDSAT_QA_INVALID_BITS),
            ..l2a()
        };
        // 21824 = clear land (bits 6, 8, 10, 12, 14); 21952 adds water bit 7: clear too.
        assert_eq!(qa.classify(1300.0, 4000.0, Some(21824.0)), FOREST);
        assert_eq!(qa.classify(1300.0, 4000.0, Some(21952.0)), FOREST);
        // fill (1), dilated cloud (bit 1), cirrus (2), cloud (3), shadow (4), snow (5).
        for b in 0..6 {
            let v = 21824u32 | (1 << b);
            assert_eq!(
                qa.classify(1300.0, 4000.0, Some(v as f32)),
                UNOBSERVED,
                "bit {b}"
            );
        }
        assert_eq!(ClassSet::new([0, 9, 200]).codes(), [0, 9, 200]);
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
