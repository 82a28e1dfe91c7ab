//! Deterministic fields: integer-hash value noise, the forest truth field, cloud
//! fields and the per-pixel reflectances.
//!
//! Everything here is a pure function of the seed and of coordinates, built only
//! from integer hashing and IEEE `+ − × ÷ floor` (no `sin`/`exp`, no RNG crate whose
//! stream could change), so a given seed gives the same bits on every machine.

/// Salts that separate the independent uses of the seed.
pub(crate) mod salt {
    pub const FOREST: u64 = 0x466f_7265_7374_0001;
    pub const CLOUD: u64 = 0x436c_6f75_6400_0002;
    pub const REFLECTANCE: u64 = 0x5265_666c_0000_0003;
    pub const SAMPLE: u64 = 0x5361_6d70_6c65_0004;
    pub const PLANT: u64 = 0x506c_616e_7400_0005;
    pub const ZONE: u64 = 0x5a6f_6e65_0000_0006;
    pub const GAP: u64 = 0x4761_7000_0000_0007;
}

/// splitmix64's finaliser: a bijective, well-mixing 64-bit hash step.
#[inline]
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Hash of a key and a list of words.
#[inline]
pub(crate) fn hash(key: u64, words: &[u64]) -> u64 {
    let mut h = mix(key ^ 0x9e37_79b9_7f4a_7c15);
    for &w in words {
        h = mix(h ^ w);
    }
    h
}

/// Uniform in `[0, 1)` from the top 53 bits of a hash.
#[inline]
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Lattice value at integer point `(ix, iy)` for `key`, in `[0, 1)`.
#[inline]
fn lattice(key: u64, ix: i64, iy: i64) -> f64 {
    unit(mix(
        mix(key ^ ix as u64) ^ (iy as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    ))
}

/// `floor` for |x| < 2^53, exact and without a libm call.
#[inline]
fn floor(x: f64) -> f64 {
    let t = x as i64 as f64;
    if t > x {
        t - 1.0
    } else {
        t
    }
}

/// Rotations by Pythagorean triples `(a, b, c)` (cos = a/c, sin = b/c): exact rational
/// rotations that keep the lattices of different octaves from lining up with the
/// pixel grid or with each other, without any trigonometry.
const ROTATIONS: [(f64, f64, f64); 6] = [
    (3.0, 4.0, 5.0),
    (5.0, 12.0, 13.0),
    (8.0, 15.0, 17.0),
    (7.0, 24.0, 25.0),
    (20.0, 21.0, 29.0),
    (12.0, 35.0, 37.0),
];

/// One octave of value noise with lattice spacing `1 / inv` metres on a rotated
/// lattice: smoothstep-interpolated lattice values in `[0, 1)`. It remembers the last
/// lattice cell, so sampling along a row mostly skips the hashing; the result never
/// depends on what was sampled before.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Octave {
    key: u64,
    /// `cos · inv` and `sin · inv`.
    ca: f64,
    sb: f64,
    ix: i64,
    iy: i64,
    v: [f64; 4],
}

impl Octave {
    /// An octave of spacing `1 / inv` metres, lattice rotated by `ROTATIONS[rot % 6]`.
    pub fn new(key: u64, inv: f64, rot: usize) -> Octave {
        let (a, b, c) = ROTATIONS[rot % ROTATIONS.len()];
        Octave {
            key,
            ca: a / c * inv,
            sb: b / c * inv,
            ix: i64::MIN,
            iy: i64::MIN,
            v: [0.0; 4],
        }
    }

    #[inline]
    pub fn sample(&mut self, x: f64, y: f64) -> f64 {
        let fx = x * self.ca - y * self.sb;
        let fy = x * self.sb + y * self.ca;
        let x0 = floor(fx);
        let y0 = floor(fy);
        let (ix, iy) = (x0 as i64, y0 as i64);
        if iy != self.iy || ix != self.ix {
            if iy == self.iy && ix == self.ix.wrapping_add(1) {
                self.v[0] = self.v[1];
                self.v[2] = self.v[3];
            } else {
                self.v[0] = lattice(self.key, ix, iy);
                self.v[2] = lattice(self.key, ix, iy + 1);
            }
            self.v[1] = lattice(self.key, ix + 1, iy);
            self.v[3] = lattice(self.key, ix + 1, iy + 1);
            self.ix = ix;
            self.iy = iy;
        }
        let tx = fx - x0;
        let ty = fy - y0;
        let sx = tx * tx * (3.0 - 2.0 * tx);
        let sy = ty * ty * (3.0 - 2.0 * ty);
        let [v00, v10, v01, v11] = self.v;
        let a = v00 + (v10 - v00) * sx;
        let b = v01 + (v11 - v01) * sx;
        a + (b - a) * sy
    }
}

/// One octave of value noise at one point (see [`Octave`]).
#[cfg(test)]
pub(crate) fn value_noise(key: u64, x: f64, y: f64, inv: f64) -> f64 {
    Octave::new(key, inv, 0).sample(x, y)
}

/// `q`-quantile of `values` (sorts them).
pub(crate) fn quantile(values: &mut [f64], q: f64) -> f64 {
    assert!(!values.is_empty());
    values.sort_unstable_by(f64::total_cmp);
    let i = ((values.len() - 1) as f64 * q).round() as usize;
    values[i.min(values.len() - 1)]
}

/// The share of the land that is forest in the base field (the province reports ~63 %).
pub(crate) const FOREST_SHARE: f64 = 0.62;

/// The forest truth field: fractal value noise (octaves at ~3 km, ~800 m, ~200 m and a
/// faint ~70 m roughness) plus a ridged "elevation" term at ~9 km that makes forested
/// ridges and cleared valleys. Forest where the field exceeds `threshold`.
#[derive(Clone, Debug)]
pub(crate) struct ForestField {
    octaves: [Octave; 5],
    pub threshold: f64,
}

impl ForestField {
    /// A field for `seed` with a threshold still to be calibrated.
    pub fn new(seed: u64) -> ForestField {
        let k = |i: u64| hash(seed, &[salt::FOREST, i]);
        let o = |i: u64, metres: f64| Octave::new(k(i), 1.0 / metres, i as usize);
        ForestField {
            octaves: [
                o(0, 3000.0),
                o(1, 800.0),
                o(2, 200.0),
                o(3, 70.0),
                o(4, 9000.0),
            ],
            threshold: 0.5,
        }
    }

    /// A sampler: the same field, faster along rows. Keep one per row / thread.
    pub fn sampler(&self) -> ForestField {
        self.clone()
    }

    /// The continuous field at UTM point `(x, y)` (metres).
    #[inline]
    pub fn value(&mut self, x: f64, y: f64) -> f64 {
        let [o1, o2, o3, o4, o5] = &mut self.octaves;
        let n1 = o1.sample(x, y);
        let n2 = o2.sample(x, y);
        let n3 = o3.sample(x, y);
        let n4 = o4.sample(x, y);
        let e = o5.sample(x, y);
        let ridge = 1.0 - (2.0 * e - 1.0).abs();
        0.40 * n1 + 0.22 * n2 + 0.12 * n3 + 0.04 * n4 + 0.35 * ridge
    }

    /// Forest at UTM point `(x, y)`.
    #[inline]
    pub fn is_forest(&mut self, x: f64, y: f64) -> bool {
        self.value(x, y) > self.threshold
    }

    /// Sets the threshold so that `FOREST_SHARE` of `sample` points are forest.
    pub fn calibrate(&mut self, sample: &[(f64, f64)]) {
        let mut v: Vec<f64> = sample.iter().map(|&(x, y)| self.value(x, y)).collect();
        self.threshold = quantile(&mut v, 1.0 - FOREST_SHARE);
    }
}

/// The share of a tile covered by natural clouds in each epoch.
pub(crate) const CLOUD_SHARE: f64 = 0.08;

/// One tile's clouds in one epoch: blobs where a smooth noise field is in its top 8 %.
#[derive(Clone, Debug)]
pub(crate) struct CloudField {
    octaves: [Octave; 3],
    pub threshold: f64,
}

impl CloudField {
    /// A cloud field for tile `tile` in epoch `epoch`; each pair gets its own blobs.
    pub fn new(seed: u64, tile: usize, epoch: usize) -> CloudField {
        let k = |i: u64| hash(seed, &[salt::CLOUD, tile as u64, epoch as u64, i]);
        let o = |i: u64, metres: f64| Octave::new(k(i), 1.0 / metres, i as usize + 3);
        CloudField {
            octaves: [o(0, 2500.0), o(1, 700.0), o(2, 180.0)],
            threshold: 1.0,
        }
    }

    /// A sampler: the same field, faster along rows.
    pub fn sampler(&self) -> CloudField {
        self.clone()
    }

    #[inline]
    fn value(&mut self, x: f64, y: f64) -> f64 {
        let [o1, o2, o3] = &mut self.octaves;
        0.62 * o1.sample(x, y) + 0.28 * o2.sample(x, y) + 0.10 * o3.sample(x, y)
    }

    /// Cloud at UTM point `(x, y)`.
    #[inline]
    pub fn is_cloud(&mut self, x: f64, y: f64) -> bool {
        self.value(x, y) > self.threshold
    }

    /// Sets the threshold so that `CLOUD_SHARE` of `sample` points are cloudy.
    pub fn calibrate(&mut self, sample: &[(f64, f64)]) {
        let mut v: Vec<f64> = sample.iter().map(|&(x, y)| self.value(x, y)).collect();
        self.threshold = quantile(&mut v, 1.0 - CLOUD_SHARE);
    }
}

/// `n` deterministic points uniform in the rectangle `[xmin, xmax) × [ymin, ymax)`.
pub(crate) fn sample_points(
    seed: u64,
    stream: u64,
    n: usize,
    (xmin, ymin, xmax, ymax): (f64, f64, f64, f64),
) -> Vec<(f64, f64)> {
    (0..n as u64)
        .map(|i| {
            let h = hash(seed, &[salt::SAMPLE, stream, i]);
            let u = unit(h);
            let v = unit(mix(h));
            (xmin + u * (xmax - xmin), ymin + v * (ymax - ymin))
        })
        .collect()
}

/// Sentinel-2 L2A digital number of a reflectance (processing baseline 04.00:
/// `DN = (reflectance + 0.1) × 10000`). Only used for documentation and tests; the
/// generator draws DNs directly as integers.
#[cfg(test)]
pub(crate) fn dn_of(reflectance: f64) -> u16 {
    ((reflectance + 0.1) * 10000.0).round() as u16
}

/// Reflectance of a DN.
#[cfg(test)]
pub(crate) fn reflectance_of(dn: u16) -> f64 {
    dn as f64 * 0.0001 - 0.1
}

/// The DNs `(red, nir)` of a pixel, from its own hash `h`.
///
/// - forest: red 0.025–0.040, NIR 0.26–0.32 → NDVI ≥ 0.73, but NDVI computed on raw
///   DNs (ignoring the −0.1 offset) stays below 0.55;
/// - non-forest: red 0.06–0.10, NIR 0.16–0.24 capped at 2.8 × red → NDVI ≤ 0.48;
/// - cloud: red ≈ 0.35–0.37, NIR ≈ 0.38–0.40 (bright, NDVI ≈ 0.05).
///
/// All integer arithmetic; never 0 (the nodata value).
#[inline]
pub(crate) fn pixel_dn(h: u64, forest: bool, cloud: bool) -> (u16, u16) {
    let a = h & 0xffff_ffff;
    let b = h >> 32;
    if cloud {
        (4500 + (a % 201) as u16, 4800 + (b % 201) as u16)
    } else if forest {
        (1250 + (a % 151) as u16, 3600 + (b % 601) as u16)
    } else {
        let red = 1600 + (a % 401) as u16;
        let nir = 2600 + (b % 801) as u16;
        let cap = 1000 + ((28 * (red as u32 - 1000)) / 10) as u16;
        (red, nir.min(cap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ndvi(red: f64, nir: f64) -> f64 {
        (nir - red) / (nir + red)
    }

    #[test]
    fn synth_reflectances_are_separable_only_with_the_offset() {
        for i in 0..200_000u64 {
            let h = mix(i);
            let (r, n) = pixel_dn(h, true, false);
            let t = ndvi(reflectance_of(r), reflectance_of(n));
            assert!(t >= 0.70, "forest ndvi {t}");
            assert!(ndvi(r as f64, n as f64) < 0.55, "raw forest ndvi");
            let (r, n) = pixel_dn(h, false, false);
            let t = ndvi(reflectance_of(r), reflectance_of(n));
            assert!(t <= 0.50, "non-forest ndvi {t}");
            assert!(reflectance_of(n) >= 0.16 - 1e-9 && reflectance_of(r) <= 0.10 + 1e-9);
            let (r, n) = pixel_dn(h, true, true);
            assert!(ndvi(reflectance_of(r), reflectance_of(n)) < 0.1);
            assert!(r > 0 && n > 0);
        }
        assert_eq!(dn_of(0.03), 1300);
    }

    #[test]
    fn synth_cached_octaves_match_fresh_ones() {
        let mut f = ForestField::new(7);
        let mut o = Octave::new(hash(7, &[9]), 1.0 / 200.0, 0);
        for i in 0..20_000 {
            let (x, y) = (
                612_000.0 + 30.0 * (i % 4000) as f64,
                2_480_000.0 - 30.0 * (i / 4000) as f64,
            );
            assert_eq!(
                o.sample(x, y).to_bits(),
                value_noise(hash(7, &[9]), x, y, 1.0 / 200.0).to_bits()
            );
            assert_eq!(
                f.value(x, y).to_bits(),
                ForestField::new(7).value(x, y).to_bits()
            );
        }
        assert_eq!(floor(-0.5), -1.0);
        assert_eq!(floor(2.0), 2.0);
        assert_eq!(floor(-3.0), -3.0);
    }

    #[test]
    fn synth_noise_is_in_range_and_continuous() {
        let k = hash(7, &[1]);
        let mut prev = value_noise(k, 600_000.0, 2_400_000.0, 1.0 / 200.0);
        for i in 1..10_000 {
            let v = value_noise(k, 600_000.0 + i as f64, 2_400_000.0, 1.0 / 200.0);
            assert!((0.0..1.0).contains(&v));
            assert!((v - prev).abs() < 0.02);
            prev = v;
        }
    }
}
