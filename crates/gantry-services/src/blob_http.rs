//! The blob endpoints behind signed URLs, speaking the part of Azure Blob Storage's REST API
//! the clients' `@azure/storage-blob` uses: `PUT` (single shot), `PUT ?comp=block&blockid=`
//! (stage a block), `PUT ?comp=blocklist` (commit the blocks in order), `GET` (download).
//!
//! URLs look like `http://127.0.0.1:PORT/_blob/<kind>/<id>?se=<expiry>&sig=<hmac>`: the SDK
//! reads an IP host as path-style (`/account/container/blob`), which this is. A URL is a
//! capability for one upload or one download until it expires; an upload URL stops working
//! once its artifact or cache entry is finalized (content is immutable).

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::error::{Result, ServiceError};
use crate::server::{Services, now_ms, now_secs, parse_digest};

#[derive(Deserialize)]
pub(crate) struct BlobQuery {
    se: i64,
    sig: String,
    #[serde(default)]
    comp: Option<String>,
    #[serde(default)]
    blockid: Option<String>,
}

/// Azure block ids are base64 of at most 64 bytes.
const MAX_BLOCK_ID: usize = 128;

/// `Content-Length` when the client sent one (a truncated body then shows as a short part).
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

fn created() -> Response {
    let mut response = StatusCode::CREATED.into_response();
    let headers = response.headers_mut();
    headers.insert("x-ms-version", HeaderValue::from_static("2024-11-04"));
    headers.insert(
        "x-ms-request-server-encrypted",
        HeaderValue::from_static("false"),
    );
    let id = uuid::Uuid::new_v4().to_string();
    if let Ok(v) = HeaderValue::from_str(&id) {
        headers.insert("x-ms-request-id", v.clone());
        headers.insert(header::ETAG, v);
    }
    response
}

pub(crate) async fn put(
    State(svc): State<Services>,
    Path((container, id)): Path<(String, String)>,
    Query(q): Query<BlobQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match put_inner(&svc, &container, &id, q, &headers, body).await {
        Ok(()) => created(),
        Err(e) => e.into_response(),
    }
}

async fn put_inner(
    svc: &Services,
    container: &str,
    upload: &str,
    q: BlobQuery,
    headers: &HeaderMap,
    body: Body,
) -> Result<()> {
    svc.inner
        .signer
        .check_url(container, upload, q.se, &q.sig, now_secs())?;
    let live = match container {
        "artifact-upload" => svc.inner.db.pending_artifact_by_upload(upload).await?,
        "cache-upload" => svc.inner.db.pending_cache_by_upload(upload).await?,
        _ => {
            return Err(ServiceError::NotFound(format!(
                "no blob container `{container}`"
            )));
        }
    };
    if live.is_none() {
        return Err(ServiceError::AlreadyExists(
            "this upload was finalized or deleted; its content can no longer change".into(),
        ));
    }
    let limit = svc.inner.config.max_request_bytes;
    let length = content_length(headers);
    if length.is_some_and(|l| l > limit) {
        return Err(ServiceError::TooLarge { limit });
    }
    let blobs = &svc.inner.blobs;
    match q.comp.as_deref() {
        None => {
            blobs
                .put_whole(upload, body.into_data_stream(), limit, length)
                .await?;
        }
        Some("block") => {
            let block = q
                .blockid
                .filter(|b| !b.is_empty() && b.len() <= MAX_BLOCK_ID)
                .ok_or_else(|| {
                    ServiceError::InvalidArgument(
                        "comp=block needs a blockid of at most 128 characters".into(),
                    )
                })?;
            let length = length.ok_or_else(|| {
                ServiceError::InvalidArgument("comp=block needs a Content-Length".into())
            })?;
            blobs
                .put_block(upload, &block, body.into_data_stream(), length)
                .await?;
        }
        Some("blocklist") => {
            let max = svc.inner.config.max_json_bytes;
            let xml = axum::body::to_bytes(body, max)
                .await
                .map_err(|_| ServiceError::TooLarge { limit: max as u64 })?;
            let ids = parse_block_list(&xml)?;
            blobs.set_block_list(upload, ids).await?;
        }
        Some(other) => {
            return Err(ServiceError::InvalidArgument(format!(
                "unsupported blob operation comp={other}"
            )));
        }
    }
    Ok(())
}

/// The block ids of a `<BlockList>` in order (`Latest`, `Committed` and `Uncommitted` all
/// name staged blocks here: nothing is committed before the block list).
pub(crate) fn parse_block_list(xml: &Bytes) -> Result<Vec<String>> {
    let text = std::str::from_utf8(xml)
        .map_err(|_| ServiceError::InvalidArgument("block list is not utf-8".into()))?;
    if !text.contains("<BlockList") {
        return Err(ServiceError::InvalidArgument(
            "body is not a <BlockList>".into(),
        ));
    }
    let mut ids = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let Some(end) = rest.find('>') else { break };
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if matches!(tag, "Latest" | "Committed" | "Uncommitted") {
            let close = format!("</{tag}>");
            let Some(stop) = rest.find(&close) else {
                return Err(ServiceError::InvalidArgument(format!(
                    "unterminated <{tag}> in block list"
                )));
            };
            let id = rest[..stop].trim();
            if id.is_empty() || id.len() > MAX_BLOCK_ID {
                return Err(ServiceError::InvalidArgument(
                    "invalid block id in block list".into(),
                ));
            }
            ids.push(id.to_owned());
            rest = &rest[stop + close.len()..];
        }
    }
    Ok(ids)
}

pub(crate) async fn get(
    State(svc): State<Services>,
    Path((container, id)): Path<(String, String)>,
    Query(q): Query<BlobQuery>,
    headers: HeaderMap,
) -> Response {
    match get_inner(&svc, &container, &id, q, &headers).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn get_inner(
    svc: &Services,
    container: &str,
    id: &str,
    q: BlobQuery,
    request: &HeaderMap,
) -> Result<Response> {
    svc.inner
        .signer
        .check_url(container, id, q.se, &q.sig, now_secs())?;
    let row: i64 = id
        .parse()
        .map_err(|_| ServiceError::NotFound(format!("no blob `{id}`")))?;
    let (digest, content_type) = match container {
        "artifact" => {
            let info = svc.inner.db.artifact_by_id(row, now_secs()).await?;
            let info = info.ok_or_else(|| {
                ServiceError::NotFound("the artifact was deleted or has expired".into())
            })?;
            (info.digest, "application/zip")
        }
        "cache" => {
            let info = svc.inner.db.cache_by_id(row).await?;
            let info = info.ok_or_else(|| {
                ServiceError::NotFound("the cache entry was deleted or evicted".into())
            })?;
            svc.inner.db.touch_cache(row, now_ms()).await?;
            (info.digest, "application/octet-stream")
        }
        _ => {
            return Err(ServiceError::NotFound(format!(
                "no blob container `{container}`"
            )));
        }
    };
    let digest = parse_digest(&digest)?;
    let size = svc
        .inner
        .blobs
        .size(&digest)
        .await?
        .ok_or_else(|| ServiceError::NotFound("the content is gone".into()))?;
    // The Azure SDK asks with `x-ms-range`, plain HTTP clients with `Range`.
    let asked = request
        .get("x-ms-range")
        .or_else(|| request.get(header::RANGE))
        .and_then(|v| v.to_str().ok());
    let range = match asked {
        Some(spec) => match byte_range(spec, size) {
            Some(range) => Some(range),
            None => {
                let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    response.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return Ok(response);
            }
        },
        None => None,
    };
    let stream = svc.inner.blobs.read(&digest, range).await?;
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert("x-ms-blob-type", HeaderValue::from_static("BlockBlob"));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    match range {
        Some((start, len)) => {
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            let end = start + len - 1;
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{size}")) {
                headers.insert(header::CONTENT_RANGE, v);
            }
        }
        None => {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
        }
    }
    Ok(response)
}

/// One `bytes=START-END`, `bytes=START-` or `bytes=-SUFFIX` range of a `size`-byte blob as
/// (start, len); `None` when it is malformed or outside the blob (416).
fn byte_range(spec: &str, size: u64) -> Option<(u64, u64)> {
    let (start, end) = spec.trim().strip_prefix("bytes=")?.split_once('-')?;
    let (start, end) = (start.trim(), end.trim());
    let (start, end) = if start.is_empty() {
        let suffix: u64 = end.parse().ok()?;
        (size.checked_sub(suffix.min(size))?, size.checked_sub(1)?)
    } else {
        let start: u64 = start.parse().ok()?;
        let end = if end.is_empty() {
            size.checked_sub(1)?
        } else {
            end.parse::<u64>().ok()?.min(size.checked_sub(1)?)
        };
        (start, end)
    };
    (start <= end && start < size).then(|| (start, end - start + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_of_a_ten_byte_blob() {
        let cases: &[(&str, Option<(u64, u64)>)] = &[
            ("bytes=0-3", Some((0, 4))),
            ("bytes=4-", Some((4, 6))),
            ("bytes=-3", Some((7, 3))),
            ("bytes=8-100", Some((8, 2))),
            ("bytes=-100", Some((0, 10))),
            ("bytes=10-", None),
            ("bytes=5-2", None),
            ("bytes=a-b", None),
            ("items=0-1", None),
        ];
        for (spec, want) in cases {
            assert_eq!(byte_range(spec, 10), *want, "{spec}");
        }
        assert_eq!(byte_range("bytes=0-", 0), None);
    }

    #[test]
    fn block_lists_parse_in_order() {
        let xml = Bytes::from_static(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><BlockList><Latest>AAA=</Latest><Uncommitted>BBB=</Uncommitted></BlockList>",
        );
        assert_eq!(parse_block_list(&xml).unwrap(), ["AAA=", "BBB="]);
        assert!(parse_block_list(&Bytes::from_static(b"<Other/>")).is_err());
        assert!(parse_block_list(&Bytes::from_static(b"<BlockList><Latest>x")).is_err());
        assert!(
            parse_block_list(&Bytes::from_static(b"<BlockList></BlockList>"))
                .unwrap()
                .is_empty()
        );
    }
}
