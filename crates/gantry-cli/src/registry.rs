//! The package registry a run publishes to: gantry's embedded GitHub Packages stand-in
//! (`gantry-packages`, started on a loopback port for the run) or one named with `--registry`.
//!
//! Jobs reach it through `GANTRY_REGISTRY` (`host:port`, for `docker login`/`push`) and
//! `GANTRY_NPM_REGISTRY` (the npm URL; `actions/setup-node` maps `registry-url:
//! https://npm.pkg.github.com/` to it), both also as `vars.*`. The run's `GITHUB_TOKEN` is a
//! token minted for the repository owner's namespace unless the user gave one.
//!
//! Starting the embedded registry costs tens of milliseconds (open SQLite, bind a port: 32 ms
//! for a fresh data directory in a debug build on a loaded 2-core machine, printed by the unit
//! test below) against seconds for a job container, so every run gets it rather than only runs
//! that look like they publish: a workflow's `GITHUB_TOKEN` then always works against packages,
//! as on GitHub.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gantry_packages::{Config, Scope, ServeHandle};
use indexmap::IndexMap;

/// The environment variable (and `vars` name) carrying the OCI registry's `host:port`.
pub const REGISTRY_ENV: &str = "GANTRY_REGISTRY";
/// The environment variable (and `vars` name) carrying the npm registry's URL.
pub const NPM_REGISTRY_ENV: &str = "GANTRY_NPM_REGISTRY";

/// GitHub's `GITHUB_TOKEN` lives as long as its job, at most a day; a run's token is revoked
/// when the run ends and expires after this in case gantry is killed.
const RUN_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("package registry: {0}")]
    Packages(#[from] gantry_packages::Error),
    #[error("no data directory: set HOME, XDG_DATA_HOME or GANTRY_DATA_DIR, or pass --data-dir")]
    NoDataDir,
    #[error("--registry `{0}`: expected an http:// or https:// URL with a host")]
    BadUrl(String),
    #[error("unknown scope `{0}` (expected read, write or delete)")]
    BadScope(String),
    #[error("no package named `{0}` (see `gantry packages list`)")]
    NoSuchPackage(String),
    #[error("`{name}` has no version `{version}` (see `gantry packages show {name}`)")]
    NoSuchVersion { name: String, version: String },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot listen for Ctrl-C and SIGTERM: {0}")]
    Signals(std::io::Error),
}

/// gantry's data directory: `--data-dir`/`GANTRY_DATA_DIR`, else `$XDG_DATA_HOME/gantry`, else
/// `~/.local/share/gantry`.
pub fn data_dir(flag: Option<&Path>) -> Result<PathBuf, RegistryError> {
    if let Some(dir) = flag {
        return Ok(dir.to_path_buf());
    }
    let xdg = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty());
    if let Some(dir) = xdg {
        return Ok(PathBuf::from(dir).join("gantry"));
    }
    let home = std::env::var_os("HOME").filter(|v| !v.is_empty());
    home.map(|h| PathBuf::from(h).join(".local/share/gantry"))
        .ok_or(RegistryError::NoDataDir)
}

/// Where the registry keeps its packages inside gantry's data directory.
pub fn packages_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("packages")
}

/// Opens the registry in gantry's data directory (for commands that work on it directly).
pub async fn open(flag: Option<&Path>) -> Result<gantry_packages::Registry, RegistryError> {
    let dir = packages_dir(&data_dir(flag)?);
    Ok(gantry_packages::Registry::open(Config::new(dir)).await?)
}

/// Serves the registry in gantry's data directory on `addr`.
pub async fn serve(flag: Option<&Path>, addr: SocketAddr) -> Result<ServeHandle, RegistryError> {
    let dir = packages_dir(&data_dir(flag)?);
    Ok(gantry_packages::serve(addr, Config::new(dir)).await?)
}

/// The registry one `gantry run` uses.
pub struct RunRegistry {
    /// `None` for an external registry.
    handle: Option<ServeHandle>,
    token: Option<String>,
    npm_url: String,
    oci_host: String,
}

impl RunRegistry {
    /// Starts the embedded registry on a free loopback port and mints a read/write packages
    /// token for `repository`'s owner (none when the repository has no owner, e.g. no remote).
    pub async fn embedded(
        data_dir: Option<&Path>,
        repository: &str,
    ) -> Result<RunRegistry, RegistryError> {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let handle = serve(data_dir, loopback).await?;
        let owner = repository.split_once('/').map(|(owner, _)| owner);
        let scopes = [Scope::ReadPackages, Scope::WritePackages];
        let minted = match owner {
            Some(o) => Some(
                handle
                    .registry()
                    .mint_run_token(o, &scopes, RUN_TOKEN_TTL)
                    .await,
            ),
            None => None,
        };
        let token = match minted {
            Some(Ok(token)) => Some(token),
            // Not a GitHub login (a local placeholder): the run keeps a token packages refuse.
            None | Some(Err(gantry_packages::Error::InvalidOwner(_))) => None,
            Some(Err(e)) => return Err(e.into()),
        };
        let addr = handle.addr();
        Ok(RunRegistry {
            handle: Some(handle),
            token,
            npm_url: format!("http://{addr}/"),
            oci_host: addr.to_string(),
        })
    }

    /// A registry gantry does not run: `url` serves npm at its root and OCI at `/v2/`, as
    /// gantry's own does. The user provides the `GITHUB_TOKEN` it accepts.
    pub fn external(url: &str) -> Result<RunRegistry, RegistryError> {
        let bad = || RegistryError::BadUrl(url.to_owned());
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or_else(bad)?;
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(bad());
        }
        let npm_url = if url.ends_with('/') {
            url.to_owned()
        } else {
            format!("{url}/")
        };
        Ok(RunRegistry {
            handle: None,
            token: None,
            npm_url,
            oci_host: host.to_owned(),
        })
    }

    /// The variables every job gets (as environment and as `vars`).
    pub fn env(&self) -> IndexMap<String, String> {
        IndexMap::from([
            (REGISTRY_ENV.to_owned(), self.oci_host.clone()),
            (NPM_REGISTRY_ENV.to_owned(), self.npm_url.clone()),
        ])
    }

    /// Gives a run the registry: `vars.GANTRY_*` (unless the user set them) and the minted
    /// token as the `GITHUB_TOKEN` secret unless the user gave that secret.
    pub fn apply(
        &self,
        secrets: &mut IndexMap<String, String>,
        vars: &mut IndexMap<String, String>,
    ) {
        for (name, value) in self.env() {
            vars.entry(name).or_insert(value);
        }
        if let Some(token) = &self.token {
            secrets
                .entry("GITHUB_TOKEN".to_owned())
                .or_insert_with(|| token.clone());
        }
    }

    /// Revokes the run token and stops the embedded registry after in-flight requests.
    pub async fn stop(self) {
        let Some(handle) = self.handle else {
            return;
        };
        if let Some(token) = &self.token {
            // Best effort: the token expires on its own anyway.
            let _ = handle.registry().revoke_token(token).await;
        }
        handle.shutdown().await;
    }
}

/// Parses `read,write` (or GitHub's `read:packages` names) into scopes.
pub fn parse_scopes(items: &[String]) -> Result<Vec<Scope>, RegistryError> {
    let mut scopes = Vec::new();
    for item in items.iter().flat_map(|i| i.split(',')) {
        let item = item.trim();
        let name = if item.contains(':') {
            item.to_owned()
        } else {
            format!("{item}:packages")
        };
        let scope = Scope::parse(&name).ok_or_else(|| RegistryError::BadScope(item.to_owned()))?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_registries_give_host_and_npm_url() {
        let r = RunRegistry::external("http://10.0.0.5:4873").unwrap();
        assert_eq!(r.env()[REGISTRY_ENV], "10.0.0.5:4873");
        assert_eq!(r.env()[NPM_REGISTRY_ENV], "http://10.0.0.5:4873/");
        assert!(RunRegistry::external("10.0.0.5:4873").is_err());
        assert!(RunRegistry::external("https:///x").is_err());
    }

    #[test]
    fn scopes_accept_short_and_github_names() {
        let scopes = parse_scopes(&["read,write:packages".into(), "delete".into()]).unwrap();
        assert_eq!(
            scopes,
            [
                Scope::ReadPackages,
                Scope::WritePackages,
                Scope::DeletePackages
            ]
        );
        assert!(matches!(
            parse_scopes(&["admin".into()]),
            Err(RegistryError::BadScope(s)) if s == "admin"
        ));
    }

    #[tokio::test]
    async fn a_run_gets_env_vars_and_a_minted_token_unless_one_was_given() {
        let dir = tempfile::tempdir().unwrap();
        let started = std::time::Instant::now();
        let r = RunRegistry::embedded(Some(dir.path()), "octo/app")
            .await
            .unwrap();
        // Not asserted (no timing assertions): printed for the start-cost decision above.
        eprintln!("embedded registry started in {:?}", started.elapsed());
        let mut secrets = IndexMap::new();
        let mut vars = IndexMap::from([(REGISTRY_ENV.to_owned(), "mine".to_owned())]);
        r.apply(&mut secrets, &mut vars);
        assert_eq!(secrets.get("GITHUB_TOKEN"), r.token.as_ref());
        assert!(secrets["GITHUB_TOKEN"].starts_with("gtk_"));
        assert_eq!(vars[REGISTRY_ENV], "mine", "user vars win");
        assert!(vars[NPM_REGISTRY_ENV].starts_with("http://127.0.0.1:"));
        let mut given = IndexMap::from([("GITHUB_TOKEN".to_owned(), "given".to_owned())]);
        r.apply(&mut given, &mut vars);
        assert_eq!(given["GITHUB_TOKEN"], "given");
        assert!(dir.path().join("packages/registry.db").is_file());
        r.stop().await;
    }
}
