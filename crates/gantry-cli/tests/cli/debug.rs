//! `gantry run --pause-*`, driven through a real terminal: each interactive test runs gantry in
//! its own tmux server (a pseudo-terminal a person would use), types into it with `send-keys`
//! and reads the screen with `capture-pane`, polling for the text a person would wait for.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::run::json_lines;
use crate::run_docker::{docker_ready, leftovers};
use crate::test::{ScopedDir, Test, unindent};

/// Generous: a Docker job on a loaded 2-core machine takes seconds to start.
const DEADLINE: Duration = Duration::from_secs(180);

const WORKFLOW: &str = r#"
    name: ci
    on: push
    jobs:
      build:
        runs-on: ubuntu-latest
        env:
          TOKEN: ${{ secrets.TOKEN }}
        steps:
          - id: setup
            run: echo "FROM_SETUP=set-by-setup" >> "$GITHUB_ENV"
          - id: check
            name: Check marker
            run: test -f marker.txt && echo "marker found"
          - run: echo "last step ran"
"#;

/// gantry in a pseudo-terminal of a private tmux server, removed on drop.
struct Tty {
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tty {
    /// Starts `gantry --color never ARGS` in `cwd`; when gantry ends the pane stays, showing
    /// `gantry exited N`.
    fn start(cwd: &Path, args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("tmux.sock");
        let gantry = env!("CARGO_BIN_EXE_gantry");
        let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
        let command = format!(
            "env -u NO_COLOR -u GANTRY_COLOR '{gantry}' --color never {}; echo \"gantry exited $?\"; sleep 3600",
            quoted.join(" ")
        );
        let status = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args(["-f", "/dev/null", "new-session", "-d", "-s", "t"])
            .args(["-x", "160", "-y", "50", "-c"])
            .arg(cwd)
            .arg(command)
            .status()
            .expect("tmux is missing: run scripts/ensure-tools.sh");
        assert!(status.success());
        Tty { socket, _dir: dir }
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap()
    }

    /// Types `text` and presses Enter.
    fn line(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "t", "-l", text]);
        self.tmux(&["send-keys", "-t", "t", "Enter"]);
    }

    fn key(&self, key: &str) {
        self.tmux(&["send-keys", "-t", "t", key]);
    }

    fn resize(&self, cols: u16, rows: u16) {
        let (cols, rows) = (cols.to_string(), rows.to_string());
        self.tmux(&["resize-window", "-t", "t", "-x", &cols, "-y", &rows]);
    }

    /// The whole screen with its scrollback, wrapped lines joined.
    fn screen(&self) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-J", "-t", "t", "-S", "-"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `text` `times` times (earlier matches of the same prompt
    /// do not count); returns the screen.
    fn wait_for_nth(&self, text: &str, times: usize) -> String {
        let started = Instant::now();
        loop {
            let screen = self.screen();
            if screen.matches(text).count() >= times {
                return screen;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "`{text}` did not appear; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn wait_for(&self, text: &str) -> String {
        self.wait_for_nth(text, 1)
    }

    /// Whether `text` appears within `limit`.
    fn shows_within(&self, text: &str, limit: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < limit {
            if self.screen().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }

    /// Closes the terminal as a closed window does (gantry gets SIGHUP).
    fn close(&self) {
        self.tmux(&["kill-server"]);
    }
}

impl Drop for Tty {
    fn drop(&mut self) {
        self.close();
    }
}

fn checkout() -> ScopedDir {
    let dir = ScopedDir::new();
    let path = dir.path().join(".github/workflows/ci.yml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, unindent(WORKFLOW)).unwrap();
    dir
}

/// Pause on the failure, look at the environment in the shell, fix what the step needs, retry:
/// the run succeeds.
fn fix_and_retry(platform: &str) -> (String, ScopedDir) {
    let dir = checkout();
    let tty = Tty::start(
        dir.path(),
        &[
            "run",
            "-P",
            platform,
            "--pause-on-failure",
            "-s",
            "TOKEN=s3cr3t-t0ken",
        ],
    );
    tty.wait_for("exit it (Ctrl-D) to choose how to go on");
    tty.line("echo \"setup said $FROM_SETUP, token $TOKEN, in $PWD\"");
    tty.wait_for("setup said set-by-setup, token ***, in ");
    tty.resize(120, 40);
    tty.line("stty size");
    tty.wait_for("40 120");
    // Ctrl-C stops what runs in the shell, not gantry.
    // The shell prints the marker (typed as `sleep''ing`) when the sleep starts.
    tty.line("echo sleep''ing-now; sleep 600");
    tty.wait_for("\nsleeping-now");
    tty.key("C-c");
    tty.wait_for("^C");
    // What is typed while the terminal delivers the interrupt may be flushed with it (as in any
    // terminal), so the line is typed again until the shell answers.
    let answered = (0..20).any(|_| {
        tty.line("echo still-here-$((40+2))");
        tty.shows_within("still-here-42", Duration::from_secs(5))
    });
    assert!(answered, "{}", tty.screen());
    tty.line("touch marker.txt");
    tty.line("exit");
    tty.wait_for("[r]etry the step");
    tty.line("r");
    let screen = tty.wait_for("gantry exited");
    assert!(screen.contains("gantry exited 0"), "{screen}");
    assert!(screen.contains("marker found"), "{screen}");
    assert!(screen.contains("last step ran"), "{screen}");
    assert!(!screen.contains("s3cr3t-t0ken"), "{screen}");
    (screen, dir)
}

#[test]
fn pause_on_failure_shell_fix_and_retry_on_the_host() {
    let (screen, _dir) = fix_and_retry("ubuntu-latest=host");
    assert!(
        screen.contains("gantry: paused after the failure of step 2 `Check marker` of job `build`"),
        "{screen}"
    );
}

#[test]
fn pause_on_failure_shell_fix_and_retry_in_a_container() {
    docker_ready();
    let (screen, dir) = fix_and_retry("ubuntu-latest=gantry/runner:latest");
    assert!(screen.contains("in /__w/"), "{screen}");
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

/// Waits until the run's containers are gone (cleanup runs after gantry saw the signal).
fn assert_nothing_left(dir: &Path) {
    let started = Instant::now();
    loop {
        let left = leftovers(dir);
        if left.is_empty() {
            return;
        }
        assert!(started.elapsed() < DEADLINE, "left behind: {left:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn abort_at_a_pause_removes_the_container() {
    docker_ready();
    let dir = checkout();
    let tty = Tty::start(
        dir.path(),
        &[
            "run",
            "-P",
            "ubuntu-latest=gantry/busybox:latest",
            "--pause-before",
            "build.check",
        ],
    );
    tty.wait_for("gantry: paused before step 2 `Check marker` of job `build` (container ");
    tty.wait_for("exit it (Ctrl-D)");
    tty.line("exit");
    tty.wait_for("[a]bort the run");
    tty.line("a");
    let screen = tty.wait_for("gantry exited");
    assert!(screen.contains("gantry: aborting the run"), "{screen}");
    assert!(!screen.contains("]   last step ran"), "{screen}");
    assert_nothing_left(dir.path());
}

#[test]
fn ctrl_c_at_the_menu_cancels_and_removes_the_container() {
    docker_ready();
    let dir = checkout();
    let tty = Tty::start(
        dir.path(),
        &[
            "run",
            "-P",
            "ubuntu-latest=gantry/busybox:latest",
            "--pause-after",
            "setup",
        ],
    );
    tty.wait_for("exit it (Ctrl-D)");
    tty.line("exit");
    tty.wait_for("[c]ontinue");
    tty.key("C-c");
    let screen = tty.wait_for("gantry exited");
    assert!(screen.contains("gantry exited 130"), "{screen}");
    assert_nothing_left(dir.path());
}

#[test]
fn closing_the_terminal_in_the_shell_removes_the_container() {
    docker_ready();
    let dir = checkout();
    let tty = Tty::start(
        dir.path(),
        &[
            "run",
            "-P",
            "ubuntu-latest=gantry/busybox:latest",
            "--pause-before",
            "2",
        ],
    );
    tty.wait_for("exit it (Ctrl-D)");
    tty.line("echo in-the-shell");
    tty.wait_for("in-the-shell");
    tty.close();
    assert_nothing_left(dir.path());
}

#[test]
fn a_pause_without_a_terminal_is_an_error_unless_it_may_time_out() {
    Test::new()
        .file(".github/workflows/ci.yml", WORKFLOW)
        .args(["run", "-P", "ubuntu-latest=host", "--pause-on-failure"])
        .status(2)
        .stderr(
            "
            error: a pause needs a terminal (stdin and stdout are not one); give --pause-timeout SECS to pause without one
            ",
        )
        .run();
    Test::new()
        .file(".github/workflows/ci.yml", WORKFLOW)
        .args(["run", "-P", "ubuntu-latest=host", "--pause-before", "deploy.nope"])
        .status(2)
        .stderr(
            "
            error: no step of the jobs that run is named `deploy.nope`; name a step by its `id`, its name, its position (1, 2, ...) or `JOB.STEP`
            ",
        )
        .run();
    let out = Test::new()
        .file(".github/workflows/ci.yml", WORKFLOW)
        .args(["run", "-P", "ubuntu-latest=host", "--pause-on-failure"])
        .args(["--pause-timeout", "1", "--json"])
        .status(1)
        .output();
    let events = json_lines(&out.stdout);
    let paused: Vec<_> = events.iter().filter(|e| e["type"] == "paused").collect();
    assert_eq!(paused.len(), 1, "{}", out.stdout);
    assert_eq!(paused[0]["reason"], "failure");
    assert_eq!(paused[0]["step_id"], "check");
    assert_eq!(paused[0]["timeout_secs"], 1);
    let resumed: Vec<_> = events.iter().filter(|e| e["type"] == "resumed").collect();
    assert_eq!(resumed[0]["action"], "continuing");
}

#[test]
fn explain_shows_conditions_env_commands_actions_and_skips() {
    let out = Test::new()
        .file_verbatim(".github/workflows/ci.yml", EXPLAINED)
        .args(["run", "--dry-run", "--explain", "-s", "TOKEN=abc123secret"])
        .output();
    assert!(!out.stdout.contains("abc123secret"));
    insta::assert_snapshot!(out.stdout);
}

/// A step with every kind of value `--explain` shows, a status-function step, and a job its
/// `if` skips.
const EXPLAINED: &str = r#"name: ci
on: push
env:
  LEVEL: workflow
jobs:
  build:
    runs-on: ubuntu-latest
    env:
      TOKEN: ${{ secrets.TOKEN }}
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - id: greet
        if: github.event_name == 'push' && env.LEVEL == 'workflow'
        shell: bash
        working-directory: app
        env:
          WHO: ${{ github.actor }}
        run: echo "hello $WHO on ${{ github.ref }}"
      - if: failure()
        run: echo cleanup
  deploy:
    needs: build
    if: github.ref == 'refs/heads/release'
    runs-on: ubuntu-latest
    steps:
      - uses: ./.github/actions/deploy
        with:
          target: prod
"#;

#[test]
fn from_replays_the_steps_before_quietly_and_runs_the_edited_step() {
    let workflow = |check: &str| {
        format!(
            r#"
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - id: setup
                    run: |
                      echo "slow setup output"
                      echo "FROM_SETUP=ready" >> "$GITHUB_ENV"
                  - id: check
                    run: {check}
                  - run: echo "after check"
            "#
        )
    };
    let first = Test::new()
        .file(".github/workflows/ci.yml", &workflow("exit 3"))
        .args(["run", "-P", "ubuntu-latest=host"])
        .status(1)
        .output();
    let dir = first.dir.path();
    std::fs::write(
        dir.join(".github/workflows/ci.yml"),
        unindent(&workflow("echo \"fixed step sees $FROM_SETUP\"")),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(["--color", "never", "run", "-P", "ubuntu-latest=host"])
        .args(["--from", "build.check"])
        .current_dir(dir)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(
        stderr,
        "gantry: no kept environment to reuse for job `build`; re-creating it by replaying steps 1-1 (their output is in the run log), then running from step 2 `Run echo \"fixed step sees $FROM_SETUP\"`\n"
    );
    assert!(stdout.contains("fixed step sees ready"), "{stdout}");
    assert!(stdout.contains("after check"), "{stdout}");
    assert!(!stdout.contains("]   slow setup output"), "{stdout}");
    let log = crate::run::read_tree(&dir.join(".gantry/runs/2"));
    assert!(log.contains("slow setup output"), "{log}");
}

#[test]
fn watch_reruns_on_a_change_and_cancels_a_running_attempt_first() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = dir.path().join(".github/workflows/ci.yml");
    std::fs::create_dir_all(workflow.parent().unwrap()).unwrap();
    std::fs::write(
        &workflow,
        unindent(
            r#"
            on: push
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - run: echo "message is $(cat message.txt)"
                  - run: if [ -f slow ]; then echo "going slow"; sleep 600; fi
            "#,
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("message.txt"), "first").unwrap();
    let tty = Tty::start(dir.path(), &["run", "-P", "ubuntu-latest=host", "--watch"]);
    tty.wait_for("message is first");
    tty.wait_for("for changes (Ctrl-C to stop)");
    std::fs::write(dir.path().join("message.txt"), "second").unwrap();
    tty.wait_for("message is second");
    tty.wait_for_nth("for changes (Ctrl-C to stop)", 2);
    std::fs::write(dir.path().join("slow"), "").unwrap();
    tty.wait_for("]   going slow");
    std::fs::remove_file(dir.path().join("slow")).unwrap();
    std::fs::write(dir.path().join("message.txt"), "third").unwrap();
    tty.wait_for("changed; cancelling the running attempt");
    tty.wait_for("message is third");
    tty.wait_for_nth("for changes (Ctrl-C to stop)", 3);
    tty.key("C-c");
    let screen = tty.wait_for("gantry exited");
    assert!(screen.contains("gantry exited 0"), "{screen}");
    assert!(screen.contains("Run was cancelled"), "{screen}");
}
