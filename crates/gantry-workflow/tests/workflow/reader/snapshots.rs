//! Snapshots of the model for the fixtures in `fixtures/`: `*-action.yml` are actions, the rest
//! workflows. Review changes with `cargo insta review`.

use std::path::PathBuf;

use gantry_workflow::{parse_action, parse_workflow};
use regex::Regex;

/// `span: Span { start: Pos { line, col, offset }, end: ... }` becomes `at: line:col-line:col`,
/// so the snapshots stay readable.
fn compact_spans(debug: &str) -> String {
    let pos = r"Pos \{\s*line: (\d+),\s*col: (\d+),\s*offset: \d+,\s*\}";
    let span = Regex::new(&format!(
        r"span: Span \{{\s*start: {pos},\s*end: {pos},\s*\}}"
    ))
    .unwrap();
    span.replace_all(debug, "at: $1:$2-$3:$4").into_owned()
}

#[test]
fn model_snapshots() {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/workflow/reader/fixtures"
    ));
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    assert!(!paths.is_empty());
    for path in paths {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(&path).unwrap();
        let rendered = if name.ends_with("-action") {
            let parsed = parse_action(&name, &source);
            assert!(!parsed.has_errors(), "{name}: {:#?}", parsed.diagnostics);
            format!("{:#?}", parsed.value.unwrap())
        } else {
            let parsed = parse_workflow(&name, &source);
            assert!(!parsed.has_errors(), "{name}: {:#?}", parsed.diagnostics);
            format!("{:#?}", parsed.value.unwrap())
        };
        insta::assert_snapshot!(name, compact_spans(&rendered));
    }
}
