//! Checks on hand-built models (the YAML fixtures under `tests/checks/` cover the same rules
//! through the reader).

use indexmap::IndexMap;

use super::*;
use crate::model::*;

fn span(line: u32, col: u32) -> Span {
    let start = Pos {
        line,
        col,
        offset: (line * 1000 + col) as usize,
    };
    Span {
        start,
        end: Pos {
            col: col + 1,
            offset: start.offset + 1,
            ..start
        },
    }
}

fn s(value: &str, line: u32, col: u32) -> Spanned<String> {
    Spanned::new(value.to_owned(), span(line, col))
}

fn job(id: &str, line: u32, needs: &[(&str, u32, u32)]) -> Job {
    Job {
        id: s(id, line, 3),
        name: None,
        needs: needs.iter().map(|(n, l, c)| s(n, *l, *c)).collect(),
        if_: None,
        runs_on: Some(Spanned::new(
            RunsOn::Labels {
                labels: vec![s("x", line + 1, 14)],
                group: None,
            },
            span(line + 1, 14),
        )),
        environment: None,
        outputs: IndexMap::new(),
        env: IndexMap::new(),
        defaults: Defaults::default(),
        permissions: None,
        concurrency: None,
        strategy: None,
        container: None,
        services: IndexMap::new(),
        timeout_minutes: None,
        cancel_timeout_minutes: None,
        continue_on_error: None,
        steps: vec![run_step(None, line + 2)],
        uses: None,
        with: IndexMap::new(),
        secrets: None,
        span: span(line + 1, 5),
    }
}

fn run_step(id: Option<Spanned<String>>, line: u32) -> Step {
    let kind = StepKind::Run {
        run: s("echo", line, 14),
        shell: None,
        working_directory: None,
    };
    Step {
        id,
        name: None,
        if_: None,
        kind,
        env: IndexMap::new(),
        continue_on_error: None,
        timeout_minutes: None,
        span: span(line, 9),
    }
}

fn uses_step(uses: &str, line: u32) -> Step {
    Step {
        kind: StepKind::Uses {
            uses: s(uses, line, 15),
            with: IndexMap::new(),
        },
        ..run_step(None, line)
    }
}

fn workflow(jobs: Vec<Job>) -> Workflow {
    let mut on = Triggers::default();
    on.events.insert(
        "push".into(),
        Spanned::new(EventConfig::default(), span(1, 5)),
    );
    Workflow {
        name: None,
        run_name: None,
        on,
        permissions: None,
        env: IndexMap::new(),
        defaults: Defaults::default(),
        concurrency: None,
        jobs: jobs.into_iter().map(|j| (j.id.value.clone(), j)).collect(),
    }
}

fn render(diagnostics: &[Diagnostic]) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| {
            format!(
                "{}:{}: {} [{}]",
                d.span.start.line, d.span.start.col, d.message, d.rule
            )
        })
        .collect()
}

#[test]
fn needs_cycle_matches_github_and_names_the_cycle() {
    let wf = workflow(vec![
        job("one", 4, &[]),
        job("two", 9, &[("one", 11, 9), ("three", 12, 9)]),
        job("three", 17, &[("two", 18, 12)]),
    ]);
    assert_eq!(
        render(&check_workflow(&wf)),
        [
            "9:3: The jobs form a dependency cycle: two -> three -> two [needs-cycle]",
            "12:9: Job 'two' depends on job 'three' which creates a cycle in the dependency graph. [needs-cycle]",
            "18:12: Job 'three' depends on job 'two' which creates a cycle in the dependency graph. [needs-cycle]",
        ]
    );
}

#[test]
fn needs_without_start_node_unknown_and_duplicates() {
    let wf = workflow(vec![
        job("one", 4, &[("two", 5, 12)]),
        job("two", 10, &[("one", 11, 12)]),
    ]);
    assert_eq!(
        render(&check_workflow(&wf)),
        [
            "4:3: The workflow must contain at least one job with no dependencies. [needs-cycle]",
            "4:3: The jobs form a dependency cycle: one -> two -> one [needs-cycle]",
        ]
    );
    let wf = workflow(vec![
        job("a", 4, &[]),
        job("b", 9, &[("a", 10, 12), ("nope", 10, 15), ("A", 10, 20)]),
    ]);
    assert_eq!(
        render(&check_workflow(&wf)),
        [
            "10:15: Job 'b' depends on unknown job 'nope'. [needs]",
            "10:20: Job 'b' lists job 'A' in 'needs' more than once. [needs]",
            "10:20: Job 'b' depends on unknown job 'A'. [needs]",
        ]
    );
    let wf = workflow(vec![job("a", 4, &[]), job("b", 9, &[("a", 10, 12)])]);
    assert!(check_workflow(&wf).is_empty());
}

#[test]
fn job_and_step_ids() {
    let mut build = job("__build", 4, &[]);
    build.steps = vec![
        run_step(Some(s("my-step", 7, 13)), 7),
        run_step(Some(s("MY-STEP", 8, 13)), 8),
        run_step(Some(s("-bad", 9, 13)), 9),
        run_step(Some(s("__x", 10, 13)), 10),
        run_step(Some(s("ok_1", 11, 13)), 11),
    ];
    assert_eq!(
        render(&check_workflow(&workflow(vec![build]))),
        [
            "4:3: The identifier '__build' is invalid. IDs starting with '__' are reserved. [job-id]",
            "8:13: The identifier 'MY-STEP' may not be used more than once within the same scope. [step-id]",
            "9:13: The identifier '-bad' is invalid. IDs may only contain alphanumeric characters, '_', and '-'. IDs must start with a letter or '_' and and must be less than 100 characters. [step-id]",
            "10:13: The identifier '__x' is invalid. IDs starting with '__' are reserved. [step-id]",
        ]
    );
}

#[test]
fn step_uses_syntax() {
    let mut build = job("build", 4, &[]);
    build.steps = [
        "docker://alpine:3.8",
        "actions/aws/ec2@main",
        "./x",
        "badrepo@invalid",
        "actions/checkout",
        "docker://",
    ]
    .iter()
    .zip(7..)
    .map(|(u, line)| uses_step(u, line))
    .collect();
    assert_eq!(
        render(&check_workflow(&workflow(vec![build]))),
        [
            "10:15: Expected format {org}/{repo}[/path]@ref. Actual 'badrepo@invalid' [uses]",
            "11:15: Expected format {org}/{repo}[/path]@ref. Actual 'actions/checkout' [uses]",
            "12:15: 'docker://' must be followed by an image. [uses]",
        ]
    );
}
