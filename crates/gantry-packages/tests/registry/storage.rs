//! Garbage collection and startup cleanup, checked on disk.

use crate::common::{Meta, Server, client, on_both, sha256};
use gantry_packages::Registry;
use std::time::Duration;

async fn gc_removes_only_unreferenced_blobs(meta: Meta) {
    let s = Server::start_with_on(meta, |c| c.gc_grace = Duration::ZERO).await;
    let push = |data: &'static [u8]| {
        client()
            .post(s.url(&format!(
                "/v2/octo/img/blobs/uploads/?digest={}",
                sha256(data)
            )))
            .bearer_auth(&s.admin)
            .body(data)
            .send()
    };
    assert_eq!(push(b"{}").await.unwrap().status(), 201);
    assert_eq!(push(b"kept layer").await.unwrap().status(), 201);
    assert_eq!(push(b"orphan").await.unwrap().status(), 201);
    let m = serde_json::json!({ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(b"{}"), "size": 2 },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(b"kept layer"), "size": 10 }] });
    let resp = client()
        .put(s.url("/v2/octo/img/manifests/v1"))
        .bearer_auth(&s.admin)
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(m.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let report = s.handle.registry().gc().await.unwrap();
    assert_eq!(report.blobs_removed, 1);
    assert_eq!(report.bytes_freed, 6);
    let (blobs, _) = s.stored_files();
    assert_eq!(blobs.len(), 3, "config, layer, manifest remain: {blobs:?}");
    assert!(!blobs.contains(&sha256(b"orphan")[7..].to_owned()));
    let pulled = client()
        .get(s.url(&format!("/v2/octo/img/blobs/{}", sha256(b"kept layer"))))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(pulled.bytes().await.unwrap().as_ref(), b"kept layer");
    // Deleting the manifest makes everything collectable.
    let digest = sha256(m.to_string().as_bytes());
    client()
        .delete(s.url(&format!("/v2/octo/img/manifests/{digest}")))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(s.handle.registry().gc().await.unwrap().blobs_removed, 3);
    assert!(s.stored_files().0.is_empty());
}

async fn startup_removes_stale_upload_files(meta: Meta) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = meta.config(dir.path());
    drop(Registry::open(config.clone()).await.unwrap());
    // What a killed upload leaves behind.
    std::fs::write(dir.path().join("uploads/0123456789abcdef"), b"half a layer").unwrap();
    config.stale_upload_age = Duration::ZERO;
    let registry = Registry::open(config).await.unwrap();
    assert!(crate::common::list_files(&dir.path().join("uploads")).is_empty());
    assert!(
        !registry
            .has_blob(&gantry_packages::Digest::of(b"half a layer"))
            .await
            .unwrap()
    );
}

on_both!(
    gc_removes_only_unreferenced_blobs,
    startup_removes_stale_upload_files
);
