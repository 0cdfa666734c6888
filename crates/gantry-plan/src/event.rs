//! Does a workflow run for an event? Triggers are compiled once from plain data
//! ([`TriggerSpec`]) and matched against an [`Event`].

use gantry_workflow::cron::{Cron, CronError};
use gantry_workflow::filter::{EventFilter, FilterConflict, FilterKind, FilterSet, FilterSetError};
use indexmap::IndexMap;
use serde_json::Value;
use thiserror::Error;

use crate::inputs::InputSpec;

/// GitHub evaluates path filters against at most this many changed files.
pub const MAX_DIFF_FILES: usize = 300;

/// The files an event changed, when known.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ChangedFiles {
    /// No diff is available (GitHub: more than 1,000 commits or a diff timeout): path filters
    /// pass, so the workflow runs.
    #[default]
    Unknown,
    /// The changed files in diff order; only the first [`MAX_DIFF_FILES`] are evaluated.
    Known(Vec<String>),
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Event {
    /// `push`, `pull_request`, `workflow_dispatch`...
    pub name: String,
    /// The webhook payload (`github.event`).
    pub payload: Value,
    /// `refs/heads/main`, `refs/tags/v1`; for `push`, `payload.ref` is used when this is unset.
    pub git_ref: Option<String>,
    /// For pull requests, the base branch when the payload has none (`pull_request.base.ref`).
    pub base_ref: Option<String>,
    pub changed_files: ChangedFiles,
}

impl Event {
    pub fn new(name: impl Into<String>, payload: Value) -> Event {
        Event {
            name: name.into(),
            payload,
            ..Event::default()
        }
    }

    /// The `schedule` event GitHub sends when `cron` fires.
    pub fn schedule(cron: &str) -> Event {
        Event::new("schedule", serde_json::json!({ "schedule": cron }))
    }

    /// `payload.action`; for `repository_dispatch`, the `event_type`.
    pub fn action(&self) -> Option<&str> {
        let action = self.payload.get("action").and_then(Value::as_str);
        action.or_else(|| self.payload.get("event_type").and_then(Value::as_str))
    }

    fn payload_str(&self, path: &[&str]) -> Option<&str> {
        path.iter()
            .try_fold(&self.payload, |v, key| v.get(key))?
            .as_str()
    }
}

/// One event under `on:` as plain data (what the workflow model holds, without positions).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TriggerSpec {
    pub event: String,
    pub types: Option<Vec<String>>,
    pub branches: Option<Vec<String>>,
    pub branches_ignore: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub tags_ignore: Option<Vec<String>>,
    pub paths: Option<Vec<String>>,
    pub paths_ignore: Option<Vec<String>>,
    /// `workflow_run.workflows`.
    pub workflows: Option<Vec<String>>,
    pub crons: Vec<String>,
    pub inputs: IndexMap<String, InputSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TriggerError {
    #[error("on.{event}.{key}: {error}")]
    Pattern {
        event: String,
        key: &'static str,
        error: FilterSetError,
    },
    #[error("on.{event}: {error}")]
    Conflict {
        event: String,
        error: FilterConflict,
    },
    #[error("on.schedule: '{cron}': {error}")]
    Cron { cron: String, error: CronError },
}

/// A compiled trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub event: String,
    pub types: Option<Vec<String>>,
    pub branches: Option<EventFilter>,
    pub tags: Option<EventFilter>,
    pub paths: Option<EventFilter>,
    pub workflows: Option<Vec<String>>,
    pub crons: Vec<Cron>,
    pub inputs: IndexMap<String, InputSpec>,
}

/// Why a trigger did not fire.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SkipReason {
    #[error("the workflow does not listen to '{0}'")]
    Event(String),
    #[error("activity type '{action}' is not one of [{}]", types.join(", "))]
    ActivityType { action: String, types: Vec<String> },
    #[error("the event has no activity type but the workflow filters on [{}]", .0.join(", "))]
    NoActivityType(Vec<String>),
    #[error("draft releases do not trigger '{0}'")]
    DraftRelease(String),
    #[error("branch '{0}' is filtered out")]
    Branch(String),
    #[error("tag '{0}' is filtered out")]
    Tag(String),
    #[error("'{0}' is not a branch or tag ref the filters accept")]
    RefKind(String),
    #[error("no changed file matches the path filters")]
    Paths,
    #[error("workflow '{0}' is not in on.workflow_run.workflows")]
    Workflow(String),
    #[error("schedule '{0}' is not one of this workflow's schedules")]
    Schedule(String),
    #[error("the workflow defines none of the selected jobs")]
    NoSelectedJob,
}

/// Activity types that run when `types` is omitted; `None` means every type.
pub fn default_types(event: &str) -> Option<&'static [&'static str]> {
    match event {
        "pull_request" | "pull_request_target" => Some(&["opened", "synchronize", "reopened"]),
        _ => None,
    }
}

/// Events whose payload `action` the `types` key filters.
pub fn has_activity_types(event: &str) -> bool {
    matches!(
        event,
        "branch_protection_rule"
            | "check_run"
            | "check_suite"
            | "discussion"
            | "discussion_comment"
            | "issue_comment"
            | "issues"
            | "label"
            | "merge_group"
            | "milestone"
            | "project"
            | "project_card"
            | "project_column"
            | "pull_request"
            | "pull_request_review"
            | "pull_request_review_comment"
            | "pull_request_target"
            | "registry_package"
            | "release"
            | "repository_dispatch"
            | "watch"
            | "workflow_run"
    )
}

impl Trigger {
    /// Compiles filters and schedules, reporting every error.
    pub fn compile(spec: &TriggerSpec) -> Result<Trigger, Vec<TriggerError>> {
        let mut errors = Vec::new();
        let branches = filter(
            spec,
            FilterKind::Branches,
            &spec.branches,
            &spec.branches_ignore,
            &mut errors,
        );
        let tags = filter(
            spec,
            FilterKind::Tags,
            &spec.tags,
            &spec.tags_ignore,
            &mut errors,
        );
        let paths = filter(
            spec,
            FilterKind::Paths,
            &spec.paths,
            &spec.paths_ignore,
            &mut errors,
        );
        let mut crons = Vec::new();
        for cron in &spec.crons {
            match Cron::parse(cron) {
                Ok(c) => crons.push(c),
                Err(error) => errors.push(TriggerError::Cron {
                    cron: cron.clone(),
                    error,
                }),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Trigger {
            event: spec.event.clone(),
            types: spec.types.clone(),
            branches,
            tags,
            paths,
            workflows: spec.workflows.clone(),
            crons,
            inputs: spec.inputs.clone(),
        })
    }

    /// Whether this trigger fires for `event`.
    pub fn check(&self, event: &Event) -> Result<(), SkipReason> {
        if self.event != event.name {
            return Err(SkipReason::Event(event.name.clone()));
        }
        self.check_types(event)?;
        match event.name.as_str() {
            "push" => self.check_push(event),
            "pull_request" | "pull_request_target" => self.check_pull_request(event),
            "workflow_run" => self.check_workflow_run(event),
            "schedule" => self.check_schedule(event),
            _ => Ok(()),
        }
    }

    fn check_types(&self, event: &Event) -> Result<(), SkipReason> {
        if !has_activity_types(&event.name) {
            return Ok(());
        }
        let action = event.action();
        if event.name == "release"
            && is_draft(event)
            && matches!(action, Some("created" | "edited" | "deleted"))
        {
            return Err(SkipReason::DraftRelease(
                action.unwrap_or_default().to_owned(),
            ));
        }
        let types: Vec<String> = match (&self.types, default_types(&event.name)) {
            (Some(types), _) => types.clone(),
            (None, Some(defaults)) => defaults.iter().map(|t| (*t).to_owned()).collect(),
            (None, None) => return Ok(()),
        };
        match action {
            Some(a) if types.iter().any(|t| t == a) => Ok(()),
            Some(a) => Err(SkipReason::ActivityType {
                action: a.to_owned(),
                types,
            }),
            None => Err(SkipReason::NoActivityType(types)),
        }
    }

    /// Branch filters apply to branch refs and tag filters to tag refs; when only one kind is
    /// filtered, refs of the other kind do not trigger. Path filters do not apply to tags.
    fn check_push(&self, event: &Event) -> Result<(), SkipReason> {
        let git_ref = event
            .git_ref
            .as_deref()
            .or_else(|| event.payload_str(&["ref"]))
            .unwrap_or_default();
        if self.branches.is_none() && self.tags.is_none() {
            return self.check_paths(event, git_ref.starts_with("refs/tags/"));
        }
        if let Some(branch) = git_ref.strip_prefix("refs/heads/") {
            let filter = self
                .branches
                .as_ref()
                .ok_or_else(|| SkipReason::RefKind(git_ref.to_owned()))?;
            check_name(filter, branch, SkipReason::Branch)?;
            return self.check_paths(event, false);
        }
        if let Some(tag) = git_ref.strip_prefix("refs/tags/") {
            let filter = self
                .tags
                .as_ref()
                .ok_or_else(|| SkipReason::RefKind(git_ref.to_owned()))?;
            return check_name(filter, tag, SkipReason::Tag);
        }
        Err(SkipReason::RefKind(git_ref.to_owned()))
    }

    /// Branch filters apply to the pull request's base branch.
    fn check_pull_request(&self, event: &Event) -> Result<(), SkipReason> {
        if let Some(filter) = &self.branches {
            let base = event
                .payload_str(&["pull_request", "base", "ref"])
                .or(event.base_ref.as_deref());
            let base = base.unwrap_or_default();
            check_name(
                filter,
                base.strip_prefix("refs/heads/").unwrap_or(base),
                SkipReason::Branch,
            )?;
        }
        self.check_paths(event, false)
    }

    fn check_workflow_run(&self, event: &Event) -> Result<(), SkipReason> {
        if let Some(workflows) = &self.workflows {
            let name = event
                .payload_str(&["workflow_run", "name"])
                .unwrap_or_default();
            if !workflows.iter().any(|w| w == name) {
                return Err(SkipReason::Workflow(name.to_owned()));
            }
        }
        if let Some(filter) = &self.branches {
            let branch = event
                .payload_str(&["workflow_run", "head_branch"])
                .unwrap_or_default();
            check_name(filter, branch, SkipReason::Branch)?;
        }
        Ok(())
    }

    /// A schedule event names the cron that fired (`payload.schedule`); without one, any
    /// schedule of the workflow matches.
    fn check_schedule(&self, event: &Event) -> Result<(), SkipReason> {
        match event.payload_str(&["schedule"]) {
            Some(cron) if !self.crons.iter().any(|c| c.as_str() == cron) => {
                Err(SkipReason::Schedule(cron.to_owned()))
            }
            _ => Ok(()),
        }
    }

    /// The changed files the trigger's `paths` / `paths-ignore` let through, for telling the
    /// user why a workflow runs or not: `None` when there is no path filter or the changed
    /// files are unknown (the filter then passes). Only the first [`MAX_DIFF_FILES`] count.
    pub fn path_matches<'e>(&self, event: &'e Event) -> Option<Vec<&'e str>> {
        let (Some(filter), ChangedFiles::Known(files)) = (&self.paths, &event.changed_files) else {
            return None;
        };
        let evaluated = &files[..files.len().min(MAX_DIFF_FILES)];
        Some(
            evaluated
                .iter()
                .map(String::as_str)
                .filter(|f| filter.allows_name(f))
                .collect(),
        )
    }

    fn check_paths(&self, event: &Event, is_tag: bool) -> Result<(), SkipReason> {
        match self.path_matches(event) {
            Some(matched) if matched.is_empty() && !is_tag => Err(SkipReason::Paths),
            _ => Ok(()),
        }
    }
}

fn is_draft(event: &Event) -> bool {
    event
        .payload
        .get("release")
        .and_then(|r| r.get("draft"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn check_name(
    filter: &EventFilter,
    name: &str,
    reason: fn(String) -> SkipReason,
) -> Result<(), SkipReason> {
    if filter.allows_name(name) {
        Ok(())
    } else {
        Err(reason(name.to_owned()))
    }
}

fn filter(
    spec: &TriggerSpec,
    kind: FilterKind,
    include: &Option<Vec<String>>,
    ignore: &Option<Vec<String>>,
    errors: &mut Vec<TriggerError>,
) -> Option<EventFilter> {
    let mut compile = |key: &'static str, list: &Option<Vec<String>>| {
        let list = list.as_ref()?;
        FilterSet::parse(list)
            .map_err(|errs| {
                errors.extend(errs.into_iter().map(|error| TriggerError::Pattern {
                    event: spec.event.clone(),
                    key,
                    error,
                }));
            })
            .ok()
    };
    let include = compile(kind.include_key(), include);
    let ignore = compile(kind.ignore_key(), ignore);
    EventFilter::new(kind, include, ignore)
        .map_err(|error| {
            errors.push(TriggerError::Conflict {
                event: spec.event.clone(),
                error,
            })
        })
        .ok()
        .flatten()
}

/// A workflow's triggers; it runs when any trigger fires.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Triggers {
    pub triggers: Vec<Trigger>,
}

impl Triggers {
    pub fn compile(specs: &[TriggerSpec]) -> Result<Triggers, Vec<TriggerError>> {
        let mut errors = Vec::new();
        let mut triggers = Vec::new();
        for spec in specs {
            match Trigger::compile(spec) {
                Ok(t) => triggers.push(t),
                Err(e) => errors.extend(e),
            }
        }
        if errors.is_empty() {
            Ok(Triggers { triggers })
        } else {
            Err(errors)
        }
    }

    pub fn get(&self, event: &str) -> Option<&Trigger> {
        self.triggers.iter().find(|t| t.event == event)
    }

    /// The first time strictly after `after` (unix seconds) that one of the workflow's
    /// schedules fires, with that schedule (the earliest-listed one on ties).
    pub fn next_schedule(&self, after: i64) -> Option<(i64, &Cron)> {
        let crons = self
            .triggers
            .iter()
            .filter(|t| t.event == "schedule")
            .flat_map(|t| &t.crons);
        crons
            .filter_map(|c| c.next_after_unix(after).map(|at| (at, c)))
            .min_by_key(|(at, _)| *at)
    }

    /// Whether the workflow runs for `event`, and why not.
    pub fn check(&self, event: &Event) -> Result<&Trigger, SkipReason> {
        let trigger = self
            .get(&event.name)
            .ok_or_else(|| SkipReason::Event(event.name.clone()))?;
        trigger.check(event).map(|()| trigger)
    }
}
