//! A strip's per-polygon output listing only the polygons the strip touches.
//!
//! The strip passes (cover, change, burned area) produce sums per polygon and
//! strip. Dense vectors (a value for every polygon in every strip) cost
//! polygons × strips values: 291,166 plots × 50 strips at 10 m is gigabytes,
//! although a plot touches one or two strips. The reduction adds a strip's
//! values in strip order whatever the representation, and a polygon a strip does
//! not touch would only add zero (sums of areas, never −0), so the totals are
//! bit-identical to the dense ones.

use canopy_core::coverage::Coverage;
use serde::{Deserialize, Serialize};

/// Values of the polygons a strip touches, by polygon index, in polygon order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Touched<T> {
    ix: Vec<u32>,
    vals: Vec<T>,
}

impl<T> Default for Touched<T> {
    fn default() -> Self {
        Touched {
            ix: Vec::new(),
            vals: Vec::new(),
        }
    }
}

impl<T> Touched<T> {
    /// Adds polygon `k`'s value (polygons in increasing order).
    pub fn push(&mut self, k: usize, v: T) {
        debug_assert!(self.ix.last().is_none_or(|&l| (l as usize) < k));
        self.ix.push(k as u32);
        self.vals.push(v);
    }

    /// The polygons and their values, in polygon order.
    pub fn into_iter(self) -> impl Iterator<Item = (usize, T)> {
        self.ix.into_iter().map(|k| k as usize).zip(self.vals)
    }

    pub fn len(&self) -> usize {
        self.ix.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ix.is_empty()
    }
}

/// Whether coverage `c` has rows in the strip of `rows` rows from `row0`.
pub fn touches(c: &Coverage, row0: usize, rows: usize) -> bool {
    let r = c.rows();
    r.start < row0 + rows && r.end > row0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_pushed_polygons_in_order() {
        let mut t = Touched::default();
        t.push(3, 1.5);
        t.push(7, 2.5);
        assert_eq!(t.len(), 2);
        assert_eq!(t.into_iter().collect::<Vec<_>>(), vec![(3, 1.5), (7, 2.5)]);
    }
}
