//! The report as Markdown: readable in a terminal, pastes into any document.

use std::fmt::Write;

use super::{communes_without_zone, line_figures, num, opt_num, opt_pct, Line, Report};

/// A string from the store as Markdown text: what Markdown would render as HTML
/// (`<`, `&`), as emphasis, code, links or images, or as a table cell break is
/// escaped, and line breaks become spaces. Names come from files people exchange.
pub(crate) fn md(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' => {
                o.push('\\');
                o.push(c);
            }
            '\n' | '\r' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

fn title(r: &Report) -> String {
    match &r.previous {
        Some((p, pd)) => format!(
            "Forest report, {}: epoch {} ({}), change since {} ({})",
            md(&r.region),
            md(&r.epoch),
            md(&r.date),
            md(p),
            md(pd)
        ),
        None => format!(
            "Forest report, {}: epoch {} ({})",
            md(&r.region),
            md(&r.epoch),
            md(&r.date)
        ),
    }
}

fn row(l: &Line, species: &[String], bold: bool) -> String {
    let b = |s: String| if bold { format!("**{s}**") } else { s };
    let mut cells = vec![b(md(&l.code)), b(md(&l.name))];
    cells.extend(line_figures(l, species, crate::Lang::En));
    let a = &l.alerts;
    cells.push(format!("{} / {} / {}", a.high, a.medium, a.low));
    cells.push(format!("{} / {} / {}", a.new, a.confirmed, a.dismissed));
    format!("| {} |", cells.join(" | "))
}

/// The report as Markdown.
pub fn markdown(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n", title(r));
    let _ = writeln!(
        o,
        "Figures from the store written at {}. Areas in hectares (UTM/equal-area), \
         cover % = forest / observed land.\n",
        md(&r.run_finished_at)
    );
    let _ = writeln!(o, "## Communes\n");
    let mut head = vec![
        "code",
        "commune",
        "natural ha",
        "forest ha",
        "cover %",
        "loss ha",
        "gain ha",
        "net ha",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    head.extend(r.species.iter().map(|s| format!("{} zone ha", md(s))));
    head.push("alerts high / medium / low".into());
    head.push("new / confirmed / dismissed".into());
    let _ = writeln!(o, "| {} |", head.join(" | "));
    let align: Vec<&str> = head
        .iter()
        .enumerate()
        .map(|(i, _)| if i < 2 { "---" } else { "---:" })
        .collect();
    let _ = writeln!(o, "| {} |", align.join(" | "));
    for l in &r.communes {
        let _ = writeln!(o, "{}", row(l, &r.species, false));
    }
    let _ = writeln!(o, "{}\n", row(&r.province, &r.species, true));

    if !r.species_totals.is_empty() {
        let _ = writeln!(o, "## Planting zones (province)\n");
        let _ = writeln!(
            o,
            "| species | zone ha | forest ha | cover % | loss ha since previous |"
        );
        let _ = writeln!(o, "| --- | ---: | ---: | ---: | ---: |");
        for s in &r.species_totals {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                md(&s.species),
                num(s.zone_ha, 2),
                num(s.forest_ha, 2),
                opt_num(s.cover_pct, 2),
                opt_num(s.loss_ha, 2)
            );
        }
        for ov in &r.overlaps {
            let _ = writeln!(
                o,
                "\nZoned for both {} and {}: {} ha.",
                md(&ov.species_a),
                md(&ov.species_b),
                num(ov.overlap_ha, 2)
            );
        }
        let _ = writeln!(o);
    }

    if let Some(p) = &r.progress {
        let _ = writeln!(o, "## Targets\n");
        if !p.cover.is_empty() {
            let _ = writeln!(
                o,
                "| cover target | latest | gap pp | gap ha | trend pp/yr | projected | status |"
            );
            let _ = writeln!(o, "| --- | ---: | ---: | ---: | ---: | ---: | --- |");
            for c in &p.cover {
                let _ = writeln!(
                    o,
                    "| {} % by {} | {} % ({}) | {} | {} | {} | {} | {} |",
                    c.target.pct,
                    c.target.year,
                    num(c.latest_pct, 2),
                    md(&c.latest_epoch),
                    num(c.gap_pp, 2),
                    num(c.gap_ha, 0),
                    opt_num(c.trend_pp_per_year, 2),
                    opt_pct(c.projected_pct),
                    c.status.as_str()
                );
            }
            let _ = writeln!(o, "\n{}\n", p.method);
        }
        if !p.zones.is_empty() {
            let _ = writeln!(
                o,
                "| species | target ha (by year) | zoned ha | status | named communes without a zone |"
            );
            let _ = writeln!(o, "| --- | ---: | ---: | --- | --- |");
            for z in &p.zones {
                let _ = writeln!(
                    o,
                    "| {} ({}) | {}–{} ({}) | {} | {} | {} |",
                    md(&z.target.species),
                    md(&z.target.name_vi),
                    num(z.target.min_ha, 0),
                    num(z.target.max_ha, 0),
                    z.target.year,
                    num(z.zone_ha, 2),
                    z.status.as_str(),
                    md(&communes_without_zone(z))
                );
            }
            let _ = writeln!(o);
        }
    }
    if !r.plots.is_empty() {
        let _ = writeln!(
            o,
            "## Forest change tracking by plot (theo dõi diễn biến rừng)\n"
        );
        for (g, title) in [
            ("function", "function"),
            ("owner_category", "owner category"),
            ("commune_function", "commune · function"),
        ] {
            let _ = writeln!(
                o,
                "| {title} | plots | area ha | forest start ha | loss ha | gain ha | forest end ha |\n|---|---:|---:|---:|---:|---:|---:|"
            );
            for s in r.plots.iter().filter(|s| s.grouping == g) {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    md(&super::plot_group_label(s, super::Lang::En)),
                    s.plots,
                    num(s.area_ha, 2),
                    num(s.start_forest_ha, 2),
                    num(s.loss_ha, 2),
                    num(s.gain_ha, 2),
                    num(s.end_forest_ha, 2)
                );
            }
            let _ = writeln!(o);
        }
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(o, "## Warnings\n");
        for w in &r.warnings {
            let _ = writeln!(o, "- {}", md(w));
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::md;

    #[test]
    fn markup_in_names_is_text() {
        assert_eq!(
            md("C0<img src=x onerror=alert(1)>"),
            "C0&lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(
            md("a|b *c* [l](u) `x` &amp;"),
            "a\\|b \\*c\\* \\[l\\](u) \\`x\\` &amp;amp;"
        );
        assert_eq!(md("line\nbreak"), "line break");
        assert_eq!(md("Hữu Lũng 06-07"), "Hữu Lũng 06-07");
    }
}
