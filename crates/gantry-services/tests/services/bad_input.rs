//! What well-behaved clients never send: each a clear error, nothing stored.

use crate::support::Server;
use serde_json::{Value, json};
use sha2::Digest as _;
use std::io::{Read, Write};

const ARTIFACTS: &str = "github.actions.results.api.v1.ArtifactService";
const CACHES: &str = "github.actions.results.api.v1.CacheService";

async fn twirp(server: &Server, token: Option<&str>, method: &str, body: Value) -> (u16, Value) {
    twirp_to(server, ARTIFACTS, token, method, body).await
}

async fn twirp_cache(server: &Server, token: &str, method: &str, body: Value) -> (u16, Value) {
    twirp_to(server, CACHES, Some(token), method, body).await
}

async fn twirp_to(
    server: &Server,
    service: &str,
    token: Option<&str>,
    method: &str,
    body: Value,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}twirp/{service}/{method}", server.url()))
        .json(&body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn create(server: &Server, token: &str, run: &str, name: &str) -> String {
    let (status, body) = twirp(server, Some(token), "CreateArtifact", json!({
        "workflow_run_backend_id": run, "workflow_job_run_backend_id": run, "name": name, "version": 4
    }))
    .await;
    assert_eq!(status, 200, "{body}");
    body["signed_upload_url"].as_str().unwrap().to_owned()
}

async fn finalize(
    server: &Server,
    token: &str,
    run: &str,
    name: &str,
    size: usize,
    hash: &str,
) -> (u16, Value) {
    twirp(
        server,
        Some(token),
        "FinalizeArtifact",
        json!({
            "workflow_run_backend_id": run, "workflow_job_run_backend_id": run,
            "name": name, "size": size.to_string(), "hash": hash
        }),
    )
    .await
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

async fn put(url: &str, body: Vec<u8>) -> (u16, String) {
    let res = reqwest::Client::new()
        .put(url)
        .header("x-ms-blob-type", "BlockBlob")
        .body(body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_forged_and_foreign_tokens_are_refused() {
    let server = Server::start().await;
    let list = json!({"workflow_run_backend_id": "1", "workflow_job_run_backend_id": "1"});
    let (status, body) = twirp(&server, None, "ListArtifacts", list.clone()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let (status, body) = twirp(&server, Some("not.a.token"), "ListArtifacts", list.clone()).await;
    assert_eq!(status, 401, "{body}");
    // A token another gantry (another key) minted.
    let elsewhere = Server::start().await;
    let foreign = elsewhere.token("1", "octo/app", "refs/heads/main");
    let (status, body) = twirp(&server, Some(&foreign), "ListArtifacts", list.clone()).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["msg"].as_str().unwrap().contains("signature"),
        "{body}"
    );

    // Run 2's token cannot create, list, read or delete run 1's artifacts.
    let run1 = server.token("1", "octo/app", "refs/heads/main");
    let url = create(&server, &run1, "1", "a").await;
    assert_eq!(put(&url, b"zip".to_vec()).await.0, 201);
    assert_eq!(
        finalize(&server, &run1, "1", "a", 3, &sha256(b"zip"))
            .await
            .0,
        200
    );
    let run2 = server.token("2", "other/repo", "refs/heads/main");
    for method in [
        "ListArtifacts",
        "GetSignedArtifactURL",
        "DeleteArtifact",
        "CreateArtifact",
    ] {
        let body = json!({"workflow_run_backend_id": "1", "workflow_job_run_backend_id": "1", "name": "a"});
        let (status, answer) = twirp(&server, Some(&run2), method, body).await;
        assert_eq!(status, 403, "{method}: {answer}");
        assert!(
            answer["msg"]
                .as_str()
                .unwrap()
                .contains("for run 2, not run 1")
        );
    }
    assert_eq!(server.services().artifacts(None).await.unwrap().len(), 1);

    // Another repository's token cannot fill or commit this repository's cache reservation.
    let client = reqwest::Client::new();
    let caches = format!("{}_apis/artifactcache/caches", server.url());
    let res = client
        .post(&caches)
        .bearer_auth(&run1)
        .json(&json!({"key": "deps", "version": "v1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let id = res.json::<Value>().await.unwrap()["cacheId"]
        .as_i64()
        .unwrap();
    let res = client
        .patch(format!("{caches}/{id}"))
        .bearer_auth(&run2)
        .header("Content-Range", "bytes 0-4/*")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("in progress for other/repo")
    );
    let res = client
        .post(format!("{caches}/{id}"))
        .bearer_auth(&run2)
        .json(&json!({"size": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
    let (status, _) = twirp_cache(
        &server,
        &run2,
        "FinalizeCacheEntryUpload",
        json!({"key": "deps", "version": "v1", "size_bytes": "5"}),
    )
    .await;
    assert_eq!(status, 404);
    assert!(server.services().caches(None).await.unwrap().is_empty());
    assert_eq!(
        server.staged_count(),
        0,
        "nothing was staged for the stranger"
    );

    // The legacy cache API refuses without a valid token too.
    let res = reqwest::get(format!(
        "{}_apis/artifactcache/cache?keys=a&version=v",
        server.url()
    ))
    .await
    .unwrap();
    assert_eq!(res.status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn digest_and_size_mismatches_store_nothing() {
    let server = Server::start().await;
    let token = server.token("1", "octo/app", "refs/heads/main");
    let url = create(&server, &token, "1", "a").await;
    assert_eq!(put(&url, b"real content".to_vec()).await.0, 201);
    let (status, body) = finalize(&server, &token, "1", "a", 12, &sha256(b"other content")).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["msg"].as_str().unwrap().contains("does not match"),
        "{body}"
    );
    let (status, body) = finalize(&server, &token, "1", "a", 11, &sha256(b"real content")).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["msg"].as_str().unwrap().contains("size mismatch"),
        "{body}"
    );
    assert!(server.services().artifacts(None).await.unwrap().is_empty());
    assert_eq!(server.blob_count(), 0);
    // The right digest and size still finalize it, after which the upload URL is dead.
    assert_eq!(
        finalize(&server, &token, "1", "a", 12, &sha256(b"real content"))
            .await
            .0,
        200
    );
    let (status, body) = put(&url, b"rewritten!!!".to_vec()).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("can no longer change"));
}

#[tokio::test(flavor = "multi_thread")]
async fn truncated_uploads_leave_no_part() {
    let server = Server::start().await;
    let token = server.token("1", "octo/app", "refs/heads/main");
    let url = create(&server, &token, "1", "a").await;
    // Promise 1000 bytes, send 10, hang up.
    let path = url.strip_prefix(&server.url()).unwrap();
    let mut stream = std::net::TcpStream::connect(server.handle.addr()).unwrap();
    write!(
        stream,
        "PUT /{path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 1000\r\nx-ms-blob-type: BlockBlob\r\n\r\n0123456789",
        server.handle.addr()
    )
    .unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    drop(stream);
    // Give the server a moment to see the reset and clean up (polled, not a timing assertion).
    for _ in 0..50 {
        if server.staged_count() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        server.staged_count(),
        0,
        "a truncated body leaves no part: {answer}"
    );
    let (status, body) = finalize(&server, &token, "1", "a", 10, &sha256(b"0123456789")).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["msg"]
            .as_str()
            .unwrap()
            .contains("no content was uploaded"),
        "{body}"
    );
    assert_eq!(server.blob_count(), 0);

    // Legacy cache chunks: a chunk shorter than its Content-Range is refused; a commit whose
    // chunks do not cover the size is refused.
    let client = reqwest::Client::new();
    let cache = format!("{}_apis/artifactcache/caches", server.url());
    let res = client
        .post(&cache)
        .bearer_auth(&token)
        .json(&json!({"key": "k", "version": "v"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 201);
    let id = res.json::<Value>().await.unwrap()["cacheId"]
        .as_i64()
        .unwrap();
    let chunk = |range: &str, body: &'static [u8]| {
        client
            .patch(format!("{cache}/{id}"))
            .bearer_auth(&token)
            .header("Content-Range", range.to_owned())
            .body(body)
            .send()
    };
    let res = chunk("bytes 0-99/*", b"short").await.unwrap();
    assert_eq!(res.status().as_u16(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("expected 100 bytes, received 5")
    );
    assert_eq!(
        chunk("bytes 0-4/*", b"hello")
            .await
            .unwrap()
            .status()
            .as_u16(),
        204
    );
    assert_eq!(
        chunk("bytes 10-14/*", b"world")
            .await
            .unwrap()
            .status()
            .as_u16(),
        204
    );
    let res = client
        .post(format!("{cache}/{id}"))
        .bearer_auth(&token)
        .json(&json!({"size": 15}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("bytes 5..10 are missing")
    );
    assert!(server.services().caches(None).await.unwrap().is_empty());
    assert_eq!(server.blob_count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn path_traversal_in_names_ids_and_urls_goes_nowhere() {
    let server = Server::start().await;
    let token = server.token("1", "octo/app", "refs/heads/main");
    for name in ["../escape", "a/b", "..", "c:\\x", "nul\u{0}"] {
        let (status, body) = twirp(&server, Some(&token), "CreateArtifact", json!({
            "workflow_run_backend_id": "1", "workflow_job_run_backend_id": "1", "name": name, "version": 4
        }))
        .await;
        assert_eq!(status, 400, "{name:?}: {body}");
        assert!(
            body["msg"]
                .as_str()
                .unwrap()
                .contains("invalid artifact name")
        );
    }
    let url = create(&server, &token, "1", "ok").await;
    // A block id that looks like a path is only ever a (hex) file name in the upload's dir.
    let block = format!("{url}&comp=block&blockid=..%2F..%2F..%2Fpwned");
    assert_eq!(put(&block, b"x".to_vec()).await.0, 201);
    assert!(!server.dir.path().join("pwned").exists());
    assert!(!server.dir.path().join("services/pwned").exists());
    // Rewriting the URL's id (to another upload or a path) breaks its signature.
    let (base, query) = url.split_once('?').unwrap();
    let moved = format!(
        "{}/..%2F..%2Ftoken.key?{query}",
        base.rsplit_once('/').unwrap().0
    );
    assert_eq!(put(&moved, b"x".to_vec()).await.0, 403);
    let res = reqwest::get(format!(
        "{}_blob/artifact/1?se=9999999999&sig=00",
        server.url()
    ))
    .await
    .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    // Cache ids are numbers scoped to the token's repository.
    let res = reqwest::Client::new()
        .patch(format!("{}_apis/artifactcache/caches/..%2F1", server.url()))
        .bearer_auth(&token)
        .header("Content-Range", "bytes 0-0/*")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_requests_are_refused() {
    let server = Server::with(|c| {
        c.max_request_bytes = 1024 * 1024;
        c.max_json_bytes = 4096;
        c.max_entry_bytes = 2 * 1024 * 1024;
    })
    .await;
    let token = server.token("1", "octo/app", "refs/heads/main");
    let url = create(&server, &token, "1", "big").await;
    let (status, body) = put(&url, vec![0; 1024 * 1024 + 1]).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("exceeds the limit of 1048576 bytes"));
    assert_eq!(server.staged_count(), 0);
    // A huge JSON body.
    let (status, _) = twirp(
        &server,
        Some(&token),
        "CreateArtifact",
        json!({"name": "x".repeat(10_000)}),
    )
    .await;
    assert_eq!(status, 413);
    // An entry reported larger than allowed.
    let (status, body) = finalize(&server, &token, "1", "big", 3 * 1024 * 1024, &sha256(b"")).await;
    assert_eq!(status, 413, "{body}");
    let res = reqwest::Client::new()
        .post(format!("{}_apis/artifactcache/caches", server.url()))
        .bearer_auth(&token)
        .json(&json!({"key": "k", "version": "v", "cacheSize": 3 * 1024 * 1024}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    assert!(res.text().await.unwrap().contains("over the limit"));
    assert!(server.services().caches(None).await.unwrap().is_empty());
    assert_eq!(server.blob_count(), 0);
}

/// Finalized content is immutable: its upload URL refuses more bytes (single PUT and staged
/// blocks), a second CreateArtifact of the name is refused, and the stored bytes stay.
#[tokio::test(flavor = "multi_thread")]
async fn a_finalized_artifact_cannot_be_overwritten() {
    let server = Server::start().await;
    let token = server.token("61", "octo/app", "refs/heads/main");
    let url = create(&server, &token, "61", "fixed").await;
    let data = b"PK-original".to_vec();
    assert_eq!(put(&url, data.clone()).await.0, 201);
    let (status, body) = finalize(&server, &token, "61", "fixed", data.len(), &sha256(&data)).await;
    assert_eq!(status, 200, "{body}");
    let (status, answer) = put(&url, b"PK-replaced".to_vec()).await;
    assert_eq!(status, 409, "{answer}");
    assert!(answer.contains("can no longer change"), "{answer}");
    let block = format!("{url}&comp=block&blockid=AAAA");
    let (status, answer) = put(&block, b"more".to_vec()).await;
    assert!(status >= 400, "{status} {answer}");
    let (status, body) = twirp(&server, Some(&token), "CreateArtifact", json!({
        "workflow_run_backend_id": "61", "workflow_job_run_backend_id": "61", "name": "fixed", "version": 4
    }))
    .await;
    assert_eq!(status, 409, "{body}");
    let id = server.services().artifacts(Some("61")).await.unwrap()[0].id;
    let (_, stream) = server.services().artifact_content(id).await.unwrap();
    let stored: Vec<u8> = futures::StreamExt::collect::<Vec<_>>(stream)
        .await
        .into_iter()
        .flat_map(|chunk| chunk.unwrap().to_vec())
        .collect();
    assert_eq!(stored, data);
    assert_eq!(server.blob_count(), 1);
}
