//! Recursive-descent parser with upstream's precedence, depth accounting and error messages.
//!
//! Precedence, loosest first: `||`, `&&`, `== !=`, `< <= > >=`, `!`, then `.`/`[]` access.
//! Depth is counted exactly where upstream counts it (each sub-expression, each `!`, each
//! `&&`/`||` chain, each access in a chain) because the limit of 50 is observable; it also bounds
//! recursion, so no input can overflow the stack.

use crate::ast::{Accessor, CompareOp, LogicalOp, Node, NodeKind, Span};
use crate::error::{ErrorKind, ExprError, MAX_DEPTH, Reason};
use crate::lexer::{Token, TokenKind, lex};
use crate::value::Value;

/// Built-in functions and their (min, max) argument counts.
const BUILTINS: &[(&str, usize, usize)] = &[
    ("case", 3, usize::MAX),
    ("contains", 2, 2),
    ("endswith", 2, 2),
    ("format", 1, 255),
    ("fromjson", 1, 1),
    ("join", 1, 2),
    ("startswith", 2, 2),
    ("tojson", 1, 1),
];

/// GitHub's job/step status functions.
pub const STATUS_FUNCTIONS: &[&str] = &["success", "always", "failure", "cancelled"];

pub(crate) fn is_builtin(lower_name: &str) -> bool {
    BUILTINS.iter().any(|(name, _, _)| *name == lower_name)
}

/// What an expression may refer to: named values (contexts) and caller-supplied functions.
/// Names are case-insensitive. The built-in functions are always available.
///
/// Names are kept lower-cased in sorted vectors (so equality is set equality): a schema context
/// has a few dozen names at most, and a scan with `eq_ignore_ascii_case` needs neither the
/// lower-cased copy nor the hashing that a set lookup costs for every name in every expression.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParseOptions {
    named_values: Vec<String>,
    functions: Vec<(String, (usize, usize))>,
    permissive: bool,
}

impl ParseOptions {
    /// No named values and no extra functions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Allows the named value `name` (e.g. `github`, `env`, `matrix`).
    pub fn named_value(mut self, name: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        if let Err(at) = self.named_values.binary_search(&lower) {
            self.named_values.insert(at, lower);
        }
        self
    }

    /// Allows the function `name` with `min_args..=max_args` arguments.
    pub fn function(mut self, name: &str, min_args: usize, max_args: usize) -> Self {
        let lower = name.to_ascii_lowercase();
        match self.function_slot(&lower) {
            Ok(at) => self.functions[at].1 = (min_args, max_args),
            Err(at) => self.functions.insert(at, (lower, (min_args, max_args))),
        }
        self
    }

    /// Where the lower-cased `name` is (or would go) in the sorted function list.
    fn function_slot(&self, lower: &str) -> Result<usize, usize> {
        self.functions
            .binary_search_by(|(name, _)| name.as_str().cmp(lower))
    }

    /// Adds one entry of a schema `context` list: `github` (a named value) or
    /// `hashFiles(1,255)` / `failure(0,MAX)` (a function with its argument range).
    pub fn allowed_context(self, entry: &str) -> Self {
        let Some((name, arity)) = entry.strip_suffix(')').and_then(|e| e.split_once('(')) else {
            return self.named_value(entry.trim());
        };
        let bound = |text: &str| match text.trim() {
            "MAX" => Some(usize::MAX),
            digits => digits.parse().ok(),
        };
        let range = arity
            .split_once(',')
            .and_then(|(min, max)| Some((bound(min)?, bound(max)?)));
        let (min, max) = range.unwrap_or((0, usize::MAX));
        self.function(name.trim(), min, max)
    }

    /// Allows `success()`, `always()`, `failure()` and `cancelled()` without arguments, keeping
    /// any arity already declared (job-level `if:` allows `success('job-id', ...)`).
    pub fn status_functions(mut self) -> Self {
        for name in STATUS_FUNCTIONS {
            if let Err(at) = self.function_slot(name) {
                self.functions.insert(at, (name.to_string(), (0, 0)));
            }
        }
        self
    }

    /// Accepts any named value and any function name (arity unchecked for unknown functions).
    pub fn permissive() -> Self {
        ParseOptions {
            permissive: true,
            ..Self::default()
        }
    }

    pub fn is_permissive(&self) -> bool {
        self.permissive
    }

    pub fn allows_named_value(&self, name: &str) -> bool {
        self.permissive
            || self
                .named_values
                .iter()
                .any(|n| n.eq_ignore_ascii_case(name))
    }

    /// Arity of a built-in or declared function; `None` when unknown.
    pub fn function_arity(&self, name: &str) -> Option<(usize, usize)> {
        BUILTINS
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, min, max)| (*min, *max))
            .or_else(|| {
                self.functions
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, arity)| *arity)
            })
    }
}

/// A parsed expression: its syntax tree and the source it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    source: String,
    root: Node,
}

/// One function call found in an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionCallRef<'a> {
    /// As written.
    pub name: &'a str,
    pub arg_count: usize,
    /// Span of the whole call.
    pub span: Span,
}

impl Expr {
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn root(&self) -> &Node {
        &self.root
    }

    /// Every named value reference, as written, with its span, in source order.
    pub fn named_values(&self) -> Vec<(&str, Span)> {
        let mut found = Vec::new();
        self.root.walk(&mut |node| {
            if let NodeKind::NamedValue(name) = &node.kind {
                found.push((name.as_str(), node.span));
            }
        });
        found
    }

    /// Every function call, in source order (outer calls before the calls in their arguments).
    pub fn function_calls(&self) -> Vec<FunctionCallRef<'_>> {
        let mut found = Vec::new();
        self.root.walk(&mut |node| {
            if let NodeKind::Call { name, args, .. } = &node.kind {
                found.push(FunctionCallRef {
                    name,
                    arg_count: args.len(),
                    span: node.span,
                });
            }
        });
        found
    }

    /// Whether the expression calls `name` (case-insensitive) anywhere.
    pub fn calls_function(&self, name: &str) -> bool {
        self.function_calls()
            .iter()
            .any(|call| call.name.eq_ignore_ascii_case(name))
    }
}

impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
}

/// Parses one expression (the text inside `${{ }}`). An empty or blank expression evaluates to
/// `null`, as upstream's parser returns no tree for it.
pub fn parse(source: &str, options: &ParseOptions) -> Result<Expr, ExprError> {
    let tokens = lex(source)?;
    let mut parser = Parser {
        source,
        tokens,
        pos: 0,
        depth: 0,
        options,
    };
    let root = parser.parse_root()?;
    Ok(Expr {
        source: source.to_string(),
        root,
    })
}

struct Parser<'a> {
    source: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    options: &'a ParseOptions,
}

type Parsed = Result<Node, ExprError>;

impl Parser<'_> {
    fn parse_root(&mut self) -> Parsed {
        if self.at_end() {
            let span = Span::new(0, 0);
            return Ok(Node {
                kind: NodeKind::Literal(Value::Null),
                span,
            });
        }
        let root = self.expression()?;
        if !self.at_end() {
            return Err(self.error(Reason::UnexpectedSymbol, "Unexpected symbol", self.peek()));
        }
        Ok(root)
    }

    fn expression(&mut self) -> Parsed {
        self.enter()?;
        let node = self.logical(LogicalOp::Or)?;
        self.depth -= 1;
        Ok(node)
    }

    /// `||` chains of `&&` chains of equalities.
    fn logical(&mut self, op: LogicalOp) -> Parsed {
        let (token, operand): (TokenKind, fn(&mut Self) -> Parsed) = match op {
            LogicalOp::Or => (TokenKind::Or, |p| p.logical(LogicalOp::And)),
            LogicalOp::And => (TokenKind::And, Self::equality),
        };
        let first = operand(self)?;
        if !self.check(&token) {
            return Ok(first);
        }
        self.enter()?;
        let mut operands = vec![first];
        while self.eat(&token) {
            operands.push(operand(self)?);
        }
        self.depth -= 1;
        let span = operands[0].span.to(operands[operands.len() - 1].span);
        Ok(Node {
            kind: NodeKind::Logical { op, operands },
            span,
        })
    }

    fn equality(&mut self) -> Parsed {
        self.compare_chain(Self::comparison, |kind| match kind {
            TokenKind::EqualEqual => Some(CompareOp::Equal),
            TokenKind::BangEqual => Some(CompareOp::NotEqual),
            _ => None,
        })
    }

    fn comparison(&mut self) -> Parsed {
        self.compare_chain(Self::unary, |kind| match kind {
            TokenKind::Less => Some(CompareOp::Less),
            TokenKind::LessEqual => Some(CompareOp::LessEqual),
            TokenKind::Greater => Some(CompareOp::Greater),
            TokenKind::GreaterEqual => Some(CompareOp::GreaterEqual),
            _ => None,
        })
    }

    fn compare_chain(
        &mut self,
        operand: fn(&mut Self) -> Parsed,
        op_of: fn(&TokenKind) -> Option<CompareOp>,
    ) -> Parsed {
        let first = operand(self)?;
        let mut rest = Vec::new();
        while let Some(op) = op_of(&self.peek().kind) {
            self.advance();
            rest.push((op, operand(self)?));
        }
        let Some((_, last)) = rest.last() else {
            return Ok(first);
        };
        let span = first.span.to(last.span);
        Ok(Node {
            kind: NodeKind::Compare {
                first: Box::new(first),
                rest,
            },
            span,
        })
    }

    fn unary(&mut self) -> Parsed {
        if !self.eat(&TokenKind::Bang) {
            return self.access_chain();
        }
        let bang = self.previous().start;
        self.enter()?;
        let operand = self.unary()?;
        self.depth -= 1;
        let span = Span::new(bang, operand.span.end);
        Ok(Node {
            kind: NodeKind::Not(Box::new(operand)),
            span,
        })
    }

    /// `.name`, `.*`, `[expr]` and `[*]` after a group, a call or a named value.
    fn access_chain(&mut self) -> Parsed {
        let mut node = self.call()?;
        if !matches!(
            node.kind,
            NodeKind::Group(_) | NodeKind::Call { .. } | NodeKind::NamedValue(_)
        ) {
            return Ok(node);
        }
        let mut entered = 0;
        loop {
            let accessor = if self.eat(&TokenKind::LeftBracket) {
                let accessor = self.bracket_accessor()?;
                self.enter()?;
                accessor
            } else if self.eat(&TokenKind::Dot) {
                self.enter()?;
                self.dot_accessor()?
            } else {
                break;
            };
            entered += 1;
            let span = Span::new(node.span.start, self.previous().end);
            node = Node {
                kind: NodeKind::Access {
                    target: Box::new(node),
                    accessor,
                },
                span,
            };
        }
        self.depth -= entered;
        Ok(node)
    }

    fn bracket_accessor(&mut self) -> Result<Accessor, ExprError> {
        let accessor = if self.eat(&TokenKind::Star) {
            Accessor::Star
        } else {
            Accessor::Index(Box::new(self.expression()?))
        };
        self.expect(&TokenKind::RightBracket)?;
        Ok(accessor)
    }

    fn dot_accessor(&mut self) -> Result<Accessor, ExprError> {
        if self.eat(&TokenKind::Identifier) {
            return Ok(Accessor::Property(
                self.previous().lexeme(self.source).to_string(),
            ));
        }
        if self.eat(&TokenKind::Star) {
            return Ok(Accessor::Star);
        }
        Err(self.error(Reason::UnexpectedSymbol, "Unexpected symbol", self.peek()))
    }

    fn call(&mut self) -> Parsed {
        if !self.check(&TokenKind::Identifier) {
            return self.primary();
        }
        let ident = self.advance().clone();
        let name = ident.lexeme(self.source).to_string();
        let name_span = Span::new(ident.start, ident.end);
        if !self.eat(&TokenKind::LeftParen) {
            if !self.options.allows_named_value(&name) {
                return Err(self.error(
                    Reason::UnrecognizedNamedValue,
                    "Unrecognized named-value",
                    &ident,
                ));
            }
            return Ok(Node {
                kind: NodeKind::NamedValue(name),
                span: name_span,
            });
        }
        let mut args = Vec::new();
        // Upstream's loop: a trailing comma before `)` is accepted.
        while !self.eat(&TokenKind::RightParen) {
            args.push(self.expression()?);
            if !self.check(&TokenKind::RightParen) {
                self.expect(&TokenKind::Comma)?;
            }
        }
        self.validate_call(&ident, &name, args.len())?;
        let span = Span::new(ident.start, self.previous().end);
        Ok(Node {
            kind: NodeKind::Call {
                name,
                name_span,
                args,
            },
            span,
        })
    }

    fn validate_call(&self, ident: &Token, name: &str, arg_count: usize) -> Result<(), ExprError> {
        let Some((min, max)) = self.options.function_arity(name) else {
            if self.options.is_permissive() {
                return Ok(());
            }
            return Err(self.error(Reason::UnrecognizedFunction, "Unrecognized function", ident));
        };
        if arg_count < min {
            return Err(self.error(Reason::ParameterCount, "Too few parameters supplied", ident));
        }
        if arg_count > max {
            return Err(self.error(
                Reason::ParameterCount,
                "Too many parameters supplied",
                ident,
            ));
        }
        if name.eq_ignore_ascii_case("case") && arg_count.is_multiple_of(2) {
            let description =
                "Even number of parameters supplied, requires an odd number of parameters";
            return Err(self.error(Reason::ParameterCount, description, ident));
        }
        Ok(())
    }

    fn primary(&mut self) -> Parsed {
        let token = self.peek().clone();
        let literal = match &token.kind {
            TokenKind::False => Some(Value::Bool(false)),
            TokenKind::True => Some(Value::Bool(true)),
            TokenKind::Null => Some(Value::Null),
            TokenKind::Number(n) => Some(Value::Number(*n)),
            TokenKind::String(s) => Some(Value::String(s.clone())),
            _ => None,
        };
        if let Some(value) = literal {
            self.advance();
            let span = Span::new(token.start, token.end);
            return Ok(Node {
                kind: NodeKind::Literal(value),
                span,
            });
        }
        if self.eat(&TokenKind::LeftParen) {
            return self.group(token.start);
        }
        if self.at_end() {
            return Err(self.error(
                Reason::UnexpectedEnd,
                "Unexpected end of expression",
                self.previous(),
            ));
        }
        Err(self.error(Reason::UnexpectedSymbol, "Unexpected symbol", self.peek()))
    }

    fn group(&mut self, start: usize) -> Parsed {
        let inner = self.expression()?;
        if self.at_end() {
            return Err(self.error(
                Reason::UnexpectedEnd,
                "Unexpected end of expression",
                self.previous(),
            ));
        }
        self.expect(&TokenKind::RightParen)?;
        let span = Span::new(start, self.previous().end);
        Ok(Node {
            kind: NodeKind::Group(Box::new(inner)),
            span,
        })
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let description = format!("Exceeded max expression depth {MAX_DEPTH}");
            return Err(self.error(Reason::TooDeep, &description, self.peek()));
        }
        Ok(())
    }

    fn peek(&self) -> &Token {
        let last = self.tokens.len() - 1;
        &self.tokens[self.pos.min(last)]
    }

    fn previous(&self) -> &Token {
        &self.tokens[self.pos.saturating_sub(1)]
    }

    fn at_end(&self) -> bool {
        self.peek().kind == TokenKind::Eof
    }

    /// Whether the next token has the same kind (payloads of numbers/strings are not compared).
    fn check(&self, kind: &TokenKind) -> bool {
        !self.at_end() && std::mem::discriminant(&self.peek().kind) == std::mem::discriminant(kind)
    }

    fn advance(&mut self) -> &Token {
        if !self.at_end() {
            self.pos += 1;
        }
        self.previous()
    }

    fn eat(&mut self, kind: &TokenKind) -> bool {
        let matched = self.check(kind);
        if matched {
            self.advance();
        }
        matched
    }

    fn expect(&mut self, kind: &TokenKind) -> Result<(), ExprError> {
        if self.eat(kind) {
            return Ok(());
        }
        Err(self.error(Reason::UnexpectedSymbol, "Unexpected symbol", self.peek()))
    }

    fn error(&self, reason: Reason, description: &str, token: &Token) -> ExprError {
        let shown = token.describe(self.source);
        ExprError::located(
            ErrorKind::Parsing,
            reason,
            description,
            &shown,
            self.source,
            token.start,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(source: &str) -> String {
        parse(source, &ParseOptions::new().named_value("foo"))
            .unwrap_err()
            .message
    }

    #[test]
    fn reports_upstream_positions() {
        assert_eq!(
            parse_err("1 <"),
            "Unexpected end of expression: '<'. Located at position 3 within expression: 1 <"
        );
        assert_eq!(
            parse_err("foo.1"),
            "Unexpected symbol: '1'. Located at position 5 within expression: foo.1"
        );
        assert!(
            parse_err("bar").starts_with("Unrecognized named-value: 'bar'. Located at position 1")
        );
        assert!(
            parse_err("nope()").starts_with("Unrecognized function: 'nope'. Located at position 1")
        );
    }

    #[test]
    fn classifies_errors_by_reason() {
        let reason = |source: &str| {
            parse(source, &ParseOptions::new().named_value("foo"))
                .unwrap_err()
                .reason
        };
        assert_eq!(reason("1 <"), Reason::UnexpectedEnd);
        assert_eq!(reason("foo.1"), Reason::UnexpectedSymbol);
        assert_eq!(reason("bar"), Reason::UnrecognizedNamedValue);
        assert_eq!(reason("nope()"), Reason::UnrecognizedFunction);
        assert_eq!(reason("contains(foo)"), Reason::ParameterCount);
        assert_eq!(reason("case(true, 1)"), Reason::ParameterCount);
        assert_eq!(reason(&"(".repeat(60)), Reason::TooDeep);
        assert_eq!(reason("1 ~ 2"), Reason::UnexpectedSymbol);
    }

    #[test]
    fn walks_named_values_and_calls() {
        let opts = ParseOptions::new()
            .named_value("github")
            .named_value("env")
            .status_functions();
        let expr = parse("success() && contains(github.ref, env.X)", &opts).unwrap();
        let names: Vec<&str> = expr.named_values().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["github", "env"]);
        let calls: Vec<&str> = expr.function_calls().into_iter().map(|c| c.name).collect();
        assert_eq!(calls, ["success", "contains"]);
        assert_eq!(expr.named_values()[0].1, Span::new(22, 28));
    }

    #[test]
    fn schema_context_entries_declare_values_and_functions() {
        let opts = ["github", "hashFiles(1,255)", "failure(0,MAX)"]
            .into_iter()
            .fold(ParseOptions::new(), ParseOptions::allowed_context);
        assert!(opts.allows_named_value("GitHub"));
        assert_eq!(opts.function_arity("hashfiles"), Some((1, 255)));
        assert_eq!(opts.function_arity("failure"), Some((0, usize::MAX)));
        let err = parse("hashFiles()", &opts).unwrap_err();
        assert!(
            err.message
                .starts_with("Too few parameters supplied: 'hashFiles'"),
            "{}",
            err.message
        );
    }

    #[test]
    fn long_comparison_chains_stay_flat() {
        let source = vec!["1"; 4000].join(" == ");
        let expr = parse(&source, &ParseOptions::new()).unwrap();
        assert!(matches!(&expr.root().kind, NodeKind::Compare { rest, .. } if rest.len() == 3999));
    }
}
