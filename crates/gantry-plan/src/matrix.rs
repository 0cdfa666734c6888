//! `strategy.matrix` expansion, exactly as GitHub documents it.
//!
//! 1. The cartesian product of the vectors, in key order (the first key varies slowest).
//! 2. `exclude` removes every combination that matches all the keys of an entry (a partial match).
//! 3. Each `include` entry is added to every original combination whose *original* values it
//!    does not overwrite (keys added by an earlier include may be overwritten). An entry that
//!    fits no original combination becomes a new combination. Combinations created by include
//!    are never extended by later entries.
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
    check_exclude_keys(&exclude, &vectors)?;
    let mut rows = product(&vectors);
    rows.retain(|row| !exclude.iter().any(|entry| is_subset(entry, row)));
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

fn check_exclude_keys(exclude: &[&MatrixRow], vectors: &Vectors<'_>) -> Result<(), MatrixError> {
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
    let originals = rows.len();
    let is_original_key = |k: &String| vectors.iter().any(|(v, _)| *v == k);
    for entry in include {
        let mut added = false;
        for row in rows.iter_mut().take(originals) {
            let keeps_originals = entry
                .iter()
                .filter(|(k, _)| is_original_key(k))
                .all(|(k, v)| row.get(k).is_some_and(|r| json_eq(r, v)));
            if keeps_originals {
                row.extend(entry.iter().map(|(k, v)| (k.clone(), v.clone())));
                added = true;
            }
        }
        if !added {
            rows.push((*entry).clone());
        }
    }
    rows
}

/// Whether every key of `entry` has an equal value in `row`.
fn is_subset(entry: &MatrixRow, row: &MatrixRow) -> bool {
    entry
        .iter()
        .all(|(k, v)| row.get(k).is_some_and(|r| json_eq(r, v)))
}

/// JSON equality where `1` equals `1.0` (YAML and `fromJSON` may produce either).
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
