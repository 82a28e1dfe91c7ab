//! Printing stored figures as a table, CSV or JSON.

use std::io::Write;

use canopy_pipeline::cover::CoverRow;
use canopy_pipeline::store::StoredCover;

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
    for c in &s.communes {
        if let Some(r) = s
            .rows
            .iter()
            .find(|r| r.commune_code == c.code && r.epoch == e)
        {
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

/// CSV of the cover rows (all epochs unless one is given).
pub fn cover_csv(s: &StoredCover, epoch: Option<&str>, w: &mut impl Write) -> anyhow::Result<()> {
    writeln!(w, "commune_code,name,epoch,natural_ha,forest_ha,observed_ha,unobserved_ha,cover_pct,observed_pct")?;
    for r in rows_of(s, epoch)? {
        let name = s
            .communes
            .iter()
            .find(|c| c.code == r.commune_code)
            .map(|c| c.name.as_str())
            .unwrap_or("");
        let f = &r.figures;
        writeln!(
            w,
            "{},\"{}\",{},{},{},{},{},{},{}",
            r.commune_code,
            name.replace('"', "\"\""),
            r.epoch,
            f.natural_ha,
            f.forest_ha,
            f.observed_ha,
            f.unobserved_ha,
            f.cover_pct.map(|v| v.to_string()).unwrap_or_default(),
            f.observed_pct
        )?;
    }
    Ok(())
}

/// JSON of the cover rows and province totals.
pub fn cover_json(s: &StoredCover, epoch: Option<&str>, w: &mut impl Write) -> anyhow::Result<()> {
    let rows: Vec<serde_json::Value> = rows_of(s, epoch)?
        .into_iter()
        .map(|r| {
            let name = s.communes.iter().find(|c| c.code == r.commune_code).map(|c| c.name.clone());
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
