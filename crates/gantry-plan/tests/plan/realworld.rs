//! The 733 real workflow files of the conformance corpus: GitHub ran all of them, so every
//! trigger must compile, every job graph must be a DAG and every literal matrix must expand.

use gantry_plan::{
    ChangedFiles, Event, MatrixPlan, Triggers, WorkflowOutcome, job_graph, job_matrix,
    plan_workflow, trigger_specs,
};
use gantry_workflow::parse_workflow;
use serde_json::json;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/realworld"
);

#[test]
fn realworld_workflows_plan() {
    let mut files: Vec<_> = std::fs::read_dir(CORPUS)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 700, "corpus has {} files", files.len());
    let mut problems = Vec::new();
    let (mut planned, mut rows, mut deferred) = (0, 0, 0);
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(path).unwrap();
        let Some(workflow) = parse_workflow(&name, &source).value else {
            problems.push(format!("{name}: not read"));
            continue;
        };
        if let Err(errors) = Triggers::compile(&trigger_specs(&workflow)) {
            problems.extend(errors.iter().map(|e| format!("{name}: {e}")));
        }
        if let Err(e) = job_graph(&workflow) {
            problems.push(format!("{name}: {e}"));
        }
        for (id, job) in &workflow.jobs {
            match job_matrix(job) {
                Ok(MatrixPlan::Rows(r)) => rows += r.len(),
                Ok(MatrixPlan::Deferred { .. }) => deferred += 1,
                Ok(MatrixPlan::None) => {}
                Err(e) => problems.push(format!("{name}: job '{id}': {e}")),
            }
        }
        let mut event = Event::new("push", json!({"ref": "refs/heads/main"}));
        event.changed_files = ChangedFiles::Unknown;
        match plan_workflow(&workflow, &event, &[]) {
            Ok(WorkflowOutcome::Run(_)) => planned += 1,
            Ok(WorkflowOutcome::Skipped(_)) => {}
            Err(e) => problems.push(format!("{name}: plan: {e}")),
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // Sanity: the corpus exercises every path.
    eprintln!(
        "push to main runs {planned} workflows; {rows} matrix rows expanded, {deferred} matrices deferred"
    );
    assert!(
        planned > 150 && rows > 1000 && deferred >= 5,
        "planned {planned}, rows {rows}, deferred {deferred}"
    );
}
