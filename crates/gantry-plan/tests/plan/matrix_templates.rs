//! `tests/fixtures/matrix-templates/<case>.yml` (a workflow whose job `a` has a matrix) with
//! `<case>.json`: `{"contexts"?: {...}, "rows": [...]}` or `{"error": "message"}`. The matrix
//! goes through GitHub's template rules (sequence splicing, `${{ insert }}`, key expressions)
//! before include/exclude.

use gantry_plan::{MatrixContexts, MatrixPlan, job_matrix_with};
use gantry_workflow::parse_workflow;
use serde_json::Value;

use crate::fixtures;

#[test]
fn matrix_template_fixtures() {
    let cases = fixtures("matrix-templates", "yml");
    assert!(cases.len() >= 5);
    for (name, source) in cases {
        let expected_path =
            crate::fixture_dir("matrix-templates").join(name.replace(".yml", ".json"));
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
        let parsed = parse_workflow(&name, &source);
        assert!(!parsed.has_errors(), "{name}: {:?}", parsed.diagnostics);
        let workflow = parsed.value.unwrap();
        let given = &expected["contexts"];
        let contexts = MatrixContexts {
            github: Some(given.get("github").cloned().unwrap_or_default()),
            inputs: Some(given.get("inputs").cloned().unwrap_or_default()),
            vars: Some(given.get("vars").cloned().unwrap_or_default()),
            needs: Some(given.get("needs").cloned().unwrap_or_default()),
        };
        let result = job_matrix_with(&workflow.jobs["a"], &contexts);
        if let Some(message) = expected.get("error") {
            let error = result.expect_err(&name).to_string();
            assert_eq!(error, message.as_str().unwrap(), "{name}");
            continue;
        }
        let plan = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        let MatrixPlan::Rows(rows) = plan else {
            panic!("{name}: {plan:?}")
        };
        let rows = Value::Array(rows.into_iter().map(Value::Object).collect());
        assert_eq!(rows, expected["rows"], "{name}");
    }
}
