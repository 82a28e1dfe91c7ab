//! Fire endpoints: `GET /stats/fire-danger?date=` (the stored `fire_danger`
//! rows of one day, with the day's bulletin and forest ha per level) and
//! `GET /stats/burned-area?from=&to=` (the stored `burned_area` rows of one
//! epoch pair).

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use canopy_core::fire as danger;
use canopy_core::fire::level_name;
use serde_json::json;

use crate::error::ApiError;
use crate::query::get;
use crate::respond::{Query, ReadRequest, JSON};
use crate::state::AppState;

/// `GET /stats/fire-danger[?date=YYYY-MM-DD]`: every commune's index and level on
/// `date` (default: the last day), the communes at IV and V (the bulletin, most
/// dangerous first) and the forest ha at each level.
pub async fn danger(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    let r = ReadRequest::new(&st, &headers, &p, &["f", "date"])?;
    let rows = &r.snap.data.fire_danger;
    let Some(last) = danger::last_date(rows) else {
        return Err(ApiError::NotFound(
            "this store has no fire danger (the region file has no [fire] section)".into(),
        ));
    };
    let date = match get(&p, "date") {
        None => last.to_string(),
        Some(d) if rows.iter().any(|x| x.date == d) => d.to_string(),
        Some(d) => {
            let first = rows.iter().map(|x| x.date.as_str()).min().unwrap_or(last);
            return Err(ApiError::BadRequest(format!(
                "no fire danger on date \"{d}\"; the stations cover {first} to {last} (YYYY-MM-DD)"
            )));
        }
    };
    let by_level = danger::forest_by_level(rows, &date);
    let communes: Vec<_> = rows
        .iter()
        .filter(|x| x.date == date)
        .map(|x| {
            let mut v = serde_json::to_value(x).unwrap_or_default();
            v["level_name"] = level_name(x.level).into();
            v
        })
        .collect();
    let bulletin: Vec<_> = danger::bulletin(rows, &date)
        .into_iter()
        .map(|x| {
            json!({
                "commune_code": x.commune_code,
                "commune_name": x.commune_name,
                "level": x.level,
                "level_name": level_name(x.level),
                "forest_ha": x.forest_ha,
                "index": x.index,
            })
        })
        .collect();
    let doc = json!({
        "date": date,
        "last_date": last,
        "forest_ha_by_level": (1..=5u8).map(|l| json!({"level": l, "level_name": level_name(l), "forest_ha": by_level[l as usize - 1]})).collect::<Vec<_>>(),
        "bulletin": bulletin,
        "communes": communes,
        "links": r.self_links("/stats/fire-danger", JSON),
    });
    Ok(r.respond("Fire danger", &doc, JSON))
}

/// `GET /stats/burned-area[?from=EPOCH&to=EPOCH]`: burned forest of one epoch pair
/// (default: the last pair stored) by burn-severity class (Key & Benson 2006), for
/// the province, every commune and every zone piece, with the pairs available.
pub async fn burned_area(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    use canopy_core::burn::BurnClass;
    use canopy_store::burned_area::{UNIT_COMMUNE, UNIT_PROVINCE, UNIT_ZONE_PIECE};
    let r = ReadRequest::new(&st, &headers, &p, &["f", "from", "to"])?;
    let rows = &r.snap.data.burned_area;
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for x in rows {
        let k = (x.from_epoch.as_str(), x.to_epoch.as_str());
        if !pairs.contains(&k) {
            pairs.push(k);
        }
    }
    let Some(&last) = pairs.last() else {
        return Err(ApiError::NotFound(
            "this store has no burned area (no epoch pair with a SWIR band)".into(),
        ));
    };
    let pair = match (get(&p, "from"), get(&p, "to")) {
        (None, None) => last,
        (f, t) => {
            let found = pairs
                .iter()
                .copied()
                .find(|(a, b)| f.is_none_or(|f| f == *a) && t.is_none_or(|t| t == *b));
            found.ok_or_else(|| {
                let list: Vec<String> = pairs.iter().map(|(a, b)| format!("{a}:{b}")).collect();
                ApiError::BadRequest(format!(
                    "no burned area for from={} to={}; pairs: {}",
                    f.unwrap_or("*"),
                    t.unwrap_or("*"),
                    list.join(", ")
                ))
            })?
        }
    };
    let row_json = |x: &canopy_store::BurnedAreaRow| {
        let mut classes = serde_json::Map::new();
        for c in BurnClass::ALL {
            classes.insert(format!("{}_ha", c.key()), x.ha(c).into());
        }
        json!({
            "code": x.code,
            "burned_ha": x.burned_ha(),
            "no_dnbr_ha": x.no_dnbr_ha,
            "classes": classes,
        })
    };
    let of = |unit: &str| -> Vec<serde_json::Value> {
        rows.iter()
            .filter(|x| x.unit == unit && (x.from_epoch.as_str(), x.to_epoch.as_str()) == pair)
            .map(row_json)
            .collect()
    };
    let province = of(UNIT_PROVINCE).into_iter().next();
    let doc = json!({
        "from_epoch": pair.0,
        "to_epoch": pair.1,
        "pairs": pairs.iter().map(|(a, b)| json!({"from_epoch": a, "to_epoch": b})).collect::<Vec<_>>(),
        "burned_min_dnbr": 0.1,
        "classes": BurnClass::ALL.iter().map(|c| json!({"key": c.key(), "name": c.as_str(), "burned": c.is_burned()})).collect::<Vec<_>>(),
        "province": province,
        "communes": of(UNIT_COMMUNE),
        "zone_pieces": of(UNIT_ZONE_PIECE),
        "links": r.self_links("/stats/burned-area", JSON),
    });
    Ok(r.respond("Burned area", &doc, JSON))
}
