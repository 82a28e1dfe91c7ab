//! `GET /stats/parcels`: the forest-plot change-tracking summaries (issue 14) as
//! the run stored them (`parcel_summary`): per owner category, per function, per
//! commune × function, and per commune with the commune's own figures beside the
//! plots' sums. Nothing is computed here.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use canopy_core::parcel::{ForestFunction, OwnerCategory};
use canopy_store::parcels::{ParcelSummaryRow, GROUPINGS};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::query::get;
use crate::respond::{Link, Query, ReadRequest, JSON};
use crate::state::AppState;

/// `GET /stats/parcels`.
#[derive(Serialize, ToSchema)]
pub struct ParcelsReport {
    /// `owner_category`, `function`, `commune_function`, `commune`.
    groupings: Vec<String>,
    summary: Vec<ParcelSummaryRow>,
    links: Vec<Link>,
}

fn bad(param: &str, value: &str, accepted: &[&str]) -> ApiError {
    ApiError::BadRequest(format!(
        "{param}={value}: expected one of {}",
        accepted.join(", ")
    ))
}

/// `GET /stats/parcels[?grouping=&commune=&function=&owner_category=&from=&to=]`.
pub async fn summary(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(p): Query,
) -> Result<Response, ApiError> {
    let r = ReadRequest::new(
        &st,
        &headers,
        &p,
        &[
            "f",
            "grouping",
            "commune",
            "function",
            "owner_category",
            "from",
            "to",
        ],
    )?;
    let grouping = match get(&p, "grouping") {
        Some(g) if GROUPINGS.contains(&g) => Some(g),
        Some(g) => return Err(bad("grouping", g, &GROUPINGS)),
        None => None,
    };
    let codes = |all: &[&'static str]| all.to_vec();
    let function = match get(&p, "function") {
        Some(f) => Some(ForestFunction::parse(f).ok_or_else(|| {
            bad(
                "function",
                f,
                &codes(
                    &ForestFunction::ALL
                        .iter()
                        .map(|f| f.code())
                        .collect::<Vec<_>>(),
                ),
            )
        })?),
        None => None,
    };
    let category = match get(&p, "owner_category") {
        Some(c) => Some(OwnerCategory::parse(c).ok_or_else(|| {
            bad(
                "owner_category",
                c,
                &codes(
                    &OwnerCategory::ALL
                        .iter()
                        .map(|c| c.code())
                        .collect::<Vec<_>>(),
                ),
            )
        })?),
        None => None,
    };
    let (commune, from, to) = (get(&p, "commune"), get(&p, "from"), get(&p, "to"));
    let rows: Vec<ParcelSummaryRow> = r
        .snap
        .data
        .parcel_summary
        .iter()
        .filter(|s| grouping.is_none_or(|g| s.grouping == g))
        .filter(|s| commune.is_none_or(|c| s.commune_code.as_deref() == Some(c)))
        .filter(|s| function.is_none_or(|f| s.function == Some(f)))
        .filter(|s| category.is_none_or(|c| s.owner_category == Some(c)))
        .filter(|s| from.is_none_or(|e| s.from_epoch == e))
        .filter(|s| to.is_none_or(|e| s.to_epoch == e))
        .cloned()
        .collect();
    let doc = ParcelsReport {
        groupings: GROUPINGS.iter().map(|g| g.to_string()).collect(),
        summary: rows,
        links: r.self_links("/stats/parcels", JSON),
    };
    Ok(r.respond(
        "Forest plots: change tracking",
        &crate::stats::sorted(&doc)?,
        JSON,
    ))
}
