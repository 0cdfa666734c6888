//! Conversion of a (schema-checked) YAML tree into the typed model.
//!
//! The schema walker has already reported every shape problem, so conversion is lenient: a value
//! of the wrong shape is skipped rather than reported again, and a broken job or step leaves the
//! rest of the file intact.

mod action;
mod workflow;

pub use action::action;
pub use workflow::workflow;

use indexmap::IndexMap;

use crate::model::{Diagnostic, Env, OrExpr, Severity, Span, Spanned, StringList, Yaml};
use crate::yaml::{Node, NodeKind};

/// A scalar as a string (`null` → `""`, numbers as GitHub prints them); `None` for collections.
fn string(node: &Node) -> Option<Spanned<String>> {
    node.scalar_to_string().map(|s| Spanned::new(s, node.span))
}

/// The value at `key`, as a string.
fn string_at(map: &Node, key: &str) -> Option<Spanned<String>> {
    map.get(key).and_then(string)
}

/// A scalar or a sequence of scalars as a list (`needs: a` is a list of one).
fn string_list(node: &Node) -> StringList {
    match &node.kind {
        NodeKind::Seq(items) => items.iter().filter_map(string).collect(),
        NodeKind::Map(_) => Vec::new(),
        NodeKind::Null => Vec::new(),
        _ => string(node).into_iter().collect(),
    }
}

fn spanned_list(node: &Node) -> Spanned<StringList> {
    Spanned::new(string_list(node), node.span)
}

/// A mapping of strings (`env:`, `outputs:`, `secrets:`); entries that are not scalars are skipped.
fn string_map(node: &Node) -> IndexMap<String, Spanned<String>> {
    node.entries()
        .iter()
        .filter_map(|(k, v)| Some((k.scalar_to_string()?, string(v)?)))
        .collect()
}

fn env(map: &Node, key: &str) -> Env {
    map.get(key).map(string_map).unwrap_or_default()
}

/// Whether the whole value is one `${{ }}` expression.
fn is_expression(s: &str) -> bool {
    let t = s.trim();
    t.starts_with("${{") && t.ends_with("}}")
}

/// A boolean or an expression (`continue-on-error: ${{ matrix.experimental }}`).
fn bool_or_expr(node: &Node) -> Option<Spanned<OrExpr<bool>>> {
    let value = match &node.kind {
        NodeKind::Bool(b) => OrExpr::Value(*b),
        NodeKind::String(s) if s.contains("${{") => OrExpr::Expr(s.clone()),
        _ => return None,
    };
    Some(Spanned::new(value, node.span))
}

/// A number or an expression (`timeout-minutes: ${{ inputs.timeout }}`).
fn number_or_expr(node: &Node) -> Option<Spanned<OrExpr<f64>>> {
    let value = match &node.kind {
        NodeKind::Number(n) => OrExpr::Value(*n),
        NodeKind::String(s) if s.contains("${{") => OrExpr::Expr(s.clone()),
        _ => return None,
    };
    Some(Spanned::new(value, node.span))
}

fn bool_at(map: &Node, key: &str) -> Option<Spanned<OrExpr<bool>>> {
    map.get(key).and_then(bool_or_expr)
}

fn number_at(map: &Node, key: &str) -> Option<Spanned<OrExpr<f64>>> {
    map.get(key).and_then(number_or_expr)
}

/// A plain boolean (`required: true`); GitHub also accepts the strings `true`/`false` in
/// action metadata, which older actions use.
fn plain_bool(node: Option<&Node>) -> bool {
    match node.map(|n| &n.kind) {
        Some(NodeKind::Bool(b)) => *b,
        Some(NodeKind::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Free-form YAML, kept with its types and positions.
fn yaml(node: &Node) -> Spanned<Yaml> {
    let value = match &node.kind {
        NodeKind::Null => Yaml::Null,
        NodeKind::Bool(b) => Yaml::Bool(*b),
        NodeKind::Number(n) => Yaml::Number(*n),
        NodeKind::String(s) => Yaml::String(s.clone()),
        NodeKind::Seq(items) => Yaml::Seq(items.iter().map(yaml).collect()),
        NodeKind::Map(entries) => Yaml::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = k.scalar_to_string().unwrap_or_default();
                    (Spanned::new(key, k.span), yaml(v))
                })
                .collect(),
        ),
    };
    Spanned::new(value, node.span)
}

/// A mapping of free-form values (`with:`), last duplicate wins.
fn yaml_map(node: Option<&Node>) -> IndexMap<String, Spanned<Yaml>> {
    let Some(node) = node else {
        return IndexMap::new();
    };
    node.entries()
        .iter()
        .filter_map(|(k, v)| Some((k.scalar_to_string()?, yaml(v))))
        .collect()
}

/// Problems GitHub's converter (not its schema) reports.
#[derive(Default)]
struct Sink {
    diagnostics: Vec<Diagnostic>,
}

impl Sink {
    fn error(&mut self, span: Span, message: &str) {
        self.diagnostics.push(Diagnostic {
            severity: Severity::Error,
            span,
            message: message.to_owned(),
            rule: "schema",
        });
    }
}
