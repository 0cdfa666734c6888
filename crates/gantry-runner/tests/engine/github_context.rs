//! The `github` context planning sees (the daemon's planner, `gantry run`'s matrices) agrees
//! field for field with what the run's steps see, for every real webhook payload in
//! `conformance/webhooks`: one builder, so `concurrency: ${{ github.ref_name }}` cannot mean one
//! thing at plan time and another at run time.

use std::path::{Path, PathBuf};

use gantry_plan::{EventFacts, GithubInfo, RUN_FIELDS, STEP_FIELDS};
use serde_json::{Map, Value as Json};

use crate::harness::{options, run_source};

const WEBHOOKS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/webhooks"
);

/// Every `(event, file, payload)`: the directory names the event.
fn payloads() -> Vec<(String, PathBuf, Json)> {
    let mut found = Vec::new();
    for dir in std::fs::read_dir(WEBHOOKS).unwrap() {
        let dir = dir.unwrap().path();
        let event = dir.file_name().unwrap().to_string_lossy().into_owned();
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            let payload = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            found.push((event.clone(), file, payload));
        }
    }
    found.sort_by(|a, b| a.1.cmp(&b.1));
    assert!(found.len() >= 10, "the webhook payloads are missing");
    found
}

/// What the planner builds for the event, before the run exists.
fn planned(event: &str, payload: &Json) -> GithubInfo {
    // A payload without a default branch (an organization ping) runs on the repository's own.
    let git_ref = gantry_plan::event_ref(event, payload)
        .map_or_else(|_| "refs/heads/main".to_owned(), |r| r.git_ref);
    GithubInfo::for_event(&EventFacts {
        event_name: event,
        payload,
        repository: "octo/hello",
        sha: "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        git_ref: &git_ref,
        workflow_path: ".github/workflows/context.yml",
        workflow_name: Some("Context"),
    })
}

/// The `github` context the run's step saw, as `toJSON(github)` wrote it.
async fn seen_by_a_step(info: GithubInfo, out: &Path) -> Map<String, Json> {
    let source = format!(
        "name: Context\non: push\njobs:\n  dump:\n    runs-on: x\n    steps:\n      - env:\n          CTX: ${{{{ toJSON(github) }}}}\n        run: printf '%s' \"$CTX\" > '{}'\n",
        out.display()
    );
    let mut options = options();
    options.github = info;
    let outcome = run_source(&source, options, None).await;
    assert_eq!(
        outcome.result.conclusion,
        gantry_runner::Conclusion::Success,
        "{}",
        outcome.everything()
    );
    let text = std::fs::read_to_string(out).unwrap();
    match serde_json::from_str(&text).unwrap() {
        Json::Object(map) => map,
        other => panic!("github is not an object: {other}"),
    }
}

#[tokio::test]
async fn plan_and_run_time_contexts_agree() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (event, file, payload)) in payloads().into_iter().enumerate() {
        let name = file.display();
        let info = GithubInfo {
            run_id: "42".into(),
            run_number: 42,
            ..planned(&event, &payload)
        };
        let plan_time = info.context_before_run();
        let run_time = seen_by_a_step(info, &dir.path().join(format!("{i}.json"))).await;
        for (key, value) in &plan_time {
            if STEP_FIELDS.contains(&key.as_str()) {
                continue;
            }
            assert_eq!(run_time.get(key), Some(value), "{name}: github.{key}");
        }
        // Every run-level field a step sees is known at plan time, except the run numbers.
        let unknown: Vec<&String> = run_time
            .keys()
            .filter(|k| !plan_time.contains_key(*k) && !RUN_FIELDS.contains(&k.as_str()))
            .filter(|k| !STEP_FIELDS.contains(&k.as_str()))
            // The step's own file-command paths.
            .filter(|k| !["env", "output", "state", "path", "step_summary"].contains(&k.as_str()))
            .collect();
        assert!(unknown.is_empty(), "{name}: only at run time: {unknown:?}");
        assert_eq!(run_time["event_name"], event.as_str(), "{name}");
        assert_eq!(run_time["actor"], "Codertocat", "{name}");
        assert_eq!(run_time["workflow"], "Context", "{name}");
        if event == "release" {
            assert_eq!(run_time["ref_name"], "0.0.1", "{name}");
            assert_eq!(run_time["ref_type"], "tag", "{name}");
        }
    }
}
