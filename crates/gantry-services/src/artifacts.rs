//! `github.actions.results.api.v1.ArtifactService`, the Twirp API of `@actions/artifact` 2.x
//! (upload-artifact@v4, download-artifact@v4), in its JSON form. Field names are the proto
//! names the client sends (`useProtoFieldName`); int64s travel as strings.
//!
//! A run's token reaches only that run's artifacts: every request names its run
//! (`workflow_run_backend_id`) and must name the token's.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::db::ArtifactInfo;
use crate::error::{Result, ServiceError};
use crate::server::{Services, now_secs, parse_digest, twirp};
use crate::token::RunScope;

#[derive(Deserialize)]
struct CreateArtifact {
    #[serde(alias = "workflowRunBackendId")]
    workflow_run_backend_id: String,
    name: String,
    #[serde(default, alias = "expiresAt")]
    expires_at: Option<String>,
}

#[derive(Deserialize)]
struct FinalizeArtifact {
    #[serde(alias = "workflowRunBackendId")]
    workflow_run_backend_id: String,
    name: String,
    #[serde(deserialize_with = "int64")]
    size: u64,
    #[serde(default)]
    hash: Option<String>,
}

#[derive(Deserialize)]
struct ListArtifacts {
    #[serde(alias = "workflowRunBackendId")]
    workflow_run_backend_id: String,
    #[serde(default, alias = "nameFilter")]
    name_filter: Option<String>,
    #[serde(default, alias = "idFilter", deserialize_with = "opt_int64")]
    id_filter: Option<u64>,
}

#[derive(Deserialize)]
struct ByName {
    #[serde(alias = "workflowRunBackendId")]
    workflow_run_backend_id: String,
    name: String,
}

/// Proto3 JSON writes int64 as a string; numbers are accepted too.
fn int64<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<u64, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => s.parse().map_err(serde::de::Error::custom),
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| serde::de::Error::custom("not a u64")),
        _ => Err(serde::de::Error::custom("expected an int64")),
    }
}

fn opt_int64<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<u64>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) => s.parse().map(Some).map_err(serde::de::Error::custom),
        Value::Number(n) => Ok(n.as_u64()),
        _ => Err(serde::de::Error::custom("expected an int64")),
    }
}

pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body)
        .map_err(|e| ServiceError::InvalidArgument(format!("invalid request: {e}")))
}

/// Characters `@actions/artifact` refuses in names (NTFS-unsafe), which also keeps names
/// from ever being paths.
const FORBIDDEN: &[char] = &['"', ':', '<', '>', '|', '*', '?', '\r', '\n', '\\', '/'];

pub(crate) fn validate_name(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(ServiceError::InvalidArgument(format!(
            "invalid artifact name `{}`: {why}",
            name.escape_debug()
        )))
    };
    if name.trim().is_empty() {
        return bad("empty");
    }
    if name.len() > 256 {
        return bad("longer than 256 bytes");
    }
    if name == "." || name == ".." {
        return bad("not a name");
    }
    if let Some(c) = name
        .chars()
        .find(|c| FORBIDDEN.contains(c) || c.is_control())
    {
        return bad(&format!("contains {:?}", c));
    }
    Ok(())
}

fn same_run(scope: &RunScope, asked: &str) -> Result<()> {
    if scope.run_id != asked {
        return Err(ServiceError::OtherRun {
            token: scope.run_id.clone(),
            asked: asked.to_owned(),
        });
    }
    Ok(())
}

pub(crate) async fn rpc(
    State(svc): State<Services>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    twirp(svc, headers, |svc, scope, headers| async move {
        dispatch(&svc, &scope, &method, &headers, &body).await
    })
    .await
}

async fn dispatch(
    svc: &Services,
    scope: &RunScope,
    method: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value> {
    match method {
        "CreateArtifact" => create(svc, scope, headers, parse(body)?).await,
        "FinalizeArtifact" => finalize(svc, scope, parse(body)?).await,
        "ListArtifacts" => list(svc, scope, parse(body)?).await,
        "GetSignedArtifactURL" => signed_url(svc, scope, headers, parse(body)?).await,
        "DeleteArtifact" => delete(svc, scope, parse(body)?).await,
        other => Err(ServiceError::NotFound(format!(
            "no method ArtifactService/{other}"
        ))),
    }
}

/// The expiry an artifact gets: what it asked for, capped by the configured maximum.
fn expiry(svc: &Services, asked: Option<&str>, now: i64) -> Result<i64> {
    let cap = now + i64::from(svc.inner.config.max_retention_days) * 86400;
    let Some(asked) = asked else { return Ok(cap) };
    let at = chrono::DateTime::parse_from_rfc3339(asked)
        .map_err(|e| ServiceError::InvalidArgument(format!("invalid expires_at `{asked}`: {e}")))?
        .timestamp();
    if at <= now {
        return Err(ServiceError::InvalidArgument(format!(
            "expires_at `{asked}` is in the past"
        )));
    }
    Ok(at.min(cap))
}

async fn create(
    svc: &Services,
    scope: &RunScope,
    headers: &HeaderMap,
    req: CreateArtifact,
) -> Result<Value> {
    same_run(scope, &req.workflow_run_backend_id)?;
    validate_name(&req.name)?;
    let now = now_secs();
    let expires = expiry(svc, req.expires_at.as_deref(), now)?;
    // Expired artifacts go before new ones arrive, so retention needs no timer.
    svc.purge_expired().await?;
    let upload = uuid::Uuid::new_v4().simple().to_string();
    let (_, replaced) = svc
        .inner
        .db
        .create_artifact(
            &scope.run_id,
            &scope.repository,
            &req.name,
            &upload,
            now,
            expires,
        )
        .await?;
    if let Some(old) = replaced {
        svc.inner.blobs.discard(&old).await;
    }
    Ok(
        json!({"ok": true, "signed_upload_url": svc.signed_url(headers, "artifact-upload", &upload)}),
    )
}

async fn finalize(svc: &Services, scope: &RunScope, req: FinalizeArtifact) -> Result<Value> {
    same_run(scope, &req.workflow_run_backend_id)?;
    validate_name(&req.name)?;
    let pending = svc
        .inner
        .db
        .pending_artifact(&scope.run_id, &req.name)
        .await?
        .ok_or_else(|| {
            ServiceError::NotFound(format!(
                "no upload of artifact `{}` in progress in run {}",
                req.name, scope.run_id
            ))
        })?;
    if req.size > svc.inner.config.max_entry_bytes {
        return Err(ServiceError::TooLarge {
            limit: svc.inner.config.max_entry_bytes,
        });
    }
    let expected = req.hash.as_deref().map(parse_digest).transpose()?;
    let digest = svc
        .inner
        .blobs
        .seal_blocks(&pending.upload, req.size, expected.as_ref())
        .await?;
    svc.inner
        .db
        .finalize_artifact(pending.id, req.size, &digest.to_string(), now_secs())
        .await?;
    Ok(json!({"ok": true, "artifact_id": pending.id.to_string()}))
}

fn monolith(info: &ArtifactInfo) -> Value {
    let created = chrono::DateTime::from_timestamp(info.created_at, 0).unwrap_or_default();
    json!({
        "workflow_run_backend_id": info.run_id,
        "workflow_job_run_backend_id": info.run_id,
        "database_id": info.id.to_string(),
        "name": info.name,
        "size": info.size.to_string(),
        "created_at": created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "digest": info.digest,
    })
}

async fn list(svc: &Services, scope: &RunScope, req: ListArtifacts) -> Result<Value> {
    same_run(scope, &req.workflow_run_backend_id)?;
    let artifacts: Vec<Value> = svc
        .artifacts(Some(&scope.run_id))
        .await?
        .iter()
        .filter(|a| req.name_filter.as_ref().is_none_or(|n| &a.name == n))
        .filter(|a| req.id_filter.is_none_or(|id| a.id as u64 == id))
        .map(monolith)
        .collect();
    Ok(json!({ "artifacts": artifacts }))
}

async fn find(svc: &Services, scope: &RunScope, name: &str) -> Result<ArtifactInfo> {
    svc.artifacts(Some(&scope.run_id))
        .await?
        .into_iter()
        .find(|a| a.name == name)
        .ok_or_else(|| {
            ServiceError::NotFound(format!(
                "no artifact named `{name}` in run {}",
                scope.run_id
            ))
        })
}

async fn signed_url(
    svc: &Services,
    scope: &RunScope,
    headers: &HeaderMap,
    req: ByName,
) -> Result<Value> {
    same_run(scope, &req.workflow_run_backend_id)?;
    let info = find(svc, scope, &req.name).await?;
    Ok(json!({"signed_url": svc.signed_url(headers, "artifact", &info.id.to_string())}))
}

async fn delete(svc: &Services, scope: &RunScope, req: ByName) -> Result<Value> {
    same_run(scope, &req.workflow_run_backend_id)?;
    let info = find(svc, scope, &req.name).await?;
    svc.delete_artifact(info.id).await?;
    Ok(json!({"ok": true, "artifact_id": info.id.to_string()}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_be_paths_are_refused() {
        for bad in [
            "", " ", "..", ".", "a/b", "..\\x", "../etc", "a:b", "x\ny", "q?",
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        for good in ["dist", "my artifact", "build-linux_x64.1", "..dots"] {
            assert!(validate_name(good).is_ok(), "{good:?}");
        }
    }
}
