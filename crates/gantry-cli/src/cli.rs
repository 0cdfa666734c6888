//! The command line. Every flag has an environment twin named `GANTRY_*`; a flag given on the
//! command line wins over its variable.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::color::ColorChoice;

/// A self-hostable GitHub Actions runner.
///
/// Logging: set GANTRY_LOG to a tracing filter (`debug`, `gantry_plan=trace,warn`); logs go to
/// stderr. Exit status: 0 success, 1 problems found (validation errors, a failed job, an
/// expression error), 2 usage or I/O error.
#[derive(Debug, Parser)]
#[command(name = "gantry", version, max_term_width = 100)]
pub struct Cli {
    /// When to color the output: `auto` colors a terminal unless NO_COLOR is set.
    #[arg(
        long,
        value_enum,
        default_value_t = ColorChoice::Auto,
        env = "GANTRY_COLOR",
        global = true
    )]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Validate(ValidateArgs),
    List(ListArgs),
    Graph(GraphArgs),
    Expr(ExprArgs),
}

/// Check workflow and action files and report every problem found.
///
/// Without PATH, reads the workflows in `.github/workflows` (top level only, as GitHub does) and
/// the actions in `action.yml`/`action.yaml` at the top of the current directory and anywhere
/// under `.github/` (where local actions live). A directory PATH is walked for `*.yml` and
/// `*.yaml`; a file named `action.yml` or `action.yaml` is read as an action, any other file as a
/// workflow.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Files or directories to check.
    pub paths: Vec<PathBuf>,

    /// How to report what was found.
    #[arg(
        long,
        value_enum,
        default_value_t = ValidateFormat::Text,
        env = "GANTRY_VALIDATE_FORMAT"
    )]
    pub format: ValidateFormat,

    /// How many files to check at once. Sequential by default: over the 733-file real-world
    /// corpus, threads measured no gain on a loaded 2-core machine (scripts/bench-validate.sh).
    #[arg(short = 'j', long, env = "GANTRY_JOBS", value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    /// `file:line:col: severity: message [rule]`, the source line and a caret.
    Text,
    /// One JSON document (see the crate README for its shape).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
}

/// Where `list` and `graph` read workflows from.
#[derive(Debug, Args)]
pub struct WorkflowsArg {
    /// A workflow file, or a directory whose `*.yml`/`*.yaml` files are workflows.
    #[arg(
        short = 'W',
        long = "workflows",
        env = "GANTRY_WORKFLOWS",
        default_value = ".github/workflows"
    )]
    pub workflows: PathBuf,
}

/// List workflows and their jobs: names, needs, triggering events and matrix sizes.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only the workflows this event triggers (`push`, `pull_request`, ...).
    pub event: Option<String>,

    #[command(flatten)]
    pub workflows: WorkflowsArg,
}

/// Show the job dependency graph (`needs:`) of each workflow.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Only the workflows this event triggers.
    pub event: Option<String>,

    #[command(flatten)]
    pub workflows: WorkflowsArg,

    /// `text` lists the stages, `dot` is Graphviz, `mermaid` a Mermaid flowchart.
    #[arg(
        long,
        value_enum,
        default_value_t = GraphFormat::Text,
        env = "GANTRY_GRAPH_FORMAT"
    )]
    pub format: GraphFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Text,
    Dot,
    Mermaid,
}

/// Evaluate a `${{ }}` expression (without the braces) and print its value as JSON.
#[derive(Debug, Args)]
pub struct ExprArgs {
    /// The expression, e.g. `format('{0}-{1}', github.event_name, github.run_number)`.
    pub expression: String,

    /// A JSON object whose keys are context names (`{"env": {...}, "matrix": {...}}`).
    #[arg(long, env = "GANTRY_CONTEXT", value_name = "FILE.json")]
    pub context: Option<PathBuf>,

    /// A webhook payload, available as `github.event`.
    #[arg(long, env = "GANTRY_EVENT", value_name = "PAYLOAD.json")]
    pub event: Option<PathBuf>,

    /// The event's name, available as `github.event_name`.
    #[arg(long, env = "GANTRY_EVENT_NAME", value_name = "NAME")]
    pub event_name: Option<String>,
}
