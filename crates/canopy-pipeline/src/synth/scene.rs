//! The scene: everything that decides a pixel's value (layout, forest field, clouds,
//! planted changes), as pure functions of working-grid pixels.

use super::field::{hash, pixel_dn, salt, CloudField, ForestField};
use super::layout::{Layout, PxRect};

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
    Regrowth,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Clearing => "clearing",
            Kind::Regrowth => "regrowth",
        }
    }
}

/// A planted change between epochs `from` and `from + 1`.
///
/// Inside `rect`, a clearing is forest in every epoch `<= from` and non-forest after;
/// a regrowth is the reverse. Outside every rectangle all epochs equal the base field.
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
}

/// A cloud forced over a rectangle in one epoch, in every tile.
#[derive(Clone, Debug)]
pub(crate) struct ForcedCloud {
    pub epoch: usize,
    pub rect: PxRect,
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
    pub forced: Vec<ForcedCloud>,
}

impl Scene {
    /// Forest in the base field at working pixel `(c, r)`.
    #[inline]
    pub fn base_forest(&self, c: usize, r: usize) -> bool {
        let (x, y) = self.layout.centre(c, r);
        self.forest.is_forest(x, y)
    }

    /// The changes whose rectangle meets rows `[r0, r1)`.
    pub fn changes_in_rows(&self, r0: usize, r1: usize) -> Vec<&Change> {
        self.changes.iter().filter(|c| c.rect.r0 < r1 && r0 < c.rect.r1).collect()
    }

    /// The forced clouds of epoch `e` that meet rows `[r0, r1)`.
    pub fn forced_in_rows(&self, e: usize, r0: usize, r1: usize) -> Vec<&PxRect> {
        self.forced
            .iter()
            .filter(|f| f.epoch == e && f.rect.r0 < r1 && r0 < f.rect.r1)
            .map(|f| &f.rect)
            .collect()
    }

    /// Forest truth at working pixel `(c, r)` in epoch `e`; `active` must hold every
    /// change that may contain the pixel.
    #[inline]
    pub fn forest_at(&self, c: usize, r: usize, e: usize, active: &[&Change]) -> bool {
        for ch in active {
            if ch.rect.contains(c, r) {
                return match ch.kind {
                    Kind::Clearing => e <= ch.from,
                    Kind::Regrowth => e > ch.from,
                };
            }
        }
        self.base_forest(c, r)
    }

    /// Natural cloud of `tile` in epoch `e` at working pixel `(c, r)`.
    #[inline]
    pub fn natural_cloud(&self, tile: usize, e: usize, c: usize, r: usize) -> bool {
        let (x, y) = self.layout.centre(c, r);
        self.clouds[tile][e].is_cloud(x, y)
    }

    /// Cloud of `tile` in epoch `e` at working pixel `(c, r)`; `forced` must hold every
    /// forced cloud of `e` that may contain the pixel.
    #[inline]
    pub fn cloud_at(&self, tile: usize, e: usize, c: usize, r: usize, forced: &[&PxRect]) -> bool {
        forced.iter().any(|f| f.contains(c, r)) || self.natural_cloud(tile, e, c, r)
    }

    /// `(red, nir, mask)` DNs of working pixel `(c, r)` seen by `tile` in epoch `e`.
    #[inline]
    pub fn pixel(
        &self,
        tile: usize,
        e: usize,
        c: usize,
        r: usize,
        active: &[&Change],
        forced: &[&PxRect],
    ) -> (u16, u16, u16) {
        let forest = self.forest_at(c, r, e, active);
        let cloud = self.cloud_at(tile, e, c, r, forced);
        let h = hash(self.seed, &[salt::REFLECTANCE, tile as u64, e as u64, c as u64, r as u64]);
        let (red, nir) = pixel_dn(h, forest, cloud);
        (red, nir, cloud as u16)
    }
}
