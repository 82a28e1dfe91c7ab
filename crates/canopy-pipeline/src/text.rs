//! Vietnamese names: stored and served in Unicode NFC, whatever the source used.
use unicode_normalization::UnicodeNormalization;

/// The NFC form of `s`.
pub fn nfc(s: &str) -> String {
    s.nfc().collect()
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
}
