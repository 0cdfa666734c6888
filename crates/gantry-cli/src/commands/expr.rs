//! `gantry expr 'EXPR' [--context FILE.json] [--event PAYLOAD.json] [--event-name NAME]`.

use std::path::Path;

use annotate_snippets::{AnnotationKind, Level, Snippet};
use indexmap::IndexMap;
use serde_json::{Map, Value as Json};

use crate::cli::ExprArgs;
use crate::commands::Colors;
use crate::engine::{self, ExprFailure};
use crate::error::CliError;
use crate::exit::Outcome;
use crate::output;
use crate::render::{json::pretty, snippet};

pub fn run(args: &ExprArgs, colors: Colors) -> Result<Outcome, CliError> {
    let contexts = contexts(args)?;
    match engine::evaluate(&args.expression, &contexts) {
        Ok(value) => {
            output::print(&pretty(&value))?;
            Ok(Outcome::Clean)
        }
        Err(failure) => {
            let available = failure.unknown_named_value.then(|| contexts.keys());
            let mut text = render_failure(&args.expression, &failure, colors.stderr);
            if let Some(names) = available {
                text.push_str(&available_help(names));
            }
            output::note(&text);
            Ok(Outcome::Problems)
        }
    }
}

/// The named values: the context file's keys, with `github.event` and `github.event_name` set
/// from `--event` and `--event-name` (over what the file says).
fn contexts(args: &ExprArgs) -> Result<IndexMap<String, Json>, CliError> {
    let mut contexts = match &args.context {
        Some(path) => match read_json(path)? {
            Json::Object(map) => map.into_iter().collect(),
            _ => return Err(CliError::ContextNotObject { path: path.clone() }),
        },
        None => IndexMap::new(),
    };
    if let Some(path) = &args.event {
        set_github(&mut contexts, "event", read_json(path)?);
    }
    if let Some(name) = &args.event_name {
        set_github(&mut contexts, "event_name", Json::String(name.clone()));
    }
    Ok(contexts)
}

/// Sets `github.<key>`, making `github` an object first if the context file did not.
fn set_github(contexts: &mut IndexMap<String, Json>, key: &str, value: Json) {
    let github = contexts.entry("github".to_owned()).or_insert(Json::Null);
    match github {
        Json::Object(map) => {
            map.insert(key.to_owned(), value);
        }
        other => *other = Json::Object(Map::from_iter([(key.to_owned(), value)])),
    }
}

fn read_json(path: &Path) -> Result<Json, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| CliError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Which named values the expression could have used, and how to give more.
fn available_help<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).collect();
    if names.is_empty() {
        "help: no contexts are available; pass them with --context FILE.json or --event PAYLOAD.json\n"
            .to_owned()
    } else {
        format!("help: available named values: {}\n", names.join(", "))
    }
}

/// Upstream's message, then the expression with a caret at the position it names.
fn render_failure(expression: &str, failure: &ExprFailure, color: bool) -> String {
    let title = Level::ERROR.primary_title(failure.message.as_str());
    let group = match failure.offset {
        Some(offset) => {
            let start = offset.min(expression.len());
            let end = expression[start..]
                .chars()
                .next()
                .map_or(start, |c| start + c.len_utf8());
            title.element(
                Snippet::source(expression)
                    .line_start(1)
                    .annotation(AnnotationKind::Primary.span(start..end)),
            )
        }
        None => title.element(
            Snippet::source(expression)
                .line_start(1)
                .annotation(AnnotationKind::Primary.span(0..expression.len())),
        ),
    };
    let mut out = snippet::renderer(color).render(&[group]);
    out.push('\n');
    out
}
