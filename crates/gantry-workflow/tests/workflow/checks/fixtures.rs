//! Every folder under `fixtures/` holds `workflow.yml` or `action.yml`, and `expected.txt` with
//! the diagnostics of the semantic checks alone (not the schema's), rendered by [`render`].

use std::fs;
use std::path::{Path, PathBuf};

use gantry_workflow::checks::{check_action, check_workflow};
use gantry_workflow::{Diagnostic, parse_action, parse_workflow};

use crate::checks::render;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workflow/checks/fixtures")
}

/// The checks' diagnostics for one case; the file itself must read without syntax errors.
fn run_case(dir: &Path) -> Vec<Diagnostic> {
    let workflow = dir.join("workflow.yml");
    let (name, is_workflow) = if workflow.exists() {
        (workflow, true)
    } else {
        (dir.join("action.yml"), false)
    };
    let source = fs::read_to_string(&name).unwrap();
    let file = name.display().to_string();
    if is_workflow {
        let parsed = parse_workflow(&file, &source);
        assert!(
            parsed.diagnostics.iter().all(|d| d.rule != "syntax"),
            "{file}: {:?}",
            parsed.diagnostics
        );
        check_workflow(&parsed.value.unwrap())
    } else {
        let parsed = parse_action(&file, &source);
        assert!(
            parsed.diagnostics.iter().all(|d| d.rule != "syntax"),
            "{file}: {:?}",
            parsed.diagnostics
        );
        check_action(&parsed.value.unwrap())
    }
}

#[test]
fn fixtures() {
    let mut cases: Vec<PathBuf> = fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    let mut failures = String::new();
    for case in &cases {
        let actual = render(&run_case(case));
        let expected = fs::read_to_string(case.join("expected.txt")).unwrap();
        if actual != expected {
            let name = case.file_name().unwrap().to_string_lossy();
            failures += &format!("--- {name}\nexpected:\n{expected}actual:\n{actual}\n");
        }
    }
    assert!(cases.len() >= 25, "fixtures went missing: {}", cases.len());
    assert!(failures.is_empty(), "{failures}");
}

/// Every rule must appear in some fixture, so no rule goes untested.
#[test]
fn every_rule_has_a_failing_fixture() {
    let rules = [
        "needs",
        "needs-cycle",
        "job-id",
        "step-id",
        "uses",
        "event",
        "event-types",
        "event-filter",
        "cron",
        "glob",
        "input",
        "matrix",
        "shell",
        "job",
        "timeout",
        "action",
    ];
    let mut all = String::new();
    for entry in fs::read_dir(fixtures_dir()).unwrap() {
        all += &fs::read_to_string(entry.unwrap().path().join("expected.txt")).unwrap();
    }
    for rule in rules {
        assert!(
            all.contains(&format!("[{rule}]\n")),
            "no fixture fails rule {rule}"
        );
    }
}
