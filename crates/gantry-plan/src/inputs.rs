//! `workflow_dispatch` and `workflow_call` inputs: defaults, required inputs and type checks.

use indexmap::IndexMap;
use serde_json::{Map, Value};
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputKind {
    #[default]
    String,
    Boolean,
    Number,
    Choice,
    Environment,
}

impl InputKind {
    pub fn name(self) -> &'static str {
        match self {
            InputKind::String => "string",
            InputKind::Boolean => "boolean",
            InputKind::Number => "number",
            InputKind::Choice => "choice",
            InputKind::Environment => "environment",
        }
    }
}

/// One declared input.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InputSpec {
    pub kind: InputKind,
    pub required: bool,
    pub default: Option<Value>,
    /// `choice` options.
    pub options: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InputError {
    #[error("required input '{0}' was not provided")]
    Missing(String),
    #[error("unexpected input '{0}': the workflow does not declare it")]
    Unexpected(String),
    #[error("input '{name}' must be a {expected}, got '{found}'")]
    WrongType {
        name: String,
        expected: &'static str,
        found: String,
    },
    #[error("input '{name}' must be one of [{}], got '{value}'", options.join(", "))]
    NotAnOption {
        name: String,
        value: String,
        options: Vec<String>,
    },
}

/// Checks `provided` against `specs` and fills in defaults, returning the `inputs` context:
/// booleans as booleans, numbers as numbers, everything else as strings. Values may come as
/// strings (as the dispatch API and the CLI send them) or as JSON values. An optional input with
/// no value and no default is `false` for booleans and `""` for strings, choices and
/// environments; an unset number is left out (it reads as null).
pub fn resolve_inputs(
    specs: &IndexMap<String, InputSpec>,
    provided: &Map<String, Value>,
) -> Result<Map<String, Value>, Vec<InputError>> {
    let mut errors: Vec<InputError> = provided
        .keys()
        .filter(|k| !specs.contains_key(*k))
        .map(|k| InputError::Unexpected(k.clone()))
        .collect();
    let mut out = Map::new();
    for (name, spec) in specs {
        let given = provided.get(name).filter(|v| !v.is_null());
        match given.or(spec.default.as_ref()) {
            Some(value) => match coerce(name, spec, value) {
                Ok(v) => {
                    out.insert(name.clone(), v);
                }
                Err(e) => errors.push(e),
            },
            None if spec.required => errors.push(InputError::Missing(name.clone())),
            None => {
                out.extend(unset_value(spec.kind).map(|v| (name.clone(), v)));
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn unset_value(kind: InputKind) -> Option<Value> {
    match kind {
        InputKind::Boolean => Some(Value::Bool(false)),
        InputKind::Number => None,
        InputKind::String | InputKind::Choice | InputKind::Environment => {
            Some(Value::String(String::new()))
        }
    }
}

fn coerce(name: &str, spec: &InputSpec, value: &Value) -> Result<Value, InputError> {
    let wrong = || InputError::WrongType {
        name: name.to_owned(),
        expected: spec.kind.name(),
        found: display(value),
    };
    match spec.kind {
        InputKind::Boolean => match value {
            Value::Bool(_) => Ok(value.clone()),
            Value::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
            _ => Err(wrong()),
        },
        InputKind::Number => match value {
            Value::Number(_) => Ok(value.clone()),
            Value::String(s) => parse_number(s).ok_or_else(wrong),
            _ => Err(wrong()),
        },
        InputKind::Choice => {
            let text = scalar_text(value).ok_or_else(wrong)?;
            if spec.options.contains(&text) {
                Ok(Value::String(text))
            } else {
                Err(InputError::NotAnOption {
                    name: name.to_owned(),
                    value: text,
                    options: spec.options.clone(),
                })
            }
        }
        InputKind::String | InputKind::Environment => {
            scalar_text(value).map(Value::String).ok_or_else(wrong)
        }
    }
}

fn parse_number(text: &str) -> Option<Value> {
    let trimmed = text.trim();
    if let Ok(i) = trimmed.parse::<i64>() {
        return Some(Value::from(i));
    }
    trimmed
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn display(value: &Value) -> String {
    scalar_text(value).unwrap_or_else(|| value.to_string())
}
