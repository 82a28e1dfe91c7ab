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
