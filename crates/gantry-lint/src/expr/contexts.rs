//! The shapes of the contexts whose properties GitHub documents ("Contexts reference"):
//! `github`, `runner`, `strategy`, `job`. The per-workflow ones (`matrix`, `steps`, `needs`,
//! `inputs`, ...) are built by [`super::scope`].

use super::types::{Hint, Obj, Ty};

/// The `github` context. `event` is the webhook payload: its shape depends on the event, so it
/// is left unchecked.
pub fn github() -> Ty {
    use Ty::{Any, String as S};
    let strings = [
        "action",
        "action_path",
        "action_ref",
        "action_repository",
        "action_status",
        "actor",
        "actor_id",
        "api_url",
        "base_ref",
        "env",
        "event_name",
        "event_path",
        "graphql_url",
        "head_ref",
        "job",
        "job_workflow_sha",
        "output",
        "path",
        "ref",
        "ref_name",
        "ref_type",
        "repository",
        "repository_id",
        "repository_owner",
        "repository_owner_id",
        "repositoryurl",
        "retention_days",
        "run_attempt",
        "run_id",
        "run_number",
        "secret_source",
        "server_url",
        "sha",
        "state",
        "step_summary",
        "token",
        "triggering_actor",
        "workflow",
        "workflow_ref",
        "workflow_sha",
        "workspace",
    ];
    let mut props: Vec<(&str, Ty)> = strings.iter().map(|n| (*n, S)).collect();
    props.push(("event", Any));
    props.push(("ref_protected", Ty::Bool));
    Ty::object(Hint::Context("github"), props)
}

pub fn runner() -> Ty {
    let props = [
        "name",
        "os",
        "arch",
        "temp",
        "tool_cache",
        "debug",
        "environment",
        "workspace",
    ];
    Ty::object(
        Hint::Context("runner"),
        props.iter().map(|n| (*n, Ty::String)).collect(),
    )
}

pub fn strategy() -> Ty {
    Ty::object(
        Hint::Context("strategy"),
        vec![
            ("fail-fast", Ty::Bool),
            ("job-index", Ty::Number),
            ("job-total", Ty::Number),
            ("max-parallel", Ty::Number),
        ],
    )
}

pub fn job() -> Ty {
    let container = || {
        Ty::object(
            Hint::Context("job.container"),
            vec![("id", Ty::String), ("network", Ty::String)],
        )
    };
    let service = Ty::object(
        Hint::Context("job.services.<id>"),
        vec![
            ("id", Ty::String),
            ("network", Ty::String),
            ("ports", Ty::map(Ty::String)),
        ],
    );
    Ty::object(
        Hint::Context("job"),
        vec![
            ("container", container()),
            ("services", Ty::obj(Obj::map(service))),
            ("status", Ty::String),
            ("check_run_id", Ty::Number),
            ("workflow_ref", Ty::String),
            ("workflow_sha", Ty::String),
            ("workflow_repository", Ty::String),
            ("workflow_file_path", Ty::String),
        ],
    )
}

/// `steps.<id>` with the given outputs.
pub fn step(outputs: Ty) -> Ty {
    Ty::object(
        Hint::Context("steps.<id>"),
        vec![
            ("outputs", outputs),
            ("conclusion", Ty::String),
            ("outcome", Ty::String),
        ],
    )
}

/// `needs.<id>` (and `jobs.<id>`) with the given outputs.
pub fn need(outputs: Ty) -> Ty {
    Ty::object(
        Hint::Context("needs.<id>"),
        vec![("outputs", outputs), ("result", Ty::String)],
    )
}

/// Every event name GitHub knows (for comparisons with `github.event_name`).
pub const EVENT_NAMES: &[&str] = &[
    "branch_protection_rule",
    "check_run",
    "check_suite",
    "create",
    "delete",
    "deployment",
    "deployment_status",
    "discussion",
    "discussion_comment",
    "dynamic",
    "fork",
    "gollum",
    "issue_comment",
    "issues",
    "label",
    "merge_group",
    "milestone",
    "page_build",
    "project",
    "project_card",
    "project_column",
    "public",
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_target",
    "push",
    "registry_package",
    "release",
    "repository_dispatch",
    "schedule",
    "status",
    "watch",
    "workflow_call",
    "workflow_dispatch",
    "workflow_run",
];
