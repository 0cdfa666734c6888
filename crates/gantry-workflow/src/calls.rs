//! Checks of reusable-workflow calls against the called workflows: inputs and secrets the
//! callee defines or requires, and permissions it requests beyond what the caller grants.
//!
//! The caller hands in a resolver (`uses:` value → parsed callee), so this module stays free of
//! I/O; callees that cannot be resolved are skipped.

use indexmap::IndexMap;

use crate::model::{
    Diagnostic, InputType, Job, JobSecrets, PermissionLevel, Permissions, Severity, Span, Spanned,
    Workflow, Yaml,
};

/// The repository's default `GITHUB_TOKEN` permissions (Settings → Actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PermissionPolicy {
    /// `contents` and `packages` read, everything else none (GitHub's default for new repositories).
    LimitedRead,
    /// Every scope write.
    #[default]
    Write,
}

/// What the checks assume about the repository and GitHub's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallOptions {
    pub policy: PermissionPolicy,
    /// Most jobs a run may have, counting calling jobs and the jobs of called workflows.
    pub max_jobs: usize,
    /// Most bytes a workflow and the workflows it calls may take together, by GitHub's
    /// estimate of its reader's memory (see [`crate::yaml::token_bytes`]).
    pub max_result_size: usize,
}

impl Default for CallOptions {
    fn default() -> Self {
        Self {
            policy: PermissionPolicy::default(),
            max_jobs: 256,
            max_result_size: crate::yaml::DEFAULT_MAX_RESULT_SIZE,
        }
    }
}

/// The scopes `read-all`/`write-all` stand for, in the order GitHub lists them.
const SCOPES: [&str; 13] = [
    "actions",
    "checks",
    "contents",
    "deployments",
    "discussions",
    "issues",
    "packages",
    "pages",
    "pull-requests",
    "repository-projects",
    "statuses",
    "security-events",
    "id-token",
];

/// GitHub truncates long messages to this many characters and appends `[...]`.
const MAX_MESSAGE: usize = 500;

/// GitHub connects at most ten levels of workflows: the top-level caller and nine called ones.
pub const MAX_NESTING: usize = 9;

/// GitHub allows at most this many unique reusable workflows in the tree a workflow calls.
pub const MAX_CALLED_WORKFLOWS: usize = 50;

/// Every problem with `workflow`'s calls of reusable workflows. `resolve` returns the parsed
/// workflow a job's `uses:` names, or `None` when it is not available.
pub fn check_calls(
    workflow: &Workflow,
    resolve: &dyn Fn(&str) -> Option<Workflow>,
    options: &CallOptions,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let inherited = default_grant(options.policy);
    let mut budget = Budget {
        used: workflow.result_size,
        max: options.max_result_size,
        reported: false,
    };
    let jobs = count_jobs(workflow, resolve, 0);
    if jobs > options.max_jobs {
        let span = workflow
            .jobs
            .values()
            .next()
            .map_or(Span::default(), |j| j.id.span);
        let message = format!(
            "The workflow may not contain more than {} jobs",
            options.max_jobs
        );
        out.push(error(span, "calls", message));
    }
    let mut limits = Limits {
        resolve,
        seen: std::collections::HashSet::new(),
        reported: false,
    };
    for job in workflow.jobs.values() {
        let Some(uses) = &job.uses else { continue };
        let Some(callee) = resolve(&uses.value) else {
            continue;
        };
        limits.check(uses, &callee, &mut out);
        budget.load(uses, &callee, resolve, &mut out);
        check_inputs(job, uses, &callee, &mut out);
        check_secrets(job, &callee, &mut out);
        let granted = job
            .permissions
            .as_ref()
            .or(workflow.permissions.as_ref())
            .map_or_else(|| inherited.clone(), |p| grant(&p.value));
        let site = Site {
            span: job.id.span,
            resolve,
        };
        site.check_permissions(&uses.value, &callee, &granted, 0, &mut out);
    }
    out
}

/// Jobs in a run of `workflow`: its own, plus those of every workflow they call.
fn count_jobs(
    workflow: &Workflow,
    resolve: &dyn Fn(&str) -> Option<Workflow>,
    depth: usize,
) -> usize {
    let nested: usize = workflow
        .jobs
        .values()
        .filter_map(|j| j.uses.as_ref())
        .filter(|_| depth < MAX_NESTING)
        .filter_map(|u| resolve(&u.value))
        .map(|callee| count_jobs(&callee, resolve, depth + 1))
        .sum();
    workflow.jobs.len() + nested
}

/// GitHub's nesting limits, checked through the whole call tree and reported at the top-level
/// call that leads past them (once: GitHub stops loading there).
struct Limits<'r> {
    resolve: &'r dyn Fn(&str) -> Option<Workflow>,
    /// Unique reusable workflows referenced so far.
    seen: std::collections::HashSet<String>,
    reported: bool,
}

impl Limits<'_> {
    fn check(&mut self, call: &Spanned<String>, callee: &Workflow, out: &mut Vec<Diagnostic>) {
        if self.reported {
            return;
        }
        self.seen.insert(call.value.clone());
        if let Some(message) = self.walk(&call.value, callee, 1) {
            self.reported = true;
            out.push(error(call.span, "calls", message));
        }
    }

    /// The first limit broken below `callee` (called as `uses`, at `depth`).
    fn walk(&mut self, uses: &str, callee: &Workflow, depth: usize) -> Option<String> {
        if self.seen.len() > MAX_CALLED_WORKFLOWS {
            return Some(format!(
                "too many workflows are referenced, total: {}, limit: {MAX_CALLED_WORKFLOWS}",
                self.seen.len()
            ));
        }
        for (id, job) in &callee.jobs {
            let Some(nested) = &job.uses else { continue };
            if depth >= MAX_NESTING {
                return Some(format!(
                    "error parsing called workflow \"{uses}\": job \"{id}\" calls workflow \"{}\", but doing so would exceed the limit on called workflow depth of {MAX_NESTING}",
                    nested.value
                ));
            }
            self.seen.insert(nested.value.clone());
            let Some(next) = (self.resolve)(&nested.value) else {
                continue;
            };
            if let Some(message) = self.walk(&nested.value, &next, depth + 1) {
                return Some(message);
            }
        }
        None
    }
}

/// GitHub's reader keeps one memory account for a workflow and every workflow it loads for its
/// calls, in job order (a callee called twice is loaded twice); the call that passes the limit
/// is reported, once, as GitHub stops loading there.
struct Budget {
    used: usize,
    max: usize,
    reported: bool,
}

impl Budget {
    fn load(
        &mut self,
        uses: &Spanned<String>,
        callee: &Workflow,
        resolve: &dyn Fn(&str) -> Option<Workflow>,
        out: &mut Vec<Diagnostic>,
    ) {
        self.used = self.used.saturating_add(loaded_size(callee, resolve, 0));
        if self.used > self.max && !self.reported {
            self.reported = true;
            let message = format!(
                "Error from called workflow {}: Maximum object size exceeded",
                uses.value
            );
            out.push(error(uses.span, "calls", message));
        }
    }
}

/// A callee's bytes with those of the workflows it calls in turn (loaded with it).
fn loaded_size(
    workflow: &Workflow,
    resolve: &dyn Fn(&str) -> Option<Workflow>,
    depth: usize,
) -> usize {
    workflow
        .jobs
        .values()
        .filter_map(|j| j.uses.as_ref())
        .filter(|_| depth < MAX_NESTING)
        .filter_map(|u| resolve(&u.value))
        .fold(workflow.result_size, |sum, callee| {
            sum.saturating_add(loaded_size(&callee, resolve, depth + 1))
        })
}

/// Where errors about one call are reported: the calling job in the checked file.
struct Site<'r> {
    span: Span,
    resolve: &'r dyn Fn(&str) -> Option<Workflow>,
}

impl Site<'_> {
    fn check_permissions(
        &self,
        reference: &str,
        callee: &Workflow,
        granted: &Grant,
        depth: usize,
        out: &mut Vec<Diagnostic>,
    ) {
        if let Some(p) = &callee.permissions {
            let who = format!("The workflow '{reference}'");
            self.compare(reference, &who, &p.value, granted, out);
        }
        for job in callee.jobs.values() {
            if let Some(p) = &job.permissions {
                let name = job.name.as_ref().map_or(&job.id.value, |n| &n.value);
                let who = format!("The nested job '{name}'");
                self.compare(reference, &who, &p.value, granted, out);
            }
            let Some(uses) = &job.uses else { continue };
            if depth >= MAX_NESTING {
                continue;
            }
            let Some(nested) = (self.resolve)(&uses.value) else {
                continue;
            };
            // What the nested call may use: the callee job's or workflow's own permissions (already
            // checked against ours above), else what the callee itself was granted.
            let nested_grant = job
                .permissions
                .as_ref()
                .or(callee.permissions.as_ref())
                .map_or_else(|| granted.clone(), |p| grant(&p.value));
            self.check_permissions(&uses.value, &nested, &nested_grant, depth + 1, out);
        }
    }

    fn compare(
        &self,
        reference: &str,
        who: &str,
        requested: &Permissions,
        granted: &Grant,
        out: &mut Vec<Diagnostic>,
    ) {
        let excess: Vec<(&str, PermissionLevel)> = requests(requested)
            .into_iter()
            .filter(|(scope, level)| rank(*level) > rank(granted.level(scope)))
            .collect();
        if excess.is_empty() {
            return;
        }
        let list = |f: &dyn Fn(&str, PermissionLevel) -> PermissionLevel| {
            excess
                .iter()
                .map(|(s, l)| format!("{s}: {}", level_name(f(s, *l))))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let asked = list(&|_, l| l);
        let allowed = list(&|s, _| granted.level(s));
        let message = format!(
            "Error calling workflow '{reference}'. {who} is requesting '{asked}', but is only allowed '{allowed}'."
        );
        out.push(error(self.span, "permissions", truncate(message)));
    }
}

/// The permissions a call may use: listed scopes, everything else `none`.
#[derive(Debug, Clone)]
struct Grant {
    scopes: IndexMap<String, PermissionLevel>,
}

impl Grant {
    fn level(&self, scope: &str) -> PermissionLevel {
        self.scopes
            .get(scope)
            .copied()
            .unwrap_or(PermissionLevel::None)
    }
}

fn default_grant(policy: PermissionPolicy) -> Grant {
    match policy {
        PermissionPolicy::Write => all(PermissionLevel::Write),
        PermissionPolicy::LimitedRead => Grant {
            scopes: ["contents", "packages", "metadata"]
                .into_iter()
                .map(|s| (s.to_owned(), PermissionLevel::Read))
                .collect(),
        },
    }
}

fn all(level: PermissionLevel) -> Grant {
    Grant {
        scopes: SCOPES.iter().map(|s| ((*s).to_owned(), level)).collect(),
    }
}

fn grant(p: &Permissions) -> Grant {
    match p {
        Permissions::ReadAll => all(PermissionLevel::Read),
        Permissions::WriteAll => all(PermissionLevel::Write),
        Permissions::Scopes(map) => Grant {
            scopes: map.iter().map(|(k, v)| (k.clone(), v.value)).collect(),
        },
    }
}

/// The scopes a `permissions:` value asks for, in GitHub's order for the shorthands.
fn requests(p: &Permissions) -> Vec<(&str, PermissionLevel)> {
    match p {
        Permissions::ReadAll => SCOPES.iter().map(|s| (*s, PermissionLevel::Read)).collect(),
        Permissions::WriteAll => SCOPES
            .iter()
            .map(|s| (*s, PermissionLevel::Write))
            .collect(),
        Permissions::Scopes(map) => map.iter().map(|(k, v)| (k.as_str(), v.value)).collect(),
    }
}

fn rank(level: PermissionLevel) -> u8 {
    match level {
        PermissionLevel::None => 0,
        PermissionLevel::Read => 1,
        PermissionLevel::Write => 2,
    }
}

fn level_name(level: PermissionLevel) -> &'static str {
    match level {
        PermissionLevel::None => "none",
        PermissionLevel::Read => "read",
        PermissionLevel::Write => "write",
    }
}

fn truncate(message: String) -> String {
    match message.char_indices().nth(MAX_MESSAGE) {
        Some((at, _)) => format!("{}[...]", &message[..at]),
        None => message,
    }
}

/// Required inputs the call leaves out, and inputs the callee does not define.
fn check_inputs(job: &Job, uses: &Spanned<String>, callee: &Workflow, out: &mut Vec<Diagnostic>) {
    let Some(call) = callee.on.events.get("workflow_call") else {
        return;
    };
    let inputs = &call.value.inputs;
    for (name, input) in inputs {
        let given = job.with.keys().any(|k| k.eq_ignore_ascii_case(name));
        // GitHub requires the caller to pass a required input even when it has a default.
        if input.value.required && !given {
            let message = format!("Input {name} is required, but not provided while calling.");
            out.push(error(uses.span, "calls", message));
        }
    }
    for (name, value) in &job.with {
        match inputs.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            Some((_, input)) => check_input_type(input.value.kind, value, out),
            None => {
                let message =
                    format!("Invalid input, {name} is not defined in the referenced workflow.");
                out.push(error(value.span, "calls", message));
            }
        }
    }
}

/// A literal passed to a `boolean` or `number` input must have that type (expressions are
/// checked when they are evaluated).
fn check_input_type(kind: InputType, value: &Spanned<Yaml>, out: &mut Vec<Diagnostic>) {
    let expected = match (kind, &value.value) {
        (_, Yaml::String(s)) if s.contains("${{") => return,
        (InputType::Boolean, Yaml::Bool(_)) | (InputType::Number, Yaml::Number(_)) => return,
        (InputType::Boolean, _) => "Boolean",
        (InputType::Number, _) => "Number",
        _ => return,
    };
    let shown = match &value.value {
        Yaml::String(s) => s.clone(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Number(n) => crate::yaml::format_number(*n),
        Yaml::Null | Yaml::Seq(_) | Yaml::Map(_) => String::new(),
    };
    let message = format!("Unexpected type of value '{shown}', expected type: {expected}.");
    out.push(error(value.span, "calls", message));
}

/// Secrets passed that the callee does not define, and required ones left out.
fn check_secrets(job: &Job, callee: &Workflow, out: &mut Vec<Diagnostic>) {
    let defined = callee
        .on
        .events
        .get("workflow_call")
        .map(|c| &c.value.secrets);
    let passed = match job.secrets.as_ref().map(|s| &s.value) {
        Some(JobSecrets::Inherit) => return,
        Some(JobSecrets::Map(map)) => Some(map),
        None => None,
    };
    for (name, value) in passed.into_iter().flatten() {
        if !defined.is_some_and(|d| d.keys().any(|k| k.eq_ignore_ascii_case(name))) {
            let message =
                format!("Invalid secret, {name} is not defined in the referenced workflow.");
            out.push(error(value.span, "calls", message));
        }
    }
    let span = job.uses.as_ref().map_or(job.span, |u| u.span);
    for (name, secret) in defined.into_iter().flatten() {
        let given = passed.is_some_and(|p| p.keys().any(|k| k.eq_ignore_ascii_case(name)));
        if secret.value.required && !given {
            let message = format!("Secret {name} is required, but not provided while calling.");
            out.push(error(span, "calls", message));
        }
    }
}

fn error(span: Span, rule: &'static str, message: String) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        span,
        message,
        rule,
    }
}
