//! Values that expressions consume and produce, with GitHub's coercions.

use indexmap::IndexMap;

use crate::number::{format_json_number, format_number, parse_number};
use crate::text::{eq_ignore_case, fold};

/// An expression value: the JSON data model with `f64` numbers.
///
/// Object keys keep their original spelling and order; lookups through [`Value::get`] are
/// case-insensitive like GitHub's (the first matching key wins).
/// The derived `PartialEq` is structural; the expression language's own `==` (loose, with
/// coercions and reference identity for arrays and objects) lives in the evaluator.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Value>),
    Object(IndexMap<String, Value>),
}

/// The kind of a value, named as GitHub names them in messages and test data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueKind {
    Null,
    Boolean,
    Number,
    String,
    Array,
    Object,
}

impl ValueKind {
    /// `"Null"`, `"Boolean"`, `"Number"`, `"String"`, `"Array"` or `"Object"`.
    pub fn name(self) -> &'static str {
        match self {
            ValueKind::Null => "Null",
            ValueKind::Boolean => "Boolean",
            ValueKind::Number => "Number",
            ValueKind::String => "String",
            ValueKind::Array => "Array",
            ValueKind::Object => "Object",
        }
    }
}

impl std::fmt::Display for ValueKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Value {
    pub fn kind(&self) -> ValueKind {
        match self {
            Value::Null => ValueKind::Null,
            Value::Bool(_) => ValueKind::Boolean,
            Value::Number(_) => ValueKind::Number,
            Value::String(_) => ValueKind::String,
            Value::Array(_) => ValueKind::Array,
            Value::Object(_) => ValueKind::Object,
        }
    }

    /// Null, booleans, numbers and strings are primitives; arrays and objects are not.
    pub fn is_primitive(&self) -> bool {
        !matches!(self, Value::Array(_) | Value::Object(_))
    }

    /// GitHub truthiness: `null`, `false`, `0`, `-0`, `NaN` and `''` are falsy; everything else,
    /// including empty arrays and objects, is truthy.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => !(*n == 0.0 || n.is_nan()),
            Value::String(s) => !s.is_empty(),
            Value::Array(_) | Value::Object(_) => true,
        }
    }

    /// GitHub's number coercion: null → 0, booleans → 0/1, strings parsed (NaN when invalid),
    /// arrays and objects → NaN.
    pub fn to_number(&self) -> f64 {
        match self {
            Value::Null => 0.0,
            Value::Bool(b) => f64::from(u8::from(*b)),
            Value::Number(n) => *n,
            Value::String(s) => parse_number(s),
            Value::Array(_) | Value::Object(_) => f64::NAN,
        }
    }

    /// GitHub's string coercion: null → `""`, booleans → `true`/`false`, numbers in .NET `G15`
    /// form, arrays → `Array`, objects → `Object`.
    pub fn to_display_string(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => format_number(*n),
            Value::String(s) => s.clone(),
            Value::Array(_) => "Array".to_string(),
            Value::Object(_) => "Object".to_string(),
        }
    }

    /// Case-insensitive property lookup on objects; `None` for other values or missing keys.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(map) => find_key(map, key).map(|i| &map[i]),
            _ => None,
        }
    }

    /// The element at `index` of an array.
    pub fn get_index(&self, index: usize) -> Option<&Value> {
        match self {
            Value::Array(items) => items.get(index),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Plain JSON. Integral numbers become JSON integers; NaN and ±Infinity become `null`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => number_to_json(*n),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Object(map) => serde_json::Value::Object(
                map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect(),
            ),
        }
    }

    /// The text `toJSON()` produces: 2-space indented JSON, `[]`/`{}` for empty containers.
    pub fn to_json_pretty(&self) -> String {
        let mut out = String::new();
        let _ = write_json(&mut out, self, 0, usize::MAX);
        out
    }

    /// Parses JSON text (what `fromJSON()` accepts).
    pub fn from_json_str(text: &str) -> Result<Value, serde_json::Error> {
        serde_json::from_str::<serde_json::Value>(text).map(Value::from)
    }
}

/// Index of the first key equal to `key` ignoring case.
pub(crate) fn find_key(map: &IndexMap<String, Value>, key: &str) -> Option<usize> {
    if let Some(i) = map.get_index_of(key) {
        // An exact hit is only the answer when no earlier key matches case-insensitively.
        if map.keys().take(i).all(|k| !eq_ignore_case(k, key)) {
            return Some(i);
        }
    }
    map.keys().position(|k| eq_ignore_case(k, key))
}

fn number_to_json(n: f64) -> serde_json::Value {
    if !n.is_finite() {
        return serde_json::Value::Null;
    }
    // Integral values within the exact-integer range of f64 print without a fraction.
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        return serde_json::Value::from(n as i64);
    }
    serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

/// The text was cut short because it grew beyond the caller's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLong;

/// Writes `value` as `JSON.stringify(value, null, 2)` would, stopping once `out` exceeds `limit`
/// bytes so that huge outputs are refused before they are built.
pub(crate) fn write_json(
    out: &mut String,
    value: &Value,
    indent: usize,
    limit: usize,
) -> Result<(), TooLong> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&format_json_number(*n)),
        Value::String(s) => write_json_string(out, s),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                open_entry(out, i, indent + 1);
                write_json(out, item, indent + 1, limit)?;
            }
            close_container(out, indent, ']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                open_entry(out, i, indent + 1);
                write_json_string(out, key);
                out.push_str(": ");
                write_json(out, item, indent + 1, limit)?;
            }
            close_container(out, indent, '}');
        }
    }
    if out.len() > limit {
        Err(TooLong)
    } else {
        Ok(())
    }
}

fn open_entry(out: &mut String, index: usize, indent: usize) {
    if index > 0 {
        out.push(',');
    }
    out.push('\n');
    out.extend(std::iter::repeat_n(' ', indent * 2));
}

fn close_container(out: &mut String, indent: usize, close: char) {
    out.push('\n');
    out.extend(std::iter::repeat_n(' ', indent * 2));
    out.push(close);
}

fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                use std::fmt::Write as _;
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl From<serde_json::Value> for Value {
    fn from(json: serde_json::Value) -> Self {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(items) => {
                Value::Array(items.into_iter().map(Value::from).collect())
            }
            serde_json::Value::Object(map) => Value::Object(object_from_json(map)),
        }
    }
}

impl From<&Value> for serde_json::Value {
    fn from(value: &Value) -> Self {
        value.to_json()
    }
}

impl From<Value> for serde_json::Value {
    fn from(value: Value) -> Self {
        value.to_json()
    }
}

/// Keys that differ only in case name the same property; like GitHub's dictionaries, the first
/// one is kept.
fn object_from_json(map: serde_json::Map<String, serde_json::Value>) -> IndexMap<String, Value> {
    let mut seen = std::collections::HashSet::with_capacity(map.len());
    let mut out = IndexMap::with_capacity(map.len());
    for (key, value) in map {
        if seen.insert(fold(&key)) {
            out.insert(key, Value::from(value));
        }
    }
    out
}

impl From<&serde_json::Value> for Value {
    fn from(json: &serde_json::Value) -> Self {
        Value::from(json.clone())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Self {
        Value::Number(n)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::Array(items)
    }
}

impl From<IndexMap<String, Value>> for Value {
    fn from(map: IndexMap<String, Value>) -> Self {
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive_and_first_match_wins() {
        let v = Value::from(serde_json::json!({"Foo": 1, "foo": 2}));
        assert_eq!(v.get("FOO"), Some(&Value::Number(1.0)));
        assert_eq!(v.get("foo"), Some(&Value::Number(1.0)));
        assert_eq!(v.get("bar"), None);
    }

    #[test]
    fn json_objects_keep_the_first_of_case_insensitive_duplicates() {
        let v = Value::from(serde_json::json!({"Foo": 1, "foo": 2, "bar": 3}));
        let Value::Object(map) = v else {
            panic!("object expected")
        };
        assert_eq!(map.keys().collect::<Vec<_>>(), ["Foo", "bar"]);
    }

    #[test]
    fn pretty_json_matches_javascript() {
        let v = Value::from(serde_json::json!({"a": [1, 2.5, "x\n"], "b": {}, "c": []}));
        assert_eq!(
            v.to_json_pretty(),
            "{\n  \"a\": [\n    1,\n    2.5,\n    \"x\\n\"\n  ],\n  \"b\": {},\n  \"c\": []\n}"
        );
    }

    #[test]
    fn to_json_prints_integers_without_fraction() {
        assert_eq!(Value::Number(3.0).to_json().to_string(), "3");
        assert_eq!(Value::Number(f64::NAN).to_json(), serde_json::Value::Null);
    }
}
