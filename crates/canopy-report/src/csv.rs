//! The report as CSV: one row per commune and one for the province, every
//! value at full precision so that it equals the store's to the bit.

use super::{Line, Report};

fn opt(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn row(r: &Report, l: &Line) -> Vec<String> {
    let a = &l.alerts;
    let mut cells = vec![
        r.epoch.clone(),
        r.previous.as_ref().map(|p| p.0.clone()).unwrap_or_default(),
        l.code.clone(),
        l.name.clone(),
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
    cells
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
    head.extend(r.species.iter().map(|s| format!("zone_ha_{s}")));
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
    // RFC 4180 quoting where needed (`,`, `"`, line breaks), `\n` line ends.
    let mut w = csv::Writer::from_writer(Vec::new());
    let rows = std::iter::once(head).chain(
        r.communes
            .iter()
            .chain(std::iter::once(&r.province))
            .map(|l| row(r, l)),
    );
    for cells in rows {
        // Writing to a Vec cannot fail; a failure would only drop the row.
        let _ = w.write_record(&cells);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// The forest-plot change-tracking table as CSV (one row per group, full
/// precision): grouping, commune, function, owner category, pair, plots, area,
/// forest at the start, loss, gain, forest at the end. Header only without plots.
pub fn change_tracking_csv(r: &Report) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "grouping",
        "commune_code",
        "function",
        "owner_category",
        "from_epoch",
        "to_epoch",
        "plots",
        "area_ha",
        "start_forest_ha",
        "loss_ha",
        "gain_ha",
        "end_forest_ha",
    ]);
    for s in &r.plots {
        let _ = w.write_record([
            s.grouping.clone(),
            s.commune_code.clone().unwrap_or_default(),
            s.function.map(|f| f.code().to_string()).unwrap_or_default(),
            s.owner_category
                .map(|c| c.code().to_string())
                .unwrap_or_default(),
            s.from_epoch.clone(),
            s.to_epoch.clone(),
            s.plots.to_string(),
            s.area_ha.to_string(),
            s.start_forest_ha.to_string(),
            s.loss_ha.to_string(),
            s.gain_ha.to_string(),
            s.end_forest_ha.to_string(),
        ]);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}
