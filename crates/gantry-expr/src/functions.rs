//! Built-in functions (except `case`, which the evaluator runs lazily).
//!
//! Functions that build strings receive the longest output the evaluation's memory limit still
//! allows and stop as soon as they would exceed it, so a hostile `format` cannot allocate
//! gigabytes before the limit is checked.

use crate::compare::loose_equals;
use crate::eval::{Evaluated, Segment};
use crate::text::fold;
use crate::value::{TooLong, Value, ValueKind, write_json};

/// Upstream's evaluation error messages.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum FuncError {
    #[error("The following format string is invalid: {0}")]
    InvalidFormat(String),
    #[error("The following format string references more arguments than were supplied: {0}")]
    FormatArgument(String),
    #[error("The format specifiers '{specifiers}' are not valid for objects of type '{kind}'")]
    FormatSpecifiers { specifiers: String, kind: ValueKind },
    #[error("case predicate must evaluate to a boolean value")]
    CasePredicate,
    #[error("Error parsing JSON when evaluating fromJson: {0}")]
    FromJson(String),
    #[error("The maximum allowed memory size was exceeded")]
    MemoryExceeded,
}

impl From<TooLong> for FuncError {
    fn from(_: TooLong) -> Self {
        FuncError::MemoryExceeded
    }
}

/// Runs a built-in; `name` is lower-case and the arity was checked by the parser.
pub(crate) fn call_builtin(
    name: &str,
    args: &[Evaluated],
    max_len: usize,
) -> Result<Evaluated, FuncError> {
    let arg = |i: usize| args.get(i).map_or(&Value::Null, |a| &a.value);
    let value = match name {
        "contains" => Value::Bool(contains(args)),
        "startswith" => Value::Bool(affix(arg(0), arg(1), |s, p| s.starts_with(p))),
        "endswith" => Value::Bool(affix(arg(0), arg(1), |s, p| s.ends_with(p))),
        "format" => Value::String(format(args, max_len)?),
        "join" => Value::String(join(arg(0), args.get(1).map(|a| &a.value), max_len)?),
        "tojson" => Value::String(to_json(arg(0), max_len)?),
        "fromjson" => from_json(arg(0))?,
        _ => Value::Null,
    };
    Ok(Evaluated::fresh(value))
}

fn check_len(out: &str, max_len: usize) -> Result<(), FuncError> {
    if out.len() > max_len {
        Err(FuncError::MemoryExceeded)
    } else {
        Ok(())
    }
}

/// Substring test on primitives; membership (loose equality) on arrays.
fn contains(args: &[Evaluated]) -> bool {
    let (Some(haystack), Some(needle)) = (args.first(), args.get(1)) else {
        return false;
    };
    match &haystack.value {
        Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
            loose_equals(&needle.value, item, || {
                // An element read from the context is the same reference as the needle when the
                // needle was read from that very element.
                let element = haystack.origin.as_ref().filter(|_| !haystack.filtered);
                needle.origin.is_some()
                    && needle.origin == element.map(|o| o.child(Segment::Index(i)))
            })
        }),
        h if h.is_primitive() && needle.value.is_primitive() => {
            fold(&h.to_display_string()).contains(&fold(&needle.value.to_display_string()))
        }
        _ => false,
    }
}

/// `startsWith`/`endsWith`: case-insensitive, primitives only.
fn affix(subject: &Value, affix: &Value, test: fn(&str, &str) -> bool) -> bool {
    if !subject.is_primitive() || !affix.is_primitive() {
        return false;
    }
    test(
        &fold(&subject.to_display_string()),
        &fold(&affix.to_display_string()),
    )
}

fn join(items: &Value, separator: Option<&Value>, max_len: usize) -> Result<String, FuncError> {
    let Value::Array(items) = items else {
        return Ok(if items.is_primitive() {
            items.to_display_string()
        } else {
            String::new()
        });
    };
    let separator = match separator {
        Some(sep) if sep.is_primitive() => sep.to_display_string(),
        _ => ",".to_string(),
    };
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(&separator);
        }
        out.push_str(&item.to_display_string());
        check_len(&out, max_len)?;
    }
    Ok(out)
}

fn to_json(value: &Value, max_len: usize) -> Result<String, FuncError> {
    let mut out = String::new();
    write_json(&mut out, value, 0, max_len)?;
    Ok(out)
}

fn from_json(text: &Value) -> Result<Value, FuncError> {
    let text = text.to_display_string();
    if text.trim().is_empty() {
        return Err(FuncError::FromJson("empty input".to_string()));
    }
    Value::from_json_str(&text).map_err(|e| FuncError::FromJson(e.to_string()))
}

/// `format('{0} and {1}', a, b)` with `{{`/`}}` escapes, as the runner implements it.
fn format(args: &[Evaluated], max_len: usize) -> Result<String, FuncError> {
    let fs = args
        .first()
        .map(|a| a.value.to_display_string())
        .unwrap_or_default();
    let bytes = fs.as_bytes();
    let find = |c: u8, from: usize| {
        bytes
            .get(from..)?
            .iter()
            .position(|&b| b == c)
            .map(|p| p + from)
    };
    let invalid = || FuncError::InvalidFormat(fs.clone());
    let mut out = String::new();
    let mut index = 0;
    while index < bytes.len() {
        let (lbrace, rbrace) = (find(b'{', index), find(b'}', index));
        match (lbrace, rbrace) {
            (Some(l), r) if r.is_none_or(|r| r > l) => {
                if bytes.get(l + 1) == Some(&b'{') {
                    out.push_str(&fs[index..=l]);
                    index = l + 2;
                    continue;
                }
                let r = r.filter(|&r| r > l + 1).ok_or_else(invalid)?;
                let arg = placeholder_argument(&fs, l, r, args)?;
                out.push_str(&fs[index..l]);
                out.push_str(&arg.to_display_string());
                index = r + 1;
            }
            (_, Some(r)) => {
                if bytes.get(r + 1) != Some(&b'}') {
                    return Err(invalid());
                }
                out.push_str(&fs[index..=r]);
                index = r + 2;
            }
            _ => {
                out.push_str(&fs[index..]);
                index = bytes.len();
            }
        }
        check_len(&out, max_len)?;
    }
    Ok(out)
}

/// The argument a `{N}` or `{N:spec}` placeholder between `l` and `r` refers to.
fn placeholder_argument<'a>(
    fs: &str,
    l: usize,
    r: usize,
    args: &'a [Evaluated],
) -> Result<&'a Value, FuncError> {
    let inner = &fs[l + 1..r];
    let digits = inner.bytes().take_while(u8::is_ascii_digit).count();
    let number: usize = inner[..digits]
        .parse::<u32>()
        .map_err(|_| FuncError::InvalidFormat(fs.to_string()))? as usize;
    let arg = args
        .get(number + 1)
        .ok_or_else(|| FuncError::FormatArgument(fs.to_string()))?;
    let specifiers = match &inner[digits..] {
        "" => "",
        rest => rest
            .strip_prefix(':')
            .ok_or_else(|| FuncError::InvalidFormat(fs.to_string()))?,
    };
    // Format specifiers only apply to dates upstream, which expressions never produce.
    if !specifiers.is_empty() {
        let kind = arg.value.kind();
        return Err(FuncError::FormatSpecifiers {
            specifiers: specifiers.to_string(),
            kind,
        });
    }
    Ok(&arg.value)
}
