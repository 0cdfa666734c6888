//! `gantry run` on the host executor (`-P ubuntu-latest=host`): rendering, results, exit
//! statuses, masking, job and matrix selection, `--dry-run` and `--json`. The Docker engine's
//! runs are in `run_docker`.

use std::path::Path;

use serde_json::Value as Json;

use crate::test::Test;

/// Durations change from run to run; everything else in the output is stable.
pub fn normalize(text: &str) -> String {
    let duration = regex::Regex::new(r"\b(\d+ms|\d+\.\d+s|\d+m\d\ds)\b").unwrap();
    duration.replace_all(text, "<t>").into_owned()
}

/// Every file under `dir`, concatenated (the stored run logs).
pub fn read_tree(dir: &Path) -> String {
    let mut out = String::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    out
}

pub fn json_lines(text: &str) -> Vec<Json> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const NEEDS_AND_OUTPUTS: &str = "
    name: CI
    on: push
    jobs:
      build:
        runs-on: ubuntu-latest
        outputs:
          version: ${{ steps.v.outputs.version }}
        steps:
          - id: v
            name: Compute version
            run: echo \"version=1.2.3\" >> \"$GITHUB_OUTPUT\"
          - name: Show it
            run: |
              echo \"::group::Details\"
              echo hidden inside the group
              echo \"::endgroup::\"
              echo \"::notice title=Version::${{ steps.v.outputs.version }}\"
      deploy:
        needs: build
        runs-on: ubuntu-latest
        steps:
          - run: echo \"deploying ${{ needs.build.outputs.version }}\"
";

#[test]
fn needs_and_outputs_on_the_host() {
    let out = Test::new()
        .file(".github/workflows/ci.yml", NEEDS_AND_OUTPUTS)
        .args(["run", "-P", "ubuntu-latest=host", "--jobs", "1"])
        .output();
    assert_eq!(
        normalize(&out.stdout),
        crate::test::unindent(
            r#"
            ▶ .github/workflows/ci.yml (CI) on push, run 1
            [build] job build started
            [build] ✓ Compute version (<t>)
            [build] ▶ Show it
            [build]   ▸ Details
            [build]   notice: Version: 1.2.3
            [build] ✓ Show it (<t>)
            [build] job build succeeded (<t>)
            [deploy] job deploy started
            [deploy] ▶ Run echo "deploying ${{ needs.build.outputs.version }}"
            [deploy]   deploying 1.2.3
            [deploy] ✓ Run echo "deploying ${{ needs.build.outputs.version }}" (<t>)
            [deploy] job deploy succeeded (<t>)

            JOB     RESULT   DURATION
            build   success  <t>
            deploy  success  <t>

            Annotations:
              [build] notice: Version: 1.2.3

            Run succeeded in <t>; logs in .gantry/runs/1
            "#
        )
    );
    assert_eq!(out.stderr, "");
}

#[test]
fn verbose_unfolds_groups() {
    let out = Test::new()
        .file(".github/workflows/ci.yml", NEEDS_AND_OUTPUTS)
        .args([
            "run",
            "-P",
            "ubuntu-latest=host",
            "-j",
            "build",
            "--verbose",
        ])
        .output();
    assert!(
        out.stdout
            .contains("[build]   ▸ Details\n[build]     hidden inside the group\n"),
        "{}",
        out.stdout
    );
    // The runner's `Run` header of the step: its script and shell.
    assert!(out.stdout.contains("[build]     shell: "), "{}", out.stdout);
}

#[test]
fn a_failing_step_skips_the_rest_and_its_dependents() {
    let out = Test::new()
        .file(
            ".github/workflows/ci.yml",
            "
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - name: Fail
                    run: exit 3
                  - name: Not reached
                    run: echo unreachable
                  - name: On failure
                    if: failure()
                    run: echo cleaning up
              deploy:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - run: echo deploying
              report:
                needs: build
                if: failure()
                runs-on: ubuntu-latest
                steps:
                  - run: echo \"build was ${{ needs.build.result }}\"
            ",
        )
        .args(["run", "-P", "ubuntu-latest=host", "--jobs", "1"])
        .status(1)
        .output();
    assert_eq!(
        normalize(&out.stdout),
        crate::test::unindent(
            r#"
            ▶ .github/workflows/ci.yml on push, run 1
            [build] job build started
            [build] ▶ Fail
            [build]   error: Process completed with exit code 3.
            [build] ✗ Fail (<t>): failed
            [build] - Not reached (skipped)
            [build] ▶ On failure
            [build]   cleaning up
            [build] ✓ On failure (<t>)
            [build] job build failed (<t>)
            [deploy] job deploy skipped
            [report] job report started
            [report] ▶ Run echo "build was ${{ needs.build.result }}"
            [report]   build was failure
            [report] ✓ Run echo "build was ${{ needs.build.result }}" (<t>)
            [report] job report succeeded (<t>)

            JOB     RESULT   DURATION
            build   failure  <t>
            deploy  skipped  -
            report  success  <t>

            Annotations:
              [build] error: Process completed with exit code 3.

            Run failed in <t>; logs in .gantry/runs/1
            "#
        )
    );
}

#[test]
fn continue_on_error_keeps_the_job_green() {
    let out = Test::new()
        .file(
            ".github/workflows/ci.yml",
            "
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - id: flaky
                    continue-on-error: true
                    run: exit 1
                  - run: echo \"flaky was ${{ steps.flaky.outcome }}/${{ steps.flaky.conclusion }}\"
            ",
        )
        .args(["run", "-P", "ubuntu-latest=host"])
        .output();
    let stdout = normalize(&out.stdout);
    assert!(
        stdout.contains("[build] ✗ Run exit 1 (<t>): failed (continue-on-error)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[build]   flaky was failure/success\n"),
        "{stdout}"
    );
    assert!(stdout.contains("build  success  <t>\n"), "{stdout}");
}

const SECRET_WORKFLOW: &str = "
    on: push
    jobs:
      leak:
        runs-on: ubuntu-latest
        steps:
          - run: |
              echo \"token is ${{ secrets.API_TOKEN }}\"
              echo \"github token is $GH\"
              echo \"::warning::${{ secrets.API_TOKEN }} in an annotation\"
            env:
              GH: ${{ secrets.GITHUB_TOKEN }}
";

#[test]
fn secrets_are_masked_on_the_terminal_and_in_the_run_logs() {
    let out = Test::new()
        .file(".github/workflows/ci.yml", SECRET_WORKFLOW)
        .file(".secrets", "API_TOKEN=hunter2-from-file\n")
        .args(["run", "-P", "ubuntu-latest=host", "--verbose"])
        .output();
    assert!(out.stdout.contains("token is ***"), "{}", out.stdout);
    assert!(out.stdout.contains("github token is ***"), "{}", out.stdout);
    assert!(!out.stdout.contains("hunter2"), "{}", out.stdout);
    assert!(!out.stdout.contains("ghs_"), "{}", out.stdout);
    let logs = read_tree(&out.dir.path().join(".gantry/runs/1"));
    assert!(logs.contains("token is ***"), "{logs}");
    assert!(!logs.contains("hunter2"), "{logs}");
    assert!(!logs.contains("ghs_"), "{logs}");
}

#[test]
fn secrets_are_masked_in_json_output() {
    let out = Test::new()
        .file(".github/workflows/ci.yml", SECRET_WORKFLOW)
        .args([
            "run",
            "-P",
            "ubuntu-latest=host",
            "--json",
            "-s",
            "API_TOKEN",
            "-s",
            "GITHUB_TOKEN=ghp_given",
        ])
        .env("API_TOKEN", "hunter2-from-env")
        .output();
    assert!(!out.stdout.contains("hunter2"), "{}", out.stdout);
    assert!(!out.stdout.contains("ghp_given"), "{}", out.stdout);
    let lines = json_lines(&out.stdout);
    let logs: Vec<&str> = lines
        .iter()
        .filter(|l| l["type"] == "log")
        .filter_map(|l| l["line"].as_str())
        .collect();
    assert!(logs.contains(&"token is ***"), "{logs:?}");
    assert!(logs.contains(&"github token is ***"), "{logs:?}");
    let stored = read_tree(&out.dir.path().join(".gantry/runs/1"));
    assert!(!stored.contains("hunter2"), "{stored}");
}

const RUNTIME_TOKEN_WORKFLOW: &str = "
    on: push
    jobs:
      leak:
        runs-on: ubuntu-latest
        steps:
          - run: |
              echo \"runtime token is $ACTIONS_RUNTIME_TOKEN\"
              echo \"results url is $ACTIONS_RESULTS_URL\"
              echo \"env context has [${{ env.ACTIONS_RUNTIME_TOKEN }}]\"
      called:
        uses: ./.github/workflows/called.yml
";

/// The runner services' `ACTIONS_RUNTIME_TOKEN` reaches every step's process, called
/// workflows' too (as GitHub's runner gives it, not through `env`), and is masked like a
/// secret on the terminal and in the stored logs (the JWT starts with `eyJ`).
#[test]
fn the_runtime_token_reaches_every_step_and_is_masked() {
    let out = Test::new()
        .file(".github/workflows/ci.yml", RUNTIME_TOKEN_WORKFLOW)
        .file(
            ".github/workflows/called.yml",
            "on: workflow_call\njobs:\n  inner:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo \"called token is $ACTIONS_RUNTIME_TOKEN\"\n",
        )
        .args(["run", "-P", "ubuntu-latest=host", "--verbose"])
        .args(["--data-dir", "data"])
        .output();
    for line in [
        "runtime token is ***",
        "results url is http://127.0.0.1:",
        "env context has []",
        "called token is ***",
    ] {
        assert!(out.stdout.contains(line), "{line}\n{}", out.stdout);
    }
    assert!(!out.stdout.contains("eyJ"), "{}", out.stdout);
    let logs = read_tree(&out.dir.path().join(".gantry/runs/1"));
    assert!(logs.contains("runtime token is ***"), "{logs}");
    assert!(!logs.contains("eyJ"), "{logs}");
}

/// A secret (and an `add-mask` value) in every field of an annotation, in a group title and
/// a step name: masked on the terminal, in `--json` and in the stored run files.
const ANNOTATION_SECRET_WORKFLOW: &str = "
    on: push
    jobs:
      leak:
        runs-on: ubuntu-latest
        steps:
          - name: step ${{ secrets.API_TOKEN }}
            run: |
              echo \"::warning file=cfg/$S.json,line=1::x\"
              echo \"::error file=$S/a.yml,title=t $S,line=2::m $S\"
              D=dyn; D=\"$D-value-42\"
              echo \"::add-mask::$D\"
              echo \"::notice file=$D.txt,title=$D::$D\"
              echo \"::group::group $S\"
              echo \"::endgroup::\"
            env:
              S: ${{ secrets.API_TOKEN }}
";

#[test]
fn secrets_in_annotation_fields_are_masked_everywhere() {
    for json in [false, true] {
        let mut args = vec!["run", "-P", "ubuntu-latest=host", "--verbose"];
        if json {
            args.push("--json");
        }
        let out = Test::new()
            .file(".github/workflows/ci.yml", ANNOTATION_SECRET_WORKFLOW)
            .file(".secrets", "API_TOKEN=hunter2-from-file\n")
            .args(args)
            .output();
        let stored = read_tree(&out.dir.path().join(".gantry/runs/1"));
        for (what, text) in [
            ("stdout", &out.stdout),
            ("stderr", &out.stderr),
            ("run files", &stored),
        ] {
            assert!(!text.contains("hunter2"), "{what} (json: {json}): {text}");
            assert!(
                !text.contains("dyn-value-42"),
                "{what} (json: {json}): {text}"
            );
        }
        assert!(out.stdout.contains("cfg/***.json"), "{}", out.stdout);
        assert!(stored.contains("cfg/***.json"), "{stored}");
    }
}

#[test]
fn json_is_one_event_per_line_ending_with_the_result() {
    let out = Test::new()
        .file(".github/workflows/ci.yml", NEEDS_AND_OUTPUTS)
        .args(["run", "-P", "ubuntu-latest=host", "--json", "--jobs", "1"])
        .output();
    let lines = json_lines(&out.stdout);
    let types: Vec<&str> = lines.iter().filter_map(|l| l["type"].as_str()).collect();
    assert_eq!(types.first(), Some(&"run_started"));
    assert_eq!(&types[types.len() - 2..], ["run_finished", "run_result"]);
    let jobs: Vec<(&str, &str)> = lines
        .iter()
        .filter(|l| l["type"] == "job_finished")
        .map(|l| {
            (
                l["job"].as_str().unwrap(),
                l["conclusion"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(jobs, [("build", "success"), ("deploy", "success")]);
    let started = lines.iter().find(|l| l["type"] == "step_started").unwrap();
    assert_eq!(
        started["step"],
        serde_json::json!({"path": "0", "name": "Compute version"})
    );
    let result = lines.last().unwrap();
    assert_eq!(result["log_dir"], ".gantry/runs/1");
    assert_eq!(result["workflow_file"], ".github/workflows/ci.yml");
    assert_eq!(result["result"]["conclusion"], "success");
    assert_eq!(result["result"]["jobs"][0]["outputs"]["version"], "1.2.3");
    // The same stream is stored beside the logs.
    let stored =
        std::fs::read_to_string(out.dir.path().join(".gantry/runs/1/events.jsonl")).unwrap();
    assert_eq!(stored.lines().count(), lines.len() - 1);
}

const MATRIX: &str = "
    on: push
    jobs:
      lint:
        runs-on: ubuntu-latest
        steps:
          - run: echo lint
      test:
        needs: lint
        runs-on: ubuntu-latest
        strategy:
          matrix:
            node: [18, 20]
            os: [linux]
        steps:
          - run: echo \"node ${{ matrix.node }}\"
      other:
        runs-on: self-hosted
        steps:
          - run: echo other
";

#[test]
fn dry_run_prints_the_plan_and_creates_nothing() {
    let out = Test::new()
        .file(".github/workflows/ci.yml", MATRIX)
        .args(["run", "--dry-run", "-P", "ubuntu-latest=host"])
        .stdout(
            "
            .github/workflows/ci.yml on push
              lint
                runs-on: ubuntu-latest -> host
              test
                needs: lint
                runs-on: ubuntu-latest -> host
                matrix: node=18, os=linux
                matrix: node=20, os=linux
              other
                runs-on: self-hosted -> no platform (map a label with -P LABEL=IMAGE|host)
            ",
        )
        .stderr(
            "
            warning: .github/workflows/ci.yml:17:14: job `other`: no platform for runs-on [self-hosted]; gantry skips it unless a label is mapped (-P self-hosted=IMAGE or -P self-hosted=host) [offline-platform]
            ",
        )
        .run();
    assert!(!out.dir.path().join(".gantry").exists());
}

#[test]
fn dry_run_json_has_one_line_per_job() {
    let out = Test::new()
        .file(".github/workflows/ci.yml", MATRIX)
        .args(["run", "-n", "--json", "-j", "test", "--matrix", "node:20"])
        .output();
    let lines = json_lines(&out.stdout);
    assert_eq!(
        lines,
        [
            serde_json::json!({"type": "planned_job", "workflow_file": ".github/workflows/ci.yml",
                "event": "push", "job": "lint", "needs": [], "runs_on": ["ubuntu-latest"],
                "platform": "gantry/runner:bookworm", "matrix": null}),
            serde_json::json!({"type": "planned_job", "workflow_file": ".github/workflows/ci.yml",
                "event": "push", "job": "test", "needs": ["lint"], "runs_on": ["ubuntu-latest"],
                "platform": "gantry/runner:bookworm", "matrix": [{"node": 20, "os": "linux"}]}),
        ]
    );
}

#[test]
fn job_selection_runs_the_job_with_its_needs_and_matrix_filters_rows() {
    let out = Test::new()
        .file(".github/workflows/ci.yml", MATRIX)
        .args([
            "run",
            "-P",
            "ubuntu-latest=host",
            "-j",
            "test",
            "--matrix",
            "node:20",
        ])
        .output();
    let stdout = normalize(&out.stdout);
    assert!(stdout.contains("[lint]   lint\n"), "{stdout}");
    assert!(stdout.contains("[test]   node 20\n"), "{stdout}");
    assert!(!stdout.contains("node 18"), "{stdout}");
    assert!(!stdout.contains("[other]"), "{stdout}");
}

#[test]
fn an_unmapped_runs_on_label_fails_the_job_when_strict() {
    let out = Test::new()
        .file(".github/workflows/ci.yml", MATRIX)
        .args(["run", "-j", "other", "--strict-platforms"])
        .status(1)
        .output();
    assert!(
        out.stdout.contains("no platform for runs-on [self-hosted]"),
        "{}",
        out.stdout
    );
}

#[test]
fn usage_errors_exit_2() {
    Test::new()
        .file(".github/workflows/ci.yml", MATRIX)
        .args(["run", "-j", "nope", "-j", "lint"])
        .stderr("error: no workflow triggered by `push` has a job named `nope`\n")
        .status(2)
        .run();
    Test::new()
        .file(".github/workflows/ci.yml", MATRIX)
        .file(".env", "GOOD=1\nnot a pair\n")
        .args(["run", "-P", "x", "--var", "=v"])
        .stderr(
            "
            error: --var `=v`: expected NAME=VALUE
            .env:2: expected NAME=VALUE
            -P `x`: expected NAME=VALUE
            ",
        )
        .status(2)
        .run();
    Test::new()
        .file(".github/workflows/ci.yml", MATRIX)
        .file("event.json", "[1]")
        .args(["run", "-e", "event.json"])
        .stderr("error: `event.json` must hold a JSON object (the webhook payload)\n")
        .status(2)
        .run();
    Test::new().args(["run", "--jobs", "0"]).status(2).output();
}

#[test]
fn an_invalid_workflow_does_not_run() {
    Test::new()
        .file(
            ".github/workflows/ci.yml",
            "
            on: push
            jobs:
              a:
                runs-on: ubuntu-latest
                needs: missing
                steps:
                  - run: echo no
            ",
        )
        .args(["run", "-P", "ubuntu-latest=host"])
        .stderr(
            "error: `.github/workflows/ci.yml` is invalid (2 errors); it does not run (see `gantry validate .github/workflows/ci.yml`)\nno workflow is triggered by `push`\n",
        )
        .status(1)
        .run();
}

#[test]
fn an_event_no_workflow_listens_to_runs_nothing() {
    Test::new()
        .file(".github/workflows/ci.yml", MATRIX)
        .args(["run", "release"])
        .stderr("no workflow is triggered by `release`\n")
        .run();
}

#[test]
fn inputs_env_file_and_vars_reach_the_steps() {
    let out = Test::new()
        .file(
            ".github/workflows/ci.yml",
            "
            on:
              workflow_dispatch:
                inputs:
                  level:
                    default: info
                  name:
                    required: true
            env:
              FROM_WORKFLOW: workflow
            jobs:
              show:
                runs-on: ubuntu-latest
                steps:
                  - run: echo \"${{ inputs.level }} ${{ github.event.inputs.name }} $FROM_FILE $FROM_WORKFLOW ${{ vars.COLOR }}\"
            ",
        )
        .file(".env", "FROM_FILE=file\nFROM_WORKFLOW=overridden\n")
        .args([
            "run",
            "workflow_dispatch",
            "-P",
            "ubuntu-latest=host",
            "--input",
            "name=mona",
            "--var",
            "COLOR=blue",
        ])
        .output();
    assert!(
        out.stdout
            .contains("[show]   info mona file workflow blue\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn github_context_comes_from_the_repository_and_a_synthesized_release() {
    let test = Test::new().file(
        ".github/workflows/release.yml",
        "
        on:
          release:
            types: [created]
        jobs:
          show:
            runs-on: ubuntu-latest
            steps:
              - run: |
                  echo \"$GITHUB_REF ${{ github.repository }} ${{ github.event.release.tag_name }}\"
                  echo \"${{ github.event.action }} ${{ github.event.release.draft }} ${{ github.sha == github.event.release.target_commitish }}\"
        ",
    );
    let dir = test.path().to_path_buf();
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(["-c", "user.name=Mona", "-c", "user.email=mona@example.com"])
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(status.status.success(), "{status:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "first"]);
    git(&["tag", "v1.0.0"]);
    git(&[
        "remote",
        "add",
        "origin",
        "https://github.com/octo/widget.git",
    ]);
    let out = test
        .args(["run", "release", "-P", "ubuntu-latest=host"])
        .output();
    assert!(
        out.stdout.contains(
            "[show]   refs/tags/v1.0.0 octo/widget v1.0.0\n[show]   created false false\n"
        ),
        "{}",
        out.stdout
    );
}

#[test]
fn clean_without_an_engine_is_an_error() {
    let out = Test::new()
        .args(["clean"])
        .env("DOCKER_HOST", "unix:///nonexistent/gantry-test.sock")
        .status(2)
        .output();
    assert!(
        out.stderr.starts_with("error: docker engine: "),
        "{}",
        out.stderr
    );
}

const MATRIX_OF_PLATFORMS: &str = "
    name: Platforms
    on: push
    jobs:
      test:
        runs-on: ${{ matrix.os }}
        strategy:
          matrix:
            os: [ubuntu-latest, macos-latest]
        services:
          # GitHub starts no service whose image is empty.
          db:
            image: ${{ matrix.os == 'never' && 'postgres' || '' }}
        steps:
          - run: echo on ${{ matrix.os }}
";

/// A matrix row whose `runs-on` maps to no platform is skipped with a notice saying how to map
/// it, and the run succeeds (as local runners do); `--strict-platforms` fails it instead. A
/// service whose image evaluates to an empty string is not started, so the job runs on the host.
#[test]
fn unmapped_platforms_are_skipped_with_a_notice_unless_strict() {
    let out = Test::new()
        .file(".github/workflows/ci.yml", MATRIX_OF_PLATFORMS)
        .args(["run", "-P", "ubuntu-latest=host", "--jobs", "1"])
        .output();
    let stdout = normalize(&out.stdout);
    assert!(stdout.contains("on ubuntu-latest"), "{stdout}");
    assert!(
        stdout.contains(
            "notice: skipped: no platform for runs-on [macos-latest]; map it with -P macos-latest=IMAGE or -P macos-latest=host to run it (--strict-platforms fails such jobs instead)"
        ),
        "{stdout}"
    );
    let strict = Test::new()
        .file(".github/workflows/ci.yml", MATRIX_OF_PLATFORMS)
        .args([
            "run",
            "-P",
            "ubuntu-latest=host",
            "--jobs",
            "1",
            "--strict-platforms",
        ])
        .status(1)
        .output();
    assert!(
        strict
            .stdout
            .contains("error: no platform for runs-on [macos-latest]"),
        "{}",
        strict.stdout
    );
}
