//! The language of the server's HTML pages: Vietnamese first, English the other.
//!
//! Every string of the pages is in [`TABLE`] (`canopy_report::i18n::PAGES`, one row
//! per string: English, Vietnamese, beside the report's strings), so a page can never
//! be half translated without the tests there failing. The
//! language of a request is `?lang=vi|en`, else the first of `Accept-Language`'s
//! languages that is Vietnamese or English, else Vietnamese. A middleware ([`layer`])
//! decides it once per request and keeps it in a task-local for the renderer; JSON is
//! the same in both languages (field names and stored values are data, not text).
//!
//! Numbers in the pages are written as a Vietnamese reader writes them (comma as the
//! decimal separator, dot between thousands); names (communes, species) are shown as
//! stored (NFC).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// A page language (shared with the report: `canopy_report::i18n`).
pub use canopy_report::i18n::Lang;

tokio::task_local! {
    static LANG: Lang;
}

/// The language of the request being answered (Vietnamese outside a request).
pub fn current() -> Lang {
    LANG.try_with(|l| *l).unwrap_or(Lang::Vi)
}

/// Every string of the server's HTML pages: (English, Vietnamese). The table lives
/// in `canopy_report::i18n` beside the report's, so every string is in one place.
pub use canopy_report::i18n::PAGES as TABLE;

/// `en` in the request's language (itself when the table has no row for it).
pub fn tr(en: &str) -> String {
    tr_in(current(), en)
}

pub fn tr_in(lang: Lang, en: &str) -> String {
    match lang {
        Lang::En => en.to_string(),
        Lang::Vi => TABLE
            .iter()
            .find(|(e, _)| *e == en)
            .map(|(_, v)| v.to_string())
            .unwrap_or_else(|| en.to_string()),
    }
}

/// A title: the table's row for it, or for its first words (`Change 2024 → 2025`,
/// `Forest-loss alerts a1b2`) with the rest kept as is.
pub fn title(t: &str) -> String {
    let lang = current();
    if lang == Lang::En {
        return t.to_string();
    }
    if let Some((_, v)) = TABLE.iter().find(|(e, _)| *e == t) {
        return v.to_string();
    }
    let best = TABLE
        .iter()
        .filter(|(e, _)| t.starts_with(e) && t[e.len()..].starts_with(' '))
        .max_by_key(|(e, _)| e.len());
    match best {
        Some((e, v)) => format!("{v}{}", &t[e.len()..]),
        None => t.to_string(),
    }
}

/// A JSON number as the page's reader writes it: `1234.5` → `1.234,5` (vi),
/// `1,234.5` (en). Integers and decimals are kept exactly as JSON has them.
pub fn number(raw: &str) -> String {
    let (sign, digits) = match raw.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", raw),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return raw.to_string(); // exponents and the like: as JSON wrote them
    }
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    canopy_report::i18n::group_digits(sign, int, frac, current())
}

/// The language asked for by `?lang=` (an error names a value that is neither), else
/// by `Accept-Language`, else Vietnamese.
pub fn negotiate(query: Option<&str>, accept_language: Option<&str>) -> Result<Lang, ApiError> {
    if let Some(q) = query {
        let asked: Vec<&str> = form_urlencoded_values(q, "lang");
        if let Some(v) = asked.first() {
            return v.parse::<Lang>().map_err(|_| {
                ApiError::BadRequest(format!(
                    "lang={v}: expected vi (Vietnamese) or en (English)"
                ))
            });
        }
    }
    for part in accept_language.unwrap_or("").split(',') {
        let tag = part
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match tag.split('-').next().unwrap_or("") {
            "vi" => return Ok(Lang::Vi),
            "en" => return Ok(Lang::En),
            _ => {}
        }
    }
    Ok(Lang::Vi)
}

fn form_urlencoded_values<'a>(q: &'a str, name: &str) -> Vec<&'a str> {
    q.split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .collect()
}

/// The middleware: the request's language for everything that renders it.
pub async fn layer(req: Request, next: Next) -> Response {
    let accept = req
        .headers()
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match negotiate(req.uri().query(), accept.as_deref()) {
        Ok(lang) => LANG.scope(lang, next.run(req)).await,
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(None, None).unwrap(), Lang::Vi);
        assert_eq!(negotiate(Some("lang=en"), Some("vi")).unwrap(), Lang::En);
        assert_eq!(
            negotiate(Some("f=html&lang=vi"), Some("en-US")).unwrap(),
            Lang::Vi
        );
        assert_eq!(
            negotiate(None, Some("fr-FR, en;q=0.8, vi;q=0.5")).unwrap(),
            Lang::En
        );
        assert_eq!(negotiate(None, Some("vi-VN,vi;q=0.9")).unwrap(), Lang::Vi);
        assert_eq!(negotiate(None, Some("de")).unwrap(), Lang::Vi);
        let e = negotiate(Some("lang=fr"), None).unwrap_err().to_string();
        assert!(e.contains("lang=fr"), "{e}");
    }

    #[tokio::test]
    async fn numbers_and_titles_in_each_language() {
        LANG.scope(Lang::Vi, async {
            assert_eq!(number("1234.5"), "1.234,5");
            assert_eq!(number("-1234567"), "-1.234.567");
            assert_eq!(number("0.25"), "0,25");
            assert_eq!(number("1e-7"), "1e-7");
            assert_eq!(title("Communes"), "Các xã");
            assert_eq!(title("Change 2024 → 2025"), "Biến động 2024 → 2025");
            assert_eq!(title("Forest-loss alerts a-1"), "Cảnh báo mất rừng a-1");
            assert_eq!(title("Lộc Bình"), "Lộc Bình");
        })
        .await;
        LANG.scope(Lang::En, async {
            assert_eq!(number("1234.5"), "1,234.5");
            assert_eq!(title("Communes"), "Communes");
        })
        .await;
    }

    #[test]
    fn every_row_is_translated_once() {
        let mut seen = std::collections::HashSet::new();
        for (en, vi) in TABLE {
            assert!(seen.insert(*en), "{en} twice");
            assert!(!vi.is_empty(), "{en} has no Vietnamese");
        }
    }
}
