//! The entry points: source text in, model and every diagnostic out.

use crate::convert;
use crate::model::{Action, Diagnostic, Parsed, Severity, Span, Workflow};
use crate::schema::{self, action_schema, workflow_schema};
use crate::yaml::{self, YamlOptions};
use crate::{checks, schema_walk};

/// GitHub's parser limits and feature switches. `Default` is what github.com does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// Resolve YAML anchors and aliases instead of rejecting them.
    pub allow_anchors: bool,
    /// Maximum nesting of mappings and sequences.
    pub max_depth: usize,
    /// Maximum file size in characters.
    pub max_file_size: usize,
    /// GitHub's experimental background steps (`background`, `wait`, `wait-all`, `cancel`).
    pub allow_background_steps: bool,
    /// Most bytes the file's tokens may take by GitHub's estimate ([`yaml::token_bytes`]).
    pub max_result_size: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            allow_anchors: false,
            max_depth: 50,
            max_file_size: 1024 * 1024,
            allow_background_steps: false,
            max_result_size: yaml::DEFAULT_MAX_RESULT_SIZE,
        }
    }
}

/// Reads a workflow file: YAML, GitHub's schema and expressions, the model, then the semantic
/// checks. `file` names the file for callers that render diagnostics; nothing is read from disk.
pub fn parse_workflow(file: &str, source: &str) -> Parsed<Workflow> {
    parse_workflow_with(file, source, &ReadOptions::default())
}

/// [`parse_workflow`] with explicit limits and feature switches.
pub fn parse_workflow_with(_file: &str, source: &str, options: &ReadOptions) -> Parsed<Workflow> {
    let (root, mut diagnostics) = read_root(source, options, "workflow");
    let Some(root) = root else {
        return finish(None, diagnostics);
    };
    let schema = workflow_schema();
    let background = options.allow_background_steps;
    let (found, result_size) = schema_walk::validate_metered(
        schema,
        "workflow-root",
        &root,
        background,
        options.max_result_size,
    );
    diagnostics.extend(found);
    if let Some(on) = root.get("on") {
        diagnostics.extend(event_configs(schema, on, background));
    }
    let mut value = convert::workflow(&root, &mut diagnostics);
    if let Some(wf) = &mut value {
        wf.result_size = result_size;
        diagnostics.extend(checks::check_workflow(wf));
    }
    finish(value, diagnostics)
}

/// The configuration of each event under a mapping `on:`.
///
/// GitHub's strict schema (`on-mapping-strict`) gives every event that takes a configuration
/// (`push`, `issues`, ...) its own keys, and rejects others: `push: {inputs: ...}` is
/// "Unexpected value 'inputs'". The loose root schema accepts any value there, and GitHub ran
/// real workflows with `status: {}` and `types: publish-nightly`: so an event whose definition
/// takes no mapping at all (`status`, `fork`, ...) stays loose, and for the others only the
/// keys are checked here (their values are read, as loosely as GitHub reads them, by the
/// converter and the event checks). `workflow_dispatch` is checked whole against its
/// definition, inputs included; `workflow_call` is the root schema's to check.
fn event_configs(schema: &schema::Schema, on: &yaml::Node, background: bool) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    if let Some(dispatch) = on.get("workflow_dispatch") {
        diagnostics.extend(schema_walk::validate(
            schema,
            "workflow-dispatch",
            dispatch,
            background,
        ));
    }
    for (key, value) in on.entries() {
        let Some(event) = key.as_str() else { continue };
        if matches!(event, "workflow_call" | "workflow_dispatch")
            || !matches!(value.kind, yaml::NodeKind::Map(_))
        {
            continue;
        }
        let takes = schema.event_config_mappings(event);
        if takes.is_empty() {
            continue;
        }
        for (config_key, _) in value.entries() {
            let text = config_key.scalar_to_string().unwrap_or_default();
            if !schema.mappings_have(takes, &text) {
                diagnostics.push(Diagnostic {
                    severity: Severity::Error,
                    span: config_key.span,
                    message: format!("Unexpected value '{text}'"),
                    rule: "schema",
                });
            }
        }
    }
    diagnostics
}

/// Reads an action's metadata file (`action.yml`).
pub fn parse_action(file: &str, source: &str) -> Parsed<Action> {
    parse_action_with(file, source, &ReadOptions::default())
}

/// [`parse_action`] with explicit limits and feature switches.
pub fn parse_action_with(_file: &str, source: &str, options: &ReadOptions) -> Parsed<Action> {
    let (root, mut diagnostics) = read_root(source, options, "action");
    let Some(root) = root else {
        return finish(None, diagnostics);
    };
    let background = options.allow_background_steps;
    let (found, _) = schema_walk::validate_metered(
        action_schema(),
        "action-root",
        &root,
        background,
        options.max_result_size,
    );
    diagnostics.extend(found);
    diagnostics.extend(runs_conditions(&root, background));
    let value = convert::action(&root);
    match &value {
        Some(action) => diagnostics.extend(checks::check_action(action)),
        None => diagnostics.push(missing_runs(&root)),
    }
    finish(value, diagnostics)
}

/// `pre-if`/`post-if` of node and docker actions are conditions: the lenient action schema only
/// asks for strings there, so check them as GitHub's runner evaluates them.
fn runs_conditions(root: &yaml::Node, background: bool) -> Vec<Diagnostic> {
    let Some(runs) = root.get("runs") else {
        return Vec::new();
    };
    ["pre-if", "post-if"]
        .iter()
        .filter_map(|key| runs.get(key))
        .flat_map(|node| schema_walk::validate(action_schema(), "runs-if", node, background))
        .collect()
}

/// The YAML tree (`None` when nothing could be read) and its diagnostics. The result size is
/// counted by the schema walk, over what GitHub's reader accepts, not here.
fn read_root(
    source: &str,
    options: &ReadOptions,
    what: &str,
) -> (Option<yaml::Node>, Vec<Diagnostic>) {
    let size = source.chars().count();
    if size > options.max_file_size {
        let message = format!(
            "The maximum file size of {} characters has been exceeded",
            options.max_file_size
        );
        return (None, vec![error(Span::default(), "limits", message)]);
    }
    let yaml_options = YamlOptions {
        allow_anchors: options.allow_anchors,
        max_depth: options.max_depth,
        max_result_size: usize::MAX,
    };
    let doc = yaml::read(source, yaml_options);
    let mut diagnostics = doc.diagnostics;
    if doc.root.is_none() && diagnostics.is_empty() {
        diagnostics.push(error(
            Span::default(),
            "syntax",
            format!("The {what} file is empty"),
        ));
    }
    (doc.root, diagnostics)
}

fn error(span: Span, rule: &'static str, message: String) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        span,
        message,
        rule,
    }
}

/// An action without a usable `runs:` cannot be run; say which part is missing.
fn missing_runs(root: &yaml::Node) -> Diagnostic {
    let (span, message) = match root.get("runs") {
        None => (root.span, "Required property is missing: runs".to_owned()),
        Some(runs) => match runs.get("using") {
            None => (runs.span, "Required property is missing: using".to_owned()),
            Some(using) => (
                using.span,
                format!(
                    "Unexpected value '{}'",
                    using.scalar_to_string().unwrap_or_default()
                ),
            ),
        },
    };
    error(span, "schema", message)
}

/// Diagnostics in source order; a stable sort keeps those at one place in the order found.
fn finish<T>(value: Option<T>, mut diagnostics: Vec<Diagnostic>) -> Parsed<T> {
    diagnostics.sort_by_key(|d| (d.span.start.line, d.span.start.col));
    Parsed { value, diagnostics }
}
