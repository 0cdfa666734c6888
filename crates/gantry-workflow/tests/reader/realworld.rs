//! `shared/conformance/realworld/*`: 733 workflows GitHub ran. Every one must read without a
//! syntax error; other diagnostics are counted and printed for review.

use gantry_workflow::{Severity, parse_workflow};

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
    for ((name, _), parsed) in sources.iter().zip(all) {
        let name = name.clone();
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
