//! The real engine behind the daemon: a signed webhook runs a workflow with gantry-runner on
//! the host executor (and on Docker with `gantry/busybox:latest` when Docker is there), and a
//! release workflow publishes to the daemon's own npm registry with its `GITHUB_TOKEN`.

use std::sync::Arc;

use gantry_daemon::EngineLauncher;
use serde_json::Value;

use crate::common::*;

const HOST_WORKFLOW: &str = r#"name: release
on: release
jobs:
  build:
    runs-on: self-hosted
    steps:
      - name: greet
        run: echo "hello from ${{ github.event_name }} ${{ github.ref }}"
      - name: secret
        run: |
          echo "the secret is ${{ secrets.DEPLOY_KEY }}"
          echo "::warning file=src/lib.rs,line=3::careful"
          echo '## Shipped' >> "$GITHUB_STEP_SUMMARY"
  after:
    needs: build
    runs-on: self-hosted
    steps:
      - run: test -f .github/workflows/release.yml && echo "workspace has the repository"
"#;

fn host_env(workflow: &str) -> Env {
    host_env_with(&[("release.yml", workflow)])
}

/// [`host_env`] with several workflow files.
fn host_env_with(workflows: &[(&str, &str)]) -> Env {
    let mut env = Env::new();
    env.repo(REPO, workflows);
    env.config
        .labels
        .insert("self-hosted".to_owned(), "host".to_owned());
    if let Some(repo) = env.config.repositories.get_mut(REPO) {
        repo.secrets
            .insert("DEPLOY_KEY".to_owned(), "s3cr3t-value".to_owned());
    }
    env
}

#[tokio::test]
async fn a_webhook_runs_the_workflow_with_the_engine_on_the_host() {
    let env = host_env(HOST_WORKFLOW);
    let launcher = EngineLauncher::host_only(env.path("host"));
    let server = env.start_with(Arc::new(launcher)).await;
    let client = &server.client;
    let id = release(client, "engine-1").await;
    let run = client.wait_completed(id).await;
    assert_eq!(run["conclusion"], "success", "{run}");
    let jobs = run["jobs"].as_array().unwrap();
    assert_eq!(jobs[0]["steps"][0]["name"], "greet", "{run}");
    assert_eq!(jobs[0]["conclusion"], "success");
    assert_eq!(jobs[1]["conclusion"], "success");
    let build = log_text(client, id, "build").await;
    assert!(
        build.contains("hello from release refs/tags/0.0.1"),
        "{build}"
    );
    assert!(build.contains("the secret is ***"), "{build}");
    assert!(!build.contains("s3cr3t-value"), "{build}");
    let annotations = jobs[0]["annotations"].to_string();
    assert!(annotations.contains("careful"), "{run}");
    assert!(
        jobs[0]["summary_html"].to_string().contains("Shipped")
            || run.to_string().contains("Shipped"),
        "{run}"
    );
    let after = log_text(client, id, "after").await;
    assert!(after.contains("workspace has the repository"), "{after}");
}

/// A secret in an annotation's `file=`, its title and message, and in a step name: what the
/// API serves (the run with its annotations, the logs) never shows it.
const ANNOTATION_LEAK: &str = r#"name: release
on: release
jobs:
  build:
    runs-on: self-hosted
    steps:
      - name: step ${{ secrets.DEPLOY_KEY }}
        env:
          S: ${{ secrets.DEPLOY_KEY }}
        run: |
          echo "::warning file=cfg/$S.json,line=1::x"
          echo "::error file=$S/a.yml,title=t $S::m $S"
"#;

#[tokio::test]
async fn a_secret_in_an_annotation_file_is_masked_in_the_api() {
    let env = host_env(ANNOTATION_LEAK);
    let mut server = env.start().await;
    let client = &server.client;
    let id = release(client, "leak").await;
    let run = client.wait_completed(id).await;
    let served = format!(
        "{run}\n{}\n{}",
        client.get(&format!("/api/runs/{id}")).await.body,
        log_text(client, id, "build").await
    );
    assert!(!served.contains("s3cr3t-value"), "{served}");
    assert!(served.contains("cfg/***.json"), "{served}");
    server.stop().await;
}

#[tokio::test]
async fn a_failing_step_fails_the_run() {
    let workflow =
        "on: release\njobs:\n  build:\n    runs-on: self-hosted\n    steps:\n      - run: exit 3\n";
    let env = host_env(workflow);
    let server = env
        .start_with(Arc::new(EngineLauncher::host_only(env.path("host"))))
        .await;
    let id = release(&server.client, "engine-2").await;
    let run = server.client.wait_completed(id).await;
    assert_eq!(run["conclusion"], "failure", "{run}");
}

#[tokio::test]
async fn an_unmapped_label_fails_the_job_with_a_reason() {
    let workflow =
        "on: release\njobs:\n  build:\n    runs-on: nowhere\n    steps:\n      - run: echo hi\n";
    let env = host_env(workflow);
    let server = env
        .start_with(Arc::new(EngineLauncher::host_only(env.path("host"))))
        .await;
    let id = release(&server.client, "engine-3").await;
    let run = server.client.wait_completed(id).await;
    assert_eq!(run["conclusion"], "failure", "{run}");
}

const PUBLISH: &str = r#"name: publish
on: release
jobs:
  publish:
    runs-on: self-hosted
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          registry-url: https://npm.pkg.github.com/
      - run: npm publish
        env:
          NODE_AUTH_TOKEN: ${{ secrets.GITHUB_TOKEN }}
          npm_config_update_notifier: "false"
      - run: npm view @codertocat/hello-world version
        env:
          NODE_AUTH_TOKEN: ${{ secrets.GITHUB_TOKEN }}
          npm_config_update_notifier: "false"
"#;

const PACKAGE_JSON: &str = r#"{ "name": "@codertocat/hello-world", "version": "0.0.1",
  "repository": "https://github.com/Codertocat/Hello-World" }
"#;

#[tokio::test]
async fn a_release_workflow_publishes_to_the_daemons_own_registry() {
    assert!(
        which("npm").is_some(),
        "npm is required: scripts/ensure-tools.sh installs it (apt package `npm`)"
    );
    let mut env = host_env(PUBLISH);
    let dir = env.path("repos/Codertocat_Hello-World");
    commit_files(&dir, &[("package.json", PACKAGE_JSON)]);
    retag(&dir);
    env.config.capacity = 1;
    let server = env
        .start_with(Arc::new(EngineLauncher::host_only(env.path("host"))))
        .await;
    let client = &server.client;
    let id = release(client, "publish-1").await;
    let run = client.wait_completed(id).await;
    let log = log_text(client, id, "publish").await;
    assert_eq!(run["conclusion"], "success", "{run}\n{log}");
    assert!(log.contains("0.0.1"), "{log}");
    // The package is private: an anonymous read through the daemon's port is refused by the
    // registry (not by a missing route).
    let anonymous = client.get("/@codertocat%2fhello-world").await;
    assert!(
        anonymous.status == 401 || anonymous.status == 404,
        "{}",
        anonymous.status
    );
}

#[tokio::test]
async fn the_registry_answers_on_the_daemons_port() {
    let env = host_env(HOST_WORKFLOW);
    let server = env.start().await;
    let response = server
        .client
        .http
        .get(server.client.url("/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response
            .headers()
            .get("docker-distribution-api-version")
            .map(|v| v.to_str().unwrap().to_owned()),
        Some("registry/2.0".to_owned())
    );
    assert_eq!(response.status().as_u16(), 401);
    // The daemon's own routes still win over the registry's catch-all.
    assert_eq!(server.client.get("/healthz").await.status, 200);
    let runs: Value = server.client.get("/api/runs").await.body;
    assert!(runs["runs"].is_array(), "{runs}");
}

#[tokio::test]
async fn without_packages_the_registry_is_not_served() {
    let mut env = host_env(HOST_WORKFLOW);
    env.config.packages.enabled = false;
    let server = env.start().await;
    assert_eq!(server.client.get("/v2/").await.status, 404);
}

#[tokio::test]
async fn a_webhook_runs_a_job_in_a_busybox_container() {
    let docker = docker_executor().await;
    let workflow = "on: release\njobs:\n  build:\n    runs-on: linux\n    steps:\n      - run: echo \"in $(cat /etc/hostname | wc -c) container\" && busybox | head -1\n";
    let mut env = Env::new();
    env.repo(REPO, &[("release.yml", workflow)]);
    env.config
        .labels
        .insert("linux".to_owned(), "gantry/busybox:latest".to_owned());
    let launcher = EngineLauncher::with_docker(Some(docker), env.path("host"));
    let server = env.start_with(Arc::new(launcher)).await;
    let id = release(&server.client, "docker-1").await;
    let run = server.client.wait_completed(id).await;
    let log = log_text(&server.client, id, "build").await;
    assert_eq!(run["conclusion"], "success", "{run}\n{log}");
    assert!(log.contains("BusyBox"), "{log}");
}

/// Docker with the busybox image; missing either fails the test (the scripts provide both).
async fn docker_executor() -> gantry_docker::DockerExecutor {
    docker_with_image("gantry/busybox:latest").await
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

/// Moves tag `0.0.1` (what the release payload names) to the current head.
fn retag(dir: &std::path::Path) {
    let repo = git2::Repository::open(dir).unwrap();
    let head = repo.head().unwrap().peel_to_commit().unwrap();
    repo.tag_lightweight("0.0.1", head.as_object(), true)
        .unwrap();
}

#[tokio::test]
async fn matrix_legs_are_listed_before_they_start() {
    let mut env = Env::new();
    let workflow = format!(
        "on: release\njobs:\n  build:\n    runs-on: self-hosted\n    strategy:\n      max-parallel: 1\n      matrix:\n        n: [one, two]\n    steps:\n      - run: |\n          while [ ! -f '{gate}' ]; do sleep 0.05; done\n          echo leg ${{{{ matrix.n }}}}\n",
        gate = env.gate().display()
    );
    env.repo(REPO, &[("release.yml", &workflow)]);
    env.config
        .labels
        .insert("self-hosted".to_owned(), "host".to_owned());
    let server = env
        .start_with(Arc::new(EngineLauncher::host_only(env.path("host"))))
        .await;
    let client = &server.client;
    let id = release(client, "matrix-1").await;
    let mut waiting = Value::Null;
    for _ in 0..1200 {
        let run = client.run(id).await;
        let jobs = run["jobs"].as_array().cloned().unwrap_or_default();
        if jobs.iter().any(|j| j["status"] == "running") {
            waiting = run;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let rows: Vec<(String, String)> = waiting["jobs"]
        .as_array()
        .unwrap_or_else(|| panic!("no job started: {waiting}"))
        .iter()
        .map(|j| {
            (
                j["key"].as_str().unwrap().to_owned(),
                j["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("build-1".to_owned(), "running".to_owned()),
            ("build-2".to_owned(), "queued".to_owned())
        ],
        "{waiting}"
    );
    env.open_gate();
    let run = client.wait_completed(id).await;
    assert_eq!(run["conclusion"], "success", "{run}");
    assert_eq!(run["jobs"][1]["name"], "build (two)", "{run}");
    assert!(log_text(client, id, "build-2").await.contains("leg two"));
}

#[tokio::test]
async fn jobs_sharing_a_concurrency_group_run_one_at_a_time_across_runs() {
    let mut env = Env::new();
    let workflow = format!(
        "on: release\njobs:\n  deploy:\n    runs-on: self-hosted\n    concurrency:\n      group: Production-${{{{ github.repository }}}}\n    steps:\n      - run: |\n          echo \"start ${{{{ github.run_id }}}}\" >> '{marks}'\n          while [ ! -f '{gate}' ]; do sleep 0.05; done\n          echo \"end ${{{{ github.run_id }}}}\" >> '{marks}'\n",
        marks = env.path("marks").display(),
        gate = env.gate().display(),
    );
    env.repo(REPO, &[("release.yml", &workflow)]);
    env.config
        .labels
        .insert("self-hosted".to_owned(), "host".to_owned());
    env.config.capacity = 2;
    let server = env
        .start_with(Arc::new(EngineLauncher::host_only(env.path("host"))))
        .await;
    let client = &server.client;
    let first = release(client, "group-1").await;
    client.wait_status(first, "running").await;
    while env.marks().is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let second = release(client, "group-2").await;
    // Bounded: the second run's job reports that it waits for the group.
    let mut waiting = false;
    for _ in 0..1200 {
        if log_text(client, second, "deploy")
            .await
            .contains("Waiting for the concurrency group 'production-codertocat/hello-world'")
        {
            waiting = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(waiting, "the second job never waited");
    assert_eq!(env.marks(), [format!("start {first}")]);
    env.open_gate();
    for id in [first, second] {
        let run = client.wait_completed(id).await;
        assert_eq!(run["conclusion"], "success", "{run}");
    }
    assert_eq!(
        env.marks(),
        [
            format!("start {first}"),
            format!("end {first}"),
            format!("start {second}"),
            format!("end {second}")
        ]
    );
}

/// A reusable workflow from the run's own commit: its jobs are the run's jobs, named
/// `caller / called` on the API and the page, with their own logs.
#[tokio::test]
async fn a_local_reusable_workflow_runs_as_jobs_named_after_their_caller() {
    let caller = "on: release\njobs:\n  call:\n    uses: ./.github/workflows/called.yml\n    with:\n      who: daemon\n  after:\n    needs: call\n    runs-on: self-hosted\n    steps:\n      - run: echo \"got ${{ needs.call.outputs.said }}\"\n";
    let called = "on:\n  workflow_call:\n    inputs:\n      who: {type: string, required: true}\n    outputs:\n      said: {value: \"${{ jobs.greet.outputs.said }}\"}\njobs:\n  greet:\n    runs-on: self-hosted\n    outputs:\n      said: ${{ steps.s.outputs.said }}\n    steps:\n      - id: s\n        run: |\n          echo \"hello ${{ inputs.who }}\"\n          echo \"said=hi-${{ inputs.who }}\" >> \"$GITHUB_OUTPUT\"\n";
    let env = host_env_with(&[("release.yml", caller), ("called.yml", called)]);
    let server = env
        .start_with(Arc::new(EngineLauncher::host_only(env.path("host"))))
        .await;
    let client = &server.client;
    let id = release(client, "engine-call").await;
    let run = client.wait_completed(id).await;
    assert_eq!(run["conclusion"], "success", "{run}");
    assert!(run.to_string().contains("call / greet"), "{run}");
    let greet = log_text(client, id, "call%2Fgreet").await;
    assert!(greet.contains("hello daemon"), "{greet}");
    let after = log_text(client, id, "after").await;
    assert!(after.contains("got hi-daemon"), "{after}");
}
