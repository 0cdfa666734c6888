//! The daemon under hostile clients, over raw sockets on 127.0.0.1: slow and stalled clients
//! are closed by the timeout that applies (the others set far away, so only that one can close
//! them), oversized headers and invalid delivery headers are refused, the connection cap holds
//! and frees up, and nothing is stored for any refused request.
//!
//! Waits are bounded far above the configured timeout (1 s): they prove the connection closes,
//! not how fast.

use std::time::Duration;

use gantry_daemon::signature::sign;
use gantry_http::probe::{Probe, get};
use reqwest::header::HeaderValue;
use serde_json::Value;

use crate::common::*;

const SHORT: Duration = Duration::from_secs(1);
const FAR: Duration = Duration::from_secs(600);
/// How long a test waits for a close that the 1 s timeout should cause.
const BOUND: Duration = Duration::from_secs(20);

/// A daemon for `REPO` (one marking workflow) with every timeout far away except those set.
fn env_with(adjust: impl FnOnce(&mut gantry_http::Limits)) -> Env {
    let mut env = Env::new();
    let workflow = marking_workflow(&env, "release");
    env.repo(REPO, &[("mark.yml", &workflow)]);
    let limits = &mut env.config.http;
    limits.header_read_timeout = FAR;
    limits.body_read_timeout = FAR;
    limits.idle_timeout = FAR;
    limits.write_timeout = FAR;
    adjust(limits);
    env
}

/// A header's bytes, or `None` to leave it out.
type Header<'a> = Option<&'a [u8]>;

fn release_body() -> Vec<u8> {
    serde_json::to_vec(&payload("release/published.payload.json")).unwrap()
}

/// The head of a signed `release` delivery for `body`, announcing `length` body bytes.
fn delivery_head(id: &str, body: &[u8], length: usize) -> Vec<u8> {
    format!(
        "POST /webhook HTTP/1.1\r\nhost: probe\r\ncontent-type: application/json\r\n\
         x-github-event: release\r\nx-github-delivery: {id}\r\nx-hub-signature-256: {}\r\n\
         content-length: {length}\r\n\r\n",
        sign(SECRET.as_bytes(), body)
    )
    .into_bytes()
}

async fn deliveries(client: &Client) -> Vec<Value> {
    let reply = client.get("/api/deliveries").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["deliveries"].as_array().unwrap().clone()
}

async fn runs(client: &Client) -> Vec<Value> {
    let reply = client.get("/api/runs").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["runs"].as_array().unwrap().clone()
}

async fn assert_nothing_stored(server: &Server) {
    assert_eq!(deliveries(&server.client).await, Vec::<Value>::new());
    assert_eq!(runs(&server.client).await, Vec::<Value>::new());
}

#[tokio::test]
async fn slow_and_silent_heads_are_closed_after_the_header_timeout() {
    let env = env_with(|l| l.header_read_timeout = SHORT);
    let mut server = env.start().await;
    let addr = server.handle().local_addr();

    let mut silent = Probe::connect(addr).await.unwrap();
    let mut partial = Probe::connect(addr).await.unwrap();
    partial
        .send(b"POST /webhook HTTP/1.1\r\nhost: probe\r\nx-github-ev")
        .await
        .unwrap();
    let mut all_but_end = Probe::connect(addr).await.unwrap();
    let mut head = delivery_head("slow-head", &release_body(), release_body().len());
    head.truncate(head.len() - 2);
    all_but_end.send(&head).await.unwrap();
    // A slowloris: a byte at a time, never finishing. The timeout counts from the first byte,
    // so trickling does not keep it open.
    let trickle = async {
        let mut probe = Probe::connect(addr).await.unwrap();
        let started = std::time::Instant::now();
        for byte in b"GET /healthz HTTP/1.1\r\nhost: probe\r\nx-pad: "
            .iter()
            .cycle()
        {
            if probe.send(&[*byte]).await.is_err() {
                return true;
            }
            if started.elapsed() > BOUND {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };

    silent
        .closed_within(BOUND)
        .await
        .expect("a silent connection");
    partial.closed_within(BOUND).await.expect("half a header");
    all_but_end
        .closed_within(BOUND)
        .await
        .expect("headers without the blank line");
    assert!(trickle.await, "a trickling head was never closed");
    assert_nothing_stored(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn a_stalled_body_is_closed_after_the_body_timeout_and_nothing_is_stored() {
    let env = env_with(|l| l.body_read_timeout = SHORT);
    let mut server = env.start().await;
    let addr = server.handle().local_addr();
    let body = release_body();

    // Full headers, then nothing of the body.
    let mut none = Probe::connect(addr).await.unwrap();
    none.send(&delivery_head("no-body", &body, body.len()))
        .await
        .unwrap();
    // Full headers and half the body.
    let mut half = Probe::connect(addr).await.unwrap();
    half.send(&delivery_head("half-body", &body, body.len()))
        .await
        .unwrap();
    half.send(&body[..body.len() / 2]).await.unwrap();

    for (probe, what) in [(&mut none, "no body"), (&mut half, "half a body")] {
        let sent = probe.closed_within(BOUND).await.expect(what);
        // Whatever it answered, it was no acceptance.
        assert!(
            !sent.contains(" 202 ") && !sent.contains(" 200 "),
            "{what}: {sent}"
        );
    }
    assert_nothing_stored(&server).await;

    // The same delivery sent whole afterwards is accepted: the stalled attempts left nothing
    // behind that would make it a duplicate.
    let mut whole = Probe::connect(addr).await.unwrap();
    let mut request = delivery_head("half-body", &body, body.len());
    request.extend_from_slice(&body);
    let answer = whole.request(&request).await.unwrap();
    assert_eq!(answer.status, 202, "{}", answer.text());
    assert_eq!(deliveries(&server.client).await.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let env = env_with(|l| l.idle_timeout = SHORT);
    let mut server = env.start().await;
    let mut probe = Probe::connect(server.handle().local_addr()).await.unwrap();
    // Two requests on one connection: keep-alive works...
    for _ in 0..2 {
        let answer = probe.request(&get("/healthz")).await.unwrap();
        assert_eq!(answer.status, 200, "{}", answer.text());
    }
    // ...and then the silent connection goes.
    let sent = probe
        .closed_within(BOUND)
        .await
        .expect("an idle keep-alive");
    assert_eq!(sent, "");
    server.stop().await;
}

#[tokio::test]
async fn oversized_headers_are_refused_with_431() {
    let env = env_with(|_| {});
    let mut server = env.start().await;
    let mut probe = Probe::connect(server.handle().local_addr()).await.unwrap();
    let body = release_body();
    let mut request = delivery_head("big-headers", &body, body.len());
    let pad = format!("x-pad: {}\r\n\r\n", "a".repeat(100 * 1024));
    request.truncate(request.len() - 2);
    request.extend_from_slice(pad.as_bytes());
    request.extend_from_slice(&body);
    // The server may close before reading it all; what matters is the answer.
    let _ = probe.send(&request).await;
    let sent = probe.closed_within(BOUND).await.expect("oversized headers");
    assert!(sent.starts_with("HTTP/1.1 431"), "{sent}");
    assert_nothing_stored(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn invalid_delivery_headers_are_refused_and_nothing_is_stored() {
    let env = env_with(|_| {});
    let mut server = env.start().await;
    let client = server.client.clone();
    let body = release_body();
    let long = "a".repeat(8 * 1024);
    // (event, delivery, what the error says); `None` leaves the header out.
    let cases: Vec<(Header, Header, &str)> = vec![
        (Some(b"release"), None, "missing X-GitHub-Delivery header"),
        (
            Some(b"release"),
            Some(b""),
            "the X-GitHub-Delivery header is empty",
        ),
        (
            Some(b"release"),
            Some(long.as_bytes()),
            "the X-GitHub-Delivery header is 8192 bytes long; at most 64",
        ),
        (
            Some(b"release"),
            Some(b"<script>alert(1)</script>"),
            "the X-GitHub-Delivery header may hold only letters, digits and '-'",
        ),
        (
            Some(b"release"),
            Some(b"id with spaces"),
            "the X-GitHub-Delivery header may hold only",
        ),
        (
            Some(b"release"),
            Some("d\u{e9}livery".as_bytes()),
            "the X-GitHub-Delivery header may hold only",
        ),
        (None, Some(b"no-event"), "missing X-GitHub-Event header"),
        (
            Some(b""),
            Some(b"empty-event"),
            "the X-GitHub-Event header is empty",
        ),
        (
            Some(b"<img src=x onerror=alert(1)>"),
            Some(b"bad-event"),
            "the X-GitHub-Event header may hold only",
        ),
        (
            Some(long.as_bytes()),
            Some(b"long-event"),
            "the X-GitHub-Event header is 8192 bytes long",
        ),
    ];
    for (event, delivery, message) in &cases {
        let mut request = client
            .http
            .post(client.url("/webhook"))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", sign(SECRET.as_bytes(), &body));
        if let Some(event) = event {
            request = request.header("x-github-event", HeaderValue::from_bytes(event).unwrap());
        }
        if let Some(delivery) = delivery {
            request = request.header(
                "x-github-delivery",
                HeaderValue::from_bytes(delivery).unwrap(),
            );
        }
        let response = request.body(body.clone()).send().await.unwrap();
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(status, 400, "{message}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(
            error.starts_with(message),
            "wanted {message:?}, got {error:?}"
        );
    }
    // A hostile repository name in a signed payload is refused too (it would be stored).
    for name in [
        "<script>alert(1)</script>/x",
        &format!("o/{}", "r".repeat(200)),
    ] {
        let payload = for_repo(payload("release/published.payload.json"), name);
        let reply = client.webhook("release", "hostile-repo", &payload).await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        let error = reply.body["error"].as_str().unwrap();
        assert!(error.starts_with("repository.full_name"), "{error}");
    }
    assert_nothing_stored(&server).await;
    assert!(env.marks().is_empty());

    // A GUID is accepted, once.
    let guid = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
    let payload = payload("release/published.payload.json");
    let reply = client.webhook("release", guid, &payload).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let stored = deliveries(&client).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["id"], guid, "{stored:?}");
    server.stop().await;
}

#[tokio::test]
async fn connections_past_the_cap_are_refused_and_the_cap_frees_up() {
    const CAP: usize = 8;
    let env = env_with(|l| l.max_connections = CAP);
    let mut server = env.start().await;
    let addr = server.handle().local_addr();
    // Up to the cap: CAP - 1 silent connections and one that is served.
    let mut held = Vec::new();
    for _ in 0..CAP - 1 {
        held.push(Probe::connect(addr).await.unwrap());
    }
    let mut last = Probe::connect(addr).await.unwrap();
    let answer = last.request(&get("/healthz")).await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text());
    // Past it: answered 503 and closed, however many try.
    for i in 0..3 {
        let mut extra = Probe::connect(addr).await.unwrap();
        let sent = extra
            .closed_within(BOUND)
            .await
            .expect("a connection past the cap");
        assert!(
            sent.starts_with("HTTP/1.1 503") && sent.contains("too many open connections"),
            "{i}: {sent}"
        );
    }
    // Closing some frees their places.
    held.truncate(CAP - 4);
    let mut served = false;
    for _ in 0..200 {
        let mut probe = Probe::connect(addr).await.unwrap();
        if let Ok(answer) = probe.request(&get("/healthz")).await
            && answer.status == 200
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "no place freed up after closing connections");
    drop(held);
    drop(last);
    server.stop().await;
}

#[tokio::test]
async fn many_stalled_connections_leave_valid_deliveries_working() {
    const STALLED: usize = 200;
    let env = env_with(|_| {});
    let mut server = env.start().await;
    let addr = server.handle().local_addr();
    let mut stalled = Vec::new();
    for i in 0..STALLED {
        let mut probe = Probe::connect(addr).await.unwrap();
        // A mix: silent, half a head, a head with no body.
        match i % 3 {
            0 => {}
            1 => probe.send(b"POST /webhook HTTP/1.1\r\nho").await.unwrap(),
            _ => {
                let body = release_body();
                let id = format!("stalled-{i}");
                probe
                    .send(&delivery_head(&id, &body, body.len()))
                    .await
                    .unwrap();
            }
        }
        stalled.push(probe);
    }
    let client = server.client.clone();
    let payload = payload("release/published.payload.json");
    let replies = futures::future::join_all((0..8).map(|i| {
        let client = client.clone();
        let payload = payload.clone();
        async move {
            client
                .webhook("release", &format!("valid-{i}"), &payload)
                .await
        }
    }))
    .await;
    for reply in &replies {
        assert_eq!(reply.status, 202, "{}", reply.body);
    }
    let stored = deliveries(&client).await;
    assert_eq!(
        stored.len(),
        8,
        "only the valid deliveries are stored: {stored:?}"
    );
    drop(stalled);
    server.stop().await;
}
