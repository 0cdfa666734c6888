//! Reading: packuments (full and abbreviated), tarballs, dist-tags.

use super::{Ctx, NPM, NpmError, json};
use crate::auth::Access;
use crate::db::{NpmChange, NpmVersionRow};
use crate::digest::Digest;
use crate::http::{header_str, read_body};
use crate::names;
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value};

const ABBREVIATED: &str = "application/vnd.npm.install-v1+json";

/// Fields kept in abbreviated ("corgi") metadata, per the npm registry's install format.
const ABBREVIATED_FIELDS: &[&str] = &[
    "name",
    "version",
    "deprecated",
    "dependencies",
    "optionalDependencies",
    "devDependencies",
    "bundleDependencies",
    "bundledDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "acceptDependencies",
    "bin",
    "directories",
    "dist",
    "engines",
    "_hasShrinkwrap",
    "hasInstallScript",
    "cpu",
    "os",
    "libc",
    "funding",
    "license",
];

/// A package's state, read once per request.
pub(super) struct Package {
    pub rev: i64,
    pub created: i64,
    pub modified: i64,
    /// Sorted by semver (unparseable versions last, which publish prevents anyway).
    pub versions: Vec<NpmVersionRow>,
    pub tags: Vec<(String, String)>,
}

pub(super) async fn load(ctx: &Ctx, name: &str) -> Result<Option<Package>, NpmError> {
    let Some((rev, created, modified)) = ctx.app.db.npm_package(name).await? else {
        return Ok(None);
    };
    let mut versions = ctx.app.db.npm_versions(name).await?;
    versions.sort_by(|a, b| {
        match (
            semver::Version::parse(&a.version),
            semver::Version::parse(&b.version),
        ) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => a.version.cmp(&b.version),
        }
    });
    let tags = ctx.app.db.npm_tags(name).await?;
    Ok(Some(Package {
        rev,
        created,
        modified,
        versions,
        tags,
    }))
}

/// CouchDB-style revision: the counter plus a stable suffix.
pub(super) fn rev_string(name: &str, rev: i64) -> String {
    let hash = Digest::of(format!("{name}\0{rev}").as_bytes());
    format!("{rev}-{}", &hash.hex()[..32])
}

fn iso(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// A stored version manifest with its tarball link pointing at this registry.
pub(super) fn version_doc(ctx: &Ctx, name: &str, row: &NpmVersionRow) -> Value {
    let mut doc: Value =
        serde_json::from_str(&row.manifest).unwrap_or_else(|_| Value::Object(Map::new()));
    let url = format!("{}/{name}/-/{}", ctx.base_url(), row.tarball);
    if let Some(dist) = doc.get_mut("dist").and_then(Value::as_object_mut) {
        dist.insert("tarball".to_owned(), Value::String(url));
    }
    doc
}

fn dist_tags(tags: &[(String, String)]) -> Value {
    Value::Object(
        tags.iter()
            .map(|(t, v)| (t.clone(), Value::String(v.clone())))
            .collect(),
    )
}

fn full(ctx: &Ctx, name: &str, pkg: &Package) -> Value {
    let versions: Map<String, Value> = pkg
        .versions
        .iter()
        .map(|r| (r.version.clone(), version_doc(ctx, name, r)))
        .collect();
    let mut time = Map::new();
    time.insert("created".to_owned(), Value::String(iso(pkg.created)));
    time.insert("modified".to_owned(), Value::String(iso(pkg.modified)));
    for r in &pkg.versions {
        time.insert(r.version.clone(), Value::String(iso(r.created)));
    }
    let latest = pkg
        .tags
        .iter()
        .find(|(t, _)| t == "latest")
        .and_then(|(_, v)| versions.get(v));
    let field = |key: &str| {
        latest
            .and_then(|l| l.get(key))
            .cloned()
            .unwrap_or(Value::Null)
    };
    serde_json::json!({
        "_id": name,
        "_rev": rev_string(name, pkg.rev),
        "name": name,
        "description": field("description"),
        "dist-tags": dist_tags(&pkg.tags),
        "versions": versions,
        "time": time,
        "readme": latest.and_then(|l| l.get("readme")).cloned().unwrap_or(Value::String(String::new())),
        "license": field("license"),
        "repository": field("repository"),
    })
}

fn abbreviated(ctx: &Ctx, name: &str, pkg: &Package) -> Value {
    let versions: Map<String, Value> = pkg
        .versions
        .iter()
        .map(|r| {
            let doc = version_doc(ctx, name, r);
            let kept = ABBREVIATED_FIELDS
                .iter()
                .filter_map(|f| doc.get(*f).map(|v| ((*f).to_owned(), v.clone())))
                .collect();
            (r.version.clone(), Value::Object(kept))
        })
        .collect();
    serde_json::json!({ "name": name, "modified": iso(pkg.modified), "dist-tags": dist_tags(&pkg.tags), "versions": versions })
}

/// `GET /<name>`: the abbreviated form when the client asks for it (npm install), the full
/// packument otherwise and always for `?write=true` (deprecate, unpublish).
pub(super) async fn get(ctx: &Ctx, name: &str) -> Result<Response, NpmError> {
    ctx.check(name, Access::Read).await?;
    let pkg = load(ctx, name)
        .await?
        .ok_or_else(|| NpmError::not_found(name))?;
    let wants_abbreviated =
        header_str(&ctx.headers, "accept").is_some_and(|a| a.contains(ABBREVIATED));
    if wants_abbreviated && ctx.param("write").as_deref() != Some("true") {
        let mut response = json(StatusCode::OK, abbreviated(ctx, name, &pkg));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(ABBREVIATED),
        );
        return Ok(response);
    }
    Ok(json(StatusCode::OK, full(ctx, name, &pkg)))
}

/// `GET /<name>/-/<file>.tgz`.
pub(super) async fn tarball(ctx: &Ctx, name: &str, file: &str) -> Result<Response, NpmError> {
    ctx.check(name, Access::Read).await?;
    let digest = ctx
        .app
        .db
        .npm_tarball(name, file)
        .await?
        .ok_or_else(|| NpmError::not_found(format!("{name}/-/{file}")))?;
    let digest = Digest::parse(&digest)
        .map_err(|e| NpmError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let size = ctx
        .app
        .store
        .size(&digest)
        .await?
        .ok_or_else(|| NpmError::not_found(format!("{name}/-/{file}")))?;
    let body = Body::from_stream(ctx.app.store.read(&digest, None).await?);
    Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, size)
        .body(body)
        .map_err(|e| NpmError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// `GET|PUT|DELETE /-/package/<name>/dist-tags[/<tag>]`.
pub(super) async fn dist_tags_handler(
    ctx: &Ctx,
    name: &str,
    tag: Option<&str>,
    method: Method,
    body: Body,
) -> Result<Response, NpmError> {
    let access = if method == Method::GET {
        Access::Read
    } else {
        Access::Write
    };
    ctx.check(name, access).await?;
    let pkg = load(ctx, name)
        .await?
        .ok_or_else(|| NpmError::not_found(name))?;
    let change = match (method, tag) {
        (Method::GET, None) => return Ok(json(StatusCode::OK, dist_tags(&pkg.tags))),
        (Method::GET, Some(tag)) => {
            let version = pkg
                .tags
                .iter()
                .find(|(t, _)| t == tag)
                .ok_or_else(|| NpmError::not_found(format!("dist-tag {tag}")))?;
            return Ok(json(StatusCode::OK, Value::String(version.1.clone())));
        }
        (Method::PUT | Method::POST, Some(tag)) => set_tag(ctx, &pkg, tag, body).await?,
        (Method::DELETE, Some(tag)) => remove_tag(&pkg, tag)?,
        _ => {
            return Err(NpmError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on dist-tags",
            ));
        }
    };
    ctx.app.db.npm_apply(name, &[change]).await?;
    let tags = ctx.app.db.npm_tags(name).await?;
    Ok(json(StatusCode::OK, dist_tags(&tags)))
}

async fn set_tag(ctx: &Ctx, pkg: &Package, tag: &str, body: Body) -> Result<NpmChange, NpmError> {
    // npm refuses tags that parse as version ranges: `npm install pkg@1.x` would be ambiguous.
    if !names::valid_tag(tag) || semver::VersionReq::parse(tag).is_ok() {
        return Err(NpmError::bad_request(format!(
            "invalid dist-tag {tag:?}: tags must not look like versions"
        )));
    }
    let bytes = read_body(&ctx.headers, body, 4096).await?;
    let version: String = serde_json::from_slice(&bytes)
        .map_err(|_| NpmError::bad_request("dist-tag body must be a JSON string version"))?;
    if !pkg.versions.iter().any(|v| v.version == version) {
        return Err(NpmError::not_found(format!("version {version}")));
    }
    Ok(NpmChange::SetTag {
        tag: tag.to_owned(),
        version,
    })
}

fn remove_tag(pkg: &Package, tag: &str) -> Result<NpmChange, NpmError> {
    if tag == "latest" {
        return Err(NpmError::bad_request(
            "the latest dist-tag cannot be removed",
        ));
    }
    if !pkg.tags.iter().any(|(t, _)| t == tag) {
        return Err(NpmError::not_found(format!("dist-tag {tag}")));
    }
    Ok(NpmChange::RemoveTag {
        tag: tag.to_owned(),
    })
}

/// Records the package on first publish so visibility and owner apply.
pub(super) async fn ensure_package(ctx: &Ctx, name: &str) -> Result<(), NpmError> {
    let owner = names::npm_scope(name).unwrap_or(name).to_ascii_lowercase();
    ctx.app
        .db
        .ensure_package(NPM, name, &owner, ctx.app.config.default_visibility)
        .await?;
    Ok(())
}
