//! The runner services a run's jobs use (`gantry-services`: artifacts and caches), started on
//! a loopback port for `gantry run` like the package registry (`crate::registry`).
//!
//! Jobs reach them through the variables GitHub's runner sets: `ACTIONS_RESULTS_URL`,
//! `ACTIONS_CACHE_URL`, `ACTIONS_RUNTIME_URL`, `ACTIONS_RUNTIME_TOKEN` and
//! `ACTIONS_CACHE_SERVICE_V2`. Job containers use host networking by default, so 127.0.0.1 is
//! the host's loopback for them too. Each run gets its own token: that run's artifacts, its
//! repository's caches seen from its ref. Caches and artifacts live in `<data dir>/services`,
//! so a second run of the repository restores what the first saved. `GITHUB_API_URL` points at
//! the services' REST slice, which accepts the run's `GITHUB_TOKEN`, so download-artifact's
//! `run-id` reads an earlier run's artifacts and other API calls fail at once with a 404.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gantry_services::{Config, RunScope, ServeHandle, Services};
use indexmap::IndexMap;

use crate::registry::{RegistryError, data_dir};

/// A run's token outlives any job of it (GitHub's jobs time out after 6 hours; a run of
/// dependent jobs may take longer).
const RUN_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum ServicesError {
    #[error("runner services: {0}")]
    Services(#[from] gantry_services::ServiceError),
    #[error(transparent)]
    DataDir(#[from] RegistryError),
}

/// Where the services keep their data inside gantry's data directory.
pub fn services_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("services")
}

/// Opens the services' data (for commands that work on it directly).
pub fn open(flag: Option<&Path>) -> Result<Services, ServicesError> {
    let dir = services_dir(&data_dir(flag)?);
    Ok(Services::open(Config::new(dir))?)
}

/// The services one `gantry run` serves.
pub struct RunServices {
    handle: ServeHandle,
}

impl RunServices {
    /// Starts the services on a free loopback port.
    pub async fn start(flag: Option<&Path>) -> Result<RunServices, ServicesError> {
        let services = open(flag)?;
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let handle = gantry_services::serve(loopback, services).await?;
        Ok(RunServices { handle })
    }

    /// The variables one run's jobs get, with a token minted for that run.
    pub fn env_for_run(&self, scope: &RunScope) -> IndexMap<String, String> {
        let token = self.handle.services().mint_run_token(scope, RUN_TOKEN_TTL);
        let url = format!("http://{}/", self.handle.addr());
        gantry_services::job_env(&url, &token).into_iter().collect()
    }

    /// `GITHUB_API_URL` for a run: the services' slice of GitHub's REST API (download-artifact's
    /// `run-id`), accepting the run's `GITHUB_TOKEN` for its repository while `gantry run`
    /// runs. The token may be shared by the invocation's runs (the registry's); they are of
    /// one repository, which is all the API's scope names.
    pub fn api_url_for(&self, github_token: &str, scope: &RunScope) -> String {
        self.handle
            .services()
            .grant_api_token(Some(github_token), scope);
        gantry_services::api_url(&format!("http://{}", self.handle.addr()))
    }

    /// Stops after in-flight requests.
    pub async fn stop(self) {
        self.handle.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_run_gets_loopback_urls_and_its_own_token() {
        let dir = tempfile::tempdir().unwrap();
        let services = RunServices::start(Some(dir.path())).await.unwrap();
        let scope = |run: &str| RunScope {
            run_id: run.into(),
            repository: "octo/app".into(),
            git_ref: "refs/heads/main".into(),
            default_ref: "refs/heads/main".into(),
        };
        let env = services.env_for_run(&scope("1"));
        assert!(env["ACTIONS_RESULTS_URL"].starts_with("http://127.0.0.1:"));
        assert!(env["ACTIONS_RESULTS_URL"].ends_with('/'));
        assert_eq!(env["ACTIONS_CACHE_URL"], env["ACTIONS_RESULTS_URL"]);
        assert_eq!(env["ACTIONS_CACHE_SERVICE_V2"], "True");
        let other = services.env_for_run(&scope("2"));
        assert_ne!(env["ACTIONS_RUNTIME_TOKEN"], other["ACTIONS_RUNTIME_TOKEN"]);
        assert!(dir.path().join("services/services.db").is_file());
        let api = services.api_url_for("ghs_run", &scope("1"));
        assert!(
            api.starts_with("http://127.0.0.1:") && api.ends_with("/_api"),
            "{api}"
        );
        services.stop().await;
    }
}
