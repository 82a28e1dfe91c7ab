//! `canopy stats`: the scenes and clear observations of each commune (the store's
//! `observations` table), printed under the cover table.

use std::io::Write;

use canopy_store::{ObservationRow, StoredCover, PROVINCE_CODE};

/// The table of one epoch (the last unless one is given): per commune and for the
/// province, how many scenes reached it and its mean clear observations per pixel.
/// Nothing when the store has no row for the epoch (a store written before the
/// table existed).
pub fn observations_table(
    s: &StoredCover,
    obs: &[ObservationRow],
    epoch: Option<&str>,
    w: &mut impl Write,
) -> anyhow::Result<()> {
    let Some(e) = epoch.or(s.epochs.last().map(String::as_str)) else {
        return Ok(());
    };
    let rows: std::collections::HashMap<&str, &ObservationRow> = obs
        .iter()
        .filter(|r| r.epoch == e)
        .map(|r| (r.commune_code.as_str(), r))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let name_w = s
        .communes
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(8);
    writeln!(
        w,
        "\nScenes and clear observations, epoch {e} (clear obs: mean per pixel of the commune):"
    )?;
    writeln!(
        w,
        "{:<8} {:<name_w$} {:>7} {:>10}",
        "code", "name", "scenes", "clear obs"
    )?;
    let named = s
        .communes
        .iter()
        .map(|c| (c.code.as_str(), c.name.as_str()))
        .chain(std::iter::once((PROVINCE_CODE, "province")));
    for (code, name) in named {
        if let Some(r) = rows.get(code) {
            writeln!(
                w,
                "{:<8} {:<name_w$} {:>7} {:>10.2}",
                code, name, r.scenes, r.clear_obs
            )?;
        }
    }
    Ok(())
}
