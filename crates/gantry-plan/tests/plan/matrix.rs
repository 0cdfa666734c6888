//! `tests/fixtures/matrix/*.json`: `{"matrix": ..., "rows": [...]}`, `{"matrix": ..., "count": N}`
//! or `{"matrix": ..., "error": "message"}`.

use gantry_plan::matrix::{expand, json_eq};
use serde_json::Value;

use crate::json_fixtures;

#[test]
fn matrix_fixtures() {
    let cases = json_fixtures("matrix");
    assert!(cases.len() >= 20);
    for (name, case) in cases {
        let result = expand(&case["matrix"]);
        if let Some(message) = case.get("error") {
            let error = result.expect_err(&name);
            assert_eq!(error.to_string(), message.as_str().unwrap(), "{name}");
            continue;
        }
        let rows = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        if let Some(count) = case.get("count") {
            assert_eq!(rows.len() as u64, count.as_u64().unwrap(), "{name}");
            continue;
        }
        let actual = Value::Array(rows.into_iter().map(Value::Object).collect());
        assert!(
            json_eq(&actual, &case["rows"]),
            "{name}:\nexpected {}\nactual   {actual}",
            case["rows"]
        );
        // Key order matters too: it is the order GitHub lists matrix values in job names.
        let keys = |rows: &Value| -> Vec<Vec<String>> {
            rows.as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_object().unwrap().keys().cloned().collect())
                .collect()
        };
        assert_eq!(keys(&actual), keys(&case["rows"]), "{name}: key order");
    }
}
