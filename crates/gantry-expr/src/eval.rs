//! The evaluator.
//!
//! Values flow through as owned [`Value`]s plus two facts the language needs and plain values
//! cannot carry: whether an array is a *filtered* array (the result of `*`, to which further
//! accessors apply element-wise) and where a value came from. Upstream compares arrays and objects
//! by reference; here two values are "the same reference" when they were read from the same path
//! of the same named value (the context cannot change during one evaluation).

use crate::ast::{Accessor, LogicalOp, Node, NodeKind};
use crate::compare::compare;
use crate::error::{ErrorKind, ExprError, Reason};
use crate::functions::{self, FuncError};
use crate::memory::{Memory, max_string_len};
use crate::parser::{Expr, is_builtin};
use crate::value::{Value, find_key};

/// What an expression can read and call at evaluation time.
pub trait EvalContext {
    /// Looks up a named value (case-insensitively); `None` = not available (evaluates to null).
    fn named_value(&self, name: &str) -> Option<Value>;

    /// Calls a caller-supplied function (status functions, `hashFiles`). `None` = unknown.
    fn call_function(&self, name: &str, args: &[Value]) -> Option<Result<Value, ExprError>> {
        let _ = (name, args);
        None
    }
}

/// Evaluates a parsed expression.
pub fn evaluate(expr: &Expr, ctx: &dyn EvalContext) -> Result<Value, ExprError> {
    let mut evaluator = Evaluator {
        ctx,
        source: expr.source(),
        memory: Memory::default(),
    };
    evaluator.eval(expr.root(), 0).map(|result| result.value)
}

impl Expr {
    /// Shorthand for [`evaluate`].
    pub fn evaluate(&self, ctx: &dyn EvalContext) -> Result<Value, ExprError> {
        evaluate(self, ctx)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

/// The path a value was read from: a named value and the keys/indexes below it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Origin {
    root: String,
    path: Vec<Segment>,
}

impl Origin {
    pub(crate) fn child(&self, segment: Segment) -> Origin {
        let mut path = self.path.clone();
        path.push(segment);
        Origin {
            root: self.root.clone(),
            path,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Evaluated {
    pub value: Value,
    /// Produced by `*`: later accessors apply to each element.
    pub filtered: bool,
    pub origin: Option<Origin>,
}

impl Evaluated {
    pub(crate) fn fresh(value: Value) -> Self {
        Evaluated {
            value,
            filtered: false,
            origin: None,
        }
    }

    fn filtered(items: Vec<Value>) -> Self {
        Evaluated {
            value: Value::Array(items),
            filtered: true,
            origin: None,
        }
    }

    fn read(value: Value, origin: Option<Origin>, segment: Segment) -> Self {
        let origin = origin.map(|o| o.child(segment));
        Evaluated {
            value,
            filtered: false,
            origin,
        }
    }

    /// Whether both are the same array/object of the context.
    pub(crate) fn same_reference(&self, other: &Evaluated) -> bool {
        self.origin.is_some() && self.origin == other.origin
    }
}

/// A non-star index: its string form (primitives only) and its array position (when the number
/// form is finite and non-negative, floored).
struct IndexKey {
    text: Option<String>,
    position: Option<usize>,
}

impl IndexKey {
    fn of(value: &Value) -> Self {
        let text = value.is_primitive().then(|| value.to_display_string());
        let n = value.to_number();
        let position = (n.is_finite() && n >= 0.0).then(|| n.floor() as usize);
        IndexKey { text, position }
    }
}

struct Evaluator<'a> {
    ctx: &'a dyn EvalContext,
    source: &'a str,
    memory: Memory,
}

type Evaled = Result<Evaluated, ExprError>;

impl Evaluator<'_> {
    /// Evaluates `node` at tree depth `level` and charges its result against the memory limit.
    fn eval(&mut self, node: &Node, level: usize) -> Evaled {
        let result = self.eval_node(node, level + 1)?;
        if self.memory.record(level, &result).is_err() {
            return Err(self.memory_error(node));
        }
        Ok(result)
    }

    /// Evaluates `node`; its children are at `child` depth.
    fn eval_node(&mut self, node: &Node, child: usize) -> Evaled {
        match &node.kind {
            NodeKind::Literal(value) => Ok(Evaluated::fresh(value.clone())),
            NodeKind::NamedValue(name) => Ok(self.named_value(name)),
            NodeKind::Access { target, accessor } => self.access(target, accessor, child),
            NodeKind::Not(inner) => {
                let value = self.eval(inner, child)?.value;
                Ok(Evaluated::fresh(Value::Bool(!value.is_truthy())))
            }
            NodeKind::Compare { first, rest } => {
                let mut acc = self.eval(first, child)?;
                for (op, rhs) in rest {
                    let right = self.eval(rhs, child)?;
                    let result =
                        compare(*op, &acc.value, &right.value, || acc.same_reference(&right));
                    acc = Evaluated::fresh(Value::Bool(result));
                }
                Ok(acc)
            }
            NodeKind::Logical { op, operands } => self.logical(*op, operands, child),
            NodeKind::Call { name, args, .. } => self.call(node, name, args, child),
            NodeKind::Group(inner) => self.eval(inner, child),
        }
    }

    fn named_value(&self, name: &str) -> Evaluated {
        let value = self.ctx.named_value(name).unwrap_or_default();
        let origin = Origin {
            root: name.to_ascii_lowercase(),
            path: Vec::new(),
        };
        Evaluated {
            value,
            filtered: false,
            origin: Some(origin),
        }
    }

    /// `&&` returns the first falsy operand, `||` the first truthy one, else the last operand.
    fn logical(&mut self, op: LogicalOp, operands: &[Node], child: usize) -> Evaled {
        let mut last = Evaluated::default();
        for operand in operands {
            last = self.eval(operand, child)?;
            let truthy = last.value.is_truthy();
            if (op == LogicalOp::And && !truthy) || (op == LogicalOp::Or && truthy) {
                break;
            }
        }
        Ok(last)
    }

    fn access(&mut self, target: &Node, accessor: &Accessor, child: usize) -> Evaled {
        // Upstream evaluates the index before the target.
        let key = match accessor {
            Accessor::Star => None,
            Accessor::Property(name) => Some(IndexKey::of(&Value::String(name.clone()))),
            Accessor::Index(index) => Some(IndexKey::of(&self.eval(index, child)?.value)),
        };
        let target = self.eval(target, child)?;
        Ok(match key {
            None => star(target),
            Some(key) => index(target, &key),
        })
    }

    fn call(&mut self, node: &Node, name: &str, args: &[Node], child: usize) -> Evaled {
        let lower = name.to_ascii_lowercase();
        if lower == "case" {
            return self.case(node, args, child);
        }
        let values = args
            .iter()
            .map(|arg| self.eval(arg, child))
            .collect::<Result<Vec<_>, _>>()?;
        if !is_builtin(&lower) {
            return self.call_extension(node, name, values);
        }
        let max_len = max_string_len(self.memory.available_at(child.saturating_sub(1)));
        functions::call_builtin(&lower, &values, max_len).map_err(|e| self.func_error(node, e))
    }

    fn call_extension(&self, node: &Node, name: &str, args: Vec<Evaluated>) -> Evaled {
        let args: Vec<Value> = args.into_iter().map(|a| a.value).collect();
        match self.ctx.call_function(name, &args) {
            Some(result) => result.map(Evaluated::fresh),
            None => {
                let source = self.source;
                Err(ExprError::located(
                    ErrorKind::Evaluation,
                    Reason::UnrecognizedFunction,
                    "Unrecognized function",
                    name,
                    source,
                    node.span.start,
                ))
            }
        }
    }

    /// `case(pred1, val1, ..., default)`: predicates must be booleans; evaluated lazily.
    fn case(&mut self, node: &Node, args: &[Node], child: usize) -> Evaled {
        for pair in args.chunks_exact(2) {
            match self.eval(&pair[0], child)?.value {
                Value::Bool(true) => return self.eval(&pair[1], child),
                Value::Bool(false) => {}
                _ => return Err(self.func_error(node, FuncError::CasePredicate)),
            }
        }
        match args.last() {
            Some(default) if !args.len().is_multiple_of(2) => self.eval(default, child),
            _ => Ok(Evaluated::default()),
        }
    }

    /// The runner names the whole expression in this message.
    fn memory_error(&self, node: &Node) -> ExprError {
        let message = format!(
            "{} while evaluating the following expression: {}",
            FuncError::MemoryExceeded,
            self.source
        );
        ExprError::new(
            ErrorKind::Evaluation,
            Reason::MemoryExceeded,
            message,
            node.span.start,
        )
    }

    fn func_error(&self, node: &Node, error: FuncError) -> ExprError {
        if error == FuncError::MemoryExceeded {
            return self.memory_error(node);
        }
        ExprError::new(
            ErrorKind::Evaluation,
            Reason::FunctionFailed,
            error.to_string(),
            node.span.start,
        )
    }
}

/// `x.*` / `x[*]`.
fn star(target: Evaluated) -> Evaluated {
    match target.value {
        Value::Array(items) if target.filtered => {
            Evaluated::filtered(items.into_iter().flat_map(children).collect())
        }
        Value::Array(items) => Evaluated::filtered(items),
        Value::Object(map) => Evaluated::filtered(map.into_values().collect()),
        _ => Evaluated::filtered(Vec::new()),
    }
}

/// Elements of arrays and values of objects; nothing for primitives.
fn children(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        Value::Object(map) => map.into_values().collect(),
        _ => Vec::new(),
    }
}

/// `x[key]` / `x.key`.
fn index(target: Evaluated, key: &IndexKey) -> Evaluated {
    let origin = target.origin;
    match target.value {
        Value::Array(items) if target.filtered => Evaluated::filtered(
            items
                .into_iter()
                .filter_map(|item| lookup(item, key))
                .collect(),
        ),
        Value::Array(mut items) => match key.position {
            Some(i) if i < items.len() => {
                Evaluated::read(items.swap_remove(i), origin, Segment::Index(i))
            }
            _ => Evaluated::default(),
        },
        Value::Object(mut map) => {
            let found = key.text.as_deref().and_then(|text| find_key(&map, text));
            match found.and_then(|i| map.swap_remove_index(i)) {
                Some((k, v)) => Evaluated::read(v, origin, Segment::Key(k)),
                None => Evaluated::default(),
            }
        }
        _ => Evaluated::default(),
    }
}

/// One element of a filtered array indexed by `key`; missing entries are dropped.
fn lookup(item: Value, key: &IndexKey) -> Option<Value> {
    match item {
        Value::Object(mut map) => {
            let i = find_key(&map, key.text.as_deref()?)?;
            map.swap_remove_index(i).map(|(_, v)| v)
        }
        Value::Array(mut items) => {
            let i = key.position.filter(|&i| i < items.len())?;
            Some(items.swap_remove(i))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::{ParseOptions, parse};

    struct Ctx(Value);

    impl EvalContext for Ctx {
        fn named_value(&self, name: &str) -> Option<Value> {
            self.0.get(name).cloned()
        }
    }

    fn eval(source: &str) -> Result<Value, ExprError> {
        let data =
            serde_json::json!({"github": {"event": {"labels": [{"name": "bug"}], "obj": {}}}});
        let opts = ParseOptions::new().named_value("github");
        evaluate(&parse(source, &opts)?, &Ctx(Value::from(data)))
    }

    #[test]
    fn arrays_and_objects_equal_only_themselves() {
        assert_eq!(eval("github.event == github.EVENT"), Ok(Value::Bool(true)));
        assert_eq!(
            eval("github.event.obj == github.event"),
            Ok(Value::Bool(false))
        );
        assert_eq!(
            eval("fromJSON('{}') == fromJSON('{}')"),
            Ok(Value::Bool(false))
        );
        assert_eq!(
            eval("case(true, github.event, 1) == github.event"),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            eval("(github.event || 1) != github.event"),
            Ok(Value::Bool(false))
        );
        assert_eq!(
            eval("contains(github.event.labels, github.event.labels[0])"),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            eval("contains(github.event.labels, fromJSON('{\"name\":\"bug\"}'))"),
            Ok(Value::Bool(false))
        );
    }

    #[test]
    fn format_rejects_specifiers_and_spaces_like_the_runner() {
        let err = eval("format('{0:yyyy}', 1)").unwrap_err();
        assert_eq!(
            err.message,
            "The format specifiers 'yyyy' are not valid for objects of type 'Number'"
        );
        let err = eval("format('{0 }', 1)").unwrap_err();
        assert_eq!(err.message, "The following format string is invalid: {0 }");
        assert_eq!(eval("format('{0:}', 1)"), Ok(Value::from("1")));
    }

    #[test]
    fn filtered_arrays_apply_accessors_to_each_element() {
        assert_eq!(
            eval("github.event.labels.*.name"),
            Ok(Value::from(vec![Value::from("bug")]))
        );
        assert_eq!(eval("github.event.labels.name"), Ok(Value::Null));
        // Still filtered after passing through `||`: `[0]` indexes each element, not the list.
        assert_eq!(
            eval("(github.event.labels.* || 1).name"),
            Ok(Value::from(vec![Value::from("bug")]))
        );
        assert_eq!(
            eval("(github.event.labels.* || 1)[0]"),
            Ok(Value::Array(vec![]))
        );
    }

    #[test]
    fn errors_carry_the_offset_of_the_failing_call() {
        let err = eval("1 && case(1, 2, 3)").unwrap_err();
        assert_eq!((err.kind, err.offset), (ErrorKind::Evaluation, 5));
        assert_eq!(err.reason, Reason::FunctionFailed);
        let err = eval("fromJSON('{')").unwrap_err();
        assert_eq!(err.reason, Reason::FunctionFailed);
        assert!(
            err.message
                .starts_with("Error parsing JSON when evaluating fromJson"),
            "{}",
            err.message
        );
    }

    #[test]
    fn unknown_functions_fail_at_evaluation_in_permissive_mode() {
        let expr = parse("hashFiles('**/x')", &ParseOptions::permissive()).unwrap();
        let err = evaluate(&expr, &Ctx(Value::Null)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Evaluation);
        assert_eq!(err.reason, Reason::UnrecognizedFunction);
        assert!(
            err.message
                .starts_with("Unrecognized function: 'hashFiles'"),
            "{}",
            err.message
        );
    }
}
