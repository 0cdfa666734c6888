//! `strategy.matrix` expansion, as GitHub's workflow parser does it.
//!
//! 1. The cartesian product of the vectors, in key order (the first key varies slowest).
//! 2. `exclude` removes every combination that an entry matches.
//! 3. An `include` entry splits into a *filter* (its keys that are matrix vectors) and *extra*
//!    values (the other keys). Every remaining combination the filter matches gets the extra
//!    values, later entries overwriting earlier extras; so an entry is added wherever it does not
//!    overwrite an original value. An entry that matches no combination becomes a new
//!    combination (filter keys first, then extras). Combinations created by include are never
//!    extended by later entries.
//!
//! Matching compares each *leaf* of the entry (a nested mapping is a partial match) with the
//! expression language's loose `==`: strings ignore case, and mixed types compare as numbers.
//!
//! The input is the matrix as JSON after expressions were evaluated: the caller evaluates a
//! matrix that is an expression (`${{ fromJSON(needs.x.outputs.m) }}`), or a vector that is one,
//! and hands in the result.

use serde_json::{Map, Value};
use thiserror::Error;

/// GitHub's limit on jobs one matrix may generate per workflow run.
pub const MAX_MATRIX_JOBS: usize = 256;

/// One combination: the `matrix` context of one job run.
pub type MatrixRow = Map<String, Value>;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MatrixError {
    #[error("a matrix must be a mapping of vectors, found {0}")]
    NotAMapping(&'static str),
    #[error("matrix vector '{0}' must be a sequence, found {1}")]
    VectorNotASequence(String, &'static str),
    #[error("matrix vector '{0}' does not contain any values")]
    EmptyVector(String),
    #[error("matrix '{0}' must be a sequence of mappings, found {1}")]
    ListNotASequence(&'static str, &'static str),
    #[error("matrix '{key}' entry #{index} must be a mapping, found {found}")]
    EntryNotAMapping {
        key: &'static str,
        index: usize,
        found: &'static str,
    },
    #[error("matrix exclude key '{0}' does not match any key within the matrix")]
    UnknownExcludeKey(String),
    #[error("matrix include entry #{0} does not contain any values")]
    EmptyInclude(usize),
    #[error("matrix exclude entry #{0} must not be empty")]
    EmptyExclude(usize),
    #[error("matrix must define at least one vector or include entry")]
    NoVectors,
    #[error("the matrix produces {0} jobs, more than GitHub's limit of {MAX_MATRIX_JOBS}")]
    TooManyJobs(usize),
}

/// Expands a matrix (a JSON object) into its rows.
pub fn expand(matrix: &Value) -> Result<Vec<MatrixRow>, MatrixError> {
    let Value::Object(map) = matrix else {
        return Err(MatrixError::NotAMapping(kind(matrix)));
    };
    let vectors = vectors(map)?;
    let exclude = entries(map, "exclude")?;
    let include = entries(map, "include")?;
    if vectors.is_empty() && include.is_empty() {
        return Err(MatrixError::NoVectors);
    }
    check_entries(&include, &exclude, &vectors)?;
    let mut rows = product(&vectors);
    rows.retain(|row| {
        !exclude
            .iter()
            .any(|entry| filter_matches(entry.iter(), row))
    });
    let rows = apply_include(rows, &include, &vectors);
    if rows.len() > MAX_MATRIX_JOBS {
        return Err(MatrixError::TooManyJobs(rows.len()));
    }
    Ok(rows)
}

type Vectors<'a> = Vec<(&'a String, &'a Vec<Value>)>;

fn vectors(map: &Map<String, Value>) -> Result<Vectors<'_>, MatrixError> {
    let mut out = Vec::new();
    for (key, value) in map
        .iter()
        .filter(|(k, _)| *k != "include" && *k != "exclude")
    {
        match value {
            Value::Array(items) if items.is_empty() => {
                return Err(MatrixError::EmptyVector(key.clone()));
            }
            Value::Array(items) => out.push((key, items)),
            other => return Err(MatrixError::VectorNotASequence(key.clone(), kind(other))),
        }
    }
    Ok(out)
}

fn entries<'a>(
    map: &'a Map<String, Value>,
    key: &'static str,
) -> Result<Vec<&'a MatrixRow>, MatrixError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(index, item)| match item {
                Value::Object(entry) => Ok(entry),
                other => Err(MatrixError::EntryNotAMapping {
                    key,
                    index,
                    found: kind(other),
                }),
            })
            .collect(),
        Some(other) => Err(MatrixError::ListNotASequence(key, kind(other))),
    }
}

fn check_entries(
    include: &[&MatrixRow],
    exclude: &[&MatrixRow],
    vectors: &Vectors<'_>,
) -> Result<(), MatrixError> {
    if let Some(index) = include.iter().position(|e| e.is_empty()) {
        return Err(MatrixError::EmptyInclude(index));
    }
    if let Some(index) = exclude.iter().position(|e| e.is_empty()) {
        return Err(MatrixError::EmptyExclude(index));
    }
    let unknown = exclude
        .iter()
        .flat_map(|e| e.keys())
        .find(|k| !vectors.iter().any(|(v, _)| v == k));
    unknown.map_or(Ok(()), |k| Err(MatrixError::UnknownExcludeKey(k.clone())))
}

/// The cartesian product; no vectors means no original combinations (an include-only matrix
/// is made of its include entries).
fn product(vectors: &Vectors<'_>) -> Vec<MatrixRow> {
    if vectors.is_empty() {
        return Vec::new();
    }
    vectors
        .iter()
        .fold(vec![MatrixRow::new()], |rows, (key, values)| {
            rows.iter()
                .flat_map(|row| {
                    values.iter().map(move |value| {
                        let mut next = row.clone();
                        next.insert((*key).clone(), value.clone());
                        next
                    })
                })
                .collect()
        })
}

fn apply_include(
    mut rows: Vec<MatrixRow>,
    include: &[&MatrixRow],
    vectors: &Vectors<'_>,
) -> Vec<MatrixRow> {
    let is_vector = |k: &String| vectors.iter().any(|(v, _)| *v == k);
    let mut unmatched = Vec::new();
    for entry in include {
        let filter = entry.iter().filter(|(k, _)| is_vector(k));
        let extra = entry.iter().filter(|(k, _)| !is_vector(k));
        let mut matched = false;
        for row in rows.iter_mut() {
            // The filter holds only vector keys, so extras added earlier never take part.
            if filter_matches(filter.clone(), row) {
                row.extend(extra.clone().map(|(k, v)| (k.clone(), v.clone())));
                matched = true;
            }
        }
        if !matched {
            unmatched.push(
                filter
                    .chain(extra)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            );
        }
    }
    rows.extend(unmatched);
    rows
}

/// Whether every leaf of the filter equals (loosely) the value at the same path in `row`; a
/// missing path reads as null.
fn filter_matches<'a>(
    filter: impl Iterator<Item = (&'a String, &'a Value)>,
    row: &MatrixRow,
) -> bool {
    let mut filter = filter.peekable();
    filter.peek().is_none() || filter.all(|(k, v)| leaves_match(v, row.get(k)))
}

fn leaves_match(filter: &Value, actual: Option<&Value>) -> bool {
    match filter {
        Value::Object(map) => map.iter().all(|(k, v)| {
            leaves_match(v, actual.and_then(|a| a.as_object()).and_then(|a| a.get(k)))
        }),
        Value::Array(items) => items.iter().enumerate().all(|(i, v)| {
            leaves_match(v, actual.and_then(|a| a.as_array()).and_then(|a| a.get(i)))
        }),
        literal => loose_eq(literal, actual.unwrap_or(&Value::Null)),
    }
}

/// The expression language's `==` (strings ignoring case, mixed kinds as numbers, arrays and
/// objects never equal a literal), from the expression crate so matrix matching and `if:` agree.
pub fn loose_eq(a: &Value, b: &Value) -> bool {
    gantry_expr::loose_equal(&a.into(), &b.into())
}

/// Strict JSON equality, except that `1` equals `1.0` (YAML and `fromJSON` may produce either).
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}
