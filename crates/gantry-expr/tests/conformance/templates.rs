//! Templates: strings with embedded `${{ }}`.

use gantry_expr::{
    ParseOptions, Segment, Span, TemplateError, Value, parse_template, parse_template_all,
};
use serde_json::json;

use crate::support::JsonContext;

fn options() -> ParseOptions {
    ParseOptions::new()
        .named_value("github")
        .named_value("matrix")
}

fn ctx() -> JsonContext {
    JsonContext::from_json(&json!({
        "github": {"ref": "refs/heads/main", "run_number": 42, "event": {"labels": ["a", "b"]}},
        "matrix": {"os": "ubuntu-latest", "node": 20.5}
    }))
}

fn render(source: &str) -> Value {
    parse_template(source, &options())
        .unwrap()
        .evaluate(&ctx())
        .unwrap()
}

#[test]
fn text_without_expressions_is_literal() {
    let template = parse_template("echo hello {{ not an expression }}", &options()).unwrap();
    assert!(template.is_literal());
    assert_eq!(
        template.literal_text().as_deref(),
        Some("echo hello {{ not an expression }}")
    );
    assert_eq!(
        template.evaluate(&ctx()).unwrap(),
        Value::from("echo hello {{ not an expression }}")
    );
    assert_eq!(render(""), Value::from(""));
}

#[test]
fn a_lone_expression_keeps_its_value() {
    assert_eq!(render("${{ github.run_number }}"), Value::Number(42.0));
    assert_eq!(
        render("${{github.event.labels}}"),
        Value::from(vec![Value::from("a"), Value::from("b")])
    );
    assert_eq!(render("${{ matrix.missing }}"), Value::Null);
}

#[test]
fn mixed_text_coerces_every_part_to_a_string() {
    assert_eq!(
        render("run ${{ github.run_number }} on ${{ matrix.os }}"),
        Value::from("run 42 on ubuntu-latest")
    );
    assert_eq!(
        render("${{ matrix.node }}-${{ true }}-${{ null }}."),
        Value::from("20.5-true-.")
    );
    assert_eq!(
        render("labels=${{ github.event.labels }}"),
        Value::from("labels=Array")
    );
}

#[test]
fn closing_braces_inside_strings_do_not_end_the_expression() {
    assert_eq!(
        render("a ${{ format('{0}}}', 'x') }} b"),
        Value::from("a x} b")
    );
    assert_eq!(
        render("${{ 'it''s }} here' }}!"),
        Value::from("it's }} here!")
    );
}

#[test]
fn a_lone_string_literal_folds_to_literal_text() {
    let template = parse_template("${{ '${{ not evaluated }}' }}", &options()).unwrap();
    assert!(template.is_literal());
    assert_eq!(
        template.literal_text().as_deref(),
        Some("${{ not evaluated }}")
    );
}

#[test]
fn segments_carry_byte_offsets() {
    let template = parse_template("é ${{ matrix.os }}!", &options()).unwrap();
    let segments = template.segments();
    assert!(
        matches!(&segments[0], Segment::Literal { text, span } if text == "é " && *span == Span::new(0, 3))
    );
    match &segments[1] {
        Segment::Expression {
            expr,
            span,
            expr_offset,
        } => {
            assert_eq!(expr.source(), "matrix.os");
            assert_eq!(*span, Span::new(3, 19));
            assert_eq!(
                &template.source()[*expr_offset..*expr_offset + 9],
                "matrix.os"
            );
        }
        other => panic!("expected an expression, got {other:?}"),
    }
    assert!(matches!(&segments[2], Segment::Literal { text, .. } if text == "!"));
}

#[test]
fn unclosed_expression_is_reported_at_its_opening() {
    let err = parse_template("ok ${{ github.ref }} then ${{ oops", &options()).unwrap_err();
    assert_eq!(err, TemplateError::NotClosed { offset: 26 });
    assert_eq!(
        err.to_string(),
        "The expression is not closed. An unescaped ${{ sequence was found, but the closing }} sequence was not found."
    );
}

#[test]
fn empty_expression_is_reported() {
    let err = parse_template("a ${{  }} b", &options()).unwrap_err();
    assert_eq!(err, TemplateError::ExpressionExpected { offset: 2 });
    assert_eq!(err.to_string(), "An expression was expected");
}

#[test]
fn expression_errors_keep_upstream_messages_and_map_offsets() {
    let err = parse_template("x ${{  secrets.TOKEN }}", &options()).unwrap_err();
    let TemplateError::Expression { offset, error } = &err else {
        panic!("expected an expression error: {err:?}")
    };
    assert_eq!(*offset, 7);
    assert_eq!(
        error.message,
        "Unrecognized named-value: 'secrets'. Located at position 1 within expression: secrets.TOKEN"
    );
    assert_eq!(err.offset(), 7);
}

#[test]
fn all_broken_expressions_are_reported_in_one_pass() {
    let errors =
        parse_template_all("${{ a }} ${{ }} ${{ matrix.os }} ${{ b(", &options()).unwrap_err();
    let offsets: Vec<usize> = errors.iter().map(TemplateError::offset).collect();
    assert_eq!(offsets, [4, 9, 33]);
    assert!(matches!(errors[2], TemplateError::NotClosed { .. }));
}

#[test]
fn mixed_templates_convert_to_the_format_expression_github_builds() {
    let template = parse_template("a'{ ${{ matrix.os }} }", &options()).unwrap();
    assert_eq!(
        template.to_expression_source(),
        "format('a''{{ {0} }}', matrix.os)"
    );
}
