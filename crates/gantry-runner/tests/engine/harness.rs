//! Runs a workflow source on the test host executor and collects every event.

use std::path::Path;
use std::sync::Arc;

use gantry_plan::{Event, WorkflowOutcome, plan_workflow};
use gantry_runner::executor::Platform;
use gantry_runner::{JobSummary, LogStream, RunEvent, RunOptions, RunResult, run};
use tokio::sync::mpsc;

use crate::host::TestHost;

pub struct Outcome {
    pub result: RunResult,
    pub events: Vec<RunEvent>,
}

impl Outcome {
    pub fn job(&self, key: &str) -> Option<&JobSummary> {
        self.result.jobs.iter().find(|j| j.job == key)
    }

    /// Every line a job's processes printed (all steps, not gantry's headers), in order; debug
    /// lines as `##[debug]message`.
    pub fn logs(&self, key: &str) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                RunEvent::Log {
                    job, line, stream, ..
                } if job == key => match stream {
                    LogStream::Stdout | LogStream::Stderr => Some(line.clone()),
                    LogStream::Debug => Some(format!("##[debug]{line}")),
                    LogStream::Runner => None,
                },
                _ => None,
            })
            .collect()
    }

    /// Everything a user could see, as text (logs, annotations, summaries, outputs).
    pub fn everything(&self) -> String {
        self.events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Index of the first event matching `pred`.
    pub fn position(&self, pred: impl Fn(&RunEvent) -> bool) -> Option<usize> {
        self.events.iter().position(pred)
    }
}

pub fn options() -> RunOptions {
    let mut options = RunOptions::new("test-run");
    options.default_platform = Some(Platform::Host);
    options
}

pub async fn run_source(source: &str, options: RunOptions, workspace: Option<&Path>) -> Outcome {
    run_source_on(source, options, workspace, Arc::new(TestHost::new())).await
}

/// Like [`run_source`], on any executor (the fixtures' Docker subset uses `DockerExecutor`).
pub async fn run_source_on(
    source: &str,
    options: RunOptions,
    workspace: Option<&Path>,
    executor: Arc<dyn gantry_runner::executor::Executor>,
) -> Outcome {
    let parsed = gantry_workflow::parse_workflow("test.yml", source);
    assert!(
        !parsed.has_errors(),
        "workflow has errors: {:#?}",
        parsed.diagnostics
    );
    let workflow = Arc::new(parsed.value.expect("a workflow"));
    let event = Event::new("push", serde_json::json!({"ref": "refs/heads/main"}));
    let WorkflowOutcome::Run(plan) = plan_workflow(&workflow, &event, &[]).expect("a plan") else {
        panic!("the workflow does not run on push");
    };
    let mut options = options;
    options.workspace_source = workspace.map(Path::to_path_buf);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move { run(workflow, &plan, options, executor, tx).await });
    let mut events = Vec::new();
    while let Some(event) = rx.recv().await {
        events.push(event);
    }
    let result = task.await.expect("the run task");
    Outcome { result, events }
}
