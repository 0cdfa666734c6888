//! Global options, usage errors and exit statuses.

use crate::test::Test;

#[test]
fn unknown_flag_is_a_usage_error() {
    Test::new()
        .args(["validate", "--frobnicate"])
        .stderr(
            r#"
            error: unexpected argument '--frobnicate' found

              tip: a similar argument exists: '--format'

            Usage: gantry validate --format <FORMAT> [PATHS]...

            For more information, try '--help'.
        "#,
        )
        .status(2)
        .run();
}

#[test]
fn missing_subcommand_is_a_usage_error() {
    Test::new()
        .stderr(
            r#"
            error: 'gantry' requires a subcommand but one was not provided
              [subcommands: validate, list, graph, expr, run, clean, packages, actions, artifacts, cache, daemon, help]

            Usage: gantry [OPTIONS] <COMMAND>

            For more information, try '--help'.
        "#,
        )
        .status(2)
        .run();
}

#[test]
fn invalid_format_value_is_a_usage_error() {
    Test::new()
        .args(["graph", "--format", "png"])
        .stderr(
            r#"
            error: invalid value 'png' for '--format <FORMAT>'
              [possible values: text, dot, mermaid]

            For more information, try '--help'.
        "#,
        )
        .status(2)
        .run();
}

#[test]
fn help_exits_zero() {
    let out = Test::new().args(["validate", "--help"]).output();
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn version_exits_zero() {
    Test::new()
        .args(["--version"])
        .stdout("gantry 0.1.0\n")
        .run();
}

#[test]
fn color_always_styles_the_report() {
    Test::new()
        .no_color_flag()
        .file("ci.yml", "on: pusj\njobs:\n  a:\n    runs-on: x\n    steps: [{run: x}]\n")
        .args(["--color", "always", "validate", "ci.yml"])
        .stdout("\u{1b}[1mci.yml:1:5:\u{1b}[0m \u{1b}[1m\u{1b}[91merror\u{1b}[0m: \u{1b}[1mUnknown event 'pusj'.\u{1b}[0m \u{1b}[2m[event]\u{1b}[0m\n  \u{1b}[1m\u{1b}[94m|\u{1b}[0m\n\u{1b}[1m\u{1b}[94m1\u{1b}[0m \u{1b}[1m\u{1b}[94m|\u{1b}[0m on: pusj\n  \u{1b}[1m\u{1b}[94m|\u{1b}[0m     \u{1b}[1m\u{1b}[91m^^^^\u{1b}[0m\n\n1 file checked: \u{1b}[1m\u{1b}[91m1 error\u{1b}[0m\n")
        .status(1)
        .run();
}

#[test]
fn color_env_twin() {
    Test::new()
        .no_color_flag()
        .env("GANTRY_COLOR", "always")
        .args(["expr", "1 =="])
        .stderr("\u{1b}[1m\u{1b}[91merror\u{1b}[0m\u{1b}[1m: Unexpected end of expression: '=='. Located at position 3 within expression: 1 ==\u{1b}[0m\n  \u{1b}[1m\u{1b}[94m|\u{1b}[0m\n\u{1b}[1m\u{1b}[94m1\u{1b}[0m \u{1b}[1m\u{1b}[94m|\u{1b}[0m 1 ==\n  \u{1b}[1m\u{1b}[94m|\u{1b}[0m   \u{1b}[1m\u{1b}[91m^\u{1b}[0m\n")
        .status(1)
        .run();
}

#[test]
fn no_color_turns_auto_off() {
    Test::new()
        .no_color_flag()
        .env("NO_COLOR", "1")
        .args(["expr", "1 =="])
        .stderr(r#"
                error: Unexpected end of expression: '=='. Located at position 3 within expression: 1 ==
                  |
                1 | 1 ==
                  |   ^
            "#)
        .status(1)
        .run();
}

#[test]
fn invalid_log_filter_is_a_usage_error() {
    Test::new()
        .env("GANTRY_LOG", "gantry=notalevel")
        .args(["expr", "1"])
        .stderr(r#"
                error: invalid GANTRY_LOG filter: error parsing level filter: expected one of "off", "error", "warn", "info", "debug", "trace", or a number 0-5
            "#)
        .status(2)
        .run();
}

#[test]
fn debug_logs_go_to_stderr() {
    let out = Test::new()
        .file(
            ".github/workflows/ci.yml",
            "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: x}]\n",
        )
        .env("GANTRY_LOG", "gantry=debug")
        .args(["validate"])
        .output();
    assert_eq!(out.stdout, "1 file checked: no problems found\n");
    assert!(
        out.stderr
            .contains("DEBUG gantry::commands::validate: validating files=1"),
        "{}",
        out.stderr
    );
}
