//! Blobs and blob uploads: monolithic, chunked/resumable, cross-repository mount.

use super::{Ctx, OciError};
use crate::auth::Access;
use crate::digest::Digest;
use crate::http::header_str;
use crate::storage::ByteStream;
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use std::io;

fn parse_digest(s: &str) -> Result<Digest, OciError> {
    Digest::parse(s).map_err(|e| OciError::digest_invalid(e.to_string()))
}

fn body_stream(body: Body) -> ByteStream {
    Box::pin(body.into_data_stream().map(|r| r.map_err(io::Error::other)))
}

/// Fails the stream at its end unless exactly `expected` bytes went through: a chunk shorter
/// than its `Content-Range` is a truncated upload and must not be kept.
fn exact_len(stream: ByteStream, expected: u64) -> ByteStream {
    // An empty marker chunk at the end lets the scan check the total once everything arrived.
    let end = futures::stream::once(async { Ok(bytes::Bytes::new()) });
    let checked = stream.chain(end).scan(0u64, move |sum, chunk| {
        let out = match chunk {
            Ok(c) if c.is_empty() && *sum != expected => Err(io::Error::other(format!(
                "received {sum} bytes, Content-Range announced {expected}"
            ))),
            Ok(c) => {
                *sum += c.len() as u64;
                Ok(c)
            }
            Err(e) => Err(e),
        };
        futures::future::ready(Some(out))
    });
    Box::pin(checked)
}

fn blob_location(name: &str, digest: &Digest) -> String {
    format!("/v2/{name}/blobs/{digest}")
}

fn created(name: &str, digest: &Digest) -> Response {
    (
        StatusCode::CREATED,
        [
            (header::LOCATION, blob_location(name, digest)),
            (
                header::HeaderName::from_static("docker-content-digest"),
                digest.to_string(),
            ),
            (header::CONTENT_LENGTH, "0".to_owned()),
        ],
    )
        .into_response()
}

fn upload_status(status: StatusCode, name: &str, id: &str, size: u64) -> Response {
    // An empty upload reports `0-0`, as the distribution registry does.
    let range = format!("0-{}", size.saturating_sub(1));
    (
        status,
        [
            (header::LOCATION, format!("/v2/{name}/blobs/uploads/{id}")),
            (header::RANGE, range),
            (
                header::HeaderName::from_static("docker-upload-uuid"),
                id.to_owned(),
            ),
            (header::CONTENT_LENGTH, "0".to_owned()),
        ],
    )
        .into_response()
}

/// `GET`/`HEAD`/`DELETE /v2/<name>/blobs/<digest>`.
pub(super) async fn blob(
    ctx: &Ctx,
    name: &str,
    digest: &str,
    method: Method,
) -> Result<Response, OciError> {
    let access = if method == Method::DELETE {
        Access::Delete
    } else {
        Access::Read
    };
    ctx.check(name, access).await?;
    let digest = parse_digest(digest)?;
    let unknown = || {
        OciError::new(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            format!("blob {digest} is not known in {name}"),
        )
    };
    if method == Method::DELETE {
        let unlinked = ctx.app.db.unlink_blob(name, &digest.to_string()).await?;
        // The bytes stay until gc: another repository or manifest may still use them.
        return if unlinked {
            Ok(StatusCode::ACCEPTED.into_response())
        } else {
            Err(unknown())
        };
    }
    if method != Method::GET && method != Method::HEAD {
        return Err(OciError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "method not allowed on blobs",
        ));
    }
    let size = match ctx.app.db.blob_linked(name, &digest.to_string()).await? {
        true => ctx.app.store.size(&digest).await?,
        false => None,
    };
    let Some(size) = size else {
        return Err(unknown());
    };
    let range = match header_str(&ctx.headers, "range") {
        Some(r) => Some(parse_range(r, size).ok_or_else(|| {
            OciError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "BLOB_UNKNOWN",
                format!("range {r} is not satisfiable"),
            )
        })?),
        None => None,
    };
    serve_blob(ctx, &digest, size, range, method == Method::HEAD).await
}

async fn serve_blob(
    ctx: &Ctx,
    digest: &Digest,
    size: u64,
    range: Option<(u64, u64)>,
    head: bool,
) -> Result<Response, OciError> {
    let (status, len) = match range {
        Some((_, len)) => (StatusCode::PARTIAL_CONTENT, len),
        None => (StatusCode::OK, size),
    };
    let body = if head {
        Body::empty()
    } else {
        Body::from_stream(ctx.app.store.read(digest, range).await?)
    };
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, len)
        .header("docker-content-digest", digest.to_string())
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::ETAG, format!("\"{digest}\""));
    if let Some((start, len)) = range {
        response = response.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", start + len - 1),
        );
    }
    response
        .body(body)
        .map_err(|e| OciError::new(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", e.to_string()))
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` to `(offset, len)`; `None` when unsatisfiable.
fn parse_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (size.checked_sub(n.min(size))?, size.checked_sub(1)?)
        }
        (a, "") => (a.parse().ok()?, size.checked_sub(1)?),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.min(size.checked_sub(1)?),
        ),
    };
    (start <= end && start < size).then(|| (start, end - start + 1))
}

/// `POST /v2/<name>/blobs/uploads/`: mount, monolithic upload, or a new session.
pub(super) async fn start_upload(ctx: &Ctx, name: &str, body: Body) -> Result<Response, OciError> {
    ctx.check(name, Access::Write).await?;
    if let Some(mount) = ctx.param("mount")
        && let Some(response) = try_mount(ctx, name, &mount).await?
    {
        return Ok(response);
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let store = &ctx.app.store;
    store.create_upload(&id).await?;
    if let Some(digest) = ctx.param("digest") {
        let digest = match parse_digest(&digest) {
            Ok(d) => d,
            Err(e) => {
                let _ = store.abort(&id).await;
                return Err(e);
            }
        };
        return finish(ctx, name, &id, &digest, body_stream(body)).await;
    }
    ctx.app.db.insert_upload(&id, name).await?;
    Ok(upload_status(StatusCode::ACCEPTED, name, &id, 0))
}

/// Links a blob of another repository the caller can read. `None` falls back to a plain upload
/// session, as the spec asks when a mount is not possible.
async fn try_mount(ctx: &Ctx, name: &str, mount: &str) -> Result<Option<Response>, OciError> {
    let digest = parse_digest(mount)?;
    let Some(from) = ctx
        .param("from")
        .filter(|f| crate::names::valid_repository(f))
    else {
        return Ok(None);
    };
    if ctx.check(&from, Access::Read).await.is_err()
        || !ctx.app.db.blob_linked(&from, &digest.to_string()).await?
    {
        return Ok(None);
    }
    if ctx.app.store.size(&digest).await?.is_none() {
        return Ok(None);
    }
    ctx.app.db.link_blob(name, &digest.to_string()).await?;
    ctx.ensure_package(name).await?;
    Ok(Some(created(name, &digest)))
}

/// Appends the final data, verifies the digest, links the blob. Any failure discards the
/// upload: nothing half-written is ever visible.
async fn finish(
    ctx: &Ctx,
    name: &str,
    id: &str,
    digest: &Digest,
    data: ByteStream,
) -> Result<Response, OciError> {
    let store = &ctx.app.store;
    let result = async {
        store.append(id, data, ctx.app.config.max_blob_size).await?;
        store.commit(id, digest).await
    }
    .await;
    ctx.app.db.delete_upload(id).await?;
    if let Err(e) = result {
        let _ = store.abort(id).await;
        return Err(e.into());
    }
    ctx.app.db.link_blob(name, &digest.to_string()).await?;
    ctx.ensure_package(name).await?;
    Ok(created(name, digest))
}

/// `GET`/`PATCH`/`PUT`/`DELETE /v2/<name>/blobs/uploads/<id>`.
pub(super) async fn upload(
    ctx: &Ctx,
    name: &str,
    id: &str,
    method: Method,
    body: Body,
) -> Result<Response, OciError> {
    ctx.check(name, Access::Write).await?;
    if ctx.app.db.upload_repo(id).await?.as_deref() != Some(name) {
        return Err(OciError::upload_unknown(id));
    }
    let store = &ctx.app.store;
    match method {
        Method::GET => Ok(upload_status(
            StatusCode::NO_CONTENT,
            name,
            id,
            store.upload_size(id).await?,
        )),
        Method::PATCH => patch(ctx, name, id, body).await,
        Method::PUT => {
            let digest = ctx
                .param("digest")
                .ok_or_else(|| OciError::digest_invalid("digest parameter missing"))?;
            finish(ctx, name, id, &parse_digest(&digest)?, body_stream(body)).await
        }
        Method::DELETE => {
            ctx.app.db.delete_upload(id).await?;
            store.abort(id).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(OciError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "method not allowed on uploads",
        )),
    }
}

async fn patch(ctx: &Ctx, name: &str, id: &str, body: Body) -> Result<Response, OciError> {
    let store = &ctx.app.store;
    let current = store.upload_size(id).await?;
    let mut data = body_stream(body);
    if let Some(range) = header_str(&ctx.headers, "content-range") {
        let (start, end) = parse_content_range(range).ok_or_else(|| {
            OciError::new(
                StatusCode::BAD_REQUEST,
                "BLOB_UPLOAD_INVALID",
                format!("malformed Content-Range {range}"),
            )
        })?;
        if start != current || end < start {
            // Out of order: tell the client where to resume.
            let mut response = OciError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "BLOB_UPLOAD_INVALID",
                format!("chunk starts at {start}, upload is at {current}"),
            )
            .into_response();
            let status = upload_status(StatusCode::RANGE_NOT_SATISFIABLE, name, id, current);
            for key in [header::LOCATION, header::RANGE] {
                if let Some(v) = status.headers().get(&key) {
                    response.headers_mut().insert(key, v.clone());
                }
            }
            return Ok(response);
        }
        data = exact_len(data, end - start + 1);
    }
    match store.append(id, data, ctx.app.config.max_blob_size).await {
        Ok(size) => Ok(upload_status(StatusCode::ACCEPTED, name, id, size)),
        Err(e @ crate::storage::StorageError::TooLarge { .. }) => {
            ctx.app.db.delete_upload(id).await?;
            let _ = store.abort(id).await;
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

/// `a-b` (the distribution form) or `bytes a-b/total`.
fn parse_content_range(value: &str) -> Option<(u64, u64)> {
    let v = value
        .trim()
        .trim_start_matches("bytes")
        .trim_start_matches('=')
        .trim();
    let v = v.split_once('/').map_or(v, |(r, _)| r);
    let (a, b) = v.split_once('-')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 10)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 10)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 10)));
        assert_eq!(parse_range("bytes=95-200", 100), Some((95, 5)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
        assert_eq!(parse_content_range("0-99"), Some((0, 99)));
        assert_eq!(parse_content_range("bytes 5-9/10"), Some((5, 9)));
        assert_eq!(parse_content_range("x"), None);
    }

    #[tokio::test]
    async fn exact_len_refuses_short_streams() {
        let ok: ByteStream = Box::pin(futures::stream::iter(vec![Ok(bytes::Bytes::from_static(
            b"abc",
        ))]));
        let all: Vec<_> = exact_len(ok, 3).collect().await;
        assert!(all.iter().all(Result::is_ok));
        let short: ByteStream = Box::pin(futures::stream::iter(vec![Ok(
            bytes::Bytes::from_static(b"ab"),
        )]));
        let all: Vec<_> = exact_len(short, 3).collect().await;
        assert!(all.last().is_some_and(Result::is_err));
    }
}
