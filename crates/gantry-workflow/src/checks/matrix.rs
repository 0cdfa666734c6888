//! `strategy.matrix`: empty vectors and repeated values, and `exclude` entries that can never
//! match (a key that names no vector, or a value the vector does not have): such an entry
//! silently excludes nothing.

use super::{Sink, is_expression};
use crate::model::{Matrix, Spanned, Yaml};

type Dimension = (Spanned<String>, Spanned<Yaml>);
type Entry = [(Spanned<String>, Spanned<Yaml>)];

pub(super) fn check(matrix: &Spanned<Matrix>, sink: &mut Sink) {
    let Matrix::Map {
        dimensions,
        exclude,
        ..
    } = &matrix.value
    else {
        return;
    };
    for dimension in dimensions {
        check_vector(dimension, sink);
    }
    if let Some(exclude) = exclude {
        for entry in entries(exclude) {
            check_exclude_entry(entry, dimensions, sink);
        }
    }
}

fn check_vector((name, values): &Dimension, sink: &mut Sink) {
    let Yaml::Seq(items) = &values.value else {
        return;
    };
    if items.is_empty() {
        let message = format!("Matrix vector '{}' does not contain any values", name.value);
        sink.error(values.span, "matrix", message);
    }
    // Repeats are exact: GitHub runs `'9'` and `'9.0'` as two jobs.
    let mut seen: Vec<&Yaml> = Vec::new();
    for item in items {
        let key = &item.value;
        if !matches!(key, Yaml::Seq(_) | Yaml::Map(_)) && seen.contains(&key) {
            let message = format!(
                "Value '{}' appears more than once in matrix vector '{}'.",
                display(&item.value),
                name.value
            );
            sink.warning(item.span, "matrix", message);
        }
        seen.push(key);
    }
}

/// The mapping entries of an `exclude` list. Entries of another shape are the schema's to
/// report; an expression (for the whole list or one entry) is only known at run time.
fn entries(list: &Spanned<Yaml>) -> Vec<&Entry> {
    let Yaml::Seq(items) = &list.value else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match &item.value {
            Yaml::Map(entries) => Some(entries.as_slice()),
            _ => None,
        })
        .collect()
}

/// GitHub removes exclusions from the vectors' combinations before adding `include`s, so each
/// key must be a vector and each scalar value one of that vector's values.
fn check_exclude_entry(entry: &Entry, dimensions: &[Dimension], sink: &mut Sink) {
    for (key, value) in entry {
        match dimensions.iter().find(|(n, _)| n.value == key.value) {
            Some((_, vector)) => check_exclude_value(key, value, vector, sink),
            None => {
                let names: Vec<&str> = dimensions.iter().map(|(n, _)| n.value.as_str()).collect();
                let known = if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                };
                let message = format!(
                    "Matrix 'exclude' key '{}' is not a vector of the matrix (vectors: {known}).",
                    key.value
                );
                sink.error(key.span, "matrix", message);
            }
        }
    }
}

fn check_exclude_value(
    key: &Spanned<String>,
    value: &Spanned<Yaml>,
    vector: &Spanned<Yaml>,
    sink: &mut Sink,
) {
    let (Some(wanted), Yaml::Seq(items)) = (loose_key(&value.value), &vector.value) else {
        return;
    };
    if items.is_empty() {
        // Already reported as an empty vector.
        return;
    }
    // Values only known at run time, or objects, are out of reach of a static check.
    let Some(known) = items
        .iter()
        .map(|i| loose_key(&i.value))
        .collect::<Option<Vec<_>>>()
    else {
        return;
    };
    if !known.contains(&wanted) {
        let values: Vec<String> = items.iter().map(|i| display(&i.value)).collect();
        let message = format!(
            "Matrix 'exclude' value '{}' for '{}' matches none of the vector's values ({}).",
            display(&value.value),
            key.value,
            values.join(", ")
        );
        sink.error(value.span, "matrix", message);
    }
}

/// A scalar as GitHub's loose `==` compares it: numeric strings as numbers, other strings
/// case-insensitively. `None` for collections and expressions.
fn loose_key(value: &Yaml) -> Option<String> {
    match value {
        Yaml::Null => Some(String::new()),
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::String(s) if is_expression(s) => None,
        Yaml::String(s) => Some(match s.trim().parse::<f64>() {
            Ok(n) => n.to_string(),
            Err(_) => s.to_lowercase(),
        }),
        Yaml::Seq(_) | Yaml::Map(_) => None,
    }
}

fn display(value: &Yaml) -> String {
    match value {
        Yaml::Null => "null".to_owned(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Number(n) => n.to_string(),
        Yaml::String(s) => s.clone(),
        Yaml::Seq(_) => "[...]".to_owned(),
        Yaml::Map(_) => "{...}".to_owned(),
    }
}
