//! Headers on every response (daemon and registry): a Content-Security-Policy that lets the
//! page run only its own inline script and style (by hash) and talk only to the daemon, no
//! framing, no MIME sniffing.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The policy for `page`: its `<script>` and `<style>` blocks are allowed by their hashes,
/// so HTML that reached the page some other way (a summary) runs nothing.
pub(crate) fn content_security_policy(page: &str) -> String {
    let hash = |tag: &str| {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        let body = page
            .split_once(&open)
            .and_then(|(_, rest)| rest.split_once(&close))
            .map_or("", |(body, _)| body);
        let digest = Sha256::digest(body.as_bytes());
        format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        )
    };
    format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src 'self' data:; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        hash("script"),
        hash("style"),
    )
}

struct Fixed(Vec<(HeaderName, HeaderValue)>);

async fn add(State(fixed): State<Arc<Fixed>>, mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in &fixed.0 {
        headers.insert(name.clone(), value.clone());
    }
    response
}

/// `app` with the headers on every response, its fallback's included.
pub(crate) fn secure(app: Router, page: &str) -> Router {
    let csp = HeaderValue::from_str(&content_security_policy(page))
        .unwrap_or_else(|_| unreachable!("hashes and fixed text are valid header bytes"));
    let fixed = Fixed(vec![
        (header::CONTENT_SECURITY_POLICY, csp),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ),
    ]);
    app.layer(axum::middleware::map_response_with_state(
        Arc::new(fixed),
        add,
    ))
}
