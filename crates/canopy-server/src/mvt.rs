//! Mapbox Vector Tiles (MVT 2.1) of a polygon collection on the WebMercatorQuad
//! tile matrix set (issue 19): the map reads plots and zones tile by tile instead of
//! downloading whole collections.
//!
//! A [`TileLayer`] is built once per snapshot: every feature projected to normalised
//! Web Mercator (`[0, 1]²`, y down, the unit square of tile 0/0/0) and the bounding
//! boxes in an R-tree (rstar). A tile is then: the features whose box meets the tile
//! (with its buffer), each moved into tile space (`EXTENT` units a side), clipped to
//! the buffered tile (`geo`'s boolean intersection, only when it crosses the edge),
//! simplified (`geo`'s Ramer–Douglas–Peucker, a fraction of a screen pixel), snapped to
//! the integer grid, rings that collapse dropped, exteriors oriented as the MVT spec
//! asks (positive surveyor's area in tile coordinates), and encoded by `geozero`
//! (geometry commands, the key/value tables, protobuf through `prost`).

use geo::orient::Direction;
use geo::{
    coord, Area, BooleanOps, BoundingRect, Coord, LineString, MapCoords, MultiPolygon, Orient,
    Polygon, Rect, Simplify,
};
use geozero::mvt::{tile, Message, TagsBuilder, TileValue};
use geozero::ToMvt;
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

/// Tile coordinate units per tile side (the MVT default).
pub const EXTENT: u32 = 4096;
/// Tile units drawn beyond each edge, so that strokes do not show the tile seams.
pub const BUFFER: f64 = 64.0;
/// The deepest tile matrix served (WebMercatorQuad's 0–22 of the OGC registry … and
/// 22 is ~4 cm a screen pixel at the equator, well past a plot's detail).
pub const MAX_ZOOM: u8 = 22;
/// Simplification tolerance in tile units (1/8 of a screen pixel at 256 px a tile).
pub const SIMPLIFY: f64 = 2.0;
/// The most features one tile may hold; a busier tile asks for a deeper zoom.
pub const MAX_FEATURES: usize = 20_000;
/// Web Mercator's latitude limit (the square world).
pub const MAX_LAT: f64 = 85.051_128_779_806_59;

/// Why a tile could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MvtError {
    #[error("tile {z}/{y}/{x} of {layer} holds {count} features, more than {MAX_FEATURES}: ask for a deeper zoom")]
    TooMany {
        layer: String,
        z: u8,
        x: u32,
        y: u32,
        count: usize,
    },
    #[error("encoding feature {id} of {layer} as MVT")]
    Encode {
        layer: String,
        id: String,
        #[source]
        source: geozero::error::GeozeroError,
    },
}

/// Longitude/latitude (degrees) → normalised Web Mercator (`[0, 1]²`, y down).
pub fn project(lon: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    let x = lon / 360.0 + 0.5;
    let y =
        0.5 - (std::f64::consts::FRAC_PI_4 + lat / 2.0).tan().ln() / (2.0 * std::f64::consts::PI);
    (x, y)
}

/// The tile (column, row) holding normalised point `(x, y)` at zoom `z`.
pub fn tile_of(z: u8, x: f64, y: f64) -> (u32, u32) {
    let n = (1u64 << z) as f64;
    let last = (1u64 << z) - 1;
    let c = ((x * n).floor().max(0.0) as u64).min(last);
    let r = ((y * n).floor().max(0.0) as u64).min(last);
    (c as u32, r as u32)
}

/// One feature of a layer, ready for tiling.
#[derive(Debug)]
pub struct TileFeature {
    pub id: String,
    /// Normalised Web Mercator.
    geom: MultiPolygon<f64>,
    /// The attributes written to the tile (no nulls: MVT has none, a missing key is one).
    props: Vec<(&'static str, TileValue)>,
}

type Entry = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// A collection's polygons for tiling: features in normalised Web Mercator and an
/// R-tree of their boxes.
#[derive(Debug, Default)]
pub struct TileLayer {
    pub name: &'static str,
    /// The shallowest tile matrix served (a tile above it would hold too many features).
    pub min_zoom: u8,
    pub features: Vec<TileFeature>,
    tree: RTree<Entry>,
    /// Extent in normalised Web Mercator (`[min x, min y, max x, max y]`).
    pub extent: Option<[f64; 4]>,
}

/// A (multi)polygon in lon/lat as a MultiPolygon, other geometries as none.
pub fn polygons(g: &geo::Geometry<f64>) -> Option<MultiPolygon<f64>> {
    match g {
        geo::Geometry::MultiPolygon(m) => Some(m.clone()),
        geo::Geometry::Polygon(p) => Some(MultiPolygon(vec![p.clone()])),
        _ => None,
    }
}

impl TileLayer {
    /// A layer from `(id, lon/lat polygons, attributes)`; features without polygons
    /// are left out.
    pub fn new(
        name: &'static str,
        min_zoom: u8,
        features: impl IntoIterator<Item = (String, MultiPolygon<f64>, Vec<(&'static str, TileValue)>)>,
    ) -> Self {
        let mut out = Vec::new();
        let mut entries = Vec::new();
        let mut extent: Option<[f64; 4]> = None;
        for (id, lonlat, props) in features {
            let geom = lonlat.map_coords(|c| {
                let (x, y) = project(c.x, c.y);
                coord! {x: x, y: y}
            });
            let Some(b) = geom.bounding_rect() else {
                continue;
            };
            let (lo, hi) = (b.min(), b.max());
            entries.push(GeomWithData::new(
                Rectangle::from_corners([lo.x, lo.y], [hi.x, hi.y]),
                out.len(),
            ));
            extent = Some(match extent {
                None => [lo.x, lo.y, hi.x, hi.y],
                Some(e) => [
                    e[0].min(lo.x),
                    e[1].min(lo.y),
                    e[2].max(hi.x),
                    e[3].max(hi.y),
                ],
            });
            out.push(TileFeature { id, geom, props });
        }
        TileLayer {
            name,
            min_zoom,
            features: out,
            tree: RTree::bulk_load(entries),
            extent,
        }
    }

    /// Indices of the features whose box meets tile `z/x/y` with its buffer, in
    /// collection order.
    pub fn in_tile(&self, z: u8, x: u32, y: u32) -> Vec<usize> {
        let n = (1u64 << z) as f64;
        let b = BUFFER / EXTENT as f64 / n;
        let env = AABB::from_corners(
            [x as f64 / n - b, y as f64 / n - b],
            [(x + 1) as f64 / n + b, (y + 1) as f64 / n + b],
        );
        let mut v: Vec<usize> = self
            .tree
            .locate_in_envelope_intersecting(&env)
            .map(|e| e.data)
            .collect();
        v.sort_unstable();
        v
    }

    /// Tile `z/x/y` (column `x`, row `y`) as MVT bytes, none when no feature shows in it.
    pub fn encode(&self, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, MvtError> {
        let hits = self.in_tile(z, x, y);
        if hits.len() > MAX_FEATURES {
            return Err(MvtError::TooMany {
                layer: self.name.to_string(),
                z,
                x,
                y,
                count: hits.len(),
            });
        }
        let mut tags = TagsBuilder::new();
        let mut features = Vec::new();
        for i in hits {
            let f = &self.features[i];
            let Some(geom) = to_tile(&f.geom, z, x, y) else {
                continue;
            };
            let mut feat = geo::Geometry::MultiPolygon(geom)
                .to_mvt_unscaled()
                .map_err(|source| MvtError::Encode {
                    layer: self.name.to_string(),
                    id: f.id.clone(),
                    source,
                })?;
            feat.id = Some(i as u64 + 1);
            feat.r#type = Some(tile::GeomType::Polygon as i32);
            for (k, v) in &f.props {
                let (ki, vi) = tags.insert_ref(k, v.clone());
                feat.tags.push(ki);
                feat.tags.push(vi);
            }
            features.push(feat);
        }
        if features.is_empty() {
            return Ok(None);
        }
        let (keys, values) = tags.into_tags();
        let layer = tile::Layer {
            version: 2,
            name: self.name.to_string(),
            features,
            keys,
            values: values.into_iter().map(Into::into).collect(),
            extent: Some(EXTENT),
        };
        Ok(Some(
            geozero::mvt::Tile {
                layers: vec![layer],
            }
            .encode_to_vec(),
        ))
    }
}

/// A feature (normalised Web Mercator) in the integer space of tile `z/x/y`: clipped to
/// the buffered tile, simplified, snapped, oriented; none when nothing is left.
fn to_tile(g: &MultiPolygon<f64>, z: u8, x: u32, y: u32) -> Option<MultiPolygon<f64>> {
    let n = (1u64 << z) as f64;
    let e = EXTENT as f64;
    let (x0, y0) = (x as f64, y as f64);
    let t = g.map_coords(|c| coord! {x: (c.x * n - x0) * e, y: (c.y * n - y0) * e});
    let (lo, hi) = (-BUFFER, e + BUFFER);
    let b = t.bounding_rect()?;
    if b.max().x < lo || b.min().x > hi || b.max().y < lo || b.min().y > hi {
        return None;
    }
    let inside = b.min().x >= lo && b.max().x <= hi && b.min().y >= lo && b.max().y <= hi;
    let clipped = if inside {
        t
    } else {
        let rect = Rect::new(coord! {x: lo, y: lo}, coord! {x: hi, y: hi}).to_polygon();
        t.intersection(&MultiPolygon(vec![rect]))
    };
    let simple = clipped.simplify(SIMPLIFY);
    let polys: Vec<Polygon<f64>> = simple
        .0
        .iter()
        .filter_map(|p| {
            let ext = snap(p.exterior())?;
            let holes = p.interiors().iter().filter_map(snap).collect();
            Some(Polygon::new(ext, holes))
        })
        .collect();
    (!polys.is_empty()).then(|| MultiPolygon(polys).orient(Direction::Default))
}

/// A ring on the integer grid without repeated points; none when it collapses
/// (fewer than three distinct points or no area).
fn snap(r: &LineString<f64>) -> Option<LineString<f64>> {
    let mut pts: Vec<Coord<f64>> = Vec::with_capacity(r.0.len());
    for c in &r.0 {
        let s = coord! {x: c.x.round(), y: c.y.round()};
        if pts.last() != Some(&s) {
            pts.push(s);
        }
    }
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    if pts.len() < 3 {
        return None;
    }
    pts.push(pts[0]);
    let ring = LineString(pts);
    (Polygon::new(ring.clone(), vec![]).unsigned_area() > 0.0).then_some(ring)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn projection_corners_and_tiles() {
        assert_eq!(project(-180.0, MAX_LAT).0, 0.0);
        assert!((project(-180.0, MAX_LAT).1).abs() < 1e-12);
        assert!((project(180.0, -MAX_LAT).1 - 1.0).abs() < 1e-12);
        assert_eq!(project(0.0, 0.0), (0.5, 0.5));
        // Lạng Sơn city (106.76 E, 21.85 N) at z14: the standard slippy-map formula
        // gives column floor((106.76 + 180) / 360 · 2^14) = 13050 and row 7172.
        let (x, y) = project(106.76, 21.85);
        assert_eq!(tile_of(14, x, y), (13050, 7172));
    }

    /// A square of plots-size degrees inside tile 0/0/0 keeps its corners within
    /// rounding, is oriented with a positive surveyor's area, and a square crossing
    /// a tile's edge is cut at the buffer.
    #[test]
    fn a_square_in_tile_space() {
        let sq = MultiPolygon(vec![polygon![
            (x: 0.25, y: 0.25), (x: 0.5, y: 0.25), (x: 0.5, y: 0.5), (x: 0.25, y: 0.5), (x: 0.25, y: 0.25)
        ]]);
        let t = to_tile(&sq, 0, 0, 0).unwrap();
        let r = t.0[0].exterior();
        assert!(r
            .0
            .iter()
            .all(|c| [1024.0, 2048.0].contains(&c.x) && [1024.0, 2048.0].contains(&c.y)));
        assert!(t.0[0].exterior().0.len() == 5);
        assert!(geo::Polygon::new(r.clone(), vec![]).signed_area() > 0.0);
        // at zoom 1, tile 0/0 holds the square up to x = 4096 (+64 buffer): uncut
        let t1 = to_tile(&sq, 1, 0, 0).unwrap();
        assert_eq!(t1.bounding_rect().unwrap().max().x, 4096.0);
        // tile 1/1/0 (x 0.5–1): only the buffer strip -64..0 of it
        let t2 = to_tile(&sq, 1, 1, 0).unwrap();
        let b = t2.bounding_rect().unwrap();
        assert_eq!((b.min().x, b.max().x), (-64.0, 0.0));
        assert_eq!((b.min().y, b.max().y), (2048.0, 4096.0));
        // tile 1/1/1 starts at x = 0.5 and y = 0.5: it shares a corner, nothing inside
        assert!(to_tile(&sq, 2, 3, 3).is_none());
    }

    #[test]
    fn a_ring_that_collapses_is_dropped() {
        let thin = LineString::from(vec![(0.1, 0.1), (0.2, 0.1), (0.3, 0.2), (0.1, 0.1)]);
        assert!(snap(&thin).is_none());
    }
}
