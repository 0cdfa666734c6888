//! GitHub Actions `${{ }}` expressions: lexer, parser and evaluator, with GitHub's exact
//! semantics and error messages (checked against GitHub's own test vectors). No I/O.
//!
//! - [`parse`] one expression (the text inside `${{ }}`) with [`ParseOptions`] naming the allowed
//!   contexts and extra functions, then [`evaluate`] it against an [`EvalContext`].
//! - [`parse_template`] for strings with embedded `${{ }}` (`run:`, `env:` values, names).
//! - [`parse_condition`] for `if:` values (optional `${{ }}`, implicit `success() && (...)`).
//! - [`Value`] is the data model, with GitHub's coercions ([`Value::to_display_string`],
//!   [`Value::is_truthy`], [`Value::to_number`]) and `toJSON` output ([`Value::to_json_pretty`]).
//! - Errors ([`ExprError`], [`TemplateError`]) carry upstream's exact messages and byte offsets.
//!
//! ```
//! use gantry_expr::{parse, evaluate, EvalContext, ParseOptions, Value};
//!
//! struct Ctx;
//! impl EvalContext for Ctx {
//!     fn named_value(&self, name: &str) -> Option<Value> {
//!         name.eq_ignore_ascii_case("github")
//!             .then(|| Value::from(serde_json::json!({"ref": "refs/heads/main"})))
//!     }
//! }
//!
//! let options = ParseOptions::new().named_value("github");
//! let expr = parse("startsWith(github.ref, 'refs/heads/')", &options).unwrap();
//! assert_eq!(evaluate(&expr, &Ctx).unwrap(), Value::Bool(true));
//! ```

mod ast;
mod compare;
mod condition;
mod error;
mod eval;
mod functions;
mod lexer;
mod memory;
mod number;
mod parser;
mod refs;
mod template;
mod text;
mod value;

pub use ast::{Accessor, CompareOp, LogicalOp, Node, NodeKind, Span};
pub use compare::loose_equal;
pub use condition::{condition_uses_status_function, parse_condition};
pub use error::{ErrorKind, ExprError, MAX_DEPTH, MAX_LENGTH, MAX_MEMORY, Reason};
pub use eval::{EvalContext, evaluate};
pub use number::{format_number, parse_number};
pub use parser::{Expr, FunctionCallRef, ParseOptions, STATUS_FUNCTIONS, parse};
pub use refs::{PathPart, Reference};
pub use template::{Segment, Template, TemplateError, parse_template, parse_template_all};
pub use value::{Value, ValueKind};
