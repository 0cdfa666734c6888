//! Cleanups remove their own and nothing else, and host steps die with their daemon:
//!
//! * a daemon's start removes only the engine objects labelled with its own instance id
//!   (never another daemon's or a running `gantry run`'s), and `gantry clean` only what ended
//!   `gantry run`s of its repository left;
//! * a secret a step gets through `env:` is in no file on disk while the step runs;
//! * `kill -9` of a real `gantry daemon` in the middle of a host step: the step's session
//!   leader dies with it, what the step started is killed at the restart before the re-queued
//!   attempt runs, and the killed attempt's job directory (its step script held a secret) is
//!   removed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gantry_docker::{LABEL_MANAGED, LABEL_OWNER, LABEL_SCOPE, Owner, ProcessId};

const IMAGE: &str = "gantry/busybox:latest";
const SECRET: &str = "isolation-secret-5521";

/// Containers this test created, removed on drop whatever happened.
struct Containers(Vec<String>);

impl Containers {
    fn create(&mut self, labels: &[(&str, &str)]) -> String {
        let mut cmd = Command::new("docker");
        cmd.args(["create", "--label", &format!("{LABEL_MANAGED}=true")]);
        for (key, value) in labels {
            cmd.args(["--label", &format!("{key}={value}")]);
        }
        let out = cmd.args([IMAGE, "true"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        self.0.push(id.clone());
        id
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f"])
                .args(&self.0)
                .output();
        }
    }
}

fn exists(id: &str) -> bool {
    Command::new("docker")
        .args(["container", "inspect", id])
        .output()
        .unwrap()
        .status
        .success()
}

/// An owner label for a process of this machine that has ended.
fn ended_process() -> Owner {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let Owner::Process(me) = Owner::this_process() else {
        unreachable!("this process is a process")
    };
    Owner::Process(ProcessId { pid, ..me })
}

fn git(repo: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args(args)
        .current_dir(repo)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// A repository with one workflow, committed.
fn repository(dir: &Path, workflow: &str) -> PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir_all(repo.join(".github/workflows")).unwrap();
    std::fs::write(repo.join(".github/workflows/ci.yml"), workflow).unwrap();
    git(&repo, &["init", "-q", "-b", "master"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "init"]);
    repo
}

fn write_config(dir: &Path, repo: &Path, instance: &str) -> PathBuf {
    let config = dir.join("gantry.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{data}\"\ncapacity = 1\non_restart = \"requeue\"\n\
             [store]\ninstance_id = \"{instance}\"\n[labels]\nself-hosted = \"host\"\n\
             [repositories.\"o/r\"]\nurl = \"{repo}\"\ndefault_branch = \"master\"\n\
             webhook_secret = \"s\"\n[repositories.\"o/r\".secrets]\nTOKEN = \"{SECRET}\"\n",
            data = dir.join("data").display(),
            repo = repo.display(),
        ),
    )
    .unwrap();
    config
}

/// A `gantry daemon` process, killed on drop; `addr` once it serves (its start-up reaping is
/// over by then).
struct Daemon {
    child: Option<Child>,
    addr: String,
}

impl Daemon {
    fn start(config: &Path) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gantry"))
            .args(["daemon", "--config"])
            .arg(config)
            .env_remove("GANTRY_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut daemon = Daemon {
            child: Some(child),
            addr: String::new(),
        };
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        daemon.addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        daemon
    }

    fn signal(mut self, signal: libc::c_int) {
        let mut child = self.child.take().unwrap();
        // SAFETY: signalling the child this test spawned (not yet waited for), by its pid.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        child.wait().unwrap();
    }

    fn curl(&self, args: &[&str], path: &str) -> serde_json::Value {
        let out = Command::new("curl")
            .arg("-sS")
            .args(args)
            .arg(format!("http://{}{path}", self.addr))
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stdout)))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn daemon_recovery_and_clean_remove_only_their_own_objects() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repository(
        dir.path(),
        "on: workflow_dispatch\njobs:\n  a:\n    runs-on: self-hosted\n    steps:\n      - run: 'true'\n",
    );
    let instance = format!("isolation-{}", uuid::Uuid::new_v4().simple());
    let scope = std::fs::canonicalize(&repo).unwrap().display().to_string();
    let elsewhere = dir.path().join("elsewhere").display().to_string();
    let (ended, running) = (ended_process().label(), Owner::this_process().label());
    let mine = Owner::Daemon(instance.clone()).label();
    let other_daemon = Owner::Daemon(format!("{instance}-other")).label();
    let mut made = Containers(Vec::new());
    let ended_here = made.create(&[(LABEL_OWNER, &ended), (LABEL_SCOPE, &scope)]);
    let running_here = made.create(&[(LABEL_OWNER, &running), (LABEL_SCOPE, &scope)]);
    let ended_elsewhere = made.create(&[(LABEL_OWNER, &ended), (LABEL_SCOPE, &elsewhere)]);
    let daemons_own = made.create(&[(LABEL_OWNER, &mine)]);
    let other_daemons = made.create(&[(LABEL_OWNER, &other_daemon)]);

    let daemon = Daemon::start(&write_config(dir.path(), &repo, &instance));
    daemon.signal(libc::SIGTERM);
    assert!(
        !exists(&daemons_own),
        "the daemon's own leftover survived its start"
    );
    for id in [&ended_here, &running_here, &ended_elsewhere, &other_daemons] {
        assert!(exists(id), "{id} was removed by another daemon's start");
    }

    let out = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .arg("clean")
        .current_dir(&repo)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!exists(&ended_here), "{stdout}");
    assert!(
        stdout.contains(&format!("removed container {}", &ended_here[..12])),
        "{stdout}"
    );
    for id in [&running_here, &ended_elsewhere, &other_daemons] {
        assert!(exists(id), "gantry clean removed {id}: {stdout}");
    }
    assert!(stdout.contains("gantry clean --all"), "{stdout}");
}

/// Whether a process with this pid and start time still runs (a zombie is dead).
fn alive(pid: u32, start: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| alive_in(&stat, start))
}

fn start_time(pid: u32) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat_fields(&stat)[19].to_owned()
}

/// The fields of a `/proc/<pid>/stat` line after the command name: state first.
fn stat_fields(stat: &str) -> Vec<&str> {
    stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .collect()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1200 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("gave up waiting for {what}");
}

fn read_pid(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_host_step_dies_with_its_killed_daemon_and_its_directory_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let marks = dir.path().join("marks");
    std::fs::create_dir(&marks).unwrap();
    // Attempt 1 leaves a background child and waits; the re-queued attempt 2 looks for it.
    let workflow = format!(
        "on: workflow_dispatch\njobs:\n  a:\n    runs-on: self-hosted\n    steps:\n      - run: |\n          \
         M={marks}; A=${{{{ github.run_attempt }}}}; T='${{{{ secrets.TOKEN }}}}'\n          \
         if [ \"$A\" = 1 ]; then\n            \
         sleep 300 &\n            echo $! > $M/child\n            echo $$ > $M/leader\n            wait\n          \
         fi\n          \
         if [ -r /proc/$(cat $M/child)/stat ]; then cat /proc/$(cat $M/child)/stat; fi > $M/seen-by-$A\n",
        marks = marks.display()
    );
    let repo = repository(dir.path(), &workflow);
    let instance = format!("isolation-{}", uuid::Uuid::new_v4().simple());
    let config = write_config(dir.path(), &repo, &instance);
    let host = dir.path().join("data/host");

    let daemon = Daemon::start(&config);
    let reply = daemon.curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            "{}",
        ],
        "/api/repos/o/r/dispatch",
    );
    let id = reply["runs"][0]
        .as_i64()
        .unwrap_or_else(|| panic!("{reply}"));
    wait_for("the step's background child", || {
        marks.join("leader").exists()
    });
    let (leader, child) = (
        read_pid(&marks.join("leader")),
        read_pid(&marks.join("child")),
    );
    let (leader_start, child_start) = (start_time(leader), start_time(child));
    // Should the test fail half-way, the step's processes still go.
    let _guards = [
        Stray(leader, leader_start.clone()),
        Stray(child, child_start.clone()),
    ];
    let job_dirs: Vec<PathBuf> = std::fs::read_dir(&host)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(job_dirs.len(), 1, "{job_dirs:?}");
    let holds_secret = walk_files(&job_dirs[0])
        .iter()
        .any(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains(SECRET)));
    assert!(holds_secret, "the step script should hold the secret");

    daemon.signal(libc::SIGKILL);
    wait_for("the step's leader to die with the daemon", || {
        !alive(leader, &leader_start)
    });

    let daemon = Daemon::start(&config);
    assert!(
        !alive(child, &child_start),
        "the killed attempt's background child outlived the restart"
    );
    assert!(
        !job_dirs[0].exists(),
        "{} survived the restart",
        job_dirs[0].display()
    );
    let mut run = serde_json::Value::Null;
    wait_for("the re-queued run to complete", || {
        run = daemon.curl(&[], &format!("/api/runs/{id}"));
        run["status"] == "completed"
    });
    daemon.signal(libc::SIGTERM);
    assert_eq!(run["conclusion"], "success", "{run}");
    assert_eq!(run["attempt"], 2, "{run}");
    let seen = std::fs::read_to_string(marks.join("seen-by-2")).unwrap();
    let running = !seen.is_empty() && alive_in(&seen, &child_start);
    assert!(
        !running,
        "attempt 2 ran while attempt 1's child did: {seen}"
    );
}

/// Whether a stat line shows the process that started at `start`, not yet a zombie.
fn alive_in(stat: &str, start: &str) -> bool {
    let fields = stat_fields(stat);
    fields[0] != "Z" && fields[19] == start
}

/// A process the test saw the step start, killed on drop if it still runs.
struct Stray(u32, String);

impl Drop for Stray {
    fn drop(&mut self) {
        if alive(self.0, &self.1) {
            // SAFETY: kill(2) of one pid, checked just now to be the step's process.
            unsafe { libc::kill(self.0 as libc::pid_t, libc::SIGKILL) };
        }
    }
}

fn walk_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.is_symlink() {
                dirs.push(path);
            } else if path.is_file() {
                files.push(path);
            }
        }
    }
    files
}

/// A secret a step gets through `env:` (not written into its `run:`) is in no file on this
/// machine while the step runs: not in the step's script, the job's files (RUNNER_TEMP, file
/// commands, the docker executor's step requests, which travel over the agent's stdin) nor in
/// what gantry stores of the run. On the host and in a container.
#[test]
fn a_secret_in_a_steps_env_is_in_no_file_while_a_host_step_runs() {
    env_secret_stays_off_disk("ubuntu-latest=host");
}

#[test]
fn a_secret_in_a_steps_env_is_in_no_file_while_a_container_step_runs() {
    crate::run_docker::docker_ready();
    env_secret_stays_off_disk(&format!("ubuntu-latest={IMAGE}"));
}

fn env_secret_stays_off_disk(platform: &str) {
    let secret = format!("env-secret-{}", uuid::Uuid::new_v4().simple());
    let mark = format!("started-{}", uuid::Uuid::new_v4().simple());
    let dir = crate::test::ScopedDir::new();
    let workflow = dir.path().join(".github/workflows/ci.yml");
    std::fs::create_dir_all(workflow.parent().unwrap()).unwrap();
    std::fs::write(
        &workflow,
        format!(
            "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - env:\n          \
             S: ${{{{ secrets.TOKEN }}}}\n        run: |\n          \
             touch \"$RUNNER_TEMP/{mark}\"\n          \
             while [ ! -e \"$RUNNER_TEMP/{mark}.go\" ]; do sleep 0.1; done\n          \
             echo \"secret length ${{#S}}\"\n"
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(["--color", "never", "run", "-P", platform, "-s", "TOKEN"])
        .env("TOKEN", &secret)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut run = Running(Some(child));
    let mut marker = None;
    wait_for("the step to start", || {
        marker = job_files().into_iter().find(|f| f.ends_with(&mark));
        marker.is_some()
    });
    let mut files = job_files();
    files.extend(walk_tolerant(dir.path()));
    let holding: Vec<&PathBuf> = files
        .iter()
        .filter(|f| std::fs::read(f).is_ok_and(|b| contains(&b, secret.as_bytes())))
        .collect();
    assert!(
        holding.is_empty(),
        "files holding the step's secret: {holding:?}"
    );
    let marker = marker.unwrap();
    std::fs::write(marker.with_file_name(format!("{mark}.go")), b"").unwrap();
    let output = run.0.take().unwrap().wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("secret length {}", secret.len())),
        "the step did not get the secret: {stdout}"
    );
}

/// A `gantry run` interrupted on drop, should the test fail while its step waits: Ctrl-C
/// makes it cancel the step and remove its job (container and directory), which a SIGKILL
/// would leave.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            // SAFETY: signalling the child this test spawned (not yet waited for), by its pid.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
            let _ = child.wait();
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every file below the job directories of both executors (`gantry-job-*` for Docker jobs,
/// the per-user `gantry-host-*` base for host jobs); other runs' too, whose files cannot hold
/// this test's random secret.
fn job_files() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("gantry-job-") || name.starts_with("gantry-host-")
        })
        .flat_map(|e| walk_tolerant(&e.path()))
        .collect()
}

/// Like [`walk_files`], but other tests' directories may vanish while it walks.
fn walk_tolerant(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                dirs.push(path);
            } else if kind.is_file() {
                files.push(path);
            }
        }
    }
    files
}
