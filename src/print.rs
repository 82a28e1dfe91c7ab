//! Printing stored figures as a table, CSV or JSON.

use std::io::Write;

use canopy_core::change::Severity;
use canopy_pipeline::change::ChangeResult;
use canopy_store::{CoverRow, StoredAlert, StoredCover};

use crate::AlertFormat;

fn pick_epoch<'a>(s: &'a StoredCover, epoch: Option<&'a str>) -> anyhow::Result<&'a str> {
    match epoch {
        Some(e) if s.epochs.iter().any(|x| x == e) => Ok(e),
        Some(e) => anyhow::bail!(
            "no epoch \"{e}\" in the store (epochs: {})",
            s.epochs.join(", ")
        ),
        None => s
            .epochs
            .last()
            .map(String::as_str)
            .ok_or_else(|| anyhow::anyhow!("the store has no epoch")),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "–".into())
}

/// The per-commune table of one epoch, then the province total of every epoch.
pub fn cover_table(s: &StoredCover, epoch: Option<&str>, w: &mut impl Write) -> anyhow::Result<()> {
    let e = pick_epoch(s, epoch)?;
    writeln!(
        w,
        "Forest cover, {}, epoch {e}",
        if s.region_name.is_empty() {
            "region"
        } else {
            &s.region_name
        }
    )?;
    let name_w = s
        .communes
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    writeln!(
        w,
        "{:<8} {:<name_w$} {:>12} {:>12} {:>8} {:>10}",
        "code", "name", "natural ha", "forest ha", "cover %", "observed %"
    )?;
    // One pass over the rows, not a search per commune (6,000 polygons × two
    // epochs would make that quadratic).
    let by_code: std::collections::HashMap<&str, &CoverRow> = s
        .rows
        .iter()
        .filter(|r| r.epoch == e)
        .map(|r| (r.commune_code.as_str(), r))
        .rev()
        .collect();
    for c in &s.communes {
        if let Some(r) = by_code.get(c.code.as_str()) {
            let f = &r.figures;
            writeln!(
                w,
                "{:<8} {:<name_w$} {:>12.2} {:>12.2} {:>8} {:>10.2}",
                c.code,
                c.name,
                f.natural_ha,
                f.forest_ha,
                pct(f.cover_pct),
                f.observed_pct
            )?;
        }
    }
    writeln!(
        w,
        "\nProvince (union of the communes, overlaps counted once):"
    )?;
    writeln!(
        w,
        "{:<8} {:>12} {:>12} {:>12} {:>8} {:>10}",
        "epoch", "natural ha", "forest ha", "observed ha", "cover %", "observed %"
    )?;
    for r in &s.province {
        let f = &r.figures;
        writeln!(
            w,
            "{:<8} {:>12.2} {:>12.2} {:>12.2} {:>8} {:>10.2}",
            r.epoch,
            f.natural_ha,
            f.forest_ha,
            f.observed_ha,
            pct(f.cover_pct),
            f.observed_pct
        )?;
    }
    Ok(())
}

fn rows_of<'a>(s: &'a StoredCover, epoch: Option<&str>) -> anyhow::Result<Vec<&'a CoverRow>> {
    Ok(match epoch {
        Some(_) => {
            let e = pick_epoch(s, epoch)?;
            s.rows.iter().filter(|r| r.epoch == e).collect()
        }
        None => s.rows.iter().collect(),
    })
}

/// Commune names by code (first of a duplicated code), for lookups per row.
fn names(s: &StoredCover) -> std::collections::HashMap<&str, &str> {
    s.communes
        .iter()
        .rev()
        .map(|c| (c.code.as_str(), c.name.as_str()))
        .collect()
}

/// CSV of the cover rows (all epochs unless one is given). Numbers as Rust prints
/// them (full precision), fields quoted only where CSV needs it (the `csv` crate).
pub fn cover_csv(s: &StoredCover, epoch: Option<&str>, w: &mut impl Write) -> anyhow::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    out.write_record([
        "commune_code",
        "name",
        "epoch",
        "natural_ha",
        "forest_ha",
        "observed_ha",
        "unobserved_ha",
        "cover_pct",
        "observed_pct",
    ])?;
    let names = names(s);
    for r in rows_of(s, epoch)? {
        let name = names.get(r.commune_code.as_str()).copied().unwrap_or("");
        let f = &r.figures;
        out.write_record([
            r.commune_code.clone(),
            name.to_string(),
            r.epoch.clone(),
            f.natural_ha.to_string(),
            f.forest_ha.to_string(),
            f.observed_ha.to_string(),
            f.unobserved_ha.to_string(),
            f.cover_pct.map(|v| v.to_string()).unwrap_or_default(),
            f.observed_pct.to_string(),
        ])?;
    }
    out.flush()?;
    Ok(())
}

/// JSON of the cover rows and province totals.
pub fn cover_json(s: &StoredCover, epoch: Option<&str>, w: &mut impl Write) -> anyhow::Result<()> {
    let names = names(s);
    let rows: Vec<serde_json::Value> = rows_of(s, epoch)?
        .into_iter()
        .map(|r| {
            let name = names.get(r.commune_code.as_str()).map(|n| n.to_string());
            serde_json::json!({"commune_code": r.commune_code, "name": name, "epoch": r.epoch, "figures": r.figures})
        })
        .collect();
    let province: Vec<serde_json::Value> = s
        .province
        .iter()
        .map(|r| serde_json::json!({"epoch": r.epoch, "figures": r.figures}))
        .collect();
    serde_json::to_writer_pretty(
        &mut *w,
        &serde_json::json!({"region": s.region_name, "cover": rows, "province": province}),
    )?;
    writeln!(w)?;
    Ok(())
}

const SEVERITIES: [Severity; 3] = [Severity::High, Severity::Medium, Severity::Low];

/// The change of each pair (province totals and the communes that lost most)
/// and the number of alerts by severity.
pub fn change_summary(
    s: &StoredCover,
    change: &ChangeResult,
    w: &mut impl Write,
) -> anyhow::Result<()> {
    if change.province.is_empty() {
        writeln!(w, "\nNo change computed: the region has a single epoch.")?;
        return Ok(());
    }
    let name = |code: &str| {
        s.communes
            .iter()
            .find(|c| c.code == code)
            .map(|c| c.name.clone())
            .unwrap_or_default()
    };
    for p in &change.province {
        writeln!(
            w,
            "\nChange {} → {} (province): loss {:.2} ha, gain {:.2} ha, net {:+.2} ha; unobserved in either epoch {:.2} ha",
            p.from_epoch, p.to_epoch, p.loss_ha, p.gain_ha, p.net_ha, p.unobserved_ha
        )?;
        let mut rows: Vec<_> = change
            .rows
            .iter()
            .filter(|r| r.from_epoch == p.from_epoch && r.to_epoch == p.to_epoch && r.loss_ha > 0.0)
            .collect();
        rows.sort_by(|a, b| b.loss_ha.total_cmp(&a.loss_ha));
        for r in rows.iter().take(5) {
            writeln!(
                w,
                "  {:<8} {:<18} loss {:>9.2} ha  gain {:>9.2} ha",
                r.commune_code,
                name(&r.commune_code),
                r.loss_ha,
                r.gain_ha
            )?;
        }
        let alerts: Vec<_> = change
            .alerts
            .iter()
            .filter(|a| a.from_epoch == p.from_epoch && a.to_epoch == p.to_epoch)
            .collect();
        let count = |sev: &str| alerts.iter().filter(|a| a.severity.as_str() == sev).count();
        writeln!(
            w,
            "  alerts: {} ({} high, {} medium, {} low)",
            alerts.len(),
            count("high"),
            count("medium"),
            count("low")
        )?;
    }
    Ok(())
}

/// Which alerts `canopy alerts` lists.
pub struct AlertFilter {
    pub since: Option<String>,
    pub commune: Option<String>,
    pub min_severity: Option<Severity>,
}

/// The commune `--commune` names, as the API's `/stats/communes/{key}` does: a
/// code, else a name compared without case and diacritics (`core::text::fold`:
/// "khanh khe" finds "Khánh Khê") that matches exactly one commune.
fn commune_code(
    communes: &[canopy_store::StoredCommune],
    key: &str,
    store: &std::path::Path,
) -> anyhow::Result<String> {
    use canopy_core::text::fold;
    let key = key.trim();
    if let Some(c) = communes.iter().find(|c| c.code == key) {
        return Ok(c.code.clone());
    }
    let k = fold(key);
    let named: Vec<_> = communes.iter().filter(|c| fold(&c.name) == k).collect();
    match named[..] {
        [c] => Ok(c.code.clone()),
        [] => anyhow::bail!(
            "--commune {key}: no commune with that code or name in {}",
            store.display()
        ),
        _ => anyhow::bail!(
            "--commune {key}: names several communes ({}); give the code",
            named
                .iter()
                .map(|c| format!("{} {}", c.code, c.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Lists the alerts of a store as a table, GeoJSON or CSV.
pub fn alerts(
    store: &std::path::Path,
    f: &AlertFilter,
    format: AlertFormat,
    w: &mut impl Write,
) -> anyhow::Result<()> {
    let cover = canopy_store::read_cover(store)?;
    if cover.epochs.len() < 2 {
        anyhow::bail!(
            "{}: alerts need two epochs, and this store has {}",
            store.display(),
            cover.epochs.len()
        );
    }
    let mut list = canopy_store::read_alerts(store)?;
    if let Some(since) = &f.since {
        let pos = cover
            .epochs
            .iter()
            .position(|e| e == since)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--since {since}: no such epoch (epochs: {})",
                    cover.epochs.join(", ")
                )
            })?;
        list.retain(|a| {
            cover
                .epochs
                .iter()
                .position(|e| e == &a.from_epoch)
                .is_some_and(|i| i >= pos)
        });
    }
    if let Some(c) = &f.commune {
        let code = commune_code(&cover.communes, c, store)?;
        let touching = |a: &StoredAlert| a.communes.iter().any(|x| x == &code);
        list.retain(touching);
    }
    if let Some(min) = f.min_severity {
        list.retain(|a| a.severity >= min);
    }
    list.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.area_ha.total_cmp(&a.area_ha))
    });
    let name = |code: &str| {
        cover
            .communes
            .iter()
            .find(|c| c.code == code)
            .map(|c| c.name.clone())
            .unwrap_or_default()
    };
    match format {
        AlertFormat::Table => {
            writeln!(
                w,
                "{:<26} {:<5} {:<8} {:<8} {:>9} {:<7} {:<18} {:<9} {:<10} {:>10} {:>9}",
                "alert",
                "kind",
                "cause",
                "severity",
                "ha",
                "commune",
                "name",
                "zone",
                "status",
                "lon",
                "lat"
            )?;
            let plots = crate::parcel_print::by_alert(store)?;
            for a in &list {
                writeln!(
                    w,
                    "{:<26} {:<5} {:<8} {:<8} {:>9.2} {:<7} {:<18} {:<9} {:<10} {:>10.5} {:>9.5}",
                    a.id,
                    a.kind.as_str(),
                    a.cause.as_str(),
                    a.severity,
                    a.area_ha,
                    a.commune_code,
                    name(&a.commune_code),
                    a.zone_species.as_deref().unwrap_or("–"),
                    a.status,
                    a.centroid.0,
                    a.centroid.1
                )?;
                // Forest plots (issue 14): the main plot and its owner, on a line
                // of their own so the table's columns stay as they were.
                if !plots.is_empty() {
                    let (plot, owner) = crate::parcel_print::main_plot(plots.get(&a.id));
                    writeln!(w, "{:<26}   plot {plot}  owner {owner}", "")?;
                }
            }
            let n = |s: Severity| list.iter().filter(|a| a.severity == s).count();
            writeln!(
                w,
                "{} alerts: {} high, {} medium, {} low",
                list.len(),
                n(SEVERITIES[0]),
                n(SEVERITIES[1]),
                n(SEVERITIES[2])
            )?;
        }
        AlertFormat::Csv => {
            let mut out = csv::Writer::from_writer(&mut *w);
            out.write_record([
                "alert_id",
                "severity",
                "area_ha",
                "commune_code",
                "commune_name",
                "from_epoch",
                "to_epoch",
                "zone_species",
                "zone_code",
                "natural_lost",
                "status",
                "lon",
                "lat",
                "kind",
                "cause",
            ])?;
            for a in &list {
                out.write_record([
                    a.id.clone(),
                    a.severity.to_string(),
                    a.area_ha.to_string(),
                    a.commune_code.clone(),
                    name(&a.commune_code).to_string(),
                    a.from_epoch.clone(),
                    a.to_epoch.clone(),
                    a.zone_species.clone().unwrap_or_default(),
                    a.zone_code.clone().unwrap_or_default(),
                    a.natural_lost.map(|b| b.to_string()).unwrap_or_default(),
                    a.status.to_string(),
                    a.centroid.0.to_string(),
                    a.centroid.1.to_string(),
                    a.kind.as_str().to_string(),
                    a.cause.as_str().to_string(),
                ])?;
            }
            out.flush()?;
        }
        AlertFormat::Geojson => {
            let features: Vec<serde_json::Value> = list
                .iter()
                .map(|a| {
                    let geometry: serde_json::Value =
                        serde_json::from_str(&a.geometry).unwrap_or(serde_json::Value::Null);
                    serde_json::json!({
                        "type": "Feature",
                        "id": a.id,
                        "geometry": geometry,
                        "properties": {
                            "alert_id": a.id, "severity": a.severity, "area_ha": a.area_ha,
                            "commune_code": a.commune_code, "commune_name": name(&a.commune_code),
                            "from_epoch": a.from_epoch, "to_epoch": a.to_epoch,
                            "from_date": a.from_date, "to_date": a.to_date,
                            "zone_species": a.zone_species, "zone_code": a.zone_code,
                            "natural_lost": a.natural_lost, "status": a.status,
                            "kind": a.kind.as_str(), "cause": a.cause.as_str(),
                        }
                    })
                })
                .collect();
            serde_json::to_writer(
                &mut *w,
                &serde_json::json!({"type": "FeatureCollection", "features": features}),
            )?;
            writeln!(w)?;
        }
    }
    Ok(())
}

/// The planting zones per species (province: zoned ha, forest inside, loss) and
/// the overlaps between species, read back from the store.
pub fn zone_summary(store: &std::path::Path, w: &mut impl Write) -> anyhow::Result<()> {
    let z = canopy_store::read_zones(store)?;
    let province: Vec<_> = z
        .species
        .iter()
        .filter(|r| r.commune_code == canopy_store::PROVINCE_CODE)
        .collect();
    if province.is_empty() {
        return Ok(());
    }
    let communes = |s: &str| {
        z.species
            .iter()
            .filter(|r| r.species == s && r.commune_code != canopy_store::PROVINCE_CODE)
            .map(|r| &r.commune_code)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    };
    // Rows are stored species by species, epochs in order: the last is the latest.
    let latest = province.last().map(|r| r.epoch.as_str());
    writeln!(
        w,
        "\nPlanting zones (province, epoch {}; overlapping zones of one species counted once)",
        latest.unwrap_or("")
    )?;
    writeln!(
        w,
        "{:<12} {:>8} {:>12} {:>12} {:>8} {:>10}",
        "species", "communes", "zone ha", "forest ha", "cover %", "loss ha"
    )?;
    for r in province.iter().filter(|r| Some(r.epoch.as_str()) == latest) {
        writeln!(
            w,
            "{:<12} {:>8} {:>12.2} {:>12.2} {:>8} {:>10}",
            r.species,
            communes(&r.species),
            r.zone_ha,
            r.forest_ha,
            pct(r.cover_pct),
            r.loss_ha
                .map(|v| format!("{v:.2}"))
                .unwrap_or_else(|| "–".into())
        )?;
    }
    for o in z
        .overlaps
        .iter()
        .filter(|o| o.commune_code == canopy_store::PROVINCE_CODE)
    {
        writeln!(
            w,
            "  overlap: {:.2} ha zoned for both {} and {}",
            o.overlap_ha, o.species_a, o.species_b
        )?;
    }
    Ok(())
}

/// Progress against the region's targets, and every warning of the run.
pub fn progress(store: &std::path::Path, w: &mut impl Write) -> anyhow::Result<()> {
    let Some(p) = canopy_store::read_progress(store)? else {
        for (_, m) in canopy_store::Store::open(store)?.read()?.warnings()? {
            writeln!(w, "warning: {m}")?;
        }
        return Ok(());
    };
    writeln!(w, "\nTarget progress")?;
    for c in &p.cover {
        writeln!(
            w,
            "  cover {:.2} % by {}: latest {:.2} % ({}), gap {:+.2} pp = {:+.0} ha; trend {}; projected {} by the end of {} → {}",
            c.target.pct,
            c.target.year,
            c.latest_pct,
            c.latest_epoch,
            c.gap_pp,
            c.gap_ha,
            c.trend_pp_per_year
                .map(|t| format!("{t:+.2} pp/yr"))
                .unwrap_or_else(|| "–".into()),
            c.projected_pct
                .map(|v| format!("{v:.2} %"))
                .unwrap_or_else(|| "–".into()),
            c.target.year,
            c.status.as_str()
        )?;
    }
    if !p.cover.is_empty() {
        writeln!(w, "  ({})", p.method)?;
    }
    for z in &p.zones {
        writeln!(
            w,
            "  {} zones ({}): {:.2} ha against {:.0}–{:.0} ha by {} → {}{}",
            z.target.species,
            z.target.name_vi,
            z.zone_ha,
            z.target.min_ha,
            z.target.max_ha,
            z.target.year,
            z.status.as_str(),
            if z.communes_without_zone.is_empty() {
                String::new()
            } else {
                format!("; no zone yet in {}", z.communes_without_zone.join(", "))
            }
        )?;
    }
    for m in &p.warnings {
        writeln!(w, "warning: {m}")?;
    }
    Ok(())
}
