//! Every `${{ }}` in the real-world workflow corpus parses (GitHub ran these files).
//!
//! Lines are scanned without a YAML parser: each line holding `${{` is read as a template, and
//! every one-line `if:` value is read as a condition. Multi-line expressions and commented-out lines are
//! skipped since a line cannot hold them whole.

use std::path::Path;

use gantry_expr::{ParseOptions, parse_condition, parse_template};

fn corpus() -> Vec<(String, String)> {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/conformance/realworld"
    ));
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

/// The YAML scalar after `key:` with surrounding quotes removed (good enough for one-liners).
fn scalar_value(line: &str) -> &str {
    let pair = line
        .split_once(": ")
        .or_else(|| line.strip_suffix(':').map(|key| (key, "")));
    let value = pair.map_or(line, |(_, v)| v).trim();
    let unquoted = value.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
    unquoted
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value)
}

/// The line without a trailing YAML comment (` #` outside single or double quotes).
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if previous == ' ' => return line[..i].trim_end(),
            _ => {}
        }
        previous = c;
    }
    line
}

/// The line holds `${{ }}` and no expression continues from or onto another line.
fn is_whole_on_one_line(line: &str) -> bool {
    match (
        line.find("${{"),
        line.find("}}"),
        line.rfind("${{"),
        line.rfind("}}"),
    ) {
        (Some(first_open), Some(first_close), Some(last_open), Some(last_close)) => {
            first_open < first_close && last_open < last_close
        }
        _ => false,
    }
}

#[test]
fn every_single_line_expression_in_the_corpus_parses() {
    let options = ParseOptions::permissive();
    let mut checked = 0;
    let mut failures = Vec::new();
    for (file, text) in corpus() {
        for (n, line) in text.lines().enumerate() {
            let trimmed = line.trim_start().trim_start_matches("- ");
            let is_if = trimmed.starts_with("if:") && !line.contains("${{");
            if trimmed.starts_with('#') || !(is_if || is_whole_on_one_line(line)) {
                continue;
            }
            let value = scalar_value(strip_comment(trimmed));
            if value.is_empty() || value.starts_with(['|', '>']) {
                continue;
            }
            let outcome = if trimmed.starts_with("if:") {
                parse_condition(value, &options).map(|_| ())
            } else {
                parse_template(value, &options)
                    .map(|_| ())
                    .map_err(Into::into)
            };
            checked += 1;
            if let Err(err) = outcome {
                failures.push(format!(
                    "{file}:{}: {}\n    {}",
                    n + 1,
                    line.trim(),
                    err.message
                ));
            }
        }
    }
    println!(
        "real-world lines with expressions: {checked} checked, {} failed",
        failures.len()
    );
    assert!(checked > 3000, "only {checked} lines checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
