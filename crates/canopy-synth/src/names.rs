//! Matching the commune names of a plan to the names of the communes layer.
//!
//! Vietnamese names are written with two tone-mark placements ("Thụy" / "Thuỵ",
//! "Hòa" / "Hoà"), in composed or decomposed Unicode, and plans have typos ("Lợi Bắc"
//! for "Lợi Bác"). A name matches in two steps:
//!
//! 1. exactly, up to case, Unicode normalisation, white space and tone-mark
//!    placement ([`tone_key`]);
//! 2. failing that, on the diacritic-free form ([`plain_key`]: no combining marks,
//!    đ → d), when exactly one commune has that form.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// The five Vietnamese tone marks as combining characters: grave, acute, tilde, hook
/// above, dot below.
const TONE_MARKS: [char; 5] = ['\u{0300}', '\u{0301}', '\u{0303}', '\u{0309}', '\u{0323}'];

/// Lower-cased words of `s` (NFD), white space collapsed.
fn words(s: &str) -> Vec<String> {
    let d: String = s.nfd().flat_map(char::to_lowercase).collect();
    d.split_whitespace().map(str::to_string).collect()
}

/// The name up to case, normalisation, white space and tone-mark placement: NFD,
/// lower case, and in each word the tone mark moved to the end of the word (the other
/// marks, circumflex, breve and horn, stay on their letters).
pub(crate) fn tone_key(s: &str) -> String {
    let mut out = Vec::new();
    for w in words(s) {
        let mut base = String::with_capacity(w.len());
        let mut tones = String::new();
        for ch in w.chars() {
            if TONE_MARKS.contains(&ch) {
                tones.push(ch);
            } else {
                base.push(ch);
            }
        }
        base.push_str(&tones);
        out.push(base);
    }
    out.join(" ")
}

/// The diacritic-free name: NFD, combining marks dropped, đ → d, lower case, white
/// space collapsed ("Đình Lập" → "dinh lap").
pub(crate) fn plain_key(s: &str) -> String {
    words(s)
        .iter()
        .map(|w| {
            w.chars()
                .filter(|&c| !is_combining_mark(c))
                .map(|c| if c == 'đ' { 'd' } else { c })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// How a name was matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NameMatch {
    /// Same name up to case, normalisation and tone-mark placement.
    Exact(usize),
    /// Only the diacritic-free form matched, and uniquely.
    Plain(usize),
    /// Several communes share the diacritic-free form and none matches exactly.
    Ambiguous(Vec<usize>),
    NotFound,
}

/// Finds `name` among `names` (see the module documentation).
pub(crate) fn find(name: &str, names: &[String]) -> NameMatch {
    let tk = tone_key(name);
    let exact: Vec<usize> = (0..names.len())
        .filter(|&i| tone_key(&names[i]) == tk)
        .collect();
    if let Some(&i) = exact.first() {
        return NameMatch::Exact(i);
    }
    let pk = plain_key(name);
    let plain: Vec<usize> = (0..names.len())
        .filter(|&i| plain_key(&names[i]) == pk)
        .collect();
    match plain.len() {
        0 => NameMatch::NotFound,
        1 => NameMatch::Plain(plain[0]),
        _ => NameMatch::Ambiguous(plain),
    }
}

/// Upper-case initials of the words of `s`, diacritic-free ("Lạng Sơn" → "LS").
pub(crate) fn initials(s: &str) -> String {
    plain_key(s)
        .split(' ')
        .filter_map(|w| w.chars().next())
        .flat_map(char::to_uppercase)
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer() -> Vec<String> {
        [
            "Thuỵ Hùng",
            "Thiện Hoà",
            "Lợi Bác",
            "Đình Lập",
            "Văn Lãng",
            "Vân Lăng",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn synth_names_tone_mark_placement_case_and_normalisation() {
        let l = layer();
        assert_eq!(find("Thụy Hùng", &l), NameMatch::Exact(0));
        assert_eq!(find("thuỵ  hùng ", &l), NameMatch::Exact(0));
        assert_eq!(find("Thiện Hòa", &l), NameMatch::Exact(1));
        assert_eq!(find("THIỆN HOÀ", &l), NameMatch::Exact(1));
        // Decomposed input (o + grave) still matches.
        assert_eq!(
            find("Thie\u{0323}\u{0302}n Hoa\u{0300}", &l),
            NameMatch::Exact(1)
        );
        assert_eq!(find("Đình Lập", &l), NameMatch::Exact(3));
        assert_eq!(tone_key("Thụy"), tone_key("Thuỵ"));
        assert_eq!(tone_key("Hòa"), tone_key("Hoà"));
        assert_ne!(tone_key("Bắc"), tone_key("Bác"));
    }

    #[test]
    fn synth_names_plain_fallback_is_unique_or_nothing() {
        let l = layer();
        // The plan's typo.
        assert_eq!(find("Lợi Bắc", &l), NameMatch::Plain(2));
        assert_eq!(find("dinh lap", &l), NameMatch::Plain(3));
        assert_eq!(plain_key("Đình Lập"), "dinh lap");
        // Two communes share "van lang": an exact name wins, else it is ambiguous.
        assert_eq!(find("Văn Lãng", &l), NameMatch::Exact(4));
        assert_eq!(find("Vàn Lang", &l), NameMatch::Ambiguous(vec![4, 5]));
        assert_eq!(find("Cao Lộc", &l), NameMatch::NotFound);
        assert_eq!(initials("Lạng Sơn"), "LS");
        assert_eq!(initials("Cao Bằng"), "CB");
        assert_eq!(initials("Đắk Lắk"), "DL");
    }
}
