//! The slice of GitHub's REST API that `@actions/artifact`'s `findBy` uses: what
//! download-artifact@v4 calls with `run-id` and `github-token` to read another run's artifacts
//! of the same repository (`GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts`, then
//! `GET /repos/{owner}/{repo}/actions/artifacts/{id}/zip`, a redirect to the signed blob URL).
//!
//! The API lives under [`API_PATH`] (`GITHUB_API_URL` is `<services>/_api`). The client sends
//! the token it was given (`github-token`, usually the run's `GITHUB_TOKEN`): a token granted
//! with [`Services::grant_api_token`] or a run's `ACTIONS_RUNTIME_TOKEN`, naming a repository;
//! it reads any run of that repository (as a repository's `GITHUB_TOKEN` reads any of its runs
//! on GitHub) and nothing of another. Every other path under the prefix answers GitHub's 404
//! JSON at once, so an action calling the API for something else fails fast and says why
//! instead of waiting on an unreachable api.github.com.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;

use crate::db::ArtifactInfo;
use crate::error::{Result, ServiceError};
use crate::server::{Services, base_url, now_secs};
use crate::token::RunScope;

/// GitHub's page size cap.
const MAX_PER_PAGE: usize = 100;

/// Where the REST API is mounted: `GITHUB_API_URL` is the services' base URL with this path.
pub const API_PATH: &str = "/_api";

/// `GITHUB_API_URL` for services reached at `base_url` (`http://127.0.0.1:PORT`).
pub fn api_url(base_url: &str) -> String {
    format!("{}{API_PATH}", base_url.trim_end_matches('/'))
}

/// Tokens the REST API accepts besides runtime tokens (a run's `GITHUB_TOKEN`), each with the
/// scope of the run it was granted for. Held in memory: a grant lives as long as the services'
/// process or until revoked (the daemon revokes when the run ends).
#[derive(Default)]
pub(crate) struct ApiTokens(Mutex<HashMap<String, RunScope>>);

impl ApiTokens {
    pub(crate) fn grant(&self, token: &str, scope: &RunScope) {
        if let Ok(mut tokens) = self.0.lock() {
            tokens.insert(token.to_owned(), scope.clone());
        }
    }

    pub(crate) fn revoke(&self, token: &str) {
        if let Ok(mut tokens) = self.0.lock() {
            tokens.remove(token);
        }
    }

    pub(crate) fn scope(&self, token: &str) -> Option<RunScope> {
        self.0.lock().ok()?.get(token).cloned()
    }
}

/// A fresh token in the shape of GitHub's installation tokens (`ghs_` and 36 characters).
pub(crate) fn new_api_token() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!("ghs_{}", &format!("{a}{b}")[..36])
}

/// Any other path under [`API_PATH`]: GitHub's 404 body, naming what is served.
pub(crate) async fn not_served(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    let path = uri.path().strip_prefix(API_PATH).unwrap_or(uri.path());
    let path = if path.is_empty() { "/" } else { path };
    let message = format!(
        "Not Found: {method} {path} is not part of gantry's offline GitHub API, which serves only \
         what download-artifact's run-id reads (GET /repos/{{owner}}/{{repo}}/actions/runs/{{run_id}}/artifacts \
         and GET /repos/{{owner}}/{{repo}}/actions/artifacts/{{artifact_id}}/zip)"
    );
    let body = json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": "404",
    });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    per_page: Option<usize>,
    #[serde(default)]
    page: Option<usize>,
}

fn same_repository(scope: &RunScope, owner: &str, repo: &str) -> Result<()> {
    let asked = format!("{owner}/{repo}");
    if scope.repository != asked {
        return Err(ServiceError::OtherRepository {
            token: scope.repository.clone(),
            asked,
        });
    }
    Ok(())
}

fn iso(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A run id as GitHub writes it (a number) when it is one.
fn run_number(run: &str) -> Value {
    run.parse::<u64>()
        .map_or_else(|_| Value::from(run), Value::from)
}

fn artifact_json(base: &str, info: &ArtifactInfo) -> Value {
    let api = format!(
        "{base}/repos/{}/actions/artifacts/{}",
        info.repository, info.id
    );
    json!({
        "id": info.id,
        "node_id": "",
        "name": info.name,
        "size_in_bytes": info.size,
        "url": api,
        "archive_download_url": format!("{api}/zip"),
        "expired": false,
        "created_at": iso(info.created_at),
        "updated_at": iso(info.created_at),
        "expires_at": iso(info.expires_at),
        "digest": info.digest,
        "workflow_run": { "id": run_number(&info.run_id) },
    })
}

pub(crate) async fn list_run_artifacts(
    State(svc): State<Services>,
    Path((owner, repo, run)): Path<(String, String, String)>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let scope = svc.authorize_api(&headers)?;
    same_repository(&scope, &owner, &repo)?;
    let all: Vec<ArtifactInfo> = svc
        .artifacts(Some(&run))
        .await?
        .into_iter()
        .filter(|a| a.repository == scope.repository)
        .filter(|a| q.name.as_ref().is_none_or(|n| &a.name == n))
        .collect();
    let per_page = q.per_page.unwrap_or(30).clamp(1, MAX_PER_PAGE);
    let page = q.page.unwrap_or(1).max(1);
    let base = base_url(&headers);
    let artifacts: Vec<Value> = all
        .iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .map(|a| artifact_json(&base, a))
        .collect();
    Ok(Json(json!({"total_count": all.len(), "artifacts": artifacts})).into_response())
}

pub(crate) async fn download_zip(
    State(svc): State<Services>,
    Path((owner, repo, id)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    let scope = svc.authorize_api(&headers)?;
    same_repository(&scope, &owner, &repo)?;
    let missing = || ServiceError::NotFound(format!("no artifact `{id}` in {owner}/{repo}"));
    let row: i64 = id.parse().map_err(|_| missing())?;
    let info = svc
        .inner
        .db
        .artifact_by_id(row, now_secs())
        .await?
        .filter(|a| a.repository == scope.repository)
        .ok_or_else(missing)?;
    let location = svc.signed_url(&headers, "artifact", &info.id.to_string());
    let mut response = StatusCode::FOUND.into_response();
    let value = HeaderValue::from_str(&location)
        .map_err(|e| ServiceError::InvalidArgument(format!("unusable host header: {e}")))?;
    response.headers_mut().insert(header::LOCATION, value);
    Ok(response)
}
