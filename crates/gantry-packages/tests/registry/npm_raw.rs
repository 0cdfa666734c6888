//! The npm protocol over raw HTTP: bad publishes and authorization.

use crate::common::{Meta, Server, client, on_both};
use base64::Engine as _;
use gantry_packages::{PackageKind, Scope, Visibility};
use serde_json::{Value, json};
use sha2::Digest as _;
use std::time::Duration;

/// The document `npm publish` sends, for `tarball` bytes.
pub fn publish_doc(name: &str, version: &str, tarball: &[u8], base: &str) -> Value {
    let short = name.rsplit('/').next().unwrap();
    let file = format!("{short}-{version}.tgz");
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let integrity = format!("sha512-{}", b64(&sha2::Sha512::digest(tarball)));
    json!({
        "_id": name, "name": name, "description": "test package",
        "dist-tags": { "latest": version },
        "versions": { version: { "name": name, "version": version, "main": "index.js",
            "dist": { "integrity": integrity, "tarball": format!("{base}/{name}/-/{file}") } } },
        "access": null,
        "_attachments": { file: { "content_type": "application/octet-stream", "data": b64(tarball), "length": tarball.len() } }
    })
}

pub async fn publish(s: &Server, token: &str, doc: &Value) -> reqwest::Response {
    let name = doc["name"].as_str().unwrap().replace('/', "%2f");
    client()
        .put(s.url(&format!("/{name}")))
        .bearer_auth(token)
        .json(doc)
        .send()
        .await
        .unwrap()
}

async fn error(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or_default();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Publishes `version` of `@octo/pkg` as the admin; the status and error message.
async fn republish(s: &Server, version: &str, tarball: &[u8]) -> (u16, String) {
    let doc = publish_doc("@octo/pkg", version, tarball, &s.url(""));
    error(publish(s, &s.admin, &doc).await).await
}

async fn republishing_a_version_is_409_and_keeps_the_original(meta: Meta) {
    let s = Server::start_on(meta).await;
    let base = s.url("");
    assert_eq!(
        publish(
            &s,
            &s.admin,
            &publish_doc("@octo/pkg", "1.0.0", b"first", &base)
        )
        .await
        .status(),
        200
    );
    let (status, message) = republish(&s, "1.0.0", b"second").await;
    assert_eq!(status, 409);
    assert!(
        message.contains("Cannot publish over existing version 1.0.0"),
        "{message}"
    );
    // Build metadata does not make a new version: `1.0.0+b1` is `1.0.0`.
    let (status, message) = republish(&s, "1.0.0+b1", b"third").await;
    assert_eq!(status, 409);
    assert!(
        message.contains(
            "Cannot publish over existing version 1.0.0 of @octo/pkg (as 1.0.0+b1: build metadata does not make a new version)"
        ),
        "{message}"
    );
    let packument: Value = client()
        .get(s.url("/@octo%2fpkg"))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let versions: Vec<&String> = packument["versions"].as_object().unwrap().keys().collect();
    assert_eq!(versions, ["1.0.0"], "{packument}");
    // A prerelease is a new version.
    let pre = publish_doc("@octo/pkg", "1.0.1-rc.1+b1", b"rc", &base);
    assert_eq!(publish(&s, &s.admin, &pre).await.status(), 200);
    let tarball = client()
        .get(s.url("/@octo/pkg/-/pkg-1.0.0.tgz"))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(tarball.bytes().await.unwrap().as_ref(), b"first");
}

async fn integrity_mismatches_and_malformed_publishes_are_refused(meta: Meta) {
    let s = Server::start_on(meta).await;
    let base = s.url("");
    let mut doc = publish_doc("@octo/pkg", "1.0.0", b"bytes", &base);
    doc["_attachments"]["pkg-1.0.0.tgz"]["data"] =
        json!(base64::engine::general_purpose::STANDARD.encode(b"tampered"));
    doc["_attachments"]["pkg-1.0.0.tgz"]["length"] = json!(8);
    let (status, message) = error(publish(&s, &s.admin, &doc).await).await;
    assert_eq!(
        (status, message.contains("integrity")),
        (400, true),
        "{message}"
    );
    let mut truncated = publish_doc("@octo/pkg", "1.0.0", b"bytes", &base);
    truncated["_attachments"]["pkg-1.0.0.tgz"]["length"] = json!(500);
    assert_eq!(error(publish(&s, &s.admin, &truncated).await).await.0, 400);
    let bad_version = publish_doc("@octo/pkg", "not-semver", b"bytes", &base);
    assert_eq!(
        error(publish(&s, &s.admin, &bad_version).await).await.0,
        400
    );
    let resp = client()
        .put(s.url("/@octo%2fpkg"))
        .bearer_auth(&s.admin)
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    for bad in [
        "/@octo%2f..%2f..%2fetc",
        "/@octo%2f..%2fx",
        "/@OCTO/pkg",
        "/@octo/.hidden",
        "/@octo/pkg%zz",
    ] {
        let resp = client()
            .get(s.url(bad))
            .bearer_auth(&s.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{bad}");
    }
    let get = client()
        .get(s.url("/@octo%2fpkg"))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 404, "nothing was published");
    assert!(s.stored_files().0.is_empty());
}

async fn npm_auth_owner_scope_and_visibility(meta: Meta) {
    let s = Server::start_on(meta).await;
    let base = s.url("");
    let reg = s.handle.registry();
    let run = reg
        .mint_run_token("octo", &[Scope::WritePackages], Duration::from_secs(600))
        .await
        .unwrap();
    let reader = reg
        .create_token("reader", None, &[Scope::ReadPackages], None)
        .await
        .unwrap();
    let doc = publish_doc("@octo/pkg", "1.0.0", b"bytes", &base);
    let anon = client()
        .put(s.url("/@octo%2fpkg"))
        .json(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    assert_eq!(error(publish(&s, &reader, &doc).await).await.0, 403);
    let (status, message) =
        error(publish(&s, &run, &publish_doc("@other/pkg", "1.0.0", b"b", &base)).await).await;
    assert_eq!(status, 403);
    assert!(
        message.contains("only access packages of octo"),
        "{message}"
    );
    assert_eq!(
        error(publish(&s, &s.admin, &publish_doc("unscoped", "1.0.0", b"b", &base)).await)
            .await
            .0,
        400
    );
    assert_eq!(publish(&s, &run, &doc).await.status(), 200);
    assert_eq!(
        client()
            .get(s.url("/@octo%2fpkg"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        client()
            .get(s.url("/@octo%2fpkg"))
            .bearer_auth("gtk_nope")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let packument: Value = client()
        .get(s.url("/@octo/pkg"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        packument["versions"]["1.0.0"]["dist"]["tarball"],
        format!("{base}/@octo/pkg/-/pkg-1.0.0.tgz")
    );
    reg.set_visibility(PackageKind::Npm, "@octo/pkg", Visibility::Public)
        .await
        .unwrap();
    let abbreviated = client()
        .get(s.url("/@octo%2fpkg"))
        .header(
            "accept",
            "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        abbreviated.headers()["content-type"],
        "application/vnd.npm.install-v1+json"
    );
    let abbreviated: Value = abbreviated.json().await.unwrap();
    assert!(abbreviated["versions"]["1.0.0"]["description"].is_null());
    assert_eq!(abbreviated["versions"]["1.0.0"]["main"], Value::Null);
    assert_eq!(abbreviated["dist-tags"]["latest"], "1.0.0");
    let whoami: Value = client()
        .get(s.url("/-/whoami"))
        .bearer_auth(&run)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(whoami["username"], "github-actions[bot]");
    assert_eq!(
        client()
            .get(s.url("/-/whoami"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

async fn oversized_publish_is_413(meta: Meta) {
    let s = Server::start_with_on(meta, |c| c.max_npm_publish_size = 10_000).await;
    let doc = publish_doc("@octo/big", "1.0.0", &vec![0u8; 20_000], &s.url(""));
    assert_eq!(publish(&s, &s.admin, &doc).await.status(), 413);
    assert!(s.stored_files().0.is_empty());
}

on_both!(
    republishing_a_version_is_409_and_keeps_the_original,
    integrity_mismatches_and_malformed_publishes_are_refused,
    npm_auth_owner_scope_and_visibility,
    oversized_publish_is_413
);
