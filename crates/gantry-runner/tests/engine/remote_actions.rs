//! Remote actions from the action store, end to end on Docker: the real published
//! `actions/setup-node@v4`, `actions/setup-python@v5` (offline, from the runner image's tool
//! cache) and `actions/github-script@v7`, plus fixture actions for pre/main/post with state, a
//! Dockerfile action built from gantry/busybox and a composite action using another stored
//! action; and a missing action's error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gantry_actions::{ActionRef, ActionStore};
use gantry_docker::{DockerExecutor, list_managed};
use gantry_runner::executor::Platform;
use gantry_runner::{ActionRegistry, Conclusion, RunEvent, StoreSource};

use crate::docker::{RUNNER_IMAGE, RunObjects, engine};
use crate::harness::{options, run_source_on};

#[path = "../../../../tests/support/npm_clients.rs"]
mod npm_clients;
use npm_clients::npm_installed;

const WORKFLOW: &str = r#"
on: push
jobs:
  real:
    runs-on: ubuntu-latest
    steps:
      - id: node
        uses: actions/setup-node@v4
        with:
          node-version: 20
      - run: echo "node-path=$(command -v node) $(node --version)"
      - id: python
        uses: actions/setup-python@v5
        with:
          python-version: '3.11'
      - run: echo "python-path=$(command -v python) $(python --version) loc=$pythonLocation"
      - id: script
        uses: actions/github-script@v7
        with:
          script: |
            core.info(`script sees ${context.eventName} in ${context.repo.owner}/${context.repo.repo}`)
            core.setOutput('answer', '42')
            return 'done'
      - id: stateful
        uses: acme/stateful@v1
        with:
          who: gantry
          extra value: spaced
      - id: docker
        uses: acme/docker-hello@v1
        with:
          who: ${{ steps.stateful.outputs.greeting }}
      - id: composite
        uses: acme/composite@v1
        with:
          who: nested
      - run: echo "outputs node=${{ steps.node.outputs.node-version }} py=${{ steps.python.outputs.python-version }} script=${{ steps.script.outputs.answer }}/${{ steps.script.outputs.result }} stateful=${{ steps.stateful.outputs.greeting }} docker=${{ steps.docker.outputs.said }} composite=${{ steps.composite.outputs.nested }}"
  missing:
    runs-on: ubuntu-latest
    steps:
      - run: echo never
      - uses: acme/absent@v1
"#;

fn shared_action(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../../shared/actions/actions/{name}"))
}

fn fixture_action(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/remote_actions/{name}"))
}

fn store_with_actions(data: &Path) -> ActionStore {
    let store = ActionStore::open(data).unwrap();
    let add = |action: &str, dir: PathBuf| {
        store
            .add(&ActionRef::parse(action).unwrap(), &dir)
            .unwrap_or_else(|e| panic!("adding {action}: {e}"));
    };
    add("actions/setup-node@v4", shared_action("setup-node@v4"));
    add("actions/setup-python@v5", shared_action("setup-python@v5"));
    add(
        "actions/github-script@v7",
        shared_action("github-script@v7"),
    );
    add("acme/stateful@v1", fixture_action("stateful"));
    add("acme/docker-hello@v1", fixture_action("docker-hello"));
    add("acme/composite@v1", fixture_action("composite"));
    add("acme/hello@v2", fixture_action("hello"));
    store
}

/// Lines of `job` that contain `needle`.
fn lines_with<'o>(logs: &'o [String], needle: &str) -> Vec<&'o String> {
    logs.iter().filter(|l| l.contains(needle)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_actions_run_from_the_store() {
    let docker = engine().await;
    let data = tempfile::tempdir().unwrap();
    let store = store_with_actions(data.path());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let run_id = format!("e2e-actions-{}-{nanos}", std::process::id());
    let _objects = RunObjects(run_id.clone());
    let mut opts = options();
    opts.run_id = run_id.clone();
    opts.default_platform = Some(Platform::Image(RUNNER_IMAGE.into()));
    opts.github.repository = "acme/app".into();
    // github-script's `github-token` defaults to `github.token`, which every run has.
    opts.github.token = "e2e-token".into();
    let mut actions = ActionRegistry::with_defaults();
    // The real setup-node instead of the built-in: the store has it.
    actions.prefer_real("actions/setup-node");
    opts.actions = actions.with_source(Arc::new(StoreSource::new(store, None)));
    let executor = Arc::new(DockerExecutor::with_client(docker.clone()));
    let outcome = run_source_on(WORKFLOW, opts, None, executor).await;
    let left = list_managed(&docker, Some(&run_id)).await.unwrap();
    assert!(left.is_empty(), "run {run_id} left {left:?}");

    let everything = outcome.everything();
    let logs = outcome.logs("real");
    let shown = logs.join("\n");
    let real = outcome.job("real").unwrap();
    assert_eq!(real.conclusion, Conclusion::Success, "{everything}");

    // Set up: every action downloaded once, with its commit.
    for action in ["actions/setup-node@v4", "acme/stateful@v1", "acme/hello@v2"] {
        let line = format!("Download action repository '{action}' (SHA:");
        assert_eq!(everything.matches(&line).count(), 1, "{line}\n{everything}");
    }
    // setup-node and setup-python found their versions in the tool cache, offline.
    assert!(shown.contains("node-path=/__t/node/20."), "{shown}");
    assert!(shown.contains("python-path=/__t/Python/3.11."), "{shown}");
    assert!(shown.contains("loc=/__t/Python/3.11."), "{shown}");
    assert!(shown.contains("script sees push in acme/app"), "{shown}");
    // pre → main → post with state; node16 forced onto node20 with GitHub's warning.
    assert!(shown.contains("pre ran on v20."), "{shown}");
    assert!(
        shown.contains("main state=pre-gantry who=gantry extra=spaced node=v20"),
        "{shown}"
    );
    assert!(
        shown.contains("main action_path_ok=true repo=acme/stateful ref=v1"),
        "{shown}"
    );
    assert!(
        shown.contains("post pre=pre-gantry main=main-saw-pre-gantry"),
        "{shown}"
    );
    assert!(
        everything.contains("will be forced to run on node20: acme/stateful@v1"),
        "{everything}"
    );
    // The Dockerfile action: built offline, pre/main/post entrypoints, args, env, mounts.
    // `pre` runs before any step, so a `with:` naming a step's output is empty there (as on
    // GitHub).
    assert_eq!(
        lines_with(&logs, "docker pre"),
        ["docker pre who="],
        "{shown}"
    );
    assert!(
        shown.contains(
            "docker main howdy args=[hello gantry][second arg] who=hello gantry workspace=/github/workspace ws_exists=yes"
        ),
        "{shown}"
    );
    // The composite action: its own contexts, and a nested stored action.
    assert!(
        shown.contains("composite repo=acme/composite ref=v1 dir_ok=yes"),
        "{shown}"
    );
    assert!(shown.contains("hello nested from v20"), "{shown}");
    // github-script's `result` is JSON (`"done"`); the shell's double quotes swallow its quotes.
    let outputs = lines_with(&logs, "outputs node=");
    assert_eq!(
        outputs,
        [&"outputs node=v20.20.2 py=3.11.2 script=42/done stateful=hello gantry docker=howdy hello gantry composite=hi nested".to_string()],
        "{shown}"
    );
    // Post steps run after the last step, in reverse order.
    let position = |needle: &str| {
        logs.iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in\n{shown}"))
    };
    assert!(position("pre ran on") < position("node-path="));
    assert!(position("docker pre") < position("node-path="));
    assert!(position("outputs node=") < position("docker post"));
    assert!(position("docker post") < position("post pre="));

    // A missing action fails its job at set-up, before any step, naming the command.
    let missing = outcome.job("missing").unwrap();
    assert_eq!(missing.conclusion, Conclusion::Failure);
    assert!(outcome.logs("missing").is_empty(), "no step ran");
    let annotation = outcome
        .events
        .iter()
        .find_map(|e| match e {
            RunEvent::Annotation {
                job, annotation, ..
            } if job == "missing" => Some(annotation.message.clone()),
            _ => None,
        })
        .expect("an error annotation");
    assert!(
        annotation.starts_with("action `acme/absent@v1` is not in the action store"),
        "{annotation}"
    );
    assert!(
        annotation.contains("`gantry actions pull acme/absent@v1`"),
        "{annotation}"
    );
}

/// `@actions/tool-cache`, the library setup-java and setup-go look up their cache with, from the
/// npm registry, installed once per machine (the published setup-java and setup-go themselves
/// are not in `shared/actions`).
const TOOL_CACHE_CLIENT: &str = "@actions/tool-cache@2.0.2";

fn tool_cache_probe() -> PathBuf {
    npm_installed(
        "tool-cache-probe",
        &[TOOL_CACHE_CLIENT],
        &[("action.yml", PROBE_ACTION), ("index.js", PROBE_SCRIPT)],
    )
}

const PROBE_ACTION: &str = "name: tool-cache probe\nruns:\n  using: node20\n  main: index.js\n";

/// What setup-java (`distribution: temurin`, `java-version: 17`) and setup-go (`go-version:
/// 1.19`) do before they download: setup-go calls `tc.find`; setup-java lists
/// `tc.findAllVersions`, reads `-` in a folder name back as semver's `+` (build metadata), keeps
/// the versions the range satisfies whose `x64.complete` marker exists, and takes the newest.
const PROBE_SCRIPT: &str = r#"
const tc = require('@actions/tool-cache');
const semver = require('semver');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const name = 'Java_Temurin-Hotspot_jdk';
const java = tc.findAllVersions(name, 'x64')
  .map(item => ({ version: item.replace('-', '+'), dir: path.join(process.env.RUNNER_TOOL_CACHE, name, item, 'x64') }))
  .filter(item => semver.satisfies(item.version, '17') && fs.existsSync(`${item.dir}.complete`))
  .sort((a, b) => -semver.compareBuild(a.version, b.version))[0] || { version: '', dir: '' };
const go = tc.find('go', '1.19', 'x64');
const python = tc.find('Python', '3.11', 'x64');
const sh = cmd => execFileSync('sh', ['-c', cmd], { encoding: 'utf8' }).trim();
console.log(`java=${java.dir} (${java.version}) go=${go} python=${python}`);
console.log(`java-version=${sh(`"${java.dir}/bin/java" -version 2>&1 | head -1`)}`);
console.log(`go-version=${sh(`"${go}/bin/go" version`)}`);
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_java_and_setup_go_find_the_image_tool_cache() {
    let docker = engine().await;
    let data = tempfile::tempdir().unwrap();
    let store = ActionStore::open(data.path()).unwrap();
    store
        .add(
            &ActionRef::parse("acme/tool-cache-probe@v1").unwrap(),
            &tool_cache_probe(),
        )
        .unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let run_id = format!("e2e-toolcache-{}-{nanos}", std::process::id());
    let _objects = RunObjects(run_id.clone());
    let mut opts = options();
    opts.run_id = run_id.clone();
    opts.default_platform = Some(Platform::Image(RUNNER_IMAGE.into()));
    opts.actions =
        ActionRegistry::with_defaults().with_source(Arc::new(StoreSource::new(store, None)));
    let executor = Arc::new(DockerExecutor::with_client(docker.clone()));
    let workflow = "on: push\njobs:\n  probe:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: acme/tool-cache-probe@v1\n";
    let outcome = run_source_on(workflow, opts, None, executor).await;
    let left = list_managed(&docker, Some(&run_id)).await.unwrap();
    assert!(left.is_empty(), "run {run_id} left {left:?}");
    let shown = outcome.logs("probe").join("\n");
    let probe = outcome.job("probe").unwrap();
    assert_eq!(
        probe.conclusion,
        Conclusion::Success,
        "{}",
        outcome.everything()
    );
    // Each lookup resolved a versioned directory of the tool cache (an empty path is a miss).
    assert!(
        shown.contains("java=/__t/Java_Temurin-Hotspot_jdk/17."),
        "{shown}"
    );
    assert!(shown.contains(" go=/__t/go/1.19."), "{shown}");
    assert!(shown.contains(" python=/__t/Python/3.11."), "{shown}");
    assert!(
        shown.contains("java-version=openjdk version \"17."),
        "{shown}"
    );
    assert!(shown.contains("go-version=go version go1.19."), "{shown}");
}
