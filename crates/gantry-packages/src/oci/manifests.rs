//! Manifests (Docker v2 schema 2, manifest lists, OCI manifests and indexes) and referrers.

use super::{Ctx, OciError, json_response};
use crate::auth::Access;
use crate::db::ManifestRow;
use crate::digest::Digest;
use crate::http::{header_str, read_body};
use crate::names;
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// What a manifest references, after validation.
#[derive(Debug, Default, PartialEq)]
struct Parsed {
    media_type: String,
    blobs: Vec<Digest>,
    manifests: Vec<Digest>,
    subject: Option<Digest>,
    artifact_type: Option<String>,
}

pub(super) async fn handle(
    ctx: &Ctx,
    name: &str,
    reference: &str,
    method: Method,
    body: Body,
) -> Result<Response, OciError> {
    match method {
        Method::GET | Method::HEAD => get(ctx, name, reference, method == Method::HEAD).await,
        Method::PUT => put(ctx, name, reference, body).await,
        Method::DELETE => delete(ctx, name, reference).await,
        _ => Err(OciError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "method not allowed on manifests",
        )),
    }
}

enum Reference {
    Tag(String),
    Digest(Digest),
}

fn parse_reference(reference: &str) -> Result<Reference, OciError> {
    if reference.contains(':') {
        return Digest::parse(reference)
            .map(Reference::Digest)
            .map_err(|e| OciError::digest_invalid(e.to_string()));
    }
    if names::valid_tag(reference) {
        Ok(Reference::Tag(reference.to_owned()))
    } else {
        Err(OciError::new(
            StatusCode::BAD_REQUEST,
            "TAG_INVALID",
            format!("invalid tag {reference:?}"),
        ))
    }
}

fn unknown(name: &str, reference: &str) -> OciError {
    OciError::new(
        StatusCode::NOT_FOUND,
        "MANIFEST_UNKNOWN",
        format!("manifest {reference} is not known in {name}"),
    )
}

async fn get(ctx: &Ctx, name: &str, reference: &str, head: bool) -> Result<Response, OciError> {
    ctx.check(name, Access::Read).await?;
    let digest = match parse_reference(reference)? {
        Reference::Digest(d) => d.to_string(),
        Reference::Tag(tag) => ctx
            .app
            .db
            .tag(name, &tag)
            .await?
            .ok_or_else(|| unknown(name, reference))?,
    };
    let row = ctx
        .app
        .db
        .manifest(name, &digest)
        .await?
        .ok_or_else(|| unknown(name, reference))?;
    let digest = Digest::parse(&row.digest).map_err(|e| OciError::digest_invalid(e.to_string()))?;
    let body = if head {
        Body::empty()
    } else {
        Body::from(ctx.app.store.read_all(&digest).await?)
    };
    let response = Response::builder()
        .header(header::CONTENT_TYPE, &row.media_type)
        .header(header::CONTENT_LENGTH, row.size)
        .header("docker-content-digest", &row.digest)
        .header(header::ETAG, format!("\"{}\"", row.digest))
        .body(body);
    response.map_err(|e| OciError::new(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", e.to_string()))
}

async fn put(ctx: &Ctx, name: &str, reference: &str, body: Body) -> Result<Response, OciError> {
    ctx.check(name, Access::Write).await?;
    let reference = parse_reference(reference)?;
    let bytes = read_body(&ctx.headers, body, ctx.app.config.max_manifest_size).await?;
    let content_type = header_str(&ctx.headers, "content-type")
        .map(|c| c.split(';').next().unwrap_or(c).trim().to_owned());
    let parsed = parse_manifest(&bytes, content_type.as_deref())?;
    let digest = Digest::of(&bytes);
    if let Reference::Digest(expected) = &reference
        && expected != &digest
    {
        return Err(OciError::digest_invalid(format!(
            "manifest digest {digest} does not match the reference {expected}"
        )));
    }
    check_references(ctx, name, &parsed).await?;
    ctx.app.store.put(bytes.clone()).await?;
    let children: Vec<String> = parsed
        .blobs
        .iter()
        .chain(&parsed.manifests)
        .map(ToString::to_string)
        .collect();
    let row = ManifestRow {
        digest: digest.to_string(),
        media_type: parsed.media_type.clone(),
        size: bytes.len() as i64,
        artifact_type: parsed.artifact_type.clone(),
    };
    let tag = match &reference {
        Reference::Tag(t) => Some(t.as_str()),
        Reference::Digest(_) => None,
    };
    let subject = parsed.subject.as_ref().map(ToString::to_string);
    ctx.app
        .db
        .put_manifest(name, &row, subject.as_deref(), &children, tag)
        .await?;
    ctx.ensure_package(name).await?;
    let mut response = (
        StatusCode::CREATED,
        [
            (header::LOCATION, format!("/v2/{name}/manifests/{digest}")),
            (
                header::HeaderName::from_static("docker-content-digest"),
                digest.to_string(),
            ),
            (header::CONTENT_LENGTH, "0".to_owned()),
        ],
    )
        .into_response();
    if let Some(value) = subject.and_then(|s| s.parse().ok()) {
        response.headers_mut().insert("oci-subject", value);
    }
    Ok(response)
}

/// Every referenced blob must be in this repository, every child manifest too.
async fn check_references(ctx: &Ctx, name: &str, parsed: &Parsed) -> Result<(), OciError> {
    let missing = |d: &Digest| {
        OciError::new(
            StatusCode::BAD_REQUEST,
            "MANIFEST_BLOB_UNKNOWN",
            format!("manifest references {d}, which is not in {name}"),
        )
    };
    for blob in &parsed.blobs {
        let linked = ctx.app.db.blob_linked(name, &blob.to_string()).await?;
        if !linked || ctx.app.store.size(blob).await?.is_none() {
            return Err(missing(blob));
        }
    }
    for child in &parsed.manifests {
        if ctx
            .app
            .db
            .manifest(name, &child.to_string())
            .await?
            .is_none()
        {
            return Err(missing(child));
        }
    }
    Ok(())
}

fn parse_manifest(bytes: &[u8], content_type: Option<&str>) -> Result<Parsed, OciError> {
    let doc: Value = serde_json::from_slice(bytes)
        .map_err(|e| OciError::manifest_invalid(format!("manifest is not JSON: {e}")))?;
    if doc.get("schemaVersion").and_then(Value::as_i64) != Some(2) {
        return Err(OciError::manifest_invalid("schemaVersion must be 2"));
    }
    let declared = doc.get("mediaType").and_then(Value::as_str);
    let media_type = match (content_type, declared) {
        (Some(c), Some(d)) if c != d => {
            return Err(OciError::manifest_invalid(format!(
                "Content-Type {c} does not match the manifest's mediaType {d}"
            )));
        }
        (_, Some(d)) => d.to_owned(),
        (Some(c), None) => c.to_owned(),
        (None, None) if doc.get("manifests").is_some() => OCI_INDEX.to_owned(),
        (None, None) => OCI_MANIFEST.to_owned(),
    };
    let mut parsed = Parsed {
        media_type,
        ..Parsed::default()
    };
    match parsed.media_type.as_str() {
        DOCKER_MANIFEST | OCI_MANIFEST => image_manifest(&doc, &mut parsed)?,
        DOCKER_LIST | OCI_INDEX => {
            parsed.manifests = descriptors(&doc, "manifests", true)?
                .into_iter()
                .map(|(d, _)| d)
                .collect();
        }
        other => {
            return Err(OciError::manifest_invalid(format!(
                "unsupported manifest media type {other}"
            )));
        }
    }
    if let Some(subject) = doc.get("subject") {
        parsed.subject = Some(descriptor(subject)?.0);
    }
    parsed.artifact_type = doc
        .get("artifactType")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(parsed)
}

fn image_manifest(doc: &Value, parsed: &mut Parsed) -> Result<(), OciError> {
    let config = doc
        .get("config")
        .ok_or_else(|| OciError::manifest_invalid("manifest has no config"))?;
    let (config_digest, _) = descriptor(config)?;
    parsed.blobs.push(config_digest);
    if parsed.artifact_type.is_none() {
        // For artifacts without artifactType, the config media type names the kind (referrers).
        let config_type = config.get("mediaType").and_then(Value::as_str);
        parsed.artifact_type = config_type
            .filter(|t| !t.contains("image.config") && !t.contains("container.image"))
            .map(str::to_owned);
    }
    for (digest, foreign) in descriptors(doc, "layers", parsed.media_type == DOCKER_MANIFEST)? {
        // Non-distributable layers (with `urls`) live elsewhere by design.
        if !foreign {
            parsed.blobs.push(digest);
        }
    }
    Ok(())
}

/// The descriptors of array `key`; `(digest, has urls)`.
fn descriptors(doc: &Value, key: &str, required: bool) -> Result<Vec<(Digest, bool)>, OciError> {
    match doc.get(key) {
        Some(Value::Array(items)) => items.iter().map(descriptor).collect(),
        None if !required => Ok(Vec::new()),
        _ => Err(OciError::manifest_invalid(format!(
            "{key} must be an array of descriptors"
        ))),
    }
}

fn descriptor(value: &Value) -> Result<(Digest, bool), OciError> {
    let digest = value
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| OciError::manifest_invalid("descriptor without digest"))?;
    let digest = Digest::parse(digest)
        .map_err(|e| OciError::manifest_invalid(format!("descriptor digest: {e}")))?;
    if value
        .get("size")
        .and_then(Value::as_i64)
        .is_none_or(|s| s < 0)
    {
        return Err(OciError::manifest_invalid(format!(
            "descriptor {digest} has no valid size"
        )));
    }
    let foreign = value
        .get("urls")
        .and_then(Value::as_array)
        .is_some_and(|u| !u.is_empty());
    Ok((digest, foreign))
}

async fn delete(ctx: &Ctx, name: &str, reference: &str) -> Result<Response, OciError> {
    ctx.check(name, Access::Delete).await?;
    let deleted = match parse_reference(reference)? {
        Reference::Digest(d) => ctx.app.db.delete_manifest(name, &d.to_string()).await?,
        Reference::Tag(tag) => ctx.app.db.delete_tag(name, &tag).await?,
    };
    if deleted {
        Ok(StatusCode::ACCEPTED.into_response())
    } else {
        Err(unknown(name, reference))
    }
}

/// `GET /v2/<name>/referrers/<digest>`: an index of the manifests whose subject is `digest`.
pub(super) async fn referrers(ctx: &Ctx, name: &str, digest: &str) -> Result<Response, OciError> {
    ctx.check(name, Access::Read).await?;
    let digest = Digest::parse(digest).map_err(|e| OciError::digest_invalid(e.to_string()))?;
    let filter = ctx.param("artifactType");
    let rows = ctx.app.db.referrers(name, &digest.to_string()).await?;
    let manifests: Vec<Value> = rows
        .into_iter()
        .filter(|r| filter.is_none() || r.artifact_type == filter)
        .map(|r| {
            let mut d = serde_json::json!({ "mediaType": r.media_type, "digest": r.digest, "size": r.size });
            if let Some(t) = r.artifact_type {
                d["artifactType"] = Value::String(t);
            }
            d
        })
        .collect();
    let index =
        serde_json::json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests });
    let mut response = json_response(StatusCode::OK, index.to_string());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(OCI_INDEX),
    );
    if filter.is_some() {
        response.headers_mut().insert(
            "oci-filters-applied",
            header::HeaderValue::from_static("artifactType"),
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn parses_manifests() {
        let m = serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest('a'), "size": 2 },
            "layers": [
                { "mediaType": "x", "digest": digest('b'), "size": 3 },
                { "mediaType": "x", "digest": digest('c'), "size": 3, "urls": ["https://example.invalid/l"] }
            ]
        });
        let p = parse_manifest(m.to_string().as_bytes(), Some(OCI_MANIFEST)).unwrap();
        assert_eq!(p.blobs.len(), 2);
        assert!(p.artifact_type.is_none());
        let e = parse_manifest(m.to_string().as_bytes(), Some(DOCKER_MANIFEST)).unwrap_err();
        assert!(format!("{e:?}").contains("MANIFEST_INVALID"));
        let index = serde_json::json!({ "schemaVersion": 2, "manifests": [{ "mediaType": OCI_MANIFEST, "digest": digest('d'), "size": 1 }] });
        let p = parse_manifest(index.to_string().as_bytes(), Some(OCI_INDEX)).unwrap();
        assert_eq!(p.manifests.len(), 1);
        for bad in [
            r#"{"schemaVersion":1}"#,
            "not json",
            r#"{"schemaVersion":2,"config":{"digest":"sha256:zz","size":1},"layers":[]}"#,
        ] {
            assert!(
                parse_manifest(bad.as_bytes(), Some(OCI_MANIFEST)).is_err(),
                "{bad}"
            );
        }
    }
}
