//! `kill -9` of a real daemon process (the `daemon` example) and a restart: every
//! acknowledged delivery still gets exactly one run.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::common::*;

/// The example binary, built by `cargo test` next to the test binaries.
pub fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let debug_dir = exe.parent().unwrap().parent().unwrap();
    let path = debug_dir.join("examples").join("daemon");
    assert!(
        path.exists(),
        "{} is missing: build with cargo test",
        path.display()
    );
    path
}

/// A daemon process that is killed when dropped (even if the test fails).
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn spawn(config: &std::path::Path) -> (Process, Client) {
    let mut child = Command::new(example_binary())
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (Process(child), Client::new(addr))
}

fn write_config(env: &Env, port: u16) -> PathBuf {
    let repo = &env.config.repositories[REPO];
    let toml = format!(
        "listen = \"127.0.0.1:{port}\"\ndata_dir = '{}'\ncapacity = 1\n\n[repositories.\"{REPO}\"]\nurl = '{}'\nwebhook_secret = \"{SECRET}\"\n",
        env.config.data_dir.display(),
        repo.url,
    );
    let path = env.path("gantry.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

pub fn kill9(process: Process) {
    let pid = i32::try_from(process.0.id()).unwrap();
    // SAFETY: signalling a child process this test started; SIGKILL is 9 on every Unix.
    unsafe { signal(pid, 9) };
    drop(process);
}

unsafe fn signal(pid: i32, sig: i32) {
    unsafe extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    unsafe {
        kill(pid, sig);
    }
}

#[tokio::test]
async fn kill_9_then_restart_runs_every_acknowledged_delivery_exactly_once() {
    let mut env = Env::new();
    let wf = gated_workflow(&env, "release", "");
    env.repo(REPO, &[("gated.yml", &wf)]);
    let config = write_config(&env, 0);
    let (process, client) = spawn(&config);
    let payload = payload("release/published.payload.json");

    // One run in flight, two acknowledged and queued behind it (capacity 1).
    let mut acknowledged = Vec::new();
    for delivery in ["k1", "k2", "k3"] {
        let reply = client.webhook("release", delivery, &payload).await;
        assert_eq!(reply.status, 202, "{}", reply.body);
        acknowledged.extend(run_ids(&reply));
    }
    assert_eq!(acknowledged.len(), 3);
    let in_flight = acknowledged[0];
    client.wait_status(in_flight, "running").await;
    // Killed mid-step: the engine sets the job up (workspace copy) before the step marks.
    let mark = format!("run {in_flight}");
    for _ in 0..600 {
        if env.marks().contains(&mark) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(env.marks().contains(&mark), "the step never started");
    kill9(process);

    // The restarted daemon fails the interrupted run, reaps its step and runs the others.
    let (_process, client) = spawn(&config);
    let crashed = client.run(in_flight).await;
    assert_eq!(crashed["status"], "completed", "{crashed}");
    assert_eq!(crashed["conclusion"], "failure");
    assert!(
        crashed["reason"]
            .as_str()
            .unwrap()
            .contains("daemon stopped")
    );
    env.open_gate();
    for &id in &acknowledged[1..] {
        assert_eq!(client.wait_completed(id).await["conclusion"], "success");
    }
    let redelivered = client.webhook("release", "k2", &payload).await;
    assert_eq!(redelivered.status, 200);
    let mut marks = env.marks();
    marks.sort();
    let want: Vec<String> = acknowledged.iter().map(|id| format!("run {id}")).collect();
    assert_eq!(marks, want, "each acknowledged run executed exactly once");
    let all = client.get("/api/runs").await.body;
    assert_eq!(all["runs"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn sigterm_drains_the_real_process() {
    let mut env = Env::new();
    let wf = gated_workflow(&env, "release", "");
    env.repo(REPO, &[("gated.yml", &wf)]);
    let config = write_config(&env, 0);
    let (mut process, client) = spawn(&config);
    let reply = client
        .webhook("release", "t1", &payload("release/published.payload.json"))
        .await;
    let id = run_ids(&reply)[0];
    client.wait_status(id, "running").await;
    let pid = i32::try_from(process.0.id()).unwrap();
    // SAFETY: signalling a child process this test started; SIGTERM is 15 on Linux.
    unsafe { signal(pid, 15) };
    let mut draining = false;
    for _ in 0..1200 {
        if client.get("/healthz").await.status == 503 {
            draining = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(draining, "the daemon never started draining");
    let refused = client
        .webhook("release", "t2", &payload("release/published.payload.json"))
        .await;
    assert_eq!(refused.status, 503);
    env.open_gate();
    let status = tokio::task::spawn_blocking(move || process.0.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
    let store = gantry_daemon::SqliteStore::open(&env.config.data_dir).unwrap();
    let detail = gantry_daemon::Store::run_detail(&store, id)
        .unwrap()
        .unwrap();
    assert_eq!(detail.run.conclusion.as_deref(), Some("success"));
}

/// A gated workflow that first writes its `GITHUB_TOKEN` where the test can read it.
fn token_workflow(env: &Env) -> String {
    gated_workflow(env, "release", "").replace(
        "          echo \"run",
        &format!(
            "          printf '%s' '${{{{ secrets.GITHUB_TOKEN }}}}' > '{}'\n          echo \"run",
            env.path("token").display()
        ),
    )
}

/// `GET /-/whoami` with `token`: 200 while the token is valid, 401 once revoked.
async fn whoami(client: &Client, token: &str) -> u16 {
    let request = client.http.get(client.url("/-/whoami")).bearer_auth(token);
    request.send().await.unwrap().status().as_u16()
}

async fn wait_for_token(env: &Env, client: &Client, id: i64) -> String {
    for _ in 0..1200 {
        if let Ok(token) = std::fs::read_to_string(env.path("token"))
            && !token.is_empty()
        {
            return token;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the run never wrote its token: {}", client.run(id).await);
}

#[tokio::test]
async fn a_runs_token_is_revoked_when_it_ends_and_after_a_crash() {
    let mut env = Env::new();
    let wf = token_workflow(&env);
    env.repo(REPO, &[("token.yml", &wf)]);
    let config = write_config(&env, 0);
    let payload = payload("release/published.payload.json");

    // A run that ends: its token answers during the run, not after.
    let (process, client) = spawn(&config);
    let reply = client.webhook("release", "t1", &payload).await;
    let id = run_ids(&reply)[0];
    let token = wait_for_token(&env, &client, id).await;
    assert!(token.starts_with("gtk_"), "{token}");
    assert_eq!(whoami(&client, &token).await, 200, "during the run");
    env.open_gate();
    assert_eq!(client.wait_completed(id).await["conclusion"], "success");
    assert_eq!(whoami(&client, &token).await, 401, "after the run");

    // A run a kill -9 interrupted: the restarted daemon revokes its token.
    std::fs::remove_file(env.gate()).unwrap();
    std::fs::remove_file(env.path("token")).unwrap();
    let reply = client.webhook("release", "t2", &payload).await;
    let id = run_ids(&reply)[0];
    let token = wait_for_token(&env, &client, id).await;
    assert_eq!(whoami(&client, &token).await, 200, "during the second run");
    kill9(process);
    let (_process, client) = spawn(&config);
    assert_eq!(client.run(id).await["conclusion"], "failure");
    assert_eq!(whoami(&client, &token).await, 401, "after the crash");
}
