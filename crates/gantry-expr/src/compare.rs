//! GitHub's loose comparison rules.
//!
//! Like JavaScript's abstract equality, except that strings compare case-insensitively and
//! arrays/objects are never converted to primitives: they are equal only to themselves.
//! Mixed kinds coerce as follows: null and booleans become numbers, then a number meeting a
//! string turns the string into a number. Anything involving NaN is false.

use std::cmp::Ordering;

use crate::ast::CompareOp;
use crate::number::parse_number;
use crate::text::{cmp_ignore_case, eq_ignore_case};
use crate::value::Value;

#[derive(Debug, Clone, Copy)]
enum Operand<'a> {
    Null,
    Bool(bool),
    Number(f64),
    Str(&'a str),
    Array,
    Object,
}

impl<'a> Operand<'a> {
    fn of(value: &'a Value) -> Self {
        match value {
            Value::Null => Operand::Null,
            Value::Bool(b) => Operand::Bool(*b),
            Value::Number(n) => Operand::Number(*n),
            Value::String(s) => Operand::Str(s),
            Value::Array(_) => Operand::Array,
            Value::Object(_) => Operand::Object,
        }
    }

    fn same_kind(self, other: Operand<'_>) -> bool {
        std::mem::discriminant(&self) == std::mem::discriminant(&other)
    }

    fn as_number(self) -> f64 {
        match self {
            Operand::Null => 0.0,
            Operand::Bool(b) => f64::from(u8::from(b)),
            Operand::Number(n) => n,
            Operand::Str(s) => parse_number(s),
            Operand::Array | Operand::Object => f64::NAN,
        }
    }
}

fn coerce<'a>(l: Operand<'a>, r: Operand<'a>) -> (Operand<'a>, Operand<'a>) {
    if l.same_kind(r) {
        return (l, r);
    }
    match (l, r) {
        (Operand::Number(_), Operand::Str(_)) => (l, Operand::Number(r.as_number())),
        (Operand::Str(_), Operand::Number(_)) => (Operand::Number(l.as_number()), r),
        (Operand::Null | Operand::Bool(_), _) => coerce(Operand::Number(l.as_number()), r),
        (_, Operand::Null | Operand::Bool(_)) => coerce(l, Operand::Number(r.as_number())),
        _ => (l, r),
    }
}

/// `l == r`. `same_reference` is asked only when both sides are arrays or both are objects.
pub(crate) fn loose_equals(l: &Value, r: &Value, same_reference: impl FnOnce() -> bool) -> bool {
    match coerce(Operand::of(l), Operand::of(r)) {
        (Operand::Null, Operand::Null) => true,
        (Operand::Number(a), Operand::Number(b)) => a == b,
        (Operand::Str(a), Operand::Str(b)) => eq_ignore_case(a, b),
        (Operand::Bool(a), Operand::Bool(b)) => a == b,
        (Operand::Array, Operand::Array) | (Operand::Object, Operand::Object) => same_reference(),
        _ => false,
    }
}

/// GitHub's loose `==` between values outside an expression (matrix `exclude`/`include`
/// matching, the reader's static checks): the one implementation, so every caller agrees with
/// the evaluator. Arrays and objects are never equal here, as no reference is shared.
pub fn loose_equal(l: &Value, r: &Value) -> bool {
    loose_equals(l, r, || false)
}

/// Ordering for `<` and `>`: `None` when the values are not comparable (mixed kinds after
/// coercion, NaN, arrays, objects).
fn loose_order(l: &Value, r: &Value) -> Option<Ordering> {
    match coerce(Operand::of(l), Operand::of(r)) {
        (Operand::Number(a), Operand::Number(b)) => a.partial_cmp(&b),
        (Operand::Str(a), Operand::Str(b)) => Some(cmp_ignore_case(a, b)),
        (Operand::Bool(a), Operand::Bool(b)) => Some(a.cmp(&b)),
        _ => None,
    }
}

/// Applies a comparison operator. `<=`/`>=` are "equal or less/greater", as upstream defines them.
pub(crate) fn compare(
    op: CompareOp,
    l: &Value,
    r: &Value,
    same_reference: impl FnOnce() -> bool,
) -> bool {
    let order = || loose_order(l, r);
    match op {
        CompareOp::Equal => loose_equals(l, r, same_reference),
        CompareOp::NotEqual => !loose_equals(l, r, same_reference),
        CompareOp::Less => order() == Some(Ordering::Less),
        CompareOp::Greater => order() == Some(Ordering::Greater),
        CompareOp::LessEqual => {
            loose_equals(l, r, same_reference) || order() == Some(Ordering::Less)
        }
        CompareOp::GreaterEqual => {
            loose_equals(l, r, same_reference) || order() == Some(Ordering::Greater)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(l: Value, r: Value) -> bool {
        loose_equals(&l, &r, || false)
    }

    #[test]
    fn coercions_follow_upstream() {
        assert!(eq(Value::Null, Value::from("")));
        assert!(eq(Value::Null, Value::from("0")));
        assert!(!eq(Value::from("false"), Value::Null));
        assert!(eq(Value::Bool(true), Value::from(" 1.0 ")));
        assert!(!eq(Value::Number(f64::NAN), Value::Number(f64::NAN)));
        assert!(!eq(Value::Bool(false), Value::Array(vec![])));
        assert!(eq(Value::from("abc"), Value::from("ABC")));
    }

    #[test]
    fn booleans_order_false_before_true() {
        let t = Value::Bool(true);
        let f = Value::Bool(false);
        assert!(compare(CompareOp::Less, &f, &t, || false));
        assert!(!compare(CompareOp::Greater, &f, &t, || false));
        assert!(compare(CompareOp::GreaterEqual, &t, &t, || false));
    }
}
