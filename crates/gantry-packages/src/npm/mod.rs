//! The npm registry protocol: packuments, tarballs, dist-tags, whoami.

mod packument;
mod publish;

use crate::auth::{self, Access, Denied, Principal};
use crate::http::{App, BodyError, percent_decode, query, query_get};
use crate::names;
use crate::storage::StorageError;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

const NPM: &str = "npm";

/// An npm protocol error: npm prints the `error` field after the status line.
#[derive(Debug)]
pub(crate) struct NpmError {
    status: StatusCode,
    message: String,
    realm: Option<String>,
}

impl NpmError {
    fn new(status: StatusCode, message: impl Into<String>) -> NpmError {
        NpmError {
            status,
            message: message.into(),
            realm: None,
        }
    }

    fn bad_request(message: impl Into<String>) -> NpmError {
        NpmError::new(StatusCode::BAD_REQUEST, message)
    }

    fn not_found(what: impl std::fmt::Display) -> NpmError {
        NpmError::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }

    fn denied(app: &App, denied: Denied) -> NpmError {
        match denied {
            Denied::Forbidden(msg) => NpmError::new(StatusCode::FORBIDDEN, msg),
            other => NpmError {
                realm: Some(app.config.realm.clone()),
                ..NpmError::new(StatusCode::UNAUTHORIZED, other.to_string())
            },
        }
    }
}

impl From<crate::metadata::MetadataError> for NpmError {
    fn from(e: crate::metadata::MetadataError) -> NpmError {
        tracing::error!("metadata database: {e}");
        NpmError::new(StatusCode::INTERNAL_SERVER_ERROR, "metadata database error")
    }
}

impl From<StorageError> for NpmError {
    fn from(e: StorageError) -> NpmError {
        tracing::error!("blob storage: {e}");
        NpmError::new(StatusCode::INTERNAL_SERVER_ERROR, "blob storage error")
    }
}

impl From<BodyError> for NpmError {
    fn from(e: BodyError) -> NpmError {
        match e {
            BodyError::TooLarge(_) => NpmError::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
            BodyError::Read(_) => NpmError::bad_request(e.to_string()),
        }
    }
}

impl IntoResponse for NpmError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message });
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        if let Some(value) = self
            .realm
            .and_then(|r| HeaderValue::from_str(&format!("Basic realm=\"{r}\"")).ok())
        {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// A parsed npm request path.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Whoami,
    AuditBulk,
    DistTags(String, Option<String>),
    Package(String, Option<String>),
    Tarball(String, String),
}

/// Splits off a package name from decoded segments: `@scope%2fname` is one segment,
/// `@scope/name` two, an unscoped name one.
fn take_name<'a>(segs: &'a [&'a str]) -> Option<(String, &'a [&'a str])> {
    let first = segs.first()?;
    if first.contains('/') {
        return Some(((*first).to_owned(), &segs[1..]));
    }
    if first.starts_with('@') {
        let second = segs.get(1)?;
        Some((format!("{first}/{second}"), &segs[2..]))
    } else {
        Some(((*first).to_owned(), &segs[1..]))
    }
}

/// Routes on the path's segments, each already percent-decoded.
fn parse_route(segs: &[&str]) -> Option<Route> {
    match segs {
        ["-", "whoami"] => return Some(Route::Whoami),
        ["-", "npm", "v1", "security", "advisories", "bulk"] => return Some(Route::AuditBulk),
        ["-", "package", rest @ ..] => {
            let (name, tail) = take_name(rest)?;
            return match tail {
                ["dist-tags"] => Some(Route::DistTags(name, None)),
                ["dist-tags", tag] => Some(Route::DistTags(name, Some((*tag).to_owned()))),
                _ => None,
            };
        }
        ["-", ..] => return None,
        _ => {}
    }
    let (name, tail) = take_name(segs)?;
    match tail {
        [] => Some(Route::Package(name, None)),
        ["-rev", rev] => Some(Route::Package(name, Some((*rev).to_owned()))),
        ["-", file] | ["-", file, "-rev", _] => Some(Route::Tarball(name, (*file).to_owned())),
        _ => None,
    }
}

fn route_name(route: &Route) -> Option<&str> {
    match route {
        Route::Whoami | Route::AuditBulk => None,
        Route::DistTags(n, _) | Route::Package(n, _) | Route::Tarball(n, _) => Some(n),
    }
}

/// Every request outside `/v2/`.
pub(crate) async fn dispatch(State(app): State<App>, req: Request) -> Response {
    // Segments are decoded one by one: npm escapes the scope separator (`@scope%2fname`), and
    // an escaped `/` elsewhere stays inside its segment, where name validation refuses it.
    let raw = req.uri().path().strip_prefix('/').unwrap_or_default();
    let Some(decoded) = raw
        .split('/')
        .map(percent_decode)
        .collect::<Option<Vec<String>>>()
    else {
        return NpmError::bad_request("malformed percent-encoding in path").into_response();
    };
    if decoded.iter().any(|seg| crate::http::has_dot_segment(seg)) {
        return NpmError::bad_request("path traversal is not a package name").into_response();
    }
    let segs: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let Some(route) = parse_route(&segs) else {
        return NpmError::not_found(format!("/{raw}")).into_response();
    };
    if let Some(name) = route_name(&route)
        && !names::valid_npm_name(name)
    {
        return NpmError::bad_request(format!("invalid package name {name:?}")).into_response();
    }
    handle(app, route, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn handle(app: App, route: Route, req: Request) -> Result<Response, NpmError> {
    let (parts, body) = req.into_parts();
    let ctx = Ctx {
        app,
        params: query(&parts.uri),
        headers: parts.headers,
    };
    match (route, parts.method) {
        (Route::Whoami, Method::GET) => whoami(&ctx).await,
        (Route::AuditBulk, Method::POST) => Ok(json(StatusCode::OK, serde_json::json!({}))),
        (Route::DistTags(name, tag), m) => {
            packument::dist_tags_handler(&ctx, &name, tag.as_deref(), m, body).await
        }
        (Route::Package(name, _), Method::GET) => packument::get(&ctx, &name).await,
        (Route::Package(name, rev), Method::PUT) => {
            publish::put(&ctx, &name, rev.as_deref(), body).await
        }
        (Route::Package(name, Some(rev)), Method::DELETE) => {
            publish::delete_package(&ctx, &name, &rev).await
        }
        (Route::Tarball(name, file), Method::GET | Method::HEAD) => {
            packument::tarball(&ctx, &name, &file).await
        }
        (Route::Tarball(name, file), Method::DELETE) => {
            publish::delete_tarball(&ctx, &name, &file).await
        }
        _ => Err(NpmError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed here",
        )),
    }
}

/// What every handler needs from the request.
struct Ctx {
    app: App,
    headers: HeaderMap,
    params: Vec<(String, String)>,
}

impl Ctx {
    /// Checks `access` to package `name` (owner = its scope).
    async fn check(&self, name: &str, access: Access) -> Result<Principal, NpmError> {
        let who = auth::principal(&*self.app.db, &self.headers)
            .await
            .map_err(|d| NpmError::denied(&self.app, d))?;
        let Some(owner) = names::npm_scope(name) else {
            // No upstream proxy: unscoped packages do not exist here, and cannot be published.
            return Err(if access == Access::Read {
                NpmError::not_found(name)
            } else {
                NpmError::bad_request(format!(
                    "{name} is unscoped; GitHub Packages only hosts scoped packages (@owner/name)"
                ))
            });
        };
        let visibility = self.app.db.package(NPM, name).await?;
        auth::authorize(&who, owner, visibility, access)
            .map_err(|d| NpmError::denied(&self.app, d))?;
        Ok(who)
    }

    fn param(&self, key: &str) -> Option<String> {
        query_get(&self.params, key)
    }

    /// Base URL for tarball links: the configured public URL, else the address the client used.
    fn base_url(&self) -> String {
        if let Some(url) = &self.app.config.public_url {
            return url.trim_end_matches('/').to_owned();
        }
        let host = crate::http::header_str(&self.headers, "host").unwrap_or("127.0.0.1");
        let proto = crate::http::header_str(&self.headers, "x-forwarded-proto").unwrap_or("http");
        format!("{proto}://{host}")
    }
}

fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

async fn whoami(ctx: &Ctx) -> Result<Response, NpmError> {
    match auth::principal(&*ctx.app.db, &ctx.headers)
        .await
        .map_err(|d| NpmError::denied(&ctx.app, d))?
    {
        Principal::Token(t) => Ok(json(
            StatusCode::OK,
            serde_json::json!({ "username": t.subject }),
        )),
        Principal::Anonymous => Err(NpmError::denied(&ctx.app, Denied::Unauthenticated)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let r = |p: &str| {
            let segs: Vec<String> = p
                .strip_prefix('/')
                .unwrap()
                .split('/')
                .map(|s| percent_decode(s).unwrap())
                .collect();
            parse_route(&segs.iter().map(String::as_str).collect::<Vec<_>>())
        };
        assert_eq!(r("/@o/p"), Some(Route::Package("@o/p".into(), None)));
        assert_eq!(r("/@o%2fp"), Some(Route::Package("@o/p".into(), None)));
        assert_eq!(
            r("/@o%2fp%2fq"),
            Some(Route::Package("@o/p/q".into(), None))
        );
        assert_eq!(
            r("/-/package/@o%2fp/dist-tags"),
            Some(Route::DistTags("@o/p".into(), None))
        );
        assert_eq!(
            r("/@o/p/-rev/3-abc"),
            Some(Route::Package("@o/p".into(), Some("3-abc".into())))
        );
        assert_eq!(
            r("/@o/p/-/p-1.0.0.tgz"),
            Some(Route::Tarball("@o/p".into(), "p-1.0.0.tgz".into()))
        );
        assert_eq!(
            r("/@o/p/-/p-1.0.0.tgz/-rev/4-x"),
            Some(Route::Tarball("@o/p".into(), "p-1.0.0.tgz".into()))
        );
        assert_eq!(
            r("/-/package/@o/p/dist-tags"),
            Some(Route::DistTags("@o/p".into(), None))
        );
        assert_eq!(
            r("/-/package/@o/p/dist-tags/beta"),
            Some(Route::DistTags("@o/p".into(), Some("beta".into())))
        );
        assert_eq!(r("/-/whoami"), Some(Route::Whoami));
        assert_eq!(r("/plain"), Some(Route::Package("plain".into(), None)));
        assert_eq!(r("/@o"), None);
        assert_eq!(r("/-/other"), None);
    }
}
