//! A services server in a temp dir, tokens for it, and the real npm clients driven by node.

use gantry_services::{Config, RunScope, ServeHandle, Services};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

#[path = "../../../../tests/support/npm_clients.rs"]
mod npm_clients;
use npm_clients::npm_installed;

pub const ARTIFACT_CLIENT: &str = "@actions/artifact@2.3.2";
pub const CACHE_CLIENT: &str = "@actions/cache@4.1.0";

pub struct Server {
    pub dir: tempfile::TempDir,
    pub handle: ServeHandle,
}

impl Server {
    pub async fn start() -> Server {
        Server::with(|_| {}).await
    }

    pub async fn with(tune: impl FnOnce(&mut Config)) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new(dir.path().join("services"));
        tune(&mut config);
        let services = Services::open(config).unwrap();
        let handle = gantry_services::serve("127.0.0.1:0".parse().unwrap(), services)
            .await
            .unwrap();
        Server { dir, handle }
    }

    pub fn services(&self) -> &Services {
        self.handle.services()
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.handle.addr())
    }

    /// `GITHUB_API_URL`.
    pub fn api_url(&self) -> String {
        gantry_services::api_url(&self.url())
    }

    pub fn token(&self, run: &str, repo: &str, git_ref: &str) -> String {
        self.services()
            .mint_run_token(&scope(run, repo, git_ref), Duration::from_secs(600))
    }

    /// A run's `GITHUB_TOKEN`, granted for the REST API as `gantry run` and the daemon do.
    pub fn github_token(&self, run: &str, repo: &str) -> String {
        self.services()
            .grant_api_token(None, &scope(run, repo, "refs/heads/main"))
    }

    /// Every content blob stored (staging and temp files excluded).
    pub fn blob_count(&self) -> usize {
        count_files(&self.dir.path().join("services/blobs/blobs"))
    }

    /// Every file under the staging and upload areas (in-progress content).
    pub fn staged_count(&self) -> usize {
        count_files(&self.dir.path().join("services/staging"))
            + count_files(&self.dir.path().join("services/blobs/uploads"))
    }
}

fn scope(run: &str, repo: &str, git_ref: &str) -> RunScope {
    RunScope {
        run_id: run.into(),
        repository: repo.into(),
        git_ref: git_ref.into(),
        default_ref: "refs/heads/main".into(),
    }
}

pub fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                count_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}

/// The npm clients with the driver script beside them, installed once per machine (a changed
/// driver is a new directory).
pub fn clients_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        npm_installed(
            "services-clients",
            &[ARTIFACT_CLIENT, CACHE_CLIENT],
            &[("driver.js", DRIVER)],
        )
    })
}

/// The driver script beside the clients.
pub fn driver() -> PathBuf {
    clients_dir().join("driver.js")
}

/// Calls the real clients' public API; prints `RESULT:<json>` or `ERROR:<message>`.
const DRIVER: &str = r#"
const [, , op, ...args] = process.argv;
const out = v => console.log('RESULT:' + JSON.stringify(v === undefined ? null : v));
// FIND_RUN, FIND_REPO, FIND_TOKEN: another run's artifacts through the REST API, as
// download-artifact's `run-id` with `github-token` reads them.
const [owner, repo] = (process.env.FIND_REPO || '/').split('/');
const findBy = process.env.FIND_RUN ? { token: process.env.FIND_TOKEN,
  workflowRunId: Number(process.env.FIND_RUN), repositoryOwner: owner, repositoryName: repo } : undefined;
(async () => {
  if (['upload', 'list', 'download', 'delete'].includes(op)) {
    const { DefaultArtifactClient } = require('@actions/artifact');
    const client = new DefaultArtifactClient();
    if (op === 'upload') {
      const [name, root, ...files] = args;
      const r = await client.uploadArtifact(name, files, root, { retentionDays: 1 });
      out(r);
    } else if (op === 'list') {
      const r = await client.listArtifacts({ latest: true, findBy });
      out(r.artifacts.map(a => ({ name: a.name, id: a.id, size: a.size, digest: a.digest })));
    } else if (op === 'download') {
      const [name, dir] = args;
      const { artifact } = await client.getArtifact(name, { findBy });
      out(await client.downloadArtifact(artifact.id, { path: dir, expectedHash: artifact.digest, findBy }));
    } else {
      out(await client.deleteArtifact(args[0]));
    }
  } else {
    const cache = require('@actions/cache');
    if (op === 'save') {
      const [key, ...paths] = args;
      out(await cache.saveCache(paths, key));
    } else {
      const [key, restore, ...paths] = args;
      out(await cache.restoreCache(paths, key, restore ? restore.split(',') : []));
    }
  }
})().catch(e => { console.log('ERROR:' + e.message); process.exit(1); });
"#;

pub struct Node {
    pub ok: bool,
    pub result: serde_json::Value,
    pub output: String,
}

/// Runs the driver with `op args` in `cwd`, pointed at `server` with `token`.
pub async fn node(
    server: &Server,
    token: &str,
    v2: bool,
    cwd: &Path,
    op: &str,
    args: &[&str],
) -> Node {
    node_with(server, token, v2, cwd, op, args, &[]).await
}

/// [`node`] with more environment variables.
pub async fn node_with(
    server: &Server,
    token: &str,
    v2: bool,
    cwd: &Path,
    op: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Node {
    let dir = clients_dir().to_path_buf();
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(driver())
        .arg(op)
        .args(args)
        .current_dir(cwd)
        .env("NODE_PATH", dir.join("node_modules"))
        .env("ACTIONS_RUNTIME_TOKEN", token)
        .env("ACTIONS_RESULTS_URL", server.url())
        .env("ACTIONS_CACHE_URL", server.url())
        .env("ACTIONS_RUNTIME_URL", server.url())
        .env("GITHUB_WORKSPACE", cwd)
        .env("RUNNER_TEMP", cwd.join(".runner-temp"))
        .env("GITHUB_REF", "refs/heads/main")
        .env("GITHUB_API_URL", server.api_url())
        .envs(env.iter().copied())
        .env_remove("ACTIONS_CACHE_SERVICE_V2")
        .env_remove("GITHUB_SERVER_URL")
        .kill_on_drop(true);
    if v2 {
        cmd.env("ACTIONS_CACHE_SERVICE_V2", "True");
    }
    let out = cmd
        .output()
        .await
        .expect("node must be installed (scripts/ensure-tools.sh)");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let result = output
        .lines()
        .find_map(|l| l.strip_prefix("RESULT:"))
        .map(|r| serde_json::from_str(r).unwrap())
        .unwrap_or(serde_json::Value::Null);
    Node {
        ok: out.status.success(),
        result,
        output,
    }
}

/// Deterministic incompressible bytes.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}
