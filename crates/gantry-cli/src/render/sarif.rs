//! `gantry validate --format sarif`: SARIF 2.1.0 as GitHub code scanning reads it
//! (`github/codeql-action/upload-sarif`). One run; `tool.driver.rules` lists the rules that
//! fired, each result points at its rule by `ruleId` and `ruleIndex`. Columns count Unicode code
//! points (as gantry's positions do), which the run declares with `columnKind`.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{Checked, json::pretty, severity_name};
use crate::engine::Diagnostic;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const INFORMATION_URI: &str = "https://example.invalid/gantry";

pub fn render(checked: &[Checked]) -> String {
    let rules: Vec<&str> = checked
        .iter()
        .flat_map(|c| c.diagnostics.iter().map(|d| d.rule))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let rule_ids = &rules;
    let results: Vec<Value> = checked
        .iter()
        .flat_map(|c| c.diagnostics.iter().map(move |d| result(c, d, rule_ids)))
        .collect();
    let doc = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": driver(&rules) },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    pretty(&doc)
}

fn driver(rules: &[&str]) -> Value {
    json!({
        "name": "gantry",
        "semanticVersion": env!("CARGO_PKG_VERSION"),
        "informationUri": INFORMATION_URI,
        "rules": rules.iter().map(|r| rule(r)).collect::<Vec<_>>(),
    })
}

fn rule(id: &str) -> Value {
    let description = rule_description(id);
    json!({
        "id": id,
        "name": id,
        "shortDescription": { "text": description },
        "fullDescription": { "text": description },
        "help": { "text": format!("{description} (gantry rule `{id}`)") },
        "properties": { "tags": ["github-actions"], "precision": "very-high" },
    })
}

/// One line per rule of the reader and the linter; unknown rules still get a text.
fn rule_description(id: &str) -> String {
    let known = match id {
        "syntax" => "The file is not valid YAML",
        "schema" => "A key or value does not match GitHub's workflow or action schema",
        "expression" => "A ${{ }} expression does not parse or uses what is not available there",
        "needs" => "A job needs a job that does not exist",
        "needs-cycle" => "Jobs need each other in a cycle",
        "job-id" => "A job id is invalid or duplicated",
        "step-id" => "A step id is invalid or duplicated",
        "uses" => "A `uses:` reference is malformed",
        "event" => "An event under `on:` is unknown",
        "event-types" => "An event's activity types are unknown",
        "event-filter" => "An event's filters are invalid or conflict",
        "cron" => "A schedule's cron expression is invalid",
        "glob" => "A branch, tag or path filter pattern is invalid",
        "input" => "A workflow input is invalid",
        "matrix" => "A strategy matrix is invalid",
        "shell" => "A shell is missing or unknown",
        "job" => "A job is incomplete",
        "timeout" => "A timeout is invalid",
        "action" => "An action's metadata is invalid",
        lint => match gantry_lint::rules::find(lint) {
            Some(rule) => rule.description,
            None => return format!("Workflow check `{id}`"),
        },
    };
    known.to_owned()
}

fn result(checked: &Checked, d: &Diagnostic, rules: &[&str]) -> Value {
    let (start, end) = (d.span.start, d.span.end);
    // GitHub highlights nothing for an empty region; one character reads better.
    let (end_line, end_col) = if end.offset <= start.offset {
        (start.line, start.col + 1)
    } else {
        (end.line, end.col)
    };
    json!({
        "ruleId": d.rule,
        "ruleIndex": rules.iter().position(|r| *r == d.rule),
        "level": severity_name(d.severity),
        "message": { "text": d.message },
        "locations": [{
            "physicalLocation": {
                "artifactLocation": artifact(checked),
                "region": {
                    "startLine": start.line.max(1),
                    "startColumn": start.col.max(1),
                    "endLine": end_line.max(1),
                    "endColumn": end_col.max(1),
                },
            },
        }],
    })
}

/// Relative paths are relative to the repository root (`%SRCROOT%`), as code scanning expects.
fn artifact(checked: &Checked) -> Value {
    let path = checked.file.display_path();
    if path.starts_with('/') {
        json!({ "uri": format!("file://{}", encode_uri_path(&path)) })
    } else {
        json!({ "uri": encode_uri_path(&path), "uriBaseId": "%SRCROOT%" })
    }
}

/// Percent-encodes what may not appear in a URI path.
fn encode_uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        let plain = byte.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@".contains(&byte);
        if plain {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
