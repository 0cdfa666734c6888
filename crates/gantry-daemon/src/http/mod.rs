//! The HTTP surface: webhook, API, streams and the web page.

pub mod api;
pub mod artifacts;
pub mod delivery;
mod guard;
mod headers;
pub(crate) mod origin;
mod session;
pub mod webhook;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::response::{Html, Response};
use axum::routing::{get, post};

use crate::daemon::Shared;

/// The page: plain HTML with a small inline script (no build step).
const PAGE: &str = include_str!("page.html");

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

/// Everything the daemon serves is live state: no browser or proxy may keep a copy.
async fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// `app` (the daemon's routes merged with the registry's) with the security headers on every
/// response.
pub(crate) fn secure(app: Router) -> Router {
    headers::secure(app, PAGE)
}

/// The daemon's routes behind the guard ([`guard`]): a route added here is protected unless
/// the guard lists it as public.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let guard = Arc::new(guard::Guard::new(&shared.config));
    let webhook = post(webhook::handle).layer(DefaultBodyLimit::max(webhook::MAX_BODY));
    Router::new()
        .route("/", get(page))
        .route("/webhook", webhook)
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(api::metrics))
        .route("/api/runs", get(api::list_runs))
        .route("/api/runs/{id}", get(api::get_run))
        .route("/api/runs/{id}/events", get(api::run_events))
        .route("/api/runs/{id}/cancel", post(api::cancel_run))
        .route("/api/runs/{id}/rerun", post(api::rerun))
        .route("/api/runs/{id}/jobs/{job}/logs", get(api::get_logs))
        .route(
            "/api/runs/{id}/jobs/{job}/logs/stream",
            get(api::follow_logs),
        )
        .route("/api/repos/{owner}/{repo}/dispatch", post(api::dispatch))
        .route("/api/deliveries", get(api::deliveries))
        .route("/api/runs/{id}/artifacts", get(artifacts::list))
        .route(
            "/api/runs/{id}/artifacts/{artifact}/zip",
            get(artifacts::zip),
        )
        .with_state(shared)
        .merge(session::routes(guard.clone()))
        .layer(axum::middleware::from_fn_with_state(guard, guard::guard))
        .layer(axum::middleware::map_response(no_store))
}
