//! The syntax tree. Every node carries the byte span of its source text.

use crate::value::Value;

/// A byte range in the expression source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Equal,
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
}

impl CompareOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Equal => "==",
            CompareOp::NotEqual => "!=",
            CompareOp::Less => "<",
            CompareOp::LessEqual => "<=",
            CompareOp::Greater => ">",
            CompareOp::GreaterEqual => ">=",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogicalOp {
    And,
    Or,
}

/// What follows the target in `a.b`, `a[expr]`, `a.*` or `a[*]`.
#[derive(Debug, Clone, PartialEq)]
pub enum Accessor {
    /// `a.name`: the identifier as written.
    Property(String),
    /// `a[expr]`.
    Index(Box<Node>),
    /// `a.*` or `a[*]`: an object/array filter.
    Star,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// `null`, `true`, numbers and strings (always primitive values).
    Literal(Value),
    /// A context such as `github`, as written (compare case-insensitively).
    NamedValue(String),
    Access {
        target: Box<Node>,
        accessor: Accessor,
    },
    Not(Box<Node>),
    /// A left-associative chain `first op1 x1 op2 x2 ...`. Chains are flat so that long
    /// `a == b == c ...` sequences cannot overflow the stack.
    Compare {
        first: Box<Node>,
        rest: Vec<(CompareOp, Node)>,
    },
    /// `a && b && c` or `a || b || c` (two or more operands).
    Logical {
        op: LogicalOp,
        operands: Vec<Node>,
    },
    /// A function call; `name` as written (compare case-insensitively).
    Call {
        name: String,
        name_span: Span,
        args: Vec<Node>,
    },
    /// Parentheses.
    Group(Box<Node>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub span: Span,
}

impl Node {
    /// Immediate children, in source order.
    pub fn children(&self) -> Vec<&Node> {
        match &self.kind {
            NodeKind::Literal(_) | NodeKind::NamedValue(_) => Vec::new(),
            NodeKind::Access { target, accessor } => match accessor {
                Accessor::Index(index) => vec![target, index],
                Accessor::Property(_) | Accessor::Star => vec![target],
            },
            NodeKind::Not(inner) | NodeKind::Group(inner) => vec![inner],
            NodeKind::Compare { first, rest } => std::iter::once(&**first)
                .chain(rest.iter().map(|(_, n)| n))
                .collect(),
            NodeKind::Logical { operands, .. } => operands.iter().collect(),
            NodeKind::Call { args, .. } => args.iter().collect(),
        }
    }

    /// Visits this node and all descendants, parents before children.
    pub fn walk<'a>(&'a self, visit: &mut dyn FnMut(&'a Node)) {
        let mut stack = vec![self];
        while let Some(node) = stack.pop() {
            visit(node);
            stack.extend(node.children().into_iter().rev());
        }
    }
}
