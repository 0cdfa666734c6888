//! Workflow hygiene: deprecated workflow commands, runner labels, credentials written into the
//! file, filters that cannot match, and names shared by two steps or jobs.

use gantry_workflow::{Container, Env, Job, Matrix, RunsOn, Severity, Spanned, Workflow, Yaml};
use regex::Regex;

use crate::report::Report;
use crate::rules::{
    DEPRECATED_COMMAND, DUPLICATE_NAME, FILTER_PATTERN, HARDCODED_CREDENTIALS, RUNNER_LABEL,
};
use crate::walk::{Place, Site};

/// GitHub-hosted runner labels ("GitHub-hosted runners reference", standard and larger
/// runners), and the labels every self-hosted runner has.
const HOSTED_LABELS: &[&str] = &[
    "ubuntu-latest",
    "ubuntu-24.04",
    "ubuntu-22.04",
    "ubuntu-24.04-arm",
    "ubuntu-22.04-arm",
    "windows-latest",
    "windows-2025",
    "windows-2022",
    "windows-11-arm",
    "macos-latest",
    "macos-26",
    "macos-15",
    "macos-14",
    "macos-13",
    "macos-latest-large",
    "macos-26-large",
    "macos-15-large",
    "macos-14-large",
    "macos-13-large",
    "macos-latest-xlarge",
    "macos-26-xlarge",
    "macos-15-xlarge",
    "macos-14-xlarge",
    "macos-13-xlarge",
    "macos-15-intel",
];
/// Images GitHub has retired: a job that asks for one waits for a runner that never comes.
const RETIRED_LABELS: &[(&str, &str)] = &[
    ("ubuntu-16.04", "ubuntu-24.04"),
    ("ubuntu-18.04", "ubuntu-24.04"),
    ("ubuntu-20.04", "ubuntu-24.04"),
    ("windows-2016", "windows-2022"),
    ("windows-2019", "windows-2022"),
    ("macos-10.15", "macos-15"),
    ("macos-11", "macos-15"),
    ("macos-12", "macos-15"),
];

const SELF_HOSTED_LABELS: &[&str] = &[
    "self-hosted",
    "linux",
    "windows",
    "macos",
    "x64",
    "x86",
    "arm",
    "arm32",
    "arm64",
];

/// The compiled patterns, built once per linter.
#[derive(Debug)]
pub struct Patterns {
    command: Regex,
}

impl Default for Patterns {
    fn default() -> Self {
        Patterns {
            // `echo "::set-output name=x::y"`; `::` then the command, then a space or `::`.
            command: Regex::new(r"::(set-output|save-state|set-env|add-path)(\s|::)")
                .unwrap_or_else(|e| panic!("built-in pattern: {e}")),
        }
    }
}

/// `deprecated-command` over one `run:` site.
pub fn deprecated_commands(
    site: &Site<'_>,
    patterns: &Patterns,
    unsecure_allowed: bool,
    report: &mut Report,
) {
    if site.place != Place::Run {
        return;
    }
    for found in patterns.command.captures_iter(site.text) {
        let Some(command) = found.get(1) else {
            continue;
        };
        let (severity, message) = match command.as_str() {
            "set-output" => (
                Severity::Warning,
                "the `set-output` command is deprecated and will stop working; write \
                 `echo \"NAME=VALUE\" >> \"$GITHUB_OUTPUT\"` instead"
                    .to_owned(),
            ),
            "save-state" => (
                Severity::Warning,
                "the `save-state` command is deprecated and will stop working; write \
                 `echo \"NAME=VALUE\" >> \"$GITHUB_STATE\"` instead"
                    .to_owned(),
            ),
            name => {
                let file = if name == "set-env" {
                    "echo \"NAME=VALUE\" >> \"$GITHUB_ENV\""
                } else {
                    "echo \"DIR\" >> \"$GITHUB_PATH\""
                };
                // Disabled since 2020: the step fails unless the workflow opts back in.
                let severity = if unsecure_allowed {
                    Severity::Warning
                } else {
                    Severity::Error
                };
                (
                    severity,
                    format!(
                        "GitHub disabled the `{name}` command (it lets any output change the \
                         job's environment); write `{file}` instead"
                    ),
                )
            }
        };
        let start = command.start().saturating_sub(2);
        report.at_value(
            site,
            start,
            command.end(),
            DEPRECATED_COMMAND,
            severity,
            message,
        );
    }
}

/// Whether `ACTIONS_ALLOW_UNSECURE_COMMANDS` is set for a step (re-enabling `set-env`).
pub fn unsecure_allowed(workflow: &Workflow, job: Option<&Job>, step: Option<usize>) -> bool {
    let set = |env: &Env| {
        env.iter()
            .any(|(k, v)| k == "ACTIONS_ALLOW_UNSECURE_COMMANDS" && v.value.trim() == "true")
    };
    set(&workflow.env)
        || job.is_some_and(|job| {
            set(&job.env)
                || step
                    .and_then(|s| job.steps.get(s))
                    .is_some_and(|s| set(&s.env))
        })
}

/// `runner-label`: labels no runner has; a job waits for one forever.
pub fn runner_labels(job: &Job, extra: &[String], report: &mut Report) {
    let Some(runs_on) = &job.runs_on else { return };
    match &runs_on.value {
        RunsOn::Labels { labels, group } => {
            // Runner groups and self-hosted runners carry labels of their owners' choosing.
            if group.is_some()
                || labels
                    .iter()
                    .any(|l| l.value.eq_ignore_ascii_case("self-hosted"))
            {
                return;
            }
            for label in labels {
                check_label(&label.value, label, extra, report);
            }
        }
        RunsOn::Expr(text) => matrix_labels(job, text, extra, report),
    }
}

/// `runs-on: ${{ matrix.os }}`: the literal values of that matrix vector.
fn matrix_labels(job: &Job, text: &str, extra: &[String], report: &mut Report) {
    let inner = text
        .trim()
        .strip_prefix("${{")
        .and_then(|t| t.strip_suffix("}}"))
        .map(str::trim);
    let Some(key) = inner.and_then(|i| i.strip_prefix("matrix.")) else {
        return;
    };
    let Some(Matrix::Map { dimensions, .. }) = job
        .strategy
        .as_ref()
        .and_then(|s| s.value.matrix.as_ref())
        .map(|m| &m.value)
    else {
        return;
    };
    for (name, values) in dimensions {
        if !name.value.eq_ignore_ascii_case(key) {
            continue;
        }
        if let Yaml::Seq(items) = &values.value {
            for item in items {
                if let Yaml::String(label) = &item.value {
                    let spanned = Spanned::new(label.clone(), item.span);
                    check_label(label, &spanned, extra, report);
                }
            }
        }
    }
}

fn check_label(label: &str, at: &Spanned<String>, extra: &[String], report: &mut Report) {
    if label.contains("${{") {
        return;
    }
    let lower = label.to_ascii_lowercase();
    let known = HOSTED_LABELS.contains(&lower.as_str())
        || SELF_HOSTED_LABELS.contains(&lower.as_str())
        || extra.contains(&lower);
    if known {
        return;
    }
    if let Some((_, instead)) = RETIRED_LABELS.iter().find(|(l, _)| *l == lower) {
        let message = format!(
            "GitHub retired the `{label}` runner image, so this job waits for a runner that \
             never comes; use `{instead}` (or add the label under `runner-labels` in \
             .github/gantry.toml for a self-hosted runner)"
        );
        report.at(at.span, RUNNER_LABEL, Severity::Warning, message);
        return;
    }
    let close = HOSTED_LABELS
        .iter()
        .map(|h| (strsim::levenshtein(h, &lower), h))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map_or(String::new(), |(_, h)| format!(" (did you mean `{h}`?)"));
    let message = format!(
        "no GitHub-hosted runner has the label `{label}`{close}; for a self-hosted or larger \
         runner add `self-hosted`, or list the label under `runner-labels` in \
         .github/gantry.toml"
    );
    report.at(at.span, RUNNER_LABEL, Severity::Warning, message);
}

/// `hardcoded-credentials`: a registry password in the file is readable by everyone who can
/// read the repository.
pub fn credentials(job: &Job, report: &mut Report) {
    let containers = job
        .container
        .iter()
        .map(|c| ("container".to_owned(), c))
        .chain(
            job.services
                .iter()
                .map(|(name, c)| (format!("service `{name}`"), c)),
        );
    for (what, container) in containers {
        let Container { credentials, .. } = &container.value;
        let Some(credentials) = credentials else {
            continue;
        };
        let password = &credentials.value.password;
        if password.value.contains("${{") || password.value.is_empty() {
            continue;
        }
        let message = format!(
            "the {what}'s registry password is written in the workflow; store it as a secret \
             and use `password: ${{{{ secrets.NAME }}}}`"
        );
        report.at(
            password.span,
            HARDCODED_CREDENTIALS,
            Severity::Warning,
            message,
        );
    }
}

/// `filter-pattern`: branch and tag filters are compared with names (`main`, `v1`), path
/// filters with repository-relative paths, so some spellings never match.
pub fn filters(workflow: &Workflow, report: &mut Report) {
    for (event, config) in &workflow.on.events {
        let config = &config.value;
        let refs = [
            (&config.branches, "branches"),
            (&config.branches_ignore, "branches-ignore"),
            (&config.tags, "tags"),
            (&config.tags_ignore, "tags-ignore"),
        ];
        for (list, key) in refs {
            for pattern in list.iter().flat_map(|l| &l.value) {
                let text = pattern.value.trim_start_matches('!');
                let message = if text.starts_with("refs/") && event != "workflow_run" {
                    Some(format!(
                        "`{key}` patterns match names like `main` or `v1.0`, not full refs, so \
                         `{text}` never matches; drop the `refs/heads/` or `refs/tags/` prefix"
                    ))
                } else if text != text.trim() {
                    Some(format!(
                        "the pattern `{text}` has spaces at its ends, which no name has; remove them"
                    ))
                } else {
                    None
                };
                if let Some(message) = message {
                    report.at(pattern.span, FILTER_PATTERN, Severity::Warning, message);
                }
            }
        }
        for (list, key) in [
            (&config.paths, "paths"),
            (&config.paths_ignore, "paths-ignore"),
        ] {
            for pattern in list.iter().flat_map(|l| &l.value) {
                let text = pattern.value.trim_start_matches('!');
                let message = if let Some(rest) = text.strip_prefix("./") {
                    Some(format!(
                        "`{key}` patterns match paths relative to the repository root, which \
                         never start with `./`; write `{rest}`"
                    ))
                } else if let Some(rest) = text.strip_prefix('/') {
                    Some(format!(
                        "`{key}` patterns match paths relative to the repository root, which \
                         never start with `/`; write `{rest}`"
                    ))
                } else if text.contains('\\') {
                    Some(format!(
                        "paths use `/` on every platform; `{text}` with `\\` matches only file \
                         names containing a backslash"
                    ))
                } else {
                    None
                };
                if let Some(message) = message {
                    report.at(pattern.span, FILTER_PATTERN, Severity::Warning, message);
                }
            }
        }
    }
}

/// `duplicate-name`: steps of a job (in the log and in `--step` selection) and jobs of a
/// workflow (in required status checks) are told apart by name.
pub fn duplicate_names(workflow: &Workflow, report: &mut Report) {
    let mut job_names: Vec<(String, &str)> = Vec::new();
    for job in workflow.jobs.values() {
        if let Some(name) = &job.name
            && !name.value.contains("${{")
            && job.strategy.is_none()
        {
            let lower = name.value.to_lowercase();
            if let Some((_, first)) = job_names.iter().find(|(n, _)| *n == lower) {
                let message = format!(
                    "job `{}` has the same name as job `{first}`, `{}`; status checks and the \
                     run page cannot tell them apart, so give one another name",
                    job.id.value, name.value
                );
                report.at(name.span, DUPLICATE_NAME, Severity::Warning, message);
            } else {
                job_names.push((lower, &job.id.value));
            }
        }
        let mut step_names: Vec<String> = Vec::new();
        for step in &job.steps {
            let Some(name) = &step.name else { continue };
            if name.value.contains("${{") {
                continue;
            }
            let lower = name.value.to_lowercase();
            if step_names.contains(&lower) {
                let message = format!(
                    "another step of job `{}` is also named `{}`; give each step its own name \
                     so logs and step selection can tell them apart",
                    job.id.value, name.value
                );
                report.at(name.span, DUPLICATE_NAME, Severity::Warning, message);
            } else {
                step_names.push(lower);
            }
        }
    }
}
