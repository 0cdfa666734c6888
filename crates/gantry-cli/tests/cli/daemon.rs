//! `gantry daemon --check-config`: exit 0 for a valid file, 1 with every problem listed, 2 when
//! the file cannot be read or parsed. (The daemon itself is tested end to end in
//! gantry-daemon's own tests.)

use crate::test::Test;

#[test]
fn a_valid_configuration_is_ok() {
    Test::new()
        .file(
            "gantry.toml",
            r#"
            data_dir = "data"
            webhook_secret = "s"
            [labels]
            self-hosted = "host"
            [repositories."octo/hello"]
            url = "/srv/git/hello.git"
            "#,
        )
        .args(["daemon", "--config", "gantry.toml", "--check-config"])
        .stdout("gantry.toml: ok\n")
        .run();
}

#[test]
fn every_problem_is_listed_with_status_1() {
    Test::new()
        .file(
            "gantry.toml",
            r#"
            data_dir = "data"
            capacity = 0
            [repositories."octo"]
            url = "https://example.com/octo.git"
            "#,
        )
        .args(["daemon", "--config", "gantry.toml", "--check-config"])
        .stderr(
            r#"
            gantry.toml: capacity must be at least 1
            gantry.toml: repositories."octo": the name must be owner/repo
            gantry.toml: repositories."octo".url: 'https://example.com/octo.git' is not a local path or file:// URL (gantry fetches without network transports)
            gantry.toml: repositories."octo": no webhook_secret (set one, a top-level webhook_secret, or insecure = true)
            "#,
        )
        .status(1)
        .run();
}

#[test]
fn a_missing_file_is_status_2() {
    let output = Test::new()
        .args(["daemon", "--config", "missing.toml", "--check-config"])
        .status(2)
        .output();
    assert!(
        output.stderr.contains("cannot read missing.toml"),
        "{}",
        output.stderr
    );
}

/// The real binary end to end: `gantry daemon` serves, a signed release webhook runs a
/// workflow with the engine on a `host` label, and SIGTERM drains with status 0.
#[test]
fn the_daemon_runs_a_signed_webhook_and_drains_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
            .args(args)
            .current_dir(&repo)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    };
    std::fs::create_dir_all(repo.join(".github/workflows")).unwrap();
    std::fs::write(
        repo.join(".github/workflows/release.yml"),
        "on: release\njobs:\n  ship:\n    runs-on: self-hosted\n    steps:\n      - run: echo shipped ${{ github.ref }}\n",
    )
    .unwrap();
    git(&["init", "-q", "-b", "master"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "init"]);
    git(&["tag", "0.0.1"]);
    let config = dir.path().join("gantry.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{data}\"\n[labels]\nself-hosted = \"host\"\n[repositories.\"Codertocat/Hello-World\"]\nurl = \"{repo}\"\ndefault_branch = \"master\"\nwebhook_secret = \"cli-secret\"\n",
            data = dir.path().join("data").display(),
            repo = repo.display(),
        ),
    )
    .unwrap();
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_gantry"))
        .args(["daemon", "--config"])
        .arg(&config)
        .env_remove("GANTRY_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = daemon.stdout.take().unwrap();
    // Killed if an assertion fails before the drain below.
    let mut daemon = Reaped(Some(daemon));
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();

    let payload = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/webhooks/release/published.payload.json");
    let body = std::fs::read(&payload).unwrap();
    let signature = gantry_daemon::signature::sign(b"cli-secret", &body);
    let curl = |args: &[&str]| {
        let out = Command::new("curl").arg("-sS").args(args).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let reply = curl(&[
        "-X",
        "POST",
        "-H",
        "X-GitHub-Event: release",
        "-H",
        "X-GitHub-Delivery: cli-1",
        "-H",
        &format!("X-Hub-Signature-256: {signature}"),
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &format!("@{}", payload.display()),
        &format!("http://{addr}/webhook"),
    ]);
    let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
    let id = reply["runs"][0]
        .as_i64()
        .unwrap_or_else(|| panic!("{reply}"));
    let mut run = serde_json::Value::Null;
    for _ in 0..1200 {
        run = serde_json::from_str(&curl(&[&format!("http://{addr}/api/runs/{id}")])).unwrap();
        if run["status"] == "completed" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    let logs = curl(&[&format!("http://{addr}/api/runs/{id}/jobs/ship/logs")]);
    let mut child = daemon.0.take().unwrap();
    // SAFETY: signalling the child this test spawned (not yet waited for), by its pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(run["conclusion"], "success", "{run}");
    assert!(logs.contains("shipped refs/tags/0.0.1"), "{logs}");
    assert_eq!(status.code(), Some(0));
}

/// A child process killed on drop unless it was taken out to be waited for.
struct Reaped(Option<std::process::Child>);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
