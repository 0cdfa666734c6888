//! `shared/conformance/workflow-parser/*.yml`: every error case must report an error at each
//! expected line and column; every accepted case must parse without errors.

use std::fmt::Write as _;
use std::path::Path;

use std::collections::HashMap;

use gantry_workflow::{
    CallOptions, Diagnostic, PermissionPolicy, ReadOptions, Severity, Workflow, check_calls,
    parse_workflow_with,
};

/// Cases this reader cannot do yet, each with the reason. Keep it short.
const ALLOWED_FAILURES: &[(&str, &str)] = &[];

/// One expected error: `(line, col)` when GitHub gives a position, and the message.
struct Expected {
    pos: Option<(u32, u32)>,
    message: String,
}

struct Case {
    options: ReadOptions,
    calls: CallOptions,
    workflow: String,
    /// Called workflows of reusable-workflow cases: `(reference, content)`.
    extra_files: Vec<(String, String)>,
    errors: Option<Vec<Expected>>,
}

fn load(path: &Path) -> Case {
    let text = std::fs::read_to_string(path).unwrap().replace("\r\n", "\n");
    let parts: Vec<&str> = text.split("\n---\n").collect();
    let expected: serde_json::Value = serde_json::from_str(parts[parts.len() - 1]).unwrap();
    let errors = expected
        .get("errors")
        .and_then(|e| e.as_array())
        .map(|errors| {
            errors
                .iter()
                .map(|e| parse_expected(e["Message"].as_str().unwrap()))
                .collect()
        });
    let extra_files = parts[2..parts.len() - 1]
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (c[0].trim().to_owned(), c[1].to_owned()))
        .collect();
    Case {
        options: read_options(parts[0]),
        calls: call_options(parts[0]),
        workflow: parts[1].to_owned(),
        extra_files,
        errors,
    }
}

/// The case's limits and feature flags (`max-depth: 5`, `experimental-features: ...`).
fn read_options(header: &str) -> ReadOptions {
    let mut options = ReadOptions::default();
    for line in header.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.split('#').next().unwrap_or("").trim();
        match key.trim() {
            "max-depth" => options.max_depth = value.parse().unwrap(),
            "max-file-size" => options.max_file_size = value.parse().unwrap(),
            "max-result-size" => options.max_result_size = value.parse().unwrap(),
            "allowBackgroundSteps" => options.allow_background_steps = value == "true",
            _ => {}
        }
    }
    options
}

/// The repository policy and job limit a case assumes.
fn call_options(header: &str) -> CallOptions {
    let mut options = CallOptions::default();
    if header.contains("permissions-policy: LimitedRead") {
        options.policy = PermissionPolicy::LimitedRead;
    }
    if let Some(limit) = header
        .lines()
        .find_map(|l| l.strip_prefix("max-job-limit:"))
    {
        options.max_jobs = limit.trim().parse().unwrap();
    }
    if let Some(limit) = header
        .lines()
        .find_map(|l| l.strip_prefix("max-result-size:"))
    {
        let limit = limit.split('#').next().unwrap_or("").trim();
        options.max_result_size = limit.parse().unwrap();
    }
    options
}

/// `.github/workflows/x.yml (Line: 5, Col: 18): message` or `.github/workflows/x.yml: message`.
fn parse_expected(message: &str) -> Expected {
    if let Some(rest) = message.split_once(" (Line: ").map(|(_, r)| r) {
        let (line, rest) = rest.split_once(", Col: ").unwrap();
        let (col, msg) = rest.split_once("): ").unwrap();
        return Expected {
            pos: Some((line.parse().unwrap(), col.parse().unwrap())),
            message: msg.to_owned(),
        };
    }
    let msg = match message.strip_prefix(".github/workflows/") {
        Some(rest) => rest.split_once(": ").map_or(rest, |(_, m)| m),
        None => message,
    };
    Expected {
        pos: None,
        message: msg.to_owned(),
    }
}

fn errors(diagnostics: &[Diagnostic]) -> impl Iterator<Item = &Diagnostic> {
    diagnostics.iter().filter(|d| d.severity == Severity::Error)
}

#[derive(Default)]
struct Tally {
    error_cases: usize,
    error_cases_ok: usize,
    expected_errors: usize,
    position_matches: usize,
    message_matches: usize,
    accepted_cases: usize,
    accepted_ok: usize,
    failures: Vec<(String, String)>,
}

impl Tally {
    fn error_case(&mut self, name: &str, expected: &[Expected], found: &[Diagnostic]) {
        self.error_cases += 1;
        let mut missing = String::new();
        for e in expected {
            self.expected_errors += 1;
            let at_pos: Vec<&Diagnostic> = errors(found)
                .filter(|d| {
                    e.pos
                        .is_none_or(|(l, c)| d.span.start.line == l && d.span.start.col == c)
                })
                .collect();
            if at_pos.iter().any(|d| d.message == e.message) {
                self.message_matches += 1;
            }
            if !at_pos.is_empty() {
                self.position_matches += 1;
            } else {
                let _ = writeln!(missing, "  missing {:?}: {}", e.pos, e.message);
            }
        }
        if missing.is_empty() {
            self.error_cases_ok += 1;
        } else {
            for d in errors(found) {
                let _ = writeln!(
                    missing,
                    "  found {}:{} {}",
                    d.span.start.line, d.span.start.col, d.message
                );
            }
            self.failures.push((name.to_owned(), missing));
        }
    }

    fn accepted_case(&mut self, name: &str, found: &[Diagnostic]) {
        self.accepted_cases += 1;
        let mut unexpected = String::new();
        for d in errors(found) {
            let _ = writeln!(
                unexpected,
                "  unexpected {}:{} {}",
                d.span.start.line, d.span.start.col, d.message
            );
        }
        if unexpected.is_empty() {
            self.accepted_ok += 1;
        } else {
            self.failures.push((name.to_owned(), unexpected));
        }
    }
}

#[test]
fn workflow_parser_conformance() {
    let dir = super::conformance_dir().join("workflow-parser");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    paths.sort();
    let mut tally = Tally::default();
    for path in &paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let case = load(path);
        let found = diagnostics(&name, &case);
        match &case.errors {
            Some(expected) => tally.error_case(&name, expected, &found),
            None => tally.accepted_case(&name, &found),
        }
    }
    println!(
        "error cases: {}/{} pass; expected errors at the right position: {}/{}, with GitHub's exact message: {}",
        tally.error_cases_ok,
        tally.error_cases,
        tally.position_matches,
        tally.expected_errors,
        tally.message_matches
    );
    println!(
        "accepted cases: {}/{} parse without errors",
        tally.accepted_ok, tally.accepted_cases
    );
    let mut unexpected = Vec::new();
    for (name, detail) in &tally.failures {
        let allowed = ALLOWED_FAILURES.iter().any(|(n, _)| n == name);
        println!(
            "{} {name}\n{detail}",
            if allowed { "ALLOWED" } else { "FAIL" }
        );
        if !allowed {
            unexpected.push(name.as_str());
        }
    }
    for (name, _) in ALLOWED_FAILURES {
        if !tally.failures.iter().any(|(n, _)| n == name) {
            println!("STALE allow-list entry (the case passes now): {name}");
        }
    }
    assert!(
        unexpected.is_empty(),
        "conformance failures: {unexpected:?}"
    );
}

/// Everything reported on the case's workflow and on each called workflow (whose diagnostics
/// carry their positions in that file, as GitHub's do), including the call checks.
fn diagnostics(name: &str, case: &Case) -> Vec<Diagnostic> {
    let parsed = parse_workflow_with(name, &case.workflow, &case.options);
    let mut found = parsed.diagnostics;
    let mut callees: HashMap<&str, Workflow> = HashMap::new();
    for (reference, content) in &case.extra_files {
        let callee = parse_workflow_with(reference, content, &case.options);
        found.extend(callee.diagnostics.into_iter().map(|mut d| {
            d.message = format!("[{reference}] {}", d.message);
            d
        }));
        if let Some(wf) = callee.value {
            callees.insert(reference.as_str(), wf);
        }
    }
    let resolve = |r: &str| callees.get(r).cloned();
    for wf in parsed.value.iter().chain(callees.values()) {
        found.extend(check_calls(wf, &resolve, &case.calls));
    }
    found
}

/// `tests/workflow/reader/given/*.yml`, cases in the same format written here from GitHub's
/// reader rules (the `max-result-size` accounting). Stricter than the shared suite: a case
/// reports exactly its expected errors, so a count that is one byte off fails either way.
#[test]
fn given_cases_report_exactly_their_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workflow/reader/given");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    assert!(paths.len() >= 6);
    for path in &paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let case = load(path);
        let found = diagnostics(&name, &case);
        let mut found: Vec<(Option<(u32, u32)>, String)> = errors(&found)
            .map(|d| {
                (
                    Some((d.span.start.line, d.span.start.col)),
                    d.message.clone(),
                )
            })
            .collect();
        let expected = case.errors.unwrap_or_default();
        for e in &expected {
            let at = found
                .iter()
                .position(|(pos, m)| *m == e.message && (e.pos.is_none() || e.pos == *pos));
            match at {
                Some(i) => {
                    found.remove(i);
                }
                None => panic!("{name}: missing {:?} {}; found {found:?}", e.pos, e.message),
            }
        }
        assert!(found.is_empty(), "{name}: unexpected {found:?}");
    }
}
