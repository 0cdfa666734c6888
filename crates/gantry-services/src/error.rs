//! The services' errors, and how each answers over HTTP (Twirp's JSON errors for the Twirp
//! services, `{"message"}` for the REST cache API and the blob endpoints).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gantry_packages::storage::StorageError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("missing bearer token (ACTIONS_RUNTIME_TOKEN)")]
    NoToken,
    #[error("invalid runtime token: {0}")]
    BadToken(&'static str),
    #[error(
        "requires authentication: give download-artifact `github-token` (the run's GITHUB_TOKEN)"
    )]
    NoApiToken,
    #[error(
        "bad credentials: the token is not the GITHUB_TOKEN of a run gantry serves (or its run has ended)"
    )]
    BadApiToken,
    #[error("the runtime token is for run {token}, not run {asked}")]
    OtherRun { token: String, asked: String },
    #[error("the token is for repository {token}, not {asked}")]
    OtherRepository { token: String, asked: String },
    #[error("invalid or expired signed url")]
    BadSignature,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("request body exceeds the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("upload incomplete: {0}")]
    Incomplete(String),
    #[error("size mismatch: the client reported {reported} bytes, {stored} were uploaded")]
    SizeMismatch { reported: u64, stored: u64 },
    #[error("{0}")]
    Storage(#[from] StorageError),
    #[error("metadata database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("metadata database: {0}")]
    Metadata(#[from] gantry_packages::MetadataError),
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("background task failed: {0}")]
    Task(String),
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

impl ServiceError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| ServiceError::Io { op, path, source }
    }

    pub(crate) fn status(&self) -> StatusCode {
        use ServiceError::*;
        match self {
            NoToken | BadToken(_) | NoApiToken | BadApiToken => StatusCode::UNAUTHORIZED,
            OtherRun { .. } | OtherRepository { .. } | BadSignature => StatusCode::FORBIDDEN,
            NotFound(_) => StatusCode::NOT_FOUND,
            AlreadyExists(_) => StatusCode::CONFLICT,
            InvalidArgument(_) | Incomplete(_) | SizeMismatch { .. } => StatusCode::BAD_REQUEST,
            TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Storage(StorageError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            Storage(StorageError::DigestMismatch { .. }) => StatusCode::BAD_REQUEST,
            Storage(StorageError::Body(_)) => StatusCode::BAD_REQUEST,
            Storage(_) | Db(_) | Metadata(_) | Io { .. } | Task(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// Twirp's error code for the status (<https://twitchtv.github.io/twirp/docs/spec_v7.html>).
    fn twirp_code(&self) -> &'static str {
        match self.status() {
            StatusCode::UNAUTHORIZED => "unauthenticated",
            StatusCode::FORBIDDEN => "permission_denied",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::CONFLICT => "already_exists",
            StatusCode::BAD_REQUEST => "invalid_argument",
            StatusCode::PAYLOAD_TOO_LARGE => "out_of_range",
            _ => "internal",
        }
    }

    fn log(&self) {
        if self.status().is_server_error() {
            tracing::error!("services: {self}");
        } else {
            tracing::debug!("services: refused: {self}");
        }
    }

    /// The answer of a Twirp method.
    pub(crate) fn twirp(self) -> Response {
        self.log();
        let body = serde_json::json!({"code": self.twirp_code(), "msg": self.to_string()});
        (self.status(), Json(body)).into_response()
    }
}

/// REST and blob endpoints answer with `{"message": ...}`.
impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        self.log();
        let body = serde_json::json!({"message": self.to_string()});
        (self.status(), Json(body)).into_response()
    }
}
