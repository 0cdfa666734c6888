//! End to end over `tests/fixtures/workflows/<case>/`: `workflow.yml` read by gantry-workflow,
//! and `cases.json`: `[{"event": {...}, "select"?: [job ids], "context"?: {"github"?, "vars"?},
//! "plan": {"jobs": [...], "inputs"?} | "skip": reason | "error": message prefix, "resolve"?: {"job",
//! "contexts", "rows"}}]`. A planned job is `{"id", "needs", "matrix": null | [rows] |
//! {"deferred": needs_outputs}, "uses"?}`.

use gantry_plan::{
    ChangedFiles, Event, MatrixContexts, MatrixPlan, PlanContext, PlannedJob, SkipReason,
    WorkflowOutcome, job_matrix_with, plan_workflow_with,
};
use gantry_workflow::{Workflow, parse_workflow};
use serde_json::{Value, json};

use crate::{fixture_dirs, strings};

fn event(spec: &Value) -> Event {
    let mut event = Event::new(
        spec["event"].as_str().unwrap(),
        spec.get("payload").cloned().unwrap_or_default(),
    );
    event.git_ref = spec.get("ref").and_then(Value::as_str).map(str::to_owned);
    if let Some(files) = spec.get("files") {
        event.changed_files = ChangedFiles::Known(strings(files));
    }
    event
}

fn job_json(job: &PlannedJob) -> Value {
    let matrix = match &job.matrix {
        MatrixPlan::None => Value::Null,
        MatrixPlan::Rows(rows) => Value::Array(rows.iter().cloned().map(Value::Object).collect()),
        MatrixPlan::Deferred { needs_outputs } => json!({"deferred": needs_outputs}),
    };
    let mut out = json!({"id": job.id, "needs": job.needs, "matrix": matrix});
    if let Some(uses) = &job.uses {
        out["uses"] = json!(uses);
    }
    out
}

fn read(dir: &std::path::Path) -> Workflow {
    let source = std::fs::read_to_string(dir.join("workflow.yml")).unwrap();
    let parsed = parse_workflow("workflow.yml", &source);
    parsed
        .value
        .unwrap_or_else(|| panic!("{}: {:?}", dir.display(), parsed.diagnostics))
}

#[test]
fn workflow_fixtures() {
    let dirs = fixture_dirs("workflows");
    assert!(dirs.len() >= 5);
    for dir in dirs {
        let workflow = read(&dir);
        let cases: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap())
                .unwrap();
        for (i, case) in cases.iter().enumerate() {
            let name = format!("{} #{i}", dir.file_name().unwrap().to_string_lossy());
            check_case(&name, &workflow, case);
        }
    }
}

fn check_case(name: &str, workflow: &Workflow, case: &Value) {
    let select = case.get("select").map(strings).unwrap_or_default();
    let context = case.get("context").cloned().unwrap_or_default();
    let context = PlanContext {
        github: context.get("github").cloned(),
        vars: context.get("vars").cloned(),
    };
    let outcome = plan_workflow_with(workflow, &event(&case["event"]), &select, &context);
    if let Some(message) = case.get("error") {
        let error = outcome.unwrap_err().to_string();
        assert!(
            error.starts_with(message.as_str().unwrap()),
            "{name}: {error}"
        );
        return;
    }
    match (
        outcome.unwrap_or_else(|e| panic!("{name}: {e}")),
        case.get("skip"),
    ) {
        (WorkflowOutcome::Skipped(reason), Some(expected)) => {
            assert_eq!(reason.to_string(), expected.as_str().unwrap(), "{name}")
        }
        (WorkflowOutcome::Run(plan), None) => {
            let jobs: Vec<Value> = plan.jobs.iter().map(job_json).collect();
            assert_eq!(Value::Array(jobs), case["plan"]["jobs"], "{name}");
            let inputs = plan.inputs.map(Value::Object).unwrap_or(Value::Null);
            assert_eq!(
                &inputs,
                case["plan"].get("inputs").unwrap_or(&Value::Null),
                "{name}: inputs"
            );
        }
        (outcome, _) => panic!("{name}: unexpected outcome {outcome:?}"),
    }
    if let Some(resolve) = case.get("resolve") {
        check_resolve(name, workflow, resolve);
    }
}

/// Run-time expansion of a deferred matrix, once `needs` is known.
fn check_resolve(name: &str, workflow: &Workflow, resolve: &Value) {
    let job = &workflow.jobs[resolve["job"].as_str().unwrap()];
    let given = &resolve["contexts"];
    let contexts = MatrixContexts {
        github: given.get("github").cloned(),
        inputs: given.get("inputs").cloned(),
        vars: given.get("vars").cloned(),
        needs: given.get("needs").cloned(),
    };
    let plan = job_matrix_with(job, &contexts).unwrap_or_else(|e| panic!("{name}: {e}"));
    let MatrixPlan::Rows(rows) = plan else {
        panic!("{name}: still {plan:?}")
    };
    let rows = Value::Array(rows.into_iter().map(Value::Object).collect());
    assert_eq!(rows, resolve["rows"], "{name}: resolved rows");
}

fn names<T>(list: &[(String, T)]) -> Vec<String> {
    list.iter().map(|(n, _)| n.clone()).collect()
}

/// `plan` over every workflow fixture: a push to main, then `-j b`.
#[test]
fn plan_over_several_workflows() {
    let dirs = fixture_dirs("workflows");
    let workflows: Vec<(String, Workflow)> = dirs
        .iter()
        .map(|d| {
            (
                d.file_name().unwrap().to_string_lossy().into_owned(),
                read(d),
            )
        })
        .collect();
    let refs = || workflows.iter().map(|(n, w)| (n.as_str(), w));
    let push = Event::new("push", json!({"ref": "refs/heads/main"}));

    let all = gantry_plan::plan(refs(), &push, &[], &PlanContext::default());
    assert_eq!(
        names(&all.runs),
        ["ci-push", "deferred-matrix", "select-job"]
    );
    assert_eq!(names(&all.errors), ["cycle"]);
    assert_eq!(names(&all.skipped), ["dispatch", "dispatch-matrix"]);

    let only_b = gantry_plan::plan(refs(), &push, &["b".to_owned()], &PlanContext::default());
    assert_eq!(names(&only_b.runs), ["select-job"]);
    assert_eq!(
        only_b.runs[0]
            .1
            .jobs
            .iter()
            .map(|j| j.id.as_str())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    // The cycle fixture also defines a job `b`, so its broken graph is still reported.
    assert_eq!(names(&only_b.errors), ["cycle"]);
    assert_eq!(only_b.skipped.len(), workflows.len() - 2);
    assert!(
        only_b
            .skipped
            .iter()
            .all(|(_, r)| *r == SkipReason::NoSelectedJob)
    );
}
