//! Every case of GitHub's expression test vectors (`actions/languageservices`,
//! `expressions/testdata`), run the way upstream's `xlang.test.ts` runs them: the keys of
//! `contexts` are the only allowed named values, results are compared as JSON (`-0` equals `0`),
//! and an error case passes when the error kind matches and the message contains `value`.

use std::path::{Path, PathBuf};

use gantry_expr::{ErrorKind, ExprError, ParseOptions, Value, evaluate, parse};
use serde_json::Value as Json;

use crate::support::JsonContext;

fn data_dir() -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/expressions"
    ))
    .to_path_buf()
}

struct Case {
    file: String,
    group: String,
    json: Json,
}

fn load_cases() -> Vec<Case> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .expect("conformance data directory exists")
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        assert_eq!(
            path.extension().and_then(|e| e.to_str()),
            Some("json"),
            "unexpected file {path:?}"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let groups: serde_json::Map<String, Json> = serde_json::from_str(&text).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        for (group, list) in groups {
            for json in list.as_array().unwrap() {
                cases.push(Case {
                    file: file.clone(),
                    group: group.clone(),
                    json: json.clone(),
                });
            }
        }
    }
    cases
}

/// Runs one case; `Err` describes the mismatch.
fn run_case(case: &Json) -> Result<(), String> {
    let source = case["expr"].as_str().ok_or("case without expr")?;
    let ctx = JsonContext::from_json(case.get("contexts").unwrap_or(&Json::Null));
    let options = ctx
        .keys()
        .fold(ParseOptions::new(), |opts, key| opts.named_value(key));
    let outcome = parse(source, &options).and_then(|expr| evaluate(&expr, &ctx));
    match (outcome, case.get("err"), case.get("result")) {
        (Err(actual), Some(expected), _) => check_error(&actual, expected),
        (Ok(actual), None, Some(expected)) => check_result(&actual, expected),
        (Ok(actual), Some(expected), _) => Err(format!(
            "expected error {expected}, got {:?}",
            actual.to_json()
        )),
        (Err(actual), None, _) => Err(format!(
            "unexpected error {:?}: {}",
            actual.kind, actual.message
        )),
        (Ok(_), None, None) => Err("case has neither result nor err".to_string()),
    }
}

fn check_error(actual: &ExprError, expected: &Json) -> Result<(), String> {
    let kind = match expected["kind"].as_str() {
        Some("lexing") => ErrorKind::Lexing,
        Some("parsing") => ErrorKind::Parsing,
        Some("evaluation") => ErrorKind::Evaluation,
        other => return Err(format!("unknown error kind {other:?}")),
    };
    let needle = expected["value"].as_str().unwrap_or_default();
    if actual.kind != kind || !actual.message.contains(needle) {
        return Err(format!(
            "expected {kind:?} containing {needle:?}, got {:?}: {:?}",
            actual.kind, actual.message
        ));
    }
    Ok(())
}

fn check_result(actual: &Value, expected: &Json) -> Result<(), String> {
    let kind = expected["kind"].as_str().unwrap_or_default();
    if actual.kind().name() != kind {
        return Err(format!(
            "expected kind {kind}, got {} ({:?})",
            actual.kind(),
            actual.to_json()
        ));
    }
    let actual_json = actual.to_json();
    if !json_equal(&actual_json, &expected["value"]) {
        return Err(format!("expected {}, got {actual_json}", expected["value"]));
    }
    Ok(())
}

/// JSON equality with numbers compared as f64 (so `-0 == 0` and `1.0 == 1`) and objects by keys.
fn json_equal(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn every_upstream_case_passes() {
    let cases = load_cases();
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(why) = run_case(&case.json) {
            failures.push(format!(
                "{} / {}: {}\n    {why}",
                case.file, case.group, case.json["expr"]
            ));
        }
    }
    let passed = cases.len() - failures.len();
    println!("upstream expression cases: {passed}/{} passed", cases.len());
    assert!(
        cases.len() >= 776,
        "expected at least 776 cases, found {}",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn json_equality_treats_negative_zero_as_zero() {
    assert!(json_equal(&serde_json::json!(-0.0), &serde_json::json!(0)));
    assert!(!json_equal(
        &serde_json::json!({"a": 1}),
        &serde_json::json!({"a": 2})
    ));
}
