//! `[actions]` at run level, with the real engine on the host: remote actions
//! (`uses: OWNER/REPO@REF`) and remote reusable workflows (`OWNER/REPO/.github/workflows/X.yml@REF`,
//! whose own `./` calls stay in that repository) run from the configured action store; with
//! `pull = true` what the store lacks is fetched from the configured forge (a local repository
//! behind a `file://` URL); without it the run fails naming the command that adds it.

use std::path::Path;
use std::sync::Arc;

use gantry_actions::{ActionRef, ActionStore};
use gantry_daemon::EngineLauncher;

use crate::common::*;

const CALLER: &str = r#"on: release
jobs:
  greet:
    runs-on: self-hosted
    steps:
      - uses: octo/greet@v1
        with:
          who: daemon
  call:
    uses: octo/flows/.github/workflows/called.yml@v1
    with:
      who: daemon
    secrets:
      token: ${{ secrets.DEPLOY_KEY }}
  after:
    needs: call
    runs-on: self-hosted
    steps:
      - run: echo "caller got ${{ needs.call.outputs.said }}"
"#;

const GREET_ACTION: &str = r#"name: greet
inputs:
  who:
    default: world
runs:
  using: composite
  steps:
    - run: echo "greetings, ${{ inputs.who }}, from a stored action"
      shell: bash
"#;

const CALLED: &str = r#"on:
  workflow_call:
    inputs:
      who: {type: string, required: true}
    secrets:
      token: {required: true}
    outputs:
      said: {value: "${{ jobs.speak.outputs.said }}"}
jobs:
  speak:
    runs-on: self-hosted
    outputs:
      said: ${{ steps.s.outputs.said }}
    steps:
      - id: s
        run: |
          echo "remote workflow greets ${{ inputs.who }} with ${{ secrets.token }}"
          echo "said=hi-${{ inputs.who }}" >> "$GITHUB_OUTPUT"
  nested:
    uses: ./.github/workflows/inner.yml
"#;

const INNER: &str = "on: workflow_call\njobs:\n  deep:\n    runs-on: self-hosted\n    steps:\n      - run: echo \"inner workflow of the remote repository\"\n";

/// `octo/greet` and `octo/flows` as git repositories with tag `v1`, under `dir/octo/`.
fn forge(dir: &Path) {
    for (name, files) in [
        ("greet", vec![("action.yml", GREET_ACTION)]),
        (
            "flows",
            vec![
                (".github/workflows/called.yml", CALLED),
                (".github/workflows/inner.yml", INNER),
            ],
        ),
    ] {
        let repo_dir = dir.join("octo").join(name);
        git_repo(&repo_dir, &files);
        let repo = git2::Repository::open(&repo_dir).unwrap();
        let head = repo.head().unwrap().peel(git2::ObjectType::Commit).unwrap();
        repo.tag_lightweight("v1", &head, false).unwrap();
    }
}

fn actions_env() -> Env {
    let mut env = Env::new();
    env.repo(REPO, &[("release.yml", CALLER)]);
    env.config
        .labels
        .insert("self-hosted".to_owned(), "host".to_owned());
    if let Some(repo) = env.config.repositories.get_mut(REPO) {
        repo.secrets
            .insert("DEPLOY_KEY".to_owned(), "k3y-value".to_owned());
    }
    forge(&env.path("forge"));
    env
}

/// The daemon as `gantry daemon` builds it: the engine with `[actions]`'s source.
async fn start(env: &Env) -> Server {
    let source = gantry_daemon::actions::action_source(&env.config).unwrap();
    let launcher = EngineLauncher::host_only(env.path("host")).with_action_source(source);
    env.start_with(Arc::new(launcher)).await
}

async fn assert_everything_ran(client: &Client, id: i64) {
    let run = client.wait_completed(id).await;
    assert_eq!(run["conclusion"], "success", "{run}");
    let greet = log_text(client, id, "greet").await;
    assert!(
        greet.contains("Download action repository 'octo/greet@v1' (SHA:"),
        "{greet}"
    );
    assert!(
        greet.contains("greetings, daemon, from a stored action"),
        "{greet}"
    );
    let speak = log_text(client, id, "call%2Fspeak").await;
    assert!(
        speak.contains("remote workflow greets daemon with ***"),
        "{speak}"
    );
    let deep = log_text(client, id, "call%2Fnested%2Fdeep").await;
    assert!(
        deep.contains("inner workflow of the remote repository"),
        "{deep}"
    );
    let after = log_text(client, id, "after").await;
    assert!(after.contains("caller got hi-daemon"), "{after}");
    let shown = run.to_string();
    assert!(shown.contains("call / speak"), "{shown}");
    assert!(shown.contains("call / nested / deep"), "{shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn remote_actions_and_reusable_workflows_run_from_the_configured_store() {
    let mut env = actions_env();
    let store_dir = env.path("store");
    let store = ActionStore::open(&store_dir).unwrap();
    for (name, path) in [("octo/greet@v1", "greet"), ("octo/flows@v1", "flows")] {
        let action = ActionRef::parse(name).unwrap();
        store
            .add(&action, &env.path("forge").join("octo").join(path))
            .unwrap();
    }
    env.config.actions.data_dir = Some(store_dir);
    let mut server = start(&env).await;
    let id = release(&server.client, "actions-store").await;
    assert_everything_ran(&server.client, id).await;
    // Nothing was added to the daemon's own data directory.
    assert!(!env.config.data_dir.join("actions").exists());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_pull_the_daemon_fetches_what_the_store_lacks_from_the_forge() {
    let mut env = actions_env();
    env.config.actions.pull = true;
    env.config.actions.forge = Some(format!("file://{}", env.path("forge").display()));
    let mut server = start(&env).await;
    let id = release(&server.client, "actions-pull").await;
    assert_everything_ran(&server.client, id).await;
    let store = ActionStore::open(&env.config.data_dir).unwrap();
    let mut stored: Vec<String> = store.list().unwrap().iter().map(|e| e.name()).collect();
    stored.sort();
    assert_eq!(stored, ["octo/flows@v1", "octo/greet@v1"]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn offline_a_missing_action_fails_its_job_naming_the_command() {
    let env = actions_env();
    let mut server = start(&env).await;
    let client = &server.client;
    let id = release(client, "actions-offline").await;
    let run = client.wait_completed(id).await;
    assert_eq!(run["conclusion"], "failure", "{run}");
    let shown = format!("{run}\n{}", log_text(client, id, "greet").await);
    assert!(shown.contains("gantry actions"), "{shown}");
    assert!(shown.contains("octo/"), "{shown}");
    server.stop().await;
}
