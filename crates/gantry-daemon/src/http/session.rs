//! Who a request is: the admin or read-only token, presented as a bearer token or as the
//! page's session cookie; and the page's login and logout.
//!
//! The cookie holds no token: it is an HMAC of a fixed label under the token, so it is worth
//! as much as the token (it proves the browser was given it) but never reveals it, and
//! changing the token ends every session. `HttpOnly` keeps it from scripts, `SameSite=Strict`
//! from every request another site starts.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;

use crate::config::Config;
use crate::http::guard::Guard;
use crate::signature::constant_time_eq;

const COOKIE: &str = "gantry_session";
const LABEL: &[u8] = b"gantry page session v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Read,
    Admin,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Admin => "admin",
        }
    }
}

/// One configured token and the session cookie value it yields.
struct Credential {
    role: Role,
    token: String,
    cookie: String,
}

pub(crate) struct Sessions {
    credentials: Vec<Credential>,
    /// `Secure` on the cookie: the page is reached over https (`packages.public_url`).
    secure: bool,
}

fn cookie_value(token: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(token.as_bytes())
        .unwrap_or_else(|_| unreachable!("hmac takes keys of any length"));
    mac.update(LABEL);
    hex::encode(mac.finalize().into_bytes())
}

impl Sessions {
    pub(crate) fn new(config: &Config) -> Sessions {
        let configured = [
            (Role::Admin, &config.api_token),
            (Role::Read, &config.api_read_token),
        ];
        let credentials = configured
            .into_iter()
            .filter_map(|(role, token)| token.as_ref().map(|t| (role, t)))
            .map(|(role, token)| Credential {
                role,
                token: token.clone(),
                cookie: cookie_value(token),
            })
            .collect();
        let secure = config
            .packages
            .public_url
            .as_deref()
            .is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"));
        Sessions {
            credentials,
            secure,
        }
    }

    /// Whether requests need a token (one is configured).
    pub(crate) fn required(&self) -> bool {
        !self.credentials.is_empty()
    }

    fn by_token(&self, given: &str) -> Option<Role> {
        self.credentials
            .iter()
            .find(|c| constant_time_eq(c.token.as_bytes(), given.as_bytes()))
            .map(|c| c.role)
    }

    fn by_cookie(&self, given: &str) -> Option<Role> {
        self.credentials
            .iter()
            .find(|c| constant_time_eq(c.cookie.as_bytes(), given.as_bytes()))
            .map(|c| c.role)
    }

    /// The role the request's bearer token or session cookie grants.
    pub(crate) fn role(&self, headers: &HeaderMap) -> Option<Role> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if let Some(token) = bearer {
            return self.by_token(token.trim());
        }
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(name, _)| *name == COOKIE)
            .find_map(|(_, value)| self.by_cookie(value))
    }

    fn set_cookie(&self, value: &str, max_age: Option<u32>) -> HeaderValue {
        let mut cookie = format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict");
        if let Some(age) = max_age {
            cookie.push_str(&format!("; Max-Age={age}"));
        }
        if self.secure {
            cookie.push_str("; Secure");
        }
        HeaderValue::from_str(&cookie)
            .unwrap_or_else(|_| unreachable!("hex and fixed text are valid header bytes"))
    }
}

/// `GET /api/session`: whether a login is needed and what this request may do.
async fn session(State(guard): State<Arc<Guard>>, headers: HeaderMap) -> Json<serde_json::Value> {
    let sessions = &guard.sessions;
    let role = match sessions.required() {
        true => sessions.role(&headers),
        false => Some(Role::Admin),
    };
    Json(json!({ "required": sessions.required(), "role": role.map(Role::as_str) }))
}

#[derive(Deserialize)]
struct Login {
    token: String,
}

/// `POST /api/login` `{"token": "..."}`: sets the session cookie for a configured token.
async fn login(State(guard): State<Arc<Guard>>, Json(login): Json<Login>) -> Response {
    let sessions = &guard.sessions;
    if !sessions.required() {
        return Json(json!({ "role": Role::Admin.as_str() })).into_response();
    }
    let Some(role) = sessions.by_token(login.token.trim()) else {
        let body = Json(json!({ "error": "wrong API token" }));
        return (StatusCode::UNAUTHORIZED, body).into_response();
    };
    let cookie = sessions.set_cookie(&cookie_value(login.token.trim()), None);
    let mut response = Json(json!({ "role": role.as_str() })).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

/// `POST /api/logout`: clears the cookie.
async fn logout(State(guard): State<Arc<Guard>>) -> Response {
    let cookie = guard.sessions.set_cookie("", Some(0));
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

pub(crate) fn routes(guard: Arc<Guard>) -> Router {
    use axum::routing::{get, post};
    Router::new()
        .route("/api/session", get(session))
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .with_state(guard)
}
