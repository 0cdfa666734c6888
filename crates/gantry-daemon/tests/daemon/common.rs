//! Shared helpers: temp repositories with workflows, a daemon on 127.0.0.1, signed deliveries.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gantry_daemon::signature::sign;
use gantry_daemon::{Config, Daemon, DaemonHandle, EngineLauncher, RepoConfig, RunLauncher};
use serde_json::Value;

pub const SECRET: &str = "test-secret";
/// The repository the conformance payloads name.
pub const REPO: &str = "Codertocat/Hello-World";

pub fn webhooks_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/webhooks")
}

/// Every payload in a conformance folder, as (file name, JSON), sorted.
pub fn payloads(folder: &str) -> Vec<(String, Value)> {
    let dir = webhooks_dir().join(folder);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, serde_json::from_str(&text).unwrap())
        })
        .collect()
}

pub fn payload(path: &str) -> Value {
    let text = std::fs::read_to_string(webhooks_dir().join(path)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The payload with `repository.full_name` replaced.
pub fn for_repo(mut payload: Value, repo: &str) -> Value {
    payload["repository"]["full_name"] = Value::from(repo);
    payload
}

/// A git repository on disk with `master` and tag `0.0.1` (what the release payloads name).
pub fn git_repo(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    let repo = git2::Repository::init(dir).unwrap();
    let mut index = repo.index().unwrap();
    for (path, text) in files {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, text).unwrap();
        index.add_path(Path::new(path)).unwrap();
    }
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("test", "test@example.invalid").unwrap();
    let commit = repo
        .commit(Some("refs/heads/master"), &sig, &sig, "init", &tree, &[])
        .unwrap();
    repo.set_head("refs/heads/master").unwrap();
    let object = repo.find_object(commit, None).unwrap();
    repo.tag_lightweight("0.0.1", &object, false).unwrap();
    dir.to_owned()
}

/// Commits `files` on top of `master` in the repository at `dir`; returns the new sha.
pub fn commit_files(dir: &Path, files: &[(&str, &str)]) -> String {
    let repo = git2::Repository::open(dir).unwrap();
    let mut index = repo.index().unwrap();
    for (path, text) in files {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, text).unwrap();
        index.add_path(Path::new(path)).unwrap();
    }
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("test", "test@example.invalid").unwrap();
    let parent = repo.head().unwrap().peel_to_commit().unwrap();
    let id = repo
        .commit(Some("HEAD"), &sig, &sig, "change", &tree, &[&parent])
        .unwrap();
    id.to_string()
}

pub fn head_sha(dir: &Path) -> String {
    let repo = git2::Repository::open(dir).unwrap();
    repo.head()
        .unwrap()
        .peel_to_commit()
        .unwrap()
        .id()
        .to_string()
}

/// A workspace for one test: a temp dir with repositories and a data dir.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: Config,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path().join("data"));
        config.listen = "127.0.0.1:0".to_owned();
        config.webhook_secret = None;
        config.drain_timeout_secs = 600;
        // The tests' workflows run on this machine, through the real engine.
        config
            .labels
            .insert("ubuntu-latest".to_owned(), "host".to_owned());
        Env { dir, config }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Adds repository `name` with these workflow files (under `.github/workflows/`).
    pub fn repo(&mut self, name: &str, workflows: &[(&str, &str)]) -> &mut Env {
        let dir = self.path(&format!("repos/{}", name.replace('/', "_")));
        let files: Vec<(String, &str)> = workflows
            .iter()
            .map(|(file, text)| (format!(".github/workflows/{file}"), *text))
            .collect();
        let refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), *t)).collect();
        git_repo(&dir, &refs);
        self.config.repositories.insert(
            name.to_owned(),
            RepoConfig {
                url: dir.display().to_string(),
                default_branch: "master".to_owned(),
                webhook_secret: Some(SECRET.to_owned()),
                secrets: Default::default(),
                variables: Default::default(),
            },
        );
        self
    }

    /// A file that gated steps wait for.
    pub fn gate(&self) -> PathBuf {
        self.path("gate")
    }

    pub fn open_gate(&self) {
        std::fs::write(self.gate(), "open").unwrap();
    }

    /// Lines appended by workflows that mark each execution.
    pub fn marks(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("marks"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The real engine on the host executor, its job directories (and the sessions a restart
    /// reaps) under this workspace.
    pub fn launcher(&self) -> EngineLauncher {
        EngineLauncher::host_only(self.path("host"))
    }

    pub async fn start(&self) -> Server {
        self.start_with(Arc::new(self.launcher())).await
    }

    pub async fn start_with(&self, launcher: Arc<dyn RunLauncher>) -> Server {
        let handle = Daemon::start(self.config.clone(), launcher).await.unwrap();
        Server::new(handle)
    }
}

/// The text of every log chunk in a `/logs` reply, in order. The engine logs each step's
/// `Run` header and script before the step's own output.
pub fn chunk_texts(logs: &Value) -> Vec<String> {
    logs["chunks"]
        .as_array()
        .map(|chunks| {
            chunks
                .iter()
                .filter_map(|c| c["text"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A workflow that marks its execution, then waits for the gate file.
pub fn gated_workflow(env: &Env, on: &str, extra: &str) -> String {
    format!(
        "on: {on}\n{extra}\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n          echo \"run ${{{{ github.run_id }}}}\" >> '{marks}'\n          while [ ! -f '{gate}' ]; do sleep 0.05; done\n          echo done\n",
        marks = env.path("marks").display(),
        gate = env.gate().display(),
    )
}

/// A workflow that marks its execution and ends.
pub fn marking_workflow(env: &Env, on: &str) -> String {
    format!(
        "on: {on}\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo \"run ${{{{ github.run_id }}}} ${{{{ github.event.action }}}}\" >> '{marks}'\n",
        marks = env.path("marks").display(),
    )
}

pub struct Server {
    pub handle: Option<DaemonHandle>,
    pub client: Client,
}

impl Server {
    pub fn new(handle: DaemonHandle) -> Server {
        let client = Client::new(handle.local_addr().to_string());
        Server {
            handle: Some(handle),
            client,
        }
    }

    pub fn handle(&self) -> &DaemonHandle {
        self.handle.as_ref().unwrap()
    }

    pub async fn stop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown_within(Duration::from_secs(30)).await;
        }
    }
}

/// An HTTP client for one daemon.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    /// Sent as `Authorization: Bearer` on `get` and `post` (the daemon's `api_token`).
    pub token: Option<String>,
}

pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Client {
    pub fn new(addr: String) -> Client {
        Client {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            token: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Posts a webhook signed with `secret` (`None`: no signature header).
    pub async fn webhook_raw(
        &self,
        event: &str,
        delivery: &str,
        body: Vec<u8>,
        content_type: &str,
        secret: Option<&str>,
    ) -> Reply {
        let mut request = self
            .http
            .post(self.url("/webhook"))
            .header("X-GitHub-Event", event)
            .header("X-GitHub-Delivery", delivery)
            .header("Content-Type", content_type);
        if let Some(secret) = secret {
            request = request.header("X-Hub-Signature-256", sign(secret.as_bytes(), &body));
        }
        reply(request.body(body).send().await.unwrap()).await
    }

    pub async fn webhook(&self, event: &str, delivery: &str, payload: &Value) -> Reply {
        let body = serde_json::to_vec(payload).unwrap();
        self.webhook_raw(event, delivery, body, "application/json", Some(SECRET))
            .await
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        let request = self.authorized(self.http.get(self.url(path)));
        reply(request.send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        let response = self
            .authorized(self.http.post(self.url(path)))
            .json(&body)
            .send()
            .await
            .unwrap();
        reply(response).await
    }

    pub async fn run(&self, id: i64) -> Value {
        let reply = self.get(&format!("/api/runs/{id}")).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    }

    /// Waits (bounded) until the run's status is `status`.
    pub async fn wait_status(&self, id: i64, status: &str) -> Value {
        self.wait_status_polls(id, status, 1200).await
    }

    /// Waits until the run completed, polling every 25 ms at most `polls` times (runs that move
    /// hundreds of megabytes need more than the default).
    pub async fn wait_completed_polls(&self, id: i64, polls: usize) -> Value {
        self.wait_status_polls(id, "completed", polls).await
    }

    async fn wait_status_polls(&self, id: i64, status: &str, polls: usize) -> Value {
        for _ in 0..polls {
            let run = self.run(id).await;
            if run["status"] == status {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("run {id} never became {status}: {}", self.run(id).await);
    }

    pub async fn wait_completed(&self, id: i64) -> Value {
        self.wait_status(id, "completed").await
    }
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply { status, body }
}

/// Sends the conformance `release` payload; the id of the run it queued.
pub async fn release(client: &Client, delivery: &str) -> i64 {
    let reply = client
        .webhook(
            "release",
            delivery,
            &payload("release/published.payload.json"),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    run_ids(&reply)[0]
}

/// Everything a job logged, as one text.
pub async fn log_text(client: &Client, id: i64, job: &str) -> String {
    let logs = client
        .get(&format!("/api/runs/{id}/jobs/{job}/logs"))
        .await
        .body;
    logs["chunks"]
        .as_array()
        .unwrap_or_else(|| panic!("no chunks: {logs}"))
        .iter()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Docker with `image` present; missing either fails the test (`scripts/ensure-docker.sh` and
/// `scripts/build-images.sh` provide both).
pub async fn docker_with_image(image: &str) -> gantry_docker::DockerExecutor {
    let docker = gantry_docker::DockerExecutor::connect()
        .await
        .expect("docker is required: scripts/ensure-docker.sh starts it");
    docker
        .client()
        .inspect_image(image)
        .await
        .unwrap_or_else(|e| panic!("{image} is required: scripts/build-images.sh builds it ({e})"));
    docker
}

pub fn run_ids(reply: &Reply) -> Vec<i64> {
    reply.body["runs"]
        .as_array()
        .unwrap_or_else(|| panic!("no runs in {}", reply.body))
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect()
}
