//! The report as CSV: one row per commune and one for the province, every
//! value at full precision so that it equals the store's to the bit.

use super::{Line, Report};

/// Quotes a CSV field when needed (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn row(r: &Report, l: &Line) -> String {
    let a = &l.alerts;
    let mut cells = vec![
        field(&r.epoch),
        field(r.previous.as_ref().map(|p| p.0.as_str()).unwrap_or("")),
        field(&l.code),
        field(&l.name),
        l.natural_ha.to_string(),
        l.forest_ha.to_string(),
        opt(l.cover_pct),
        l.observed_pct.to_string(),
        opt(l.loss_ha),
        opt(l.gain_ha),
        opt(l.net_ha),
    ];
    for s in &r.species {
        cells.push(l.zone_ha.get(s).copied().unwrap_or(0.0).to_string());
    }
    cells.extend(
        [a.high, a.medium, a.low, a.new, a.confirmed, a.dismissed]
            .iter()
            .map(|n| n.to_string()),
    );
    cells.push(a.area_ha.to_string());
    cells.join(",")
}

/// The report as CSV (header, communes, then the province under `PROVINCE`).
pub fn csv(r: &Report) -> String {
    let mut head: Vec<String> = [
        "epoch",
        "since_epoch",
        "code",
        "name",
        "natural_ha",
        "forest_ha",
        "cover_pct",
        "observed_pct",
        "loss_ha",
        "gain_ha",
        "net_ha",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    head.extend(r.species.iter().map(|s| field(&format!("zone_ha_{s}"))));
    head.extend(
        [
            "alerts_high",
            "alerts_medium",
            "alerts_low",
            "alerts_new",
            "alerts_confirmed",
            "alerts_dismissed",
            "alerts_ha",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    let mut out = head.join(",");
    out.push('\n');
    for l in r.communes.iter().chain(std::iter::once(&r.province)) {
        out.push_str(&row(r, l));
        out.push('\n');
    }
    out
}
