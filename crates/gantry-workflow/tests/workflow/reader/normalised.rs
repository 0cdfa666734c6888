//! The model agrees with GitHub's normalised output for the accepted conformance cases, where
//! the model keeps the same thing: `env` values (coerced to strings as GitHub coerces them),
//! step `with` values and `needs`.

use std::path::Path;

use gantry_workflow::yaml::format_number;
use gantry_workflow::{Env, Job, Spanned, Step, StepKind, Yaml, parse_workflow};
use indexmap::IndexMap;
use serde_json::Value;

/// GitHub's `{"type": 2, "map": [{"Key": k, "Value": v}]}`, keeping only literal string values.
fn expected_strings(map: &Value) -> Vec<(String, String)> {
    let Some(entries) = map.get("map").and_then(Value::as_array) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|e| {
            Some((
                e["Key"].as_str()?.to_owned(),
                e["Value"].as_str()?.to_owned(),
            ))
        })
        .collect()
}

/// A free-form value as GitHub coerces it to a string.
fn coerced(y: &Yaml) -> Option<String> {
    match y {
        Yaml::Null => Some(String::new()),
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Number(n) => Some(format_number(*n)),
        Yaml::String(s) => Some(s.clone()),
        Yaml::Seq(_) | Yaml::Map(_) => None,
    }
}

struct Compare {
    checked: usize,
    mismatches: Vec<String>,
}

impl Compare {
    fn values(&mut self, what: &str, expected: &Value, actual: &dyn Fn(&str) -> Option<String>) {
        for (key, value) in expected_strings(expected) {
            self.checked += 1;
            let found = actual(&key);
            if found.as_deref() != Some(value.as_str()) {
                self.mismatches
                    .push(format!("{what}.{key}: expected {value:?}, found {found:?}"));
            }
        }
    }

    fn env(&mut self, what: &str, expected: &Value, env: &Env) {
        self.values(what, expected, &|k| env.get(k).map(|v| v.value.clone()));
    }

    fn with(&mut self, what: &str, expected: &Value, with: &IndexMap<String, Spanned<Yaml>>) {
        self.values(what, expected, &|k| {
            with.get(k).and_then(|v| coerced(&v.value))
        });
    }

    fn job(&mut self, case: &str, expected: &Value, job: &Job) {
        let what = format!("{case}: job {}", job.id.value);
        if let Some(env) = expected.get("env") {
            self.env(&format!("{what} env"), env, &job.env);
        }
        if let Some(needs) = expected.get("needs").and_then(Value::as_array) {
            self.checked += 1;
            let names: Vec<&str> = needs.iter().filter_map(Value::as_str).collect();
            let ours: Vec<&str> = job.needs.iter().map(|n| n.value.as_str()).collect();
            if names != ours {
                self.mismatches
                    .push(format!("{what} needs: expected {names:?}, found {ours:?}"));
            }
        }
        let steps = expected.get("steps").and_then(Value::as_array);
        // Steps the model does not keep (background `wait` steps) would shift indices.
        if let Some(steps) = steps.filter(|s| s.len() == job.steps.len()) {
            for (i, (exp, step)) in steps.iter().zip(&job.steps).enumerate() {
                self.step(&format!("{what} step {i}"), exp, step);
            }
        }
    }

    fn step(&mut self, what: &str, expected: &Value, step: &Step) {
        if let Some(env) = expected.get("env") {
            self.env(&format!("{what} env"), env, &step.env);
        }
        if let (Some(with), StepKind::Uses { with: ours, .. }) = (expected.get("with"), &step.kind)
        {
            self.with(&format!("{what} with"), with, ours);
        }
    }
}

#[test]
fn model_matches_githubs_normalised_output() {
    let dir = super::conformance_dir().join("workflow-parser");
    let mut compare = Compare {
        checked: 0,
        mismatches: Vec::new(),
    };
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
    {
        compare_case(path, &mut compare);
    }
    println!("normalised output: {} values compared", compare.checked);
    assert!(compare.checked > 20, "too few values compared");
    assert!(compare.mismatches.is_empty(), "{:#?}", compare.mismatches);
}

fn compare_case(path: &Path, compare: &mut Compare) {
    let text = std::fs::read_to_string(path).unwrap().replace("\r\n", "\n");
    let parts: Vec<&str> = text.split("\n---\n").collect();
    let Ok(expected) = serde_json::from_str::<Value>(parts[parts.len() - 1]) else {
        return;
    };
    let Some(jobs) = expected.get("jobs").and_then(Value::as_array) else {
        return;
    };
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let Some(wf) = parse_workflow(&name, parts[1]).value else {
        return;
    };
    for exp in jobs {
        let id = exp.get("id").and_then(Value::as_str).unwrap_or_default();
        if let Some(job) = wf.jobs.get(id) {
            compare.job(&name, exp, job);
        }
    }
}
