//! `@actions/artifact` 2.x: upload, list, download (digest checked by the client), delete.

use crate::support::{Server, node, noise};
use std::path::Path;

fn write(root: &Path, rel: &str, data: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_real_client_uploads_lists_downloads_and_deletes() {
    let server = Server::start().await;
    let token = server.token("100", "octo/app", "refs/heads/main");
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    // 20 MB crosses the client's 8 MiB block size: staged blocks and a block list.
    let big = noise(20 * 1024 * 1024 + 17, 1);
    write(&src, "big.bin", &big);
    write(&src, "dir/a.txt", b"alpha\n");
    write(&src, "dir/nested/b.txt", b"beta\n");
    write(&src, "empty.txt", b"");
    let files: Vec<String> = ["big.bin", "dir/a.txt", "dir/nested/b.txt", "empty.txt"]
        .iter()
        .map(|f| src.join(f).display().to_string())
        .collect();
    let mut args = vec!["build", src.to_str().unwrap()];
    args.extend(files.iter().map(String::as_str));
    let up = node(&server, &token, false, work.path(), "upload", &args).await;
    assert!(up.ok, "{}", up.output);
    let id = up.result["id"].as_i64().unwrap();
    assert!(up.result["digest"].as_str().unwrap().len() == 64);

    // Another job of the same run lists and downloads it, byte for byte.
    let listed = node(&server, &token, false, work.path(), "list", &[]).await;
    assert!(listed.ok, "{}", listed.output);
    assert_eq!(listed.result[0]["name"], "build");
    assert_eq!(listed.result[0]["id"].as_i64(), Some(id));
    let dest = work.path().join("dest");
    let down = node(
        &server,
        &token,
        false,
        work.path(),
        "download",
        &["build", dest.to_str().unwrap()],
    )
    .await;
    assert!(down.ok, "{}", down.output);
    assert_eq!(down.result["digestMismatch"], false, "{}", down.output);
    assert_eq!(std::fs::read(dest.join("big.bin")).unwrap(), big);
    assert_eq!(std::fs::read(dest.join("dir/a.txt")).unwrap(), b"alpha\n");
    assert_eq!(
        std::fs::read(dest.join("dir/nested/b.txt")).unwrap(),
        b"beta\n"
    );
    assert_eq!(std::fs::read(dest.join("empty.txt")).unwrap(), b"");
    assert_eq!(
        server.staged_count(),
        0,
        "staged blocks are removed once sealed"
    );

    // Immutable: a second upload under the same name is refused, the first stays.
    let again = node(&server, &token, false, work.path(), "upload", &args).await;
    assert!(!again.ok);
    assert!(again.output.contains("already exists"), "{}", again.output);
    assert_eq!(server.services().artifacts(Some("100")).unwrap().len(), 1);

    // Another run sees none of it.
    let other = server.token("200", "octo/app", "refs/heads/main");
    let theirs = node(&server, &other, false, work.path(), "list", &[]).await;
    assert!(theirs.ok, "{}", theirs.output);
    assert_eq!(theirs.result, serde_json::json!([]));

    let deleted = node(&server, &token, false, work.path(), "delete", &["build"]).await;
    assert!(deleted.ok, "{}", deleted.output);
    assert!(server.services().artifacts(None).unwrap().is_empty());
    assert_eq!(
        server.blob_count(),
        0,
        "the content goes with its last artifact"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_is_capped_by_config() {
    let server = Server::with(|c| c.max_retention_days = 0).await;
    let token = server.token("7", "octo/app", "refs/heads/main");
    let work = tempfile::tempdir().unwrap();
    write(work.path(), "f.txt", b"x");
    let file = work.path().join("f.txt").display().to_string();
    // The client asks for 1 day; a cap of 0 days makes it expire at once: it is not listed
    // and the next upload purges it.
    let up = node(
        &server,
        &token,
        false,
        work.path(),
        "upload",
        &["short", work.path().to_str().unwrap(), &file],
    )
    .await;
    assert!(up.ok, "{}", up.output);
    assert!(server.services().artifacts(Some("7")).unwrap().is_empty());
    assert_eq!(server.services().purge_expired().await.unwrap(), 1);
    assert_eq!(server.blob_count(), 0);
}
