//! `tests/fixtures/dag/*.json`: `{"jobs": {id: [needs]}, "order": [...], "needs": {...},
//! "dependents": {...}, "closures": [{"select": [...], "jobs": [...] | "error": "..."}]}` or
//! `{"jobs": ..., "errors": [messages]}`.

use gantry_plan::JobGraph;
use serde_json::Value;

use crate::{json_fixtures, strings};

fn build(jobs: &Value) -> Result<JobGraph, Vec<gantry_plan::DagError>> {
    let jobs = jobs.as_object().unwrap();
    JobGraph::build(jobs.iter().map(|(id, needs)| (id.clone(), strings(needs))))
}

#[test]
fn dag_fixtures() {
    for (name, case) in json_fixtures("dag") {
        let result = build(&case["jobs"]);
        if let Some(expected) = case.get("errors") {
            let errors: Vec<String> = result
                .expect_err(&name)
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(errors, strings(expected), "{name}");
            continue;
        }
        let graph = result.unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(
            graph.topological_order(),
            strings(&case["order"]),
            "{name}: order"
        );
        check_neighbours(&name, &case, "needs", |id| graph.needs(id));
        check_neighbours(&name, &case, "dependents", |id| graph.dependents(id));
        for closure in case
            .get("closures")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let result = graph.closure(&strings(&closure["select"]));
            match closure.get("error") {
                Some(message) => assert_eq!(
                    result.unwrap_err().to_string(),
                    message.as_str().unwrap(),
                    "{name}"
                ),
                None => assert_eq!(
                    result.unwrap(),
                    strings(&closure["jobs"]),
                    "{name}: closure {}",
                    closure["select"]
                ),
            }
        }
    }
}

fn check_neighbours<'g>(name: &str, case: &Value, key: &str, get: impl Fn(&str) -> Vec<&'g str>) {
    for (id, expected) in case
        .get(key)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        assert_eq!(get(id), strings(expected), "{name}: {key} of {id}");
    }
}
