//! GitHub Packages-style authorization: tokens with scopes and an optional owner restriction,
//! per-package visibility.

use crate::config::Visibility;
use crate::db::{TokenRow, now};
use crate::metadata::Metadata;
use axum::http;
use base64::Engine as _;
use http::HeaderMap;

/// A token scope, as GitHub names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `read:packages`: pull private packages.
    ReadPackages,
    /// `write:packages`: push; implies read.
    WritePackages,
    /// `delete:packages`: delete versions, tags and whole packages.
    DeletePackages,
}

impl Scope {
    /// The GitHub name of the scope.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ReadPackages => "read:packages",
            Scope::WritePackages => "write:packages",
            Scope::DeletePackages => "delete:packages",
        }
    }

    /// Parses a GitHub scope name.
    pub fn parse(s: &str) -> Option<Scope> {
        [
            Scope::ReadPackages,
            Scope::WritePackages,
            Scope::DeletePackages,
        ]
        .into_iter()
        .find(|scope| scope.as_str() == s)
    }
}

/// What a presented token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Reported by `npm whoami`.
    pub subject: String,
    /// `Some(owner)`: only that owner's namespace (a run's `GITHUB_TOKEN`); `None`: any.
    pub owner: Option<String>,
    pub scopes: Vec<Scope>,
}

impl TokenInfo {
    fn has(&self, scope: Scope) -> bool {
        // As on GitHub, write implies read.
        self.scopes.contains(&scope)
            || (scope == Scope::ReadPackages && self.scopes.contains(&Scope::WritePackages))
    }

    fn owns(&self, owner: &str) -> bool {
        self.owner
            .as_deref()
            .is_none_or(|o| o.eq_ignore_ascii_case(owner))
    }
}

/// Who is asking.
#[derive(Debug, Clone)]
pub(crate) enum Principal {
    Anonymous,
    Token(TokenInfo),
}

/// What the request wants to do to a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
    Delete,
}

/// Why a request was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub(crate) enum Denied {
    #[error("authentication required")]
    Unauthenticated,
    #[error("bad credentials")]
    BadCredentials,
    #[error("{0}")]
    Forbidden(String),
}

pub(crate) fn hash_token(token: &str) -> String {
    crate::digest::Digest::of(token.as_bytes()).hex().to_owned()
}

pub(crate) fn scopes_to_string(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Creates a random token secret: 256 bits from two v4 uuids.
pub(crate) fn new_secret() -> String {
    format!(
        "gtk_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The token a request presents: `Bearer <token>`, or `Basic` with the token as password
/// (what `docker login` and npm's `_auth` send). `None` when no credentials were sent.
pub(crate) fn presented_token(headers: &HeaderMap) -> Option<Result<String, Denied>> {
    let value = headers.get(http::header::AUTHORIZATION)?;
    let Ok(value) = value.to_str() else {
        return Some(Err(Denied::BadCredentials));
    };
    let (kind, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if kind.eq_ignore_ascii_case("bearer") || kind.eq_ignore_ascii_case("token") {
        return Some(Ok(rest.to_owned()));
    }
    if kind.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest).ok();
        let text = decoded.and_then(|d| String::from_utf8(d).ok());
        let password = text.and_then(|t| t.split_once(':').map(|(_, p)| p.to_owned()));
        return Some(password.ok_or(Denied::BadCredentials));
    }
    Some(Err(Denied::BadCredentials))
}

/// Resolves the request's credentials to a principal. Wrong or expired credentials are an error
/// even where anonymous access would do: a client should learn its token is bad.
pub(crate) async fn principal(db: &dyn Metadata, headers: &HeaderMap) -> Result<Principal, Denied> {
    let Some(token) = presented_token(headers) else {
        return Ok(Principal::Anonymous);
    };
    let token = token?;
    let row = db
        .token(&hash_token(&token))
        .await
        .ok()
        .flatten()
        .ok_or(Denied::BadCredentials)?;
    if row.expires_at.is_some_and(|t| t < now()) {
        return Err(Denied::BadCredentials);
    }
    Ok(Principal::Token(token_info(row)))
}

fn token_info(row: TokenRow) -> TokenInfo {
    TokenInfo {
        subject: row.subject,
        owner: row.owner,
        scopes: row.scopes.split(' ').filter_map(Scope::parse).collect(),
    }
}

/// Decides whether `who` may perform `access` on a package of `owner`. `visibility` is `None`
/// for a package that does not exist yet (reads are then treated as private).
pub(crate) fn authorize(
    who: &Principal,
    owner: &str,
    visibility: Option<Visibility>,
    access: Access,
) -> Result<(), Denied> {
    if access == Access::Read && visibility == Some(Visibility::Public) {
        return Ok(());
    }
    let Principal::Token(token) = who else {
        return Err(Denied::Unauthenticated);
    };
    let needed = match access {
        Access::Read => Scope::ReadPackages,
        Access::Write => Scope::WritePackages,
        Access::Delete => Scope::DeletePackages,
    };
    if !token.has(needed) {
        return Err(Denied::Forbidden(format!(
            "token lacks the {} scope",
            needed.as_str()
        )));
    }
    if !token.owns(owner) {
        let allowed = token.owner.as_deref().unwrap_or_default();
        return Err(Denied::Forbidden(format!(
            "token may only access packages of {allowed}, not {owner}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(owner: Option<&str>, scopes: &[Scope]) -> Principal {
        Principal::Token(TokenInfo {
            subject: "s".into(),
            owner: owner.map(Into::into),
            scopes: scopes.to_vec(),
        })
    }

    #[test]
    fn decisions() {
        use Access::*;
        let public = Some(Visibility::Public);
        let private = Some(Visibility::Private);
        assert_eq!(authorize(&Principal::Anonymous, "o", public, Read), Ok(()));
        assert_eq!(
            authorize(&Principal::Anonymous, "o", private, Read),
            Err(Denied::Unauthenticated)
        );
        assert_eq!(
            authorize(&Principal::Anonymous, "o", public, Write),
            Err(Denied::Unauthenticated)
        );
        let writer = token(Some("Octo"), &[Scope::WritePackages]);
        assert_eq!(authorize(&writer, "octo", None, Write), Ok(()));
        assert_eq!(authorize(&writer, "octo", private, Read), Ok(()));
        assert!(matches!(
            authorize(&writer, "other", None, Write),
            Err(Denied::Forbidden(_))
        ));
        assert!(matches!(
            authorize(&writer, "octo", private, Delete),
            Err(Denied::Forbidden(_))
        ));
        let reader = token(None, &[Scope::ReadPackages]);
        assert!(matches!(
            authorize(&reader, "x", private, Write),
            Err(Denied::Forbidden(_))
        ));
    }

    #[test]
    fn credentials() {
        let mut h = HeaderMap::new();
        assert!(presented_token(&h).is_none());
        h.insert("authorization", "Basic dXNlcjpndGtfYWJj".parse().unwrap());
        assert_eq!(presented_token(&h), Some(Ok("gtk_abc".to_owned())));
        h.insert("authorization", "Bearer t1".parse().unwrap());
        assert_eq!(presented_token(&h), Some(Ok("t1".to_owned())));
        h.insert("authorization", "Basic !!!".parse().unwrap());
        assert_eq!(presented_token(&h), Some(Err(Denied::BadCredentials)));
    }
}
