//! `strategy.matrix`: empty vectors, `include`/`exclude` shapes, and `exclude` keys that name no
//! matrix vector (such an entry can never match, so it silently excludes nothing).

use super::{Sink, is_expression};
use crate::model::{Matrix, Spanned, Yaml};

pub(super) fn check(matrix: &Spanned<Matrix>, sink: &mut Sink) {
    let Matrix::Map {
        dimensions,
        include,
        exclude,
    } = &matrix.value
    else {
        return;
    };
    for (name, values) in dimensions {
        if let Yaml::Seq(items) = &values.value
            && items.is_empty()
        {
            let message = format!("Matrix vector '{}' does not contain any values", name.value);
            sink.error(values.span, "matrix", message);
        }
    }
    if let Some(include) = include {
        entries(include, "include", sink);
    }
    if let Some(exclude) = exclude {
        let names: Vec<&str> = dimensions.iter().map(|(n, _)| n.value.as_str()).collect();
        for entry in entries(exclude, "exclude", sink) {
            check_exclude_keys(entry, &names, sink);
        }
    }
}

/// The mapping entries of an `include`/`exclude` list; reports entries that are not mappings.
/// An expression (for the whole list or one entry) is only known at run time.
fn entries<'a>(
    list: &'a Spanned<Yaml>,
    key: &str,
    sink: &mut Sink,
) -> Vec<&'a [(Spanned<String>, Spanned<Yaml>)]> {
    let Yaml::Seq(items) = &list.value else {
        return Vec::new();
    };
    let mut maps = Vec::new();
    for item in items {
        match &item.value {
            Yaml::Map(entries) => maps.push(entries.as_slice()),
            Yaml::String(s) if is_expression(s) => {}
            _ => sink.error(
                item.span,
                "matrix",
                format!("Each entry of matrix '{key}' must be a mapping."),
            ),
        }
    }
    maps
}

fn check_exclude_keys(entry: &[(Spanned<String>, Spanned<Yaml>)], names: &[&str], sink: &mut Sink) {
    for (key, _) in entry {
        if !names.contains(&key.value.as_str()) {
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
