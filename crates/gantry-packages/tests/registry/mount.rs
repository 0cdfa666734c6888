//! The router as the daemon will use it: mounted beside other routes on one address.

use crate::common::client;
use axum::routing::get;
use gantry_packages::{Config, Registry, Scope};

#[tokio::test]
async fn router_merges_with_the_daemons_own_routes() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::open(Config::new(dir.path())).await.unwrap();
    let app = axum::Router::new()
        .route("/api/runs", get(|| async { "runs" }))
        .route("/-/healthz", get(|| async { "ok" }))
        .merge(registry.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let url = |p: &str| format!("http://{addr}{p}");
    // The daemon's routes win over the npm catch-all; the registries answer everything else.
    assert_eq!(
        client()
            .get(url("/api/runs"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "runs"
    );
    assert_eq!(
        client()
            .get(url("/-/healthz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
    assert_eq!(
        client().get(url("/v2/")).send().await.unwrap().status(),
        401
    );
    let token = registry
        .mint_run_token(
            "octo",
            &[Scope::ReadPackages],
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(
        client()
            .get(url("/v2/"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client()
            .get(url("/@octo%2fmissing"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    server.abort();
}
