//! Printing the fire danger bulletin of a store (read back, like every other
//! figure the CLI prints).

use std::io::Write;

use canopy_core::fire as danger;
use canopy_core::fire::level_name;

/// The last day's bulletin: forest ha per level and the communes at IV and V.
/// Prints nothing when the run had no `[fire]`.
pub fn bulletin(store: &std::path::Path, w: &mut impl Write) -> anyhow::Result<()> {
    let rows = canopy_store::read_danger(store, None)?;
    let Some(day) = danger::last_date(&rows) else {
        return Ok(());
    };
    let by_level = danger::forest_by_level(&rows, day);
    writeln!(
        w,
        "\nFire danger bulletin, {day} (Decision 127/2000 index, nearest station):"
    )?;
    writeln!(
        w,
        "  forest ha by level: {}",
        by_level
            .iter()
            .enumerate()
            .map(|(i, ha)| format!("{} {ha:.1}", level_name(i as u8 + 1)))
            .collect::<Vec<_>>()
            .join(" · ")
    )?;
    let b = danger::bulletin(&rows, day);
    if b.is_empty() {
        writeln!(w, "  no commune at level IV or V")?;
    }
    for r in b {
        writeln!(
            w,
            "  level {:<3} {:<24} {:>9.1} ha forest  P = {:>8.0}  (station {}, {:.1} km)",
            level_name(r.level),
            format!("{} {}", r.commune_code, r.commune_name),
            r.forest_ha,
            r.index,
            r.station,
            r.distance_km
        )?;
    }
    Ok(())
}

/// The fire events of a store (read back) and the hotspots outside the region
/// (from the run). Prints nothing when the run had no hotspots.
pub fn events(
    store: &std::path::Path,
    fire: Option<&canopy_pipeline::fire::FireOutputs>,
    w: &mut impl Write,
) -> anyhow::Result<()> {
    let Some(plan) = fire.and_then(|f| f.hotspots.as_ref()) else {
        return Ok(());
    };
    let reader = canopy_store::Store::open(store)?.read()?;
    let events = reader.fire_events()?;
    let hotspots = reader.hotspots()?;
    let read: usize = plan.files.iter().map(|f| f.read).sum();
    writeln!(
        w,
        "\nFire events (satellite hotspots): {} detections read, {} in the region, {} outside; \
         {} events, {} alerts",
        read,
        hotspots.len(),
        plan.outside(),
        events.len(),
        events.iter().filter(|e| e.alert).count()
    )?;
    let mut shown: Vec<_> = events.iter().collect();
    shown.sort_by(|a, b| {
        b.alert
            .cmp(&a.alert)
            .then(b.forest_ha.total_cmp(&a.forest_ha))
    });
    for e in shown.iter().take(10) {
        writeln!(
            w,
            "  {} {:<6} {} … {}  {:>3} hotspots  max FRP {:>6.1} MW  forest {:>7.1} ha  commune {}{}",
            e.event_id,
            e.severity.as_str(),
            e.first_detection,
            e.last_detection,
            e.hotspots,
            e.max_frp_mw,
            e.forest_ha,
            e.commune_code,
            if e.alert { "  → alert" } else { "" }
        )?;
    }
    if shown.len() > 10 {
        writeln!(w, "  … {} more (table fire_events)", shown.len() - 10)?;
    }
    Ok(())
}

/// Burned forest per epoch pair (province, by severity class; the communes that
/// burned most) and the loss alerts caused by fire, read back from the store.
/// Prints nothing when no pair had SWIR bands.
pub fn burned(store: &std::path::Path, w: &mut impl Write) -> anyhow::Result<()> {
    use canopy_core::burn::BurnClass;
    use canopy_store::burned_area::{UNIT_COMMUNE, UNIT_PROVINCE};
    let r = canopy_store::Store::open(store)?.read()?;
    let rows = r.burned_area_of(&[UNIT_PROVINCE, UNIT_COMMUNE])?;
    if rows.is_empty() {
        return Ok(());
    }
    let alerts = r.alerts()?;
    for p in rows.iter().filter(|x| x.unit == UNIT_PROVINCE) {
        let fire = alerts
            .iter()
            .filter(|a| {
                a.kind == canopy_store::AlertKind::Loss
                    && a.cause == canopy_store::AlertCause::Fire
                    && a.from_epoch == p.from_epoch
                    && a.to_epoch == p.to_epoch
            })
            .count();
        writeln!(
            w,
            "\nBurned forest {} → {} (province, dNBR ≥ 0.100, Key & Benson 2006): {:.2} ha; \
             loss alerts caused by fire: {fire}",
            p.from_epoch,
            p.to_epoch,
            p.burned_ha()
        )?;
        writeln!(
            w,
            "  {}; forest without dNBR {:.2} ha",
            BurnClass::ALL
                .iter()
                .filter(|c| c.is_burned())
                .map(|c| format!("{} {:.2}", c.as_str(), p.ha(*c)))
                .collect::<Vec<_>>()
                .join(" · "),
            p.no_dnbr_ha
        )?;
        let mut communes: Vec<_> = rows
            .iter()
            .filter(|x| {
                x.unit == UNIT_COMMUNE
                    && x.from_epoch == p.from_epoch
                    && x.to_epoch == p.to_epoch
                    && x.burned_ha() > 0.0
            })
            .collect();
        communes.sort_by(|a, b| b.burned_ha().total_cmp(&a.burned_ha()));
        for c in communes.iter().take(5) {
            writeln!(w, "  {:<8} burned {:>9.2} ha", c.code, c.burned_ha())?;
        }
    }
    Ok(())
}
