//! Name matching for Vietnamese commune names.
//!
//! Planners and rangers type names without diacritics ("loc binh"), with the other
//! tone-mark placement ("Thủy" / "Thuỷ", "Hòa" / "Hoà"), in any case and spacing.
//! [`fold`] maps all of those to one key: NFD, drop combining marks, đ → d,
//! lowercase, collapse whitespace. Names are served in NFC.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// The search key of a name.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        let c = match c {
            'đ' | 'Đ' => 'd',
            c => c,
        };
        if c.is_whitespace() || c == '-' || c == '_' {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn without_diacritics_and_case() {
        assert_eq!(fold("Lộc Bình"), "loc binh");
        assert_eq!(fold("  LOC   binh "), "loc binh");
        assert_eq!(fold("Đình Lập"), fold("dinh lap"));
    }

    #[test]
    fn tone_mark_placements_are_the_same_name() {
        assert_eq!(fold("Đàm Thuỷ"), fold("Đàm Thủy"));
        assert_eq!(fold("Hoà"), fold("Hòa"));
        // decomposed input
        assert_eq!(fold("Lo\u{0323}\u{0302}c Bi\u{0300}nh"), "loc binh");
    }

    #[test]
    fn different_names_differ() {
        assert_ne!(fold("Lộc Bình"), fold("Lộc Bình Xã"));
        assert_ne!(fold("Tân Văn"), fold("Tân Vân x"));
    }
}
