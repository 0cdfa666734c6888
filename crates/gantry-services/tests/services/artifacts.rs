//! `@actions/artifact` 2.x: upload, list, download (digest checked by the client), delete.

use crate::support::{Server, node, node_with, noise};
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
    assert_eq!(
        server
            .services()
            .artifacts(Some("100"))
            .await
            .unwrap()
            .len(),
        1
    );

    // Another run sees none of it.
    let other = server.token("200", "octo/app", "refs/heads/main");
    let theirs = node(&server, &other, false, work.path(), "list", &[]).await;
    assert!(theirs.ok, "{}", theirs.output);
    assert_eq!(theirs.result, serde_json::json!([]));

    let deleted = node(&server, &token, false, work.path(), "delete", &["build"]).await;
    assert!(deleted.ok, "{}", deleted.output);
    assert!(server.services().artifacts(None).await.unwrap().is_empty());
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
    assert!(
        server
            .services()
            .artifacts(Some("7"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(server.services().purge_expired().await.unwrap(), 1);
    assert_eq!(server.blob_count(), 0);
}

/// download-artifact's `run-id` + `github-token`: the client's `findBy` reads another run's
/// artifacts through the REST API with the later run's `GITHUB_TOKEN`; a token of another
/// repository reads nothing.
#[tokio::test(flavor = "multi_thread")]
async fn another_run_of_the_repository_is_read_through_the_rest_api() {
    let server = Server::start().await;
    let run1 = server.token("301", "octo/app", "refs/heads/main");
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    let data = noise(9 * 1024 * 1024, 3);
    write(&src, "one/data.bin", &data);
    write(&src, "two/x.txt", b"x\n");
    let root = src.to_str().unwrap().to_owned();
    for (name, file) in [("one", "one/data.bin"), ("two", "two/x.txt")] {
        let file = src.join(file).display().to_string();
        let up = node(
            &server,
            &run1,
            false,
            work.path(),
            "upload",
            &[name, &root, &file],
        )
        .await;
        assert!(up.ok, "{}", up.output);
    }
    let run2 = server.token("302", "octo/app", "refs/heads/feature");
    let github_token = server.github_token("302", "octo/app");
    let find = [
        ("FIND_RUN", "301"),
        ("FIND_REPO", "octo/app"),
        ("FIND_TOKEN", github_token.as_str()),
    ];
    let listed = node_with(&server, &run2, false, work.path(), "list", &[], &find).await;
    assert!(listed.ok, "{}", listed.output);
    let mut names: Vec<&str> = listed
        .result
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["one", "two"], "{}", listed.output);
    let dest = work.path().join("dest");
    let args = ["one", dest.to_str().unwrap()];
    let down = node_with(&server, &run2, false, work.path(), "download", &args, &find).await;
    assert!(down.ok, "{}", down.output);
    assert_eq!(down.result["digestMismatch"], false, "{}", down.output);
    assert_eq!(std::fs::read(dest.join("one/data.bin")).unwrap(), data);
    // Its own run (no findBy) has none: the REST API is the only way across runs.
    let own = node(&server, &run2, false, work.path(), "list", &[]).await;
    assert_eq!(own.result, serde_json::json!([]), "{}", own.output);

    // A token of another repository, asking for octo/app's run, is refused.
    let stranger = server.github_token("303", "evil/app");
    let find = [
        ("FIND_RUN", "301"),
        ("FIND_REPO", "octo/app"),
        ("FIND_TOKEN", stranger.as_str()),
    ];
    let theirs = node_with(&server, &run2, false, work.path(), "list", &[], &find).await;
    assert!(!theirs.ok, "{}", theirs.output);
    let client = reqwest::Client::new();
    let id = listed.result[0]["id"].as_i64().unwrap();
    for path in [
        "_api/repos/octo/app/actions/runs/301/artifacts".to_owned(),
        format!("_api/repos/octo/app/actions/artifacts/{id}/zip"),
    ] {
        let res = client
            .get(format!("{}{path}", server.url()))
            .header("Authorization", format!("token {stranger}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 403, "{path}");
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("for repository evil/app, not octo/app")
        );
        // Asking under its own name does not reach octo/app's artifact either.
        let own = path.replace("octo/app", "evil/app");
        let res = client
            .get(format!("{}{own}", server.url()))
            .header("Authorization", format!("token {stranger}"))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        assert!(
            status == 404 || body.contains("\"total_count\":0"),
            "{own}: {status} {body}"
        );
    }
}

/// The REST API without a token, with a token it never granted, with a revoked one: 401 with
/// GitHub's `{"message"}`, nothing listed; any path it does not serve: GitHub's 404 JSON, at
/// once and for every method, so an action calling the API for something else fails fast.
#[tokio::test(flavor = "multi_thread")]
async fn the_rest_api_refuses_unknown_tokens_and_answers_404_for_other_calls() {
    let server = Server::start().await;
    let client = reqwest::Client::new();
    let list = format!(
        "{}/repos/octo/app/actions/runs/1/artifacts",
        server.api_url()
    );
    let granted = server.github_token("1", "octo/app");
    let call = |auth: Option<String>| {
        let mut req = client.get(&list);
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, body) = call(Some(format!("token {granted}"))).await;
    assert_eq!((status, &body["total_count"]), (200, &0.into()), "{body}");
    let (status, body) = call(None).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("requires authentication")
    );
    for wrong in ["ghs_not-a-token-of-this-server", "a.b.c"] {
        let (status, body) = call(Some(format!("token {wrong}"))).await;
        assert_eq!(status, 401, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("bad credentials"),
            "{body}"
        );
    }
    server.services().revoke_api_token(&granted);
    let (status, body) = call(Some(format!("token {granted}"))).await;
    assert_eq!(status, 401, "{body}");

    for (method, path) in [
        ("GET", "/repos/octo/app"),
        ("GET", ""),
        ("GET", "/"),
        ("POST", "/graphql"),
        ("PATCH", "/repos/octo/app/issues/1"),
        ("DELETE", "/repos/octo/app/actions/artifacts/1"),
    ] {
        let res = client
            .request(
                method.parse().unwrap(),
                format!("{}{path}", server.api_url()),
            )
            .header("Authorization", format!("token {granted}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 404, "{method} {path}");
        let body: serde_json::Value = res.json().await.unwrap();
        let message = body["message"].as_str().unwrap();
        assert!(message.starts_with("Not Found: "), "{body}");
        assert!(message.contains("download-artifact's run-id"), "{body}");
        assert_eq!(body["documentation_url"], "https://docs.github.com/rest");
    }
}

/// Downloads honour byte ranges (the Azure SDK's `x-ms-range`, plain `Range`).
#[tokio::test(flavor = "multi_thread")]
async fn blob_downloads_serve_byte_ranges() {
    let server = Server::start().await;
    let token = server.token("401", "octo/app", "refs/heads/main");
    let work = tempfile::tempdir().unwrap();
    let data = noise(3 * 1024 * 1024 + 5, 4);
    write(work.path(), "r.bin", &data);
    let file = work.path().join("r.bin").display().to_string();
    let up = node(
        &server,
        &token,
        false,
        work.path(),
        "upload",
        &["r", work.path().to_str().unwrap(), &file],
    )
    .await;
    assert!(up.ok, "{}", up.output);
    let id = up.result["id"].as_i64().unwrap();
    let res = reqwest::Client::new()
        .get(format!(
            "{}_api/repos/octo/app/actions/artifacts/{id}/zip",
            server.url()
        ))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    // reqwest follows the redirect to the signed URL: the whole zip.
    assert_eq!(res.status().as_u16(), 200);
    let url = res.url().to_string();
    let zip = res.bytes().await.unwrap();
    assert!(zip.starts_with(b"PK"));
    let client = reqwest::Client::new();
    let get = |header: &'static str, value: String| client.get(&url).header(header, value).send();
    let res = get("Range", "bytes=2-9".into()).await.unwrap();
    assert_eq!(res.status().as_u16(), 206);
    let len = zip.len();
    assert_eq!(
        res.headers()["content-range"].to_str().unwrap(),
        format!("bytes 2-9/{len}")
    );
    assert_eq!(res.bytes().await.unwrap(), zip[2..10]);
    let res = get("x-ms-range", format!("bytes={}-", len - 3))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 206);
    assert_eq!(res.bytes().await.unwrap(), zip[len - 3..]);
    let res = get("Range", format!("bytes={len}-")).await.unwrap();
    assert_eq!(res.status().as_u16(), 416);
}
