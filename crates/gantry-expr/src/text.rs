//! Case-insensitive string handling as GitHub does it.
//!
//! Upstream compares strings after upper-casing them character by character (.NET's
//! ordinal-ignore-case), and orders them by UTF-16 code units. Two consequences the test vectors
//! pin down: the dotless `ı` does not match `I`, and `İ` does not match `i`. Characters whose
//! upper case is several characters (`ß` → `SS`) are kept as they are, as .NET's simple case
//! mapping does.

use std::cmp::Ordering;

/// Upper-cases `s` for comparisons, one character to one character.
pub(crate) fn fold(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_uppercase();
    }
    s.chars().map(fold_char).collect()
}

fn fold_char(c: char) -> char {
    if c == 'ı' {
        return c;
    }
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Case-insensitive equality (object keys, string `==`).
pub(crate) fn eq_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    fold(a) == fold(b)
}

/// Case-insensitive ordering by UTF-16 code units, as `<`/`>` on strings need.
pub(crate) fn cmp_ignore_case(a: &str, b: &str) -> Ordering {
    fold(a).encode_utf16().cmp(fold(b).encode_utf16())
}

/// Position of `byte_offset` as upstream reports it: 1-based, counted in UTF-16 code units.
pub(crate) fn utf16_position(source: &str, byte_offset: usize) -> usize {
    let end = byte_offset.min(source.len());
    source.get(..end).map_or(end, |s| s.encode_utf16().count()) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_matches_upstream_special_cases() {
        assert!(eq_ignore_case("ς", "Σ"));
        assert!(eq_ignore_case("σ", "ς"));
        assert!(eq_ignore_case("ü", "Ü"));
        assert!(!eq_ignore_case("i", "İ"));
        assert!(!eq_ignore_case("ı", "I"));
        assert_eq!(cmp_ignore_case("a", "["), Ordering::Less);
        assert_eq!(cmp_ignore_case("ı", "I"), Ordering::Greater);
        assert!(!eq_ignore_case("straße", "STRASSE"));
        assert!(eq_ignore_case("STRAßE", "straße"));
    }

    #[test]
    fn positions_count_utf16_units() {
        assert_eq!(utf16_position("😊 x", 0), 1);
        assert_eq!(utf16_position("😊 x", 5), 4);
    }
}
