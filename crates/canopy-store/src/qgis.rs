//! What QGIS users get on opening a store: the `communes_cover` view (every commune's
//! geometry with its latest epoch's cover figures, registered in `gpkg_contents`
//! and `gpkg_geometry_columns` so that QGIS and GDAL list it as a layer: a
//! choropleth without a join), a description of every layer
//! (`gpkg_contents.description`), and default styles in QGIS's own
//! `layer_styles` table (QML; QGIS applies the row with `useAsDefault` when the
//! layer is added): `communes_cover` graduated by `cover_pct` with the palette of
//! the report and the web map (`canopy_core::palette`), `communes` outlines,
//! `alerts` by severity, `zones` by species.
//!
//! On PostgreSQL ([`write_pg`]) the view and the descriptions are written too
//! (`COMMENT ON`, which GDAL reads as a layer's `DESCRIPTION` and QGIS shows);
//! the styles are not: QGIS keeps a database's styles in a `public.layer_styles`
//! table of its own, shared by every schema, which Canopy leaves to its users.

use std::fmt::Write as _;

use canopy_core::palette::{
    cover_label, COVER_BREAKS, COVER_COLORS, SEVERITY_COLORS, SPECIES_COLORS,
};
use gdal::vector::sql::Dialect;
use gdal::Dataset;

use crate::rows::GResult;

/// The view's name.
pub const VIEW: &str = "communes_cover";
/// The styles table of a GeoPackage store.
pub const STYLES: &str = "layer_styles";

/// The view's definition; `p` prefixes its tables (a PostgreSQL schema, `"s".`).
fn view_sql(p: &str) -> String {
    format!(
        "CREATE VIEW {p}communes_cover AS SELECT c.fid AS fid, c.geom AS geom, c.code AS code, \
         c.name AS name, v.epoch AS epoch, v.natural_ha AS natural_ha, v.forest_ha AS forest_ha, \
         v.observed_ha AS observed_ha, v.unobserved_ha AS unobserved_ha, v.cover_pct AS cover_pct, \
         v.observed_pct AS observed_pct FROM {p}communes c LEFT JOIN {p}cover v ON v.commune_code = c.code \
         AND v.epoch = (SELECT id FROM {p}epochs ORDER BY date DESC, fid DESC LIMIT 1)"
    )
}

/// Layer descriptions (tables a store lacks are skipped by the UPDATE).
const DESCRIPTIONS: [(&str, &str); 16] = [
    ("communes", "Communes: boundary (WGS 84), code, name, natural area (ha, in area_crs)"),
    (VIEW, "Communes with their latest epoch's forest cover (view of communes ⨝ cover): style by cover_pct"),
    ("cover", "Forest cover per commune and epoch: natural, forest, observed, unobserved ha; cover % of observed"),
    ("province_cover", "Forest cover of the province (union of the communes) per epoch"),
    ("epochs", "Epochs: id, date, tiles and pixels read"),
    ("observations", "Observation counts per commune and epoch (clear scenes, composites)"),
    ("change", "Forest change per commune and epoch pair: loss, gain, stable ha"),
    ("province_change", "Forest change of the province per epoch pair"),
    ("alerts", "Forest-loss and fire alerts: outline, area, communes, zone, severity, cause (triage in alert_triage)"),
    ("alert_triage", "Rangers' triage history of the alerts (append-only)"),
    ("zones", "Planting zones (species) as given, with their communes"),
    ("targets", "The plan's cover and zone targets that apply to the region"),
    ("fire_danger", "Daily fire danger index and level (I–V) per commune (Decision 127/2000)"),
    ("hotspots", "Satellite (FIRMS) hotspots in the region: footprint, commune, zone, forest fraction"),
    ("fire_events", "Fire events: hotspots grouped (24 h, 1 km), outline, forest ha, alert"),
    ("burned_area", "Burned forest per commune, province and zone piece, by dNBR class (Key & Benson 2006)"),
];

fn rgb(hex: &str) -> String {
    let h = hex.trim_start_matches('#');
    let c = |i: usize| u8::from_str_radix(h.get(i..i + 2).unwrap_or("80"), 16).unwrap_or(128);
    format!("{},{},{},255", c(0), c(2), c(4))
}

fn xml(s: &str) -> String {
    canopy_core::text::html_escape(s)
}

/// A QGIS symbol: a fill (polygons) in `color` with a grey outline.
fn fill_symbol(name: &str, color: &str, alpha: &str) -> String {
    format!(
        r#"<symbol type="fill" name="{name}" alpha="{alpha}" clip_to_extent="1" force_rhr="0"><layer class="SimpleFill" enabled="1" pass="0" locked="0"><prop k="color" v="{}"/><prop k="outline_color" v="85,85,85,255"/><prop k="outline_style" v="solid"/><prop k="outline_width" v="0.26"/><prop k="outline_width_unit" v="MM"/><prop k="style" v="solid"/></layer></symbol>"#,
        rgb(color)
    )
}

fn qml(renderer: &str) -> String {
    format!(
        r#"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'><qgis version="3.22.0" styleCategories="Symbology">{renderer}</qgis>"#
    )
}

/// `communes_cover`: graduated by `cover_pct`, the palette's classes.
pub fn cover_qml() -> String {
    let (mut ranges, mut symbols) = (String::new(), String::new());
    for (i, c) in COVER_COLORS.iter().enumerate() {
        let lo = if i == 0 { 0.0 } else { COVER_BREAKS[i - 1] };
        let hi = COVER_BREAKS.get(i).copied().unwrap_or(100.0);
        let _ = write!(
            ranges,
            r#"<range lower="{lo:.6}" upper="{hi:.6}" symbol="{i}" label="{}" render="true"/>"#,
            xml(&cover_label(i))
        );
        symbols.push_str(&fill_symbol(&i.to_string(), c, "1"));
    }
    qml(&format!(
        r#"<renderer-v2 type="graduatedSymbol" attr="cover_pct" graduatedMethod="GraduatedColor" symbollevels="0" enableorderby="0" forceraster="0"><ranges>{ranges}</ranges><symbols>{symbols}</symbols><mode name="fixed"/></renderer-v2>"#
    ))
}

/// A categorized renderer on `attr`.
fn categorized_qml(attr: &str, cats: &[(&str, &str)], alpha: &str) -> String {
    let (mut c, mut s) = (String::new(), String::new());
    for (i, (value, color)) in cats.iter().enumerate() {
        let _ = write!(
            c,
            r#"<category value="{}" symbol="{i}" label="{}" render="true"/>"#,
            xml(value),
            xml(value)
        );
        s.push_str(&fill_symbol(&i.to_string(), color, alpha));
    }
    qml(&format!(
        r#"<renderer-v2 type="categorizedSymbol" attr="{attr}" symbollevels="0" enableorderby="0" forceraster="0"><categories>{c}</categories><symbols>{s}</symbols></renderer-v2>"#
    ))
}

/// `communes`: outlines only.
fn outline_qml() -> String {
    qml(&format!(
        r#"<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0"><symbols>{}</symbols></renderer-v2>"#,
        r#"<symbol type="fill" name="0" alpha="1" clip_to_extent="1" force_rhr="0"><layer class="SimpleFill" enabled="1" pass="0" locked="0"><prop k="color" v="255,255,255,0"/><prop k="outline_color" v="51,51,51,255"/><prop k="outline_style" v="solid"/><prop k="outline_width" v="0.4"/><prop k="outline_width_unit" v="MM"/><prop k="style" v="no"/></layer></symbol>"#
    ))
}

/// The default styles: (layer, style name, QML).
pub fn styles() -> Vec<(&'static str, &'static str, String)> {
    vec![
        (VIEW, "Forest cover (Canopy)", cover_qml()),
        ("communes", "Commune outlines (Canopy)", outline_qml()),
        (
            "alerts",
            "Alerts by severity (Canopy)",
            categorized_qml("severity", &SEVERITY_COLORS, "0.8"),
        ),
        (
            "zones",
            "Zones by species (Canopy)",
            categorized_qml("species", &SPECIES_COLORS, "0.6"),
        ),
    ]
}

fn sql(ds: &Dataset, q: &str) -> GResult<()> {
    ds.execute_sql(q, None, Dialect::DEFAULT)?;
    Ok(())
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Writes the view, the descriptions and `layer_styles` into a GeoPackage being
/// written (inside the run's transaction, after every table).
pub(crate) fn write_gpkg(ds: &Dataset) -> GResult<()> {
    sql(ds, &view_sql(""))?;
    sql(
        ds,
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change, \
         min_x, min_y, max_x, max_y, srs_id) SELECT 'communes_cover', 'features', 'communes_cover', '', \
         last_change, min_x, min_y, max_x, max_y, srs_id FROM gpkg_contents WHERE table_name = 'communes'",
    )?;
    sql(
        ds,
        "INSERT INTO gpkg_geometry_columns (table_name, column_name, geometry_type_name, srs_id, z, m) \
         SELECT 'communes_cover', column_name, geometry_type_name, srs_id, z, m \
         FROM gpkg_geometry_columns WHERE table_name = 'communes'",
    )?;
    for (table, text) in DESCRIPTIONS {
        sql(
            ds,
            &format!(
                "UPDATE gpkg_contents SET description = {} WHERE table_name = {}",
                quote(text),
                quote(table)
            ),
        )?;
    }
    sql(
        ds,
        "CREATE TABLE layer_styles (id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), \
         f_table_schema TEXT(256), f_table_name TEXT(256), f_geometry_column TEXT(256), \
         styleName TEXT(30), styleQML TEXT, styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, \
         owner TEXT(30), ui TEXT(30), update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))",
    )?;
    sql(
        ds,
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change) \
         VALUES ('layer_styles', 'attributes', 'layer_styles', \
         'Default QGIS styles of the layers (QML; palette of the report and the web map)', \
         strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
    )?;
    for (table, name, qml) in styles() {
        sql(
            ds,
            &format!(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, \
                 f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, owner) \
                 SELECT '', '', {t}, 'geom', {n}, {q}, '', 1, {n}, 'canopy' \
                 WHERE EXISTS (SELECT 1 FROM gpkg_contents WHERE table_name = {t})",
                t = quote(table),
                n = quote(name),
                q = quote(&qml)
            ),
        )?;
    }
    Ok(())
}

/// Writes the view and the layer descriptions into schema `schema` of a
/// PostgreSQL store being written (before it is swapped in; see the module doc).
pub(crate) fn write_pg(
    c: &mut impl postgres::GenericClient,
    schema: &str,
) -> Result<(), postgres::Error> {
    let p = format!("\"{schema}\".");
    c.batch_execute(&view_sql(&p))?;
    for (table, text) in DESCRIPTIONS {
        let rel = format!("{p}{table}");
        let kind: Option<String> = c
            .query_opt(
                "SELECT CASE relkind WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END::text \
                 FROM pg_class WHERE oid = to_regclass($1)",
                &[&rel],
            )?
            .map(|r| r.get(0));
        if let Some(kind) = kind {
            c.batch_execute(&format!("COMMENT ON {kind} {rel} IS {}", quote(text)))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn cover_style_has_the_palette_classes() {
        let q = super::cover_qml();
        assert_eq!(q.matches("<range ").count(), 7);
        assert!(q.contains(r#"lower="30.000000" upper="40.000000""#));
        // #ffffcc → 255,255,204
        assert!(q.contains(r#"v="255,255,204,255""#));
        assert!(q.contains("&lt; 30 %"));
    }
}
