//! The OCI distribution API v1.1 (`/v2/...`).

mod blobs;
mod error;
mod manifests;

use crate::auth::{self, Access, Denied, Principal};
use crate::http::{App, percent_decode, query, query_get};
use crate::names;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
pub(crate) use error::OciError;

const CONTAINER: &str = "container";

/// `GET /v2/`: 200 with valid credentials, 401 with a Basic challenge otherwise, which is what
/// makes `docker login` and skopeo send the token as a password.
pub(crate) async fn base(State(app): State<App>, headers: HeaderMap) -> Response {
    match auth::principal(&*app.db, &headers).await {
        Ok(Principal::Token(_)) => json_response(StatusCode::OK, "{}"),
        Ok(Principal::Anonymous) => OciError::denied(&app, Denied::Unauthenticated).into_response(),
        Err(denied) => OciError::denied(&app, denied).into_response(),
    }
}

/// A parsed `/v2/<rest>` path.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Catalog,
    Tags(String),
    Manifest(String, String),
    Blob(String, String),
    StartUpload(String),
    Upload(String, String),
    Referrers(String, String),
}

/// Builds a route from a repository name and the path segment after the separator.
type MakeRoute = fn(String, String) -> Route;

fn parse_route(rest: &str) -> Option<Route> {
    if rest == "_catalog" {
        return Some(Route::Catalog);
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some(Route::Tags(name.to_owned()));
    }
    if let Some(name) = rest
        .strip_suffix("/blobs/uploads/")
        .or_else(|| rest.strip_suffix("/blobs/uploads"))
    {
        return Some(Route::StartUpload(name.to_owned()));
    }
    let splits: [(&str, MakeRoute); 4] = [
        ("/blobs/uploads/", Route::Upload),
        ("/manifests/", Route::Manifest),
        ("/blobs/", Route::Blob),
        ("/referrers/", Route::Referrers),
    ];
    splits.into_iter().find_map(|(sep, make)| {
        let (name, tail) = rest.rsplit_once(sep)?;
        (!tail.is_empty() && !tail.contains('/')).then(|| make(name.to_owned(), tail.to_owned()))
    })
}

fn route_name(route: &Route) -> Option<&str> {
    match route {
        Route::Catalog => None,
        Route::Tags(n) | Route::StartUpload(n) => Some(n),
        Route::Manifest(n, _)
        | Route::Blob(n, _)
        | Route::Upload(n, _)
        | Route::Referrers(n, _) => Some(n),
    }
}

/// Every `/v2/<rest>` request.
pub(crate) async fn dispatch(State(app): State<App>, req: Request) -> Response {
    let raw = req.uri().path().strip_prefix("/v2/").unwrap_or_default();
    let Some(rest) = percent_decode(raw) else {
        return OciError::name_invalid("malformed percent-encoding in path").into_response();
    };
    if crate::http::has_dot_segment(&rest) {
        return OciError::name_invalid("path traversal is not a repository name").into_response();
    }
    let Some(route) = parse_route(&rest) else {
        return OciError::new(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            format!("no such endpoint /v2/{rest}"),
        )
        .into_response();
    };
    if let Some(name) = route_name(&route)
        && !names::valid_repository(name)
    {
        return OciError::name_invalid(format!("invalid repository name {name:?}")).into_response();
    }
    handle(app, route, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn handle(app: App, route: Route, req: Request) -> Result<Response, OciError> {
    let (parts, body) = req.into_parts();
    let method = parts.method.clone();
    let ctx = Ctx {
        app,
        headers: parts.headers,
        params: query(&parts.uri),
    };
    match (route, method) {
        (Route::Catalog, Method::GET) => catalog(&ctx).await,
        (Route::Tags(name), Method::GET) => tags_list(&ctx, &name).await,
        (Route::Manifest(name, r), m) => manifests::handle(&ctx, &name, &r, m, body).await,
        (Route::Blob(name, d), m) => blobs::blob(&ctx, &name, &d, m).await,
        (Route::StartUpload(name), Method::POST) => blobs::start_upload(&ctx, &name, body).await,
        (Route::Upload(name, id), m) => blobs::upload(&ctx, &name, &id, m, body).await,
        (Route::Referrers(name, d), Method::GET) => manifests::referrers(&ctx, &name, &d).await,
        _ => Err(OciError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "method not allowed here",
        )),
    }
}

/// What every handler needs from the request.
pub(crate) struct Ctx {
    pub app: App,
    pub headers: HeaderMap,
    pub params: Vec<(String, String)>,
}

impl Ctx {
    /// Checks `access` to repository `name`, returning who asked.
    pub async fn check(&self, name: &str, access: Access) -> Result<Principal, OciError> {
        let who = auth::principal(&*self.app.db, &self.headers)
            .await
            .map_err(|d| OciError::denied(&self.app, d))?;
        let owner = match names::repository_owner(name) {
            Some(owner) => owner,
            None if access == Access::Read => name,
            None => {
                return Err(OciError::name_invalid(format!(
                    "repository {name:?} must be namespaced as owner/name"
                )));
            }
        };
        let visibility = self.app.db.package(CONTAINER, name).await?;
        auth::authorize(&who, owner, visibility, access)
            .map_err(|d| OciError::denied(&self.app, d))?;
        Ok(who)
    }

    pub fn param(&self, key: &str) -> Option<String> {
        query_get(&self.params, key)
    }

    /// Registers the repository as a package on first write.
    pub async fn ensure_package(&self, name: &str) -> Result<(), OciError> {
        let owner = names::repository_owner(name)
            .unwrap_or(name)
            .to_ascii_lowercase();
        self.app
            .db
            .ensure_package(CONTAINER, name, &owner, self.app.config.default_visibility)
            .await?;
        Ok(())
    }

    /// `n` and `last` pagination parameters.
    fn page(&self) -> Result<(Option<i64>, String), OciError> {
        let n = match self.param("n") {
            Some(n) => Some(n.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                OciError::new(
                    StatusCode::BAD_REQUEST,
                    "PAGINATION_NUMBER_INVALID",
                    format!("invalid n={n}"),
                )
            })?),
            None => None,
        };
        Ok((n, self.param("last").unwrap_or_default()))
    }
}

pub(crate) fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.into(),
    )
        .into_response()
}

/// The `Link` header for the next page, when the page was full.
fn next_link(path: &str, n: Option<i64>, items: &[String], more: bool) -> Option<String> {
    let (Some(n), true, Some(last)) = (n, more, items.last()) else {
        return None;
    };
    Some(format!("<{path}?n={n}&last={last}>; rel=\"next\""))
}

fn paged(all: Vec<String>, n: Option<i64>) -> (Vec<String>, bool) {
    match n {
        Some(n) if all.len() as i64 > n => (all.into_iter().take(n as usize).collect(), true),
        _ => (all, false),
    }
}

fn with_link(mut response: Response, link: Option<String>) -> Response {
    if let Some(value) = link.and_then(|l| l.parse().ok()) {
        response.headers_mut().insert(header::LINK, value);
    }
    response
}

async fn tags_list(ctx: &Ctx, name: &str) -> Result<Response, OciError> {
    ctx.check(name, Access::Read).await?;
    if !ctx.app.db.repo_exists(name).await? {
        return Err(OciError::name_unknown(name));
    }
    let (n, last) = ctx.page()?;
    let fetch = n.map_or(i64::MAX, |n| n.saturating_add(1));
    let (tags, more) = paged(ctx.app.db.tags(name, &last, fetch).await?, n);
    let body = serde_json::json!({ "name": name, "tags": tags });
    let link = next_link(&format!("/v2/{name}/tags/list"), n, &tags, more);
    Ok(with_link(
        json_response(StatusCode::OK, body.to_string()),
        link,
    ))
}

/// `_catalog` lists the repositories the caller could pull.
async fn catalog(ctx: &Ctx) -> Result<Response, OciError> {
    let who = auth::principal(&*ctx.app.db, &ctx.headers)
        .await
        .map_err(|d| OciError::denied(&ctx.app, d))?;
    let (n, last) = ctx.page()?;
    let readable = ctx
        .app
        .db
        .package_names(CONTAINER)
        .await?
        .into_iter()
        .filter(|(name, vis)| {
            let owner = names::repository_owner(name).unwrap_or(name);
            name.as_str() > last.as_str()
                && auth::authorize(&who, owner, Some(*vis), Access::Read).is_ok()
        });
    let (repos, more) = paged(readable.map(|(name, _)| name).collect(), n);
    let body = serde_json::json!({ "repositories": repos });
    let link = next_link("/v2/_catalog", n, &repos, more);
    Ok(with_link(
        json_response(StatusCode::OK, body.to_string()),
        link,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let r = |s: &str| parse_route(s);
        assert_eq!(r("_catalog"), Some(Route::Catalog));
        assert_eq!(r("o/i/tags/list"), Some(Route::Tags("o/i".into())));
        assert_eq!(
            r("o/i/manifests/latest"),
            Some(Route::Manifest("o/i".into(), "latest".into()))
        );
        assert_eq!(
            r("o/blobs/i/blobs/sha256:ab"),
            Some(Route::Blob("o/blobs/i".into(), "sha256:ab".into()))
        );
        assert_eq!(
            r("o/i/blobs/uploads/"),
            Some(Route::StartUpload("o/i".into()))
        );
        assert_eq!(
            r("o/i/blobs/uploads/abc"),
            Some(Route::Upload("o/i".into(), "abc".into()))
        );
        assert_eq!(
            r("o/i/referrers/sha256:ab"),
            Some(Route::Referrers("o/i".into(), "sha256:ab".into()))
        );
        assert_eq!(r("o/i/unknown"), None);
        assert_eq!(
            r("../../x/blobs/sha256:ab"),
            Some(Route::Blob("../../x".into(), "sha256:ab".into()))
        );
    }
}
