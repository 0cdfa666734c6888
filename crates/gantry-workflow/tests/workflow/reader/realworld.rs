//! `shared/conformance/realworld/*`: 733 workflows GitHub ran. Every one must read without a
//! syntax error; other diagnostics are counted and printed for review.

use std::collections::BTreeMap;

use gantry_workflow::yaml::{self, NodeKind, YamlOptions};
use gantry_workflow::{Severity, Workflow, parse_workflow};

/// The model keeps every job and step of the YAML (GitHub ran these files, so none is broken).
fn check_complete(name: &str, source: &str, wf: &Workflow) {
    let root = yaml::read(source, YamlOptions::default()).root.unwrap();
    let jobs = root.get("jobs").unwrap();
    assert_eq!(jobs.entries().len(), wf.jobs.len(), "{name}: jobs");
    for (key, job) in jobs.entries() {
        let id = key.as_str().unwrap();
        let steps = match job.get("steps").map(|s| &s.kind) {
            Some(NodeKind::Seq(items)) => items.len(),
            _ => 0,
        };
        assert_eq!(steps, wf.jobs[id].steps.len(), "{name}: steps of {id}");
    }
}

#[test]
fn realworld_files_read() {
    let dir = super::conformance_dir().join("realworld");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    assert!(paths.len() >= 700, "realworld corpus missing");
    let mut syntax_failures = Vec::new();
    let mut with_errors = 0;
    let sources: Vec<(String, String)> = paths
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(p).unwrap())
        })
        .collect();
    // Printed for information only (never asserted): how long reading the corpus takes.
    let started = std::time::Instant::now();
    let all: Vec<_> = sources.iter().map(|(n, s)| parse_workflow(n, s)).collect();
    println!("realworld: parsed and validated in {:?}", started.elapsed());
    let mut by_rule: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for ((name, source), parsed) in sources.iter().zip(all) {
        let name = name.clone();
        if let Some(wf) = &parsed.value {
            check_complete(&name, source, wf);
        }
        for d in &parsed.diagnostics {
            let severity = if d.severity == Severity::Error {
                "error"
            } else {
                "warning"
            };
            *by_rule.entry((severity, d.rule)).or_default() += 1;
        }
        if parsed.value.is_none() || parsed.diagnostics.iter().any(|d| d.rule == "syntax") {
            syntax_failures.push(name.clone());
        }
        let errors: Vec<_> = parsed
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        if !errors.is_empty() {
            with_errors += 1;
            for d in errors {
                println!(
                    "{name}:{}:{} [{}] {}",
                    d.span.start.line, d.span.start.col, d.rule, d.message
                );
            }
        }
    }
    println!("realworld: diagnostics by rule: {by_rule:?}");
    println!(
        "realworld: {} files, {} with errors, {} unreadable",
        paths.len(),
        with_errors,
        syntax_failures.len()
    );
    assert!(
        syntax_failures.is_empty(),
        "unreadable: {syntax_failures:?}"
    );
}
