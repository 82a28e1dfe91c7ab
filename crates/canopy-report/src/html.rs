//! The report as one self-contained HTML file: inline CSS and SVG, no script,
//! no external resource, so it opens offline, mails as one attachment and
//! prints on A4 landscape. The map is a choropleth of cover % per commune
//! (equirectangular, scaled by cos(latitude): faithful enough at a province's
//! size), the chart compares zoned area per species with the plan's range.

use std::fmt::Write;

use geo::{BoundingRect, MultiPolygon};

use super::i18n::{date, fill, number as num, tr, Lang};
use super::{communes_without_zone, line_figures, Line, Report};

use canopy_core::palette::{cover_color, cover_label, COVER_COLORS, NO_DATA};
use canopy_core::text::html_escape as esc;

/// Cover classes and colours: `canopy_core::palette`, the same as the web map's
/// and the store's QGIS style (one class scheme everywhere).
fn colour(pct: Option<f64>) -> &'static str {
    cover_color(pct)
}

/// The choropleth map as an SVG element.
fn map_svg(r: &Report, lang: Lang) -> String {
    let all: Vec<&MultiPolygon<f64>> = r.shapes.iter().map(|s| &s.1).collect();
    let Some(bb) = all.iter().filter_map(|m| m.bounding_rect()).reduce(|a, b| {
        geo::Rect::new(
            geo::coord! { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
            geo::coord! { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
        )
    }) else {
        return String::new();
    };
    let k = ((bb.min().y + bb.max().y) / 2.0).to_radians().cos();
    let (w, h) = ((bb.max().x - bb.min().x) * k, bb.max().y - bb.min().y);
    let width = 640.0;
    let scale = width / w.max(1e-12);
    let height = h * scale;
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg class="map" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-label="{}">"#,
        tr(lang, "Forest cover per commune")
    );
    for (code, shape) in &r.shapes {
        let line = r.communes.iter().find(|l| &l.code == code);
        let pct = line.and_then(|l| l.cover_pct);
        let mut d = String::new();
        for poly in shape {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for (i, c) in ring.0.iter().enumerate() {
                    let x = (c.x - bb.min().x) * k * scale;
                    let y = (bb.max().y - c.y) * scale;
                    let _ = write!(d, "{}{x:.1},{y:.1}", if i == 0 { "M" } else { "L" });
                }
                d.push('Z');
            }
        }
        let name = line.map(|l| l.name.as_str()).unwrap_or(code);
        let _ = write!(
            o,
            r#"<path d="{d}" fill="{}" fill-rule="evenodd" data-code="{}"><title>{}: {} %</title></path>"#,
            colour(pct),
            esc(code),
            esc(name),
            opt_num(pct, 2, lang)
        );
    }
    o.push_str("</svg>");
    o
}

fn legend(lang: Lang) -> String {
    let mut o = String::from(r#"<ul class="legend">"#);
    for (i, c) in COVER_COLORS.iter().enumerate() {
        let label = cover_label(i);
        let _ = write!(o, r#"<li><span style="background:{c}"></span>{label}</li>"#);
    }
    let _ = write!(
        o,
        r#"<li><span style="background:{NO_DATA}"></span>{}</li></ul>"#,
        tr(lang, "not observed")
    );
    o
}

/// Bars of zoned ha per species against the plan's min–max range.
fn chart_svg(r: &Report, lang: Lang) -> String {
    let targets = r.progress.as_ref().map(|p| &p.zones[..]).unwrap_or(&[]);
    let mut species: Vec<String> = r.species.clone();
    for t in targets {
        if !species.contains(&t.target.species) {
            species.push(t.target.species.clone());
        }
    }
    if species.is_empty() {
        return String::new();
    }
    let zoned = |s: &str| {
        r.species_totals
            .iter()
            .find(|t| t.species == s)
            .map(|t| t.zone_ha)
            .unwrap_or(0.0)
    };
    let max = species
        .iter()
        .map(|s| {
            let t = targets.iter().find(|t| &t.target.species == s);
            zoned(s).max(t.map(|t| t.target.max_ha).unwrap_or(0.0))
        })
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.1;
    let (left, bar_w, row_h) = (110.0, 480.0, 34.0);
    let height = row_h * species.len() as f64 + 30.0;
    let x = |v: f64| left + v / max * bar_w;
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg class="chart" viewBox="0 0 800 {height:.0}" role="img" aria-label="{}">"#,
        tr(lang, "Zoned area by species against targets")
    );
    for (i, s) in species.iter().enumerate() {
        let y = 10.0 + i as f64 * row_h;
        let v = zoned(s);
        let _ = write!(
            o,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 8.0,
            y + 17.0,
            esc(s)
        );
        if let Some(t) = targets.iter().find(|t| &t.target.species == s) {
            let _ = write!(
                o,
                r#"<rect class="range" x="{:.1}" y="{:.1}" width="{:.1}" height="24"><title>{}</title></rect>"#,
                x(t.target.min_ha),
                y,
                (x(t.target.max_ha) - x(t.target.min_ha)).max(1.0),
                fill(
                    tr(lang, "target {}–{} ha by {}"),
                    &[
                        &num(t.target.min_ha, 0, lang),
                        &num(t.target.max_ha, 0, lang),
                        &t.target.year.to_string()
                    ]
                )
            );
        }
        let _ = write!(
            o,
            r#"<rect class="bar" x="{left:.1}" y="{:.1}" width="{:.1}" height="14"><title>{}</title></rect>"#,
            y + 5.0,
            (x(v) - left).max(0.5),
            fill(tr(lang, "{} ha zoned"), &[&num(v, 2, lang)])
        );
        let target = targets
            .iter()
            .find(|t| &t.target.species == s)
            .map(|t| {
                format!(
                    " / {}–{}",
                    num(t.target.min_ha, 0, lang),
                    num(t.target.max_ha, 0, lang)
                )
            })
            .unwrap_or_default();
        let _ = write!(
            o,
            r#"<text x="{:.1}" y="{:.1}" class="value">{}{target} ha</text>"#,
            left + bar_w + 10.0,
            y + 17.0,
            num(v, 0, lang)
        );
    }
    let _ = write!(
        o,
        r#"<line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" class="axis"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="value">{} ha</text></svg>"#,
        height - 18.0,
        left + bar_w,
        height - 18.0,
        left + bar_w,
        height - 4.0,
        num(max, 0, lang)
    );
    o
}

fn line_row(l: &Line, species: &[String], class: &str, lang: Lang) -> String {
    let mut o = format!(
        r#"<tr class="{class}"><td>{}</td><td>{}</td>"#,
        esc(&l.code),
        esc(&l.name),
    );
    for cell in line_figures(l, species, lang) {
        let _ = write!(o, "<td>{cell}</td>");
    }
    let a = &l.alerts;
    let _ = write!(
        o,
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        a.high, a.medium, a.low, a.new, a.confirmed, a.dismissed
    );
    o
}

const STYLE: &str = r#"
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;margin:24px;color:#222}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px;border-bottom:1px solid #ccc}
.meta{color:#555;margin:0 0 16px}
.figures{display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start}
.map{width:560px;max-width:100%;height:auto;border:1px solid #ccc;background:#f7fbff}
.map path{stroke:#555;stroke-width:.6}
.legend{list-style:none;padding:0;margin:8px 0;display:flex;flex-wrap:wrap;gap:12px;font-size:12px}
.legend span{display:inline-block;width:14px;height:14px;border:1px solid #777;margin-right:4px;vertical-align:-2px}
.chart{width:720px;max-width:100%;height:auto}
.chart text{font-size:12px}.chart .value{fill:#333}
.chart .range{fill:#fdd49e;stroke:#e6550d}.chart .bar{fill:#31a354}.chart .axis{stroke:#999}
table{border-collapse:collapse;font-size:12px;width:100%}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:right;white-space:nowrap}
th{background:#f0f0f0;position:sticky;top:0}
td:nth-child(2),td:first-child,th:nth-child(2),th:first-child{text-align:left}
tr.province td{font-weight:bold;background:#f7f7f7}
.status-met,.status-on-track,.status-within{color:#006837;font-weight:bold}
.status-off-track,.status-missed,.status-below,.status-above,.status-no-zones{color:#b30000;font-weight:bold}
.warnings li{color:#8a4b00}
@media print{body{margin:8mm}@page{size:A4 landscape;margin:10mm}th{position:static}
.figures{break-inside:avoid}table{page-break-inside:auto}tr{break-inside:avoid}}
"#;

fn status_class(s: &str) -> String {
    format!("status-{}", s.replace(' ', "-"))
}

fn opt_num(v: Option<f64>, d: usize, lang: Lang) -> String {
    v.map(|v| num(v, d, lang)).unwrap_or_else(|| "–".into())
}

fn opt_pct(v: Option<f64>, lang: Lang) -> String {
    v.map(|v| format!("{} %", num(v, 2, lang)))
        .unwrap_or_else(|| "–".into())
}

/// A target's percentage as written in the plan (shortest form), with `lang`'s
/// decimal separator.
fn target_pct(v: f64, lang: Lang) -> String {
    v.to_string().replace('.', &lang.separators().1.to_string())
}

/// Table header cells, each in `lang`.
fn heads(lang: Lang, cells: &[&'static str]) -> String {
    cells
        .iter()
        .map(|c| format!("<th>{}</th>", esc(tr(lang, c))))
        .collect()
}

/// The report as one self-contained HTML page in `lang` (Vietnamese first: its
/// headings, comma decimals and dd/mm/yyyy dates; names and warnings as stored).
pub fn html(r: &Report, lang: Lang) -> String {
    let t = |en: &'static str| tr(lang, en);
    let n = |v: f64, d: usize| num(v, d, lang);
    let mut o = String::new();
    let title = fill(t("Forest report, {}: epoch {}"), &[&r.region, &r.epoch]);
    let _ = write!(
        o,
        r#"<!DOCTYPE html><html lang="{}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{}</title><style>{STYLE}</style></head><body>"#,
        lang.code(),
        esc(&title)
    );
    let _ = write!(o, "<h1>{}</h1>", esc(&title));
    let since = r
        .previous
        .as_ref()
        .map(|(p, d)| fill(t(", change and alerts since {} ({})"), &[p, &date(d, lang)]))
        .unwrap_or_default();
    let _ = write!(
        o,
        r#"<p class="meta">{}</p>"#,
        esc(&fill(
            t("Epoch {} ({}){}. Figures from the store written at {}. Areas in hectares; cover % = forest / observed land."),
            &[&r.epoch, &date(&r.date, lang), &since, &date(&r.run_finished_at, lang)]
        ))
    );
    let p = &r.province;
    let net = p
        .net_ha
        .map(|v| fill(t(", net change {} ha"), &[&n(v, 2)]))
        .unwrap_or_default();
    let _ = write!(
        o,
        r#"<p><b>{}</b> {}</p>"#,
        esc(t("Province:")),
        esc(&fill(
            t("{} ha natural area, {} ha forest, cover {} %{}."),
            &[
                &n(p.natural_ha, 2),
                &n(p.forest_ha, 2),
                &opt_num(p.cover_pct, 2, lang),
                &net
            ]
        ))
    );
    let _ = write!(
        o,
        r#"<div class="figures"><section><h2>{}</h2>{}{}</section>"#,
        esc(t("Forest cover per commune")),
        map_svg(r, lang),
        legend(lang)
    );
    let chart = chart_svg(r, lang);
    if !chart.is_empty() {
        let _ = write!(
            o,
            r#"<section><h2>{}</h2>{chart}<p class="meta">{}</p></section>"#,
            esc(t("Planting zones against targets")),
            esc(t("Green bar: zoned area (overlapping zones of one species counted once). Orange band: the plan's range."))
        );
    }
    o.push_str("</div>");

    if let Some(pr) = &r.progress {
        let _ = write!(o, "<h2>{}</h2>", esc(t("Targets")));
        if !pr.cover.is_empty() {
            let _ = write!(
                o,
                "<table><thead><tr>{}</tr></thead><tbody>",
                heads(
                    lang,
                    &[
                        "cover target",
                        "latest",
                        "gap pp",
                        "gap ha",
                        "trend pp/yr",
                        "projected",
                        "status"
                    ]
                )
            );
            for c in &pr.cover {
                let _ = write!(
                    o,
                    r#"<tr><td>{}</td><td>{} % ({})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="{}">{}</td></tr>"#,
                    esc(&fill(
                        t("{} % by {}"),
                        &[&target_pct(c.target.pct, lang), &c.target.year.to_string()]
                    )),
                    n(c.latest_pct, 2),
                    esc(&c.latest_epoch),
                    n(c.gap_pp, 2),
                    n(c.gap_ha, 0),
                    opt_num(c.trend_pp_per_year, 2, lang),
                    opt_pct(c.projected_pct, lang),
                    status_class(c.status.as_str()),
                    esc(t(c.status.as_str()))
                );
            }
            let _ = write!(
                o,
                r#"</tbody></table><p class="meta">{}</p>"#,
                esc(t(pr.method))
            );
        }
        if !pr.zones.is_empty() {
            let _ = write!(
                o,
                "<table><thead><tr>{}</tr></thead><tbody>",
                heads(
                    lang,
                    &[
                        "species",
                        "target ha",
                        "by",
                        "zoned ha",
                        "status",
                        "named communes without a zone"
                    ]
                )
            );
            for z in &pr.zones {
                let without = if z.communes_without_zone.is_empty() {
                    t("none").to_string()
                } else {
                    communes_without_zone(z)
                };
                let _ = write!(
                    o,
                    r#"<tr><td>{} ({})</td><td>{}–{}</td><td>{}</td><td>{}</td><td class="{}">{}</td><td style="text-align:left;white-space:normal">{}</td></tr>"#,
                    esc(&z.target.species),
                    esc(&z.target.name_vi),
                    n(z.target.min_ha, 0),
                    n(z.target.max_ha, 0),
                    z.target.year,
                    n(z.zone_ha, 2),
                    status_class(z.status.as_str()),
                    esc(t(z.status.as_str())),
                    esc(&without)
                );
            }
            o.push_str("</tbody></table>");
        }
    }

    if !r.species_totals.is_empty() {
        let _ = write!(
            o,
            "<h2>{}</h2><table><thead><tr>{}</tr></thead><tbody>",
            esc(t("Planting zones (province)")),
            heads(
                lang,
                &[
                    "species",
                    "zone ha",
                    "forest ha",
                    "cover %",
                    "loss ha since previous"
                ]
            )
        );
        for s in &r.species_totals {
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&s.species),
                n(s.zone_ha, 2),
                n(s.forest_ha, 2),
                opt_num(s.cover_pct, 2, lang),
                opt_num(s.loss_ha, 2, lang)
            );
        }
        o.push_str("</tbody></table>");
        for ov in &r.overlaps {
            let _ = write!(
                o,
                "<p>{}</p>",
                esc(&fill(
                    t("Zoned for both {} and {}: {} ha."),
                    &[&ov.species_a, &ov.species_b, &n(ov.overlap_ha, 2)]
                ))
            );
        }
    }

    let _ = write!(
        o,
        "<h2>{}</h2><table><thead><tr>{}",
        esc(t("Communes")),
        heads(
            lang,
            &[
                "code",
                "commune",
                "natural ha",
                "forest ha",
                "cover %",
                "loss ha",
                "gain ha",
                "net ha"
            ]
        )
    );
    for s in &r.species {
        let _ = write!(o, "<th>{}</th>", esc(&fill(t("{} zone ha"), &[s])));
    }
    let _ = write!(
        o,
        "{}</tr></thead><tbody>",
        heads(
            lang,
            &[
                "alerts high",
                "medium",
                "low",
                "new",
                "confirmed",
                "dismissed"
            ]
        )
    );
    for l in &r.communes {
        o.push_str(&line_row(l, &r.species, "commune", lang));
    }
    o.push_str(&line_row(&r.province, &r.species, "province", lang));
    o.push_str("</tbody></table>");
    if !r.plots.is_empty() {
        let _ = write!(o, "<h2>{}</h2>", esc(t("Forest change tracking by plot")));
        for (g, title) in [
            ("function", "function"),
            ("owner_category", "owner category"),
            ("commune_function", "commune · function"),
        ] {
            let _ = write!(
                o,
                "<table><thead><tr>{}</tr></thead><tbody>",
                heads(
                    lang,
                    &[
                        title,
                        "plots",
                        "area ha",
                        "forest start ha",
                        "loss ha",
                        "gain ha",
                        "forest end ha"
                    ]
                )
            );
            for s in r.plots.iter().filter(|s| s.grouping == g) {
                let _ = write!(
                    o,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&crate::plot_group_label(s, lang)),
                    s.plots,
                    n(s.area_ha, 2),
                    n(s.start_forest_ha, 2),
                    n(s.loss_ha, 2),
                    n(s.gain_ha, 2),
                    n(s.end_forest_ha, 2)
                );
            }
            o.push_str("</tbody></table>");
        }
    }
    if !r.warnings.is_empty() {
        let _ = write!(o, r#"<h2>{}</h2><ul class="warnings">"#, esc(t("Warnings")));
        for w in &r.warnings {
            let _ = write!(o, "<li>{}</li>", esc(w));
        }
        o.push_str("</ul>");
    }
    o.push_str("</body></html>\n");
    o
}
