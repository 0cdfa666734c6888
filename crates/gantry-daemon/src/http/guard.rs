//! The guard every daemon route passes (a layer, so routes added later get it too):
//!
//! 1. `Host` must be an allowed name (DNS rebinding: a page on `evil.example` that resolves
//!    to 127.0.0.1 sends `Host: evil.example`);
//! 2. a mutation (any method but GET/HEAD/OPTIONS) must be `application/json` and come from
//!    no page or from the daemon's own or a configured origin (CSRF: a cross-origin form or
//!    `text/plain` fetch needs no preflight, a JSON one does and gets no CORS answer);
//! 3. with `api_token` set, everything but the public paths needs a token (bearer or the
//!    page's session cookie), and mutations the admin one.
//!
//! The webhook is exempt from all three: GitHub sends neither a token nor an Origin, and the
//! signature authenticates it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::config::Config;
use crate::http::origin::{host_name, is_ip_literal, origin_authority, parse_origin};
use crate::http::session::{Role, Sessions};

/// Paths anyone may reach: the page (it holds no data), the health check, the webhook and
/// the login itself.
const PUBLIC: &[&str] = &[
    "/",
    "/healthz",
    "/webhook",
    "/api/session",
    "/api/login",
    "/api/logout",
];

/// Why the guard refused a request.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refused {
    #[error("host '{0}' is not allowed (add it to allowed_hosts)")]
    Host(String),
    #[error("a request without a Host header is not allowed")]
    NoHost,
    #[error("mutations need Content-Type: application/json")]
    ContentType,
    #[error("origin '{0}' may not send mutations (add it to allowed_origins)")]
    Origin(String),
    #[error("cross-site requests may not send mutations")]
    CrossSite,
    #[error("missing or wrong API token")]
    Unauthorized,
    #[error("this token is read-only")]
    ReadOnly,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let status = match &self {
            Refused::Host(_) | Refused::NoHost => StatusCode::BAD_REQUEST,
            Refused::ContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refused::Origin(_) | Refused::CrossSite | Refused::ReadOnly => StatusCode::FORBIDDEN,
            Refused::Unauthorized => StatusCode::UNAUTHORIZED,
        };
        let mut response = (status, Json(json!({ "error": self.to_string() }))).into_response();
        if matches!(self, Refused::Unauthorized) {
            let challenge = HeaderValue::from_static("Bearer realm=\"gantry\"");
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

/// What the guard checks against, built once from the configuration.
pub(crate) struct Guard {
    /// Host names besides IP literals: loopback names, configured names, public_url's host.
    hosts: Vec<String>,
    /// Normalized origins besides the request's own: configured ones and public_url's.
    origins: Vec<String>,
    pub sessions: Sessions,
}

impl Guard {
    pub(crate) fn new(config: &Config) -> Guard {
        let public_origin = config
            .packages
            .public_url
            .as_deref()
            .and_then(|url| parse_origin(url_origin(url)));
        let mut hosts: Vec<String> = ["localhost"].map(str::to_owned).to_vec();
        hosts.extend(config.allowed_hosts.iter().filter_map(|h| host_name(h)));
        hosts.extend(
            public_origin
                .iter()
                .filter_map(|o| host_name(origin_authority(o))),
        );
        let mut origins: Vec<String> = config
            .allowed_origins
            .iter()
            .filter_map(|o| parse_origin(o))
            .collect();
        origins.extend(public_origin);
        Guard {
            hosts,
            origins,
            sessions: Sessions::new(config),
        }
    }

    fn check_host(&self, headers: &HeaderMap) -> Result<(), Refused> {
        let given = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .ok_or(Refused::NoHost)?;
        let name = host_name(given).ok_or_else(|| Refused::Host(given.to_owned()))?;
        // The bind address and every other address are IP literals, which a rebinding
        // attacker cannot make the browser send; `*.localhost` never leaves the machine.
        if is_ip_literal(&name) || name.ends_with(".localhost") || self.hosts.contains(&name) {
            Ok(())
        } else {
            Err(Refused::Host(given.to_owned()))
        }
    }

    fn check_mutation(&self, headers: &HeaderMap) -> Result<(), Refused> {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(Refused::ContentType);
        }
        match headers
            .get(header::ORIGIN)
            .map(|v| v.to_str().unwrap_or(""))
        {
            Some(origin) => {
                let normalized =
                    parse_origin(origin).ok_or_else(|| Refused::Origin(origin.to_owned()))?;
                let own = headers
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|host| {
                        origin_authority(&normalized).eq_ignore_ascii_case(host.trim())
                    });
                if own || self.origins.contains(&normalized) {
                    Ok(())
                } else {
                    Err(Refused::Origin(origin.to_owned()))
                }
            }
            // No Origin: not a browser page (curl, scripts), unless the browser says it is
            // a cross-site request anyway.
            None => match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
                Some("cross-site" | "same-site") => Err(Refused::CrossSite),
                _ => Ok(()),
            },
        }
    }

    /// Checks one request; `Ok` lets it through.
    fn check(&self, method: &Method, path: &str, headers: &HeaderMap) -> Result<(), Refused> {
        if matches!(path, "/webhook" | "/healthz") {
            return Ok(());
        }
        self.check_host(headers)?;
        let mutation = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if mutation {
            self.check_mutation(headers)?;
        }
        if PUBLIC.contains(&path) || !self.sessions.required() {
            return Ok(());
        }
        match self.sessions.role(headers) {
            None => Err(Refused::Unauthorized),
            Some(Role::Read) if mutation => Err(Refused::ReadOnly),
            Some(_) => Ok(()),
        }
    }
}

/// `scheme://authority` of a URL with a path (`https://ci.example.com/gantry/`).
fn url_origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => &url[..after_scheme + slash],
        None => url,
    }
}

/// The middleware.
pub(crate) async fn guard(
    State(guard): State<Arc<Guard>>,
    request: Request,
    next: Next,
) -> Response {
    match guard.check(request.method(), request.uri().path(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refused) => refused.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_url_with_a_path_gives_its_origin() {
        assert_eq!(
            url_origin("https://ci.example.com/gantry/"),
            "https://ci.example.com"
        );
        assert_eq!(url_origin("http://10.0.0.1:8080"), "http://10.0.0.1:8080");
    }
}
