//! A run's artifacts (what `actions/upload-artifact` stored through the daemon's runner
//! services): `GET /api/runs/{id}/artifacts` lists them with GitHub's field names, and
//! `GET /api/runs/{id}/artifacts/{artifact}/zip` streams one as the zip the action uploaded,
//! as GitHub's "download artifact" does.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gantry_services::ArtifactInfo;
use serde_json::{Value, json};

use crate::daemon::Shared;
use crate::http::api::{ApiError, load_run};

#[derive(Debug, thiserror::Error)]
pub enum ArtifactsError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("this daemon serves no artifacts ([services] enabled = false)")]
    Disabled,
    #[error("run {run} has no artifact with id {artifact}")]
    NoArtifact { run: i64, artifact: i64 },
    #[error("artifact service: {0}")]
    Services(#[from] gantry_services::ServiceError),
}

impl IntoResponse for ArtifactsError {
    fn into_response(self) -> Response {
        let status = match self {
            ArtifactsError::Api(e) => return e.into_response(),
            ArtifactsError::Services(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ArtifactsError::Disabled | ArtifactsError::NoArtifact { .. } => StatusCode::NOT_FOUND,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

type Result<T> = std::result::Result<T, ArtifactsError>;

/// The run's finalized, unexpired artifacts (the run must exist).
async fn run_artifacts(shared: &Arc<Shared>, id: i64) -> Result<Vec<ArtifactInfo>> {
    load_run(shared, id).await?;
    let services = shared.services.clone().ok_or(ArtifactsError::Disabled)?;
    let run = id.to_string();
    Ok(services.services().artifacts(Some(&run)).await?)
}

/// `2026-12-07T12:00:00Z`, as GitHub's API writes times.
fn time(secs: i64) -> Value {
    chrono::DateTime::from_timestamp(secs, 0).map_or(Value::Null, |t| {
        json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    })
}

fn artifact_json(run: i64, a: &ArtifactInfo) -> Value {
    json!({
        "id": a.id,
        "name": a.name,
        "size_in_bytes": a.size,
        "digest": a.digest,
        "created_at": time(a.created_at),
        "expires_at": time(a.expires_at),
        "expired": false,
        "archive_download_url": format!("/api/runs/{run}/artifacts/{}/zip", a.id),
    })
}

pub async fn list(State(shared): State<Arc<Shared>>, Path(id): Path<i64>) -> Result<Json<Value>> {
    let artifacts = run_artifacts(&shared, id).await?;
    let listed: Vec<Value> = artifacts.iter().map(|a| artifact_json(id, a)).collect();
    Ok(Json(
        json!({ "total_count": listed.len(), "artifacts": listed }),
    ))
}

pub async fn zip(
    State(shared): State<Arc<Shared>>,
    Path((id, artifact)): Path<(i64, i64)>,
) -> Result<Response> {
    // Through the run's own list: an id of another run's artifact is not found here.
    let found = run_artifacts(&shared, id).await?;
    let missing = ArtifactsError::NoArtifact { run: id, artifact };
    let info = found
        .into_iter()
        .find(|a| a.id == artifact)
        .ok_or(missing)?;
    let services = shared.services.clone().ok_or(ArtifactsError::Disabled)?;
    let (info, stream) = services.services().artifact_content(info.id).await?;
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(info.size));
    if let Ok(value) = HeaderValue::from_str(&disposition(&info.name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Ok(value) = HeaderValue::from_str(&info.digest) {
        headers.insert("x-gantry-digest", value);
    }
    Ok(response)
}

/// `attachment; filename="name.zip"`: the name with anything a header or a quoted string
/// cannot hold replaced (artifact names refuse most of it already).
fn disposition(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("attachment; filename=\"{safe}.zip\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_download_name_is_a_safe_quoted_string() {
        assert_eq!(disposition("dist"), "attachment; filename=\"dist.zip\"");
        assert_eq!(
            disposition("a\"b\\c\r\nd é"),
            "attachment; filename=\"a_b_c__d _.zip\""
        );
    }
}
