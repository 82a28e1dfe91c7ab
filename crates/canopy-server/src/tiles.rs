//! OGC API - Tiles (Part 1, vector tiles as MVT) for the polygon collections the map
//! draws: `communes`, `zones` and the forest plots `parcels` (issue 19, issue 14).
//!
//! - `GET /tileMatrixSets`, `GET /tileMatrixSets/WebMercatorQuad`: the one tile matrix
//!   set (OGC 2D Tile Matrix Set 2.0, EPSG:3857, 256 px tiles, matrices 0–22);
//! - `GET /collections/{id}/tiles`: the collection's tilesets; `…/tiles/WebMercatorQuad`:
//!   the tileset (limits per tile matrix, the layer, the tile URL template);
//! - `GET /collections/{id}/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}`:
//!   one tile, `application/vnd.mapbox-vector-tile` (`f=mvt`, the only format), 204
//!   when no feature shows in it (as the standard allows), 404 outside the matrix or the
//!   tileset's limits, 400 for a tile matrix that is not 0–22 or a malformed number.
//!
//! The layers are built once per snapshot ([`TileSets`], in `snapshot`); a tile is cut
//! from them on request (`mvt`). ETag and `Cache-Control` come from `cache` as for
//! every `/collections` document.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use canopy_store::parcels::ParcelRow;
use geo::MultiPolygon;
use geozero::mvt::TileValue;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::mvt::{self, TileLayer, MAX_ZOOM};
use crate::query::get;
use crate::respond::{link, Query, ReadRequest, JSON};
use crate::snapshot::ItemSet;
use crate::state::AppState;

/// The one tile matrix set served.
pub const TMS: &str = "WebMercatorQuad";
const TMS_URI: &str = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad";
const CRS_3857: &str = "http://www.opengis.net/def/crs/EPSG/0/3857";
/// The media type of a tile.
pub const MVT: &str = "application/vnd.mapbox-vector-tile";
/// Half the side of the Web Mercator square, metres.
const HALF_WORLD: f64 = 20_037_508.342_789_244;
/// The collections served as tiles, with their first tile matrix: communes and zones
/// from the whole province; plots from zoom 12 (a z12 tile of the 300,000-plot
/// province holds a few thousand).
pub const TILED: [(&str, u8); 3] = [("communes", 0), ("zones", 0), ("parcels", 12)];

/// The tile layers of a snapshot.
#[derive(Debug, Default)]
pub struct TileSets {
    pub communes: TileLayer,
    pub zones: TileLayer,
    pub parcels: TileLayer,
}

/// A served property as an MVT value (null: left out).
fn value(v: &Value) -> Option<TileValue> {
    match v {
        Value::String(s) => Some(TileValue::Str(s.clone())),
        Value::Bool(b) => Some(TileValue::Bool(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(TileValue::Sint)
            .or_else(|| n.as_f64().map(TileValue::Double)),
        _ => None,
    }
}

/// An item set's features with every scalar property.
fn from_items(name: &'static str, min_zoom: u8, set: &ItemSet) -> TileLayer {
    TileLayer::new(
        name,
        min_zoom,
        set.items.iter().filter_map(|it| {
            let g = mvt::polygons(it.geometry.as_ref()?)?;
            let mut props: Vec<(&'static str, TileValue)> =
                vec![("id", TileValue::Str(it.id.clone()))];
            for (k, v) in &it.props {
                if let (Some(key), Some(val)) = (static_key(k), value(v)) {
                    props.push((key, val));
                }
            }
            Some((it.id.clone(), g, props))
        }),
    )
}

/// Property names as `'static` (the MVT key table borrows them): the fields of the
/// communes and zones collections.
fn static_key(k: &str) -> Option<&'static str> {
    const KEYS: &[&str] = &[
        "code",
        "name",
        "natural_ha",
        "epoch",
        "epoch_date",
        "forest_ha",
        "observed_ha",
        "unobserved_ha",
        "cover_pct",
        "observed_pct",
        "change_from",
        "change_to",
        "loss_ha",
        "gain_ha",
        "net_ha",
        "piece_id",
        "zone_code",
        "species",
        "commune_code",
        "commune_name",
        "area_ha",
        "zone_area_ha",
    ];
    KEYS.iter().find(|s| **s == k).copied()
}

/// A plot's attributes: codes (the map labels them in its language) and figures.
fn parcel_props(p: &ParcelRow) -> Vec<(&'static str, TileValue)> {
    let s = |x: &str| TileValue::Str(x.to_string());
    let mut v = vec![
        ("id", s(&p.parcel_id)),
        ("commune_code", s(&p.commune_code)),
        ("function", s(p.function.code())),
        ("owner", s(&p.owner)),
        ("owner_category", s(p.owner_category.code())),
        ("area_ha", TileValue::Double(p.area_ha)),
    ];
    for (k, x) in [
        ("compartment", &p.compartment),
        ("sub_compartment", &p.sub_compartment),
        ("plot", &p.plot),
        ("forest_type", &p.forest_type),
    ] {
        if !x.is_empty() {
            v.push((k, s(x)));
        }
    }
    if let Some(o) = p.origin {
        v.push(("origin", s(o.code())));
    }
    for (k, x) in [("epoch", &p.epoch), ("change_from", &p.change_from)] {
        if let Some(x) = x {
            v.push((k, s(x)));
        }
    }
    for (k, x) in [
        ("forest_ha", p.forest_ha),
        ("observed_ha", p.observed_ha),
        ("cover_pct", p.cover_pct),
        ("loss_ha", p.loss_ha),
        ("gain_ha", p.gain_ha),
    ] {
        if let Some(x) = x.filter(|x| x.is_finite()) {
            v.push((k, TileValue::Double(x)));
        }
    }
    v
}

impl TileSets {
    /// The communes' and zones' layers (plots come with [`TileSets::with_parcels`]).
    pub fn new(communes: &ItemSet, zones: &ItemSet) -> Self {
        TileSets {
            communes: from_items("communes", TILED[0].1, communes),
            zones: from_items("zones", TILED[1].1, zones),
            parcels: TileLayer::default(),
        }
    }

    /// The plots' layer from the store's `parcels` rows.
    pub fn with_parcels(mut self, rows: &[ParcelRow]) -> Self {
        self.parcels = TileLayer::new(
            "parcels",
            TILED[2].1,
            rows.iter().map(|p| {
                let g: MultiPolygon<f64> = p.geom_wgs84.clone();
                (p.parcel_id.clone(), g, parcel_props(p))
            }),
        );
        self
    }

    fn layer(&self, id: &str) -> Result<&TileLayer, ApiError> {
        match id {
            "communes" => Ok(&self.communes),
            "zones" => Ok(&self.zones),
            "parcels" => Ok(&self.parcels),
            _ => Err(ApiError::NotFound(format!(
                "no tiles for collection {id}: tiled collections are {}",
                TILED.map(|t| t.0).join(", ")
            ))),
        }
    }
}

fn check_tms(tms: &str) -> Result<(), ApiError> {
    if tms == TMS {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!(
            "no tile matrix set {tms}: the one served is {TMS}"
        )))
    }
}

/// Cell size (metres per pixel at the equator) of tile matrix `z`.
fn cell_size(z: u8) -> f64 {
    2.0 * HALF_WORLD / 256.0 / (1u64 << z) as f64
}

fn tile_matrix(z: u8) -> Value {
    let n = 1u64 << z;
    json!({
        "id": z.to_string(),
        "scaleDenominator": cell_size(z) / 0.000_28,
        "cellSize": cell_size(z),
        "cornerOfOrigin": "topLeft",
        "pointOfOrigin": [-HALF_WORLD, HALF_WORLD],
        "tileWidth": 256,
        "tileHeight": 256,
        "matrixWidth": n,
        "matrixHeight": n,
    })
}

/// The WebMercatorQuad definition (OGC 2D TMS 2.0).
fn tms_doc() -> Value {
    json!({
        "id": TMS,
        "title": "Google Maps Compatible for the World",
        "uri": TMS_URI,
        "crs": CRS_3857,
        "orderedAxes": ["X", "Y"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": (0..=MAX_ZOOM).map(tile_matrix).collect::<Vec<_>>(),
    })
}

/// `GET /tileMatrixSets`.
pub async fn matrix_sets(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    let r = ReadRequest::new(&st, &headers, &p, &["f"])?;
    let doc = json!({
        "tileMatrixSets": [{
            "id": TMS, "title": "Google Maps Compatible for the World", "uri": TMS_URI,
            "links": [link(format!("{}/tileMatrixSets/{TMS}", r.base), "self", JSON, TMS)],
        }],
        "links": r.self_links("/tileMatrixSets", JSON),
    });
    Ok(r.respond("Tile matrix sets", &doc, JSON))
}

/// `GET /tileMatrixSets/{tileMatrixSetId}`.
pub async fn matrix_set(
    State(st): State<Arc<AppState>>,
    Path(tms): Path<String>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    let r = ReadRequest::new(&st, &headers, &p, &["f"])?;
    check_tms(&tms)?;
    let mut doc = tms_doc();
    doc["links"] = json!(r.self_links(&format!("/tileMatrixSets/{TMS}"), JSON));
    Ok(r.respond(TMS, &doc, JSON))
}

/// The tileset of `id` as described in `/collections/{id}/tiles[/WebMercatorQuad]`.
fn tileset(base: &str, id: &str, layer: &TileLayer) -> Value {
    let limits: Vec<Value> = layer
        .extent
        .map(|e| {
            (layer.min_zoom..=MAX_ZOOM)
                .map(|z| {
                    let (c0, r0) = mvt::tile_of(z, e[0], e[1]);
                    let (c1, r1) = mvt::tile_of(z, e[2], e[3]);
                    json!({"tileMatrix": z.to_string(), "minTileRow": r0, "maxTileRow": r1, "minTileCol": c0, "maxTileCol": c1})
                })
                .collect()
        })
        .unwrap_or_default();
    let url = format!("{base}/collections/{id}/tiles/{TMS}");
    let mut item = link(
        format!("{url}/{{tileMatrix}}/{{tileRow}}/{{tileCol}}?f=mvt"),
        "item",
        MVT,
        "Vector tiles (MVT)",
    );
    item.title = Some(format!("The {id} as Mapbox vector tiles"));
    let mut item = serde_json::to_value(item).unwrap_or_default();
    item["templated"] = json!(true);
    json!({
        "title": format!("{id} (vector tiles)"),
        "dataType": "vector",
        "crs": CRS_3857,
        "tileMatrixSetURI": TMS_URI,
        "tileMatrixSetLimits": limits,
        "layers": [{
            "id": id, "dataType": "vector", "geometryType": "polygons",
            "minTileMatrix": layer.min_zoom.to_string(), "maxTileMatrix": MAX_ZOOM.to_string(),
            "featureCount": layer.features.len(),
        }],
        "links": [
            link(url.clone(), "self", JSON, "This tileset"),
            link(format!("{base}/tileMatrixSets/{TMS}"), "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme", JSON, TMS),
            item,
        ],
    })
}

/// `GET /collections/{collection_id}/tiles`.
pub async fn tilesets(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    let r = ReadRequest::new(&st, &headers, &p, &["f"])?;
    let layer = r.snap.data.tiles.layer(&id)?;
    let doc = json!({
        "tilesets": [tileset(&r.base, &id, layer)],
        "links": r.self_links(&format!("/collections/{id}/tiles"), JSON),
    });
    Ok(r.respond(&format!("{id}: tilesets"), &doc, JSON))
}

/// `GET /collections/{collection_id}/tiles/{tileMatrixSetId}`.
pub async fn tileset_doc(
    State(st): State<Arc<AppState>>,
    Path((id, tms)): Path<(String, String)>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    let r = ReadRequest::new(&st, &headers, &p, &["f"])?;
    let layer = r.snap.data.tiles.layer(&id)?;
    check_tms(&tms)?;
    let doc = tileset(&r.base, &id, layer);
    Ok(r.respond(&format!("{id}: {TMS} tileset"), &doc, JSON))
}

/// A tile index from the path: a non-negative integer (400 otherwise).
fn index(name: &str, s: &str) -> Result<u64, ApiError> {
    s.parse::<u64>()
        .map_err(|_| ApiError::BadRequest(format!("{name}={s}: expected a non-negative integer")))
}

/// `GET /collections/{collection_id}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}`.
pub async fn tile(
    State(st): State<Arc<AppState>>,
    Path((id, tms, z, row, col)): Path<(String, String, String, String, String)>,
    Query(p): Query,
) -> Result<Response, ApiError> {
    crate::query::only(&p, &["f"])?;
    if let Some(f) = get(&p, "f").filter(|f| *f != "mvt") {
        return Err(ApiError::BadRequest(format!(
            "f={f}: tiles are served as mvt only"
        )));
    }
    let snap = st.snapshot();
    snap.data.tiles.layer(&id)?;
    check_tms(&tms)?;
    let z = index("tileMatrix", &z)?;
    if z > MAX_ZOOM as u64 {
        return Err(ApiError::BadRequest(format!(
            "tileMatrix={z}: {TMS} has tile matrices 0 to {MAX_ZOOM}"
        )));
    }
    let z = z as u8;
    let (y, x) = (index("tileRow", &row)?, index("tileCol", &col)?);
    let n = 1u64 << z;
    if x >= n || y >= n {
        return Err(ApiError::NotFound(format!(
            "tile {z}/{y}/{x} is outside tile matrix {z} (rows and columns 0 to {})",
            n - 1
        )));
    }
    let min = snap.data.tiles.layer(&id)?.min_zoom;
    if z < min {
        return Err(ApiError::NotFound(format!(
            "{id} tiles start at tile matrix {min} (a tile above it would hold too many features)"
        )));
    }
    let (x, y) = (x as u32, y as u32);
    let id2 = id.clone();
    let bytes =
        tokio::task::spawn_blocking(move || snap.data.tiles.layer(&id2).map(|l| l.encode(z, x, y)))
            .await
            .map_err(|e| ApiError::Store(format!("tile task: {e}")))??;
    match bytes {
        Ok(Some(b)) => {
            Ok(([(header::CONTENT_TYPE, HeaderValue::from_static(MVT))], b).into_response())
        }
        Ok(None) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(e @ mvt::MvtError::TooMany { .. }) => Err(ApiError::BadRequest(e.to_string())),
        Err(e) => {
            tracing::error!(collection = %id, error = ?e, "encoding a tile");
            Err(ApiError::Store(e.to_string()))
        }
    }
}
