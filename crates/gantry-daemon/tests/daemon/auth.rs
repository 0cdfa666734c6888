//! The API's guard over a real socket: tokens for reads, read-only versus admin, CSRF
//! (content type and Origin), the page's login cookie, security headers, allowed hosts.

use reqwest::header::{CONTENT_TYPE, HOST, HeaderMap, ORIGIN, SET_COOKIE};
use serde_json::json;

use crate::common::*;

const ADMIN: &str = "admin-t0ken";
const READER: &str = "read-t0ken";

/// A daemon with both tokens and one completed run; returns the server and the run id.
async fn with_tokens(env: &mut Env) -> (Server, i64) {
    let workflow = marking_workflow(env, "release");
    env.repo(REPO, &[("m.yml", &workflow)]);
    env.config.api_token = Some(ADMIN.to_owned());
    env.config.api_read_token = Some(READER.to_owned());
    let mut server = env.start().await;
    server.client.token = Some(ADMIN.to_owned());
    let reply = server
        .client
        .webhook(
            "release",
            "auth-1",
            &payload("release/published.payload.json"),
        )
        .await;
    // The webhook needs neither a token nor an Origin: its signature authenticates it.
    assert_eq!(reply.status, 202, "{}", reply.body);
    let id = run_ids(&reply)[0];
    server.client.wait_completed(id).await;
    (server, id)
}

async fn status(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn every_read_needs_a_token_and_mutations_the_admin_one() {
    let mut env = Env::new();
    let (mut server, id) = with_tokens(&mut env).await;
    let c = server.client.clone();
    let reads = [
        "/api/runs".to_owned(),
        format!("/api/runs/{id}"),
        format!("/api/runs/{id}/events"),
        format!("/api/runs/{id}/jobs/build/logs"),
        format!("/api/runs/{id}/jobs/build/logs/stream"),
        "/api/deliveries".to_owned(),
        "/metrics".to_owned(),
    ];
    for path in &reads {
        let url = c.url(path);
        let anonymous = c.http.get(&url).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "{path} without a token");
        assert!(
            anonymous.headers().contains_key("www-authenticate"),
            "{path}"
        );
        assert_eq!(
            status(c.http.get(&url).bearer_auth("wrong")).await,
            401,
            "{path}"
        );
        assert_eq!(
            status(c.http.get(&url).bearer_auth(READER)).await,
            200,
            "{path}"
        );
        assert_eq!(
            status(c.http.get(&url).bearer_auth(ADMIN)).await,
            200,
            "{path}"
        );
    }
    // The page, the health check and the session probe stay open.
    for path in ["/", "/healthz", "/api/session"] {
        assert_eq!(status(c.http.get(c.url(path))).await, 200, "{path}");
    }
    let rerun = c.url(&format!("/api/runs/{id}/rerun"));
    let body = json!({});
    assert_eq!(status(c.http.post(&rerun).json(&body)).await, 401);
    let read_only = c
        .http
        .post(&rerun)
        .bearer_auth(READER)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(read_only.status(), 403);
    let error: serde_json::Value = read_only.json().await.unwrap();
    assert_eq!(error["error"], "this token is read-only");
    let admin = c.http.post(&rerun).bearer_auth(ADMIN).json(&body);
    assert_eq!(status(admin).await, 201);
    let runs = c.get("/api/runs").await.body["runs"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(runs, 2, "only the admin's re-run was queued");
    for run in c.get("/api/runs").await.body["runs"].as_array().unwrap() {
        c.wait_completed(run["id"].as_i64().unwrap()).await;
    }
    server.stop().await;
}

/// A cross-origin page can POST `text/plain` (or a form) without a preflight; neither may
/// cancel a run, with or without a token configured.
#[tokio::test]
async fn cross_origin_and_non_json_mutations_are_refused() {
    for token in [None, Some(ADMIN)] {
        let mut env = Env::new();
        let workflow = gated_workflow(&env, "release", "");
        env.repo(REPO, &[("g.yml", &workflow)]);
        env.config.api_token = token.map(str::to_owned);
        env.config.allowed_origins = vec!["https://ops.example.com".to_owned()];
        let mut server = env.start().await;
        server.client.token = token.map(str::to_owned);
        let c = server.client.clone();
        let reply = c
            .webhook(
                "release",
                "csrf-1",
                &payload("release/published.payload.json"),
            )
            .await;
        let id = run_ids(&reply)[0];
        c.wait_status(id, "running").await;
        let cancel = c.url(&format!("/api/runs/{id}/cancel"));
        let post = || {
            let request = c.http.post(&cancel);
            match token {
                Some(t) => request.bearer_auth(t),
                None => request,
            }
        };
        let text_plain = post()
            .header(CONTENT_TYPE, "text/plain")
            .header(ORIGIN, "https://evil.example")
            .body("{}");
        assert_eq!(status(text_plain).await, 415, "token {token:?}");
        let form = post()
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("a=b");
        assert_eq!(status(form).await, 415, "token {token:?}");
        let no_type = post().body("{}");
        assert_eq!(status(no_type).await, 415, "token {token:?}");
        let foreign = post()
            .header(ORIGIN, "https://evil.example")
            .json(&json!({}));
        assert_eq!(status(foreign).await, 403, "token {token:?}");
        let null_origin = post().header(ORIGIN, "null").json(&json!({}));
        assert_eq!(status(null_origin).await, 403, "token {token:?}");
        let cross_site = post()
            .header("sec-fetch-site", "cross-site")
            .json(&json!({}));
        assert_eq!(status(cross_site).await, 403, "token {token:?}");
        assert_eq!(
            c.run(id).await["status"],
            "running",
            "a refused POST cancelled"
        );
        // The daemon's own page (same origin) and a configured origin may.
        let own = c.base.clone();
        let same = post().header(ORIGIN, own).json(&json!({}));
        assert_eq!(status(same).await, 200, "token {token:?}");
        let run = c.wait_completed(id).await;
        assert_eq!(run["conclusion"], "cancelled");
        let rerun = c.url(&format!("/api/runs/{id}/rerun"));
        let request = c
            .http
            .post(&rerun)
            .header(ORIGIN, "https://ops.example.com");
        let request = match token {
            Some(t) => request.bearer_auth(t),
            None => request,
        };
        let configured = request.header(CONTENT_TYPE, "application/json; charset=utf-8");
        assert_eq!(status(configured.body("{}")).await, 201, "token {token:?}");
        env.open_gate();
        for run in c.get("/api/runs").await.body["runs"].as_array().unwrap() {
            c.wait_completed(run["id"].as_i64().unwrap()).await;
        }
        server.stop().await;
    }
}

fn cookie_of(headers: &HeaderMap) -> String {
    headers
        .get(SET_COOKIE)
        .expect("a Set-Cookie header")
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn login_sets_a_strict_http_only_cookie_that_authenticates() {
    let mut env = Env::new();
    let (mut server, id) = with_tokens(&mut env).await;
    let c = server.client.clone();
    let login = |token: &str| {
        c.http
            .post(c.url("/api/login"))
            .json(&json!({ "token": token }))
    };
    let wrong = login("nope").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get(SET_COOKIE).is_none());
    for (token, role, can_mutate) in [(ADMIN, "admin", true), (READER, "read", false)] {
        let reply = login(token).send().await.unwrap();
        assert_eq!(reply.status(), 200);
        let cookie = cookie_of(reply.headers());
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Strict"), "{cookie}");
        assert!(!cookie.contains("Secure"), "plain http: {cookie}");
        assert!(
            !cookie.contains(token),
            "the cookie carries the token: {cookie}"
        );
        let pair = cookie.split(';').next().unwrap().to_owned();
        let with_cookie = |r: reqwest::RequestBuilder| r.header("cookie", pair.clone());
        let session: serde_json::Value = with_cookie(c.http.get(c.url("/api/session")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(session, json!({ "required": true, "role": role }));
        let runs = with_cookie(c.http.get(c.url("/api/runs")));
        assert_eq!(status(runs).await, 200);
        let rerun = with_cookie(c.http.post(c.url(&format!("/api/runs/{id}/rerun"))));
        let want = if can_mutate { 201 } else { 403 };
        assert_eq!(status(rerun.json(&json!({}))).await, want, "{role}");
    }
    let forged = c
        .http
        .get(c.url("/api/runs"))
        .header("cookie", "gantry_session=00ff");
    assert_eq!(status(forged).await, 401);
    let logout = c.http.post(c.url("/api/logout")).json(&json!({}));
    let cleared = cookie_of(logout.send().await.unwrap().headers());
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    for run in c.get("/api/runs").await.body["runs"].as_array().unwrap() {
        c.wait_completed(run["id"].as_i64().unwrap()).await;
    }
    server.stop().await;

    // Served over https (public_url): the cookie is Secure too.
    let mut env = Env::new();
    env.config.insecure = true;
    env.config.api_token = Some(ADMIN.to_owned());
    env.config.packages.public_url = Some("https://ci.example.com".to_owned());
    let mut server = env.start().await;
    let c = server.client.clone();
    let reply = c
        .http
        .post(c.url("/api/login"))
        .json(&json!({ "token": ADMIN }))
        .send()
        .await
        .unwrap();
    assert!(cookie_of(reply.headers()).contains("; Secure"));
    server.stop().await;
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let mut env = Env::new();
    let (mut server, id) = with_tokens(&mut env).await;
    let c = server.client.clone();
    let paths = [
        "/".to_owned(),
        "/healthz".to_owned(),
        "/api/runs".to_owned(),
        format!("/api/runs/{id}"),
        "/api/runs/999999".to_owned(),
        "/no/such/path".to_owned(),
        "/v2/".to_owned(),
    ];
    for path in &paths {
        for token in [None, Some(ADMIN)] {
            let request = c.http.get(c.url(path));
            let request = match token {
                Some(t) => request.bearer_auth(t),
                None => request,
            };
            let reply = request.send().await.unwrap();
            let h = reply.headers();
            let csp = h
                .get("content-security-policy")
                .map(|v| v.to_str().unwrap());
            let csp = csp.unwrap_or_else(|| panic!("{path}: no CSP"));
            assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
            assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
            assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
            assert_eq!(h["x-frame-options"], "DENY", "{path}");
            assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn hosts_outside_the_allowed_list_are_refused() {
    let mut env = Env::new();
    let workflow = marking_workflow(&env, "release");
    env.repo(REPO, &[("m.yml", &workflow)]);
    env.config.allowed_hosts = vec!["ci.internal".to_owned()];
    env.config.packages.public_url = Some("https://gantry.example.com/".to_owned());
    let mut server = env.start().await;
    let c = server.client.clone();
    let port = server.handle().local_addr().port();
    let with_host = |path: &str, host: &str| c.http.get(c.url(path)).header(HOST, host.to_owned());
    for path in ["/", "/api/runs", "/api/session"] {
        for host in [
            "rebind.example",
            "evil.localhost.example",
            "127.0.0.1.evil.example",
        ] {
            let refused = with_host(path, &format!("{host}:{port}"))
                .send()
                .await
                .unwrap();
            assert_eq!(refused.status(), 400, "{path} with Host {host}");
            let body: serde_json::Value = refused.json().await.unwrap();
            assert!(
                body["error"].as_str().unwrap().contains("allowed_hosts"),
                "{body}"
            );
        }
        for host in [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("LOCALHOST:{port}"),
            format!("[::1]:{port}"),
            format!("ci.internal:{port}"),
            "gantry.example.com".to_owned(),
        ] {
            assert_eq!(
                status(with_host(path, &host)).await,
                200,
                "{path} with Host {host}"
            );
        }
    }
    // A mutation from a rebinding page is refused before anything else.
    let dispatch = c
        .http
        .post(c.url("/api/repos/Codertocat/Hello-World/dispatch"))
        .header(HOST, format!("rebind.example:{port}"))
        .header(ORIGIN, format!("http://rebind.example:{port}"))
        .json(&json!({}));
    assert_eq!(status(dispatch).await, 400);
    // The webhook answers whatever name GitHub used.
    let body = serde_json::to_vec(&payload("release/published.payload.json")).unwrap();
    let signature = gantry_daemon::signature::sign(SECRET.as_bytes(), &body);
    let webhook = c
        .http
        .post(c.url("/webhook"))
        .header(HOST, "hooks.example.net")
        .header("X-GitHub-Event", "release")
        .header("X-GitHub-Delivery", "7c9a5a3e-0000-4000-8000-000000000001")
        .header("X-Hub-Signature-256", signature)
        .header(CONTENT_TYPE, "application/json")
        .body(body);
    let reply = webhook.send().await.unwrap();
    assert_eq!(reply.status(), 202);
    let body: serde_json::Value = reply.json().await.unwrap();
    for run in body["runs"].as_array().unwrap() {
        c.wait_completed(run.as_i64().unwrap()).await;
    }
    server.stop().await;
}
