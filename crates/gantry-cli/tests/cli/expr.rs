//! `gantry expr`.

use crate::test::Test;

#[test]
fn literals_and_functions_need_no_context() {
    Test::new()
        .args(["expr", "format('{0}-{1}', 'a', 1 == 1.0)"])
        .stdout("\"a-true\"\n")
        .run();
}

#[test]
fn objects_and_arrays_print_as_pretty_json() {
    Test::new()
        .args(["expr", "fromJSON('{\"a\": [1, 2.5, null], \"b\": {}}')"])
        .stdout(
            r#"
            {
              "a": [
                1,
                2.5,
                null
              ],
              "b": {}
            }
            "#,
        )
        .run();
}

#[test]
fn contexts_come_from_the_context_file() {
    Test::new()
        .file(
            "ctx.json",
            r#"{"matrix": {"os": "linux"}, "env": {"CI": "true"}}"#,
        )
        .args([
            "expr",
            "--context",
            "ctx.json",
            "format('{0}/{1}', matrix.os, env.CI)",
        ])
        .stdout("\"linux/true\"\n")
        .run();
}

#[test]
fn event_payload_and_name_fill_the_github_context() {
    Test::new()
        .file(
            "ctx.json",
            r#"{"github": {"ref": "refs/heads/main", "event_name": "x"}}"#,
        )
        .file(
            "event.json",
            r#"{"action": "published", "release": {"tag_name": "v1.2.3"}}"#,
        )
        .args([
            "expr",
            "--context",
            "ctx.json",
            "--event",
            "event.json",
            "--event-name",
            "release",
            "join(github.*, ' ')",
        ])
        .stdout(
            r#"
                "refs/heads/main release Object"
            "#,
        )
        .run();
}

#[test]
fn event_flags_have_env_twins() {
    Test::new()
        .file("event.json", r#"{"release": {"tag_name": "v1.2.3"}}"#)
        .env("GANTRY_EVENT", "event.json")
        .env("GANTRY_EVENT_NAME", "release")
        .args([
            "expr",
            "format('{0} {1}', github.event_name, github.event.release.tag_name)",
        ])
        .stdout("\"release v1.2.3\"\n")
        .run();
}

#[test]
fn parse_error_points_at_the_position() {
    Test::new()
        .args(["expr", "1 == (2"])
        .stderr(r#"
                error: Unexpected end of expression: '2'. Located at position 7 within expression: 1 == (2
                  |
                1 | 1 == (2
                  |       ^
            "#)
        .status(1)
        .run();
}

#[test]
fn evaluation_error_points_at_the_position() {
    Test::new()
        .args(["expr", "fromJSON('{nope')"])
        .stderr(r#"
                error: Error parsing JSON when evaluating fromJson: key must be a string at line 1 column 2
                  |
                1 | fromJSON('{nope')
                  | ^^^^^^^^^^^^^^^^^
            "#)
        .status(1)
        .run();
}

#[test]
fn unknown_named_value_lists_the_available_ones() {
    Test::new()
        .file("ctx.json", r#"{"env": {}, "matrix": {}}"#)
        .args(["expr", "--context", "ctx.json", "1 == 1 && secrets.TOKEN"])
        .stderr(r#"
                error: Unrecognized named-value: 'secrets'. Located at position 11 within expression: 1 == 1 && secrets.TOKEN
                  |
                1 | 1 == 1 && secrets.TOKEN
                  |           ^
                help: available named values: env, matrix
            "#)
        .status(1)
        .run();
}

#[test]
fn unknown_named_value_without_any_context() {
    Test::new()
        .args(["expr", "github.sha"])
        .stderr(r#"
                error: Unrecognized named-value: 'github'. Located at position 1 within expression: github.sha
                  |
                1 | github.sha
                  | ^
                help: no contexts are available; pass them with --context FILE.json or --event PAYLOAD.json
            "#)
        .status(1)
        .run();
}

#[test]
fn context_file_must_be_an_object() {
    Test::new()
        .file("ctx.json", "[1]")
        .args(["expr", "--context", "ctx.json", "1"])
        .stderr("error: `ctx.json` must hold a JSON object whose keys are context names\n")
        .status(2)
        .run();
}

#[test]
fn invalid_json_and_missing_files_are_io_errors() {
    Test::new()
        .file("event.json", "{")
        .args(["expr", "--event", "event.json", "1"])
        .stderr("error: `event.json` is not valid JSON: EOF while parsing an object at line 1 column 1\n")
        .status(2)
        .run();
    Test::new()
        .args(["expr", "--context", "missing.json", "1"])
        .stderr("error: cannot read `missing.json`: No such file or directory (os error 2)\n")
        .status(2)
        .run();
}

#[test]
fn event_name_replaces_a_github_context_that_is_not_an_object() {
    Test::new()
        .file("ctx.json", r#"{"github": "not an object"}"#)
        .args([
            "expr",
            "--context",
            "ctx.json",
            "--event-name",
            "push",
            "github",
        ])
        .stdout(
            r#"
            {
              "event_name": "push"
            }
            "#,
        )
        .run();
}
