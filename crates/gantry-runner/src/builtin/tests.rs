//! `actions/checkout` and `actions/setup-node` through the run engine, on host processes, with a
//! temporary git repository and a fake tool cache.
//!
//! The host environment here is a small one of its own: `gantry-docker`'s `HostExecutor`
//! depends on this crate, so unit tests cannot use it (two copies of the executor trait).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use async_trait::async_trait;
use gantry_plan::{Event, WorkflowOutcome, plan_workflow};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

use crate::actions::ActionRegistry;
use crate::executor::{
    ExecRequest, Executor, ExecutorError, ExitStatus, JobEnvironment, JobPaths, JobSpec,
    OutputChunk, Platform, Stream,
};
use crate::{Annotation, AnnotationLevel, Conclusion, RunEvent, RunOptions, RunResult};

use super::{Checkout, SetupNode};

/// Jobs are directories under `root`; every job shares `tool_cache`.
struct TestHost {
    root: tempfile::TempDir,
    tool_cache: PathBuf,
}

fn io(context: &str, source: std::io::Error) -> ExecutorError {
    ExecutorError::Io {
        context: context.to_owned(),
        source,
    }
}

#[async_trait]
impl Executor for TestHost {
    async fn start_job(&self, spec: JobSpec) -> Result<Box<dyn JobEnvironment>, ExecutorError> {
        let root = self.root.path().join(&spec.job_key);
        let paths = JobPaths {
            workspace: root.join("work/repo").display().to_string(),
            temp: root.join("temp").display().to_string(),
            tool_cache: self.tool_cache.display().to_string(),
            home: root.join("home").display().to_string(),
        };
        for dir in [&paths.workspace, &paths.temp, &paths.home] {
            std::fs::create_dir_all(dir).map_err(|e| io("mkdir", e))?;
        }
        if let Some(source) = &spec.workspace_source {
            for entry in std::fs::read_dir(source).map_err(|e| io("copy", e))? {
                let entry = entry.map_err(|e| io("copy", e))?;
                let to = Path::new(&paths.workspace).join(entry.file_name());
                std::fs::copy(entry.path(), to).map_err(|e| io("copy", e))?;
            }
        }
        Ok(Box::new(TestJob { paths }))
    }
}

struct TestJob {
    paths: JobPaths,
}

async fn pump(mut pipe: impl AsyncRead + Unpin, stream: Stream, tx: mpsc::Sender<OutputChunk>) {
    let mut buf = vec![0u8; 4096];
    while let Ok(n @ 1..) = pipe.read(&mut buf).await {
        let _ = tx
            .send(OutputChunk {
                stream,
                bytes: buf[..n].to_vec(),
            })
            .await;
    }
}

#[async_trait]
impl JobEnvironment for TestJob {
    fn paths(&self) -> &JobPaths {
        &self.paths
    }

    async fn exec(
        &self,
        request: ExecRequest,
        output: mpsc::Sender<OutputChunk>,
    ) -> Result<ExitStatus, ExecutorError> {
        let mut env = request.env.clone();
        env.entry("PATH".into())
            .or_insert_with(|| std::env::var("PATH").unwrap_or_default());
        let mut child = tokio::process::Command::new(&request.argv[0])
            .args(&request.argv[1..])
            .env_clear()
            .envs(&env)
            .current_dir(&request.workdir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| io(&format!("starting {}", request.argv[0]), e))?;
        let out = tokio::spawn(pump(
            child.stdout.take().unwrap(),
            Stream::Stdout,
            output.clone(),
        ));
        let err = tokio::spawn(pump(child.stderr.take().unwrap(), Stream::Stderr, output));
        let status = child.wait().await.map_err(|e| io("wait", e))?;
        let _ = out.await;
        let _ = err.await;
        Ok(ExitStatus::Code(status.code().unwrap_or(-1)))
    }

    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), ExecutorError> {
        if let Some(parent) = Path::new(path).parent() {
            std::fs::create_dir_all(parent).map_err(|e| io("mkdir", e))?;
        }
        std::fs::write(path, contents).map_err(|e| io(path, e))
    }

    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, ExecutorError> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(path, e)),
        }
    }

    async fn read_file_within(
        &self,
        path: &str,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, ExecutorError> {
        crate::executor::read_local_within(Path::new(path), limit)
    }

    async fn has_program(&self, program: &str) -> Result<bool, ExecutorError> {
        let path = std::env::var("PATH").unwrap_or_default();
        Ok(path
            .split(':')
            .any(|d| Path::new(d).join(program).is_file()))
    }

    async fn cleanup(&self) -> Result<(), ExecutorError> {
        Ok(())
    }
}

/// A git repository made with git2 from `files`, one commit on `main`, `origin` on GitHub.
struct Fixture {
    dir: tempfile::TempDir,
    sha: String,
}

impl Fixture {
    fn new(files: &[(&str, &[u8])]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        let repo = git2::Repository::init(&root).unwrap();
        for (path, contents) in files {
            let full = root.join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, contents).unwrap();
        }
        let mut index = repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("Ada", "ada@example.com").unwrap();
        // Two commits, so that a `fetch-depth: 1` checkout is visibly shallow.
        let empty = repo
            .find_tree(repo.treebuilder(None).unwrap().write().unwrap())
            .unwrap();
        let first = repo
            .commit(Some("refs/heads/main"), &sig, &sig, "empty", &empty, &[])
            .unwrap();
        let first = repo.find_commit(first).unwrap();
        let sha = repo
            .commit(
                Some("refs/heads/main"),
                &sig,
                &sig,
                "files",
                &tree,
                &[&first],
            )
            .unwrap();
        repo.set_head("refs/heads/main").unwrap();
        repo.remote(
            "origin",
            "https://github.com/Gantry-Examples/release-package.git",
        )
        .unwrap();
        Self {
            dir,
            sha: sha.to_string(),
        }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    /// An annotated tag on the last commit.
    fn tag(&self, name: &str) {
        let repo = git2::Repository::open(self.root()).unwrap();
        let head = repo.head().unwrap().peel(git2::ObjectType::Commit).unwrap();
        let sig = git2::Signature::now("Ada", "ada@example.com").unwrap();
        repo.tag(name, &head, &sig, "release", false).unwrap();
    }

    /// A tool cache holding fake nodes that print their version.
    fn tool_cache(&self, versions: &[&str]) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let cache = self.dir.path().join("tool");
        for version in versions {
            let bin = cache.join(format!("node/{version}/x64/bin"));
            std::fs::create_dir_all(&bin).unwrap();
            let node = bin.join("node");
            std::fs::write(&node, format!("#!/bin/sh\necho v{version}\n")).unwrap();
            std::fs::set_permissions(&node, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::create_dir_all(&cache).unwrap();
        cache
    }

    fn options(&self, setup_node: SetupNode) -> RunOptions {
        let mut options = RunOptions::new("builtin-test");
        options.default_platform = Some(Platform::Host);
        options.github.sha = self.sha.clone();
        options.github.git_ref = "refs/heads/main".into();
        options.github.repository = "Gantry-Examples/release-package".into();
        let mut actions = ActionRegistry::with_defaults();
        actions.register(
            "actions/checkout",
            Arc::new(Checkout::for_repository(self.root())),
        );
        actions.register("actions/setup-node", Arc::new(setup_node));
        options.actions = actions;
        options
    }
}

struct Outcome {
    result: RunResult,
    events: Vec<RunEvent>,
}

impl Outcome {
    fn logs(&self) -> String {
        self.job_logs().into_values().collect::<Vec<_>>().join("\n")
    }

    /// Each job's log lines, joined (jobs run at once, so their lines interleave in events).
    fn job_logs(&self) -> std::collections::BTreeMap<&str, String> {
        let mut logs = std::collections::BTreeMap::<&str, String>::new();
        for event in &self.events {
            if let RunEvent::Log { job, line, .. } = event {
                let text = logs.entry(job.as_str()).or_default();
                text.push_str(line);
                text.push('\n');
            }
        }
        logs
    }

    fn annotations(&self) -> Vec<&Annotation> {
        self.events
            .iter()
            .filter_map(|e| match e {
                RunEvent::Annotation { annotation, .. } => Some(annotation),
                _ => None,
            })
            .collect()
    }
}

async fn run(
    source: &str,
    options: RunOptions,
    tool_cache: PathBuf,
    workspace: Option<&Path>,
) -> Outcome {
    let event = Event::new("push", serde_json::json!({"ref": "refs/heads/main"}));
    run_on(event, source, options, tool_cache, workspace).await
}

async fn run_on(
    event: Event,
    source: &str,
    options: RunOptions,
    tool_cache: PathBuf,
    workspace: Option<&Path>,
) -> Outcome {
    let parsed = gantry_workflow::parse_workflow("test.yml", source);
    assert!(
        !parsed.has_errors(),
        "workflow has errors: {:#?}",
        parsed.diagnostics
    );
    let workflow = Arc::new(parsed.value.unwrap());
    let WorkflowOutcome::Run(plan) = plan_workflow(&workflow, &event, &[]).unwrap() else {
        panic!("the workflow does not run on {}", event.name);
    };
    let mut options = options;
    options.workspace_source = workspace.map(Path::to_path_buf);
    let host = Arc::new(TestHost {
        root: tempfile::tempdir().unwrap(),
        tool_cache,
    });
    let (tx, mut rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move { crate::run(workflow, &plan, options, host, tx).await });
    let mut events = Vec::new();
    while let Some(event) = rx.recv().await {
        events.push(event);
    }
    Outcome {
        result: task.await.unwrap(),
        events,
    }
}

const RESOLUTION: &str = r#"
on: push
env:
  GANTRY_NPM_REGISTRY: http://127.0.0.1:4873/npm/
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        id: checkout
      - uses: actions/setup-node@v4
        id: node
        with:
          node-version: ${{ matrix.node }}
          registry-url: https://npm.pkg.github.com/
      - run: |
          echo "node=$(node --version) output=${{ steps.node.outputs.node-version }}"
          echo "commit=${{ steps.checkout.outputs.commit }} ref=${{ steps.checkout.outputs.ref }}"
          echo "token=$NODE_AUTH_TOKEN"
          echo "npmrc-begin"; cat "$NPM_CONFIG_USERCONFIG"; echo; echo "npmrc-end"
          echo "readme=$(cat README.md)"
          test ! -e stale.txt && echo "stale file removed"
          echo "head=$(git rev-parse HEAD) branch=$(git rev-parse --abbrev-ref HEAD)"
          echo "safe=$(git config --global --get-all safe.directory)"
          echo "shallow=$(git rev-parse --is-shallow-repository)"
    strategy:
      matrix:
        node: ['22', '24']
"#;

#[tokio::test]
async fn checkout_and_setup_node_resolve_from_the_tool_cache() {
    let fixture = Fixture::new(&[("README.md", b"hello")]);
    let cache = fixture.tool_cache(&["20.11.1", "22.3.0"]);
    let stale = tempfile::tempdir().unwrap();
    std::fs::write(stale.path().join("stale.txt"), "old").unwrap();
    let outcome = run(
        RESOLUTION,
        fixture.options(SetupNode::new()),
        cache.clone(),
        Some(stale.path()),
    )
    .await;
    assert_eq!(
        outcome.result.conclusion,
        Conclusion::Success,
        "{}",
        outcome.logs()
    );
    let sha = &fixture.sha;
    let npmrc = "npmrc-begin\n//127.0.0.1:4873/npm/:_authToken=${NODE_AUTH_TOKEN}\n@gantry-examples:registry=http://127.0.0.1:4873/npm/\nalways-auth=false\nnpmrc-end";
    let expected = [
        // 22 is in the cache; 24 is not, so the closest (22) is used with a warning.
        "node=v22.3.0 output=v22.3.0",
        &format!("commit={sha} ref=refs/heads/main"),
        &format!("head={sha} branch=main"),
        "token=XXXXX-XXXXX-XXXXX-XXXXX",
        npmrc,
        "readme=hello",
        "stale file removed",
        "shallow=true",
        "is served offline by gantry's registry at http://127.0.0.1:4873/npm/",
    ];
    let logs = outcome.job_logs();
    assert_eq!(logs.len(), 2, "{logs:#?}");
    for (job, text) in &logs {
        for line in expected {
            assert!(text.contains(line), "{job} lacks {line:?}:\n{text}");
        }
        let safe = text
            .lines()
            .any(|l| l.starts_with("safe=/") && l.ends_with("/work/repo"));
        assert!(safe, "{job} has no safe.directory:\n{text}");
    }
    let warnings: Vec<&str> = outcome
        .annotations()
        .into_iter()
        .filter(|a| a.level == AnnotationLevel::Warning)
        .map(|a| a.message.as_str())
        .collect();
    let bin = cache.join("node/22.3.0/x64/bin/node");
    let expected = format!(
        "node-version '24' was requested, but no Node.js satisfying it is available offline (found v20.11.1, v22.3.0{}); using v22.3.0 from {} instead",
        path_node_suffix(),
        bin.display()
    );
    assert_eq!(warnings, [expected.as_str()]);
}

const REF_AND_VERSION_FILE: &str = r#"
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        id: checkout
        with:
          ref: v1
          fetch-depth: 0
          path: sub
          lfs: true
      - uses: actions/setup-node@v4
        with:
          node-version-file: sub/.nvmrc
          cache: npm
          check-latest: true
      - run: |
          echo "node=$(node --version) ref=${{ steps.checkout.outputs.ref }}"
          cd sub
          echo "shallow=$(git rev-parse --is-shallow-repository) count=$(git rev-list --count HEAD) tag=$(git describe --tags)"
"#;

#[tokio::test]
async fn tags_full_history_paths_and_version_files() {
    let fixture = Fixture::new(&[(".nvmrc", b"lts/jod\n")]);
    fixture.tag("v1");
    let cache = fixture.tool_cache(&["20.11.1", "22.3.0"]);
    let outcome = run(
        REF_AND_VERSION_FILE,
        fixture.options(SetupNode::new()),
        cache,
        None,
    )
    .await;
    let logs = outcome.logs();
    assert_eq!(outcome.result.conclusion, Conclusion::Success, "{logs}");
    assert!(logs.contains("node=v22.3.0 ref=refs/tags/v1"), "{logs}");
    assert!(logs.contains("shallow=false count=2 tag=v1"), "{logs}");
    assert!(logs.contains("Resolved sub/.nvmrc as lts/jod"), "{logs}");
    assert!(logs.contains("check-latest is ignored"), "{logs}");
    let warnings: Vec<&str> = outcome
        .annotations()
        .into_iter()
        .filter(|a| a.level == AnnotationLevel::Warning)
        .map(|a| a.message.as_str())
        .collect();
    assert_eq!(
        warnings,
        [
            "lfs: Git LFS objects cannot be fetched offline; LFS pointer files are checked out as they are",
            "cache: npm is not supported offline; dependencies are not cached between runs",
        ]
    );
}

/// How the test machine's own `node` shows in the warning's list, if it has one.
fn path_node_suffix() -> String {
    let output = std::process::Command::new("sh")
        .args(["-c", "node --version"])
        .output();
    match output {
        Ok(o) if o.status.success() => format!(", {}", String::from_utf8_lossy(&o.stdout).trim()),
        _ => String::new(),
    }
}

#[tokio::test]
async fn other_repositories_and_unknown_refs_fail_the_step() {
    let fixture = Fixture::new(&[("README.md", b"hello")]);
    let source = r#"
on: push
jobs:
  other:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          repository: someone/else
  missing:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          ref: no-such-branch
  outside:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          path: ../elsewhere
"#;
    let cache = fixture.tool_cache(&[]);
    let outcome = run(source, fixture.options(SetupNode::new()), cache, None).await;
    assert_eq!(outcome.result.conclusion, Conclusion::Failure);
    let mut errors: Vec<String> = outcome
        .annotations()
        .into_iter()
        .filter(|a| a.level == AnnotationLevel::Error)
        .map(|a| a.message.clone())
        .collect();
    errors.sort();
    let errors: Vec<&str> = errors
        .iter()
        .map(|e| e.split(" is not under ").next().unwrap_or(e))
        .collect();
    assert_eq!(
        errors,
        [
            "'no-such-branch' is not a branch, tag or commit of the local repository",
            "actions/checkout of 'someone/else' needs the network: offline, gantry can only check out the run's own repository ('Gantry-Examples/release-package')",
            "repository path '../elsewhere'",
        ]
    );
}

/// The reference workflow (GitHub's "Node.js Package" starter) as it is, on a release event,
/// with the machine's real node and npm, publishing to a fake registry on 127.0.0.1 that
/// stands in for gantry's.
#[tokio::test]
async fn node_package_workflow_publishes_offline_with_real_node() {
    let npm = std::process::Command::new("npm").arg("--version").output();
    assert!(
        npm.is_ok(),
        "this test needs node and npm on PATH (the job image has them)"
    );
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workflows-examples/release-package");
    let workflow_file = ".github/workflows/release-package.yml";
    let names = [
        "package.json",
        "package-lock.json",
        "index.js",
        "test/index.test.js",
        workflow_file,
    ];
    let files: Vec<(&str, Vec<u8>)> = names
        .iter()
        .map(|f| (*f, std::fs::read(example.join(f)).unwrap()))
        .collect();
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, c)| (*n, c.as_slice())).collect();
    let fixture = Fixture::new(&refs);
    let source = String::from_utf8(files[4].1.clone()).unwrap();
    let (registry, requests) = fake_registry().await;
    let mut options = fixture.options(SetupNode::with_registry(format!("{registry}/npm")));
    options
        .secrets
        .insert("GITHUB_TOKEN".into(), "ghs_test_token".into());
    options.github.event_name = "release".into();
    let event = Event::new(
        "release",
        serde_json::json!({"action": "created", "release": {"tag_name": "v1.0.0"}}),
    );
    let outcome = run_on(event, &source, options, fixture.tool_cache(&[]), None).await;
    let logs = outcome.logs();
    assert_eq!(outcome.result.conclusion, Conclusion::Success, "{logs}");
    assert_eq!(outcome.job_logs().len(), 2, "{logs}");
    assert!(
        logs.contains("# fail 0") && logs.contains("# pass "),
        "npm test did not run:\n{logs}"
    );
    let requests = requests.lock().unwrap().clone();
    let publish = "PUT /npm/@gantry-examples%2frelease-package authorization=Bearer ghs_test_token";
    assert!(
        requests.iter().any(|r| r == publish),
        "{requests:#?}\n{logs}"
    );
    assert!(
        !logs.contains("ghs_test_token"),
        "the token leaked into the log"
    );
}

type Requests = Arc<std::sync::Mutex<Vec<String>>>;

/// An HTTP server on 127.0.0.1 that answers every request `200 {}` and records
/// `METHOD PATH authorization=...` for each; it lives as long as the test's runtime.
async fn fake_registry() -> (String, Requests) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Requests::default();
    let record = requests.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer(stream, record.clone()));
        }
    });
    (url, requests)
}

async fn answer(mut stream: tokio::net::TcpStream, requests: Requests) {
    use tokio::io::AsyncWriteExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        match stream.read(&mut chunk).await {
            Ok(n @ 1..) => buf.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_owned())
        })
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + 4 + length {
        match stream.read(&mut chunk).await {
            Ok(n @ 1..) => buf.extend_from_slice(&chunk[..n]),
            _ => break,
        }
    }
    let request_line: Vec<&str> = head.lines().next().unwrap_or_default().split(' ').collect();
    let auth = header("authorization").unwrap_or_default();
    requests.lock().unwrap().push(format!(
        "{} {} authorization={auth}",
        request_line[0],
        request_line.get(1).unwrap_or(&"")
    ));
    let response = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
    let _ = stream.write_all(response.as_bytes()).await;
}
