//! Routing and the small HTTP helpers both registries share.

use crate::registry::Inner;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::Response;
use axum::routing::any;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use std::sync::Arc;

pub(crate) type App = Arc<Inner>;

pub(crate) fn router(app: App) -> Router {
    let oci = Router::new()
        .route("/v2", any(crate::oci::base))
        .route("/v2/", any(crate::oci::base))
        .route("/v2/{*rest}", any(crate::oci::dispatch))
        .layer(axum::middleware::map_response(api_version));
    // npm names live at the root (`/@scope%2fname`), so npm takes every other path. The
    // daemon's own routes are more specific and win over this catch-all.
    let npm = Router::new().route("/{*path}", any(crate::npm::dispatch));
    oci.merge(npm).with_state(app)
}

async fn api_version(mut response: Response) -> Response {
    response.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    response
}

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("request body exceeds the limit of {0} bytes")]
    TooLarge(u64),
    #[error("reading the request body failed: {0}")]
    Read(String),
}

/// Collects a body of at most `limit` bytes, refusing early on a larger `Content-Length`.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, BodyError> {
    if content_length(headers).is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge(limit as u64));
    }
    let mut stream = body.into_data_stream();
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyError::Read(e.to_string()))?;
        if buf.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit as u64));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Decodes `%XX` escapes; `None` for malformed escapes or non-UTF-8 results.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Whether a (decoded) path has `.` or `..` segments: never part of a valid name, always
/// refused before routing so no handler has to think about traversal.
pub(crate) fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|seg| seg == "." || seg == "..")
}

/// The decoded query parameters, in order (`application/x-www-form-urlencoded` rules: `+` is a
/// space, `%XX` escapes).
pub(crate) fn query(uri: &Uri) -> Vec<(String, String)> {
    let Some(q) = uri.query() else {
        return Vec::new();
    };
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

pub(crate) fn query_get(params: &[(String, String)], key: &str) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("@o%2fp").as_deref(), Some("@o/p"));
        assert_eq!(percent_decode("%2e%2E").as_deref(), Some(".."));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%2"), None);
        let uri: Uri = "/x?n=2&last=a%3Ab&flag".parse().unwrap();
        let q = query(&uri);
        assert_eq!(query_get(&q, "last").as_deref(), Some("a:b"));
        assert_eq!(query_get(&q, "flag").as_deref(), Some(""));
    }
}
