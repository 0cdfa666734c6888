//! `gantry run` on the real Docker engine (started and given gantry's images by the project's
//! scripts when missing), and cancellation by SIGINT on Docker and on the host. Every test
//! checks that its runs left no container, network or volume behind (by their run id, so
//! other tests running at the same time do not count).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Once, mpsc};
use std::time::Duration;

use serde_json::Value as Json;

use crate::run::{json_lines, normalize, read_tree};
use crate::test::{ScopedDir, Test, unindent};

pub(crate) const BUSYBOX: &str = "ubuntu-latest=gantry/busybox:latest";

fn scripts() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts")
}

/// Starts Docker and builds gantry's images when they are missing (once per test binary).
pub fn docker_ready() {
    static READY: Once = Once::new();
    READY.call_once(|| {
        let ok = |c: &mut Command| c.status().is_ok_and(|s| s.success());
        assert!(
            ok(Command::new("bash").arg(scripts().join("ensure-docker.sh"))),
            "no Docker engine"
        );
        for image in ["gantry/busybox:latest", "gantry/runner:bookworm"] {
            if !ok(Command::new("docker")
                .args(["image", "inspect", image])
                .stdout(Stdio::null())
                .stderr(Stdio::null()))
            {
                assert!(
                    ok(Command::new("bash").arg(scripts().join("build-images.sh"))),
                    "building gantry's images failed"
                );
            }
        }
    });
}

/// The run ids of every run stored under `dir` (from each run's first event).
fn run_ids(dir: &Path) -> Vec<String> {
    let runs = dir.join(".gantry/runs");
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(runs).unwrap() {
        let events = std::fs::read_to_string(entry.unwrap().path().join("events.jsonl")).unwrap();
        let first: Json = serde_json::from_str(events.lines().next().unwrap()).unwrap();
        ids.push(first["run_id"].as_str().unwrap().to_owned());
    }
    assert!(!ids.is_empty());
    ids
}

/// Containers, networks and volumes labelled with one of the runs' ids.
pub fn leftovers(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for id in run_ids(dir) {
        let filter = format!("label=io.gantry.run-id={id}");
        for kind in [
            &["ps", "-aq"][..],
            &["network", "ls", "-q"][..],
            &["volume", "ls", "-q"][..],
        ] {
            let out = Command::new("docker")
                .args(kind)
                .args(["--filter", &filter])
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            found.extend(
                String::from_utf8(out.stdout)
                    .unwrap()
                    .lines()
                    .map(str::to_owned),
            );
        }
    }
    found
}

#[test]
fn needs_outputs_and_masking_in_containers() {
    docker_ready();
    let out = Test::new()
        .file(
            ".github/workflows/ci.yml",
            "
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                outputs:
                  greeting: ${{ steps.g.outputs.greeting }}
                steps:
                  - id: g
                    name: Greet
                    run: |
                      echo \"greeting=hello from $(uname -s)\" >> \"$GITHUB_OUTPUT\"
                      echo \"secret is ${{ secrets.PASSWORD }}\"
              deploy:
                needs: build
                runs-on: ubuntu-latest
                steps:
                  - name: Use it
                    run: echo \"${{ needs.build.outputs.greeting }}\"
            ",
        )
        .args(["run", "-P", BUSYBOX, "-s", "PASSWORD=pa55word"])
        .output();
    assert_eq!(
        normalize(&out.stdout),
        unindent(
            "
            ▶ .github/workflows/ci.yml on push, run 1
            [build] job build started
            [build] ▶ Greet
            [build]   secret is ***
            [build] ✓ Greet (<t>)
            [build] job build succeeded (<t>)
            [deploy] job deploy started
            [deploy] ▶ Use it
            [deploy]   hello from Linux
            [deploy] ✓ Use it (<t>)
            [deploy] job deploy succeeded (<t>)

            JOB     RESULT   DURATION
            build   success  <t>
            deploy  success  <t>

            Run succeeded in <t>; logs in .gantry/runs/1
            "
        )
    );
    assert!(!read_tree(&out.dir.path().join(".gantry/runs/1")).contains("pa55word"));
    assert_eq!(leftovers(out.dir.path()), Vec::<String>::new());
}

#[test]
fn a_failed_job_in_a_container_leaves_nothing_behind() {
    docker_ready();
    let out = Test::new()
        .file(
            ".github/workflows/ci.yml",
            "
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - run: echo about to fail; exit 7
                  - if: failure()
                    run: echo recovering
            ",
        )
        .args(["run", "-P", BUSYBOX])
        .status(1)
        .output();
    let stdout = normalize(&out.stdout);
    assert!(
        stdout.contains("[build]   error: Process completed with exit code 7.\n"),
        "{stdout}"
    );
    assert!(stdout.contains("[build]   recovering\n"), "{stdout}");
    assert!(stdout.contains("build  failure  <t>\n"), "{stdout}");
    assert_eq!(leftovers(out.dir.path()), Vec::<String>::new());
}

#[test]
fn the_default_runner_image_has_bash_and_node() {
    docker_ready();
    let out = Test::new()
        .file(
            ".github/workflows/ci.yml",
            "
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - run: echo \"bash $BASH_VERSINFO, node $(node -e 'process.stdout.write(String(1 + 1))')\"
            ",
        )
        .args(["run"])
        .output();
    assert!(
        out.stdout.contains("[build]   bash 5, node 2\n"),
        "{}",
        out.stdout
    );
    assert_eq!(leftovers(out.dir.path()), Vec::<String>::new());
}

#[test]
fn keep_containers_leaves_the_job_container_for_inspection() {
    docker_ready();
    let out = Test::new()
        .file(
            ".github/workflows/ci.yml",
            "
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - run: echo kept
            ",
        )
        .args(["run", "-P", BUSYBOX, "--keep-containers"])
        .output();
    let kept = leftovers(out.dir.path());
    let ids = run_ids(out.dir.path());
    // What the run kept goes with the test's directory (by its scope label), never with
    // `gantry clean`, which would also remove what other tests running now are using.
    drop(out);
    let mut left = Vec::new();
    for id in ids {
        let filter = format!("label=io.gantry.run-id={id}");
        for kind in [
            &["ps", "-aq"][..],
            &["network", "ls", "-q"][..],
            &["volume", "ls", "-q"][..],
        ] {
            let out = Command::new("docker")
                .args(kind)
                .args(["--filter", &filter])
                .output()
                .unwrap();
            left.extend(
                String::from_utf8(out.stdout)
                    .unwrap()
                    .lines()
                    .map(str::to_owned),
            );
        }
    }
    assert!(!kept.is_empty(), "--keep-containers kept nothing");
    assert_eq!(
        left,
        Vec::<String>::new(),
        "the test directory's drop left these"
    );
}

/// Runs `gantry run --json ARGS` on a workflow whose step prints `started` then sleeps,
/// sends SIGINT once that line is out, and returns the exit code and every event.
fn interrupt(platform: &str) -> (Option<i32>, Vec<Json>, ScopedDir) {
    let dir = ScopedDir::new();
    let workflows = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    std::fs::write(
        workflows.join("ci.yml"),
        unindent(
            "
            on: push
            jobs:
              slow:
                runs-on: ubuntu-latest
                steps:
                  - run: echo started; sleep 120
                  - run: echo never
              after:
                needs: slow
                runs-on: ubuntu-latest
                steps:
                  - run: echo never
            ",
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(["--color", "never", "run", "--json", "-P", platform])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let _ = tx.send(line.clone());
        }
    });
    let mut lines = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(300))
            .expect("the step never printed `started`");
        let started = line.contains(r#""line":"started""#);
        lines.push(line);
        if started {
            break;
        }
    }
    // SAFETY: kill(2) on the pid of a child we spawned and have not waited for.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(sent, 0);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    let events = json_lines(&lines.join("\n"));
    (status.code(), events, dir)
}

fn assert_cancelled(events: &[Json]) {
    let step = events
        .iter()
        .find(|e| e["type"] == "step_finished")
        .unwrap();
    assert_eq!(step["conclusion"], "cancelled");
    let jobs: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["type"] == "job_finished")
        .map(|e| {
            (
                e["job"].as_str().unwrap(),
                e["conclusion"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(jobs, [("slow", "cancelled"), ("after", "skipped")]);
    let last = events.last().unwrap();
    assert_eq!(last["type"], "run_result");
    assert_eq!(last["result"]["conclusion"], "cancelled");
    assert!(
        !events
            .iter()
            .any(|e| e["type"] == "log" && e["line"] == "never")
    );
}

#[test]
fn sigint_cancels_a_container_run_and_removes_its_container() {
    docker_ready();
    let (code, events, dir) = interrupt(BUSYBOX);
    assert_eq!(code, Some(130), "{events:?}");
    assert_cancelled(&events);
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

#[test]
fn sigint_cancels_a_host_run() {
    let (code, events, _dir) = interrupt("ubuntu-latest=host");
    assert_eq!(code, Some(130), "{events:?}");
    assert_cancelled(&events);
}

const CHECKOUT_DEPTHS: &str = "
    on: push
    jobs:
      shallow:
        runs-on: ubuntu-latest
        steps:
          - uses: actions/checkout@v4
          - run: |
              set -e
              test \"$(git rev-list --count HEAD)\" = 1
              test -s .git/shallow
              test -z \"$(git status --porcelain)\"
              test -x tool.sh && test -L link && test \"$(cat sub/dir/file.txt)\" = three
              git log -1 --format='shallow %s'
      full:
        runs-on: ubuntu-latest
        steps:
          - uses: actions/checkout@v4
            with:
              fetch-depth: 0
          - run: |
              set -e
              test \"$(git rev-list --count HEAD)\" = 3
              test ! -e .git/shallow
              test -z \"$(git status --porcelain)\"
              git rev-parse --verify -q refs/remotes/origin/main >/dev/null
              git rev-parse --verify -q refs/tags/v0.1.0 >/dev/null
              echo \"full $(git log --format=%s | tr '\\n' ' ')\"
";

/// `actions/checkout` in a container at `fetch-depth` 1 and 0, checked with git inside the job:
/// history depth, `.git/shallow`, a clean `git status` (the index matches the files written),
/// executable bits and symlinks, branches and tags of a full checkout.
#[test]
fn checkout_depths_are_what_git_sees_in_the_job() {
    docker_ready();
    let test = Test::new()
        .file(".github/workflows/ci.yml", CHECKOUT_DEPTHS)
        .file("tool.sh", "#!/bin/sh\necho tool\n")
        .file("sub/dir/file.txt", "one");
    let dir = test.path().to_path_buf();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=Mona", "-c", "user.email=mona@example.com"])
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    std::fs::set_permissions(
        dir.join("tool.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("tool.sh", dir.join("link")).unwrap();
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "first"]);
    git(&["tag", "v0.1.0"]);
    for (text, message) in [("two", "second"), ("three", "third")] {
        std::fs::write(dir.join("sub/dir/file.txt"), text).unwrap();
        git(&["commit", "-q", "-am", message]);
    }
    let out = test.args(["run", "--jobs", "1", "--step-debug"]).output();
    assert!(
        out.stdout.contains("[shallow]   shallow third\n"),
        "{}",
        out.stdout
    );
    // The fast path, not the snapshot copy, wrote both checkouts.
    assert_eq!(
        out.stdout
            .matches("written straight from the object database")
            .count(),
        2,
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("[full]   full third second first \n"),
        "{}",
        out.stdout
    );
    assert_eq!(leftovers(out.dir.path()), Vec::<String>::new());
}
