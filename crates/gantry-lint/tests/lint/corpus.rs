//! GitHub ran every file of `../shared/conformance/realworld`: the linter must report no error
//! on any of them (warnings are counted and printed for review).

use std::collections::BTreeMap;
use std::path::Path;

use gantry_workflow::Severity;

use gantry_lint::Input;

use crate::support;

#[test]
fn the_real_world_corpus_has_no_lint_errors() {
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/realworld");
    let mut paths: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap_or_else(|e| panic!("{}: {e}", corpus.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 733, "{} files", paths.len());
    let linter = support::linter(None);
    let mut errors = Vec::new();
    let mut warnings: BTreeMap<&str, usize> = BTreeMap::new();
    let mut files = Vec::new();
    let mut scripts = Vec::new();
    for (index, path) in paths.iter().enumerate() {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let workflow = gantry_workflow::parse_workflow(&name, &text)
            .value
            .unwrap_or_else(|| panic!("{name} does not read"));
        let input = Input {
            path: &name,
            source: &text,
            root: None,
        };
        let (found, found_scripts) = linter.lint(&input, &workflow, index);
        scripts.extend(found_scripts);
        files.push((name, text, found));
    }
    // All scripts in one pass, as `gantry validate` runs the tools.
    let outcome = linter.run_tools(&scripts, 2);
    assert!(outcome.notices.is_empty(), "{:?}", outcome.notices);
    for (index, d) in outcome.diagnostics {
        files[index].2.push(d);
    }
    for (name, text, mut found) in files {
        linter.filter(&name, &text, &mut found);
        for d in found {
            match d.severity {
                Severity::Error => errors.push(format!(
                    "{name}:{}:{}: {} [{}]",
                    d.span.start.line, d.span.start.col, d.message, d.rule
                )),
                Severity::Warning => *warnings.entry(d.rule).or_default() += 1,
            }
        }
    }
    eprintln!("warnings by rule over {} files: {warnings:?}", paths.len());
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}
