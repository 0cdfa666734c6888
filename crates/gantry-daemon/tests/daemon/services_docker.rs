//! The runner services end to end on Docker with the real actions from `../shared/actions`,
//! taken from the daemon's action store (`[actions]`): `actions/cache@v4` saves in its post
//! step, and later runs of the repository restore by exact key (after a daemon restart) and
//! by restore-key prefix; `upload-artifact@v4` uploads files and a directory in one job and
//! `download-artifact@v4` gets them byte for byte in a dependent job; the API lists the run's
//! artifacts and serves each as the zip the action made. NEEDS DOCKER and the runner image.

use std::process::Command;
use std::sync::Arc;

use gantry_actions::{ActionRef, ActionStore};
use gantry_daemon::EngineLauncher;
use serde_json::{Value, json};

use crate::common::*;

#[path = "../../../../tests/support/real_actions.rs"]
mod real_actions;
use real_actions::{services_workflow, stored_actions};

const IMAGE: &str = "gantry/runner:bookworm";

/// A daemon whose jobs run in the runner image, with `tests/fixtures/services/<file>` in its
/// repository and the real actions in its store.
fn docker_env(file: &str) -> Env {
    let mut env = Env::new();
    env.repo(REPO, &[(file, &services_workflow(file))]);
    env.config
        .labels
        .insert("ubuntu-latest".to_owned(), IMAGE.to_owned());
    let store = ActionStore::open(&env.config.data_dir).unwrap();
    for (name, dir) in stored_actions() {
        store.add(&ActionRef::parse(name).unwrap(), &dir).unwrap();
    }
    env
}

async fn start(env: &Env) -> Server {
    let source = gantry_daemon::actions::action_source(&env.config).unwrap();
    let launcher =
        EngineLauncher::with_docker(Some(docker_with_image(IMAGE).await), env.path("host"))
            .with_action_source(source);
    env.start_with(Arc::new(launcher)).await
}

/// Dispatches the repository's workflow with `inputs`; waits for the run; its log of `job`.
async fn dispatch(client: &Client, inputs: Value, job: &str) -> (i64, String) {
    let reply = client
        .post(
            "/api/repos/Codertocat/Hello-World/dispatch",
            json!({ "inputs": inputs }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = run_ids(&reply)[0];
    // Ten minutes at most: the artifacts run moves 200 MB up and down.
    let run = client.wait_completed_polls(id, 24_000).await;
    let log = log_text(client, id, job).await;
    assert_eq!(run["conclusion"], "success", "{run}\n{log}");
    (id, log)
}

#[tokio::test(flavor = "multi_thread")]
async fn actions_cache_keeps_a_repositorys_caches_between_runs_and_restarts() {
    let env = docker_env("cache.yml");
    let mut server = start(&env).await;
    let (_, first) = dispatch(&server.client, json!({"key": "deps-one"}), "cache").await;
    for line in [
        "restored hit= content=none",
        "Cache saved with key: deps-one",
    ] {
        assert!(first.contains(line), "{line}\n{first}");
    }
    server.stop().await;

    // A new daemon process on the same data directory: new tokens, the same caches.
    let mut server = start(&env).await;
    let (_, exact) = dispatch(&server.client, json!({"key": "deps-one"}), "cache").await;
    let (_, prefix) = dispatch(&server.client, json!({"key": "deps-two"}), "cache").await;
    for (log, line) in [
        (&exact, "Cache restored from key: deps-one"),
        (&exact, "restored hit=true content=saved by deps-one"),
        (&prefix, "Cache restored from key: deps-one"),
        (&prefix, "restored hit=false content=saved by deps-one"),
        (&prefix, "Cache saved with key: deps-two"),
    ] {
        assert!(log.contains(line), "{line}\n{log}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn artifacts_pass_between_jobs_and_the_api_serves_their_zips() {
    let env = docker_env("artifacts.yml");
    let mut server = start(&env).await;
    let client = server.client.clone();
    let (id, down) = dispatch(&client, json!({}), "down").await;
    assert!(down.contains("big.bin: OK"), "{down}");
    assert!(down.contains("sub/b.txt: OK"), "{down}");
    assert!(down.contains("verified 200000000 bytes"), "{down}");

    let listed = client.get(&format!("/api/runs/{id}/artifacts")).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let artifacts = listed.body["artifacts"].as_array().unwrap().clone();
    let mut names: Vec<&str> = artifacts
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["files", "sums", "tree"], "{}", listed.body);
    let sums = artifacts.iter().find(|a| a["name"] == "sums").unwrap();
    let url = client.url(sums["archive_download_url"].as_str().unwrap());
    let zip = client
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(zip.len() as u64, sums["size_in_bytes"].as_u64().unwrap());
    let path = env.path("sums.zip");
    std::fs::write(&path, &zip).unwrap();
    // python3's zipfile reads it as a zip (scripts/ensure-tools.sh installs python3).
    let listing = Command::new("python3")
        .args(["-m", "zipfile", "-l"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(listing.status.success(), "{listing:?}");
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.contains("files.sha256") && listing.contains("tree.sha256"),
        "{listing}"
    );
    server.stop().await;
}

/// download-artifact@v4 with `run-id` and `github-token` in a later run reads an earlier run's
/// artifacts through `GITHUB_API_URL` at the daemon's address, with the later run's
/// `GITHUB_TOKEN` (the earlier run's token died with its run); another repository's are
/// refused (the reason is the step's annotation, which gantry-cli's test reads), and an API
/// call gantry does not serve gets GitHub's 404 at once.
#[tokio::test(flavor = "multi_thread")]
async fn download_artifact_with_run_id_reads_an_earlier_runs_artifacts() {
    let env = docker_env("run-id.yml");
    let mut server = start(&env).await;
    let client = server.client.clone();
    let (earlier, up) = dispatch(&client, json!({}), "up").await;
    assert!(up.contains(&format!("uploaded by run {earlier}")), "{up}");
    let (later, down) = dispatch(&client, json!({"from": earlier.to_string()}), "down").await;
    for line in [
        "data.bin: OK".to_owned(),
        "sub/c.txt: OK".to_owned(),
        format!("run {later} verified 3000000 bytes of run {earlier}"),
        "another repository: failure".to_owned(),
        "other api call: 404 Not Found".to_owned(),
    ] {
        assert!(down.contains(&line), "{line}\n{down}");
    }
    let own = client.get(&format!("/api/runs/{later}/artifacts")).await;
    assert_eq!(own.body["total_count"], 0, "{}", own.body);
    let theirs = client.get(&format!("/api/runs/{earlier}/artifacts")).await;
    assert_eq!(theirs.body["total_count"], 2, "{}", theirs.body);
    server.stop().await;
}
