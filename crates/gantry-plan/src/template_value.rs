//! Free-form template values (a matrix, `with:` of a call) to JSON, with the rules GitHub's
//! template evaluator applies while it unravels a value (`TemplateUnraveler` of
//! actions/workflow-parser):
//!
//! - a sequence item that is an expression evaluating to a sequence is *spliced* into the
//!   enclosing sequence (`- ${{ fromJSON('[1, 2]') }}` adds two items, not one list);
//! - a mapping key holding `${{ }}` is evaluated to a string (a primitive is converted, an
//!   object or array is "Expected a string");
//! - the key `${{ insert }}` merges its value, a mapping or an expression evaluating to one,
//!   into the enclosing mapping;
//! - keys of one mapping compare case-insensitively, and a key defined twice (after merging)
//!   is "'key' is already defined".
//!
//! Expressions are evaluated by the caller (given the source text, `${{ }}` included), so this
//! module knows no context and does no I/O.

use gantry_workflow::Yaml;
use serde_json::{Map, Value};
use thiserror::Error;

/// Why a template value could not be built: the caller's evaluation failed, or the value breaks
/// one of GitHub's rules for template values (messages are GitHub's).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum TemplateValueError<E> {
    #[error(transparent)]
    Eval(E),
    #[error(transparent)]
    Shape(#[from] ValueShapeError),
}

/// A value that breaks one of GitHub's rules for template values.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValueShapeError {
    #[error("'{0}' is already defined")]
    DuplicateKey(String),
    #[error("Expected a mapping")]
    InsertNotMapping,
    #[error("Expected a string")]
    KeyNotString,
}

/// GitHub's run-time errors are evaluation errors; callers that speak [`gantry_expr::ExprError`]
/// keep doing so.
impl From<TemplateValueError<gantry_expr::ExprError>> for gantry_expr::ExprError {
    fn from(error: TemplateValueError<gantry_expr::ExprError>) -> Self {
        match error {
            TemplateValueError::Eval(error) => error,
            TemplateValueError::Shape(shape) => {
                gantry_expr::ExprError::evaluation(shape.to_string())
            }
        }
    }
}

/// Converts free-form YAML to JSON with GitHub's template rules; strings holding `${{` go
/// through `eval`.
pub fn yaml_to_json<E, F>(yaml: &Yaml, eval: &mut F) -> Result<Value, TemplateValueError<E>>
where
    F: FnMut(&str) -> Result<Value, E>,
{
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(*b),
        Yaml::Number(n) => number(*n),
        Yaml::String(s) if has_expression(s) => eval(s).map_err(TemplateValueError::Eval)?,
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Seq(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let value = yaml_to_json(&item.value, eval)?;
                match (&item.value, value) {
                    // Only an expression item is spliced: a literal nested list stays a list.
                    (Yaml::String(_), Value::Array(spliced)) => out.extend(spliced),
                    (_, value) => out.push(value),
                }
            }
            Value::Array(out)
        }
        Yaml::Map(entries) => {
            let mut map = Map::new();
            for (key, value) in entries {
                if is_insert(&key.value) {
                    let Value::Object(inserted) = yaml_to_json(&value.value, eval)? else {
                        return Err(ValueShapeError::InsertNotMapping.into());
                    };
                    for (k, v) in inserted {
                        add_key(&mut map, k, v)?;
                    }
                    continue;
                }
                let key = if has_expression(&key.value) {
                    key_string(eval(&key.value).map_err(TemplateValueError::Eval)?)?
                } else {
                    key.value.clone()
                };
                add_key(&mut map, key, yaml_to_json(&value.value, eval)?)?;
            }
            Value::Object(map)
        }
    })
}

/// Every expression string of a value, keys included, in source order; the `insert` directive
/// is not an expression and is left out.
pub fn expressions(yaml: &Yaml, found: &mut Vec<String>) {
    match yaml {
        Yaml::String(s) if has_expression(s) => found.push(s.clone()),
        Yaml::Seq(items) => items.iter().for_each(|i| expressions(&i.value, found)),
        Yaml::Map(entries) => {
            for (key, value) in entries {
                if has_expression(&key.value) && !is_insert(&key.value) {
                    found.push(key.value.clone());
                }
                expressions(&value.value, found);
            }
        }
        _ => {}
    }
}

fn has_expression(text: &str) -> bool {
    text.contains("${{")
}

/// `${{ insert }}`, the whole key (the workflow reader already rejected other spellings).
fn is_insert(key: &str) -> bool {
    key.strip_prefix("${{")
        .and_then(|rest| rest.strip_suffix("}}"))
        .is_some_and(|inner| inner.trim() == "insert")
}

fn add_key(map: &mut Map<String, Value>, key: String, value: Value) -> Result<(), ValueShapeError> {
    if map.keys().any(|k| eq_ignore_case(k, &key)) {
        return Err(ValueShapeError::DuplicateKey(key));
    }
    map.insert(key, value);
    Ok(())
}

fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_uppercase)
        .eq(b.chars().flat_map(char::to_uppercase))
}

/// A key expression's result as the key: primitives as the expression language prints them.
fn key_string(value: Value) -> Result<String, ValueShapeError> {
    match value {
        Value::Array(_) | Value::Object(_) => Err(ValueShapeError::KeyNotString),
        Value::String(s) => Ok(s),
        other => Ok(gantry_expr::Value::from(&other).to_display_string()),
    }
}

/// Whole numbers become JSON integers so that `matrix.version` renders as `14`, not `14.0`.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}
