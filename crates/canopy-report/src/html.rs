//! The report as one self-contained HTML file: inline CSS and SVG, no script,
//! no external resource, so it opens offline, mails as one attachment and
//! prints on A4 landscape. The map is a choropleth of cover % per commune
//! (equirectangular, scaled by cos(latitude): faithful enough at a province's
//! size), the chart compares zoned area per species with the plan's range.

use std::fmt::Write;

use geo::{BoundingRect, MultiPolygon};

use super::{communes_without_zone, line_figures, num, opt_num, opt_pct, Line, Report};

/// Cover classes of the choropleth: upper bounds (%) and colours (ColorBrewer
/// YlGn, colour-blind safe and printable in grey).
const CLASSES: [(f64, &str); 5] = [
    (40.0, "#ffffcc"),
    (55.0, "#c2e699"),
    (65.0, "#78c679"),
    (75.0, "#31a354"),
    (f64::INFINITY, "#006837"),
];
const NO_DATA: &str = "#d9d9d9";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn colour(pct: Option<f64>) -> &'static str {
    match pct {
        None => NO_DATA,
        Some(p) => CLASSES
            .iter()
            .find(|(hi, _)| p < *hi)
            .map(|c| c.1)
            .unwrap_or(CLASSES[4].1),
    }
}

/// The choropleth map as an SVG element.
fn map_svg(r: &Report) -> String {
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
        r#"<svg class="map" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-label="Forest cover per commune">"#
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
            opt_num(pct, 2)
        );
    }
    o.push_str("</svg>");
    o
}

fn legend() -> String {
    let mut o = String::from(r#"<ul class="legend">"#);
    let mut lo = 0.0;
    for (hi, c) in CLASSES {
        let label = if hi.is_finite() {
            format!("{lo:.0}–{hi:.0} %")
        } else {
            format!("≥ {lo:.0} %")
        };
        let _ = write!(o, r#"<li><span style="background:{c}"></span>{label}</li>"#);
        lo = hi;
    }
    let _ = write!(
        o,
        r#"<li><span style="background:{NO_DATA}"></span>not observed</li></ul>"#
    );
    o
}

/// Bars of zoned ha per species against the plan's min–max range.
fn chart_svg(r: &Report) -> String {
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
        r#"<svg class="chart" viewBox="0 0 800 {height:.0}" role="img" aria-label="Zoned area by species against targets">"#
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
                r#"<rect class="range" x="{:.1}" y="{:.1}" width="{:.1}" height="24"><title>target {}–{} ha by {}</title></rect>"#,
                x(t.target.min_ha),
                y,
                (x(t.target.max_ha) - x(t.target.min_ha)).max(1.0),
                num(t.target.min_ha, 0),
                num(t.target.max_ha, 0),
                t.target.year
            );
        }
        let _ = write!(
            o,
            r#"<rect class="bar" x="{left:.1}" y="{:.1}" width="{:.1}" height="14"><title>{} ha zoned</title></rect>"#,
            y + 5.0,
            (x(v) - left).max(0.5),
            num(v, 2)
        );
        let target = targets
            .iter()
            .find(|t| &t.target.species == s)
            .map(|t| format!(" / {}–{}", num(t.target.min_ha, 0), num(t.target.max_ha, 0)))
            .unwrap_or_default();
        let _ = write!(
            o,
            r#"<text x="{:.1}" y="{:.1}" class="value">{}{target} ha</text>"#,
            left + bar_w + 10.0,
            y + 17.0,
            num(v, 0)
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
        num(max, 0)
    );
    o
}

fn line_row(l: &Line, species: &[String], class: &str) -> String {
    let mut o = format!(
        r#"<tr class="{class}"><td>{}</td><td>{}</td>"#,
        esc(&l.code),
        esc(&l.name),
    );
    for cell in line_figures(l, species) {
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

/// The report as one self-contained HTML page.
pub fn html(r: &Report) -> String {
    let mut o = String::new();
    let title = format!("Forest report, {}: epoch {}", r.region, r.epoch);
    let _ = write!(
        o,
        r#"<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{}</title><style>{STYLE}</style></head><body>"#,
        esc(&title)
    );
    let _ = write!(o, "<h1>{}</h1>", esc(&title));
    let since = r
        .previous
        .as_ref()
        .map(|(p, d)| format!(", change and alerts since {} ({})", esc(p), esc(d)))
        .unwrap_or_default();
    let _ = write!(
        o,
        r#"<p class="meta">Epoch {} ({}){since}. Figures from the store written at {}. Areas in hectares; cover % = forest / observed land.</p>"#,
        esc(&r.epoch),
        esc(&r.date),
        esc(&r.run_finished_at)
    );
    let p = &r.province;
    let _ = write!(
        o,
        r#"<p><b>Province:</b> {} ha natural area, {} ha forest, cover {} %{}.</p>"#,
        num(p.natural_ha, 2),
        num(p.forest_ha, 2),
        opt_num(p.cover_pct, 2),
        p.net_ha
            .map(|n| format!(", net change {} ha", num(n, 2)))
            .unwrap_or_default()
    );
    let _ = write!(
        o,
        r#"<div class="figures"><section><h2>Forest cover per commune</h2>{}{}</section>"#,
        map_svg(r),
        legend()
    );
    let chart = chart_svg(r);
    if !chart.is_empty() {
        let _ = write!(
            o,
            r#"<section><h2>Planting zones against targets</h2>{chart}<p class="meta">Green bar: zoned area (overlapping zones of one species counted once). Orange band: the plan's range.</p></section>"#
        );
    }
    o.push_str("</div>");

    if let Some(pr) = &r.progress {
        o.push_str("<h2>Targets</h2>");
        if !pr.cover.is_empty() {
            o.push_str("<table><thead><tr><th>cover target</th><th>latest</th><th>gap pp</th><th>gap ha</th><th>trend pp/yr</th><th>projected</th><th>status</th></tr></thead><tbody>");
            for c in &pr.cover {
                let _ = write!(
                    o,
                    r#"<tr><td>{} % by {}</td><td>{} % ({})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="{}">{}</td></tr>"#,
                    c.target.pct,
                    c.target.year,
                    num(c.latest_pct, 2),
                    esc(&c.latest_epoch),
                    num(c.gap_pp, 2),
                    num(c.gap_ha, 0),
                    opt_num(c.trend_pp_per_year, 2),
                    opt_pct(c.projected_pct),
                    status_class(c.status.as_str()),
                    c.status.as_str()
                );
            }
            let _ = write!(
                o,
                r#"</tbody></table><p class="meta">{}</p>"#,
                esc(pr.method)
            );
        }
        if !pr.zones.is_empty() {
            o.push_str("<table><thead><tr><th>species</th><th>target ha</th><th>by</th><th>zoned ha</th><th>status</th><th>named communes without a zone</th></tr></thead><tbody>");
            for z in &pr.zones {
                let _ = write!(
                    o,
                    r#"<tr><td>{} ({})</td><td>{}–{}</td><td>{}</td><td>{}</td><td class="{}">{}</td><td style="text-align:left;white-space:normal">{}</td></tr>"#,
                    esc(&z.target.species),
                    esc(&z.target.name_vi),
                    num(z.target.min_ha, 0),
                    num(z.target.max_ha, 0),
                    z.target.year,
                    num(z.zone_ha, 2),
                    status_class(z.status.as_str()),
                    z.status.as_str(),
                    esc(&communes_without_zone(z))
                );
            }
            o.push_str("</tbody></table>");
        }
    }

    if !r.species_totals.is_empty() {
        o.push_str("<h2>Planting zones (province)</h2><table><thead><tr><th>species</th><th>zone ha</th><th>forest ha</th><th>cover %</th><th>loss ha since previous</th></tr></thead><tbody>");
        for s in &r.species_totals {
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&s.species),
                num(s.zone_ha, 2),
                num(s.forest_ha, 2),
                opt_num(s.cover_pct, 2),
                opt_num(s.loss_ha, 2)
            );
        }
        o.push_str("</tbody></table>");
        for ov in &r.overlaps {
            let _ = write!(
                o,
                "<p>Zoned for both {} and {}: {} ha.</p>",
                esc(&ov.species_a),
                esc(&ov.species_b),
                num(ov.overlap_ha, 2)
            );
        }
    }

    o.push_str("<h2>Communes</h2><table><thead><tr><th>code</th><th>commune</th><th>natural ha</th><th>forest ha</th><th>cover %</th><th>loss ha</th><th>gain ha</th><th>net ha</th>");
    for s in &r.species {
        let _ = write!(o, "<th>{} zone ha</th>", esc(s));
    }
    o.push_str("<th>alerts high</th><th>medium</th><th>low</th><th>new</th><th>confirmed</th><th>dismissed</th></tr></thead><tbody>");
    for l in &r.communes {
        o.push_str(&line_row(l, &r.species, "commune"));
    }
    o.push_str(&line_row(&r.province, &r.species, "province"));
    o.push_str("</tbody></table>");
    if !r.warnings.is_empty() {
        o.push_str(r#"<h2>Warnings</h2><ul class="warnings">"#);
        for w in &r.warnings {
            let _ = write!(o, "<li>{}</li>", esc(w));
        }
        o.push_str("</ul>");
    }
    o.push_str("</body></html>\n");
    o
}
