//! skopeo against the registry: an OCI layout built here, copied in, inspected, listed,
//! copied back out, deleted.

use crate::common::{Meta, Server, on_both, require_tool, run, sha256, text};
use serde_json::json;
use std::path::Path;
use tokio::process::Command;

fn write_blob(layout: &Path, data: &[u8]) -> String {
    let digest = sha256(data);
    std::fs::write(layout.join("blobs/sha256").join(&digest[7..]), data).unwrap();
    digest
}

/// An OCI image layout with one tiny uncompressed layer, tagged `v1`.
fn build_layout(layout: &Path) -> (String, String) {
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    let mut builder = tar::Builder::new(Vec::new());
    let content = b"hello from gantry\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    builder
        .append_data(&mut header, "hello.txt", &content[..])
        .unwrap();
    let layer = builder.into_inner().unwrap();
    let layer_digest = write_blob(layout, &layer);
    let config = json!({ "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": { "type": "layers", "diff_ids": [layer_digest] } });
    let config = serde_json::to_vec(&config).unwrap();
    let config_digest = write_blob(layout, &config);
    let manifest = json!({ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len() }] });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let manifest_digest = write_blob(layout, &manifest);
    let index = json!({ "schemaVersion": 2, "manifests": [{ "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest_digest, "size": manifest.len(), "annotations": { "org.opencontainers.image.ref.name": "v1" } }] });
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    (manifest_digest, layer_digest)
}

async fn skopeo(args: &[&str]) -> std::process::Output {
    run(Command::new("skopeo").arg("--insecure-policy").args(args)).await
}

async fn skopeo_copy_inspect_list_copy_back_delete(meta: Meta) {
    require_tool("skopeo", "apt-get install skopeo");
    let s = Server::start_on(meta).await;
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    let (manifest_digest, layer_digest) = build_layout(&layout);
    let creds = format!("octo:{}", s.admin);
    let image = format!("docker://{}/octo/img", s.host());
    let src = format!("oci:{}:v1", layout.display());
    for tag in ["v1", "v2"] {
        let out = skopeo(&[
            "copy",
            &src,
            &format!("{image}:{tag}"),
            "--dest-tls-verify=false",
            "--dest-creds",
            &creds,
        ])
        .await;
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--creds",
        &creds,
        &format!("{image}:v1"),
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let inspect: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // skopeo gzips uncompressed layers for registry destinations, so the pushed manifest is a
    // new one; the config's diff_ids still name our uncompressed layer.
    let pushed = inspect["Digest"].as_str().unwrap().to_owned();
    let out = skopeo(&[
        "inspect",
        "--config",
        "--tls-verify=false",
        "--creds",
        &creds,
        &format!("{image}:v1"),
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let config: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(config["rootfs"]["diff_ids"], json!([layer_digest]));
    assert_ne!(pushed, manifest_digest);
    let out = skopeo(&["list-tags", "--tls-verify=false", "--creds", &creds, &image]).await;
    assert!(out.status.success(), "{}", text(&out));
    let tags: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tags["Tags"], json!(["v1", "v2"]));
    let back = work.path().join("back");
    let dest = format!("oci:{}:v1", back.display());
    let out = skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        &creds,
        &format!("{image}:v1"),
        &dest,
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        back.join("blobs/sha256").join(&pushed[7..]).exists(),
        "the pulled manifest is the pushed one"
    );
    let layer = inspect["Layers"][0].as_str().unwrap();
    let pulled = std::fs::read(back.join("blobs/sha256").join(&layer[7..])).unwrap();
    assert_eq!(
        sha256(&pulled),
        layer,
        "the pulled layer matches its digest"
    );
    let out = skopeo(&[
        "delete",
        "--tls-verify=false",
        "--creds",
        &creds,
        &format!("{image}:v1"),
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out));
    // Deleting by digest removes every tag of the manifest (v2 shared it).
    let out = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--creds",
        &creds,
        &format!("{image}:v2"),
    ])
    .await;
    assert!(
        !out.status.success(),
        "v2 should be gone with its manifest: {}",
        text(&out)
    );
    let out = skopeo(&[
        "copy",
        &src,
        &format!("{image}:v3"),
        "--dest-tls-verify=false",
        "--dest-creds",
        "octo:gtk_wrong",
    ])
    .await;
    assert!(!out.status.success());
    assert!(
        text(&out).contains("401") || text(&out).to_lowercase().contains("unauthorized"),
        "{}",
        text(&out)
    );
}

on_both!(multi_thread: skopeo_copy_inspect_list_copy_back_delete);
