//! The languages of everything Canopy renders for people: Vietnamese first, English
//! the other. Every string is here, once per language: [`PAGES`] (the server's HTML
//! pages) and [`REPORT`] (the planners' HTML report), one row per string (English,
//! Vietnamese), so a page can never be half translated without the tests below
//! failing. The server (`canopy_server::i18n`) decides a request's language and looks
//! its strings up here; the report takes the language as an argument
//! (`canopy report --lang`, the server's `?lang=`).
//!
//! Numbers are written as a Vietnamese reader writes them (comma as the decimal
//! separator, dot between thousands: `1.234,56`), dates as `dd/mm/yyyy`; names
//! (communes, species) and the run's warnings are data and shown as stored.

use std::fmt;
use std::str::FromStr;

/// A language of the pages and the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// (thousands separator, decimal separator).
    pub fn separators(self) -> (char, char) {
        match self {
            Lang::Vi => ('.', ','),
            Lang::En => (',', '.'),
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A language code that is neither `vi` nor `en`.
#[derive(Debug, thiserror::Error)]
#[error("language \"{0}\": expected vi (Vietnamese) or en (English)")]
pub struct UnknownLang(pub String);

impl FromStr for Lang {
    type Err = UnknownLang;
    fn from_str(s: &str) -> Result<Lang, UnknownLang> {
        match s {
            "vi" => Ok(Lang::Vi),
            "en" => Ok(Lang::En),
            other => Err(UnknownLang(other.to_string())),
        }
    }
}

/// Every string of the server's HTML pages: (English, Vietnamese).
pub const PAGES: &[(&str, &str)] = &[
    ("Canopy", "Canopy"),
    ("collections", "lớp dữ liệu"),
    ("map", "bản đồ"),
    ("API", "API"),
    ("Conformance", "Tiêu chuẩn tuân thủ"),
    ("Collections", "Các lớp dữ liệu"),
    ("Communes", "Các xã"),
    ("Forest-loss alerts", "Cảnh báo mất rừng"),
    ("Planting zones", "Vùng trồng rừng"),
    ("Fire danger", "Nguy cơ cháy rừng"),
    ("Province totals", "Tổng hợp toàn tỉnh"),
    ("Planting zones by species", "Vùng trồng theo loài cây"),
    ("Progress against the targets", "Tiến độ so với chỉ tiêu"),
    ("Change", "Biến động"),
    ("Triage history of", "Lịch sử xử lý của"),
    ("schema", "lược đồ"),
    ("queryables", "trường truy vấn"),
    ("This document as JSON", "Tài liệu này dạng JSON"),
    ("This document as HTML", "Tài liệu này dạng HTML"),
    ("Next page", "Trang sau"),
    ("Previous page", "Trang trước"),
    ("Language", "Ngôn ngữ"),
    ("English", "English"),
    ("Tiếng Việt", "Tiếng Việt"),
];

/// Every string of the HTML report: (English, Vietnamese). Keys with `{}` are
/// templates filled in order by [`fill`].
pub const REPORT: &[(&str, &str)] = &[
    ("Forest report, {}: epoch {}", "Báo cáo rừng {}: kỳ {}"),
    (", change and alerts since {} ({})", ", biến động và cảnh báo từ kỳ {} ({})"),
    (
        "Epoch {} ({}){}. Figures from the store written at {}. Areas in hectares; cover % = forest / observed land.",
        "Kỳ {} ({}){}. Số liệu từ kho dữ liệu ghi lúc {}. Diện tích tính bằng ha; tỷ lệ che phủ % = diện tích có rừng / diện tích đất quan sát được.",
    ),
    ("Province:", "Toàn tỉnh:"),
    (
        "{} ha natural area, {} ha forest, cover {} %{}.",
        "diện tích tự nhiên {} ha, có rừng {} ha, tỷ lệ che phủ {} %{}.",
    ),
    (", net change {} ha", ", biến động thuần {} ha"),
    ("Forest cover per commune", "Độ che phủ rừng theo xã"),
    ("not observed", "không quan sát được"),
    ("Planting zones against targets", "Vùng trồng so với chỉ tiêu"),
    (
        "Green bar: zoned area (overlapping zones of one species counted once). Orange band: the plan's range.",
        "Thanh xanh: diện tích vùng trồng (các vùng chồng lấn của cùng một loài tính một lần). Dải cam: khoảng chỉ tiêu theo kế hoạch.",
    ),
    ("Zoned area by species against targets", "Diện tích vùng trồng theo loài so với chỉ tiêu"),
    ("target {}–{} ha by {}", "chỉ tiêu {}–{} ha đến năm {}"),
    ("{} ha zoned", "{} ha vùng trồng"),
    ("Targets", "Chỉ tiêu"),
    ("cover target", "chỉ tiêu che phủ"),
    ("latest", "mới nhất"),
    ("gap pp", "chênh lệch (điểm %)"),
    ("gap ha", "chênh lệch (ha)"),
    ("trend pp/yr", "xu hướng (điểm %/năm)"),
    ("projected", "dự báo"),
    ("status", "tình trạng"),
    ("{} % by {}", "{} % đến năm {}"),
    ("species", "loài cây"),
    ("target ha", "chỉ tiêu (ha)"),
    ("by", "đến năm"),
    ("zoned ha", "vùng trồng (ha)"),
    ("named communes without a zone", "xã được giao chưa có vùng trồng"),
    ("none", "không có"),
    ("Planting zones (province)", "Vùng trồng (toàn tỉnh)"),
    ("zone ha", "vùng trồng (ha)"),
    ("forest ha", "có rừng (ha)"),
    ("cover %", "che phủ %"),
    ("loss ha since previous", "mất rừng (ha) từ kỳ trước"),
    ("Zoned for both {} and {}: {} ha.", "Vùng trồng cho cả {} và {}: {} ha."),
    ("Communes", "Các xã"),
    ("code", "mã xã"),
    ("commune", "xã"),
    ("natural ha", "diện tích tự nhiên (ha)"),
    ("loss ha", "mất rừng (ha)"),
    ("gain ha", "tăng rừng (ha)"),
    ("net ha", "thuần (ha)"),
    ("{} zone ha", "vùng trồng {} (ha)"),
    ("alerts high", "cảnh báo cao"),
    ("medium", "trung bình"),
    ("low", "thấp"),
    ("new", "mới"),
    ("confirmed", "đã xác nhận"),
    ("dismissed", "đã bác bỏ"),
    ("Warnings", "Cảnh báo của lần chạy"),
    ("Forest change tracking by plot", "Theo dõi diễn biến rừng theo lô"),
    ("function", "chức năng"),
    ("owner category", "loại chủ rừng"),
    ("commune · function", "xã · chức năng"),
    ("plots", "số lô"),
    ("area ha", "diện tích lô (ha)"),
    ("forest start ha", "có rừng đầu kỳ (ha)"),
    ("forest end ha", "có rừng cuối kỳ (ha)"),
    // target statuses (core::targets, `as_str`)
    ("met", "đã đạt"),
    ("on track", "đúng tiến độ"),
    ("off track", "chậm tiến độ"),
    ("missed", "không đạt"),
    ("no trend (one epoch)", "chưa có xu hướng (một kỳ)"),
    ("no zones", "chưa có vùng"),
    ("below", "dưới chỉ tiêu"),
    ("within", "trong chỉ tiêu"),
    ("above", "vượt chỉ tiêu"),
    (
        "Trend = least-squares line through the province cover of every epoch, extended to the end of the target year (a linear projection at the current pace, not a forecast).",
        "Xu hướng = đường bình phương tối thiểu qua độ che phủ toàn tỉnh của mọi kỳ, kéo dài đến cuối năm chỉ tiêu (ngoại suy tuyến tính theo tốc độ hiện tại, không phải dự báo).",
    ),
];

/// `en` from `table` in `lang` (`en` itself when the table has no row for it).
pub fn lookup<'a>(table: &[(&'a str, &'a str)], lang: Lang, en: &'a str) -> &'a str {
    match lang {
        Lang::En => en,
        Lang::Vi => table
            .iter()
            .find(|(e, _)| *e == en)
            .map(|(_, v)| *v)
            .unwrap_or(en),
    }
}

/// A report string in `lang`.
pub fn tr(lang: Lang, en: &'static str) -> &'static str {
    lookup(REPORT, lang, en)
}

/// A template (`{}` placeholders) with its arguments, in order.
pub fn fill(template: &str, args: &[&str]) -> String {
    let mut o = String::with_capacity(template.len() + 16);
    let mut parts = template.split("{}");
    if let Some(first) = parts.next() {
        o.push_str(first);
    }
    for (i, part) in parts.enumerate() {
        o.push_str(args.get(i).copied().unwrap_or(""));
        o.push_str(part);
    }
    o
}

/// Integer digits grouped by thousands and a fraction, with `lang`'s separators
/// (`sign` is put first as given).
pub fn group_digits(sign: &str, int: &str, frac: &str, lang: Lang) -> String {
    let (group, decimal) = lang.separators();
    let mut o = String::from(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            o.push(group);
        }
        o.push(c);
    }
    if !frac.is_empty() {
        o.push(decimal);
        o.push_str(frac);
    }
    o
}

/// `v` with `d` decimals, grouped, in `lang` (`1.234,57` / `1,234.57`); a negative
/// value that rounds to a non-zero number gets a minus sign (U+2212).
pub fn number(v: f64, d: usize, lang: Lang) -> String {
    let s = format!("{:.*}", d, v.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let sign = if v < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "−"
    } else {
        ""
    };
    group_digits(sign, int, frac, lang)
}

/// An ISO date or date-time (`2025-12-31`, `2026-11-29T09:58:28Z`) as `lang` writes
/// it: `31/12/2025`, `29/11/2026 09:58:28 UTC` in Vietnamese; as is in English.
/// Anything else is returned as is.
pub fn date(iso: &str, lang: Lang) -> String {
    if lang == Lang::En {
        return iso.to_string();
    }
    let (day, rest) = match iso.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (iso, None),
    };
    let parts: Vec<&str> = day.split('-').collect();
    let ok = parts.len() == 3
        && parts[0].len() == 4
        && parts[1].len() == 2
        && parts[2].len() == 2
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()));
    if !ok {
        return iso.to_string();
    }
    let d = format!("{}/{}/{}", parts[2], parts[1], parts[0]);
    match rest {
        None => d,
        Some(t) => match t.strip_suffix('Z') {
            Some(t) => format!("{d} {t} UTC"),
            None => format!("{d} {t}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_by_hand() {
        assert_eq!(number(1234567.891, 2, Lang::Vi), "1.234.567,89");
        assert_eq!(number(1234567.891, 2, Lang::En), "1,234,567.89");
        assert_eq!(number(0.25, 2, Lang::Vi), "0,25");
        assert_eq!(number(-1500.0, 0, Lang::Vi), "−1.500");
        assert_eq!(number(-0.001, 2, Lang::Vi), "0,00");
        assert_eq!(number(999.994, 2, Lang::En), "999.99");
    }

    #[test]
    fn dates_by_hand() {
        assert_eq!(date("2025-12-31", Lang::Vi), "31/12/2025");
        assert_eq!(date("2025-12-31", Lang::En), "2025-12-31");
        assert_eq!(
            date("2026-11-29T09:58:28Z", Lang::Vi),
            "29/11/2026 09:58:28 UTC"
        );
        assert_eq!(date("mùa khô", Lang::Vi), "mùa khô");
        assert_eq!(date("2025-1-3", Lang::Vi), "2025-1-3");
    }

    #[test]
    fn templates_and_lookups() {
        assert_eq!(fill("{} % by {}", &["64,2", "2030"]), "64,2 % by 2030");
        assert_eq!(tr(Lang::Vi, "Communes"), "Các xã");
        assert_eq!(tr(Lang::En, "Communes"), "Communes");
        assert_eq!("vi".parse::<Lang>().unwrap(), Lang::Vi);
        assert!("fr"
            .parse::<Lang>()
            .unwrap_err()
            .to_string()
            .contains("\"fr\""));
        // Every target status of core has a Vietnamese row.
        use canopy_core::targets::{CoverStatus, ZoneStatus};
        for s in [
            CoverStatus::Met,
            CoverStatus::OnTrack,
            CoverStatus::OffTrack,
            CoverStatus::Missed,
            CoverStatus::NoTrend,
        ] {
            assert_ne!(tr(Lang::Vi, s.as_str()), s.as_str(), "{}", s.as_str());
        }
        for s in [
            ZoneStatus::NoZones,
            ZoneStatus::Below,
            ZoneStatus::Within,
            ZoneStatus::Above,
        ] {
            assert_ne!(tr(Lang::Vi, s.as_str()), s.as_str(), "{}", s.as_str());
        }
        assert_ne!(
            tr(Lang::Vi, canopy_core::targets::METHOD),
            canopy_core::targets::METHOD
        );
    }

    #[test]
    fn every_row_is_translated_once() {
        for table in [PAGES, REPORT] {
            let mut seen = std::collections::HashSet::new();
            for (en, vi) in table {
                assert!(seen.insert(*en), "{en} twice");
                assert!(!vi.is_empty(), "{en} has no Vietnamese");
                assert_eq!(en.matches("{}").count(), vi.matches("{}").count(), "{en}");
            }
        }
    }
}
