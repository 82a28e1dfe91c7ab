//! Query parameters: parsing, checking and the selection they make.
//!
//! Every endpoint declares the parameters it accepts; anything else is a 400 naming
//! the parameter (OGC API - Features /req/core/query-param-unknown), so a typo in a
//! filter never silently returns everything. Items requests take `bbox`, `limit`,
//! `offset`, `datetime`, `f` and the collection's property filters (from the table in
//! `collections`); filter values are comma-separated (`style: form, explode: false`)
//! and a feature matches when it has any of them.

use axum::http::{header, HeaderMap};
use chrono::DateTime;

use std::borrow::Cow;

use serde_json::Value;

use crate::collections::{
    CollectionDef, CollectionId, FilterDef, Match, PropDef, COMMON_ITEM_PARAMS, DEFAULT_LIMIT,
    MAX_LIMIT,
};
use crate::cql2;
use crate::crs::{self, Crs};
use crate::error::ApiError;
use crate::snapshot::Item;
use crate::snapshot::Snapshot;
pub use crate::time::{day_interval, rfc3339};
use canopy_core::text::fold;

/// Raw query pairs, in request order.
pub type Params = Vec<(String, String)>;

/// Response format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Html,
}

/// Rejects any parameter not in `allowed`, and repeated parameters. `lang` (the
/// language of HTML pages, checked by `i18n::layer`) is accepted everywhere.
pub fn only(params: &Params, allowed: &[&str]) -> Result<(), ApiError> {
    for (i, (k, _)) in params.iter().enumerate() {
        if !allowed.contains(&k.as_str()) && k != "lang" {
            return Err(ApiError::BadRequest(format!(
                "unknown query parameter \"{k}\"; this endpoint accepts: {}",
                allowed.join(", ")
            )));
        }
        if params[..i].iter().any(|(p, _)| p == k) {
            return Err(ApiError::BadRequest(format!(
                "query parameter \"{k}\" is given more than once"
            )));
        }
    }
    Ok(())
}

/// The value of a parameter.
pub fn get<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `f=json|html` first, then the `Accept` header (HTML only when asked for and
/// preferred to JSON, as browsers do), else JSON.
pub fn format(params: &Params, headers: &HeaderMap) -> Result<Format, ApiError> {
    match get(params, "f") {
        Some("json") => return Ok(Format::Json),
        Some("html") => return Ok(Format::Html),
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "f={other}: expected json or html"
            )))
        }
        None => {}
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let html = accept.find("text/html");
    let json = accept.find("json");
    Ok(match (html, json) {
        (Some(h), Some(j)) if h < j => Format::Html,
        (Some(_), None) => Format::Html,
        _ => Format::Json,
    })
}

fn instant(s: &str) -> Result<(i64, i64), String> {
    if s.len() == 10 {
        return day_interval(s).ok_or_else(|| format!("\"{s}\" is not a date (YYYY-MM-DD)"));
    }
    DateTime::parse_from_rfc3339(s)
        .map(|d| (d.timestamp(), d.timestamp()))
        .map_err(|e| format!("\"{s}\" is not an RFC 3339 date-time ({e})"))
}

/// `datetime`: an instant (date or date-time) or an interval `a/b` with `..` or
/// nothing for an open end. Returns inclusive Unix seconds.
pub fn datetime(s: &str) -> Result<(i64, i64), ApiError> {
    let bad = |m: String| {
        ApiError::BadRequest(format!(
            "datetime={s}: {m}; expected e.g. 2025-12-31, 2025-01-01T00:00:00Z or 2024-01-01/2025-12-31 (.. for an open end)"
        ))
    };
    let r = match s.split('/').collect::<Vec<_>>()[..] {
        [one] => instant(one).map_err(bad)?,
        [a, b] => {
            let open = |x: &str| x.is_empty() || x == "..";
            if open(a) && open(b) {
                return Err(bad("both ends are open".into()));
            }
            let start = if open(a) {
                i64::MIN
            } else {
                instant(a).map_err(bad)?.0
            };
            let end = if open(b) {
                i64::MAX
            } else {
                instant(b).map_err(bad)?.1
            };
            (start, end)
        }
        _ => return Err(bad("more than one '/'".into())),
    };
    if r.0 > r.1 {
        return Err(bad("the start is after the end".into()));
    }
    Ok(r)
}

/// A `bbox` value's four finite numbers (of 6, the heights are dropped); `bad`
/// makes the error naming the parameter and what was expected.
fn four_numbers(s: &str, bad: impl Fn(&str) -> ApiError) -> Result<[f64; 4], ApiError> {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad("not a list of numbers"))?;
    let b = match v[..] {
        [a, b, c, d] => [a, b, c, d],
        [a, b, _, c, d, _] => [a, b, c, d],
        _ => return Err(bad(&format!("{} numbers", v.len()))),
    };
    if b.iter().any(|x| !x.is_finite()) {
        return Err(bad("not finite"));
    }
    Ok(b)
}

/// `bbox`: min lon, min lat, max lon, max lat in CRS84 (6 numbers: with heights,
/// which are ignored). min lon > max lon crosses the antimeridian.
pub fn bbox(s: &str) -> Result<[f64; 4], ApiError> {
    let bad = |m: &str| {
        ApiError::BadRequest(format!(
            "bbox={s}: {m}; expected min lon,min lat,max lon,max lat in WGS84 degrees"
        ))
    };
    let b = four_numbers(s, bad)?;
    if b[1] > b[3] {
        return Err(bad("min lat is above max lat"));
    }
    if b[0] < -180.0 || b[2] > 180.0 || b[0] > 180.0 || b[2] < -180.0 {
        return Err(bad("longitude outside -180..180"));
    }
    if b[1] < -90.0 || b[3] > 90.0 {
        return Err(bad("latitude outside -90..90"));
    }
    Ok(b)
}

fn count(name: &str, s: &str, min: usize) -> Result<usize, ApiError> {
    let n: i128 = s
        .trim()
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("{name}={s}: expected a whole number")))?;
    if n < min as i128 {
        return Err(ApiError::BadRequest(format!(
            "{name}={s}: must be at least {min}"
        )));
    }
    Ok(n.min(usize::MAX as i128 / 2) as usize)
}

/// A checked items request.
#[derive(Debug)]
pub struct ItemsQuery {
    /// In CRS84 (a `bbox-crs` box transformed).
    pub bbox: Option<[f64; 4]>,
    pub limit: usize,
    pub offset: usize,
    pub datetime: Option<(i64, i64)>,
    pub filters: Vec<(&'static FilterDef, Vec<String>)>,
    /// `filter` (CQL2 text).
    pub cql: Option<cql2::Expr>,
    /// `sortby`: properties, descending or not, in order.
    pub sortby: Vec<(&'static PropDef, bool)>,
    /// `crs`: the CRS of the served coordinates.
    pub crs: &'static Crs,
}

/// `crs=` of a request (CRS84 when absent); 400 naming an unsupported one.
pub fn crs_param(params: &Params, name: &str) -> Result<&'static Crs, ApiError> {
    match get(params, name) {
        None => Ok(crs::crs84()),
        Some(v) => crs::parse(name, v).map_err(|e| ApiError::BadRequest(e.to_string())),
    }
}

/// `bbox` in the CRS `bbox-crs` names, as CRS84.
fn bbox_in(s: &str, c: &'static Crs) -> Result<[f64; 4], ApiError> {
    if c.epsg.is_none() {
        return bbox(s);
    }
    let bad = |m: &str| {
        ApiError::BadRequest(format!(
            "bbox={s}: {m}; expected 4 numbers in the axis order of bbox-crs={}",
            c.uri
        ))
    };
    let b = four_numbers(s, bad)?;
    if b[0] > b[2] || b[1] > b[3] {
        return Err(bad("a minimum is above its maximum"));
    }
    let t = crs::bbox_to_crs84(b, c).map_err(|e| bad(&e.to_string()))?;
    if t.iter().any(|x| !x.is_finite()) {
        return Err(bad("outside the CRS's area"));
    }
    Ok(t)
}

/// `sortby=+a,-b,c`: properties of the collection (or `id`), `-` for descending.
pub fn sortby(def: &CollectionDef, s: &str) -> Result<Vec<(&'static PropDef, bool)>, ApiError> {
    let mut out: Vec<(&'static PropDef, bool)> = Vec::new();
    for key in s.split(',').map(str::trim) {
        let (desc, name) = match key.as_bytes().first() {
            Some(b'-') => (true, &key[1..]),
            Some(b'+') => (false, &key[1..]),
            _ => (false, key),
        };
        let name = name.trim();
        let Some(p) = cql2::property(def, name) else {
            return Err(ApiError::BadRequest(format!(
                "sortby={s}: \"{name}\" is not a property of {}; sortable: id, {}",
                def.id,
                def.props
                    .iter()
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        if out.iter().any(|(q, _)| q.name == p.name) {
            return Err(ApiError::BadRequest(format!(
                "sortby={s}: \"{name}\" is given twice"
            )));
        }
        out.push((p, desc));
    }
    if out.len() > 8 {
        return Err(ApiError::BadRequest(format!(
            "sortby={s}: at most 8 properties"
        )));
    }
    Ok(out)
}

/// Parses and checks the parameters of `/collections/{id}/items`.
pub fn items(def: &'static CollectionDef, params: &Params) -> Result<ItemsQuery, ApiError> {
    let mut allowed: Vec<&str> = COMMON_ITEM_PARAMS.to_vec();
    allowed.extend(def.filters.iter().map(|f| f.param));
    only(params, &allowed)?;
    let bbox_crs = crs_param(params, "bbox-crs")?;
    if get(params, "bbox-crs").is_some() && get(params, "bbox").is_none() {
        return Err(ApiError::BadRequest(
            "bbox-crs is given without bbox".into(),
        ));
    }
    let cql = match (get(params, "filter"), get(params, "filter-lang")) {
        (_, Some(l)) if l != "cql2-text" => {
            return Err(ApiError::BadRequest(format!(
                "filter-lang={l}: only cql2-text is supported"
            )))
        }
        (Some(f), _) => Some(cql2::parse(def, f).map_err(|e| ApiError::BadRequest(e.to_string()))?),
        (None, Some(_)) => {
            return Err(ApiError::BadRequest(
                "filter-lang is given without filter".into(),
            ))
        }
        (None, None) => None,
    };
    let mut q = ItemsQuery {
        bbox: get(params, "bbox")
            .map(|b| bbox_in(b, bbox_crs))
            .transpose()?,
        cql,
        sortby: get(params, "sortby")
            .map(|s| sortby(def, s))
            .transpose()?
            .unwrap_or_default(),
        crs: crs_param(params, "crs")?,
        limit: get(params, "limit")
            .map(|s| count("limit", s, 1))
            .transpose()?
            .unwrap_or(DEFAULT_LIMIT)
            .min(MAX_LIMIT),
        offset: get(params, "offset")
            .map(|s| count("offset", s, 0))
            .transpose()?
            .unwrap_or(0),
        datetime: get(params, "datetime").map(datetime).transpose()?,
        filters: Vec::new(),
    };
    for fd in def.filters {
        let Some(raw) = get(params, fd.param) else {
            continue;
        };
        let values: Vec<String> = raw
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            return Err(ApiError::BadRequest(format!(
                "{}: give at least one value",
                fd.param
            )));
        }
        if let Some(v) = values
            .iter()
            .find(|v| !fd.values.is_empty() && !fd.values.contains(&v.as_str()))
        {
            return Err(ApiError::BadRequest(format!(
                "{}={v}: expected one of {}",
                fd.param,
                fd.values.join(", ")
            )));
        }
        let values = if fd.matches == Match::Name {
            values.iter().map(|v| fold(v)).collect()
        } else {
            values
        };
        q.filters.push((fd, values));
    }
    Ok(q)
}

/// Indices of the features of `def` that match `q`, in collection order.
pub fn select(snap: &Snapshot, def: &CollectionDef, q: &ItemsQuery) -> Vec<usize> {
    let set = snap.items(def.key);
    let candidates: Vec<usize> = match &q.bbox {
        Some(b) => set.in_bbox(b),
        None => (0..set.items.len()).collect(),
    };
    let mut matched: Vec<usize> = candidates
        .into_iter()
        .filter(|&i| {
            let it = &set.items[i];
            if let Some((a, b)) = q.datetime {
                match it.time {
                    Some((s, e)) if s <= b && e >= a => {}
                    _ => return false,
                }
            }
            q.filters.iter().all(|(fd, values)| {
                let any = |v: &str| values.iter().any(|x| x == v);
                match fd.matches {
                    Match::Property(k) => match it.props.get(k) {
                        Some(serde_json::Value::String(s)) => any(s),
                        Some(serde_json::Value::Null) | None => false,
                        Some(v) => any(&v.to_string()),
                    },
                    Match::Status => any(snap.status(&it.id).map_or("new", |e| e.status.as_str())),
                    Match::Commune => it.communes.iter().any(|c| any(c)),
                    Match::Name => any(&it.name_key),
                }
            }) && q
                .cql
                .as_ref()
                .is_none_or(|e| e.eval(&|k: &str| value(snap, def, it, k)) == Some(true))
        })
        .collect();
    if !q.sortby.is_empty() {
        // Stable: ties keep the collection order.
        matched.sort_by(|&a, &b| {
            let (ia, ib) = (&set.items[a], &set.items[b]);
            for (p, desc) in &q.sortby {
                let o = order(
                    value(snap, def, ia, p.name).as_deref(),
                    value(snap, def, ib, p.name).as_deref(),
                );
                let o = if *desc { o.reverse() } else { o };
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            std::cmp::Ordering::Equal
        });
    }
    matched
}

/// Sort order of two property values: numbers, then strings, booleans; nulls last
/// (in ascending order).
fn order(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    let a = a.filter(|v| !v.is_null());
    let b = b.filter(|v| !v.is_null());
    match (a, b) {
        (None, None) => Equal,
        (None, Some(_)) => Greater,
        (Some(_), None) => Less,
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(Equal)
        }
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
    }
}

/// The value of property `name` of a served feature: `id`, an alert's triage
/// fields (from its latest event), else the stored property.
pub fn value<'a>(
    snap: &'a Snapshot,
    def: &CollectionDef,
    it: &'a Item,
    name: &str,
) -> Option<Cow<'a, Value>> {
    if name == "id" {
        return Some(Cow::Owned(Value::String(it.id.clone())));
    }
    if def.key == CollectionId::Alerts {
        let e = snap.status(&it.id);
        let s = |x: Option<&String>| {
            Some(Cow::Owned(
                x.map_or(Value::Null, |v| Value::String(v.clone())),
            ))
        };
        match name {
            "status" => {
                return Some(Cow::Owned(Value::String(
                    e.map_or("new".into(), |e| e.status.clone()),
                )))
            }
            "status_by" => return s(e.map(|e| &e.by)),
            "status_at" => return s(e.map(|e| &e.at)),
            "note" => return s(e.map(|e| &e.note).filter(|n| !n.is_empty())),
            _ => {}
        }
    }
    it.props.get(name).map(Cow::Borrowed)
}

/// The absolute URL of `path` with `params`, `offset` replaced by `offset`.
pub fn page_url(base: &str, path: &str, params: &Params, offset: Option<usize>) -> String {
    let mut p: Params = params
        .iter()
        .filter(|(k, _)| k != "offset")
        .cloned()
        .collect();
    if let Some(o) = offset {
        p.push(("offset".into(), o.to_string()));
    }
    let qs = serde_urlencoded::to_string(&p).unwrap_or_default();
    if qs.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{qs}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_forms() {
        let d = day_interval("2025-12-31").unwrap();
        assert_eq!(datetime("2025-12-31").unwrap(), d);
        assert_eq!(datetime("2025-12-31/..").unwrap(), (d.0, i64::MAX));
        assert_eq!(datetime("../2025-12-31").unwrap(), (i64::MIN, d.1));
        assert_eq!(datetime("/2025-12-31").unwrap(), (i64::MIN, d.1));
        assert_eq!(datetime("2025-12-31T10:00:00Z").unwrap().0, d.0 + 36_000);
        for bad in [
            "2025-13-01",
            "yesterday",
            "../..",
            "2025-01-02/2025-01-01",
            "a/b/c",
            "",
        ] {
            assert!(datetime(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bbox_forms() {
        assert_eq!(bbox("106,21,107,22").unwrap(), [106.0, 21.0, 107.0, 22.0]);
        assert_eq!(
            bbox("106,21,0,107,22,100").unwrap(),
            [106.0, 21.0, 107.0, 22.0]
        );
        assert!(bbox("179,0,-179,1").is_ok());
        for bad in [
            "1,2,3",
            "a,b,c,d",
            "106,22,107,21",
            "0,0,200,1",
            "0,-91,1,1",
            "NaN,0,1,1",
        ] {
            assert!(bbox(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn format_negotiation() {
        let mut h = HeaderMap::new();
        assert_eq!(format(&vec![], &h).unwrap(), Format::Json);
        h.insert(
            header::ACCEPT,
            "text/html,application/xhtml+xml,*/*;q=0.8".parse().unwrap(),
        );
        assert_eq!(format(&vec![], &h).unwrap(), Format::Html);
        let f = vec![("f".to_string(), "json".to_string())];
        assert_eq!(format(&f, &h).unwrap(), Format::Json);
        h.insert(
            header::ACCEPT,
            "application/geo+json, application/json".parse().unwrap(),
        );
        assert_eq!(format(&vec![], &h).unwrap(), Format::Json);
        assert!(format(&vec![("f".into(), "xml".into())], &h).is_err());
    }

    #[test]
    fn page_links_keep_every_parameter() {
        let p: Params = vec![
            ("bbox".into(), "1,2,3,4".into()),
            ("offset".into(), "10".into()),
            ("severity".into(), "high,low".into()),
        ];
        assert_eq!(
            page_url("http://h", "/collections/alerts/items", &p, Some(20)),
            "http://h/collections/alerts/items?bbox=1%2C2%2C3%2C4&severity=high%2Clow&offset=20"
        );
    }
}
