//! The typed model of workflow and action files.
//!
//! Every node that a diagnostic or a run-time error may point at keeps its [`Span`]. Values that
//! GitHub evaluates at run time (`run:`, `env` values, `with:` inputs, names, conditions) are kept
//! as the source text (`Spanned<String>`): the runner parses them as templates with `gantry-expr`
//! when it needs them, so this crate never evaluates anything.
//!
//! Free-form places (`with:`, matrix vectors, input defaults) keep the YAML as [`Yaml`] with
//! positions, because GitHub keeps their original types (a matrix value may be a number or a map).

use indexmap::IndexMap;

/// A position in a source file. `line` and `col` are 1-based (as editors and GitHub show them);
/// `offset` is the byte offset from the start of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
    pub offset: usize,
}

/// A range in a source file: `start` is inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }
}

/// Either a literal value or an expression (`${{ ... }}`) to evaluate at run time.
#[derive(Debug, Clone, PartialEq)]
pub enum OrExpr<T> {
    Value(T),
    /// The whole source text, `${{ }}` included.
    Expr(String),
}

/// Free-form YAML with positions. Scalars keep GitHub's YAML 1.2 core-schema typing
/// (`yes` is a string, `true` a boolean, `0x1F` a number).
#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Seq(Vec<Spanned<Yaml>>),
    /// Keys in source order; duplicate keys are a diagnostic, the last one kept.
    Map(Vec<(Spanned<String>, Spanned<Yaml>)>),
}

/// A list of strings as written (`branches: [main]`, `needs: a` becomes a list of one).
pub type StringList = Vec<Spanned<String>>;

/// `env:` at any level. Values are templates evaluated at run time; non-string scalars are kept as
/// GitHub coerces them (`1` → `"1"`, `true` → `"true"`).
pub type Env = IndexMap<String, Spanned<String>>;

// ---------------------------------------------------------------------------------------------
// Workflows

#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    pub name: Option<Spanned<String>>,
    pub run_name: Option<Spanned<String>>,
    pub on: Triggers,
    pub permissions: Option<Spanned<Permissions>>,
    pub env: Env,
    pub defaults: Defaults,
    pub concurrency: Option<Spanned<Concurrency>>,
    /// In source order. The key is the job id.
    pub jobs: IndexMap<String, Job>,
    /// Bytes the file's tokens take by GitHub's estimate: calls add their callees' to it,
    /// against [`crate::CallOptions::max_result_size`].
    pub result_size: usize,
}

/// The `on:` key, normalised: the string, list and map forms all become a map of event name to
/// its configuration (empty for events written without one).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Triggers {
    pub events: IndexMap<String, Spanned<EventConfig>>,
    pub span: Span,
}

/// One event's configuration under `on:`. Which fields apply depends on the event; the validator
/// reports fields that do not belong.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventConfig {
    /// Activity types (`types: [published]`).
    pub types: Option<Spanned<StringList>>,
    pub branches: Option<Spanned<StringList>>,
    pub branches_ignore: Option<Spanned<StringList>>,
    pub tags: Option<Spanned<StringList>>,
    pub tags_ignore: Option<Spanned<StringList>>,
    pub paths: Option<Spanned<StringList>>,
    pub paths_ignore: Option<Spanned<StringList>>,
    /// `workflow_run.workflows`.
    pub workflows: Option<Spanned<StringList>>,
    /// `schedule: [{cron: ...}]`: the cron strings.
    pub crons: StringList,
    /// `workflow_dispatch` and `workflow_call` inputs.
    pub inputs: IndexMap<String, Spanned<Input>>,
    /// `workflow_call` outputs.
    pub outputs: IndexMap<String, Spanned<CallOutput>>,
    /// `workflow_call` secrets.
    pub secrets: IndexMap<String, Spanned<CallSecret>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputType {
    #[default]
    String,
    Boolean,
    Number,
    Choice,
    Environment,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Input {
    pub description: Option<Spanned<String>>,
    pub required: bool,
    pub default: Option<Spanned<Yaml>>,
    pub kind: InputType,
    /// `choice` options.
    pub options: StringList,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CallOutput {
    pub description: Option<Spanned<String>>,
    pub value: Spanned<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct CallSecret {
    pub description: Option<Spanned<String>>,
    pub required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionLevel {
    Read,
    Write,
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Permissions {
    ReadAll,
    WriteAll,
    /// `permissions: {}` is an empty map: every scope `none`.
    Scopes(IndexMap<String, Spanned<PermissionLevel>>),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Defaults {
    pub shell: Option<Spanned<String>>,
    pub working_directory: Option<Spanned<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Concurrency {
    /// A template (`ci-${{ github.ref }}`).
    pub group: Spanned<String>,
    pub cancel_in_progress: Option<Spanned<OrExpr<bool>>>,
}

// ---------------------------------------------------------------------------------------------
// Jobs

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: Spanned<String>,
    pub name: Option<Spanned<String>>,
    pub needs: StringList,
    /// The condition as written (`${{ }}` optional); absent means `success()`.
    pub if_: Option<Spanned<String>>,
    pub runs_on: Option<Spanned<RunsOn>>,
    pub environment: Option<Spanned<Environment>>,
    pub outputs: IndexMap<String, Spanned<String>>,
    pub env: Env,
    pub defaults: Defaults,
    pub permissions: Option<Spanned<Permissions>>,
    pub concurrency: Option<Spanned<Concurrency>>,
    pub strategy: Option<Spanned<Strategy>>,
    pub container: Option<Spanned<Container>>,
    pub services: IndexMap<String, Spanned<Container>>,
    pub timeout_minutes: Option<Spanned<OrExpr<f64>>>,
    pub cancel_timeout_minutes: Option<Spanned<OrExpr<f64>>>,
    pub continue_on_error: Option<Spanned<OrExpr<bool>>>,
    pub steps: Vec<Step>,
    /// A reusable-workflow call (`uses: owner/repo/.github/workflows/x.yml@ref` or `./...`).
    pub uses: Option<Spanned<String>>,
    pub with: IndexMap<String, Spanned<Yaml>>,
    pub secrets: Option<Spanned<JobSecrets>>,
    /// The whole job mapping.
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RunsOn {
    /// `runs-on: ubuntu-latest`, `[self-hosted, linux]`, or `{labels: ..., group: ...}`.
    Labels {
        labels: StringList,
        group: Option<Spanned<String>>,
    },
    /// `runs-on: ${{ matrix.os }}`.
    Expr(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    pub name: Spanned<String>,
    pub url: Option<Spanned<String>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Strategy {
    pub matrix: Option<Spanned<Matrix>>,
    pub fail_fast: Option<Spanned<OrExpr<bool>>>,
    pub max_parallel: Option<Spanned<OrExpr<f64>>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Matrix {
    /// `matrix: ${{ fromJSON(needs.setup.outputs.matrix) }}`.
    Expr(String),
    Map {
        /// Vectors in source order; each value is a sequence or an expression string.
        dimensions: Vec<(Spanned<String>, Spanned<Yaml>)>,
        include: Option<Spanned<Yaml>>,
        exclude: Option<Spanned<Yaml>>,
    },
}

/// `container:` or one of `services:`. The string form (`container: node:20`) sets only `image`.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    pub image: Spanned<String>,
    pub credentials: Option<Spanned<Credentials>>,
    pub env: Env,
    pub ports: StringList,
    pub volumes: StringList,
    pub options: Option<Spanned<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Credentials {
    pub username: Spanned<String>,
    pub password: Spanned<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobSecrets {
    Inherit,
    Map(IndexMap<String, Spanned<String>>),
}

// ---------------------------------------------------------------------------------------------
// Steps

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: Option<Spanned<String>>,
    pub name: Option<Spanned<String>>,
    pub if_: Option<Spanned<String>>,
    pub kind: StepKind,
    pub env: Env,
    pub continue_on_error: Option<Spanned<OrExpr<bool>>>,
    pub timeout_minutes: Option<Spanned<OrExpr<f64>>>,
    /// The whole step mapping.
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    Run {
        run: Spanned<String>,
        shell: Option<Spanned<String>>,
        working_directory: Option<Spanned<String>>,
    },
    Uses {
        uses: Spanned<String>,
        with: IndexMap<String, Spanned<Yaml>>,
    },
}

/// What a step's (or a job's) `uses:` refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsesRef {
    /// `./path/to/action` (relative to the workspace root).
    Local(String),
    /// `docker://image:tag`.
    Docker(String),
    /// `owner/repo[/path]@ref`.
    Repo {
        owner: String,
        repo: String,
        path: Option<String>,
        git_ref: String,
    },
}

// ---------------------------------------------------------------------------------------------
// Actions (`action.yml`)

#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub name: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
    pub author: Option<Spanned<String>>,
    pub inputs: IndexMap<String, Spanned<ActionInput>>,
    pub outputs: IndexMap<String, Spanned<ActionOutput>>,
    pub runs: Spanned<ActionRuns>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActionInput {
    pub description: Option<Spanned<String>>,
    pub required: bool,
    pub default: Option<Spanned<String>>,
    pub deprecation_message: Option<Spanned<String>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActionOutput {
    pub description: Option<Spanned<String>>,
    /// Composite actions only: where the value comes from (`${{ steps.x.outputs.y }}`).
    pub value: Option<Spanned<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ActionRuns {
    /// `using: node12|node16|node20|node24`.
    Node {
        using: Spanned<String>,
        main: Spanned<String>,
        pre: Option<Spanned<String>>,
        pre_if: Option<Spanned<String>>,
        post: Option<Spanned<String>>,
        post_if: Option<Spanned<String>>,
    },
    Docker {
        /// `Dockerfile` or `docker://image`.
        image: Spanned<String>,
        entrypoint: Option<Spanned<String>>,
        args: StringList,
        env: Env,
        pre_entrypoint: Option<Spanned<String>>,
        post_entrypoint: Option<Spanned<String>>,
    },
    Composite {
        steps: Vec<Step>,
    },
}

// ---------------------------------------------------------------------------------------------
// Diagnostics

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found while reading or validating a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub span: Span,
    /// GitHub's wording where GitHub has one (the conformance data fixes many of them).
    pub message: String,
    /// A short kebab-case rule name shown as `[rule]` (`syntax`, `schema`, `expression`,
    /// `needs-cycle`, `job-id`, `cron`, `glob`, `matrix`, `shell`, ...).
    pub rule: &'static str,
}

/// The result of reading a file: the model when the file could be read at all, and every
/// diagnostic found (a model may come with errors: parsing recovers).
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<T> {
    pub value: Option<T>,
    pub diagnostics: Vec<Diagnostic>,
}

impl<T> Parsed<T> {
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}
