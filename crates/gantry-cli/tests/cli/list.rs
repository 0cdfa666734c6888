//! `gantry list`.

use crate::fixtures::{CI, CYCLE, RELEASE};
use crate::test::Test;

#[test]
fn lists_every_workflow_with_its_jobs() {
    Test::new()
        .file(".github/workflows/ci.yml", CI)
        .file(".github/workflows/release.yml", RELEASE)
        .args(["list"])
        .stdout(
            r#"
                .github/workflows/ci.yml: CI
                  on: push, pull_request
                  JOB     NAME           NEEDS       MATRIX
                  build   Build          -           6
                  lint    -              -           -
                  test    -              build       dynamic
                  deploy  Deploy "prod"  test, lint  -

                .github/workflows/release.yml
                  on: release
                  JOB      NAME  NEEDS  MATRIX
                  publish  -     -      -
            "#,
        )
        .run();
}

#[test]
fn an_event_selects_the_workflows_it_triggers() {
    Test::new()
        .file(".github/workflows/ci.yml", CI)
        .file(".github/workflows/release.yml", RELEASE)
        .args(["list", "release"])
        .stdout(
            r#"
                .github/workflows/release.yml
                  on: release
                  JOB      NAME  NEEDS  MATRIX
                  publish  -     -      -
            "#,
        )
        .run();
}

#[test]
fn an_event_nothing_listens_to() {
    Test::new()
        .file(".github/workflows/ci.yml", CI)
        .args(["list", "schedule"])
        .stdout("no workflow is triggered by `schedule`\n")
        .run();
}

#[test]
fn workflows_flag_and_its_env_twin() {
    Test::new()
        .file("elsewhere/release.yml", RELEASE)
        .args(["list", "-W", "elsewhere"])
        .stdout(
            r#"
                elsewhere/release.yml
                  on: release
                  JOB      NAME  NEEDS  MATRIX
                  publish  -     -      -
            "#,
        )
        .run();
    Test::new()
        .file("elsewhere/release.yml", RELEASE)
        .args(["list"])
        .env("GANTRY_WORKFLOWS", "elsewhere/release.yml")
        .stdout(
            r#"
                elsewhere/release.yml
                  on: release
                  JOB      NAME  NEEDS  MATRIX
                  publish  -     -      -
            "#,
        )
        .run();
}

#[test]
fn files_with_errors_are_flagged_and_fail_the_run() {
    Test::new()
        .file(".github/workflows/cycle.yml", CYCLE)
        .args(["list"])
        .stdout(r#"
                .github/workflows/cycle.yml
                  on: push
                  JOB  NAME  NEEDS  MATRIX
                  a    -     b      -
                  b    -     a      -
            "#)
        .stderr("warning: `.github/workflows/cycle.yml` has 2 problems (see `gantry validate .github/workflows/cycle.yml`)\n")
        .status(1)
        .run();
}

#[test]
fn missing_workflows_directory() {
    Test::new()
        .args(["list"])
        .stderr("error: no workflows directory at `.github/workflows` (pass the files or directories to read)\n")
        .status(2)
        .run();
}
