//! Forest plots handed from the shards to the merge (issue 16).
//!
//! Every process of a sharded run reads and places the plot layer
//! (`parcels::read`, `parcels::plan`): each shard needs every plot's
//! coverage in its strips. The merge needs the placed plots too (their figures,
//! outlines and the plots each alert touches), but reading them again cost it
//! most of its time on the 10 m sample (291,166 plots, a 142 MB GeoJSON: ~9 of
//! its ~27 seconds). So shard K puts in its partial the plots whose index in
//! the plan is K modulo N, exactly as placed (attributes, codes, area, polygon
//! in `area_crs` as raw `f64`s), and the merge puts the N shares back together
//! instead of reading the layer. The plot layer is one of the inputs whose size
//! and modification time every partial records, so a plot layer changed since
//! the shards is refused before this (`shard::begin`).
//!
//! A partial without a share (written by an older canopy) makes the merge read
//! the layer as before.

use geo::{Coord, LineString, MultiPolygon, Polygon};
use serde::{Deserialize, Serialize};

use crate::error::PipelineError;
use crate::parcels::{ParcelPlan, PlannedParcel};
use crate::shard::ShardError;
use canopy_core::parcel::{ForestFunction, Origin, OwnerCategory, ParcelAttr};

/// One plot as placed: the plan's entry, attributes, codes and polygon.
type Placed = (
    PlannedParcel,
    ParcelAttr,
    (String, String, String),
    MultiPolygon<f64>,
);

/// One shard's plots: the plan's plots whose index is K modulo N.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Share {
    /// Plots in the whole plan.
    total: u64,
    /// Per plot of the share: its index in the plan and in the layer, its
    /// area, attributes and codes (tiểu khu, khoảnh, lô).
    index: Vec<u64>,
    layer_index: Vec<u64>,
    area_m2: Vec<f64>,
    attrs: Vec<AttrRow>,
    codes: Vec<(String, String, String)>,
    /// The polygons: per plot its polygon count, per polygon its ring count,
    /// per ring its point count; and every point's x and y (`f64`, little
    /// endian), in that order.
    shape: Vec<u32>,
    #[serde(with = "serde_bytes")]
    coords: Vec<u8>,
    /// The plan's warnings (shard 0 only, so the merge has them once).
    warnings: Vec<String>,
}

/// A plot's [`ParcelAttr`] in a share: its fields in order, as an array (a
/// struct would be a map, its field names written and matched once per plot:
/// a third of the merge's time reading the shares).
#[derive(Debug, Serialize, Deserialize)]
struct AttrRow(
    String,
    ForestFunction,
    Option<Origin>,
    String,
    String,
    OwnerCategory,
    String,
);

impl From<&ParcelAttr> for AttrRow {
    fn from(a: &ParcelAttr) -> Self {
        AttrRow(
            a.id.clone(),
            a.function,
            a.origin,
            a.forest_type.clone(),
            a.owner.clone(),
            a.owner_category,
            a.commune_code.clone(),
        )
    }
}

impl From<AttrRow> for ParcelAttr {
    fn from(r: AttrRow) -> Self {
        let AttrRow(id, function, origin, forest_type, owner, owner_category, commune_code) = r;
        ParcelAttr {
            id,
            function,
            origin,
            forest_type,
            owner,
            owner_category,
            commune_code,
        }
    }
}

impl Share {
    fn push_polygon(&mut self, mp: &MultiPolygon<f64>) {
        self.shape.push(mp.0.len() as u32);
        for p in &mp.0 {
            self.shape.push(1 + p.interiors().len() as u32);
            for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                self.shape.push(ring.0.len() as u32);
                for c in &ring.0 {
                    self.coords.extend_from_slice(&c.x.to_le_bytes());
                    self.coords.extend_from_slice(&c.y.to_le_bytes());
                }
            }
        }
    }

    /// The polygons back, in order.
    fn polygons(&self) -> Result<Vec<MultiPolygon<f64>>, String> {
        let bad = || "plot polygons are truncated".to_string();
        let mut shape = self.shape.iter().copied();
        let mut xy = self
            .coords
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("chunks of 8")));
        let mut out = Vec::with_capacity(self.index.len());
        for _ in 0..self.index.len() {
            let polys = shape.next().ok_or_else(bad)?;
            let mut mp = Vec::with_capacity(polys as usize);
            for _ in 0..polys {
                let rings = shape.next().ok_or_else(bad)?;
                let mut rs = Vec::with_capacity(rings as usize);
                for _ in 0..rings {
                    let points = shape.next().ok_or_else(bad)?;
                    let ring: Option<Vec<Coord<f64>>> = (0..points)
                        .map(|_| {
                            Some(Coord {
                                x: xy.next()?,
                                y: xy.next()?,
                            })
                        })
                        .collect();
                    rs.push(LineString(ring.ok_or_else(bad)?));
                }
                let mut rs = rs.into_iter();
                let exterior = rs.next().ok_or_else(bad)?;
                mp.push(Polygon::new(exterior, rs.collect()));
            }
            out.push(MultiPolygon(mp));
        }
        if shape.next().is_some() || xy.next().is_some() {
            return Err("plot polygons have trailing data".into());
        }
        Ok(out)
    }
}

/// Shard mode: records this shard's share of `plan` (its polygons still in
/// `plan.polygons`) in the partial. Does nothing in other modes.
pub fn record(plan: &ParcelPlan) -> Result<(), PipelineError> {
    let Some((k, n)) = crate::shard::shard_index() else {
        return Ok(());
    };
    let mut share = Share {
        total: plan.parcels.len() as u64,
        warnings: if k == 0 {
            plan.warnings.clone()
        } else {
            Vec::new()
        },
        ..Default::default()
    };
    for i in (k..plan.parcels.len()).step_by(n) {
        share.index.push(i as u64);
        share.layer_index.push(plan.parcels[i].index as u64);
        share.area_m2.push(plan.parcels[i].area_m2);
        share.attrs.push(AttrRow::from(&plan.attrs[i]));
        share.codes.push(plan.codes[i].clone());
        share.push_polygon(&plan.polygons[i]);
    }
    let mut bytes = Vec::new();
    ciborium::into_writer(&share, &mut bytes).map_err(|e| ShardError::Encode {
        key: "plots".into(),
        msg: e.to_string(),
    })?;
    crate::shard::record_plots(bytes);
    Ok(())
}

/// Merge mode: the plan put back together from the shards' shares, exactly as
/// each shard placed it; `None` outside a merge or when a partial has no share
/// (the merge then reads the plot layer). A share that does not fit (a wrong
/// total, a plot missing or twice) is an error naming its partial.
pub fn from_shards() -> Result<Option<ParcelPlan>, PipelineError> {
    let Some(parts) = crate::shard::plot_shares() else {
        return Ok(None);
    };
    let mut plan = ParcelPlan::default();
    let mut slots: Vec<Option<Placed>> = Vec::new();
    for (k, (file, bytes)) in parts.iter().enumerate() {
        let bad = |msg: String| ShardError::Partial {
            file: file.clone(),
            msg: format!("forest plots: {msg}"),
        };
        let share: Share =
            ciborium::from_reader(&bytes[..]).map_err(|e| bad(crate::shard::undecodable(e)))?;
        if k == 0 {
            slots.resize_with(share.total as usize, || None);
        }
        let n = share.index.len();
        if share.total as usize != slots.len()
            || [
                share.layer_index.len(),
                share.area_m2.len(),
                share.attrs.len(),
                share.codes.len(),
            ]
            .iter()
            .any(|&l| l != n)
        {
            return Err(bad("the share does not match the other shards'".into()).into());
        }
        let polygons = share.polygons().map_err(bad)?;
        plan.warnings.extend(share.warnings);
        let rows = share
            .index
            .into_iter()
            .zip(share.layer_index)
            .zip(share.area_m2)
            .zip(share.attrs)
            .zip(share.codes)
            .zip(polygons);
        for (((((i, layer), area_m2), attr), codes), poly) in rows {
            let slot = slots
                .get_mut(i as usize)
                .filter(|s| s.is_none())
                .ok_or_else(|| bad(format!("plot {i} is out of range or given twice")))?;
            let parcel = PlannedParcel {
                index: layer as usize,
                area_m2,
            };
            *slot = Some((parcel, attr.into(), codes, poly));
        }
    }
    for (i, slot) in slots.into_iter().enumerate() {
        let (parcel, attr, codes, poly) = slot.ok_or_else(|| ShardError::Partial {
            file: parts[i % parts.len()].0.clone(),
            msg: format!("forest plots: plot {i} is in no share"),
        })?;
        plan.parcels.push(parcel);
        plan.attrs.push(attr);
        plan.codes.push(codes);
        plan.polygons.push(poly);
    }
    tracing::info!(
        plots = plan.parcels.len(),
        "forest plots taken from the partials (the plot layer is not read again)"
    );
    Ok(Some(plan))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn polygons_round_trip_exactly() {
        let with_hole = polygon!(
            exterior: [(x: 0.1, y: 0.2), (x: 10.0, y: 0.0), (x: 10.0, y: 1e7 / 3.0), (x: 0.1, y: 0.2)],
            interiors: [[(x: 1.0, y: 1.0), (x: 2.0, y: 1.0), (x: 2.0, y: 2.0), (x: 1.0, y: 1.0)]],
        );
        let plain = polygon!((x: -5.5, y: f64::MIN_POSITIVE), (x: 3.0, y: 4.0), (x: 0.0, y: 9.0), (x: -5.5, y: f64::MIN_POSITIVE));
        let polys = vec![
            MultiPolygon(vec![with_hole, plain.clone()]),
            MultiPolygon(vec![plain]),
        ];
        let mut s = Share {
            index: vec![0, 1],
            ..Default::default()
        };
        for p in &polys {
            s.push_polygon(p);
        }
        assert_eq!(s.polygons().unwrap(), polys);
        // A share cut short is an error, not fewer plots.
        s.coords.truncate(s.coords.len() - 8);
        assert!(s.polygons().is_err());
    }
}
