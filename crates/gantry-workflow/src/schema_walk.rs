//! Walks a YAML tree against GitHub's template schema, the way GitHub's template reader does:
//! unknown keys, wrong types, missing required keys, disallowed values and `${{ }}` expressions
//! (checked against the context the schema allows at that key), all reported in one pass.

use std::borrow::Cow;

use crate::exprcheck::{Ctx, check_expression, ctx_key, parse_options};
use crate::memory::{MIN_OBJECT_SIZE, Meter, expression_bytes, string_bytes, utf16_len};
use crate::model::{Diagnostic, Severity, Span};
use crate::schema::{DefId, Literal, Schema};
use crate::yaml::{Node, NodeKind};

/// GitHub's limit on the `format(...)` expression a templated string becomes.
const MAX_EXPRESSION_LENGTH: usize = 21_000;
const OPEN: &str = "${{";
/// The segment text standing for the `insert` directive.
const INSERT: &str = "insert";
const NOT_CLOSED: &str = "The expression is not closed. An unescaped ${{ sequence was found, but the closing }} sequence was not found.";

/// Properties that only exist behind GitHub's `allowBackgroundSteps` feature flag (off).
const BACKGROUND_PROPERTIES: [&str; 4] = ["background", "wait", "wait-all", "cancel"];

/// Validates `root` against the schema definition named `root_def`. `background_steps`
/// enables GitHub's experimental background-step keys (`background`, `wait`, ...).
pub fn validate(
    schema: &Schema,
    root_def: &str,
    root: &Node,
    background_steps: bool,
) -> Vec<Diagnostic> {
    validate_metered(schema, root_def, root, background_steps, usize::MAX).0
}

/// [`validate`], also counting the bytes GitHub's reader charges for what it accepts
/// ([`crate::memory`]) and reporting where they pass `max_result_size`. Returns the
/// diagnostics and the bytes.
pub fn validate_metered(
    schema: &Schema,
    root_def: &str,
    root: &Node,
    background_steps: bool,
    max_result_size: usize,
) -> (Vec<Diagnostic>, usize) {
    let mut walker = Walker {
        schema,
        background_steps,
        diagnostics: Vec::new(),
        options: Vec::new(),
        meter: Meter::new(max_result_size),
    };
    match schema.id(root_def) {
        Some(def) => walker.read_value(root, def, &Ctx::EMPTY),
        None => walker.error(
            root.span,
            "schema",
            format!("Schema definition '{root_def}' not found"),
        ),
    }
    (walker.diagnostics, walker.meter.used)
}

/// What a scalar turned out to be once its `${{ }}` were looked at.
enum Scanned {
    /// No expression (or one that folds to a string literal): validate the literal.
    Literal(Option<String>),
    /// A value computed at run time: accepted wherever expressions are allowed. Carries what
    /// the expression token costs (its expression text, or the `insert` directive).
    Expression(usize),
    /// The template itself was broken (already reported): validate the original text.
    Error,
}

struct Walker<'s> {
    schema: &'s Schema,
    background_steps: bool,
    /// Expression parser options per context (see `ctx_key`); a handful per file.
    options: Vec<(Vec<usize>, gantry_expr::ParseOptions)>,
    diagnostics: Vec<Diagnostic>,
    meter: Meter,
}

impl<'s> Walker<'s> {
    /// Charges one accepted token (see [`crate::memory`]).
    fn charge(&mut self, bytes: usize, span: Span) {
        if let Some(diagnostic) = self.meter.charge(bytes, span) {
            self.diagnostics.push(diagnostic);
        }
    }

    /// GitHub's message if `expr` does not parse with the context allowed at `ctx`.
    fn expression_error(&mut self, expr: &str, ctx: &Ctx<'_>) -> Option<String> {
        let key = ctx_key(ctx);
        let index = match self.options.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.options.push((key, parse_options(ctx)));
                self.options.len() - 1
            }
        };
        check_expression(expr, &self.options[index].1)
    }

    fn error(&mut self, span: Span, rule: &'static str, message: String) {
        self.diagnostics.push(Diagnostic {
            severity: Severity::Error,
            span,
            message,
            rule,
        });
    }

    fn read_value(&mut self, node: &Node, def: DefId, parent: &Ctx<'_>) {
        let d = self.schema.get(def);
        let ctx = Ctx {
            items: &d.context,
            parent: Some(parent),
        };
        match &node.kind {
            NodeKind::Seq(items) => {
                self.charge(MIN_OBJECT_SIZE, node.span);
                self.read_sequence(node, items, def, &ctx)
            }
            NodeKind::Map(entries) => {
                self.charge(MIN_OBJECT_SIZE, node.span);
                self.read_mapping(node, entries, def, &ctx)
            }
            _ => self.read_scalar(node, def, &ctx),
        }
    }

    fn read_sequence(&mut self, node: &Node, items: &[Node], def: DefId, ctx: &Ctx<'_>) {
        let Some(item_def) = self.schema.sequence_item(def) else {
            self.error(node.span, "schema", "A sequence was not expected".into());
            return;
        };
        for item in items {
            self.read_value(item, item_def, ctx);
        }
    }

    fn read_scalar(&mut self, node: &Node, def: DefId, ctx: &Ctx<'_>) {
        let scanned = match &node.kind {
            NodeKind::String(s) => self.scan(s, node.span, ctx),
            _ => Scanned::Literal(None),
        };
        let bytes = match scanned {
            Scanned::Expression(bytes) => {
                if ctx.is_empty() {
                    self.not_allowed(node.span);
                }
                bytes
            }
            Scanned::Literal(Some(folded)) => {
                self.validate_literal(node, Literal::String(&folded), def, ctx);
                string_bytes(&folded)
            }
            Scanned::Literal(None) | Scanned::Error => {
                match self.validate_literal(node, literal_of(node), def, ctx) {
                    Accepted::AsString(text) => string_bytes(&text),
                    Accepted::AsIs => scalar_bytes(node),
                }
            }
        };
        self.charge(bytes, node.span);
    }

    fn not_allowed(&mut self, span: Span) {
        self.error(
            span,
            "expression",
            "A template expression is not allowed in this context".into(),
        );
    }

    /// Matches a scalar against the scalar definitions; a non-string that fits nowhere is tried
    /// again as a string (GitHub coerces `1` to `"1"` where a string is expected). Says which
    /// token GitHub keeps, for the memory count.
    fn validate_literal(
        &mut self,
        node: &Node,
        lit: Literal<'_>,
        def: DefId,
        ctx: &Ctx<'_>,
    ) -> Accepted {
        let schema = self.schema;
        let defs = schema.scalar_defs(def);
        let matches = |lit: Literal<'_>| defs.iter().any(|&d| schema.get(d).matches(lit));
        let is_condition = schema.get(def).is_condition;
        if matches(lit) && !is_condition {
            return Accepted::AsIs;
        }
        // Non-strings are shown (and retried) as the string GitHub would make of them.
        let text = match lit {
            Literal::String(_) => String::new(),
            _ => node.scalar_to_string().unwrap_or_default(),
        };
        let shown = match lit {
            Literal::String(s) => s,
            _ => text.as_str(),
        };
        // An empty value where only a mapping fits is an empty mapping (`inputs:` with nothing
        // under it), as GitHub reads it.
        let empty_mapping =
            matches!(lit, Literal::Null) && defs.is_empty() && !schema.mapping_defs(def).is_empty();
        let converted = !empty_mapping
            && !matches(lit)
            && !matches!(lit, Literal::String(_))
            && matches(Literal::String(&text));
        let ok = empty_mapping || matches(lit) || converted;
        if !ok {
            self.error(node.span, "schema", format!("Unexpected value '{shown}'"));
            return Accepted::AsIs;
        }
        if is_condition {
            self.check_condition(node, shown, ctx);
        }
        if converted {
            Accepted::AsString(text)
        } else {
            Accepted::AsIs
        }
    }

    /// `if:` values without `${{ }}` are expressions too.
    fn check_condition(&mut self, node: &Node, text: &str, ctx: &Ctx<'_>) {
        let trimmed = text.trim();
        if trimmed.is_empty() || text.contains(OPEN) {
            return;
        }
        if let Some(message) = self.expression_error(trimmed, ctx) {
            self.error(node.span, "expression", message);
        }
    }

    fn read_mapping(&mut self, node: &Node, entries: &[(Node, Node)], def: DefId, ctx: &Ctx<'_>) {
        let mut defs = Cow::Borrowed(self.schema.mapping_defs(def));
        let Some(&first) = defs.first() else {
            self.error(node.span, "schema", "A mapping was not expected".into());
            return;
        };
        let Some(m) = self.schema.mapping(first) else {
            return;
        };
        if defs.len() > 1 || !m.properties.is_empty() || m.loose_key.is_none() {
            self.read_known_mapping(node, entries, &mut defs, ctx);
        } else if let (Some(key_def), Some(value_def)) = (m.loose_key, m.loose_value) {
            self.read_loose_mapping(entries, key_def, value_def, ctx);
        }
    }

    /// A key's text, or `None` for an expression key (handled here).
    fn read_key<'n>(
        &mut self,
        key: &'n Node,
        value: &Node,
        value_def: DefId,
        ctx: &Ctx<'_>,
    ) -> Option<Cow<'n, str>> {
        let text = match &key.kind {
            NodeKind::String(s) => Cow::Borrowed(s.as_str()),
            _ => match key.scalar_to_string() {
                Some(t) => Cow::Owned(t),
                None => {
                    self.error(key.span, "schema", "A mapping key must be a scalar".into());
                    return None;
                }
            },
        };
        if matches!(key.kind, NodeKind::String(_)) {
            match self.scan(&text, key.span, ctx) {
                Scanned::Expression(bytes) => {
                    if ctx.is_empty() {
                        self.not_allowed(key.span);
                    } else {
                        self.charge(bytes, key.span);
                        self.read_value(value, value_def, ctx);
                    }
                    return None;
                }
                Scanned::Literal(Some(folded)) => return Some(Cow::Owned(folded)),
                Scanned::Literal(None) | Scanned::Error => {}
            }
        }
        Some(text)
    }

    fn check_duplicate<'n>(&mut self, seen: &mut Keys<'n>, key: &Node, text: Cow<'n, str>) -> bool {
        if text.is_empty() || seen.insert(text.clone()) {
            return false;
        }
        self.error(key.span, "schema", format!("'{text}' is already defined"));
        true
    }

    fn read_known_mapping(
        &mut self,
        node: &Node,
        entries: &[(Node, Node)],
        defs: &mut Cow<'_, [DefId]>,
        ctx: &Ctx<'_>,
    ) {
        let schema = self.schema;
        let loose = schema
            .mapping(defs[0])
            .and_then(|m| m.loose_key.zip(m.loose_value));
        let mut seen = Keys::default();
        let mut has_expression_key = false;
        for (key, value) in entries {
            let Some(text) = self.read_key(key, value, schema.any(), ctx) else {
                has_expression_key |= key.is_scalar();
                continue;
            };
            if self.check_duplicate(&mut seen, key, text.clone()) {
                continue;
            }
            if let Some(prop) = match_property_and_filter(schema, defs, &text) {
                if !self.background_steps && BACKGROUND_PROPERTIES.contains(&&*text) {
                    self.error(key.span, "schema", format!("Unexpected value '{text}'"));
                    continue;
                }
                self.charge(string_bytes(&text), key.span);
                self.read_value(value, prop, ctx);
            } else if let Some((key_def, value_def)) = loose {
                self.validate_literal(key, Literal::String(&text), key_def, ctx);
                self.charge(string_bytes(&text), key.span);
                self.read_value(value, value_def, ctx);
            } else {
                self.error(key.span, "schema", format!("Unexpected value '{text}'"));
            }
        }
        if defs.len() > 1 {
            let message = ambiguous_message(schema, defs, self.background_steps);
            self.error(node.span, "schema", message);
        } else if !has_expression_key {
            self.check_required(node, defs[0], &seen);
        }
    }

    fn check_required(&mut self, node: &Node, def: DefId, seen: &Keys<'_>) {
        let Some(m) = self.schema.mapping(def) else {
            return;
        };
        for (name, prop) in &m.properties {
            if prop.required && !seen.contains(name) {
                self.error(
                    node.span,
                    "schema",
                    format!("Required property is missing: {name}"),
                );
            }
        }
    }

    fn read_loose_mapping(
        &mut self,
        entries: &[(Node, Node)],
        key_def: DefId,
        value_def: DefId,
        ctx: &Ctx<'_>,
    ) {
        let mut seen = Keys::default();
        for (key, value) in entries {
            let Some(text) = self.read_key(key, value, value_def, ctx) else {
                continue;
            };
            if self.check_duplicate(&mut seen, key, text.clone()) {
                continue;
            }
            self.validate_literal(key, Literal::String(&text), key_def, ctx);
            self.charge(string_bytes(&text), key.span);
            self.read_value(value, value_def, ctx);
        }
    }

    /// Splits a string into literal text and `${{ }}` expressions and checks each expression.
    /// Errors are reported at the start of the string, as GitHub does.
    fn scan(&mut self, raw: &str, span: Span, ctx: &Ctx<'_>) -> Scanned {
        if !contains_open(raw) {
            return Scanned::Literal(None);
        }
        let Some(segments) = self.segments(raw, span, ctx) else {
            return Scanned::Error;
        };
        if let [Segment::Expr(e)] = segments.as_slice() {
            return match string_literal(e) {
                Some(s) => Scanned::Literal(Some(s)),
                // The directive is an insert token: a header, no text.
                None if *e == INSERT => Scanned::Expression(MIN_OBJECT_SIZE),
                None => Scanned::Expression(expression_bytes(utf16_len(e))),
            };
        }
        let length = format_length(&segments);
        if length > MAX_EXPRESSION_LENGTH {
            let message = format!("Exceeded max expression length {MAX_EXPRESSION_LENGTH}");
            self.error(span, "expression", message);
            return Scanned::Error;
        }
        Scanned::Expression(expression_bytes(length))
    }

    /// The text and expression pieces of `raw`, every expression checked; `None` once any
    /// problem was reported (all expressions are still checked, as GitHub does).
    fn segments<'r>(
        &mut self,
        raw: &'r str,
        span: Span,
        ctx: &Ctx<'_>,
    ) -> Option<Vec<Segment<'r>>> {
        let mut segments = Vec::new();
        let mut failed = false;
        let mut i = 0;
        while let Some(found) = raw[i..].find(OPEN) {
            let start = i + found;
            if i < start {
                segments.push(Segment::Text(&raw[i..start]));
            }
            let Some(end) = find_close(raw.as_bytes(), start + OPEN.len()) else {
                self.error(span, "expression", NOT_CLOSED.into());
                return None;
            };
            i = end + 1;
            match self.parse_expression(&raw[start + OPEN.len()..end - 1], span, ctx) {
                Parsed::Error => failed = true,
                // A directive must be the whole value.
                Parsed::Insert if start != 0 || i < raw.len() => {
                    self.error(span, "expression", directive_message("insert"));
                    return None;
                }
                Parsed::Insert => segments.push(Segment::Expr(INSERT)),
                Parsed::Expr(e) => segments.push(Segment::Expr(e)),
            }
        }
        if i < raw.len() {
            segments.push(Segment::Text(&raw[i..]));
        }
        (!failed).then_some(segments)
    }

    fn parse_expression<'r>(&mut self, inner: &'r str, span: Span, ctx: &Ctx<'_>) -> Parsed<'r> {
        let trimmed = inner.trim();
        if trimmed.is_empty() {
            self.error(span, "expression", "An expression was expected".into());
            return Parsed::Error;
        }
        match match_insert(trimmed) {
            Some(Ok(())) => return Parsed::Insert,
            Some(Err(arity)) => {
                self.error(span, "expression", arity.to_string());
                return Parsed::Error;
            }
            None => {}
        }
        if let Some(message) = self.expression_error(trimmed, ctx) {
            self.error(span, "expression", message);
            return Parsed::Error;
        }
        Parsed::Expr(trimmed)
    }
}

/// Keys seen in one mapping, compared case-insensitively as GitHub does (upper-casing both).
/// Mappings are small, so a linear scan beats hashing, and ASCII keys need no copies. Whether a
/// key is ASCII is worked out once, not again for every comparison.
#[derive(Default)]
struct Keys<'n> {
    keys: Vec<(Cow<'n, str>, bool)>,
}

impl<'n> Keys<'n> {
    /// Adds `key`; `false` if it was already there.
    fn insert(&mut self, key: Cow<'n, str>) -> bool {
        if self.contains(&key) {
            return false;
        }
        let ascii = key.is_ascii();
        self.keys.push((key, ascii));
        true
    }

    fn contains(&self, key: &str) -> bool {
        let ascii = key.is_ascii();
        self.keys.iter().any(|(k, k_ascii)| {
            if ascii && *k_ascii {
                k.eq_ignore_ascii_case(key)
            } else {
                k.to_uppercase() == key.to_uppercase()
            }
        })
    }
}

/// Which token GitHub's reader keeps for a validated literal.
enum Accepted {
    /// The literal as written.
    AsIs,
    /// A non-string converted to this string, where only a string fits.
    AsString(String),
}

/// What a literal scalar costs as written.
fn scalar_bytes(node: &Node) -> usize {
    match &node.kind {
        NodeKind::String(s) => string_bytes(s),
        _ => MIN_OBJECT_SIZE,
    }
}

enum Segment<'a> {
    Text(&'a str),
    Expr(&'a str),
}

enum Parsed<'a> {
    Expr(&'a str),
    Insert,
    Error,
}

/// Whether `raw` contains `${{`. Every string scalar is asked, and most have no `$` at all: a
/// search for the one byte (memchr) is cheaper than a substring search's set-up per string.
fn contains_open(raw: &str) -> bool {
    raw.match_indices('$')
        .any(|(i, _)| raw[i..].starts_with(OPEN))
}

/// The literal a scalar node is, for matching.
fn literal_of(node: &Node) -> Literal<'_> {
    match &node.kind {
        NodeKind::Null => Literal::Null,
        NodeKind::Bool(_) => Literal::Bool,
        NodeKind::Number(_) => Literal::Number,
        NodeKind::String(s) => Literal::String(s),
        NodeKind::Seq(_) | NodeKind::Map(_) => Literal::Null,
    }
}

/// The index of the second `}` of the closing `}}`, skipping `'...'` string literals.
fn find_close(bytes: &[u8], from: usize) -> Option<usize> {
    let mut in_string = false;
    for i in from..bytes.len() {
        match bytes[i] {
            b'\'' => in_string = !in_string,
            b'}' if !in_string && bytes[i - 1] == b'}' => return Some(i),
            _ => {}
        }
    }
    None
}

/// `insert` followed by parameters: GitHub's words for the directive's wrong arity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Exactly 0 parameter(s) were expected following the directive 'insert'. Actual parameter count: {0}"
)]
struct InsertArity(usize);

/// `insert` alone is the insert directive; `insert x` is a directive with a wrong arity.
fn match_insert(trimmed: &str) -> Option<Result<(), InsertArity>> {
    let rest = trimmed.strip_prefix("insert")?;
    if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
        return None;
    }
    let params = rest.split_whitespace().count();
    if params == 0 {
        return Some(Ok(()));
    }
    Some(Err(InsertArity(params)))
}

fn directive_message(directive: &str) -> String {
    format!(
        "The directive '{directive}' is not allowed in this context. Directives are not supported for expressions that are embedded within a string. Directives are only supported when the entire value is an expression."
    )
}

/// `'abc'` (with `''` escapes) is a string literal: `${{ 'x' }}` is just the text `x`.
fn string_literal(expr: &str) -> Option<String> {
    let inner = expr.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' && chars.next() != Some('\'') {
            return None;
        }
        out.push(c);
    }
    Some(out)
}

/// The length (UTF-16 units, as GitHub counts) of the `format('...', e1, e2)` expression GitHub
/// builds from a templated string: quotes and braces of the text are doubled, each expression
/// becomes `{N}` in the format (N counts from 0) and `, e` after it.
fn format_length(segments: &[Segment<'_>]) -> usize {
    let mut len = "format('')".len();
    let mut index = 0usize;
    for s in segments {
        match s {
            Segment::Text(t) => {
                len += utf16_len(t)
                    + t.bytes()
                        .filter(|b| matches!(b, b'\'' | b'{' | b'}'))
                        .count();
            }
            Segment::Expr(e) => {
                len += "{}".len() + index.to_string().len() + ", ".len() + utf16_len(e);
                index += 1;
            }
        }
    }
    len
}

/// GitHub's property lookup across candidate mappings: a property known to some of them
/// narrows the candidates to those.
fn match_property_and_filter(
    schema: &Schema,
    defs: &mut Cow<'_, [DefId]>,
    name: &str,
) -> Option<DefId> {
    let prop = |d: DefId| {
        schema
            .mapping(d)
            .and_then(|m| m.properties.get(name))
            .map(|p| p.ty)
    };
    let found = defs.iter().find_map(|&d| prop(d))?;
    // Only copy the candidate list when the property actually narrows it (one candidate that
    // has it, the usual case, needs no second look).
    if defs.len() > 1 && defs.iter().any(|&d| prop(d).is_none()) {
        defs.to_mut().retain(|&d| prop(d).is_some());
    }
    Some(found)
}

/// "There's not enough info...": the properties that tell the remaining candidates apart.
fn ambiguous_message(schema: &Schema, defs: &[DefId], background_steps: bool) -> String {
    let mut counts: indexmap::IndexMap<&str, usize> = indexmap::IndexMap::new();
    for &d in defs {
        if let Some(m) = schema.mapping(d) {
            for name in m.properties.keys() {
                *counts.entry(name.as_str()).or_default() += 1;
            }
        }
    }
    let mut unique: Vec<&str> = counts
        .into_iter()
        .filter(|&(name, n)| {
            n == 1 && (background_steps || !matches!(name, "wait" | "wait-all" | "cancel"))
        })
        .map(|(name, _)| name)
        .collect();
    unique.sort_unstable();
    format!(
        "There's not enough info to determine what you meant. Add one of these properties: {}",
        unique.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_sequence_is_found_after_lone_dollars() {
        assert!(contains_open("${{ x }}"));
        assert!(contains_open("$ $${{ x }}"));
        assert!(!contains_open("$HOME ${ x } $"));
        assert!(!contains_open(""));
    }

    #[test]
    fn closing_braces_inside_string_literals_do_not_close() {
        let raw = b"${{ '}}' }}";
        assert_eq!(find_close(raw, 3), Some(raw.len() - 1));
        assert_eq!(find_close(b"${{ 'a }}", 3), None);
    }

    #[test]
    fn single_quoted_literals_fold_to_text() {
        assert_eq!(string_literal("'it''s'").as_deref(), Some("it's"));
        assert_eq!(string_literal("'a' == 'b'"), None);
        assert_eq!(string_literal("github.ref"), None);
    }

    #[test]
    fn insert_directive_takes_no_parameters() {
        assert_eq!(match_insert("insert"), Some(Ok(())));
        assert_eq!(match_insert("insert x y"), Some(Err(InsertArity(2))));
        assert_eq!(match_insert("inserted"), None);
    }

    #[test]
    fn format_length_counts_escapes() {
        let segments = [Segment::Text("a'{"), Segment::Expr("x")];
        // format('a''{{{0}', x)
        assert_eq!(format_length(&segments), "format('a''{{{0}', x)".len());
    }
}
