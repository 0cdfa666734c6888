//! `gantry validate`.

use crate::test::Test;

const CLEAN: &str = "
    on: push
    jobs:
      build:
        runs-on: ubuntu-latest
        steps:
          - run: echo hi
";

/// Problems all over one file: an unknown event, a malformed `uses` and an unknown need.
const BROKEN: &str = "
    on: [push, pusj]
    jobs:
      build:
        runs-on: ubuntu-latest
        steps:
          - uses: actions/checkout
      test:
        needs: [biuld]
        runs-on: ubuntu-latest
        steps:
          - run: echo hi
";

const ACTION: &str = "
    name: hello
    description: says hello
    runs:
      using: composite
      steps:
        - run: echo hello
          shell: bash
";

const BROKEN_ACTION: &str = "
    name: hello
    runs:
      using: node20
";

#[test]
fn clean_workflow_passes() {
    Test::new()
        .file(".github/workflows/ci.yml", CLEAN)
        .args(["validate"])
        .stdout("1 file checked: no problems found\n")
        .run();
}

#[test]
fn every_problem_in_a_file_is_reported_with_its_line() {
    Test::new()
        .file(".github/workflows/ci.yml", BROKEN)
        .args(["validate"])
        .stdout(
            "
            .github/workflows/ci.yml:1:12: error: Unknown event 'pusj'. [event]
              |
            1 | on: [push, pusj]
              |            ^^^^

            .github/workflows/ci.yml:6:15: error: Expected format {org}/{repo}[/path]@ref. Actual 'actions/checkout' [uses]
              |
            6 |       - uses: actions/checkout
              |               ^^^^^^^^^^^^^^^^

            .github/workflows/ci.yml:8:13: error: Job 'test' depends on unknown job 'biuld'. [needs]
              |
            8 |     needs: [biuld]
              |             ^^^^^

            1 file checked: 3 errors
            ",
        )
        .status(1)
        .run();
}

#[test]
fn default_paths_take_workflows_and_local_actions() {
    Test::new()
        .file(".github/workflows/ci.yml", CLEAN)
        .file(".github/workflows/release.yaml", CLEAN)
        .file(".github/workflows/notes.txt", "not yaml: [")
        .file(".github/workflows/nested/ignored.yml", "not: [valid")
        .file(".github/actions/hello/action.yml", ACTION)
        .file("action.yaml", BROKEN_ACTION)
        .file("docker-compose.yml", "services: [")
        .args(["validate"])
        .stdout(
            "
            action.yaml:3:3: error: There's not enough info to determine what you meant. Add one of these properties: args, entrypoint, env, image, main, post, post-entrypoint, pre, pre-entrypoint, steps [schema]
              |
            3 |   using: node20
              |   ^^^^^^^^^^^^^

            action.yaml:3:3: error: Required property is missing: main [action]
              |
            3 |   using: node20
              |   ^^^^^^^^^^^^^

            4 files checked: 2 errors
            ",
        )
        .status(1)
        .run();
}

#[test]
fn directories_are_walked_and_files_read_as_given() {
    Test::new()
        .file("wf/a.yml", CLEAN)
        .file("wf/sub/b.yaml", CLEAN)
        .file("wf/sub/readme.md", "# not yaml")
        .file("wf/sub/action.yml", ACTION)
        .file("single.workflow", CLEAN)
        .args(["validate", "wf", "single.workflow"])
        .stdout("4 files checked: no problems found\n")
        .run();
}

#[test]
fn missing_path_is_an_io_error() {
    Test::new()
        .file(".github/workflows/ci.yml", CLEAN)
        .args(["validate", "nope.yml"])
        .stderr("error: `nope.yml` does not exist\n")
        .status(2)
        .run();
}

#[test]
fn no_workflows_directory_is_an_io_error() {
    Test::new()
        .args(["validate"])
        .stderr(
            "error: no workflows directory at `.github/workflows` (pass the files or directories to read)\n",
        )
        .status(2)
        .run();
}

#[test]
fn empty_and_unparsable_files_are_errors() {
    Test::new()
        .file("empty.yml", "")
        .file("bad.yml", "on: [push\njobs:\n")
        .args(["validate", "empty.yml", "bad.yml"])
        .stdout(
            "
            empty.yml: error: The workflow file is empty [syntax]

            bad.yml:2:5: error: YAML syntax error: illegal placement of ':' indicator [syntax]
              |
            2 | jobs:
              |     ^

            2 files checked: 2 errors
            ",
        )
        .status(1)
        .run();
}

#[test]
fn json_report() {
    let out = Test::new()
        .file(".github/workflows/ci.yml", BROKEN)
        .file(".github/workflows/ok.yml", CLEAN)
        .args(["validate", "--format", "json"])
        .status(1)
        .output();
    assert_eq!(out.stderr, "");
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn json_report_of_clean_files_exits_zero() {
    Test::new()
        .file(".github/workflows/ok.yml", CLEAN)
        .args(["validate", "--format", "json"])
        .stdout(
            r#"
            {
              "version": 1,
              "files": [
                {
                  "path": ".github/workflows/ok.yml",
                  "kind": "workflow",
                  "diagnostics": []
                }
              ],
              "summary": {
                "files": 1,
                "errors": 0,
                "warnings": 0
              }
            }
            "#,
        )
        .run();
}

#[test]
fn sarif_report() {
    let out = Test::new()
        .file(".github/workflows/ci.yml", BROKEN)
        .file(".github/actions/x/action.yml", BROKEN_ACTION)
        .args(["validate", "--format", "sarif"])
        .status(1)
        .output();
    assert_eq!(out.stderr, "");
    insta::assert_snapshot!(out.stdout);
}

/// What GitHub code scanning needs from each result, checked structurally so the rule is clear.
#[test]
fn sarif_results_point_at_declared_rules_and_regions() {
    let out = Test::new()
        .file(".github/workflows/ci.yml", BROKEN)
        .args(["validate", "--format", "sarif"])
        .status(1)
        .output();
    let sarif: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    for result in results {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        assert_eq!(result["level"], "error");
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(
            location["artifactLocation"]["uri"],
            ".github/workflows/ci.yml"
        );
        let region = &location["region"];
        for key in ["startLine", "startColumn", "endLine", "endColumn"] {
            assert!(region[key].as_u64().unwrap() >= 1, "{key} in {region}");
        }
    }
}

#[test]
fn format_has_an_env_twin() {
    Test::new()
        .file(".github/workflows/ok.yml", CLEAN)
        .args(["validate"])
        .env("GANTRY_VALIDATE_FORMAT", "sarif")
        .stdout(
            r#"
            {
              "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
              "version": "2.1.0",
              "runs": [
                {
                  "tool": {
                    "driver": {
                      "name": "gantry",
                      "semanticVersion": "0.1.0",
                      "informationUri": "https://example.invalid/gantry",
                      "rules": []
                    }
                  },
                  "columnKind": "unicodeCodePoints",
                  "results": []
                }
              ]
            }
            "#,
        )
        .run();
}

/// Threads change nothing in the report: results come back in file order.
#[test]
fn jobs_do_not_change_the_report() {
    let run = |jobs: &str| {
        let mut test = Test::new();
        for i in 0..12 {
            let text = if i % 3 == 0 { BROKEN } else { CLEAN };
            test = test.file(&format!(".github/workflows/w{i:02}.yml"), text);
        }
        test.args(["validate", "-j", jobs])
            .status(1)
            .output()
            .stdout
    };
    let one = run("1");
    assert!(one.ends_with("12 files checked: 12 errors\n"), "{one}");
    assert_eq!(run("4"), one);
}

#[test]
fn zero_jobs_is_a_usage_error() {
    Test::new()
        .args(["validate", "-j", "0"])
        .stderr(
            "
            error: invalid value '0' for '--jobs <N>': 0 is not in 1..=65535

            For more information, try '--help'.
            ",
        )
        .status(2)
        .run();
}

#[test]
fn leading_dot_slash_is_not_shown() {
    Test::new()
        .file("empty.yml", "")
        .args(["validate", "./empty.yml"])
        .stdout(
            "
            empty.yml: error: The workflow file is empty [syntax]

            1 file checked: 1 error
            ",
        )
        .status(1)
        .run();
}

const REALWORLD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/realworld"
);

/// Every real-world file is read and reported on, and the JSON and SARIF reports agree on what
/// was found (733 workflows GitHub ran: a crash or a lost file shows up here).
#[test]
fn realworld_corpus_reports_agree() {
    let report = |format: &str| {
        let out = Test::new()
            .args(["validate", "--format", format, REALWORLD])
            .status(1)
            .output();
        assert_eq!(out.stderr, "");
        serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap()
    };
    let json = report("json");
    let files = json["files"].as_array().unwrap();
    assert_eq!(files.len(), 733);
    assert_eq!(json["summary"]["files"], 733);
    let diagnostics: usize = files
        .iter()
        .map(|f| f["diagnostics"].as_array().unwrap().len())
        .sum();
    let sarif = report("sarif");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), diagnostics);
}

#[test]
fn a_file_named_twice_is_checked_once() {
    Test::new()
        .file("wf/a.yml", CLEAN)
        .args(["validate", "wf/a.yml", "wf", "./wf/a.yml"])
        .stdout("1 file checked: no problems found\n")
        .run();
}

/// The linter's rules come with the reader's, by name; `.github/gantry.toml` turns them off.
const LINTED: &str = "
    on: push
    jobs:
      build:
        runs-on: ubuntu-lates
        steps:
          - run: echo \"::set-output name=a::b\"
          - run: echo ${{ github.refname }} # gantry-ignore: expr-context
";

#[test]
fn lint_rules_are_reported_and_configurable() {
    let output = Test::new()
        .file(".github/workflows/ci.yml", LINTED)
        .args(["validate"])
        .output();
    insta::assert_snapshot!(output.stdout);
    Test::new()
        .file(".github/workflows/ci.yml", LINTED)
        .file(
            ".github/gantry.toml",
            // gantry's own offline checks are configured like the linter's rules.
            "[lint]\ndisable = [\"deprecated-command\", \"offline-platform\"]\nrunner-labels = [\"ubuntu-lates\"]\n",
        )
        .args(["validate"])
        .stdout("1 file checked: no problems found\n")
        .run();
}

#[test]
fn a_broken_lint_configuration_is_a_usage_error() {
    let output = Test::new()
        .file(".github/workflows/ci.yml", CLEAN)
        .file("lint.toml", "[lint]\ndisable = [\"shelcheck\"]\n")
        .args(["validate", "--config", "lint.toml"])
        .status(2)
        .output();
    assert!(
        output.stderr.contains("unknown rule `shelcheck`"),
        "{}",
        output.stderr
    );
}

#[test]
fn stored_actions_are_checked_against_their_own_metadata() {
    let test = Test::new();
    let root = test.path().to_path_buf();
    let action = root.join("greet");
    std::fs::create_dir_all(&action).unwrap();
    std::fs::write(
        action.join("action.yml"),
        "name: greet\ninputs:\n  who:\n    required: true\nruns:\n  using: node20\n  main: index.js\n",
    )
    .unwrap();
    let data = root.join("data").display().to_string();
    Test::new()
        .args(["actions", "add", "octo/greet@v1"])
        .args([
            action.display().to_string(),
            "--data-dir".into(),
            data.clone(),
        ])
        .output();
    let output = Test::new()
        .file(
            ".github/workflows/ci.yml",
            "
            on: push
            jobs:
              a:
                runs-on: ubuntu-latest
                steps:
                  - uses: octo/greet@v1
                    with:
                      whom: x
            ",
        )
        .args(["validate", "--data-dir", &data])
        .status(1)
        .output();
    insta::assert_snapshot!(output.stdout);
}
