//! Fire endpoints: `GET /stats/fire-danger?date=` (the stored `fire_danger`
//! rows of one day, with the day's bulletin and forest ha per level) and
//! `GET /stats/burned-area?from=&to=` (the stored `burned_area` rows of one
//! epoch pair).

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

/// Burned forest ha of one unit by burn-severity class (Key & Benson 2006).
#[derive(Serialize, ToSchema)]
pub struct ClassHa {
    regrowth_high_ha: f64,
    regrowth_low_ha: f64,
    unburned_ha: f64,
    low_ha: f64,
    moderate_low_ha: f64,
    moderate_high_ha: f64,
    high_ha: f64,
}

/// One unit's (province, commune or zone piece) burned area of the pair.
#[derive(Serialize, ToSchema)]
pub struct BurnedUnit {
    code: String,
    burned_ha: f64,
    no_dnbr_ha: f64,
    classes: ClassHa,
}

/// An epoch pair with burned area.
#[derive(Serialize, ToSchema)]
pub struct EpochPair {
    from_epoch: String,
    to_epoch: String,
}

/// A burn-severity class: its key, its name and whether it counts as burned.
#[derive(Serialize, ToSchema)]
pub struct ClassInfo {
    key: &'static str,
    name: &'static str,
    burned: bool,
}

/// `GET /stats/burned-area`.
#[derive(Serialize, ToSchema)]
pub struct BurnedArea {
    from_epoch: String,
    to_epoch: String,
    pairs: Vec<EpochPair>,
    burned_min_dnbr: f64,
    classes: Vec<ClassInfo>,
    province: Option<BurnedUnit>,
    communes: Vec<BurnedUnit>,
    zone_pieces: Vec<BurnedUnit>,
    /// Forest plots with forest in the earlier epoch (`code`: the plot id; empty
    /// without `[parcels]`).
    parcels: Vec<BurnedUnit>,
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

/// `GET /stats/burned-area[?from=EPOCH&to=EPOCH]`: burned forest of one epoch pair
/// (default: the last pair stored) by burn-severity class (Key & Benson 2006), for
/// the province, every commune, every zone piece and every forest plot with forest,
/// with the pairs available.
pub async fn burned_area(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    use canopy_core::burn::BurnClass;
    use canopy_store::burned_area::{UNIT_COMMUNE, UNIT_PARCEL, UNIT_PROVINCE, UNIT_ZONE_PIECE};
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
    let unit = |x: &canopy_store::BurnedAreaRow| BurnedUnit {
        code: x.code.clone(),
        burned_ha: x.burned_ha(),
        no_dnbr_ha: x.no_dnbr_ha,
        classes: ClassHa {
            regrowth_high_ha: x.ha(BurnClass::RegrowthHigh),
            regrowth_low_ha: x.ha(BurnClass::RegrowthLow),
            unburned_ha: x.ha(BurnClass::Unburned),
            low_ha: x.ha(BurnClass::Low),
            moderate_low_ha: x.ha(BurnClass::ModerateLow),
            moderate_high_ha: x.ha(BurnClass::ModerateHigh),
            high_ha: x.ha(BurnClass::High),
        },
    };
    let of = |kind: &str| -> Vec<BurnedUnit> {
        rows.iter()
            .filter(|x| x.unit == kind && (x.from_epoch.as_str(), x.to_epoch.as_str()) == pair)
            .map(unit)
            .collect()
    };
    let doc = BurnedArea {
        from_epoch: pair.0.to_string(),
        to_epoch: pair.1.to_string(),
        pairs: pairs
            .iter()
            .map(|(a, b)| EpochPair {
                from_epoch: a.to_string(),
                to_epoch: b.to_string(),
            })
            .collect(),
        burned_min_dnbr: 0.1,
        classes: BurnClass::ALL
            .iter()
            .map(|c| ClassInfo {
                key: c.key(),
                name: c.as_str(),
                burned: c.is_burned(),
            })
            .collect(),
        province: of(UNIT_PROVINCE).into_iter().next(),
        communes: of(UNIT_COMMUNE),
        zone_pieces: of(UNIT_ZONE_PIECE),
        parcels: of(UNIT_PARCEL),
        links: r.self_links("/stats/burned-area", JSON),
    };
    Ok(r.respond("Burned area", &sorted(&doc)?, JSON))
}
