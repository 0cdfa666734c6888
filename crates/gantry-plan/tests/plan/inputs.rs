//! `workflow_dispatch` inputs: defaults, required inputs and type checks.

use gantry_plan::{InputError, InputKind, InputSpec, resolve_inputs};
use indexmap::IndexMap;
use serde_json::{Map, Value, json};

fn specs() -> IndexMap<String, InputSpec> {
    let spec = |kind, required, default: Option<Value>, options: &[&str]| InputSpec {
        kind,
        required,
        default,
        options: options.iter().map(|o| (*o).to_owned()).collect(),
    };
    IndexMap::from([
        (
            "logLevel".to_owned(),
            spec(
                InputKind::Choice,
                true,
                Some(json!("warning")),
                &["info", "warning", "debug"],
            ),
        ),
        (
            "print_tags".to_owned(),
            spec(InputKind::Boolean, true, None, &[]),
        ),
        ("tags".to_owned(), spec(InputKind::String, false, None, &[])),
        (
            "environment".to_owned(),
            spec(InputKind::Environment, false, Some(json!("staging")), &[]),
        ),
        (
            "count".to_owned(),
            spec(InputKind::Number, false, Some(json!(3)), &[]),
        ),
        ("dry".to_owned(), spec(InputKind::Boolean, false, None, &[])),
    ])
}

fn provided(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

#[test]
fn defaults_and_string_coercion() {
    let inputs = resolve_inputs(
        &specs(),
        &provided(json!({"print_tags": "true", "count": "7.5"})),
    )
    .unwrap();
    assert_eq!(
        Value::Object(inputs),
        json!({"logLevel": "warning", "print_tags": true, "tags": "", "environment": "staging", "count": 7.5, "dry": false})
    );
}

#[test]
fn json_typed_values_are_accepted() {
    let given =
        json!({"logLevel": "debug", "print_tags": false, "tags": 12, "count": 2, "dry": true});
    let inputs = resolve_inputs(&specs(), &provided(given)).unwrap();
    assert_eq!(inputs["tags"], json!("12"));
    assert_eq!(inputs["count"], json!(2));
    assert_eq!(inputs["logLevel"], json!("debug"));
}

#[test]
fn every_error_is_reported() {
    let given = json!({"logLevel": "verbose", "count": "many", "dry": "yes", "extra": "1"});
    let errors = resolve_inputs(&specs(), &provided(given)).unwrap_err();
    assert_eq!(
        errors,
        vec![
            InputError::Unexpected("extra".into()),
            InputError::NotAnOption {
                name: "logLevel".into(),
                value: "verbose".into(),
                options: vec!["info".into(), "warning".into(), "debug".into()]
            },
            InputError::Missing("print_tags".into()),
            InputError::WrongType {
                name: "count".into(),
                expected: "number",
                found: "many".into()
            },
            InputError::WrongType {
                name: "dry".into(),
                expected: "boolean",
                found: "yes".into()
            },
        ]
    );
    assert_eq!(
        errors[1].to_string(),
        "input 'logLevel' must be one of [info, warning, debug], got 'verbose'"
    );
}

#[test]
fn unset_optional_number_is_absent() {
    let specs = IndexMap::from([(
        "n".to_owned(),
        InputSpec {
            kind: InputKind::Number,
            ..InputSpec::default()
        },
    )]);
    assert!(resolve_inputs(&specs, &Map::new()).unwrap().is_empty());
}
