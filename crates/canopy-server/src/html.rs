//! The simple HTML views: every JSON document rendered as a readable page.
//!
//! One generic renderer (links become anchors, objects become definition tables,
//! lists of features become a table of their properties) rather than a template per
//! endpoint, so each JSON response has its HTML view and the two cannot diverge.

use serde_json::Value;

use crate::i18n;

/// Escapes text for HTML.
pub use canopy_core::text::html_escape as esc;

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) if s.starts_with("http://") || s.starts_with("https://") => {
            format!("<a href=\"{0}\">{0}</a>", esc(s))
        }
        Value::String(s) => esc(s),
        Value::Number(n) => esc(&i18n::number(&n.to_string())),
        other => esc(&other.to_string()),
    }
}

fn links(v: &[Value]) -> String {
    let mut o = String::from("<ul class=\"links\">");
    for l in v {
        let href = l["href"].as_str().unwrap_or("");
        let rel = l["rel"].as_str().unwrap_or("");
        let title = i18n::title(l["title"].as_str().unwrap_or(rel));
        let ty = l["type"].as_str().unwrap_or("");
        o.push_str(&format!(
            "<li><a href=\"{}\">{}</a> <small>({} · {})</small></li>",
            esc(href),
            esc(&title),
            esc(rel),
            esc(ty)
        ));
    }
    o.push_str("</ul>");
    o
}

fn features(v: &[Value]) -> String {
    let mut cols: Vec<String> = Vec::new();
    for f in v {
        if let Some(p) = f["properties"].as_object() {
            for k in p.keys() {
                if !cols.contains(k) {
                    cols.push(k.clone());
                }
            }
        }
    }
    let mut o = String::from("<table><thead><tr><th>id</th>");
    for c in &cols {
        o.push_str(&format!("<th>{}</th>", esc(c)));
    }
    o.push_str("</tr></thead><tbody>");
    for f in v {
        let id = match &f["id"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        o.push_str(&format!("<tr><td>{}</td>", esc(&id)));
        for c in &cols {
            o.push_str(&format!("<td>{}</td>", scalar(&f["properties"][c])));
        }
        o.push_str("</tr>");
    }
    o.push_str("</tbody></table>");
    o
}

fn render(v: &Value, depth: usize) -> String {
    match v {
        Value::Object(m) => {
            let mut o = String::from("<table class=\"obj\">");
            for (k, x) in m {
                if k == "geometry" {
                    continue;
                }
                let cell = match (k.as_str(), x) {
                    ("links", Value::Array(a)) => links(a),
                    ("features", Value::Array(a)) => features(a),
                    _ if depth > 6 => esc(&x.to_string()),
                    _ => render(x, depth + 1),
                };
                o.push_str(&format!("<tr><th>{}</th><td>{}</td></tr>", esc(k), cell));
            }
            o.push_str("</table>");
            o
        }
        Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            a.iter().map(scalar).collect::<Vec<_>>().join(", ")
        }
        Value::Array(a) => a
            .iter()
            .map(|x| render(x, depth + 1))
            .collect::<Vec<_>>()
            .join(""),
        other => scalar(other),
    }
}

/// A feature's page (`/collections/{id}/items/{fid}`) gets a small Leaflet map of
/// its geometry (`static/map/preview.js` fetches the same item as GeoJSON: no data
/// inlined into the page).
fn preview(doc: &Value) -> (&'static str, &'static str) {
    if doc["type"] == "Feature" && doc["geometry"].is_object() {
        (
            "<link rel=\"stylesheet\" href=\"/static/vendor/leaflet/leaflet.css\">",
            "<div id=\"preview\" style=\"height:280px;max-width:640px;border:1px solid #ccc;margin:.5rem 0\"></div>\
<script src=\"/static/vendor/leaflet/leaflet.js\"></script><script src=\"/static/map/preview.js\"></script>",
        )
    } else {
        ("", "")
    }
}

/// A page titled `title` showing `doc`, in the request's language (`i18n`).
pub fn page(title: &str, doc: &Value) -> String {
    let (head, preview_map) = preview(doc);
    format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t} · Canopy</title>\
<style>body{{font-family:system-ui,sans-serif;margin:1rem;}}table{{border-collapse:collapse;}}\
th,td{{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top;font-size:90%;}}\
th{{background:#f3f6f3;}}</style><link rel=\"icon\" href=\"/static/map/icon.svg\" type=\"image/svg+xml\">{head}</head><body>\
<nav><a href=\"/?lang={lang}\">Canopy</a> · <a href=\"/collections?lang={lang}\">{collections}</a> · \
<a href=\"/map?lang={lang}\">{map}</a> · <a href=\"/api?f=html&amp;lang={lang}\">API</a> · \
<a href=\"?lang={other}\" hreflang=\"{other}\" lang=\"{other}\">{other_name}</a></nav>\
<h1>{t}</h1>{preview_map}{b}</body></html>",
        lang = i18n::current().code(),
        other = match i18n::current() { i18n::Lang::Vi => "en", i18n::Lang::En => "vi" },
        other_name = match i18n::current() { i18n::Lang::Vi => "English", i18n::Lang::En => "Tiếng Việt" },
        collections = esc(&i18n::tr("collections")),
        map = esc(&i18n::tr("map")),
        t = esc(&i18n::title(title)),
        b = render(doc, 0)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_links() {
        let doc = serde_json::json!({
            "title": "<script>",
            "links": [{"href": "http://x/a?b=1&c=2", "rel": "self", "type": "text/html"}],
            "features": [{"id": "a1", "properties": {"name": "Lộc Bình"}}]
        });
        let h = page("T", &doc);
        assert!(h.contains("&lt;script&gt;"));
        assert!(h.contains("href=\"http://x/a?b=1&amp;c=2\""));
        assert!(h.contains("<td>Lộc Bình</td>"));
    }
}
