//! Properties: no input makes the lexer, parser or evaluator panic or overflow the stack, and
//! the limits (depth, length, memory) hold.

use gantry_expr::{
    ErrorKind, EvalContext, ParseOptions, Value, evaluate, parse, parse_condition, parse_template,
};
use proptest::prelude::*;
use serde_json::json;

/// Answers every named value with the same nested object, so deep accessors have data to walk.
struct AnyContext(Value);

impl AnyContext {
    fn new() -> Self {
        AnyContext(Value::from(json!({
            "a": [1, "two", {"b": [true, null, {"c": "deep"}]}],
            "b": {"x": 1.5, "y": "Y", "z": [[], {}]},
            "s": "string", "n": -0.0
        })))
    }
}

impl EvalContext for AnyContext {
    fn named_value(&self, _name: &str) -> Option<Value> {
        Some(self.0.clone())
    }
}

/// Parses and evaluates `source` permissively; the outcome does not matter, only that it returns.
fn exercise(source: &str) {
    let ctx = AnyContext::new();
    let options = ParseOptions::permissive();
    if let Ok(expr) = parse(source, &options) {
        let _ = evaluate(&expr, &ctx);
    }
    if let Ok(template) = parse_template(source, &options) {
        let _ = template.evaluate(&ctx);
    }
    if let Ok(expr) = parse_condition(source, &options) {
        let _ = evaluate(&expr, &ctx);
    }
}

/// Fragments that combine into mostly well-formed expressions.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("(".to_string()),
        Just(")".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("!".to_string()),
        Just(" && ".to_string()),
        Just(" || ".to_string()),
        Just(" == ".to_string()),
        Just(" < ".to_string()),
        Just(".".to_string()),
        Just("*".to_string()),
        Just(",".to_string()),
        Just("${{ ".to_string()),
        Just(" }}".to_string()),
        "[a-z]{1,3}",
        "[0-9.eExo+-]{1,4}",
        "'[^']{0,4}'",
        prop::sample::select(vec![
            "format(",
            "join(",
            "tojson(",
            "fromjson(",
            "contains(",
            "case(",
            "success()"
        ])
        .prop_map(str::to_string),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(source in "\\PC{0,120}") {
        exercise(&source);
    }

    /// Any bytes at all (as a workflow file's bytes reach the reader: decoded lossily), with
    /// control characters, NULs and broken UTF-8 that `\\PC` never produces.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn expression_like_text_never_panics(parts in prop::collection::vec(fragment(), 0..40)) {
        exercise(&parts.concat());
    }

    #[test]
    fn deep_nesting_is_rejected_not_overflowed(
        depth in 0usize..5000,
        kind in 0usize..6,
    ) {
        let source = match kind {
            0 => format!("{}1{}", "(".repeat(depth), ")".repeat(depth)),
            1 => format!("{}true", "!".repeat(depth)),
            2 => format!("a{}", ".b".repeat(depth)),
            3 => format!("{}1{}", "format(".repeat(depth), ")".repeat(depth)),
            4 => format!("a{}", "[0]".repeat(depth)),
            _ => format!("{}1{}", "a[".repeat(depth), "]".repeat(depth)),
        };
        let outcome = parse(&source, &ParseOptions::permissive());
        if depth > 60 {
            let err = outcome.unwrap_err();
            prop_assert!(
                err.message.contains("Exceeded max expression depth 50")
                    || err.message.contains("Exceeded max expression length 21000"),
                "{}", err.message
            );
        }
        exercise(&source);
    }
}

#[test]
fn long_operator_chains_evaluate_without_recursion() {
    let source = vec!["1"; 4000].join(" == ");
    let expr = parse(&source, &ParseOptions::new()).unwrap();
    // ((1 == 1) == 1) == ... : true == 1 stays true.
    assert_eq!(
        evaluate(&expr, &AnyContext::new()).unwrap(),
        Value::Bool(true)
    );
    let source = vec!["x"; 4000].join(" && ");
    let expr = parse(&source, &ParseOptions::new().named_value("x")).unwrap();
    assert!(evaluate(&expr, &AnyContext::new()).unwrap().is_truthy());
}

#[test]
fn overlong_expressions_are_rejected() {
    let source = format!("'{}'", "a".repeat(21_000));
    let err = parse(&source, &ParseOptions::new()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Lexing);
    assert_eq!(err.message, "Exceeded max expression length 21000");
    assert!(parse(&format!("'{}'", "a".repeat(20_998)), &ParseOptions::new()).is_ok());
}

#[test]
fn huge_results_hit_the_memory_limit_before_being_built() {
    // 6000 references to a 100 KB string would be 600 MB of output.
    let source = format!(
        "format('{}', format('{{0}}', fromJSON('\"{}\"')))",
        "{0}".repeat(6000),
        "x".repeat(100)
    );
    let source = source.replace(
        &format!("fromJSON('\"{}\"')", "x".repeat(100)),
        &format!(
            "join(fromJSON('[{}]'), '{}')",
            vec!["0"; 1000].join(","),
            "y".repeat(100)
        ),
    );
    let err = parse(&source, &ParseOptions::new())
        .and_then(|e| evaluate(&e, &AnyContext::new()))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Evaluation);
    assert!(
        err.message.starts_with("The maximum allowed memory size was exceeded while evaluating the following expression: format("),
        "{}",
        err.message
    );
}

#[test]
fn memory_is_released_when_a_call_finishes() {
    // tojson(github) is about 10 KB, so each 40-fold format is about 800 KB in UTF-16.
    let github = serde_json::json!({ "payload": "p".repeat(9_800) });
    let ctx = crate::support::JsonContext::from_json(&serde_json::json!({ "github": github }));
    let options = ParseOptions::new().named_value("github");
    let big = format!("format('{}', tojson(github))", "{0}".repeat(40));
    let run = |source: &str| parse(source, &options).and_then(|expr| evaluate(&expr, &ctx));
    // One such string at a time fits, even several in sequence.
    assert_eq!(
        run(&format!("startsWith({big}, 'x')")),
        Ok(Value::Bool(false))
    );
    assert_eq!(
        run(&format!(
            "startsWith({big}, 'x') || endsWith({big}, 'p\"\n}}')"
        )),
        Ok(Value::Bool(true))
    );
    // Two alive at once (both arguments of one call) do not.
    let err = run(&format!("startsWith({big}, {big})")).unwrap_err();
    assert!(
        err.message
            .starts_with("The maximum allowed memory size was exceeded"),
        "{}",
        err.message
    );
}
