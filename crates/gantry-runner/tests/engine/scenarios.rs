//! End-to-end cases that need more than a fixture: cancellation, parallelism limits and the
//! log writer.

use gantry_runner::{Conclusion, LogWriter, RunEvent, next_run_dir, run};
use std::sync::Arc;
use tokio::sync::mpsc;

use crate::harness::{options, run_source};
use crate::host::TestHost;

const SLEEPER: &str = r#"
on: push
jobs:
  slow:
    runs-on: ubuntu-latest
    steps:
      - run: echo started; sleep 30
      - run: echo "not after cancel"
      - if: always()
        run: echo "cleanup step ran"
  later:
    needs: slow
    runs-on: ubuntu-latest
    steps:
      - run: echo never
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_stops_steps_but_always_steps_and_cleanup_run() {
    let parsed = gantry_workflow::parse_workflow("t.yml", SLEEPER);
    let workflow = Arc::new(parsed.value.unwrap());
    let event = gantry_plan::Event::new("push", serde_json::json!({}));
    let gantry_plan::WorkflowOutcome::Run(plan) =
        gantry_plan::plan_workflow(&workflow, &event, &[]).unwrap()
    else {
        panic!("no plan")
    };
    let opts = options();
    let cancel = opts.cancel.clone();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let host = Arc::new(TestHost::new());
    let root = host.root.path().to_path_buf();
    let task = tokio::spawn(async move { run(workflow, &plan, opts, host, tx).await });
    let mut events = Vec::new();
    while let Some(event) = rx.recv().await {
        if matches!(&event, RunEvent::Log { line, .. } if line == "started") {
            cancel.cancel();
        }
        events.push(event);
    }
    let result = task.await.unwrap();
    assert_eq!(result.conclusion, Conclusion::Cancelled);
    let step = |path: &str| {
        events.iter().find_map(|e| match e {
            RunEvent::StepFinished {
                job,
                step,
                conclusion,
                ..
            } if job == "slow" && step.path == path => Some(*conclusion),
            _ => None,
        })
    };
    assert_eq!(step("0"), Some(Conclusion::Cancelled));
    assert_eq!(step("1"), Some(Conclusion::Skipped));
    assert_eq!(step("2"), Some(Conclusion::Success));
    let later = result.jobs.iter().find(|j| j.job == "later").unwrap();
    assert_eq!(later.conclusion, Conclusion::Skipped);
    // The executor's cleanup removed the job directory.
    assert!(!root.join("slow").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_jobs_one_runs_independent_jobs_one_after_another() {
    let source = r#"
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps: [{ run: "true" }]
  b:
    runs-on: ubuntu-latest
    steps: [{ run: "true" }]
"#;
    let mut opts = options();
    opts.max_jobs = 1;
    let outcome = run_source(source, opts, None).await;
    let kinds: Vec<&str> = outcome
        .events
        .iter()
        .filter_map(|e| match e {
            RunEvent::JobStarted { .. } => Some("start"),
            RunEvent::JobFinished { .. } => Some("end"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["start", "end", "start", "end"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_writer_stores_steps_summary_and_result() {
    let source = r###"
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - name: Say hi
        run: |
          echo "hello ${{ secrets.PW }}"
          echo "## done" >> "$GITHUB_STEP_SUMMARY"
          echo "::warning::careful"
"###;
    let mut opts = options();
    opts.secrets.insert("PW".into(), "hunter2".into());
    let outcome = run_source(source, opts, None).await;
    let root = tempfile::tempdir().unwrap();
    let dir = next_run_dir(&root.path().join(".gantry/runs")).unwrap();
    assert!(dir.ends_with("1"));
    let mut writer = LogWriter::new(&dir).unwrap();
    for event in &outcome.events {
        writer.handle(event).unwrap();
    }
    writer.finish(&outcome.result).unwrap();
    let log = std::fs::read_to_string(dir.join("jobs/build/0-Say_hi.log")).unwrap();
    assert!(log.contains("hello ***"), "{log}");
    assert!(log.contains("##[warning]careful"), "{log}");
    assert!(!log.contains("hunter2"));
    assert_eq!(
        std::fs::read_to_string(dir.join("summary.md")).unwrap(),
        "## done\n\n"
    );
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("result.json")).unwrap()).unwrap();
    assert_eq!(result["conclusion"], "success");
    assert!(dir.join("events.jsonl").is_file());
    assert!(
        next_run_dir(&root.path().join(".gantry/runs"))
            .unwrap()
            .ends_with("2")
    );
}
