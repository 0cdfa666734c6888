//! `if:` conditions: optional `${{ }}`, implicit `success() && (...)`.

use gantry_expr::{
    ErrorKind, ParseOptions, Value, condition_uses_status_function, parse_condition,
};
use serde_json::json;

use crate::support::JsonContext;

fn options() -> ParseOptions {
    ParseOptions::new().named_value("github")
}

/// A context where the job status is `status` (`success`, `failure` or `cancelled`).
fn ctx(status: &'static str) -> JsonContext {
    let mut ctx = JsonContext::from_json(
        &json!({"github": {"ref": "refs/heads/main", "event_name": "push"}}),
    );
    ctx.status = Some(status);
    ctx
}

fn source_of(condition: &str) -> String {
    parse_condition(condition, &options())
        .unwrap()
        .source()
        .to_string()
}

fn run(condition: &str, status: &'static str) -> bool {
    parse_condition(condition, &options())
        .unwrap()
        .evaluate(&ctx(status))
        .unwrap()
        .is_truthy()
}

#[test]
fn empty_condition_means_success() {
    assert_eq!(source_of(""), "success()");
    assert_eq!(source_of("   "), "success()");
    assert!(run("", "success"));
    assert!(!run("", "failure"));
}

#[test]
fn conditions_without_status_functions_are_wrapped() {
    assert_eq!(
        source_of("github.ref == 'refs/heads/main'"),
        "success() && (github.ref == 'refs/heads/main')"
    );
    assert!(run("github.ref == 'refs/heads/main'", "success"));
    assert!(!run("github.ref == 'refs/heads/main'", "failure"));
    assert!(!run("github.ref == 'refs/heads/dev'", "success"));
}

#[test]
fn status_functions_are_detected_anywhere_case_insensitively() {
    assert_eq!(source_of("Always()"), "Always()");
    assert_eq!(
        source_of("failure() || github.event_name == 'push'"),
        "failure() || github.event_name == 'push'"
    );
    assert_eq!(
        source_of("!cancelled() && github.ref"),
        "!cancelled() && github.ref"
    );
    assert!(run("always()", "failure"));
    assert!(run("failure()", "failure"));
    // A status function's name inside a string literal does not count.
    assert_eq!(
        source_of("contains('success()', github.ref)"),
        "success() && (contains('success()', github.ref))"
    );
}

#[test]
fn surrounding_expression_braces_are_optional() {
    assert_eq!(
        source_of("${{ github.event_name == 'push' }}"),
        "success() && (github.event_name == 'push')"
    );
    assert_eq!(source_of("  ${{ always() }}  "), "always()");
    assert!(run("${{ github.event_name == 'push' }}", "success"));
}

#[test]
fn text_mixed_with_expressions_becomes_an_always_truthy_format() {
    let source = source_of("${{ github.event_name }} == 'pull_request'");
    assert_eq!(
        source,
        "success() && (format('{0} == ''pull_request''', github.event_name))"
    );
    assert!(run("${{ github.event_name }} == 'pull_request'", "success"));
}

#[test]
fn errors_point_into_the_condition_as_written() {
    let err = parse_condition("github.ref ==", &options()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Parsing);
    assert_eq!(
        err.message,
        "Unexpected end of expression: '=='. Located at position 12 within expression: github.ref =="
    );
    let err = parse_condition("${{ env.X }}", &options()).unwrap_err();
    assert!(
        err.message
            .starts_with("Unrecognized named-value: 'env'. Located at position 1"),
        "{}",
        err.message
    );
    assert_eq!(err.offset, 4);
}

#[test]
fn status_detection_is_available_for_validators() {
    let opts = options().status_functions();
    let expr = gantry_expr::parse("success() && github.ref", &opts).unwrap();
    assert!(condition_uses_status_function(&expr));
    let expr = gantry_expr::parse("github.ref", &opts).unwrap();
    assert!(!condition_uses_status_function(&expr));
}

#[test]
fn wrapped_condition_returns_the_user_value_when_successful() {
    let expr = parse_condition("github.event_name", &options()).unwrap();
    assert_eq!(expr.evaluate(&ctx("success")).unwrap(), Value::from("push"));
}

#[test]
fn declared_status_function_arities_are_kept() {
    let job_if = options()
        .allowed_context("success(0,MAX)")
        .allowed_context("failure(0,MAX)");
    let expr = parse_condition("${{ success('build', 'build2') }}", &job_if).unwrap();
    assert_eq!(expr.source(), "success('build', 'build2')");
    let err = parse_condition("success('build')", &options()).unwrap_err();
    assert!(
        err.message
            .starts_with("Too many parameters supplied: 'success'"),
        "{}",
        err.message
    );
}

#[test]
fn literal_and_nested_conditions_follow_github() {
    assert_eq!(source_of("true"), "success() && (true)");
    assert_eq!(source_of("123 || failure()"), "123 || failure()");
    assert_eq!(source_of("${{ 0 || 1 }}"), "success() && (0 || 1)");
    assert_eq!(
        source_of("false || (always() && true)"),
        "false || (always() && true)"
    );
    assert_eq!(
        source_of("fromJson(toJSON(success()))"),
        "fromJson(toJSON(success()))"
    );
    assert_eq!(
        source_of("${{ true || 'success()' }}"),
        "success() && (true || 'success()')"
    );
    assert_eq!(
        source_of("${{  toJSON( github.ref) }}"),
        "success() && (toJSON( github.ref))"
    );
}

#[test]
fn unterminated_strings_are_reported_against_the_condition() {
    let source = "(github.ref != 'a' || github.ref != 'b) && success()";
    let err = parse_condition(source, &options()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Lexing);
    assert_eq!(
        err.message,
        format!(
            "Unexpected symbol: ''b) && success()'. Located at position 37 within expression: {source}"
        )
    );
}
