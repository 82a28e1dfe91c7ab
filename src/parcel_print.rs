//! What `canopy run` and `canopy alerts` print about forest plots (issue 14):
//! the change-tracking summary per function and per owner category, and the
//! plot and owner of each alert. Nothing is printed for a store without plots.

use std::collections::BTreeMap;
use std::io::Write;

use canopy_store::parcels::{AlertParcel, ParcelSummaryRow};

/// The plots each alert touches (largest part first), by alert id.
pub fn by_alert(store: &std::path::Path) -> anyhow::Result<BTreeMap<String, Vec<AlertParcel>>> {
    let rows = canopy_store::Store::open(store)?.read()?.alert_parcels()?;
    let mut out: BTreeMap<String, Vec<AlertParcel>> = BTreeMap::new();
    for r in rows {
        out.entry(r.alert_id.clone()).or_default().push(r);
    }
    Ok(out)
}

/// "plot (share %)" of an alert's main plot, and its owner, for the alerts table.
pub fn main_plot(plots: Option<&Vec<AlertParcel>>) -> (String, String) {
    match plots.and_then(|p| p.first()) {
        Some(p) => (
            format!("{} ({:.0} %, {})", p.parcel_id, 100.0 * p.share, p.function),
            if p.owner.is_empty() {
                p.owner_category.label_en().to_string()
            } else {
                format!("{} [{}]", p.owner, p.owner_category)
            },
        ),
        None => ("–".into(), "–".into()),
    }
}

/// The change-tracking summary of the store's plots: per function and per owner
/// category, for the pair from the first to the last epoch when computed (else
/// the last pair).
pub fn summary(store: &std::path::Path, w: &mut impl Write) -> anyhow::Result<()> {
    let rows = canopy_store::Store::open(store)?.read()?.parcel_summary()?;
    let Some(last) = rows.last() else {
        return Ok(());
    };
    let pair = (last.from_epoch.clone(), last.to_epoch.clone());
    let of = |g: &str| -> Vec<&ParcelSummaryRow> {
        rows.iter()
            .filter(|r| r.grouping == g && (r.from_epoch.clone(), r.to_epoch.clone()) == pair)
            .collect()
    };
    let head = |w: &mut dyn Write, title: &str| -> std::io::Result<()> {
        writeln!(
            w,
            "{:<34} {:>8} {:>12} {:>12} {:>10} {:>10} {:>12}",
            title, "plots", "area ha", "forest start", "loss ha", "gain ha", "forest end"
        )
    };
    let line = |w: &mut dyn Write, label: String, r: &ParcelSummaryRow| -> std::io::Result<()> {
        writeln!(
            w,
            "{:<34} {:>8} {:>12.2} {:>12.2} {:>10.2} {:>10.2} {:>12.2}",
            label, r.plots, r.area_ha, r.start_forest_ha, r.loss_ha, r.gain_ha, r.end_forest_ha
        )
    };
    writeln!(
        w,
        "\nForest plots (lô rừng): change {} → {} per function",
        pair.0, pair.1
    )?;
    head(w, "function")?;
    for r in of("function") {
        let f = r.function.expect("function rows have a function");
        line(w, format!("{} ({})", f.label_vi(), f.label_en()), r)?;
    }
    writeln!(w, "per owner category")?;
    head(w, "owner category")?;
    for r in of("owner_category") {
        let c = r.owner_category.expect("owner rows have a category");
        line(w, c.label_vi().to_string(), r)?;
    }
    Ok(())
}
