//! What will not work offline, said before a run starts (`gantry validate`, `gantry run
//! --dry-run`) instead of at the step that fails: remote actions neither built in nor in the
//! action store, `runs-on` labels no platform maps, and what needs the network (images gantry
//! would have to pull, another repository to check out). Each finding is a warning with the
//! position of the key it is about, so validate renders it like the linter's and the
//! configuration and `# gantry-ignore:` comments silence it by rule name.
//!
//! Labels GitHub retired (`ubuntu-20.04`, `ubuntu-18.04`) that gantry still maps to its runner
//! image get a notice in every run ([`legacy_label_notices`]).

use indexmap::IndexMap;

use crate::callees::Store;
use crate::engine::{Diagnostic, Job, Severity, Span, Workflow};
use gantry_runner::executor::Platform;
use gantry_workflow::{RunsOn, StepKind, Yaml};

/// A remote action is neither built in nor in the action store.
pub const OFFLINE_ACTION: &str = "offline-action";
/// No platform maps any of a job's `runs-on` labels: the run skips it.
pub const OFFLINE_PLATFORM: &str = "offline-platform";
/// Something the job needs is only on the network.
pub const OFFLINE_NETWORK: &str = "offline-network";

/// GitHub retired these runners; gantry runs their jobs on its runner image anyway.
pub const LEGACY_LABELS: &[&str] = &["ubuntu-20.04", "ubuntu-18.04"];

/// What the checks compare a workflow against.
pub struct Readiness<'a> {
    pub builtins: &'a gantry_runner::ActionRegistry,
    pub store: &'a Store,
    /// Lower-case label → platform, defaults included.
    pub platforms: &'a IndexMap<String, Platform>,
    /// Whether the engine has an image: `None` when it cannot be asked (no engine, validate).
    pub image_present: &'a (dyn Fn(&str) -> Option<bool> + Sync),
}

/// Every finding for `workflow`, in job and step order.
pub fn check(workflow: &Workflow, readiness: &Readiness<'_>) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    images(workflow, readiness, &mut found);
    for (id, job) in &workflow.jobs {
        platform(id, job, readiness, &mut found);
        for step in &job.steps {
            let StepKind::Uses { uses, with } = &step.kind else {
                continue;
            };
            action(&uses.value, uses.span, readiness, &mut found);
            checkout_elsewhere(&uses.value, with, &mut found);
        }
    }
    found
}

fn warning(span: Span, rule: &'static str, message: String) -> Diagnostic {
    Diagnostic {
        severity: Severity::Warning,
        span,
        message,
        rule,
    }
}

fn platform(id: &str, job: &Job, readiness: &Readiness<'_>, found: &mut Vec<Diagnostic>) {
    // A called workflow's jobs have their own `runs-on`; an expression is known at run time.
    let Some(runs_on) = job.runs_on.as_ref().filter(|_| job.uses.is_none()) else {
        return;
    };
    let RunsOn::Labels { labels, .. } = &runs_on.value else {
        return;
    };
    let literal: Vec<&str> = labels
        .iter()
        .map(|l| l.value.as_str())
        .filter(|l| !l.contains("${{"))
        .collect();
    if literal.len() != labels.len() || literal.is_empty() {
        return;
    }
    let mapped = literal
        .iter()
        .any(|l| readiness.platforms.contains_key(&l.to_ascii_lowercase()));
    if !mapped {
        let first = literal[0];
        found.push(warning(
            runs_on.span,
            OFFLINE_PLATFORM,
            format!(
                "job `{id}`: no platform for runs-on [{}]; gantry skips it unless a label is mapped (-P {first}=IMAGE or -P {first}=host)",
                literal.join(", ")
            ),
        ));
    }
}

/// The literal images a workflow's jobs need from the engine: containers, services and
/// `docker://` steps, with where each is written and what it is for.
fn wanted_images(workflow: &Workflow) -> Vec<(String, Span, &'static str)> {
    let mut wanted = Vec::new();
    for job in workflow.jobs.values() {
        let containers = job
            .container
            .iter()
            .map(|c| (&c.value.image, "the job container"))
            .chain(job.services.values().map(|s| (&s.value.image, "a service")));
        for (image, what) in containers {
            wanted.push((image.value.clone(), image.span, what));
        }
        for step in &job.steps {
            if let StepKind::Uses { uses, .. } = &step.kind
                && let Some(image) = uses.value.strip_prefix("docker://")
            {
                wanted.push((image.to_owned(), uses.span, "a step"));
            }
        }
    }
    wanted.retain(|(image, _, _)| !image.is_empty() && !image.contains("${{"));
    wanted
}

/// The images [`check`] asks the engine about.
pub fn image_names(workflow: &Workflow) -> Vec<String> {
    wanted_images(workflow)
        .into_iter()
        .map(|(image, _, _)| image)
        .collect()
}

/// Container, service and `docker://` images must already be in the engine: gantry never pulls.
fn images(workflow: &Workflow, readiness: &Readiness<'_>, found: &mut Vec<Diagnostic>) {
    for (image, span, what) in wanted_images(workflow) {
        if (readiness.image_present)(&image) == Some(false) {
            found.push(warning(
                span,
                OFFLINE_NETWORK,
                format!(
                    "image `{image}` ({what}) is not in the Docker engine, and gantry never pulls: pulling needs the network; load it first (`docker load -i FILE`, `docker build -t {image} .`)"
                ),
            ));
        }
    }
}

fn action(uses: &str, span: Span, readiness: &Readiness<'_>, found: &mut Vec<Diagnostic>) {
    if uses.starts_with("./") || uses.starts_with("docker://") || uses.contains("${{") {
        return;
    }
    let Some((path, _)) = uses.split_once('@') else {
        return;
    };
    let mut parts = path.split('/');
    let (Some(owner), Some(repo)) = (parts.next(), parts.next()) else {
        return;
    };
    if readiness.builtins.get(owner, repo).is_some() {
        return;
    }
    if readiness.store.has_action(uses) {
        return;
    }
    found.push(warning(
        span,
        OFFLINE_ACTION,
        format!(
            "`{uses}` is not in gantry's action store, so the step fails offline; add it with `gantry actions add {uses} PATH`, or fetch it with `gantry actions pull {uses}` (or `gantry run --pull-actions`), which needs the network"
        ),
    ));
}

/// `actions/checkout` of another repository fetches it from its forge.
fn checkout_elsewhere(
    uses: &str,
    with: &IndexMap<String, gantry_workflow::Spanned<Yaml>>,
    found: &mut Vec<Diagnostic>,
) {
    if !uses.to_ascii_lowercase().starts_with("actions/checkout@") {
        return;
    }
    let Some(repository) = with.get("repository") else {
        return;
    };
    let Yaml::String(name) = &repository.value else {
        return;
    };
    if name.is_empty() || name.contains("${{ github.repository }}") {
        return;
    }
    found.push(warning(
        repository.span,
        OFFLINE_NETWORK,
        format!(
            "`actions/checkout` of `{name}` fetches another repository, which needs the network; gantry checks out only the repository it runs in"
        ),
    ));
}

/// One notice per job whose `runs-on` names a retired label that the defaults (not `-P`) map.
pub fn legacy_label_notices(workflow: &Workflow, explicit: &[String]) -> Vec<String> {
    let mut notices = Vec::new();
    for (id, job) in &workflow.jobs {
        let Some(RunsOn::Labels { labels, .. }) = job.runs_on.as_ref().map(|r| &r.value) else {
            continue;
        };
        for label in labels {
            let lower = label.value.to_ascii_lowercase();
            if LEGACY_LABELS.contains(&lower.as_str()) && !explicit.contains(&lower) {
                notices.push(format!(
                    "job `{id}`: runs-on {} is retired on GitHub; gantry runs it on {} (Debian bookworm, newer tools than that Ubuntu); map it with -P {}=IMAGE to choose",
                    label.value,
                    crate::commands::run::DEFAULT_IMAGE,
                    label.value
                ));
            }
        }
    }
    notices
}
