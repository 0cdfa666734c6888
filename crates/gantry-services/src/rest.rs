//! The slice of GitHub's REST API that `@actions/artifact`'s `findBy` uses: what
//! download-artifact@v4 calls with `run-id` and `github-token` to read another run's artifacts
//! of the same repository (`GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts`, then
//! `GET /repos/{owner}/{repo}/actions/artifacts/{id}/zip`, a redirect to the signed blob URL).
//!
//! The client sends these to `GITHUB_API_URL` with the token it was given; here that token is
//! a run token of the same repository (any run of it, as a repository's `GITHUB_TOKEN` reads
//! any of its runs on GitHub). Another repository's artifacts stay out of reach.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::db::ArtifactInfo;
use crate::error::{Result, ServiceError};
use crate::server::{Services, base_url, now_secs};
use crate::token::RunScope;

/// GitHub's page size cap.
const MAX_PER_PAGE: usize = 100;

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
    let scope = svc.authorize(&headers)?;
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
    let scope = svc.authorize(&headers)?;
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
