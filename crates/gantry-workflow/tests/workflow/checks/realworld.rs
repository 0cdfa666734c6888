//! The real-world corpus: GitHub ran every one of these files, so the checks must stay quiet on
//! them except for the few real mistakes listed in `realworld-expected.txt`.

use std::fs;
use std::path::Path;

use gantry_workflow::checks::check_workflow;
use gantry_workflow::parse_workflow;

#[test]
fn realworld_corpus_only_reports_known_mistakes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/realworld");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut actual = String::new();
    let mut read = 0;
    for path in &files {
        let source = fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(workflow) = parse_workflow(&name, &source).value else {
            continue;
        };
        read += 1;
        for line in crate::checks::render(&check_workflow(&workflow)).lines() {
            actual += &format!("{name}:{line}\n");
        }
    }
    assert!(
        files.len() > 700,
        "the corpus went missing: {}",
        files.len()
    );
    assert_eq!(
        read,
        files.len(),
        "every file of the corpus must read into a model"
    );
    let expected_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workflow/checks/realworld-expected.txt");
    let expected = fs::read_to_string(expected_path).unwrap();
    let expected: String = expected
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        actual, expected,
        "diagnostics on the real-world corpus changed"
    );
}
