//! The scene: everything that decides a pixel's value (layout, forest field, clouds,
//! planted changes), as pure functions of working-grid pixels.

use super::field::{hash, pixel_dn, salt, CloudField, ForestField};
use super::layout::{Layout, PxRect};
use super::zones::ZoneMask;

/// One epoch.
#[derive(Clone, Debug)]
pub(crate) struct Epoch {
    pub id: String,
    pub date: String,
}

/// Kind of planted change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Clearing,
    /// A clear-cut inside a plantation zone (a clearing to the pixels).
    Harvest,
    Regrowth,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Clearing => "clearing",
            Kind::Harvest => "harvest",
            Kind::Regrowth => "regrowth",
        }
    }

    /// Forest lost (clearing or harvest) rather than gained.
    pub fn is_loss(self) -> bool {
        !matches!(self, Kind::Regrowth)
    }
}

/// A planted change between epochs `from` and `from + 1`.
///
/// Inside `rect`, a clearing or harvest is forest in every epoch `<= from` and
/// non-forest after; a regrowth is the reverse. Outside every rectangle all epochs equal the base field.
#[derive(Clone, Debug)]
pub(crate) struct Change {
    pub id: u32,
    pub kind: Kind,
    pub from: usize,
    pub rect: PxRect,
    pub nominal_ha: f64,
    pub cloud_covered: bool,
    pub straddles: bool,
    pub commune: String,
    /// Index of the planting zone the rectangle lies in (≥ 2 px inside), if any; the
    /// others lie ≥ 2 px outside every zone.
    pub zone: Option<usize>,
}

/// A cloud forced over a rectangle in one epoch, in every tile.
#[derive(Clone, Debug)]
pub(crate) struct ForcedCloud {
    pub epoch: usize,
    pub rect: PxRect,
}

/// The per-row context of a pixel computation: the changes, forced clouds and
/// cleared zones that may touch the rows at hand.
pub(crate) struct RowCtx<'a> {
    pub changes: Vec<&'a Change>,
    pub forced: Vec<&'a PxRect>,
    pub cleared: Vec<&'a PxRect>,
}

/// Index of the WGS84 tile among the tiles (after the four UTM tiles).
pub(crate) const WGS_TILE: usize = 4;

/// Everything needed to compute any pixel of any output.
pub(crate) struct Scene {
    pub seed: u64,
    pub layout: Layout,
    pub epochs: Vec<Epoch>,
    pub forest: ForestField,
    /// `clouds[tile][epoch]`, tiles 0..4 the UTM tiles, `WGS_TILE` the WGS84 tile.
    pub clouds: Vec<Vec<CloudField>>,
    pub changes: Vec<Change>,
    /// Clouds forced over a rectangle in one epoch, in every tile.
    pub forced: Vec<ForcedCloud>,
    /// Rectangles kept cloud-free in one epoch, in every tile (where a planted change
    /// found no naturally clear place).
    pub cleared: Vec<ForcedCloud>,
    /// Pixels where the planting zones force forest (empty without zones).
    pub zone_forest: ZoneMask,
    /// Extra scenes per epoch (`synth --scenes N` − 1): `extra[tile][epoch][s − 1]`
    /// = (clouds, haze) of scene `s` (empty with one scene per epoch).
    pub extra: Vec<Vec<Vec<(CloudField, CloudField)>>>,
}

impl Scene {
    /// Scenes per epoch (1 + the extra scenes).
    pub fn scenes(&self) -> usize {
        1 + self
            .extra
            .first()
            .and_then(|t| t.first())
            .map_or(0, Vec::len)
    }

    /// Samplers of the clouds and haze of extra scene `s ≥ 1` of `tile` in `e`
    /// (for `s = 0`, unused copies of the reference clouds).
    pub fn extra_samplers(&self, tile: usize, e: usize, s: usize) -> (CloudField, CloudField) {
        if s == 0 {
            let c = self.clouds[tile][e].sampler();
            return (c.clone(), c);
        }
        let (c, h) = &self.extra[tile][e][s - 1];
        (c.sampler(), h.sampler())
    }

    /// Forest in the base field at working pixel `(c, r)` (one-off; rows use
    /// [`Scene::forest_at`] with a sampler): forced inside zones, else the field.
    pub fn base_forest(&self, c: usize, r: usize) -> bool {
        if self.zone_forest.get(c, r) {
            return true;
        }
        let (x, y) = self.layout.centre(c, r);
        self.forest.sampler().is_forest(x, y)
    }

    /// The changes whose rectangle meets rows `[r0, r1)`.
    pub fn changes_in_rows(&self, r0: usize, r1: usize) -> Vec<&Change> {
        self.changes
            .iter()
            .filter(|c| c.rect.r0 < r1 && r0 < c.rect.r1)
            .collect()
    }

    /// Everything of epoch `e` that may touch rows `[r0, r1)`.
    pub fn row_ctx(&self, e: usize, r0: usize, r1: usize) -> RowCtx<'_> {
        let pick = |v: &'_ [ForcedCloud]| -> Vec<usize> {
            v.iter()
                .enumerate()
                .filter(|(_, f)| f.epoch == e && f.rect.r0 < r1 && r0 < f.rect.r1)
                .map(|(i, _)| i)
                .collect()
        };
        RowCtx {
            changes: self.changes_in_rows(r0, r1),
            forced: pick(&self.forced)
                .into_iter()
                .map(|i| &self.forced[i].rect)
                .collect(),
            cleared: pick(&self.cleared)
                .into_iter()
                .map(|i| &self.cleared[i].rect)
                .collect(),
        }
    }

    /// Forest truth at working pixel `(c, r)` in epoch `e`; `active` must hold every
    /// change that may contain the pixel, `fs` is a sampler of `self.forest`.
    #[inline]
    pub fn forest_at(
        &self,
        c: usize,
        r: usize,
        e: usize,
        active: &[&Change],
        fs: &mut ForestField,
    ) -> bool {
        for ch in active {
            if ch.rect.contains(c, r) {
                return match ch.kind {
                    Kind::Clearing | Kind::Harvest => e <= ch.from,
                    Kind::Regrowth => e > ch.from,
                };
            }
        }
        if self.zone_forest.get(c, r) {
            return true;
        }
        let (x, y) = self.layout.centre(c, r);
        fs.is_forest(x, y)
    }

    /// Natural cloud of `tile` in epoch `e` at working pixel `(c, r)` (one-off).
    pub fn natural_cloud(&self, tile: usize, e: usize, c: usize, r: usize) -> bool {
        let (x, y) = self.layout.centre(c, r);
        self.clouds[tile][e].sampler().is_cloud(x, y)
    }

    /// Cloud of `tile` in epoch `e` at working pixel `(c, r)`; `ctx` must come from
    /// `row_ctx(e, ..)` over rows that include `r`.
    /// `cs` is a sampler of `self.clouds[tile][e]`.
    #[inline]
    pub fn cloud_at(&self, c: usize, r: usize, ctx: &RowCtx, cs: &mut CloudField) -> bool {
        if ctx.forced.iter().any(|f| f.contains(c, r)) {
            return true;
        }
        if ctx.cleared.iter().any(|f| f.contains(c, r)) {
            return false;
        }
        let (x, y) = self.layout.centre(c, r);
        cs.is_cloud(x, y)
    }

    /// `(red, nir, mask)` DNs of working pixel `(c, r)` seen by `tile` in extra scene
    /// `s ≥ 1` of epoch `e`: its own (moving) clouds, masked; where the reference
    /// scene (`s = 0`) is clear, haze the mask misses (forest looks non-forest) and,
    /// in scene 1 (leaf-off, January), deciduous forest looks non-forest; meadows
    /// (non-forest) are mown in even scenes (lower NDVI). So every clear observation
    /// is at most as green as the truth, and the reference scene or, under its
    /// clouds, any clear scene sees the truth: a max-NDVI composite is the truth
    /// wherever a scene is clear. `cs` samples the reference clouds, `cx`/`hx` this
    /// scene's clouds and haze.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn scene_pixel(
        &self,
        tile: usize,
        e: usize,
        s: usize,
        c: usize,
        r: usize,
        ctx: &RowCtx,
        fs: &mut ForestField,
        cs: &mut CloudField,
        cx: &mut CloudField,
        hx: &mut CloudField,
    ) -> (u16, u16, u16) {
        let forest = self.forest_at(c, r, e, &ctx.changes, fs);
        let ref_cloud = self.cloud_at(c, r, ctx, cs);
        let cloud = self.cloud_at(c, r, ctx, cx);
        let h = hash(
            self.seed,
            &[
                salt::REFLECTANCE,
                tile as u64,
                e as u64,
                c as u64,
                r as u64,
                s as u64,
            ],
        );
        if cloud {
            let (red, nir) = pixel_dn(h, forest, true);
            return (red, nir, 1);
        }
        let (x, y) = self.layout.centre(c, r);
        let cell = |metres: f64, salt_k: u64| {
            hash(
                self.seed,
                &[
                    salt_k,
                    (x / metres).floor() as i64 as u64,
                    (y / metres).floor() as i64 as u64,
                ],
            )
        };
        let deciduous = || cell(300.0, salt::GAP ^ 0xdec1) % 10 < 4;
        let degraded = !ref_cloud && (hx.is_cloud(x, y) || (s == 1 && forest && deciduous()));
        let (mut red, mut nir) = pixel_dn(h, forest && !degraded, false);
        if !forest && s % 2 == 0 && cell(200.0, salt::GAP ^ 0x3077) % 3 == 0 {
            // A mown meadow: brighter red, less NIR (still non-forest).
            red = red.saturating_add(200);
            nir = nir.saturating_sub(300).max(1);
        }
        (red, nir, 0)
    }

    /// `(red, nir, mask)` DNs of working pixel `(c, r)` seen by `tile` in epoch `e`;
    /// `fs` and `cs` are samplers of the forest and of this tile's clouds in `e`.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn pixel(
        &self,
        tile: usize,
        e: usize,
        c: usize,
        r: usize,
        ctx: &RowCtx,
        fs: &mut ForestField,
        cs: &mut CloudField,
    ) -> (u16, u16, u16) {
        let forest = self.forest_at(c, r, e, &ctx.changes, fs);
        let cloud = self.cloud_at(c, r, ctx, cs);
        let h = hash(
            self.seed,
            &[salt::REFLECTANCE, tile as u64, e as u64, c as u64, r as u64],
        );
        let (red, nir) = pixel_dn(h, forest, cloud);
        (red, nir, cloud as u16)
    }
}
