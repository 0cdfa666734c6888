//! The services as one axum router, their shared state, and standalone serving.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderMap;
use axum::routing::{any, get, post};
use gantry_packages::Digest;
use gantry_packages::storage::ByteStream;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::blobs::Blobs;
use crate::config::Config;
use crate::db::{ArtifactInfo, CacheInfo, Db};
use crate::error::{Result, ServiceError};
use crate::metadata::{Metadata, PgMetadata};
use crate::token::{RunScope, Signer};
use crate::{artifacts, blob_http, cache, rest};

/// Signed blob URLs live this long: enough for a slow 10 GB transfer, short enough that a
/// leaked URL soon stops working.
pub(crate) const URL_TTL_SECS: i64 = 6 * 3600;

pub(crate) struct Inner {
    pub config: Config,
    pub db: Box<dyn Metadata>,
    pub blobs: Blobs,
    pub signer: Signer,
    pub api_tokens: rest::ApiTokens,
}

/// The artifact and cache services over one data directory. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Services {
    /// Opens (creating) the services' directory, metadata in its SQLite `services.db`.
    /// Leftovers of killed uploads are removed.
    pub fn open(config: Config) -> Result<Services> {
        std::fs::create_dir_all(&config.root).map_err(ServiceError::io("create", &config.root))?;
        let db = Db::open(&config.root.join("services.db"))?;
        let live = db.live_uploads()?;
        Services::assemble(config, Box::new(db), &live)
    }

    /// Opens the services with their metadata in PostgreSQL (`svc_` tables, migrated here) and
    /// their content under `config.root`: every instance given the same database and the same
    /// (shared) root serves the same artifacts and caches, and accepts the others' tokens
    /// (the signing key is `root/token.key`). Each instance stages its uploads in its own
    /// `staging/<instance>` ([`Config::instance`]).
    pub async fn open_on_postgres(config: Config, url: &str, pool_size: usize) -> Result<Services> {
        std::fs::create_dir_all(&config.root).map_err(ServiceError::io("create", &config.root))?;
        let db = PgMetadata::connect(url, pool_size).await?;
        let live = db.live_uploads().await?;
        Services::assemble(config, Box::new(db), &live)
    }

    fn assemble(config: Config, db: Box<dyn Metadata>, live: &[String]) -> Result<Services> {
        let blobs = Blobs::open(
            &config.root,
            config.instance.as_deref(),
            config.max_entry_bytes,
        )?;
        blobs.discard_orphans(live);
        let signer = Signer::load_or_create(&config.root.join("token.key"))?;
        Ok(Services {
            inner: Arc::new(Inner {
                config,
                db,
                blobs,
                signer,
                api_tokens: rest::ApiTokens::default(),
            }),
        })
    }

    /// The router: mount at the root of an address (the clients build `/twirp/...` and
    /// `/_apis/artifactcache/...` from the base URL they are given).
    pub fn router(&self) -> Router {
        let json_limit = self.inner.config.max_json_bytes;
        let rpc = Router::new()
            .route(
                "/twirp/github.actions.results.api.v1.ArtifactService/{method}",
                post(artifacts::rpc),
            )
            .route(
                "/twirp/github.actions.results.api.v1.CacheService/{method}",
                post(cache::rpc),
            )
            .route("/_apis/artifactcache/cache", get(cache::legacy_lookup))
            .route(
                "/_apis/artifactcache/caches",
                post(cache::legacy_reserve).get(cache::legacy_list),
            )
            .route(
                "/_apis/artifactcache/caches/{id}",
                axum::routing::patch(cache::legacy_upload).post(cache::legacy_commit),
            )
            .merge(rest_api())
            .layer(DefaultBodyLimit::max(json_limit));
        // Blob bodies are streamed and bounded by `max_request_bytes` in the handler.
        let blobs = Router::new()
            .route(
                "/_blob/{container}/{id}",
                axum::routing::put(blob_http::put).get(blob_http::get),
            )
            .layer(DefaultBodyLimit::max(json_limit));
        rpc.merge(blobs).with_state(self.clone())
    }

    /// Lets the REST API (`GITHUB_API_URL`) accept `token` (a run's `GITHUB_TOKEN`) for the
    /// repository of `scope`, or a fresh token when none is given; returns the token.
    pub fn grant_api_token(&self, token: Option<&str>, scope: &RunScope) -> String {
        let token = token
            .filter(|t| !t.trim().is_empty())
            .map_or_else(rest::new_api_token, str::to_owned);
        self.inner.api_tokens.grant(&token, scope);
        token
    }

    /// The REST API stops accepting `token`.
    pub fn revoke_api_token(&self, token: &str) {
        self.inner.api_tokens.revoke(token);
    }

    /// Whether `token` is one [`Services::grant_api_token`] granted and did not revoke.
    pub fn is_api_token(&self, token: &str) -> bool {
        self.inner.api_tokens.scope(token).is_some()
    }

    /// Mints a run's `ACTIONS_RUNTIME_TOKEN`.
    pub fn mint_run_token(&self, scope: &RunScope, ttl: Duration) -> String {
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
        self.inner.signer.mint(scope, now_secs(), ttl)
    }

    /// The scope of the request's bearer token.
    pub(crate) fn authorize(&self, headers: &HeaderMap) -> Result<RunScope> {
        let token = bearer_token(headers).ok_or(ServiceError::NoToken)?;
        self.inner.signer.verify(token, now_secs())
    }

    /// The scope of a REST API request's token: a granted API token, else a runtime token.
    pub(crate) fn authorize_api(&self, headers: &HeaderMap) -> Result<RunScope> {
        let token = bearer_token(headers).ok_or(ServiceError::NoApiToken)?;
        match self.inner.api_tokens.scope(token) {
            Some(scope) => Ok(scope),
            None => self
                .inner
                .signer
                .verify(token, now_secs())
                .map_err(|_| ServiceError::BadApiToken),
        }
    }

    /// Finalized, unexpired artifacts of a run (of all runs for `None`).
    pub async fn artifacts(&self, run_id: Option<&str>) -> Result<Vec<ArtifactInfo>> {
        self.inner.db.artifacts(run_id, now_secs()).await
    }

    /// An artifact's zip, streamed.
    pub async fn artifact_content(&self, id: i64) -> Result<(ArtifactInfo, ByteStream)> {
        let info = self
            .inner
            .db
            .artifact_by_id(id, now_secs())
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no artifact with id {id}")))?;
        let stream = self
            .inner
            .blobs
            .read(&parse_digest(&info.digest)?, None)
            .await?;
        Ok((info, stream))
    }

    /// Deletes an artifact and, when nothing else shares it, its content.
    pub async fn delete_artifact(&self, id: i64) -> Result<Option<ArtifactInfo>> {
        let Some((info, upload)) = self.inner.db.delete_artifact(id).await? else {
            return Ok(None);
        };
        self.inner.blobs.discard(&upload).await;
        self.release(&info.digest).await?;
        Ok(Some(info))
    }

    /// Cache entries of a repository (of all for `None`).
    pub async fn caches(&self, repository: Option<&str>) -> Result<Vec<CacheInfo>> {
        self.inner.db.caches(repository).await
    }

    /// Deletes a cache entry; `false` when there was none.
    pub async fn delete_cache(&self, id: i64) -> Result<bool> {
        let Some((digest, upload)) = self.inner.db.delete_cache(id).await? else {
            return Ok(false);
        };
        self.inner.blobs.discard(&upload).await;
        self.release(&digest).await?;
        Ok(true)
    }

    /// Deletes artifacts past their retention; returns how many.
    pub async fn purge_expired(&self) -> Result<usize> {
        let expired = self.inner.db.expired_artifacts(now_secs()).await?;
        for id in &expired {
            self.delete_artifact(*id).await?;
        }
        Ok(expired.len())
    }

    /// Removes a blob no row refers to any more.
    pub(crate) async fn release(&self, digest: &str) -> Result<()> {
        if digest.is_empty() || self.inner.db.digest_used(digest).await? {
            return Ok(());
        }
        self.inner.blobs.delete(&parse_digest(digest)?).await
    }

    /// A signed URL for `kind`/`id` on the host the client reached us at.
    pub(crate) fn signed_url(&self, headers: &HeaderMap, kind: &str, id: &str) -> String {
        let expires = now_secs() + URL_TTL_SECS;
        let sig = self.inner.signer.sign_url(kind, id, expires);
        format!(
            "{}/_blob/{kind}/{id}?se={expires}&sig={sig}",
            base_url(headers)
        )
    }
}

/// The REST API's routes under [`rest::API_PATH`], every other path there answered with 404.
fn rest_api() -> Router<Services> {
    let api = rest::API_PATH;
    Router::new()
        .route(
            &format!("{api}/repos/{{owner}}/{{repo}}/actions/runs/{{run}}/artifacts"),
            get(rest::list_run_artifacts),
        )
        .route(
            &format!("{api}/repos/{{owner}}/{{repo}}/actions/artifacts/{{id}}/zip"),
            get(rest::download_zip),
        )
        .route(api, any(rest::not_served))
        .route(&format!("{api}/"), any(rest::not_served))
        .route(&format!("{api}/{{*rest}}"), any(rest::not_served))
}

/// The token of an `Authorization` header: `Bearer <t>`, or `token <t>` as Octokit (the REST
/// API's client) writes it.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .or_else(|| value.strip_prefix("token "))?
        .trim();
    (!token.is_empty()).then_some(token)
}

/// Answers a Twirp call: the bearer token's scope goes to `call`, its value or error is
/// written as Twirp JSON.
pub(crate) async fn twirp<F, Fut>(
    svc: Services,
    headers: HeaderMap,
    call: F,
) -> axum::response::Response
where
    F: FnOnce(Services, RunScope, HeaderMap) -> Fut,
    Fut: std::future::Future<Output = Result<serde_json::Value>>,
{
    use axum::response::IntoResponse;
    let result = match svc.authorize(&headers) {
        Ok(scope) => call(svc, scope, headers).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(value) => axum::Json(value).into_response(),
        Err(e) => e.twirp(),
    }
}

/// `http://<Host>`: the address the job used, which is also reachable for its blob requests.
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'/' && b != b'@')
        })
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

pub(crate) fn parse_digest(s: &str) -> Result<Digest> {
    Digest::parse(s).map_err(|e| ServiceError::InvalidArgument(e.to_string()))
}

/// The environment a job needs to reach the services, named as GitHub's runner names it.
pub fn job_env(base_url: &str, token: &str) -> Vec<(String, String)> {
    let base = if base_url.ends_with('/') {
        base_url.to_owned()
    } else {
        format!("{base_url}/")
    };
    vec![
        ("ACTIONS_RUNTIME_URL".into(), base.clone()),
        ("ACTIONS_RESULTS_URL".into(), base.clone()),
        ("ACTIONS_CACHE_URL".into(), base),
        ("ACTIONS_RUNTIME_TOKEN".into(), token.to_owned()),
        // github.com selects the v2 cache service this way; the legacy one stays served for
        // clients that do not look at it.
        ("ACTIONS_CACHE_SERVICE_V2".into(), "True".into()),
    ]
}

/// A running services server.
pub struct ServeHandle {
    addr: SocketAddr,
    services: Services,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl ServeHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Stops accepting, lets in-flight requests finish, and waits.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ServeHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves `services` on `addr` (`127.0.0.1:0` for a free loopback port), within gantry-http's
/// limits (header, body and idle timeouts, a connection cap) like gantry's other listeners.
pub async fn serve(addr: SocketAddr, services: Services) -> Result<ServeHandle> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(ServiceError::io("bind", addr.to_string()))?;
    let addr = listener
        .local_addr()
        .map_err(ServiceError::io("bind", addr.to_string()))?;
    let (stop, stopped) = oneshot::channel::<()>();
    let app = services.router();
    let limits = gantry_http::Limits::default();
    let task = tokio::spawn(gantry_http::serve(listener, app, limits, async move {
        let _ = stopped.await;
    }));
    Ok(ServeHandle {
        addr,
        services,
        stop: Some(stop),
        task: Some(task),
    })
}
