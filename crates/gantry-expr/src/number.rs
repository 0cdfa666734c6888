//! Number conversions exactly as GitHub performs them.
//!
//! Three different textual forms exist upstream and each has its own function here:
//! - string → number follows JavaScript's `Number(string)` (whitespace trimmed, `0x`/`0o`/`0b`
//!   prefixes, `Infinity`, empty string is zero); the lexer uses it for number literals too;
//! - number → string (coercion, `format`, object keys) is .NET's `ToString("G15")`, which is what
//!   the GitHub runner's `ExpressionConstants.NumberFormat` uses;
//! - number → JSON text (`toJSON`) is JavaScript's shortest round-trip `Number.prototype.toString`.

use std::fmt::Write as _;

/// Whitespace as JavaScript's `String.prototype.trim` and the `\s` regex class define it.
pub(crate) fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// Converts a string to a number the way JavaScript's `Number(string)` does; NaN when invalid.
pub fn parse_number(text: &str) -> f64 {
    let t = text.trim_matches(is_js_space);
    if t.is_empty() {
        return 0.0;
    }
    if let Some(n) = parse_radix_literal(t) {
        return n;
    }
    match t {
        "Infinity" | "+Infinity" => return f64::INFINITY,
        "-Infinity" => return f64::NEG_INFINITY,
        _ => {}
    }
    if !is_decimal_literal(t) {
        return f64::NAN;
    }
    t.parse::<f64>().unwrap_or(f64::NAN)
}

/// `0x1F`, `0o17`, `0b101` (no sign allowed, at least one digit).
fn parse_radix_literal(t: &str) -> Option<f64> {
    let bytes = t.as_bytes();
    if bytes.len() < 2 || bytes[0] != b'0' {
        return None;
    }
    let radix = match bytes[1] {
        b'x' | b'X' => 16,
        b'o' | b'O' => 8,
        b'b' | b'B' => 2,
        _ => return None,
    };
    let digits = &t[2..];
    if digits.is_empty() {
        return Some(f64::NAN);
    }
    let mut value = 0.0_f64;
    for c in digits.chars() {
        match c.to_digit(radix) {
            Some(d) => value = value * f64::from(radix) + f64::from(d),
            None => return Some(f64::NAN),
        }
    }
    Some(value)
}

/// `[+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?` — checked before handing the
/// text to Rust's parser, which would also accept `inf` and `nan`.
fn is_decimal_literal(t: &str) -> bool {
    let b = t.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let int_digits = count_digits(&b[i..]);
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = count_digits(&b[i..]);
        i += frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_digits = count_digits(&b[i..]);
        if exp_digits == 0 {
            return false;
        }
        i += exp_digits;
    }
    i == b.len()
}

fn count_digits(b: &[u8]) -> usize {
    b.iter().take_while(|c| c.is_ascii_digit()).count()
}

/// Decimal digits (no leading/trailing zeros) and the decimal exponent of the first digit.
fn decompose(scientific: &str) -> (String, i32) {
    let (mantissa, exp) = scientific.split_once('e').unwrap_or((scientific, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    (digits.to_string(), exp.parse().unwrap_or(0))
}

/// Formats a number as GitHub coerces it to a string: .NET `G15` with the invariant culture.
///
/// 15 significant digits; fixed notation when the decimal exponent is greater than -5 and less
/// than the precision (.NET's documented rule for `G`), otherwise `d.dddE+XX`. Negative zero
/// prints as `0` (the conformance data requires it).
pub fn format_number(n: f64) -> String {
    if n.is_nan() {
        return "NaN".to_string();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if n == 0.0 {
        return "0".to_string();
    }
    let (digits, exp) = decompose(&format!("{:.14e}", n.abs()));
    let mut out = String::new();
    if n < 0.0 {
        out.push('-');
    }
    if !(-4..15).contains(&exp) {
        push_scientific(&mut out, &digits, exp, "E", 2);
    } else {
        push_fixed(&mut out, &digits, exp);
    }
    out
}

/// Formats a number as JavaScript's `JSON.stringify` does (shortest round-trip digits).
/// Non-finite numbers have no JSON form; callers write `null` for them.
pub(crate) fn format_json_number(n: f64) -> String {
    if !n.is_finite() {
        return "null".to_string();
    }
    if n == 0.0 {
        return "0".to_string();
    }
    let (digits, exp) = decompose(&format!("{:e}", n.abs()));
    let mut out = String::new();
    if n < 0.0 {
        out.push('-');
    }
    // JavaScript switches to exponent notation below 1e-6 and from 1e21 on.
    if (-6..21).contains(&exp) {
        push_fixed(&mut out, &digits, exp);
    } else {
        push_scientific(&mut out, &digits, exp, "e", 1);
    }
    out
}

fn push_fixed(out: &mut String, digits: &str, exp: i32) {
    if exp < 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
        out.push_str(digits);
        return;
    }
    let int_len = exp as usize + 1;
    if digits.len() <= int_len {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', int_len - digits.len()));
    } else {
        out.push_str(&digits[..int_len]);
        out.push('.');
        out.push_str(&digits[int_len..]);
    }
}

fn push_scientific(out: &mut String, digits: &str, exp: i32, marker: &str, min_exp_digits: usize) {
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push_str(marker);
    out.push(if exp < 0 { '-' } else { '+' });
    let _ = write!(
        out,
        "{:0width$}",
        exp.unsigned_abs(),
        width = min_exp_digits
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_javascript_number() {
        assert_eq!(parse_number(" 0xff "), 255.0);
        assert_eq!(parse_number("0o10"), 8.0);
        assert_eq!(parse_number("0b101"), 5.0);
        assert_eq!(parse_number(""), 0.0);
        assert_eq!(parse_number(" +1.2e2 "), 120.0);
        assert_eq!(parse_number(".5"), 0.5);
        assert_eq!(parse_number("5."), 5.0);
        assert_eq!(parse_number("-Infinity"), f64::NEG_INFINITY);
        assert!(parse_number("-0xff").is_nan());
        assert!(parse_number("inf").is_nan());
        assert!(parse_number("NaN").is_nan());
        assert!(parse_number("1e").is_nan());
        assert!(parse_number(".").is_nan());
        assert!(parse_number("0x").is_nan());
    }

    #[test]
    fn formats_like_dotnet_g15() {
        assert_eq!(format_number(0.845_512_408_225_57), "0.84551240822557");
        assert_eq!(format_number(123456.789), "123456.789");
        assert_eq!(format_number(1.0 / 3.0), "0.333333333333333");
        assert_eq!(format_number(1e15), "1E+15");
        assert_eq!(format_number(123456789012345.0), "123456789012345");
        assert_eq!(format_number(1e20), "1E+20");
        assert_eq!(format_number(1.5e-6), "1.5E-06");
        assert_eq!(format_number(1e-4), "0.0001");
        assert_eq!(format_number(1e-5), "1E-05");
        assert_eq!(format_number(f64::MAX), "1.79769313486232E+308");
        assert_eq!(
            format_number(1_587_106_672_383_762_434.0),
            "1.58710667238376E+18"
        );
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(0.1 + 0.2), "0.3");
    }

    #[test]
    fn formats_json_like_javascript() {
        assert_eq!(format_json_number(-1234.5), "-1234.5");
        assert_eq!(format_json_number(2f64.powi(60)), "1152921504606847000");
        assert_eq!(format_json_number(1e21), "1e+21");
        assert_eq!(format_json_number(1e-7), "1e-7");
        assert_eq!(format_json_number(0.000001), "0.000001");
        assert_eq!(format_json_number(0.1 + 0.2), "0.30000000000000004");
    }
}
