//! Writing: publish (with integrity checks and version immutability), deprecate, unpublish.

use super::packument::{Package, ensure_package, load, rev_string};
use super::{Ctx, NpmError, json};
use crate::auth::Access;
use crate::db::NpmChange;
use crate::http::read_body;
use crate::names;
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use serde_json::{Map, Value};
use sha1::Sha1;
use sha2::{Digest as _, Sha256, Sha512};

/// `PUT /<name>` (publish or metadata update) and `PUT /<name>/-rev/<rev>` (unpublish's revised
/// packument).
pub(super) async fn put(
    ctx: &Ctx,
    name: &str,
    rev: Option<&str>,
    body: Body,
) -> Result<Response, NpmError> {
    ctx.check(name, Access::Write).await?;
    let bytes = read_body(&ctx.headers, body, ctx.app.config.max_npm_publish_size).await?;
    let doc: Value = serde_json::from_slice(&bytes)
        .map_err(|e| NpmError::bad_request(format!("body is not a JSON packument: {e}")))?;
    if doc
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|n| n != name)
    {
        return Err(NpmError::bad_request(format!(
            "packument name does not match the URL's {name}"
        )));
    }
    let pkg = load(ctx, name).await?;
    if let (Some(rev), Some(pkg)) = (rev, &pkg)
        && rev != rev_string(name, pkg.rev)
    {
        return Err(NpmError::new(
            StatusCode::CONFLICT,
            format!("revision {rev} is outdated; fetch the packument again"),
        ));
    }
    let has_attachments = doc
        .get("_attachments")
        .and_then(Value::as_object)
        .is_some_and(|a| !a.is_empty());
    let changes = if has_attachments {
        publish_changes(ctx, name, &doc, pkg.as_ref()).await?
    } else {
        let pkg = pkg.ok_or_else(|| NpmError::not_found(name))?;
        update_changes(ctx, name, &doc, &pkg, rev.is_some()).await?
    };
    if !changes.is_empty() {
        ctx.app.db.npm_apply(name, &changes).await?;
        ensure_package(ctx, name).await?;
    }
    let current = ctx
        .app
        .db
        .npm_package(name)
        .await?
        .map_or(0, |(rev, _, _)| rev);
    Ok(json(
        StatusCode::OK,
        serde_json::json!({ "ok": true, "id": name, "rev": rev_string(name, current) }),
    ))
}

/// A new version: refuse existing versions (GitHub never lets a version be overwritten), check
/// the tarball against the integrity the client computed, store it.
async fn publish_changes(
    ctx: &Ctx,
    name: &str,
    doc: &Value,
    pkg: Option<&Package>,
) -> Result<Vec<NpmChange>, NpmError> {
    let versions = doc
        .get("versions")
        .and_then(Value::as_object)
        .filter(|v| !v.is_empty());
    let versions = versions.ok_or_else(|| NpmError::bad_request("publish has no versions"))?;
    let attachments = doc
        .get("_attachments")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let exists = |v: &str| pkg.is_some_and(|p| p.versions.iter().any(|r| r.version == v));
    // The stored version that `version` is the same as: build metadata (`1.0.0+b1`) does not
    // make a new version (semver 2.0 §10: it is ignored when comparing versions).
    let same_as = |v: &str| {
        let new = semver::Version::parse(v).ok()?;
        pkg?.versions
            .iter()
            .find(|r| {
                semver::Version::parse(&r.version).is_ok_and(|old| old.cmp_precedence(&new).is_eq())
            })
            .map(|r| r.version.clone())
    };
    let mut changes = Vec::new();
    for (version, manifest) in versions {
        let existing = if exists(version) {
            Some(version.clone())
        } else {
            same_as(version)
        };
        if let Some(existing) = existing {
            let build = if &existing == version {
                String::new()
            } else {
                format!(" (as {version}: build metadata does not make a new version)")
            };
            return Err(NpmError::new(
                StatusCode::CONFLICT,
                format!(
                    "Cannot publish over existing version {existing} of {name}{build}: published versions are immutable; bump the version"
                ),
            ));
        }
        changes.push(new_version(ctx, name, version, manifest, &attachments).await?);
    }
    let new: Vec<&String> = versions.keys().collect();
    let tags = doc
        .get("dist-tags")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (tag, version) in tags {
        let Some(version) = version.as_str() else {
            continue;
        };
        if new.iter().any(|v| *v == version) || exists(version) {
            changes.push(NpmChange::SetTag {
                tag,
                version: version.to_owned(),
            });
        }
    }
    let has_latest = pkg.is_some_and(|p| p.tags.iter().any(|(t, _)| t == "latest"));
    if !has_latest
        && !changes
            .iter()
            .any(|c| matches!(c, NpmChange::SetTag { tag, .. } if tag == "latest"))
    {
        changes.push(NpmChange::SetTag {
            tag: "latest".to_owned(),
            version: new[0].clone(),
        });
    }
    Ok(changes)
}

async fn new_version(
    ctx: &Ctx,
    name: &str,
    version: &str,
    manifest: &Value,
    attachments: &Map<String, Value>,
) -> Result<NpmChange, NpmError> {
    if semver::Version::parse(version).is_err() {
        return Err(NpmError::bad_request(format!(
            "{version:?} is not a valid semver version"
        )));
    }
    if manifest.get("version").and_then(Value::as_str) != Some(version)
        || manifest.get("name").and_then(Value::as_str) != Some(name)
    {
        return Err(NpmError::bad_request(format!(
            "manifest of {version} must carry name {name} and version {version}"
        )));
    }
    let file = format!("{}-{version}.tgz", names::npm_basename(name));
    let attachment = attachments.get(&file).or_else(|| {
        (attachments.len() == 1)
            .then(|| attachments.values().next())
            .flatten()
    });
    let attachment = attachment.ok_or_else(|| {
        NpmError::bad_request(format!("no attachment {file} for version {version}"))
    })?;
    let data = attachment
        .get("data")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let data = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| NpmError::bad_request(format!("attachment {file} is not base64: {e}")))?;
    if attachment
        .get("length")
        .and_then(Value::as_u64)
        .is_some_and(|n| n != data.len() as u64)
    {
        return Err(NpmError::bad_request(format!(
            "attachment {file} is truncated: length does not match its data"
        )));
    }
    let mut manifest = manifest.clone();
    verify_dist(&mut manifest, &data)?;
    let digest = ctx.app.store.put(bytes::Bytes::from(data)).await?;
    Ok(NpmChange::AddVersion {
        version: version.to_owned(),
        manifest: manifest.to_string(),
        tarball: file,
        digest: digest.to_string(),
    })
}

/// Checks `dist.shasum` and every `dist.integrity` hash we can compute; fills in what is missing.
fn verify_dist(manifest: &mut Value, data: &[u8]) -> Result<(), NpmError> {
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let sha1 = hex::encode(Sha1::digest(data));
    let sha512 = format!("sha512-{}", b64(&Sha512::digest(data)));
    let sha256 = format!("sha256-{}", b64(&Sha256::digest(data)));
    let obj = manifest
        .as_object_mut()
        .ok_or_else(|| NpmError::bad_request("version manifest must be an object"))?;
    let dist = obj
        .entry("dist")
        .or_insert_with(|| Value::Object(Map::new()));
    let dist = dist
        .as_object_mut()
        .ok_or_else(|| NpmError::bad_request("dist must be an object"))?;
    if let Some(claimed) = dist.get("shasum").and_then(Value::as_str)
        && claimed != sha1
    {
        return Err(NpmError::bad_request(format!(
            "tarball shasum {sha1} does not match dist.shasum {claimed}"
        )));
    }
    if let Some(integrity) = dist.get("integrity").and_then(Value::as_str) {
        for entry in integrity.split_whitespace() {
            let entry = entry.split('?').next().unwrap_or(entry);
            let known = if entry.starts_with("sha512-") {
                Some(&sha512)
            } else if entry.starts_with("sha256-") {
                Some(&sha256)
            } else {
                None
            };
            if let Some(actual) = known
                && actual != entry
            {
                return Err(NpmError::bad_request(format!(
                    "tarball integrity {actual} does not match dist.integrity {entry}"
                )));
            }
        }
    }
    dist.insert("shasum".to_owned(), Value::String(sha1));
    dist.entry("integrity").or_insert(Value::String(sha512));
    Ok(())
}

/// A packument without attachments: `npm deprecate` (changed `deprecated` fields) or, on the
/// `-rev` path, `npm unpublish <name>@<version>` (versions and dist-tags removed).
async fn update_changes(
    ctx: &Ctx,
    name: &str,
    doc: &Value,
    pkg: &Package,
    unpublish: bool,
) -> Result<Vec<NpmChange>, NpmError> {
    let empty = Map::new();
    let versions = doc
        .get("versions")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut changes = Vec::new();
    for (version, manifest) in versions {
        let row = pkg.versions.iter().find(|r| &r.version == version);
        let row = row.ok_or_else(|| {
            NpmError::bad_request(format!(
                "version {version} of {name} was never published; publish it with its tarball"
            ))
        })?;
        let mut stored: Value = serde_json::from_str(&row.manifest).unwrap_or(Value::Null);
        let wanted = manifest
            .get("deprecated")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty());
        let current = stored.get("deprecated").and_then(Value::as_str);
        if wanted != current
            && let Some(obj) = stored.as_object_mut()
        {
            match wanted {
                Some(msg) => obj.insert("deprecated".to_owned(), Value::String(msg.to_owned())),
                None => obj.remove("deprecated"),
            };
            changes.push(NpmChange::SetManifest {
                version: version.clone(),
                manifest: stored.to_string(),
            });
        }
    }
    if unpublish {
        let removed: Vec<NpmChange> = pkg
            .versions
            .iter()
            .filter(|r| !versions.contains_key(&r.version))
            .map(|r| NpmChange::RemoveVersion {
                version: r.version.clone(),
            })
            .collect();
        if !removed.is_empty() {
            ctx.check(name, Access::Delete).await?;
        }
        changes.extend(removed);
        changes.extend(retag(doc, pkg, versions));
    }
    Ok(changes)
}

/// The dist-tags of an unpublish packument, limited to versions that remain.
fn retag(doc: &Value, pkg: &Package, remaining: &Map<String, Value>) -> Vec<NpmChange> {
    let empty = Map::new();
    let tags = doc
        .get("dist-tags")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut changes = Vec::new();
    for (tag, version) in &pkg.tags {
        if !tags.contains_key(tag) && remaining.contains_key(version) && tag != "latest" {
            changes.push(NpmChange::RemoveTag { tag: tag.clone() });
        }
    }
    for (tag, version) in tags {
        if let Some(v) = version.as_str().filter(|v| remaining.contains_key(*v)) {
            changes.push(NpmChange::SetTag {
                tag: tag.clone(),
                version: v.to_owned(),
            });
        }
    }
    changes
}

/// `DELETE /<name>/-rev/<rev>`: the whole package (`npm unpublish --force`, or its last version).
pub(super) async fn delete_package(ctx: &Ctx, name: &str, rev: &str) -> Result<Response, NpmError> {
    ctx.check(name, Access::Delete).await?;
    let pkg = load(ctx, name)
        .await?
        .ok_or_else(|| NpmError::not_found(name))?;
    if rev != rev_string(name, pkg.rev) {
        return Err(NpmError::new(
            StatusCode::CONFLICT,
            format!("revision {rev} is outdated; fetch the packument again"),
        ));
    }
    // Tarballs become unreferenced and go with the next gc.
    ctx.app.db.npm_delete(name).await?;
    Ok(json(StatusCode::OK, serde_json::json!({ "ok": true })))
}

/// `DELETE /<name>/-/<file>/-rev/<rev>`: the last step of unpublishing a version. The version
/// is already gone from the packument; the bytes go with the next gc.
pub(super) async fn delete_tarball(
    ctx: &Ctx,
    name: &str,
    file: &str,
) -> Result<Response, NpmError> {
    ctx.check(name, Access::Delete).await?;
    if ctx.app.db.npm_tarball(name, file).await?.is_some() {
        return Err(NpmError::new(
            StatusCode::CONFLICT,
            format!("{file} still belongs to a published version; unpublish the version first"),
        ));
    }
    Ok(json(StatusCode::OK, serde_json::json!({ "ok": true })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dist_checks() {
        let data = b"tarball bytes";
        let mut m = serde_json::json!({ "dist": {} });
        verify_dist(&mut m, data).unwrap();
        let integrity = m["dist"]["integrity"].as_str().unwrap().to_owned();
        let mut ok = serde_json::json!({ "dist": { "integrity": integrity, "shasum": m["dist"]["shasum"] } });
        verify_dist(&mut ok, data).unwrap();
        let mut bad = serde_json::json!({ "dist": { "integrity": integrity } });
        assert!(verify_dist(&mut bad, b"other bytes").is_err());
        let mut bad_sha = serde_json::json!({ "dist": { "shasum": "00" } });
        assert!(verify_dist(&mut bad_sha, data).is_err());
    }
}
