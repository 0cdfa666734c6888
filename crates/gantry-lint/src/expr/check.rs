//! Type inference over one expression's syntax tree: property access checked against the
//! context shapes, operand and argument types, comparisons whose result is fixed.

use gantry_expr::{Accessor, CompareOp, LogicalOp, Node, NodeKind, Value};
use gantry_workflow::Severity;

use super::contexts::EVENT_NAMES;
use super::scope::Scope;
use super::types::{Hint, Obj, Ty};
use crate::rules::{ACTION_OUTPUT, EXPR_CONSTANT, EXPR_CONTEXT, EXPR_TYPE};

/// A problem at a byte range of the expression source.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub start: usize,
    pub end: usize,
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
}

pub struct Checker<'a> {
    scope: &'a Scope<'a>,
    source: &'a str,
    /// The expression is an `if:` condition (only its truthiness matters).
    condition: bool,
    pub findings: Vec<Finding>,
}

impl<'a> Checker<'a> {
    pub fn new(scope: &'a Scope<'a>, source: &'a str, condition: bool) -> Self {
        Checker {
            scope,
            source,
            condition,
            findings: Vec::new(),
        }
    }

    fn text(&self, node: &Node) -> &'a str {
        self.source
            .get(node.span.start..node.span.end)
            .unwrap_or("")
    }

    fn report(&mut self, node: &Node, rule: &'static str, severity: Severity, message: String) {
        self.findings.push(Finding {
            start: node.span.start,
            end: node.span.end,
            rule,
            severity,
            message,
        });
    }

    pub fn check(&mut self, root: &Node) {
        if self.condition {
            self.condition_operands(root);
        }
        self.infer(root);
    }

    pub fn infer(&mut self, node: &Node) -> Ty {
        match &node.kind {
            NodeKind::Literal(value) => literal_type(value),
            NodeKind::NamedValue(name) => self.scope.named(name),
            NodeKind::Access { target, accessor } => {
                let ty = self.infer(target);
                self.access(node, target, ty, accessor)
            }
            NodeKind::Not(inner) => {
                self.infer(inner);
                Ty::Bool
            }
            NodeKind::Group(inner) => self.infer(inner),
            NodeKind::Compare { first, rest } => {
                let mut left = (&**first, self.infer(first));
                for (op, right) in rest {
                    let right_ty = self.infer(right);
                    self.compare(node, (left.0, &left.1), *op, (right, &right_ty));
                    left = (right, Ty::Bool);
                }
                Ty::Bool
            }
            NodeKind::Logical { op, operands } => self.logical(*op, operands),
            NodeKind::Call { name, args, .. } => self.call(node, name, args),
        }
    }

    fn access(&mut self, node: &Node, target: &Node, ty: Ty, accessor: &Accessor) -> Ty {
        match accessor {
            Accessor::Property(name) => self.property(node, target, ty, name),
            Accessor::Index(index) => {
                let index_ty = self.infer(index);
                match (&index.kind, ty) {
                    (NodeKind::Literal(Value::String(key)), ty) => {
                        self.property(node, target, ty, key)
                    }
                    (_, Ty::Array(element)) => *element,
                    (_, Ty::Object(obj)) if index_ty != Ty::Number => obj.values(),
                    _ => Ty::Any,
                }
            }
            Accessor::Star => match ty {
                Ty::Object(obj) => Ty::Array(Box::new(obj.values())),
                Ty::Array(element) => Ty::Array(element),
                _ => Ty::Any,
            },
        }
    }

    fn property(&mut self, node: &Node, target: &Node, ty: Ty, name: &str) -> Ty {
        match ty {
            Ty::Any | Ty::Null => Ty::Any,
            Ty::Object(obj) => match obj.get(name) {
                Some(ty) => ty,
                None => {
                    self.missing(node, target, &obj, name);
                    Ty::Any
                }
            },
            // A filtered array (`a.*.b`) reads the property of every element.
            Ty::Array(element) => match *element {
                Ty::Object(obj) => match obj.get(name) {
                    Some(ty) => Ty::Array(Box::new(ty)),
                    None => {
                        self.missing(node, target, &obj, name);
                        Ty::Any
                    }
                },
                _ => Ty::Any,
            },
            primitive => {
                let message = format!(
                    "`{}` is a {}, which has no properties: `{}` is always null; remove `.{name}`",
                    self.text(target),
                    primitive.name(),
                    self.text(node),
                );
                self.report(node, EXPR_TYPE, Severity::Warning, message);
                Ty::Any
            }
        }
    }

    /// `obj` has no property `name`: say what `obj` is and how to make the name exist.
    fn missing(&mut self, node: &Node, target: &Node, obj: &Obj, name: &str) {
        let target_text = self.text(target);
        let suggestion = suggest(obj, name);
        let (rule, severity, message) = match &obj.hint {
            Hint::Context(context) => (
                EXPR_CONTEXT,
                Severity::Warning,
                format!(
                    "`{context}` has no property `{name}`{suggestion}; `{}` is always null",
                    self.text(node)
                ),
            ),
            Hint::Steps => (
                EXPR_CONTEXT,
                Severity::Warning,
                format!(
                    "no step with id `{name}` runs before this point of the job{suggestion}; \
                     `steps` holds only earlier steps that have an `id:`"
                ),
            ),
            Hint::Needs => (
                EXPR_CONTEXT,
                Severity::Warning,
                format!(
                    "this job does not need `{name}`{suggestion}; add `{name}` to the job's \
                     `needs:` to read its outputs and result"
                ),
            ),
            Hint::Jobs => (
                EXPR_CONTEXT,
                Severity::Warning,
                format!("this workflow has no job `{name}`{suggestion}"),
            ),
            Hint::Inputs => (
                EXPR_CONTEXT,
                Severity::Warning,
                format!(
                    "no input `{name}` is defined under `on.workflow_dispatch.inputs` or \
                     `on.workflow_call.inputs`{suggestion}; define it there"
                ),
            ),
            Hint::Matrix if obj.props.is_empty() => (
                EXPR_CONTEXT,
                Severity::Warning,
                format!(
                    "this job has no matrix, so `{}` is always null; define \
                     `strategy.matrix.{name}` or remove the reference",
                    self.text(node)
                ),
            ),
            Hint::Matrix => (
                EXPR_CONTEXT,
                Severity::Warning,
                format!(
                    "the job's matrix has no key `{name}`{suggestion} (keys: {}); add it to \
                     `strategy.matrix` or its `include:`",
                    obj.names()
                ),
            ),
            Hint::JobOutputs(job) => (
                EXPR_CONTEXT,
                Severity::Warning,
                format!(
                    "job `{job}` has no output `{name}`{suggestion} (outputs: {}); declare it \
                     under `jobs.{job}.outputs`",
                    obj.names()
                ),
            ),
            Hint::StepOutputs { step, action } => (
                ACTION_OUTPUT,
                Severity::Warning,
                format!(
                    "`{action}` (step `{step}`) declares no output `{name}`{suggestion} \
                     (outputs: {})",
                    obj.names()
                ),
            ),
            Hint::Secrets => (
                EXPR_CONTEXT,
                Severity::Warning,
                format!(
                    "secret `{name}` is not declared under `on.workflow_call.secrets`{suggestion}; \
                     callers pass only declared secrets unless they use `secrets: inherit`"
                ),
            ),
        };
        let _ = target_text;
        self.report(node, rule, severity, message);
    }

    fn compare(&mut self, node: &Node, left: (&Node, &Ty), op: CompareOp, right: (&Node, &Ty)) {
        let (l, lt) = left;
        let (r, rt) = right;
        let literal = |n: &Node| matches!(unwrap_group(n).kind, NodeKind::Literal(_));
        let symbol = op.symbol();
        if literal(l) && literal(r) {
            let message = format!(
                "`{} {symbol} {}` compares two constants, so it always gives the same result; \
                 compare a context value instead",
                self.text(l),
                self.text(r)
            );
            self.report(node, EXPR_CONSTANT, Severity::Warning, message);
            return;
        }
        for (container, container_ty, other, other_ty) in [(l, lt, r, rt), (r, rt, l, lt)] {
            if container_ty.is_container() && literal(other) && !other_ty.is_container() {
                let message = format!(
                    "`{}` is an {}: GitHub compares objects and arrays by identity, so this \
                     comparison with `{}` is always {}; compare one of its properties",
                    self.text(container),
                    container_ty.name(),
                    self.text(other),
                    matches!(op, CompareOp::NotEqual)
                );
                self.report(node, EXPR_CONSTANT, Severity::Warning, message);
                return;
            }
        }
        for (string, string_ty, boolean) in [(l, lt, r), (r, rt, l)] {
            if *string_ty == Ty::String
                && let NodeKind::Literal(Value::Bool(b)) = &unwrap_group(boolean).kind
                && matches!(op, CompareOp::Equal | CompareOp::NotEqual)
            {
                let message = format!(
                    "`{}` is a string and `{b}` a boolean: GitHub compares them as numbers, so \
                     this is always {}; compare with the string `'{b}'`",
                    self.text(string),
                    matches!(op, CompareOp::NotEqual)
                );
                self.report(node, EXPR_CONSTANT, Severity::Warning, message);
                return;
            }
        }
        self.event_name(node, l, r, op);
    }

    /// `github.event_name == 'pull-request'`: a name no event has never matches.
    fn event_name(&mut self, node: &Node, l: &Node, r: &Node, op: CompareOp) {
        if !matches!(op, CompareOp::Equal | CompareOp::NotEqual) {
            return;
        }
        for (a, b) in [(l, r), (r, l)] {
            if !self.text(a).eq_ignore_ascii_case("github.event_name") {
                continue;
            }
            let NodeKind::Literal(Value::String(name)) = &unwrap_group(b).kind else {
                continue;
            };
            if EVENT_NAMES.iter().any(|e| e.eq_ignore_ascii_case(name)) {
                continue;
            }
            let close = EVENT_NAMES
                .iter()
                .min_by_key(|e| strsim::levenshtein(e, name))
                .filter(|e| strsim::levenshtein(e, name) <= 2)
                .map_or(String::new(), |e| format!(" (did you mean `{e}`?)"));
            let message = format!(
                "`{name}` is not the name of any event{close}, so this comparison is always {}",
                matches!(op, CompareOp::NotEqual)
            );
            self.report(node, EXPR_CONSTANT, Severity::Warning, message);
        }
    }

    fn logical(&mut self, op: LogicalOp, operands: &[Node]) -> Ty {
        let last = operands.len().saturating_sub(1);
        let mut ty: Option<Ty> = None;
        for (index, operand) in operands.iter().enumerate() {
            let operand_ty = self.infer(operand);
            // `a || 'text' || b`: nothing after a truthy constant is ever evaluated.
            if op == LogicalOp::Or && index < last && truthy_constant(operand) {
                let message = format!(
                    "`{}` is always true, so the operands after it are never used; compare a \
                     value with it instead (`x == {}`)",
                    self.text(operand),
                    self.text(operand)
                );
                self.report(operand, EXPR_CONSTANT, Severity::Warning, message);
            }
            ty = Some(match ty {
                None => operand_ty,
                Some(t) => t.join(operand_ty),
            });
        }
        ty.unwrap_or(Ty::Any)
    }

    /// In a condition, a constant (`if: false`) or a truthy constant anywhere in a top-level
    /// `||` fixes the result.
    fn condition_operands(&mut self, root: &Node) {
        let root = unwrap_group(root);
        if let NodeKind::Literal(_) = &root.kind {
            let always = truthy_constant(root);
            let message = format!(
                "this condition is the constant `{}`, so it is always {always}; {}",
                self.text(root),
                if always {
                    "remove the `if:`"
                } else {
                    "remove what it guards, or write the condition it stands for"
                }
            );
            self.report(root, EXPR_CONSTANT, Severity::Warning, message);
            return;
        }
        if let NodeKind::Logical {
            op: LogicalOp::Or,
            operands,
        } = &root.kind
            && let Some(last) = operands.last()
            && truthy_constant(last)
        {
            let message = format!(
                "`{}` is always true, so this condition is always true; compare a value with \
                 it instead (`github.event_name == {}`)",
                self.text(last),
                self.text(last)
            );
            self.report(last, EXPR_CONSTANT, Severity::Warning, message);
        }
    }

    fn call(&mut self, node: &Node, name: &str, args: &[Node]) -> Ty {
        let types: Vec<Ty> = args.iter().map(|a| self.infer(a)).collect();
        match name.to_ascii_lowercase().as_str() {
            "format" => {
                self.format(node, args);
                Ty::String
            }
            "startswith" | "endswith" => {
                for (arg, ty) in args.iter().zip(&types) {
                    if ty.is_container() {
                        self.wrong_arg(arg, name, ty, "strings");
                    }
                }
                Ty::Bool
            }
            "contains" => {
                if let (Some(arg), Some(ty @ Ty::Object(_))) = (args.first(), types.first()) {
                    self.wrong_arg(arg, name, ty, "a string or an array to search");
                }
                if let (Some(arg), Some(ty)) = (args.get(1), types.get(1))
                    && ty.is_container()
                {
                    self.wrong_arg(arg, name, ty, "a string or number to look for");
                }
                Ty::Bool
            }
            "fromjson" => {
                if let (Some(arg), Some(ty)) = (args.first(), types.first())
                    && matches!(ty, Ty::Bool | Ty::Number | Ty::Array(_) | Ty::Object(_))
                {
                    self.wrong_arg(arg, name, ty, "a JSON string");
                }
                Ty::Any
            }
            "tojson" | "join" | "hashfiles" => Ty::String,
            "success" | "failure" | "always" | "cancelled" => Ty::Bool,
            _ => Ty::Any,
        }
    }

    fn wrong_arg(&mut self, arg: &Node, function: &str, ty: &Ty, wants: &str) {
        let message = format!(
            "`{function}` takes {wants}, but `{}` is {} {}",
            self.text(arg),
            if matches!(ty, Ty::Array(_) | Ty::Object(_)) {
                "an"
            } else {
                "a"
            },
            ty.name()
        );
        self.report(arg, EXPR_TYPE, Severity::Warning, message);
    }

    /// `format('{0} {1}', a)`: GitHub fails the step when the string refers to a missing
    /// argument or its braces do not pair.
    fn format(&mut self, node: &Node, args: &[Node]) {
        let Some(first) = args.first() else { return };
        let NodeKind::Literal(Value::String(text)) = &first.kind else {
            return;
        };
        let given = args.len() - 1;
        match format_references(text) {
            Err(()) => {
                let message = format!(
                    "the format string `{}` is invalid: write `{{{{` and `}}}}` for literal \
                     braces and `{{N}}` for argument N",
                    self.text(first)
                );
                self.report(first, EXPR_TYPE, Severity::Error, message);
            }
            Ok(Some(highest)) if highest >= given => {
                let message = format!(
                    "the format string refers to argument {{{highest}}} but `format` is given \
                     {given} argument{} after it; add the missing arguments",
                    if given == 1 { "" } else { "s" }
                );
                self.report(node, EXPR_TYPE, Severity::Error, message);
            }
            Ok(_) => {}
        }
    }
}

fn literal_type(value: &Value) -> Ty {
    match value {
        Value::Null => Ty::Null,
        Value::Bool(_) => Ty::Bool,
        Value::Number(_) => Ty::Number,
        Value::String(_) => Ty::String,
        _ => Ty::Any,
    }
}

fn unwrap_group(node: &Node) -> &Node {
    match &node.kind {
        NodeKind::Group(inner) => unwrap_group(inner),
        _ => node,
    }
}

/// A literal that is truthy: a non-empty string, `true`, a non-zero number.
fn truthy_constant(node: &Node) -> bool {
    match &unwrap_group(node).kind {
        NodeKind::Literal(Value::String(s)) => !s.is_empty(),
        NodeKind::Literal(Value::Bool(b)) => *b,
        NodeKind::Literal(Value::Number(n)) => *n != 0.0 && !n.is_nan(),
        _ => false,
    }
}

/// The highest `{N}` a format string refers to; `Err` when its braces are malformed.
fn format_references(text: &str) -> Result<Option<usize>, ()> {
    let bytes = text.as_bytes();
    let mut highest = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' if bytes.get(i + 1) == Some(&b'{') => i += 2,
            b'{' => {
                let close = text[i + 1..].find('}').ok_or(())? + i + 1;
                let index: usize = text[i + 1..close].parse().map_err(|_| ())?;
                highest = Some(highest.map_or(index, |h: usize| h.max(index)));
                i = close + 1;
            }
            b'}' if bytes.get(i + 1) == Some(&b'}') => i += 2,
            b'}' => return Err(()),
            _ => i += 1,
        }
    }
    Ok(highest)
}

/// ` (did you mean `x`?)` when a known name is close to `name`.
fn suggest(obj: &Obj, name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    obj.props
        .iter()
        .map(|(n, _)| (strsim::levenshtein(n, &lower), n))
        .filter(|(d, n)| *d <= 2 && *d < n.len())
        .min()
        .map_or(String::new(), |(_, n)| format!(" (did you mean `{n}`?)"))
}

#[cfg(test)]
mod tests {
    use super::format_references;

    #[test]
    fn format_strings_count_their_arguments() {
        assert_eq!(format_references("{0} and {1}"), Ok(Some(1)));
        assert_eq!(format_references("{{0}} literal"), Ok(None));
        assert_eq!(format_references("{0"), Err(()));
        assert_eq!(format_references("a } b"), Err(()));
    }
}
