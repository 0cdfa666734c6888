//! The runner services (`gantry-services`: artifacts and caches) for the daemon's runs, served
//! at the daemon's own address.
//!
//! Each run gets its own `ACTIONS_RUNTIME_TOKEN` when it is claimed: that run's artifacts, its
//! repository's caches seen from its ref (and the default branch's). The services check the
//! token's signature and scope; in front of them the daemon keeps the set of tokens whose runs
//! are in flight here, so a token stops working the moment its run ends, and every token minted
//! before a restart is dead after it (the runs it belonged to were failed or re-queued with a
//! new attempt and a new token). The run's `GITHUB_TOKEN` is granted the services' REST slice
//! (`GITHUB_API_URL`, download-artifact's `run-id`) for its repository, and revoked with it. Data lives in `<data_dir>/services/`: caches outlive runs, so a
//! repository's next run restores what an earlier one saved; artifacts are kept for their
//! retention (capped by `[services] max_retention_days`) and purged hourly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gantry_services::{RunScope, Services};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ServicesConfig};
use crate::launcher::ServicesAccess;

/// A token outlives any run (it is revoked when the run ends); the expiry only bounds a token
/// whose revocation was lost with the process, and the process's restart drops those anyway.
const TOKEN_TTL: Duration = Duration::from_secs(48 * 3600);

/// How often artifacts past their retention are deleted.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// The services, and the tokens of the runs in flight.
pub(crate) struct RunServices {
    services: Services,
    /// Token → the run it was minted for. Only these pass the gate.
    live: Mutex<HashMap<String, i64>>,
    /// How runs reach the daemon (`http://127.0.0.1:8080`).
    base_url: String,
}

impl RunServices {
    /// Opens the services unless `[services] enabled = false`: content in `storage_dir` (by
    /// default `<data_dir>/services`), metadata beside the store (SQLite there, or the store's
    /// PostgreSQL database, so that every daemon on it serves the same caches and artifacts).
    pub async fn open(
        config: &Config,
        base_url: &str,
    ) -> Result<Option<Arc<RunServices>>, gantry_services::ServiceError> {
        if !config.services.enabled {
            return Ok(None);
        }
        let settings = services_config(config, &config.services);
        let services = match &config.store.url {
            None => Services::open(settings)?,
            Some(url) => {
                if config.services.storage_dir.is_none() {
                    tracing::warn!(
                        "services metadata is shared through [store] but their content stays in \
                         this daemon's data_dir: other daemons cannot serve it; set [services] \
                         storage_dir"
                    );
                }
                Services::open_on_postgres(settings, url, config.services.pool_size).await?
            }
        };
        Ok(Some(Arc::new(RunServices {
            services,
            live: Mutex::new(HashMap::new()),
            base_url: base_url.to_owned(),
        })))
    }

    /// The services' data (listing and reading artifacts).
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// The services' routes (`/twirp/...`, `/_apis/artifactcache/...`, `/_blob/...`, the REST
    /// slice under `/_api`) behind
    /// the gate that refuses tokens of runs that are not in flight.
    pub fn router(self: &Arc<Self>) -> Router {
        self.services
            .router()
            .layer(axum::middleware::from_fn_with_state(self.clone(), gate))
    }

    /// Mints `run_id`'s token, grants the REST API (`GITHUB_API_URL`) to its `GITHUB_TOKEN`
    /// (`github_token`, or a fresh one when the run has none), and lets both through the gate
    /// until [`RunServices::revoke`].
    pub fn grant(
        &self,
        run_id: i64,
        scope: &RunScope,
        github_token: Option<&str>,
    ) -> ServicesAccess {
        let token = self.services.mint_run_token(scope, TOKEN_TTL);
        let api_token = self.services.grant_api_token(github_token, scope);
        if let Ok(mut live) = self.live.lock() {
            live.insert(token.clone(), run_id);
            live.insert(api_token.clone(), run_id);
        }
        ServicesAccess {
            url: self.base_url.clone(),
            token,
            api_token,
        }
    }

    /// Ends every token of `run_id` (its run finished).
    pub fn revoke(&self, run_id: i64) {
        let Ok(mut live) = self.live.lock() else {
            return;
        };
        live.retain(|token, run| {
            let keep = *run != run_id;
            if !keep {
                self.services.revoke_api_token(token);
            }
            keep
        });
    }

    fn is_live(&self, token: &str) -> bool {
        self.live.lock().is_ok_and(|live| live.contains_key(token))
    }

    /// Deletes artifacts past their retention, now and then every hour, until `stop`.
    pub async fn purge_loop(self: Arc<Self>, stop: CancellationToken) {
        loop {
            match self.services.purge_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(artifacts = n, "expired artifacts deleted"),
                Err(e) => tracing::error!(error = %e, "cannot delete expired artifacts"),
            }
            tokio::select! {
                () = tokio::time::sleep(PURGE_EVERY) => {}
                () = stop.cancelled() => return,
            }
        }
    }
}

/// `[services]` as the services crate's settings, rooted in the daemon's data directory.
fn services_config(config: &Config, settings: &ServicesConfig) -> gantry_services::Config {
    let root = settings
        .storage_dir
        .clone()
        .unwrap_or_else(|| config.data_dir.join("services"));
    let mut services = gantry_services::Config::new(root);
    if config.store.url.is_some() {
        // Other daemons stage in the same directory: each keeps to its own part of it.
        services.instance = Some(config.instance_id());
    }
    services.max_retention_days = settings.max_retention_days;
    services.cache_limit_bytes = settings.cache_limit_mb.saturating_mul(1024 * 1024);
    services
}

/// What one run's token grants: its artifacts, and its repository's caches from its ref and
/// the default branch.
pub(crate) fn run_scope(run_id: i64, repo: &str, git_ref: &str, default_branch: &str) -> RunScope {
    RunScope {
        run_id: run_id.to_string(),
        repository: repo.to_owned(),
        git_ref: git_ref.to_owned(),
        default_ref: format!("refs/heads/{default_branch}"),
    }
}

/// Refuses a bearer token the daemon did not hand to a run in flight. Requests without one
/// (signed blob URLs) go on; the services check their signatures, and refuse token-less calls.
async fn gate(State(services): State<Arc<RunServices>>, request: Request, next: Next) -> Response {
    // The services' own parsing: `Bearer <t>`, and Octokit's `token <t>` for the REST API.
    match gantry_services::bearer_token(request.headers()) {
        Some(token) if !services.is_live(token) => {
            revoked(request.uri().path().starts_with("/twirp/"))
        }
        _ => next.run(request).await,
    }
}

/// The answer to a token whose run is over, in the form the client reads: Twirp's JSON error
/// for the Twirp services, `{"message"}` for the REST cache API.
fn revoked(twirp: bool) -> Response {
    const WHY: &str = "invalid runtime token: its run has ended (tokens are valid while their run runs on this daemon)";
    let body = if twirp {
        serde_json::json!({ "code": "unauthenticated", "msg": WHY })
    } else {
        serde_json::json!({ "message": WHY })
    };
    (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response()
}
