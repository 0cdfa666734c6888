//! Every string of a workflow that GitHub evaluates, with where it is: the rules that read
//! `${{ }}` (contexts, types, injection) visit these sites instead of walking the model each.

use gantry_workflow::{
    Container, Job, JobSecrets, Matrix, OrExpr, RunsOn, Span, Spanned, StepKind, Workflow, Yaml,
};

/// Which key a string is the value of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place<'w> {
    RunName,
    Env,
    Concurrency,
    JobName,
    /// A job's or a step's `if:`: a condition, `${{ }}` optional.
    If,
    RunsOn,
    Environment,
    JobOutput,
    Matrix,
    Container,
    /// A reusable-workflow call's `with:` or `secrets:`.
    CallArgument,
    StepName,
    Run,
    /// A step's `with:` input.
    With(&'w str),
    Other,
}

/// One evaluated string.
#[derive(Debug, Clone, Copy)]
pub struct Site<'w> {
    pub text: &'w str,
    pub span: Span,
    pub place: Place<'w>,
    pub job: Option<&'w Job>,
    /// The index of the step in `job.steps`; `None` for job-level keys (where `steps` means
    /// every step of the job, as in `outputs:`).
    pub step: Option<usize>,
}

/// Calls `visit` for every evaluated string of `workflow`, in source order per job.
pub fn sites<'w>(workflow: &'w Workflow, visit: &mut dyn FnMut(Site<'w>)) {
    let mut at = |text: &'w Spanned<String>, place, job, step| {
        visit(Site {
            text: &text.value,
            span: text.span,
            place,
            job,
            step,
        })
    };
    if let Some(name) = &workflow.run_name {
        at(name, Place::RunName, None, None);
    }
    for value in workflow.env.values() {
        at(value, Place::Env, None, None);
    }
    if let Some(c) = &workflow.concurrency {
        at(&c.value.group, Place::Concurrency, None, None);
    }
    for job in workflow.jobs.values() {
        job_sites(job, &mut at);
    }
}

type At<'a, 'w> = dyn FnMut(&'w Spanned<String>, Place<'w>, Option<&'w Job>, Option<usize>) + 'a;

fn job_sites<'w>(job: &'w Job, at: &mut At<'_, 'w>) {
    let j = Some(job);
    if let Some(name) = &job.name {
        at(name, Place::JobName, j, None);
    }
    if let Some(cond) = &job.if_ {
        at(cond, Place::If, j, None);
    }
    if let Some(runs_on) = &job.runs_on {
        match &runs_on.value {
            RunsOn::Labels { labels, group } => {
                for label in labels.iter().chain(group) {
                    at(label, Place::RunsOn, j, None);
                }
            }
            RunsOn::Expr(_) => {}
        }
    }
    if let Some(env) = &job.environment {
        at(&env.value.name, Place::Environment, j, None);
        if let Some(url) = &env.value.url {
            at(url, Place::Environment, j, None);
        }
    }
    for value in job.outputs.values() {
        at(value, Place::JobOutput, j, None);
    }
    for value in job.env.values() {
        at(value, Place::Env, j, None);
    }
    if let Some(c) = &job.concurrency {
        at(&c.value.group, Place::Concurrency, j, None);
    }
    for container in job.container.iter().chain(job.services.values()) {
        container_sites(&container.value, j, at);
    }
    if let Some(JobSecrets::Map(map)) = job.secrets.as_ref().map(|s| &s.value) {
        for value in map.values() {
            at(value, Place::CallArgument, j, None);
        }
    }
    for (index, step) in job.steps.iter().enumerate() {
        let s = Some(index);
        if let Some(name) = &step.name {
            at(name, Place::StepName, j, s);
        }
        if let Some(cond) = &step.if_ {
            at(cond, Place::If, j, s);
        }
        for value in step.env.values() {
            at(value, Place::Env, j, s);
        }
        match &step.kind {
            StepKind::Run {
                run,
                shell,
                working_directory,
            } => {
                at(run, Place::Run, j, s);
                for other in shell.iter().chain(working_directory) {
                    at(other, Place::Other, j, s);
                }
            }
            StepKind::Uses { .. } => {}
        }
    }
}

fn container_sites<'w>(container: &'w Container, j: Option<&'w Job>, at: &mut At<'_, 'w>) {
    at(&container.image, Place::Container, j, None);
    if let Some(credentials) = &container.credentials {
        at(&credentials.value.username, Place::Container, j, None);
        at(&credentials.value.password, Place::Container, j, None);
    }
    for value in container.env.values() {
        at(value, Place::Env, j, None);
    }
    if let Some(options) = &container.options {
        at(options, Place::Container, j, None);
    }
}

/// The string scalars of free-form YAML (`with:` values, matrix vectors) with their spans;
/// other scalars cannot hold `${{ }}`.
pub fn yaml_strings<'y>(yaml: &'y Spanned<Yaml>, visit: &mut dyn FnMut(&'y str, Span)) {
    match &yaml.value {
        Yaml::String(s) => visit(s, yaml.span),
        Yaml::Seq(items) => items.iter().for_each(|i| yaml_strings(i, visit)),
        Yaml::Map(entries) => entries.iter().for_each(|(_, v)| yaml_strings(v, visit)),
        Yaml::Null | Yaml::Bool(_) | Yaml::Number(_) => {}
    }
}

/// Sites held as free-form YAML or as `OrExpr`: step `with:`, call `with:`, matrices,
/// `continue-on-error`, `timeout-minutes`.
pub fn yaml_sites<'w>(workflow: &'w Workflow, visit: &mut dyn FnMut(Site<'w>)) {
    for job in workflow.jobs.values() {
        let site = |text, span, place, step| Site {
            text,
            span,
            place,
            job: Some(job),
            step,
        };
        for value in job.with.values() {
            yaml_strings(value, &mut |t, s| {
                visit(site(t, s, Place::CallArgument, None))
            });
        }
        if let Some(strategy) = &job.strategy
            && let Some(matrix) = &strategy.value.matrix
        {
            match &matrix.value {
                Matrix::Expr(text) => visit(site(text, matrix.span, Place::Matrix, None)),
                Matrix::Map {
                    dimensions,
                    include,
                    exclude,
                } => {
                    for (_, value) in dimensions {
                        yaml_strings(value, &mut |t, s| visit(site(t, s, Place::Matrix, None)));
                    }
                    for value in include.iter().chain(exclude) {
                        yaml_strings(value, &mut |t, s| visit(site(t, s, Place::Matrix, None)));
                    }
                }
            }
        }
        for flag in [&job.continue_on_error].into_iter().flatten() {
            if let OrExpr::Expr(text) = &flag.value {
                visit(site(text, flag.span, Place::Other, None));
            }
        }
        for (index, step) in job.steps.iter().enumerate() {
            if let StepKind::Uses { with, .. } = &step.kind {
                for (name, value) in with {
                    yaml_strings(value, &mut |t, s| {
                        visit(site(t, s, Place::With(name), Some(index)))
                    });
                }
            }
            if let Some(flag) = &step.continue_on_error
                && let OrExpr::Expr(text) = &flag.value
            {
                visit(site(text, flag.span, Place::Other, Some(index)));
            }
            if let Some(timeout) = &step.timeout_minutes
                && let OrExpr::Expr(text) = &timeout.value
            {
                visit(site(text, timeout.span, Place::Other, Some(index)));
            }
        }
    }
}

/// Every site, model strings and YAML alike.
pub fn all_sites<'w>(workflow: &'w Workflow) -> Vec<Site<'w>> {
    let mut out = Vec::new();
    sites(workflow, &mut |s| out.push(s));
    yaml_sites(workflow, &mut |s| out.push(s));
    out
}
