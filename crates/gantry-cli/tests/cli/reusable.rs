//! Reusable workflows (`jobs.<id>.uses`): local calls run end to end on Docker with inputs,
//! secrets (explicit and `inherit`), outputs and a calling matrix; a `workflow_call`-only
//! workflow runs directly; `gantry validate` and `gantry run` report bad calls.

use crate::run::{normalize, read_tree};
use crate::run_docker::{docker_ready, leftovers};
use crate::test::Test;

const BUSYBOX: &str = "ubuntu-latest=gantry/busybox:latest";

/// The run printed every one of `parts` and left nothing behind in Docker.
fn assert_shows(out: &crate::test::Output, parts: &[&str]) {
    let stdout = normalize(&out.stdout);
    for part in parts {
        assert!(stdout.contains(part), "{part:?} not in:\n{stdout}");
    }
    assert_eq!(leftovers(out.dir.path()), Vec::<String>::new());
}

/// A reusable workflow: a required string, a number with a default, a required secret, and an
/// output taken from its first job, which a second job needs.
const CALLED: &str = "
    on:
      workflow_call:
        inputs:
          who:
            type: string
            required: true
          times:
            type: number
            default: 3
          loud:
            type: boolean
        secrets:
          token:
            required: true
        outputs:
          said:
            description: what the first job said
            value: ${{ jobs.greet.outputs.said }}
    jobs:
      greet:
        name: Greet
        runs-on: ubuntu-latest
        outputs:
          said: ${{ steps.s.outputs.said }}
        steps:
          - id: s
            name: Say
            run: |
              echo \"hello ${{ inputs.who }} x${{ inputs.times }} loud=${{ inputs.loud }} token=${{ secrets.token }}\"
              echo \"said=hi-${{ inputs.who }}-${{ inputs.times }}\" >> \"$GITHUB_OUTPUT\"
      after:
        needs: greet
        runs-on: ubuntu-latest
        steps:
          - name: After
            run: echo \"after ${{ needs.greet.outputs.said }} in ${{ github.job }}\"
    ";

const CALLER: &str = "
    on: push
    jobs:
      rows:
        strategy:
          matrix:
            who: [ann, bob]
        uses: ./.github/workflows/called.yml
        with:
          who: ${{ matrix.who }}
          loud: true
        secrets:
          token: ${{ secrets.TOKEN }}
      inherited:
        uses: ./.github/workflows/called.yml
        with:
          who: cy
          times: 7
        secrets: inherit
      never:
        if: ${{ false }}
        uses: ./.github/workflows/called.yml
        with:
          who: nobody
        secrets: inherit
      report:
        needs: [rows, inherited, never]
        if: always()
        runs-on: ubuntu-latest
        steps:
          - name: Report
            run: echo \"rows=${{ needs.rows.outputs.said }} inherited=${{ needs.inherited.outputs.said }} never=${{ needs.never.result }}\"
    ";

#[test]
fn local_reusable_workflow_runs_with_inputs_secrets_outputs_and_a_matrix() {
    docker_ready();
    let out = Test::new()
        .file(".github/workflows/called.yml", CALLED)
        .file(".github/workflows/ci.yml", CALLER)
        // One job at a time: the interleaving, and so the snapshot, is fixed.
        .args(["run", "push", "--jobs", "1", "-P", BUSYBOX])
        .args(["-s", "TOKEN=t0ps3cret", "-s", "token=inh3rited"])
        .output();
    insta::assert_snapshot!(normalize(&out.stdout));
    let logs = read_tree(&out.dir.path().join(".gantry/runs/1"));
    assert!(!logs.contains("t0ps3cret") && !logs.contains("inh3rited"));
    assert!(logs.contains("rows (ann) / Greet"), "{logs}");
    assert_eq!(leftovers(out.dir.path()), Vec::<String>::new());
}

#[test]
fn a_called_workflow_with_a_wrong_input_at_run_time_fails_its_caller() {
    docker_ready();
    let out = Test::new()
        .file(".github/workflows/called.yml", CALLED)
        .file(
            ".github/workflows/ci.yml",
            "
            on: push
            jobs:
              call:
                uses: ./.github/workflows/called.yml
                with:
                  who: x
                  times: ${{ format('{0}', 'many') }}
                secrets: inherit
            ",
        )
        .args(["run", "push", "-P", BUSYBOX, "-s", "token=w1de-s3cret"])
        .status(1)
        .output();
    let stdout = normalize(&out.stdout);
    assert!(
        stdout.contains(
            "error: invalid inputs for './.github/workflows/called.yml': input 'times' must be a number, got 'many'"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("call  failure"), "{stdout}");
}

#[test]
fn a_workflow_call_only_workflow_runs_directly_with_inputs() {
    docker_ready();
    let out = Test::new()
        .file(".github/workflows/called.yml", CALLED)
        .args(["run", "workflow_call", "-P", BUSYBOX])
        .args([
            "--input",
            "who=me",
            "--input",
            "loud=false",
            "-s",
            "token=zz9",
        ])
        .output();
    assert_shows(
        &out,
        &[
            "[greet]   hello me x3 loud=false token=***\n",
            "[after]   after hi-me-3 in after\n",
        ],
    );
}

/// Ten levels (the caller and nine called workflows) are allowed; the eleventh is not.
fn nested(test: Test, levels: usize) -> Test {
    let mut test = test.file(
        ".github/workflows/ci.yml",
        "
        on: push
        jobs:
          top:
            uses: ./.github/workflows/level1.yml
        ",
    );
    for level in 1..levels {
        let body = format!(
            "on: workflow_call\njobs:\n  l{level}:\n    uses: ./.github/workflows/level{}.yml\n",
            level + 1
        );
        test = test.file_verbatim(&format!(".github/workflows/level{level}.yml"), &body);
    }
    test.file_verbatim(
        &format!(".github/workflows/level{levels}.yml"),
        "on: workflow_call\njobs:\n  leaf:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo leaf\n",
    )
}

#[test]
fn validate_reports_wrong_inputs_missing_inputs_and_secrets_and_deep_nesting() {
    let out = nested(Test::new(), 10)
        .file(".github/workflows/called.yml", CALLED)
        .file(
            ".github/workflows/bad.yml",
            "
            on: push
            jobs:
              typed:
                uses: ./.github/workflows/called.yml
                with:
                  who: x
                  times: lots
                  loud: maybe
                secrets: inherit
              missing:
                uses: ./.github/workflows/called.yml
                with:
                  times: 2
            ",
        )
        .args([
            "validate",
            ".github/workflows/bad.yml",
            ".github/workflows/ci.yml",
        ])
        .status(1)
        .output();
    insta::assert_snapshot!(out.stdout);
}

#[test]
fn nine_called_levels_are_allowed() {
    nested(Test::new(), 9)
        .args(["validate", ".github/workflows/ci.yml"])
        .stdout("1 file checked: no problems found\n")
        .run();
}

#[test]
fn run_refuses_a_workflow_whose_calls_are_invalid() {
    let out = nested(Test::new(), 10)
        .args(["run", "push", "-W", ".github/workflows/ci.yml"])
        .status(1)
        .output();
    assert!(
        out.stderr.contains(
            "job \"l9\" calls workflow \"./.github/workflows/level10.yml\", but doing so would exceed the limit on called workflow depth of 9"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("it does not run"), "{}", out.stderr);
}

/// A repository of shared workflows (`acme/shared@v1` once added to a store): `build.yml`
/// takes an input and a secret and calls its own `inner.yml`, whose output it passes on.
fn shared_repository() -> Test {
    Test::new()
        .file(
            "shared/.github/workflows/build.yml",
            "
            on:
              workflow_call:
                inputs:
                  target: {type: string, required: true}
                secrets:
                  deploy-key: {required: true}
                outputs:
                  artifact: {value: \"${{ jobs.inner.outputs.made }}\"}
            jobs:
              inner:
                uses: ./.github/workflows/inner.yml
                with:
                  target: ${{ inputs.target }}
                secrets: inherit
            ",
        )
        .file(
            "shared/.github/workflows/inner.yml",
            "
            on:
              workflow_call:
                inputs:
                  target: {type: string, required: true}
                outputs:
                  made: {value: \"${{ jobs.make.outputs.made }}\"}
            jobs:
              make:
                runs-on: ubuntu-latest
                outputs:
                  made: ${{ steps.m.outputs.made }}
                steps:
                  - id: m
                    run: |
                      echo \"making ${{ inputs.target }} with ${{ secrets.deploy-key }}\"
                      echo \"made=${{ inputs.target }}.tgz\" >> \"$GITHUB_OUTPUT\"
            ",
        )
}

const REMOTE_CALLER: &str = "
    on: push
    jobs:
      remote:
        uses: acme/shared/.github/workflows/build.yml@v1
        with:
          target: app
        secrets:
          deploy-key: ${{ secrets.KEY }}
      use:
        needs: remote
        runs-on: ubuntu-latest
        steps:
          - run: echo \"artifact ${{ needs.remote.outputs.artifact }}\"
    ";

#[test]
fn a_remote_reusable_workflow_runs_from_the_action_store() {
    docker_ready();
    let shared = shared_repository();
    let data = shared.path().join("data").display().to_string();
    let source = shared.path().join("shared").display().to_string();
    // Before it is stored, the run names the commands that provide it.
    let missing = Test::new()
        .file(".github/workflows/ci.yml", REMOTE_CALLER)
        .args(["run", "push", "--data-dir", &data, "-P", BUSYBOX])
        .status(1)
        .output();
    assert!(
        missing.stderr.contains(
            "cannot load called workflow 'acme/shared/.github/workflows/build.yml@v1': action `acme/shared@v1` is not in the action store"
        ) && missing.stderr.contains("gantry actions pull acme/shared@v1"),
        "{}",
        missing.stderr
    );
    let added = Test::new()
        .args([
            "actions",
            "add",
            "acme/shared@v1",
            &source,
            "--data-dir",
            &data,
        ])
        .output();
    assert!(
        added.stdout.starts_with("added acme/shared@v1 (SHA:"),
        "{}",
        added.stdout
    );
    let out = Test::new()
        .file(".github/workflows/ci.yml", REMOTE_CALLER)
        .args(["run", "push", "--data-dir", &data, "-P", BUSYBOX])
        .args(["-s", "KEY=k3y-v4lue"])
        .output();
    assert_shows(
        &out,
        &[
            "[remote/inner/make]   making app with ***\n",
            "job remote / inner / make succeeded",
            "[use]   artifact app.tgz\n",
        ],
    );
    // validate reads the same store: a wrong call of the remote workflow is reported.
    Test::new()
        .file(
            ".github/workflows/ci.yml",
            "
            on: push
            jobs:
              remote:
                uses: acme/shared/.github/workflows/build.yml@v1
                with:
                  target: app
                  extra: 1
            ",
        )
        .args(["validate", "--data-dir", &data])
        .stdout(
            "
            .github/workflows/ci.yml:4:11: error: Secret deploy-key is required, but not provided while calling. [calls]
              |
            4 |     uses: acme/shared/.github/workflows/build.yml@v1
              |           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^

            .github/workflows/ci.yml:7:14: error: Invalid input, extra is not defined in the referenced workflow. [calls]
              |
            7 |       extra: 1
              |              ^

            1 file checked: 2 errors
            ",
        )
        .status(1)
        .run();
}
