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
    let excluded = exclude.as_ref().map(entries).unwrap_or_default();
    for entry in &excluded {
        check_exclude_entry(entry, dimensions, sink);
    }
    check_size(matrix, dimensions, &excluded, sink);
}

/// GitHub refuses a matrix of more than this many jobs.
const MAX_JOBS: usize = 256;

/// A lower bound of the number of jobs: the product of the vectors, less at most what each
/// `exclude` entry can remove (`include` only adds). Vectors known at run time give no bound.
fn check_size(
    matrix: &Spanned<Matrix>,
    dimensions: &[Dimension],
    excluded: &[&Entry],
    sink: &mut Sink,
) {
    let Some(lengths) = dimensions
        .iter()
        .map(|(name, v)| match &v.value {
            Yaml::Seq(items) => Some((name.value.as_str(), items.len())),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()
    else {
        return;
    };
    let product = lengths
        .iter()
        .fold(1usize, |p, (_, n)| p.saturating_mul(*n));
    let removable: usize = excluded
        .iter()
        .map(|e| most_removed(e, &lengths, product))
        .sum();
    let at_least = product.saturating_sub(removable);
    if !lengths.is_empty() && at_least > MAX_JOBS {
        let message = format!(
            "This matrix makes at least {at_least} jobs; GitHub allows at most {MAX_JOBS} per matrix."
        );
        sink.error(matrix.span, "matrix", message);
    }
}

/// How many combinations one `exclude` entry can remove at most.
fn most_removed(entry: &Entry, lengths: &[(&str, usize)], product: usize) -> usize {
    let mut fixed = 1usize;
    for (key, _) in entry {
        match lengths.iter().find(|(name, _)| *name == key.value) {
            Some((_, n)) => fixed = fixed.saturating_mul(*n),
            // A key that names no vector makes the entry match nothing.
            None => return 0,
        }
    }
    product / fixed.max(1)
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
    if !known.iter().any(|k| gantry_expr::loose_equal(k, &wanted)) {
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

/// A scalar as GitHub's loose `==` sees it. `None` for collections and expressions, which a
/// static check cannot compare.
fn loose_key(value: &Yaml) -> Option<gantry_expr::Value> {
    match value {
        Yaml::Null => Some(gantry_expr::Value::Null),
        Yaml::Bool(b) => Some((*b).into()),
        Yaml::Number(n) => Some((*n).into()),
        Yaml::String(s) if is_expression(s) => None,
        Yaml::String(s) => Some(s.as_str().into()),
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
