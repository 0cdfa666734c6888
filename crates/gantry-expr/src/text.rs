//! Case-insensitive string handling as GitHub does it.
//!
//! Upstream compares strings after upper-casing them, except that the dotless `ı` is kept as is
//! (JavaScript would upper-case it to `I`, .NET's ordinal-ignore-case does not), and orders them
//! by UTF-16 code units.

use std::cmp::Ordering;

/// Upper-cases `s` for comparisons, leaving the dotless `ı` alone.
pub(crate) fn fold(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_uppercase();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == 'ı' {
            out.push(c);
        } else {
            out.extend(c.to_uppercase());
        }
    }
    out
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
    }

    #[test]
    fn positions_count_utf16_units() {
        assert_eq!(utf16_position("😊 x", 0), 1);
        assert_eq!(utf16_position("😊 x", 5), 4);
    }
}
