//! The standalone registry under hostile clients, over raw sockets on 127.0.0.1: stalled
//! heads, stalled uploads and idle keep-alive connections are closed by the timeout that
//! applies (the others set far away), oversized headers get 431, the connection cap holds and
//! frees up, and a stalled upload or publish stores nothing.
//!
//! Waits are bounded far above the configured timeout (1 s): they prove the connection closes,
//! not how fast.

use std::time::Duration;

use gantry_http::probe::{Probe, get};

use crate::common::{Server, client, sha256};
use crate::oci_raw::push_blob;

const SHORT: Duration = Duration::from_secs(1);
const FAR: Duration = Duration::from_secs(600);
const BOUND: Duration = Duration::from_secs(20);

async fn start(adjust: impl FnOnce(&mut gantry_http::Limits)) -> Server {
    Server::start_with(|config| {
        let limits = &mut config.http;
        limits.header_read_timeout = FAR;
        limits.body_read_timeout = FAR;
        limits.idle_timeout = FAR;
        limits.write_timeout = FAR;
        adjust(limits);
    })
    .await
}

#[tokio::test]
async fn silent_and_partial_heads_are_closed_after_the_header_timeout() {
    let s = start(|l| l.header_read_timeout = SHORT).await;
    let mut silent = Probe::connect(s.handle.addr()).await.unwrap();
    let mut partial = Probe::connect(s.handle.addr()).await.unwrap();
    partial
        .send(b"GET /v2/ HTTP/1.1\r\nhost: probe\r\nauthoriz")
        .await
        .unwrap();
    silent
        .closed_within(BOUND)
        .await
        .expect("a silent connection");
    partial.closed_within(BOUND).await.expect("half a head");
}

#[tokio::test]
async fn stalled_uploads_are_closed_after_the_body_timeout_and_store_nothing() {
    let s = start(|l| l.body_read_timeout = SHORT).await;
    let blob = vec![7u8; 64 * 1024];
    let blob_head = format!(
        "POST /v2/octo/img/blobs/uploads/?digest={} HTTP/1.1\r\nhost: {}\r\n\
         authorization: Bearer {}\r\ncontent-type: application/octet-stream\r\n\
         content-length: {}\r\n\r\n",
        sha256(&blob),
        s.host(),
        s.admin,
        blob.len()
    );
    let publish =
        br#"{"name":"@octo/pkg","versions":{"1.0.0":{"name":"@octo/pkg","version":"1.0.0"}}}"#;
    let npm_head = format!(
        "PUT /@octo%2fpkg HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        s.host(),
        s.admin,
        publish.len() * 2
    );
    let mut blob_probe = Probe::connect(s.handle.addr()).await.unwrap();
    blob_probe.send(blob_head.as_bytes()).await.unwrap();
    blob_probe.send(&blob[..blob.len() / 2]).await.unwrap();
    let mut npm_probe = Probe::connect(s.handle.addr()).await.unwrap();
    npm_probe.send(npm_head.as_bytes()).await.unwrap();
    npm_probe.send(publish).await.unwrap();
    let mut no_body = Probe::connect(s.handle.addr()).await.unwrap();
    no_body.send(blob_head.as_bytes()).await.unwrap();

    for (probe, what) in [
        (&mut blob_probe, "half a blob"),
        (&mut npm_probe, "half a publish"),
        (&mut no_body, "a blob head with no body"),
    ] {
        let sent = probe.closed_within(BOUND).await.expect(what);
        assert!(!sent.starts_with("HTTP/1.1 2"), "{what}: {sent}");
    }
    assert_eq!(s.stored_files(), (vec![], vec![]));
    let status = client()
        .get(s.url("/@octo%2fpkg"))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let s = start(|l| l.idle_timeout = SHORT).await;
    let mut probe = Probe::connect(s.handle.addr()).await.unwrap();
    for _ in 0..2 {
        let answer = probe.request(&get("/v2/")).await.unwrap();
        // Anonymous: the registry asks for a token, on a connection that stays open.
        assert_eq!(answer.status, 401, "{}", answer.text());
    }
    let sent = probe
        .closed_within(BOUND)
        .await
        .expect("an idle keep-alive");
    assert_eq!(sent, "");
}

#[tokio::test]
async fn oversized_headers_are_refused_with_431() {
    let s = start(|_| {}).await;
    let mut probe = Probe::connect(s.handle.addr()).await.unwrap();
    let request = format!(
        "GET /v2/ HTTP/1.1\r\nhost: probe\r\nx-pad: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let _ = probe.send(request.as_bytes()).await;
    let sent = probe.closed_within(BOUND).await.expect("oversized headers");
    assert!(sent.starts_with("HTTP/1.1 431"), "{sent}");
}

#[tokio::test]
async fn connections_past_the_cap_are_refused_and_the_cap_frees_up() {
    const CAP: usize = 4;
    let s = start(|l| l.max_connections = CAP).await;
    let addr = s.handle.addr();
    let mut held = Vec::new();
    for _ in 0..CAP - 1 {
        held.push(Probe::connect(addr).await.unwrap());
    }
    let mut last = Probe::connect(addr).await.unwrap();
    assert_eq!(last.request(&get("/v2/")).await.unwrap().status, 401);
    let mut extra = Probe::connect(addr).await.unwrap();
    let sent = extra.closed_within(BOUND).await.expect("past the cap");
    assert!(sent.starts_with("HTTP/1.1 503"), "{sent}");
    held.clear();
    let mut served = false;
    for _ in 0..200 {
        let mut probe = Probe::connect(addr).await.unwrap();
        if probe
            .request(&get("/v2/"))
            .await
            .is_ok_and(|a| a.status == 401)
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "no place freed up after closing connections");
    drop(last);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_after_the_write_timeout() {
    let s = start(|l| l.write_timeout = SHORT).await;
    // Far more than loopback's socket buffers hold, so the server's writes block. ASCII, so
    // the probe's text has as many characters as bytes arrived.
    let blob = vec![b'x'; 64 * 1024 * 1024];
    assert_eq!(
        push_blob(&s, "octo/big", &s.admin, &blob).await.status(),
        201
    );
    let mut probe = Probe::connect(s.handle.addr()).await.unwrap();
    let request = format!(
        "GET /v2/octo/big/blobs/{} HTTP/1.1\r\nhost: probe\r\nauthorization: Bearer {}\r\n\r\n",
        sha256(&blob),
        s.admin
    );
    probe.send(request.as_bytes()).await.unwrap();
    // Not reading, for several write timeouts...
    tokio::time::sleep(SHORT * 5).await;
    // ...then everything that is left arrives and the connection is already closed: the
    // response was cut off, not delivered whole.
    let sent = probe
        .closed_within(BOUND)
        .await
        .expect("a client that stopped reading");
    assert!(
        sent.starts_with("HTTP/1.1 200"),
        "{}",
        &sent[..sent.len().min(200)]
    );
    assert!(
        sent.len() < blob.len(),
        "the whole blob was sent: {} bytes",
        sent.len()
    );
}
