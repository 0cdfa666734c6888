//! The OCI API over raw HTTP: the inputs real clients never send, and the bookkeeping they rely on.

use crate::common::{Meta, Server, client, oci_code, on_both, sha256};
use gantry_packages::{PackageKind, Scope, Visibility};
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

pub async fn push_blob(s: &Server, repo: &str, token: &str, data: &[u8]) -> reqwest::Response {
    let url = s.url(&format!(
        "/v2/{repo}/blobs/uploads/?digest={}",
        sha256(data)
    ));
    client()
        .post(url)
        .bearer_auth(token)
        .body(data.to_vec())
        .send()
        .await
        .unwrap()
}

pub fn manifest(config: &[u8], layers: &[&[u8]]) -> Vec<u8> {
    let desc = |d: &[u8], t: &str| json!({ "mediaType": t, "digest": sha256(d), "size": d.len() });
    let layers: Vec<_> = layers
        .iter()
        .map(|l| desc(l, "application/vnd.oci.image.layer.v1.tar"))
        .collect();
    let m = json!({ "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": desc(config, "application/vnd.oci.image.config.v1+json"), "layers": layers });
    serde_json::to_vec(&m).unwrap()
}

pub async fn put_manifest(
    s: &Server,
    repo: &str,
    reference: &str,
    token: &str,
    body: &[u8],
) -> reqwest::Response {
    let url = s.url(&format!("/v2/{repo}/manifests/{reference}"));
    client()
        .put(url)
        .bearer_auth(token)
        .header("content-type", OCI_MANIFEST)
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

/// Pushes config + one layer + manifest under `tag`; returns the manifest digest.
pub async fn push_image(s: &Server, repo: &str, tag: &str, layer: &[u8]) -> String {
    let config = format!("{{\"tag\":\"{tag}\"}}").into_bytes();
    for blob in [&config[..], layer] {
        assert_eq!(push_blob(s, repo, &s.admin, blob).await.status(), 201);
    }
    let m = manifest(&config, &[layer]);
    assert_eq!(put_manifest(s, repo, tag, &s.admin, &m).await.status(), 201);
    sha256(&m)
}

async fn base_endpoint_challenges_and_reports_api_version(meta: Meta) {
    let s = Server::start_on(meta).await;
    let resp = client().get(s.url("/v2/")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers()["docker-distribution-api-version"],
        "registry/2.0"
    );
    assert_eq!(resp.headers()["www-authenticate"], "Basic realm=\"gantry\"");
    let ok = client()
        .get(s.url("/v2/"))
        .basic_auth("anyone", Some(&s.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let bad = client()
        .get(s.url("/v2/"))
        .basic_auth("anyone", Some("gtk_wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
}

async fn wrong_digest_is_refused_and_nothing_is_stored(meta: Meta) {
    let s = Server::start_on(meta).await;
    let url = s.url(&format!(
        "/v2/octo/img/blobs/uploads/?digest={}",
        sha256(b"other")
    ));
    let resp = client()
        .post(url)
        .bearer_auth(&s.admin)
        .body(&b"payload"[..])
        .send()
        .await
        .unwrap();
    assert_eq!(oci_code(resp).await, (400, "DIGEST_INVALID".to_owned()));
    // Chunked: the final PUT names a digest the bytes do not have.
    let start = client()
        .post(s.url("/v2/octo/img/blobs/uploads/"))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 202);
    let location = start.headers()["location"].to_str().unwrap().to_owned();
    let patch = client()
        .patch(s.url(&location))
        .bearer_auth(&s.admin)
        .body(&b"payload"[..])
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 202);
    let put = client()
        .put(s.url(&format!("{location}?digest={}", sha256(b"other"))))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(oci_code(put).await, (400, "DIGEST_INVALID".to_owned()));
    let malformed = client()
        .post(s.url("/v2/octo/img/blobs/uploads/?digest=sha256:xyz"))
        .bearer_auth(&s.admin)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(
        oci_code(malformed).await,
        (400, "DIGEST_INVALID".to_owned())
    );
    assert_eq!(s.stored_files(), (vec![], vec![]));
    let head = client()
        .head(s.url(&format!("/v2/octo/img/blobs/{}", sha256(b"payload"))))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 404);
}

async fn chunked_upload_resumes_after_truncated_and_out_of_order_chunks(meta: Meta) {
    let s = Server::start_on(meta).await;
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let start = client()
        .post(s.url("/v2/octo/img/blobs/uploads/"))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    let location = start.headers()["location"].to_str().unwrap().to_owned();
    let patch = |range: &str, body: Vec<u8>| {
        client()
            .patch(s.url(&location))
            .bearer_auth(&s.admin)
            .header("content-range", range)
            .body(body)
            .send()
    };
    assert_eq!(
        patch("0-999", data[..1000].to_vec())
            .await
            .unwrap()
            .status(),
        202
    );
    // Announces 1000 bytes, sends 400: refused and rolled back.
    let short = patch("1000-1999", data[1000..1400].to_vec()).await.unwrap();
    assert_eq!(
        oci_code(short).await,
        (400, "BLOB_UPLOAD_INVALID".to_owned())
    );
    // Skips ahead: 416 with the offset to resume from.
    let gap = patch("2000-2999", data[2000..].to_vec()).await.unwrap();
    assert_eq!(gap.status(), 416);
    assert_eq!(gap.headers()["range"], "0-999");
    let status = client()
        .get(s.url(&location))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(status.status(), 204);
    assert_eq!(status.headers()["range"], "0-999");
    assert_eq!(
        patch("1000-2999", data[1000..].to_vec())
            .await
            .unwrap()
            .headers()["range"],
        "0-2999"
    );
    let put = client()
        .put(s.url(&format!("{location}?digest={}", sha256(&data))))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    let got = client()
        .get(s.url(&format!("/v2/octo/img/blobs/{}", sha256(&data))))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(got.bytes().await.unwrap().to_vec(), data);
    let ranged = client()
        .get(s.url(&format!("/v2/octo/img/blobs/{}", sha256(&data))))
        .bearer_auth(&s.admin)
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), 206);
    assert_eq!(
        ranged.bytes().await.unwrap().to_vec(),
        data[10..20].to_vec()
    );
    assert!(
        s.stored_files().1.is_empty(),
        "upload temp files left: {:?}",
        s.stored_files().1
    );
}

async fn connection_dropped_mid_upload_leaves_nothing_visible(meta: Meta) {
    let s = Server::start_on(meta).await;
    let data = vec![7u8; 100_000];
    let mut stream = tokio::net::TcpStream::connect(s.handle.addr())
        .await
        .unwrap();
    let auth = format!("Bearer {}", s.admin);
    let head = format!(
        "POST /v2/octo/img/blobs/uploads/?digest={} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Length: {}\r\n\r\n",
        sha256(&data),
        data.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&data[..40_000]).await.unwrap();
    drop(stream);
    // The server notices the reset and discards the temp file; poll until it has.
    for _ in 0..100 {
        if s.stored_files().1.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(s.stored_files(), (vec![], vec![]));
}

async fn oversized_blobs_manifests_are_refused_with_413(meta: Meta) {
    let s = Server::start_with_on(meta, |c| {
        c.max_blob_size = 1024;
        c.max_manifest_size = 512;
    })
    .await;
    let big = vec![1u8; 4096];
    let resp = push_blob(&s, "octo/img", &s.admin, &big).await;
    assert_eq!(oci_code(resp).await, (413, "SIZE_INVALID".to_owned()));
    let start = client()
        .post(s.url("/v2/octo/img/blobs/uploads/"))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    let location = start.headers()["location"].to_str().unwrap().to_owned();
    let patch = client()
        .patch(s.url(&location))
        .bearer_auth(&s.admin)
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 413);
    let padded = json!({ "schemaVersion": 2, "pad": "x".repeat(1000) }).to_string();
    let resp = put_manifest(&s, "octo/img", "latest", &s.admin, padded.as_bytes()).await;
    assert_eq!(resp.status(), 413);
    assert_eq!(s.stored_files(), (vec![], vec![]));
}

async fn traversal_and_invalid_names_are_400(meta: Meta) {
    let s = Server::start_on(meta).await;
    let digest = sha256(b"x");
    for path in [
        "/v2/Octo/Img/manifests/latest".to_owned(),
        "/v2/octo//img/tags/list".to_owned(),
        format!("/v2/octo/..%2F..%2Fetc/blobs/{digest}"),
        "/v2/octo/img/manifests/..%2Fx".to_owned(),
        "/v2/octo/img/blobs/sha256:..%2F..%2Fetc%2Fpasswd".to_owned(),
    ] {
        let resp = client()
            .get(s.url(&path))
            .bearer_auth(&s.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{path}");
    }
    // HTTP clients resolve dot segments before sending; a raw socket sends them as they are.
    for path in [
        "/v2/../../etc/passwd/manifests/latest",
        "/v2/%2e%2e/%2e%2e/etc/manifests/latest",
        "/v2/octo/../../x/tags/list",
        "/@octo/../../etc",
        "/../../etc/passwd",
    ] {
        let mut stream = tokio::net::TcpStream::connect(s.handle.addr())
            .await
            .unwrap();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            s.admin
        );
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 400"), "{path}: {answer}");
    }
    let single = push_blob(&s, "img", &s.admin, b"x").await;
    assert_eq!(oci_code(single).await, (400, "NAME_INVALID".to_owned()));
}

async fn auth_scopes_owners_and_visibility(meta: Meta) {
    let s = Server::start_on(meta).await;
    let reg = s.handle.registry();
    let run = reg
        .mint_run_token("octo", &[Scope::WritePackages], Duration::from_secs(600))
        .await
        .unwrap();
    let reader = reg
        .create_token("reader", None, &[Scope::ReadPackages], None)
        .await
        .unwrap();
    let anon = client()
        .post(s.url(&format!(
            "/v2/octo/img/blobs/uploads/?digest={}",
            sha256(b"x")
        )))
        .body("x")
        .send()
        .await
        .unwrap();
    assert!(
        anon.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic realm=")
    );
    assert_eq!(oci_code(anon).await, (401, "UNAUTHORIZED".to_owned()));
    assert_eq!(
        oci_code(push_blob(&s, "octo/img", "gtk_forged", b"x").await)
            .await
            .0,
        401
    );
    assert_eq!(
        oci_code(push_blob(&s, "octo/img", &reader, b"x").await).await,
        (403, "DENIED".to_owned())
    );
    assert_eq!(
        oci_code(push_blob(&s, "other/img", &run, b"x").await).await,
        (403, "DENIED".to_owned())
    );
    let digest = push_image(&s, "octo/img", "v1", b"layer").await;
    // The run token pushes to its own owner, cannot delete without delete:packages.
    assert_eq!(push_blob(&s, "octo/img", &run, b"y").await.status(), 201);
    let del = client()
        .delete(s.url(&format!("/v2/octo/img/manifests/{digest}")))
        .bearer_auth(&run)
        .send()
        .await
        .unwrap();
    assert_eq!(oci_code(del).await, (403, "DENIED".to_owned()));
    // Private by default: anonymous pulls are asked to authenticate, readers may pull.
    let anon_get = client()
        .get(s.url("/v2/octo/img/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon_get.status(), 401);
    let read = client()
        .get(s.url("/v2/octo/img/manifests/v1"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    reg.set_visibility(PackageKind::Container, "octo/img", Visibility::Public)
        .await
        .unwrap();
    let public = client()
        .get(s.url("/v2/octo/img/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 200);
    assert_eq!(public.headers()["docker-content-digest"], digest.as_str());
    // An expired run token is refused like a wrong one.
    let expired = reg
        .mint_run_token("octo", &[Scope::WritePackages], Duration::ZERO)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        push_blob(&s, "octo/img", &expired, b"z").await.status(),
        401
    );
    assert!(
        reg.mint_run_token("bad owner", &[Scope::ReadPackages], Duration::from_secs(1))
            .await
            .is_err()
    );
}

async fn manifests_must_reference_existing_blobs_and_digests_must_match(meta: Meta) {
    let s = Server::start_on(meta).await;
    let m = manifest(b"{}", &[b"missing layer"]);
    assert_eq!(
        push_blob(&s, "octo/img", &s.admin, b"{}").await.status(),
        201
    );
    let resp = put_manifest(&s, "octo/img", "v1", &s.admin, &m).await;
    assert_eq!(
        oci_code(resp).await,
        (400, "MANIFEST_BLOB_UNKNOWN".to_owned())
    );
    let resp = put_manifest(
        &s,
        "octo/img",
        &sha256(b"other"),
        &s.admin,
        &manifest(b"{}", &[]),
    )
    .await;
    assert_eq!(oci_code(resp).await, (400, "DIGEST_INVALID".to_owned()));
    let resp = put_manifest(&s, "octo/img", "v1", &s.admin, b"{not json").await;
    assert_eq!(oci_code(resp).await, (400, "MANIFEST_INVALID".to_owned()));
    let resp = put_manifest(&s, "octo/img", "-bad", &s.admin, &manifest(b"{}", &[])).await;
    assert_eq!(resp.status(), 400);
    // Blobs of another repository do not count: each repository sees its own links.
    push_blob(&s, "octo/other", &s.admin, b"layer").await;
    let resp = put_manifest(
        &s,
        "octo/img",
        "v1",
        &s.admin,
        &manifest(b"{}", &[b"layer"]),
    )
    .await;
    assert_eq!(
        oci_code(resp).await,
        (400, "MANIFEST_BLOB_UNKNOWN".to_owned())
    );
    // Cross-repository mount links it.
    let mount = format!(
        "/v2/octo/img/blobs/uploads/?mount={}&from=octo/other",
        sha256(b"layer")
    );
    let resp = client()
        .post(s.url(&mount))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(
        put_manifest(
            &s,
            "octo/img",
            "v1",
            &s.admin,
            &manifest(b"{}", &[b"layer"])
        )
        .await
        .status(),
        201
    );
    // A mount from a repository without the blob falls back to a new upload session.
    let mount = format!(
        "/v2/octo/img/blobs/uploads/?mount={}&from=octo/none",
        sha256(b"nope")
    );
    assert_eq!(
        client()
            .post(s.url(&mount))
            .bearer_auth(&s.admin)
            .send()
            .await
            .unwrap()
            .status(),
        202
    );
}

async fn indexes_tags_pagination_catalog_referrers_and_deletion(meta: Meta) {
    let s = Server::start_on(meta).await;
    let mut digests = Vec::new();
    for tag in ["a", "b", "c", "d", "e"] {
        digests.push(push_image(&s, "octo/img", tag, format!("layer {tag}").as_bytes()).await);
    }
    let index = json!({ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{ "mediaType": OCI_MANIFEST, "digest": digests[0], "size": 1 }] });
    let resp = client()
        .put(s.url("/v2/octo/img/manifests/multi"))
        .bearer_auth(&s.admin)
        .header("content-type", "application/vnd.oci.image.index.v1+json")
        .body(index.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let page = client()
        .get(s.url("/v2/octo/img/tags/list?n=2"))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.headers()["link"],
        "</v2/octo/img/tags/list?n=2&last=b>; rel=\"next\""
    );
    assert_eq!(
        page.json::<serde_json::Value>().await.unwrap()["tags"],
        json!(["a", "b"])
    );
    let rest = client()
        .get(s.url("/v2/octo/img/tags/list?n=10&last=b"))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert!(rest.headers().get("link").is_none());
    assert_eq!(
        rest.json::<serde_json::Value>().await.unwrap()["tags"],
        json!(["c", "d", "e", "multi"])
    );
    let unknown = client()
        .get(s.url("/v2/octo/nothing/tags/list"))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(oci_code(unknown).await, (404, "NAME_UNKNOWN".to_owned()));
    push_image(&s, "octo/zzz", "v1", b"z").await;
    let catalog: serde_json::Value = client()
        .get(s.url("/v2/_catalog?n=1"))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(catalog["repositories"], json!(["octo/img"]));
    // An artifact whose subject is image `a`.
    push_blob(&s, "octo/img", &s.admin, b"sig").await;
    let config_desc =
        json!({ "mediaType": "application/vnd.example.sig", "digest": sha256(b"sig"), "size": 3 });
    let artifact = json!({ "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sig",
        "config": config_desc, "layers": [], "subject": { "mediaType": OCI_MANIFEST, "digest": digests[0], "size": 1 } });
    let artifact = serde_json::to_vec(&artifact).unwrap();
    let resp = put_manifest(&s, "octo/img", &sha256(&artifact), &s.admin, &artifact).await;
    assert_eq!(resp.headers()["oci-subject"], digests[0].as_str());
    let refs: serde_json::Value = client()
        .get(s.url(&format!("/v2/octo/img/referrers/{}", digests[0])))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        refs["manifests"][0]["artifactType"],
        "application/vnd.example.sig"
    );
    // Deleting a tag keeps the manifest; deleting the manifest takes its tags.
    let del = client()
        .delete(s.url("/v2/octo/img/manifests/b"))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 202);
    let by_digest = client()
        .get(s.url(&format!("/v2/octo/img/manifests/{}", digests[1])))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(by_digest.status(), 200);
    let del = client()
        .delete(s.url(&format!("/v2/octo/img/manifests/{}", digests[2])))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 202);
    let gone = client()
        .get(s.url("/v2/octo/img/manifests/c"))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(oci_code(gone).await, (404, "MANIFEST_UNKNOWN".to_owned()));
    let del_blob = client()
        .delete(s.url(&format!("/v2/octo/img/blobs/{}", sha256(b"sig"))))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(del_blob.status(), 202);
    let head = client()
        .head(s.url(&format!("/v2/octo/img/blobs/{}", sha256(b"sig"))))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 404);
}

async fn concurrent_pushes_of_the_same_blob_are_safe(meta: Meta) {
    let s = Server::start_on(meta).await;
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let digest = sha256(&data);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (data, digest, admin) = (data.clone(), digest.clone(), s.admin.clone());
        let base = s.url("");
        tasks.push(tokio::spawn(async move {
            let c = client();
            if i % 2 == 0 {
                return c
                    .post(format!("{base}/v2/octo/img/blobs/uploads/?digest={digest}"))
                    .bearer_auth(&admin)
                    .body(data)
                    .send()
                    .await
                    .unwrap()
                    .status();
            }
            let start = c
                .post(format!("{base}/v2/octo/img/blobs/uploads/"))
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap();
            let loc = start.headers()["location"].to_str().unwrap().to_owned();
            for chunk in data.chunks(300_000) {
                assert_eq!(
                    c.patch(format!("{base}{loc}"))
                        .bearer_auth(&admin)
                        .body(chunk.to_vec())
                        .send()
                        .await
                        .unwrap()
                        .status(),
                    202
                );
            }
            c.put(format!("{base}{loc}?digest={digest}"))
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 201);
    }
    let got = client()
        .get(s.url(&format!("/v2/octo/img/blobs/{digest}")))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(sha256(&got.bytes().await.unwrap()), digest);
    let (blobs, uploads) = s.stored_files();
    assert_eq!(blobs.len(), 1);
    assert!(uploads.is_empty(), "{uploads:?}");
}

on_both!(
    base_endpoint_challenges_and_reports_api_version,
    wrong_digest_is_refused_and_nothing_is_stored,
    chunked_upload_resumes_after_truncated_and_out_of_order_chunks,
    connection_dropped_mid_upload_leaves_nothing_visible,
    oversized_blobs_manifests_are_refused_with_413,
    traversal_and_invalid_names_are_400,
    auth_scopes_owners_and_visibility,
    manifests_must_reference_existing_blobs_and_digests_must_match,
    indexes_tags_pagination_catalog_referrers_and_deletion,
    concurrent_pushes_of_the_same_blob_are_safe
);
