//! The cache service of `@actions/cache` (actions/cache@v4), in both protocols it speaks:
//!
//! - the legacy REST API under `_apis/artifactcache/` (look up, reserve, `PATCH` chunks with
//!   `Content-Range`, commit, download from `archiveLocation`);
//! - the v2 Twirp `github.actions.results.api.v1.CacheService` (CreateCacheEntry, then an
//!   Azure blob upload to the signed URL, FinalizeCacheEntryUpload; GetCacheEntryDownloadURL),
//!   which the client picks when `ACTIONS_CACHE_SERVICE_V2` is set.
//!
//! GitHub's semantics: an entry is `key` + `version` (the client's hash of paths and
//! compression) in a scope (the ref it was saved from). A look-up tries the primary key
//! exactly, then each restore key as a prefix, newest first, first in the run's own ref and
//! then in the default branch's. Entries are immutable. Past the repository's size limit the
//! least recently used entries are evicted.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::artifacts::parse;
use crate::db::CacheInfo;
use crate::error::{Result, ServiceError};
use crate::server::{Services, now_ms, twirp};
use crate::token::RunScope;

/// GitHub's limit on key length.
const MAX_KEY: usize = 512;

fn validate_key(key: &str) -> Result<()> {
    if key.is_empty()
        || key.len() > MAX_KEY
        || key.contains(',')
        || key.chars().any(char::is_control)
    {
        return Err(ServiceError::InvalidArgument(format!(
            "invalid cache key `{}`: 1 to {MAX_KEY} characters, no commas",
            key.escape_debug()
        )));
    }
    Ok(())
}

fn validate_version(version: &str) -> Result<()> {
    if version.is_empty()
        || version.len() > MAX_KEY
        || !version.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(ServiceError::InvalidArgument(
            "invalid cache version".into(),
        ));
    }
    Ok(())
}

/// The scopes a run reads, in order: its own ref, then the default branch.
fn read_scopes(scope: &RunScope) -> Vec<&str> {
    let mut scopes = vec![scope.git_ref.as_str()];
    if scope.default_ref != scope.git_ref && !scope.default_ref.is_empty() {
        scopes.push(scope.default_ref.as_str());
    }
    scopes
}

/// GitHub's matching over `candidates` (newest first, all of the right version).
pub(crate) fn find_entry<'a>(
    candidates: &'a [CacheInfo],
    primary: &str,
    restore_keys: &[String],
    scopes: &[&str],
) -> Option<&'a CacheInfo> {
    for scope in scopes {
        let in_scope = || candidates.iter().filter(move |c| c.scope == *scope);
        if let Some(hit) = in_scope().find(|c| c.key == primary) {
            return Some(hit);
        }
        for prefix in restore_keys {
            if let Some(hit) = in_scope().find(|c| c.key.starts_with(prefix.as_str())) {
                return Some(hit);
            }
        }
    }
    None
}

async fn lookup(
    svc: &Services,
    scope: &RunScope,
    primary: &str,
    restore: &[String],
    version: &str,
) -> Result<Option<CacheInfo>> {
    validate_key(primary)?;
    for key in restore {
        validate_key(key)?;
    }
    validate_version(version)?;
    let candidates = svc
        .inner
        .db
        .cache_candidates(&scope.repository, version)
        .await?;
    let hit = find_entry(&candidates, primary, restore, &read_scopes(scope)).cloned();
    if let Some(hit) = &hit {
        svc.inner.db.touch_cache(hit.id, now_ms()).await?;
    }
    Ok(hit)
}

async fn reserve(
    svc: &Services,
    scope: &RunScope,
    key: &str,
    version: &str,
    size: Option<u64>,
) -> Result<(i64, String)> {
    validate_key(key)?;
    validate_version(version)?;
    let limit = svc
        .inner
        .config
        .max_entry_bytes
        .min(svc.inner.config.cache_limit_bytes);
    if size.is_some_and(|s| s > limit) {
        return Err(ServiceError::InvalidArgument(format!(
            "cache size of {} bytes is over the limit of {limit} bytes, not saving cache",
            size.unwrap_or(0)
        )));
    }
    let upload = uuid::Uuid::new_v4().simple().to_string();
    let (id, stale) = svc
        .inner
        .db
        .reserve_cache(
            &scope.repository,
            &scope.git_ref,
            key,
            version,
            &upload,
            now_ms(),
        )
        .await?;
    if let Some(stale) = stale {
        svc.inner.blobs.discard(&stale).await;
    }
    Ok((id, upload))
}

/// Makes a finished upload an entry, then evicts past the repository's limit.
async fn commit(svc: &Services, scope: &RunScope, id: i64, digest: &str, size: u64) -> Result<()> {
    svc.inner
        .db
        .commit_cache(id, size, digest, now_ms())
        .await?;
    let victims = svc
        .inner
        .db
        .lru_victims(&scope.repository, svc.inner.config.cache_limit_bytes, id)
        .await?;
    for victim in victims {
        tracing::debug!(
            "services: evicting cache entry {victim} of {}",
            scope.repository
        );
        svc.delete_cache(victim).await?;
    }
    Ok(())
}

fn check_size(svc: &Services, size: u64) -> Result<()> {
    let limit = svc
        .inner
        .config
        .max_entry_bytes
        .min(svc.inner.config.cache_limit_bytes);
    if size > limit {
        return Err(ServiceError::TooLarge { limit });
    }
    Ok(())
}

// ---- legacy REST ------------------------------------------------------------------------

#[derive(Deserialize)]
pub(crate) struct LookupQuery {
    keys: String,
    version: String,
}

fn legacy_entry(svc: &Services, headers: &HeaderMap, hit: &CacheInfo) -> Value {
    let created = chrono::DateTime::from_timestamp_millis(hit.created_at).unwrap_or_default();
    json!({
        "cacheKey": hit.key,
        "scope": hit.scope,
        "cacheVersion": hit.version,
        "creationTime": created.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "archiveLocation": svc.signed_url(headers, "cache", &hit.id.to_string()),
    })
}

pub(crate) async fn legacy_lookup(
    State(svc): State<Services>,
    headers: HeaderMap,
    Query(q): Query<LookupQuery>,
) -> Result<Response> {
    let scope = svc.authorize(&headers)?;
    let mut keys = q.keys.split(',').map(str::to_owned);
    let primary = keys.next().unwrap_or_default();
    let restore: Vec<String> = keys.collect();
    if restore.len() > 9 {
        return Err(ServiceError::InvalidArgument("at most 10 keys".into()));
    }
    match lookup(&svc, &scope, &primary, &restore, &q.version).await? {
        Some(hit) => Ok(Json(legacy_entry(&svc, &headers, &hit)).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    key: Option<String>,
}

pub(crate) async fn legacy_list(
    State(svc): State<Services>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Response> {
    let scope = svc.authorize(&headers)?;
    let entries: Vec<Value> = svc
        .caches(Some(&scope.repository))
        .await?
        .iter()
        .filter(|c| q.key.as_ref().is_none_or(|k| &c.key == k))
        .map(|c| json!({"cacheKey": c.key, "cacheVersion": c.version, "scope": c.scope,
            "creationTime": chrono::DateTime::from_timestamp_millis(c.created_at).unwrap_or_default().to_rfc3339()}))
        .collect();
    Ok(Json(json!({"totalCount": entries.len(), "artifactCaches": entries})).into_response())
}

#[derive(Deserialize)]
struct ReserveBody {
    key: String,
    version: String,
    #[serde(default, alias = "cacheSize")]
    cache_size: Option<u64>,
}

pub(crate) async fn legacy_reserve(
    State(svc): State<Services>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let scope = svc.authorize(&headers)?;
    let req: ReserveBody = parse(&body)?;
    let (id, _) = reserve(&svc, &scope, &req.key, &req.version, req.cache_size).await?;
    Ok((StatusCode::CREATED, Json(json!({"cacheId": id}))).into_response())
}

/// The legacy reservation `id` names, if it is one of the token's repository in progress.
async fn reservation(svc: &Services, scope: &RunScope, id: &str) -> Result<crate::db::Pending> {
    let missing = || {
        ServiceError::NotFound(format!(
            "no cache reservation `{id}` in progress for {}",
            scope.repository
        ))
    };
    let id: i64 = id.parse().map_err(|_| missing())?;
    svc.inner
        .db
        .pending_cache(&scope.repository, id)
        .await?
        .ok_or_else(missing)
}

/// `bytes START-END/*` (the client's form) or `bytes START-END/TOTAL`.
fn content_range(headers: &HeaderMap) -> Result<(u64, u64)> {
    let bad = || ServiceError::InvalidArgument("expected Content-Range: bytes START-END/*".into());
    let value = headers
        .get(header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(bad)?;
    let range = value.strip_prefix("bytes ").ok_or_else(bad)?;
    let (span, _total) = range.split_once('/').ok_or_else(bad)?;
    let (start, end) = span.split_once('-').ok_or_else(bad)?;
    let (start, end): (u64, u64) = (
        start.parse().map_err(|_| bad())?,
        end.parse().map_err(|_| bad())?,
    );
    if end < start {
        return Err(bad());
    }
    Ok((start, end - start + 1))
}

pub(crate) async fn legacy_upload(
    State(svc): State<Services>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let scope = svc.authorize(&headers)?;
    let pending = reservation(&svc, &scope, &id).await?;
    let (start, len) = content_range(&headers)?;
    let limit = svc.inner.config.max_request_bytes;
    if len > limit {
        return Err(ServiceError::TooLarge { limit });
    }
    check_size(&svc, start.saturating_add(len))?;
    svc.inner
        .blobs
        .put_chunk(&pending.upload, start, body.into_data_stream(), len)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct CommitBody {
    size: u64,
}

pub(crate) async fn legacy_commit(
    State(svc): State<Services>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let scope = svc.authorize(&headers)?;
    let req: CommitBody = parse(&body)?;
    let pending = reservation(&svc, &scope, &id).await?;
    check_size(&svc, req.size)?;
    let digest = svc
        .inner
        .blobs
        .seal_chunks(&pending.upload, req.size)
        .await?;
    commit(&svc, &scope, pending.id, &digest.to_string(), req.size).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- v2 Twirp ---------------------------------------------------------------------------

#[derive(Deserialize)]
struct CreateEntry {
    key: String,
    version: String,
}

#[derive(Deserialize)]
struct FinalizeEntry {
    key: String,
    version: String,
    #[serde(alias = "sizeBytes")]
    size_bytes: Value,
}

#[derive(Deserialize)]
struct DownloadUrl {
    key: String,
    #[serde(default, alias = "restoreKeys")]
    restore_keys: Vec<String>,
    version: String,
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
        "CreateCacheEntry" => {
            let req: CreateEntry = parse(body)?;
            let (_, upload) = reserve(svc, scope, &req.key, &req.version, None).await?;
            Ok(
                json!({"ok": true, "signed_upload_url": svc.signed_url(headers, "cache-upload", &upload)}),
            )
        }
        "FinalizeCacheEntryUpload" => {
            let req: FinalizeEntry = parse(body)?;
            let size = match &req.size_bytes {
                Value::String(s) => s.parse().ok(),
                Value::Number(n) => n.as_u64(),
                _ => None,
            }
            .ok_or_else(|| ServiceError::InvalidArgument("size_bytes must be an int64".into()))?;
            validate_key(&req.key)?;
            validate_version(&req.version)?;
            let pending = svc
                .inner
                .db
                .pending_cache_by_key(&scope.repository, &scope.git_ref, &req.key, &req.version)
                .await?
                .ok_or_else(|| {
                    ServiceError::NotFound(format!("no cache entry `{}` is being saved", req.key))
                })?;
            check_size(svc, size)?;
            let digest = svc
                .inner
                .blobs
                .seal_blocks(&pending.upload, size, None)
                .await?;
            commit(svc, scope, pending.id, &digest.to_string(), size).await?;
            Ok(json!({"ok": true, "entry_id": pending.id.to_string()}))
        }
        "GetCacheEntryDownloadURL" => {
            let req: DownloadUrl = parse(body)?;
            if req.restore_keys.len() > 9 {
                return Err(ServiceError::InvalidArgument("at most 10 keys".into()));
            }
            Ok(
                match lookup(svc, scope, &req.key, &req.restore_keys, &req.version).await? {
                    Some(hit) => json!({
                        "ok": true,
                        "signed_download_url": svc.signed_url(headers, "cache", &hit.id.to_string()),
                        "matched_key": hit.key,
                    }),
                    None => json!({"ok": false}),
                },
            )
        }
        other => Err(ServiceError::NotFound(format!(
            "no method CacheService/{other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64, scope: &str, key: &str, created_at: i64) -> CacheInfo {
        CacheInfo {
            id,
            repository: "o/r".into(),
            scope: scope.into(),
            key: key.into(),
            version: "v".into(),
            size: 1,
            digest: String::new(),
            created_at,
            last_used: created_at,
        }
    }

    #[test]
    fn exact_then_prefix_newest_first_own_ref_then_default() {
        let main = "refs/heads/main";
        let feature = "refs/heads/feature";
        // Newest first, as the database returns them.
        let all = vec![
            entry(4, main, "deps-linux-new", 40),
            entry(3, feature, "deps-linux-feature", 30),
            entry(2, main, "deps-linux-abc", 20),
            entry(1, main, "deps-linux-old", 10),
        ];
        let scopes = [feature, main];
        let find = |primary: &str, restore: &[&str], scopes: &[&str]| {
            let restore: Vec<String> = restore.iter().map(|s| s.to_string()).collect();
            find_entry(&all, primary, &restore, scopes).map(|e| e.id)
        };
        assert_eq!(
            find("deps-linux-abc", &["deps-"], &scopes),
            Some(3),
            "own ref first"
        );
        assert_eq!(
            find("deps-linux-abc", &["deps-"], &[main]),
            Some(2),
            "exact before prefix"
        );
        assert_eq!(
            find("nope", &["deps-linux-"], &[main]),
            Some(4),
            "newest prefix match"
        );
        assert_eq!(
            find("nope", &["zzz", "deps-linux-o"], &[main]),
            Some(1),
            "restore keys in order"
        );
        assert_eq!(
            find("deps-linux", &[], &[main]),
            None,
            "the primary key is not a prefix"
        );
        assert_eq!(
            find("deps-linux-feature", &[], &["refs/heads/other", main]),
            None,
            "other refs are invisible"
        );
    }
}
