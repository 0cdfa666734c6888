//! Strings with embedded `${{ }}` expressions (`run:`, `env` values, names, ...).
//!
//! Scanning follows GitHub's template reader: an expression runs from `${{` to the first `}}`
//! outside a single-quoted string; its text is trimmed before parsing; a value that is exactly one
//! expression yields that expression's value, anything else is the concatenation of the literal
//! text and each expression's string form.

use crate::ast::Span;
use crate::error::{ErrorKind, ExprError, Reason};
use crate::eval::EvalContext;
use crate::number::is_js_space;
use crate::parser::{Expr, ParseOptions, parse};
use crate::value::Value;

const OPEN: &str = "${{";

/// One piece of a template.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// Literal text; `span` is where it came from in the template source.
    Literal { text: String, span: Span },
    /// `${{ expr }}`: `span` covers the braces, `expr_offset` is the byte offset in the template
    /// where the (trimmed) expression text starts, so expression error offsets can be mapped.
    Expression {
        expr: Expr,
        span: Span,
        expr_offset: usize,
    },
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    source: String,
    segments: Vec<Segment>,
}

/// Why a template could not be parsed. Offsets are byte offsets into the template source.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    /// At the offending `${{`.
    #[error(
        "The expression is not closed. An unescaped ${{{{ sequence was found, but the closing }}}} sequence was not found."
    )]
    NotClosed { offset: usize },
    /// `${{ }}` with nothing inside; at its `${{`.
    #[error("An expression was expected")]
    ExpressionExpected { offset: usize },
    /// The expression text starts at `offset`; `error.offset` is relative to that.
    #[error("{error}")]
    Expression { offset: usize, error: ExprError },
}

impl TemplateError {
    /// Byte offset in the template source where the problem is.
    pub fn offset(&self) -> usize {
        match self {
            TemplateError::NotClosed { offset } | TemplateError::ExpressionExpected { offset } => {
                *offset
            }
            TemplateError::Expression { offset, error } => offset + error.offset,
        }
    }
}

impl From<TemplateError> for ExprError {
    fn from(error: TemplateError) -> Self {
        let offset = error.offset();
        match error {
            TemplateError::Expression { error, .. } => ExprError { offset, ..error },
            TemplateError::NotClosed { .. } => ExprError::new(
                ErrorKind::Parsing,
                Reason::TemplateNotClosed,
                error.to_string(),
                offset,
            ),
            TemplateError::ExpressionExpected { .. } => ExprError::new(
                ErrorKind::Parsing,
                Reason::ExpressionExpected,
                error.to_string(),
                offset,
            ),
        }
    }
}

/// Parses a template, stopping at the first error.
pub fn parse_template(source: &str, options: &ParseOptions) -> Result<Template, TemplateError> {
    parse_template_all(source, options).map_err(|mut errors| errors.swap_remove(0))
}

/// Parses a template, reporting every broken expression (the list is never empty on error).
/// An unclosed `${{` ends the scan, as upstream does.
pub fn parse_template_all(
    source: &str,
    options: &ParseOptions,
) -> Result<Template, Vec<TemplateError>> {
    let mut segments = Vec::new();
    let mut errors = Vec::new();
    let mut i = 0;
    let mut next = source.find(OPEN);
    while i < source.len() {
        match next {
            Some(start) if start == i => {
                let Some(end) = find_close(source, start + OPEN.len()) else {
                    errors.push(TemplateError::NotClosed { offset: start });
                    break;
                };
                match parse_segment(source, start, end, options) {
                    Ok(segment) => segments.push(segment),
                    Err(error) => errors.push(error),
                }
                i = end + 1;
                next = source
                    .get(i..)
                    .and_then(|rest| rest.find(OPEN))
                    .map(|p| p + i);
            }
            Some(start) => {
                segments.push(literal(source, i, start));
                i = start;
            }
            None => {
                segments.push(literal(source, i, source.len()));
                i = source.len();
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Template {
        source: source.to_string(),
        segments: fold_string_literal(segments, source),
    })
}

fn literal(source: &str, start: usize, end: usize) -> Segment {
    let text = source.get(start..end).unwrap_or("").to_string();
    Segment::Literal {
        text,
        span: Span::new(start, end),
    }
}

/// Index of the second `}` of the first `}}` outside single quotes, from `from` on.
fn find_close(source: &str, from: usize) -> Option<usize> {
    let bytes = source.as_bytes();
    let mut in_string = false;
    for k in from..bytes.len() {
        match bytes[k] {
            // Toggling on every quote also handles escaped quotes ('') correctly.
            b'\'' => in_string = !in_string,
            b'}' if !in_string && bytes[k - 1] == b'}' => return Some(k),
            _ => {}
        }
    }
    None
}

/// Parses `${{ ... }}` spanning `start..=end`.
fn parse_segment(
    source: &str,
    start: usize,
    end: usize,
    options: &ParseOptions,
) -> Result<Segment, TemplateError> {
    let raw = source.get(start + OPEN.len()..end - 1).unwrap_or("");
    let trimmed = raw.trim_matches(is_js_space);
    if trimmed.is_empty() {
        return Err(TemplateError::ExpressionExpected { offset: start });
    }
    let expr_offset = start + OPEN.len() + (raw.len() - raw.trim_start_matches(is_js_space).len());
    let expr = parse(trimmed, options).map_err(|error| TemplateError::Expression {
        offset: expr_offset,
        error,
    })?;
    Ok(Segment::Expression {
        expr,
        span: Span::new(start, end + 1),
        expr_offset,
    })
}

/// A template that is exactly `${{ 'some text' }}` is the literal text (upstream's escape for
/// writing `${{` literally).
fn fold_string_literal(segments: Vec<Segment>, source: &str) -> Vec<Segment> {
    if let [Segment::Expression { expr, .. }] = segments.as_slice()
        && let Some(text) = string_literal_text(expr.source())
    {
        return vec![Segment::Literal {
            text,
            span: Span::new(0, source.len()),
        }];
    }
    segments
}

/// The value of an expression made only of quoted text (`'a''b'` → `a'b`); `None` otherwise.
fn string_literal_text(expr: &str) -> Option<String> {
    let mut out = String::new();
    let mut in_string = false;
    for (i, c) in expr.char_indices() {
        if c == '\'' {
            in_string = !in_string;
            if in_string && i != 0 {
                out.push(c);
            }
        } else if !in_string {
            return None;
        } else {
            out.push(c);
        }
    }
    Some(out)
}

impl Template {
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The parsed expressions, in order.
    pub fn expressions(&self) -> impl Iterator<Item = &Expr> {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Expression { expr, .. } => Some(expr),
            Segment::Literal { .. } => None,
        })
    }

    /// True when evaluation needs no context (no expressions at all).
    pub fn is_literal(&self) -> bool {
        self.expressions().next().is_none()
    }

    /// The text of a literal template.
    pub fn literal_text(&self) -> Option<String> {
        self.is_literal().then(|| self.concat(|_| String::new()))
    }

    /// A lone `${{ x }}` yields `x`'s value; otherwise every part is coerced to a string and the
    /// parts are joined.
    pub fn evaluate(&self, ctx: &dyn EvalContext) -> Result<Value, ExprError> {
        if let [Segment::Expression { expr, .. }] = self.segments.as_slice() {
            return expr.evaluate(ctx);
        }
        let mut values = Vec::new();
        for expr in self.expressions() {
            values.push(expr.evaluate(ctx)?.to_display_string());
        }
        let mut values = values.into_iter();
        Ok(Value::String(
            self.concat(|_| values.next().unwrap_or_default()),
        ))
    }

    fn concat(&self, mut expression_text: impl FnMut(&Expr) -> String) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal { text, .. } => out.push_str(text),
                Segment::Expression { expr, .. } => out.push_str(&expression_text(expr)),
            }
        }
        out
    }

    /// The equivalent single expression GitHub builds for a mixed template:
    /// `format('literal {0} text', expr0, ...)`; the expression itself for a lone `${{ x }}`;
    /// a quoted string for a literal template.
    pub fn to_expression_source(&self) -> String {
        if let [Segment::Expression { expr, .. }] = self.segments.as_slice() {
            return expr.source().to_string();
        }
        let mut format = String::new();
        let mut args = String::new();
        let mut index = 0;
        for segment in &self.segments {
            match segment {
                Segment::Literal { text, .. } => {
                    format.push_str(
                        &text
                            .replace('\'', "''")
                            .replace('{', "{{")
                            .replace('}', "}}"),
                    );
                }
                Segment::Expression { expr, .. } => {
                    format.push_str(&format!("{{{index}}}"));
                    args.push_str(", ");
                    args.push_str(expr.source());
                    index += 1;
                }
            }
        }
        if index == 0 {
            return format!("'{}'", self.concat(|_| String::new()).replace('\'', "''"));
        }
        format!("format('{format}'{args})")
    }
}
