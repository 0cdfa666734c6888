//! Action metadata (`action.yml`) into [`Action`].

use indexmap::IndexMap;

use super::workflow::steps;
use super::{env, plain_bool, string_at, string_list};
use crate::model::{Action, ActionInput, ActionOutput, ActionRuns, Spanned};
use crate::yaml::{Node, NodeKind};

/// Converts an action's root mapping. `None` if it is not a mapping or has no usable `runs:`.
pub fn action(root: &Node) -> Option<Action> {
    if !matches!(root.kind, NodeKind::Map(_)) {
        return None;
    }
    Some(Action {
        name: string_at(root, "name"),
        description: string_at(root, "description"),
        author: string_at(root, "author"),
        inputs: named(root.get("inputs"), input),
        outputs: named(root.get("outputs"), output),
        runs: runs(root.get("runs")?)?,
    })
}

fn named<T>(node: Option<&Node>, f: impl Fn(&Node) -> T) -> IndexMap<String, Spanned<T>> {
    let Some(node) = node else {
        return IndexMap::new();
    };
    node.entries()
        .iter()
        .filter_map(|(k, v)| Some((k.scalar_to_string()?, Spanned::new(f(v), v.span))))
        .collect()
}

fn input(node: &Node) -> ActionInput {
    ActionInput {
        description: string_at(node, "description"),
        required: plain_bool(node.get("required")),
        default: string_at(node, "default"),
        deprecation_message: string_at(node, "deprecationMessage"),
    }
}

fn output(node: &Node) -> ActionOutput {
    ActionOutput {
        description: string_at(node, "description"),
        value: string_at(node, "value"),
    }
}

/// `runs:` by its `using:`; an unknown `using` yields no model (the checks report it).
fn runs(node: &Node) -> Option<Spanned<ActionRuns>> {
    let using = string_at(node, "using")?;
    let missing = || Spanned::new(String::new(), node.span);
    let value = match using.value.as_str() {
        "composite" => ActionRuns::Composite {
            steps: node.get("steps").map(steps).unwrap_or_default(),
        },
        "docker" => ActionRuns::Docker {
            image: string_at(node, "image").unwrap_or_else(missing),
            entrypoint: string_at(node, "entrypoint"),
            args: node.get("args").map(string_list).unwrap_or_default(),
            env: env(node, "env"),
            pre_entrypoint: string_at(node, "pre-entrypoint"),
            post_entrypoint: string_at(node, "post-entrypoint"),
        },
        u if u.starts_with("node") => ActionRuns::Node {
            main: string_at(node, "main").unwrap_or_else(missing),
            pre: string_at(node, "pre"),
            pre_if: string_at(node, "pre-if"),
            post: string_at(node, "post"),
            post_if: string_at(node, "post-if"),
            using,
        },
        _ => return None,
    };
    Some(Spanned::new(value, node.span))
}
