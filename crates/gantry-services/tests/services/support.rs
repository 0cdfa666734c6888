//! A services server in a temp dir, tokens for it, and the real npm clients driven by node.

use gantry_services::{Config, RunScope, ServeHandle, Services};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

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

    pub fn token(&self, run: &str, repo: &str, git_ref: &str) -> String {
        let scope = RunScope {
            run_id: run.into(),
            repository: repo.into(),
            git_ref: git_ref.into(),
            default_ref: "refs/heads/main".into(),
        };
        self.services()
            .mint_run_token(&scope, Duration::from_secs(600))
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

/// The npm clients, installed once per machine into the user's cache directory.
pub fn clients_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        let dir = cache.join("gantry-tests/services-clients-artifact-2.3.2-cache-4.1.0");
        if dir.join("node_modules/@actions/cache").is_dir() {
            return dir;
        }
        std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
        let tmp = tempfile::tempdir_in(dir.parent().unwrap()).unwrap();
        std::fs::write(
            tmp.path().join("package.json"),
            r#"{"name":"clients","private":true}"#,
        )
        .unwrap();
        let status = std::process::Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
                ARTIFACT_CLIENT,
                CACHE_CLIENT,
            ])
            .current_dir(tmp.path())
            .stdout(Stdio::null())
            .status()
            .expect("npm must be installed (scripts/ensure-tools.sh)");
        assert!(status.success(), "npm install of the clients failed");
        let tmp = tmp.keep();
        // Another test process may have won the race; either copy is complete.
        if std::fs::rename(&tmp, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        dir
    })
}

/// The driver script beside the clients, named by its content so a changed driver is a new
/// file (written through a temp name: test processes race for it).
pub fn driver() -> &'static Path {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        use sha2::Digest as _;
        let hash = hex::encode(sha2::Sha256::digest(DRIVER.as_bytes()));
        let file = clients_dir().join(format!("driver-{}.js", &hash[..16]));
        if !file.is_file() {
            let tmp = tempfile::NamedTempFile::new_in(clients_dir()).unwrap();
            std::fs::write(tmp.path(), DRIVER).unwrap();
            tmp.persist(&file).unwrap();
        }
        file
    })
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
        .env("GITHUB_API_URL", server.url().trim_end_matches('/'))
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
