//! `gantry graph [EVENT] [--format text|dot|mermaid]`: the `needs:` graph of each workflow.

use std::fmt::Write;

use crate::cli::{GraphArgs, GraphFormat};
use crate::commands::Colors;
use crate::commands::workflows::{self, Loaded};
use crate::engine::{self, Workflow};
use crate::error::CliError;
use crate::exit::Outcome;
use crate::output::{self, Paint};

pub fn run(args: &GraphArgs, colors: Colors) -> Result<Outcome, CliError> {
    let stderr = Paint {
        enabled: colors.stderr,
    };
    let (loaded, outcome) =
        workflows::load(&args.workflows.workflows, args.event.as_deref(), stderr)?;
    let text = if loaded.is_empty() && args.format == GraphFormat::Text {
        workflows::nothing_found(args.event.as_deref())
    } else {
        match args.format {
            GraphFormat::Text => text(&loaded),
            GraphFormat::Dot => dot(&loaded),
            GraphFormat::Mermaid => mermaid(&loaded),
        }
    };
    output::print(&text)?;
    Ok(outcome)
}

/// Edges `(need, job)` in execution order, only between jobs that exist (a `needs:` naming an
/// unknown job is a validation error, not an edge).
fn edges(workflow: &Workflow) -> Vec<(&str, &str)> {
    workflow
        .jobs
        .values()
        .flat_map(|job| {
            job.needs
                .iter()
                .filter(|n| workflow.jobs.contains_key(&n.value))
                .map(|n| (n.value.as_str(), job.id.value.as_str()))
        })
        .collect()
}

/// ```text
/// .github/workflows/ci.yml: CI
///   stage 1: build, lint
///   stage 2: test <- build
/// ```
fn text(loaded: &[Loaded]) -> String {
    let blocks: Vec<String> = loaded.iter().map(text_block).collect();
    blocks.join("\n")
}

fn text_block(loaded: &Loaded) -> String {
    let workflow = &loaded.workflow;
    let mut out = format!("{}\n", loaded.title());
    match engine::stages(workflow) {
        Ok(stages) => {
            for (i, stage) in stages.stages.iter().enumerate() {
                let jobs: Vec<String> = stage.iter().map(|id| with_needs(workflow, id)).collect();
                let _ = writeln!(out, "  stage {}: {}", i + 1, jobs.join(", "));
            }
        }
        Err(problems) => {
            for problem in problems {
                let _ = writeln!(out, "  error: {problem}");
            }
        }
    }
    out
}

/// `test <- build lint`: a job and what it needs.
fn with_needs(workflow: &Workflow, id: &str) -> String {
    let needs: Vec<&str> = workflow
        .jobs
        .get(id)
        .map(|job| job.needs.iter().map(|n| n.value.as_str()).collect())
        .unwrap_or_default();
    if needs.is_empty() {
        id.to_owned()
    } else {
        format!("{id} <- {}", needs.join(" "))
    }
}

/// One Graphviz digraph; each workflow is a cluster, nodes are `"<workflow index>:<job id>"`.
fn dot(loaded: &[Loaded]) -> String {
    let mut out = String::from("digraph gantry {\n  rankdir=LR;\n  node [shape=box];\n");
    for (w, item) in loaded.iter().enumerate() {
        let _ = writeln!(out, "  subgraph \"cluster_{w}\" {{");
        let _ = writeln!(out, "    label={};", dot_string(&item.title()));
        for id in item.workflow.jobs.keys() {
            let node = dot_string(&format!("{w}:{id}"));
            let _ = writeln!(out, "    {node} [label={}];", dot_string(id));
        }
        let _ = writeln!(out, "  }}");
        for (from, to) in edges(&item.workflow) {
            let (from, to) = (format!("{w}:{from}"), format!("{w}:{to}"));
            let _ = writeln!(out, "  {} -> {};", dot_string(&from), dot_string(&to));
        }
    }
    out.push_str("}\n");
    out
}

fn dot_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A Mermaid flowchart; each workflow is a subgraph. Ids are generated (`w0_j1`) because job ids
/// may hold characters Mermaid does not accept; labels carry the real names.
fn mermaid(loaded: &[Loaded]) -> String {
    let mut out = String::from("flowchart LR\n");
    for (w, item) in loaded.iter().enumerate() {
        let _ = writeln!(out, "  subgraph w{w} [{}]", mermaid_label(&item.title()));
        let ids: Vec<&String> = item.workflow.jobs.keys().collect();
        for (j, id) in ids.iter().enumerate() {
            let _ = writeln!(out, "    w{w}_j{j}[{}]", mermaid_label(id));
        }
        out.push_str("  end\n");
        let index = |id: &str| ids.iter().position(|k| k.as_str() == id).unwrap_or(0);
        for (from, to) in edges(&item.workflow) {
            let _ = writeln!(out, "  w{w}_j{} --> w{w}_j{}", index(from), index(to));
        }
    }
    out
}

fn mermaid_label(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "#quot;"))
}
