//! Context references such as `needs.build.outputs.version`, for validators that check names
//! (job ids, step ids, inputs) without evaluating anything.

use crate::ast::{Accessor, Node, NodeKind, Span};
use crate::parser::Expr;
use crate::value::Value;

/// One step of a reference path.
#[derive(Debug, Clone, PartialEq)]
pub enum PathPart {
    /// `.name`, `['name']` or `[0]` (numbers as GitHub turns them into keys).
    Key(String),
    /// `.*` or `[*]`.
    Star,
    /// `[expr]` with a computed index.
    Dynamic,
}

/// A named value followed by its accessors, e.g. `steps.build.outputs['x']`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference<'a> {
    /// The named value as written.
    pub name: &'a str,
    pub path: Vec<PathPart>,
    /// From the named value to the last accessor.
    pub span: Span,
}

impl Expr {
    /// Every named-value reference with the longest accessor chain that follows it, in source
    /// order. `github.event.issue` yields one reference, not three.
    pub fn references(&self) -> Vec<Reference<'_>> {
        let mut found = Vec::new();
        collect(self.root(), &mut found);
        found
    }
}

fn collect<'a>(node: &'a Node, found: &mut Vec<Reference<'a>>) {
    if let Some((reference, indexes)) = reference_chain(node) {
        found.push(reference);
        for index in indexes {
            collect(index, found);
        }
        return;
    }
    for child in node.children() {
        collect(child, found);
    }
}

/// The reference `node` spells if it is a named value with accessors, and the computed index
/// expressions inside the chain (which may hold references of their own).
fn reference_chain(node: &Node) -> Option<(Reference<'_>, Vec<&Node>)> {
    let mut path = Vec::new();
    let mut indexes = Vec::new();
    let mut current = node;
    loop {
        match &current.kind {
            NodeKind::NamedValue(name) => {
                path.reverse();
                indexes.reverse();
                return Some((
                    Reference {
                        name,
                        path,
                        span: node.span,
                    },
                    indexes,
                ));
            }
            NodeKind::Access { target, accessor } => {
                path.push(path_part(accessor));
                if let Accessor::Index(index) = accessor {
                    indexes.push(&**index);
                }
                current = target;
            }
            _ => return None,
        }
    }
}

fn path_part(accessor: &Accessor) -> PathPart {
    match accessor {
        Accessor::Property(name) => PathPart::Key(name.clone()),
        Accessor::Star => PathPart::Star,
        Accessor::Index(index) => match &index.kind {
            NodeKind::Literal(value @ (Value::String(_) | Value::Number(_))) => {
                PathPart::Key(value.to_display_string())
            }
            _ => PathPart::Dynamic,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::{ParseOptions, parse};

    #[test]
    fn references_follow_the_longest_chain() {
        let opts = ParseOptions::new()
            .named_value("needs")
            .named_value("matrix")
            .named_value("steps");
        let expr = parse(
            "needs.build.outputs['v'] == steps[matrix.step].outputs.*.x",
            &opts,
        )
        .unwrap();
        let refs = expr.references();
        let key = |k: &str| PathPart::Key(k.to_string());
        assert_eq!(refs.len(), 3);
        assert_eq!(
            (refs[0].name, refs[0].path.clone()),
            ("needs", vec![key("build"), key("outputs"), key("v")])
        );
        assert_eq!(refs[0].span, Span::new(0, 24));
        assert_eq!(refs[1].name, "steps");
        assert_eq!(
            refs[1].path,
            vec![PathPart::Dynamic, key("outputs"), PathPart::Star, key("x")]
        );
        assert_eq!(
            (refs[2].name, refs[2].path.clone()),
            ("matrix", vec![key("step")])
        );
    }
}
