//! Workflow files into [`Workflow`].

use indexmap::IndexMap;

use super::{
    Sink, bool_at, env, is_expression, number_at, plain_bool, spanned_list, string, string_at,
    string_list, string_map, yaml, yaml_map,
};
use crate::model::{
    CallOutput, CallSecret, Concurrency, Container, Credentials, Defaults, Diagnostic, Environment,
    EventConfig, Input, InputType, Job, JobSecrets, Matrix, PermissionLevel, Permissions, RunsOn,
    Spanned, Step, StepKind, Strategy, Triggers, Workflow,
};
use crate::yaml::{Node, NodeKind};

/// Converts a workflow's root mapping. `None` if the root is not a mapping at all. Problems
/// only the conversion sees (GitHub's converter reports them too) go to `diagnostics`.
pub fn workflow(root: &Node, diagnostics: &mut Vec<Diagnostic>) -> Option<Workflow> {
    if !matches!(root.kind, NodeKind::Map(_)) {
        return None;
    }
    let mut sink = Sink::default();
    let wf = Workflow {
        name: string_at(root, "name"),
        run_name: string_at(root, "run-name"),
        on: root.get("on").map(triggers).unwrap_or_default(),
        permissions: root.get("permissions").and_then(permissions),
        env: env(root, "env"),
        defaults: defaults(root.get("defaults")),
        concurrency: root.get("concurrency").and_then(concurrency),
        jobs: root
            .get("jobs")
            .map(|j| jobs(j, &mut sink))
            .unwrap_or_default(),
        result_size: 0,
    };
    diagnostics.append(&mut sink.diagnostics);
    Some(wf)
}

/// `on:` in any of its three forms, as a map of event to configuration.
fn triggers(node: &Node) -> Triggers {
    let mut events = IndexMap::new();
    match &node.kind {
        NodeKind::Map(entries) => {
            for (k, v) in entries {
                if let Some(name) = k.scalar_to_string() {
                    events.insert(name, Spanned::new(event_config(v), k.span));
                }
            }
        }
        _ => {
            for name in string_list(node) {
                events.insert(name.value, Spanned::new(EventConfig::default(), name.span));
            }
        }
    }
    Triggers {
        events,
        span: node.span,
    }
}

fn event_config(node: &Node) -> EventConfig {
    // `schedule:` is a sequence of `{cron: ...}`.
    if let NodeKind::Seq(items) = &node.kind {
        return EventConfig {
            crons: items.iter().filter_map(|i| string_at(i, "cron")).collect(),
            ..EventConfig::default()
        };
    }
    let list = |key: &str| node.get(key).map(spanned_list);
    EventConfig {
        types: list("types"),
        branches: list("branches"),
        branches_ignore: list("branches-ignore"),
        tags: list("tags"),
        tags_ignore: list("tags-ignore"),
        paths: list("paths"),
        paths_ignore: list("paths-ignore"),
        workflows: list("workflows"),
        crons: Vec::new(),
        inputs: named(node.get("inputs"), input),
        outputs: named(node.get("outputs"), call_output),
        secrets: named(node.get("secrets"), call_secret),
    }
}

/// A mapping of name → definition; entries whose definition does not convert are skipped.
fn named<T>(
    node: Option<&Node>,
    mut f: impl FnMut(&Node) -> Option<T>,
) -> IndexMap<String, Spanned<T>> {
    let Some(node) = node else {
        return IndexMap::new();
    };
    node.entries()
        .iter()
        .filter_map(|(k, v)| Some((k.scalar_to_string()?, Spanned::new(f(v)?, v.span))))
        .collect()
}

fn input(node: &Node) -> Option<Input> {
    let kind = match string_at(node, "type").as_ref().map(|s| s.value.as_str()) {
        Some("boolean") => InputType::Boolean,
        Some("number") => InputType::Number,
        Some("choice") => InputType::Choice,
        Some("environment") => InputType::Environment,
        _ => InputType::String,
    };
    Some(Input {
        description: string_at(node, "description"),
        required: plain_bool(node.get("required")),
        default: node.get("default").map(yaml),
        kind,
        options: node.get("options").map(string_list).unwrap_or_default(),
    })
}

fn call_output(node: &Node) -> Option<CallOutput> {
    Some(CallOutput {
        description: string_at(node, "description"),
        value: string_at(node, "value")?,
    })
}

fn call_secret(node: &Node) -> Option<CallSecret> {
    Some(CallSecret {
        description: string_at(node, "description"),
        required: plain_bool(node.get("required")),
    })
}

fn permissions(node: &Node) -> Option<Spanned<Permissions>> {
    let value = match &node.kind {
        NodeKind::String(s) if s == "read-all" => Permissions::ReadAll,
        NodeKind::String(s) if s == "write-all" => Permissions::WriteAll,
        NodeKind::Map(entries) => Permissions::Scopes(
            entries
                .iter()
                .filter_map(|(k, v)| {
                    let level = match v.as_str()? {
                        "read" => PermissionLevel::Read,
                        "write" => PermissionLevel::Write,
                        "none" => PermissionLevel::None,
                        _ => return None,
                    };
                    Some((k.scalar_to_string()?, Spanned::new(level, v.span)))
                })
                .collect(),
        ),
        _ => return None,
    };
    Some(Spanned::new(value, node.span))
}

fn defaults(node: Option<&Node>) -> Defaults {
    let Some(run) = node.and_then(|n| n.get("run")) else {
        return Defaults::default();
    };
    Defaults {
        shell: string_at(run, "shell"),
        working_directory: string_at(run, "working-directory"),
    }
}

fn concurrency(node: &Node) -> Option<Spanned<Concurrency>> {
    let value = match &node.kind {
        NodeKind::Map(_) => Concurrency {
            group: string_at(node, "group")?,
            cancel_in_progress: bool_at(node, "cancel-in-progress"),
        },
        _ => Concurrency {
            group: string(node)?,
            cancel_in_progress: None,
        },
    };
    Some(Spanned::new(value, node.span))
}

fn jobs(node: &Node, sink: &mut Sink) -> IndexMap<String, Job> {
    if node.entries().is_empty() && matches!(node.kind, NodeKind::Map(_) | NodeKind::Null) {
        sink.error(
            node.span,
            "The workflow must contain at least one job with no dependencies.",
        );
    }
    node.entries()
        .iter()
        .filter_map(|(k, v)| {
            let id = Spanned::new(k.scalar_to_string()?, k.span);
            Some((id.value.clone(), job(id, v, sink)?))
        })
        .collect()
}

fn job(id: Spanned<String>, node: &Node, sink: &mut Sink) -> Option<Job> {
    if !matches!(node.kind, NodeKind::Map(_)) {
        return None;
    }
    Some(Job {
        id,
        name: string_at(node, "name"),
        needs: node.get("needs").map(string_list).unwrap_or_default(),
        if_: string_at(node, "if"),
        runs_on: node.get("runs-on").and_then(|r| runs_on(r, sink)),
        environment: node.get("environment").and_then(environment),
        outputs: node.get("outputs").map(string_map).unwrap_or_default(),
        env: env(node, "env"),
        defaults: defaults(node.get("defaults")),
        permissions: node.get("permissions").and_then(permissions),
        concurrency: node.get("concurrency").and_then(concurrency),
        strategy: node.get("strategy").and_then(strategy),
        container: node.get("container").and_then(|c| container(c, sink)),
        services: node
            .get("services")
            .map(|s| named(Some(s), |c| container(c, sink).map(|c| c.value)))
            .unwrap_or_default(),
        timeout_minutes: number_at(node, "timeout-minutes"),
        cancel_timeout_minutes: number_at(node, "cancel-timeout-minutes"),
        continue_on_error: bool_at(node, "continue-on-error"),
        steps: node.get("steps").map(steps).unwrap_or_default(),
        uses: string_at(node, "uses"),
        with: yaml_map(node.get("with")),
        secrets: node.get("secrets").and_then(job_secrets),
        span: node.span,
    })
}

fn runs_on(node: &Node, sink: &mut Sink) -> Option<Spanned<RunsOn>> {
    let value = match &node.kind {
        NodeKind::String(s) if is_expression(s) => RunsOn::Expr(s.clone()),
        NodeKind::Map(_) => RunsOn::Labels {
            labels: node.get("labels").map(string_list).unwrap_or_default(),
            group: string_at(node, "group").inspect(|g| check_group(g, sink)),
        },
        _ => RunsOn::Labels {
            labels: string_list(node),
            group: None,
        },
    };
    Some(Spanned::new(value, node.span))
}

/// A runner group is a name, or `org/`/`organization/`/`ent/`/`enterprise/` and a name.
fn check_group(group: &Spanned<String>, sink: &mut Sink) {
    let name = &group.value;
    if name.contains("${{") {
        return;
    }
    let parts: Vec<&str> = name.split('/').collect();
    let message = match parts.as_slice() {
        [_] => return,
        [prefix, _] if !matches!(*prefix, "org" | "organization" | "ent" | "enterprise") => {
            format!(
                "Invalid runs-on group name '{name}'. Please use 'organization/' or 'enterprise/' prefix to target a single runner group."
            )
        }
        [_, ""] => format!("Invalid runs-on group name '{name}'."),
        [_, _] => return,
        _ => format!(
            "Invalid runs-on group name '{name}'. Please use 'organization/' or 'enterprise/' prefix to target a single runner group."
        ),
    };
    sink.error(group.span, &message);
}

fn environment(node: &Node) -> Option<Spanned<Environment>> {
    let value = match &node.kind {
        NodeKind::Map(_) => Environment {
            name: string_at(node, "name")?,
            url: string_at(node, "url"),
        },
        _ => Environment {
            name: string(node)?,
            url: None,
        },
    };
    Some(Spanned::new(value, node.span))
}

fn strategy(node: &Node) -> Option<Spanned<Strategy>> {
    if !matches!(node.kind, NodeKind::Map(_)) {
        return None;
    }
    let value = Strategy {
        matrix: node.get("matrix").and_then(matrix),
        fail_fast: bool_at(node, "fail-fast"),
        max_parallel: number_at(node, "max-parallel"),
    };
    Some(Spanned::new(value, node.span))
}

fn matrix(node: &Node) -> Option<Spanned<Matrix>> {
    let value = match &node.kind {
        NodeKind::String(s) => Matrix::Expr(s.clone()),
        NodeKind::Map(entries) => {
            let mut dimensions = Vec::new();
            let (mut include, mut exclude) = (None, None);
            for (k, v) in entries {
                match k.as_str() {
                    Some("include") => include = Some(yaml(v)),
                    Some("exclude") => exclude = Some(yaml(v)),
                    _ => {
                        let key = k.scalar_to_string().unwrap_or_default();
                        dimensions.push((Spanned::new(key, k.span), yaml(v)));
                    }
                }
            }
            Matrix::Map {
                dimensions,
                include,
                exclude,
            }
        }
        _ => return None,
    };
    Some(Spanned::new(value, node.span))
}

/// `container:` / a service: the string form names only the image, which may not be empty.
fn container(node: &Node, sink: &mut Sink) -> Option<Spanned<Container>> {
    let image = match &node.kind {
        NodeKind::Map(_) => string_at(node, "image").filter(|i| !i.value.is_empty()),
        _ => string(node).filter(|i| !i.value.is_empty()),
    };
    // An expression may still produce an image at run time; a missing or empty one never will.
    if image.is_none() && !matches!(node.kind, NodeKind::Seq(_)) {
        sink.error(node.span, "Container image cannot be empty");
    }
    let value = match &node.kind {
        NodeKind::Map(_) => Container {
            image: image.unwrap_or_else(|| Spanned::new(String::new(), node.span)),
            credentials: node.get("credentials").and_then(credentials),
            env: env(node, "env"),
            ports: node.get("ports").map(string_list).unwrap_or_default(),
            volumes: node.get("volumes").map(string_list).unwrap_or_default(),
            options: string_at(node, "options"),
        },
        NodeKind::Seq(_) => return None,
        _ => Container {
            image: image?,
            credentials: None,
            env: IndexMap::new(),
            ports: Vec::new(),
            volumes: Vec::new(),
            options: None,
        },
    };
    Some(Spanned::new(value, node.span))
}

fn credentials(node: &Node) -> Option<Spanned<Credentials>> {
    let value = Credentials {
        username: string_at(node, "username")?,
        password: string_at(node, "password")?,
    };
    Some(Spanned::new(value, node.span))
}

fn job_secrets(node: &Node) -> Option<Spanned<JobSecrets>> {
    let value = match &node.kind {
        NodeKind::String(s) if s == "inherit" => JobSecrets::Inherit,
        NodeKind::Map(_) => JobSecrets::Map(string_map(node)),
        _ => return None,
    };
    Some(Spanned::new(value, node.span))
}

/// Steps of a job or a composite action; entries that are neither `run` nor `uses` steps are
/// skipped (the schema walker has reported them).
pub(super) fn steps(node: &Node) -> Vec<Step> {
    match &node.kind {
        NodeKind::Seq(items) => items.iter().filter_map(step).collect(),
        _ => Vec::new(),
    }
}

fn step(node: &Node) -> Option<Step> {
    if !matches!(node.kind, NodeKind::Map(_)) {
        return None;
    }
    let kind = if let Some(run) = string_at(node, "run") {
        StepKind::Run {
            run,
            shell: string_at(node, "shell"),
            working_directory: string_at(node, "working-directory"),
        }
    } else {
        StepKind::Uses {
            uses: string_at(node, "uses")?,
            with: yaml_map(node.get("with")),
        }
    };
    Some(Step {
        id: string_at(node, "id"),
        name: string_at(node, "name"),
        if_: string_at(node, "if"),
        kind,
        env: env(node, "env"),
        continue_on_error: bool_at(node, "continue-on-error"),
        timeout_minutes: number_at(node, "timeout-minutes"),
        span: node.span,
    })
}
