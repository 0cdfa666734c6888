//! Data-driven end-to-end cases: every `fixtures/*.yml` is a workflow whose `#!` comment lines
//! state the options and the expected outcome. A `fixtures/<name>.workspace/` directory, when
//! present, becomes the workspace (local actions live there).
//!
//! ```text
//! #! secret NAME=value        #! var NAME=value          #! max-jobs N
//! #! run success              #! job KEY failure         #! step KEY PATH OUTCOME CONCLUSION
//! #! output KEY NAME=VALUE    #! log KEY TEXT            #! nolog TEXT
//! #! annotation LEVEL TEXT    #! summary TEXT            #! before KEY_A KEY_B
//! #! annotation-file PATH    #! runner-env NAME=value   #! masked VALUE
//! ```

use std::path::{Path, PathBuf};

use gantry_runner::{Conclusion, RunEvent};

use std::sync::Arc;

use gantry_runner::executor::{Executor, Platform};

use crate::harness::{Outcome, options, run_source_on};

/// Where a fixture runs: the test host executor, or a Docker image.
pub enum Backend {
    Host,
    Docker {
        executor: Arc<dyn Executor>,
        image: String,
        run_id: String,
    },
}

fn conclusion(s: &str) -> Conclusion {
    match s {
        "success" => Conclusion::Success,
        "failure" => Conclusion::Failure,
        "cancelled" => Conclusion::Cancelled,
        "skipped" => Conclusion::Skipped,
        other => panic!("unknown conclusion {other}"),
    }
}

fn directives(source: &str) -> Vec<(String, String)> {
    source
        .lines()
        .filter_map(|l| l.strip_prefix("#! "))
        .map(|l| {
            let (k, v) = l.split_once(' ').unwrap_or((l, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn check(outcome: &Outcome, key: &str, arg: &str, failures: &mut Vec<String>) {
    let mut words = arg.splitn(2, ' ');
    let first = words.next().unwrap_or_default();
    let rest = words.next().unwrap_or_default();
    let fail =
        |failures: &mut Vec<String>, what: String| failures.push(format!("{key} {arg}: {what}"));
    match key {
        "run" => {
            if outcome.result.conclusion != conclusion(first) {
                fail(failures, format!("got {:?}", outcome.result.conclusion));
            }
        }
        "job" => match outcome.job(first) {
            Some(j) if j.conclusion == conclusion(rest) => {}
            other => fail(failures, format!("got {:?}", other.map(|j| j.conclusion))),
        },
        "step" => {
            let parts: Vec<&str> = arg.split(' ').collect();
            let found = outcome.events.iter().find_map(|e| match e {
                RunEvent::StepFinished {
                    job,
                    step,
                    outcome,
                    conclusion,
                    ..
                } if job == parts[0] && step.path == parts[1] => Some((*outcome, *conclusion)),
                _ => None,
            });
            let want = (conclusion(parts[2]), conclusion(parts[3]));
            if found != Some(want) {
                fail(failures, format!("got {found:?}"));
            }
        }
        "output" => {
            let (name, value) = rest.split_once('=').unwrap_or((rest, ""));
            let got = outcome
                .job(first)
                .and_then(|j| j.outputs.get(name))
                .and_then(|v| v.as_str());
            if got != Some(value) {
                fail(failures, format!("got {got:?}"));
            }
        }
        "log" => {
            if !outcome.logs(first).iter().any(|l| l.contains(rest)) {
                fail(failures, format!("logs were {:#?}", outcome.logs(first)));
            }
        }
        "nolog" => {
            if outcome.everything().contains(arg) {
                fail(failures, "found it".into());
            }
        }
        "annotation" => {
            let found = outcome.result.annotations.iter().any(|a| {
                serde_json::to_value(a.level).unwrap() == first && a.message.contains(rest)
            });
            if !found {
                fail(
                    failures,
                    format!("annotations were {:#?}", outcome.result.annotations),
                );
            }
        }
        "annotation-file" => {
            if !outcome
                .result
                .annotations
                .iter()
                .any(|a| a.file.as_deref() == Some(arg))
            {
                fail(
                    failures,
                    format!("annotations were {:#?}", outcome.result.annotations),
                );
            }
        }
        "summary" => {
            if !outcome.result.summary.contains(arg) {
                fail(
                    failures,
                    format!("summary was {:?}", outcome.result.summary),
                );
            }
        }
        "before" => {
            let finished = outcome
                .position(|e| matches!(e, RunEvent::JobFinished { job, .. } if job == first));
            let started =
                outcome.position(|e| matches!(e, RunEvent::JobStarted { job, .. } if job == rest));
            match (finished, started) {
                (Some(f), Some(s)) if f < s => {}
                other => fail(failures, format!("positions {other:?}")),
            }
        }
        "secret" | "var" | "max-jobs" | "runner-env" | "masked" => {}
        other => fail(failures, format!("unknown directive {other}")),
    }
}

pub async fn run_fixture(path: &Path, backend: &Backend) -> Vec<String> {
    let source = std::fs::read_to_string(path).unwrap();
    let directives = directives(&source);
    let mut opts = options();
    let executor: Arc<dyn Executor> = match backend {
        Backend::Host => Arc::new(crate::host::TestHost::new()),
        Backend::Docker {
            executor,
            image,
            run_id,
        } => {
            opts.run_id = run_id.clone();
            opts.default_platform = Some(Platform::Image(image.clone()));
            executor.clone()
        }
    };
    for (key, arg) in &directives {
        let (name, value) = arg.split_once('=').unwrap_or((arg, ""));
        match key.as_str() {
            "secret" => {
                opts.secrets
                    .insert(name.to_owned(), value.replace("\\n", "\n"));
            }
            "var" => {
                opts.vars.insert(name.to_owned(), value.to_owned());
            }
            "max-jobs" => opts.max_jobs = arg.parse().unwrap(),
            "runner-env" => {
                opts.runner_env.insert(name.to_owned(), value.to_owned());
            }
            "masked" => opts.masked_values.push(arg.clone()),
            _ => {}
        }
    }
    let workspace = path.with_extension("workspace");
    let outcome = run_source_on(
        &source,
        opts,
        workspace.is_dir().then_some(workspace.as_path()),
        executor,
    )
    .await;
    let mut failures = Vec::new();
    for (key, arg) in &directives {
        check(&outcome, key, arg, &mut failures);
    }
    failures
}

pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/engine/fixtures")
}

/// The `*.yml` fixtures of a directory (not its subdirectories: `docker/` holds Docker-only
/// cases).
pub fn fixture_files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
}

fn fixture_files() -> Vec<PathBuf> {
    fixture_files_in(&fixture_dir())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixtures_run_as_expected() {
    let files = fixture_files();
    assert!(files.len() >= 10, "fixtures are missing");
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for f in run_fixture(file, &Backend::Host).await {
            failures.push(format!("{name}: {f}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
