//! Reusable-workflow calls over `tests/fixtures/calls/<case>/`: `.github/workflows/ci.yml` is
//! planned for `push` with a resolver reading the case's `.github/workflows/` (local calls) and
//! `remote/<owner>/<repo>/<ref>/` (remote ones); `expected.json` holds the plan tree
//! (`{"jobs": [...]}`, a called job with `"call": {"target", "inputs", "secrets", "jobs"}`) or
//! `{"error": message}`. The 50-workflow limit is generated in code.

use std::path::Path;
use std::sync::Arc;

use gantry_plan::{
    CallTarget, CalledWorkflow, Event, MatrixPlan, Origin, PlanContext, PlannedJob, Unresolved,
    WorkflowOutcome, plan_workflow_resolving,
};
use gantry_workflow::{Workflow, parse_workflow};
use serde_json::{Value, json};

use crate::fixture_dirs;

fn parse(name: &str, text: &str) -> Arc<Workflow> {
    let parsed = parse_workflow(name, text);
    Arc::new(
        parsed
            .value
            .unwrap_or_else(|| panic!("{name}: {:?}", parsed.diagnostics)),
    )
}

fn resolver(case: &Path) -> impl Fn(&CallTarget) -> Result<Arc<Workflow>, Unresolved> + '_ {
    move |target: &CallTarget| {
        let base = match &target.origin {
            Origin::Local => case.to_path_buf(),
            Origin::Remote {
                owner,
                repo,
                git_ref,
            } => case.join("remote").join(owner).join(repo).join(git_ref),
        };
        let text = std::fs::read_to_string(base.join(&target.path))
            .map_err(|_| Unresolved(format!("no file {target}")))?;
        Ok(parse(&target.path, &text))
    }
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
    if let Some(call) = &job.call {
        out["call"] = call_json(call);
    }
    out
}

fn call_json(call: &CalledWorkflow) -> Value {
    let inputs: serde_json::Map<String, Value> = call
        .inputs
        .iter()
        .map(|(name, spec)| {
            let spec = json!({"type": spec.kind.name(), "required": spec.required, "default": spec.default});
            (name.clone(), spec)
        })
        .collect();
    json!({
        "target": call.target.to_string(),
        "inputs": inputs,
        "secrets": call.secrets,
        "jobs": call.jobs.iter().map(job_json).collect::<Vec<_>>(),
    })
}

fn plan(case: &Path, workflow: &Workflow) -> Value {
    let resolve = resolver(case);
    let event = Event::new("push", json!({}));
    match plan_workflow_resolving(workflow, &event, &[], &PlanContext::default(), &resolve) {
        Ok(WorkflowOutcome::Run(plan)) => {
            json!({"jobs": plan.jobs.iter().map(job_json).collect::<Vec<_>>()})
        }
        Ok(WorkflowOutcome::Skipped(reason)) => json!({"skipped": format!("{reason:?}")}),
        Err(error) => json!({"error": error.to_string()}),
    }
}

#[test]
fn call_fixtures() {
    let cases = fixture_dirs("calls");
    assert!(cases.len() >= 4);
    for case in cases {
        let text = std::fs::read_to_string(case.join(".github/workflows/ci.yml")).unwrap();
        let workflow = parse("ci.yml", &text);
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(case.join("expected.json")).unwrap())
                .unwrap();
        assert_eq!(plan(&case, &workflow), expected, "{}", case.display());
    }
}

/// 50 unique called workflows are allowed, 51 are not (the limit counts the whole tree).
#[test]
fn at_most_fifty_unique_called_workflows() {
    for (count, expected) in [(50, None), (51, Some("total: 51, limit: 50"))] {
        let mut top = String::from("on: push\njobs:\n");
        for i in 0..count {
            top += &format!("  c{i}:\n    uses: ./.github/workflows/w{i}.yml\n");
        }
        // The same workflow called twice counts once.
        top += "  again:\n    uses: ./.github/workflows/w0.yml\n";
        let workflow = parse("ci.yml", &top);
        let leaf = parse(
            "leaf.yml",
            "on: workflow_call\njobs:\n  j:\n    runs-on: x\n    steps: [{run: echo}]\n",
        );
        let resolve = |_: &CallTarget| Ok(leaf.clone());
        let event = Event::new("push", json!({}));
        let result =
            plan_workflow_resolving(&workflow, &event, &[], &PlanContext::default(), &resolve);
        match expected {
            None => assert!(result.is_ok(), "{result:?}"),
            Some(text) => assert!(
                result.as_ref().is_err_and(|e| e.to_string().contains(text)),
                "{result:?}"
            ),
        }
    }
}

#[test]
fn local_references_inside_a_remote_workflow_stay_in_its_repository() {
    let remote = Origin::Remote {
        owner: "o".into(),
        repo: "r".into(),
        git_ref: "v1".into(),
    };
    let inner = gantry_plan::call_target(&remote, "./.github/workflows/lint.yml").unwrap();
    assert_eq!(inner.to_string(), "o/r/.github/workflows/lint.yml@v1");
    let local = gantry_plan::call_target(&Origin::Local, "./.github/workflows/lint.yml").unwrap();
    assert_eq!(local.to_string(), "./.github/workflows/lint.yml");
    assert!(gantry_plan::call_target(&Origin::Local, "o/r@v1").is_err());
}
