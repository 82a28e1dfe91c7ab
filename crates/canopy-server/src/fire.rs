//! Fire endpoints: `GET /stats/fire-danger?date=` (the stored `fire_danger`
//! rows of one day, with the day's bulletin and forest ha per level).

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use canopy_core::fire as danger;
use canopy_core::fire::{level_name, DangerRow};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::query::get;
use crate::respond::{Link, Query, ReadRequest, JSON};
use crate::state::AppState;
use crate::stats::sorted;

/// A commune's stored row of the day with its level's name.
#[derive(Serialize, ToSchema)]
pub struct DangerCommune {
    #[serde(flatten)]
    row: DangerRow,
    level_name: &'static str,
}

/// A commune of the day's bulletin (level IV or V).
#[derive(Serialize, ToSchema)]
pub struct BulletinEntry {
    commune_code: String,
    commune_name: String,
    level: u8,
    level_name: &'static str,
    forest_ha: f64,
    index: f64,
}

/// Forest hectares at one danger level.
#[derive(Serialize, ToSchema)]
pub struct LevelForest {
    level: u8,
    level_name: &'static str,
    forest_ha: f64,
}

/// `GET /stats/fire-danger`.
#[derive(Serialize, ToSchema)]
pub struct FireDanger {
    date: String,
    last_date: String,
    forest_ha_by_level: Vec<LevelForest>,
    bulletin: Vec<BulletinEntry>,
    communes: Vec<DangerCommune>,
    links: Vec<Link>,
}

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
    let communes: Vec<DangerCommune> = rows
        .iter()
        .filter(|x| x.date == date)
        .map(|x| DangerCommune {
            row: x.clone(),
            level_name: level_name(x.level),
        })
        .collect();
    let bulletin: Vec<BulletinEntry> = danger::bulletin(rows, &date)
        .into_iter()
        .map(|x| BulletinEntry {
            commune_code: x.commune_code.clone(),
            commune_name: x.commune_name.clone(),
            level: x.level,
            level_name: level_name(x.level),
            forest_ha: x.forest_ha,
            index: x.index,
        })
        .collect();
    let doc = FireDanger {
        last_date: last.to_string(),
        forest_ha_by_level: (1..=5u8)
            .map(|l| LevelForest {
                level: l,
                level_name: level_name(l),
                forest_ha: by_level[l as usize - 1],
            })
            .collect(),
        bulletin,
        communes,
        links: r.self_links("/stats/fire-danger", JSON),
        date,
    };
    Ok(r.respond("Fire danger", &sorted(&doc)?, JSON))
}
