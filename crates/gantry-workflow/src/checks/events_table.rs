//! The events that trigger workflows, their activity types and the filters each one takes.
//!
//! From GitHub's "Events that trigger workflows" and the event definitions of GitHub's workflow
//! schema (`workflow-v1.0.json`), which agree.

/// Which `types:` an event accepts.
#[derive(Debug, Clone, Copy)]
pub(super) enum Types {
    /// The event has a single activity: `types` does not apply.
    NotApplicable,
    /// Any name (`repository_dispatch` types are chosen by whoever sends the event).
    Any,
    Only(&'static [&'static str]),
}

/// The keys of an event's configuration besides `types`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Filter {
    Branches,
    Tags,
    Paths,
    Workflows,
    Inputs,
    Outputs,
    Secrets,
    Cron,
}

impl Filter {
    pub(super) fn key(self) -> &'static str {
        match self {
            Filter::Branches => "branches",
            Filter::Tags => "tags",
            Filter::Paths => "paths",
            Filter::Workflows => "workflows",
            Filter::Inputs => "inputs",
            Filter::Outputs => "outputs",
            Filter::Secrets => "secrets",
            Filter::Cron => "cron",
        }
    }
}

pub(super) struct EventSpec {
    pub name: &'static str,
    pub types: Types,
    pub filters: &'static [Filter],
}

const fn event(name: &'static str, types: Types, filters: &'static [Filter]) -> EventSpec {
    EventSpec {
        name,
        types,
        filters,
    }
}

use Filter::*;
use Types::{Any, NotApplicable as NA, Only};

const CRUD: Types = Only(&["created", "edited", "deleted"]);

const PULL_REQUEST_TYPES: Types = Only(&[
    "assigned",
    "unassigned",
    "labeled",
    "unlabeled",
    "opened",
    "edited",
    "closed",
    "reopened",
    "synchronize",
    "converted_to_draft",
    "locked",
    "unlocked",
    "enqueued",
    "dequeued",
    "milestoned",
    "demilestoned",
    "ready_for_review",
    "review_requested",
    "review_request_removed",
    "auto_merge_enabled",
    "auto_merge_disabled",
    "stacked",
]);

pub(super) const EVENTS: &[EventSpec] = &[
    event("branch_protection_rule", CRUD, &[]),
    event(
        "check_run",
        Only(&["created", "rerequested", "completed", "requested_action"]),
        &[],
    ),
    event("check_suite", Only(&["completed"]), &[]),
    event("create", NA, &[]),
    event("delete", NA, &[]),
    event("deployment", NA, &[]),
    event("deployment_status", NA, &[]),
    event(
        "discussion",
        Only(&[
            "created",
            "edited",
            "deleted",
            "transferred",
            "pinned",
            "unpinned",
            "labeled",
            "unlabeled",
            "locked",
            "unlocked",
            "category_changed",
            "answered",
            "unanswered",
        ]),
        &[],
    ),
    event("discussion_comment", CRUD, &[]),
    event("fork", NA, &[]),
    event("gollum", NA, &[]),
    event("image_version", Only(&["created", "ready", "deleted"]), &[]),
    event("issue_comment", CRUD, &[]),
    event(
        "issues",
        Only(&[
            "opened",
            "edited",
            "deleted",
            "transferred",
            "pinned",
            "unpinned",
            "closed",
            "reopened",
            "assigned",
            "unassigned",
            "labeled",
            "unlabeled",
            "locked",
            "unlocked",
            "milestoned",
            "demilestoned",
            "field_added",
            "field_removed",
            "typed",
            "untyped",
        ]),
        &[],
    ),
    event("label", CRUD, &[]),
    event("merge_group", Only(&["checks_requested"]), &[Branches]),
    event(
        "milestone",
        Only(&["created", "closed", "opened", "edited", "deleted"]),
        &[],
    ),
    event("page_build", NA, &[]),
    event(
        "project",
        Only(&["created", "closed", "reopened", "edited", "deleted"]),
        &[],
    ),
    event(
        "project_card",
        Only(&["created", "moved", "converted", "edited", "deleted"]),
        &[],
    ),
    event(
        "project_column",
        Only(&["created", "updated", "moved", "deleted"]),
        &[],
    ),
    event("public", NA, &[]),
    event("pull_request", PULL_REQUEST_TYPES, &[Branches, Paths]),
    event("pull_request_comment", CRUD, &[]),
    event(
        "pull_request_review",
        Only(&["submitted", "edited", "dismissed"]),
        &[],
    ),
    event("pull_request_review_comment", CRUD, &[]),
    event(
        "pull_request_target",
        PULL_REQUEST_TYPES,
        &[Branches, Paths],
    ),
    event("push", NA, &[Branches, Tags, Paths]),
    event("registry_package", Only(&["published", "updated"]), &[]),
    event(
        "release",
        Only(&[
            "published",
            "unpublished",
            "created",
            "edited",
            "deleted",
            "prereleased",
            "released",
        ]),
        &[],
    ),
    event("repository_dispatch", Any, &[]),
    event("schedule", NA, &[Cron]),
    event("status", NA, &[]),
    event("watch", Only(&["started"]), &[]),
    event("workflow_call", NA, &[Inputs, Outputs, Secrets]),
    event("workflow_dispatch", NA, &[Inputs]),
    event(
        "workflow_run",
        Only(&["requested", "completed", "in_progress"]),
        &[Branches, Workflows],
    ),
];

pub(super) fn lookup(name: &str) -> Option<&'static EventSpec> {
    EVENTS.iter().find(|e| e.name == name)
}
