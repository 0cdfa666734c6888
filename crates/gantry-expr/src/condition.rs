//! `if:` conditions.
//!
//! GitHub's rules: the surrounding `${{ }}` is optional; an empty condition means `success()`;
//! a condition that calls none of the status functions behaves as `success() && (<cond>)`.
//! Status functions are always allowed in conditions.

use crate::ast::NodeKind;
use crate::error::ExprError;
use crate::number::is_js_space;
use crate::parser::{Expr, ParseOptions, STATUS_FUNCTIONS, parse};
use crate::template::parse_template;

/// Parses an `if:` value into the expression GitHub evaluates.
///
/// Errors in the user's condition are reported against the condition text (without the implicit
/// wrapping), as upstream does.
pub fn parse_condition(source: &str, options: &ParseOptions) -> Result<Expr, ExprError> {
    let options = options.clone().status_functions();
    let condition = condition_text(source, &options)?;
    if condition.is_empty() {
        return parse("success()", &options);
    }
    let expr = parse(&condition, &options)?;
    if condition_uses_status_function(&expr) {
        return Ok(expr);
    }
    parse(&format!("success() && ({condition})"), &options)
}

/// Whether the expression calls `success`, `failure`, `always` or `cancelled` anywhere.
pub fn condition_uses_status_function(expr: &Expr) -> bool {
    let mut found = false;
    expr.root().walk(&mut |node| {
        if let NodeKind::Call { name, .. } = &node.kind {
            found |= STATUS_FUNCTIONS
                .iter()
                .any(|s| s.eq_ignore_ascii_case(name));
        }
    });
    found
}

/// The condition's expression text: the inside of a lone `${{ }}`, the equivalent `format(...)`
/// for text mixed with expressions (always truthy, like on GitHub), or the trimmed value.
fn condition_text(source: &str, options: &ParseOptions) -> Result<String, ExprError> {
    let trimmed = source.trim_matches(is_js_space);
    if !trimmed.contains("${{") {
        return Ok(trimmed.to_string());
    }
    let template = parse_template(trimmed, options)?;
    if let Some(text) = template.literal_text() {
        // `${{ 'text' }}` folds to a literal, which GitHub then reads as an expression.
        return Ok(text.trim_matches(is_js_space).to_string());
    }
    Ok(template.to_expression_source())
}
