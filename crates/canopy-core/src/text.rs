//! Vietnamese names: stored and served in Unicode NFC, whatever the source used.
use unicode_normalization::UnicodeNormalization;

/// The NFC form of `s`.
pub fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// A search key: lower case, without diacritics (đ → d), single spaces, so that
/// "loc binh", "Loc Binh" and "Lộc Bình" all give "loc binh".
pub fn fold(s: &str) -> String {
    let bare: String = s
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .map(|c| match c {
            'đ' | 'Đ' => 'd',
            c => c,
        })
        .flat_map(char::to_lowercase)
        .collect();
    bare.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn decomposed_becomes_composed() {
        // "Lộc" written with combining marks (o + dot below + circumflex).
        let decomposed = "Lo\u{0323}\u{0302}c";
        assert_eq!(super::nfc(decomposed), "Lộc");
        assert_eq!(super::nfc(decomposed).chars().count(), 3);
    }

    #[test]
    fn fold_drops_diacritics_and_case() {
        assert_eq!(super::fold("Lộc  Bình"), "loc binh");
        assert_eq!(super::fold("Đình Lập"), "dinh lap");
        assert_eq!(super::fold("Lo\u{0323}\u{0302}c Bi\u{0300}nh"), "loc binh");
        assert_eq!(super::fold("loc binh"), "loc binh");
    }
}
