//! Errors in the distribution spec's JSON format: `{"errors":[{"code","message","detail"}]}`.

use crate::auth::Denied;
use crate::http::{App, BodyError};
use crate::storage::StorageError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// One protocol error answer.
#[derive(Debug)]
pub(crate) struct OciError {
    status: StatusCode,
    code: &'static str,
    message: String,
    challenge: Option<String>,
}

impl OciError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> OciError {
        OciError {
            status,
            code,
            message: message.into(),
            challenge: None,
        }
    }

    pub fn denied(app: &App, denied: Denied) -> OciError {
        match denied {
            Denied::Forbidden(msg) => OciError::new(StatusCode::FORBIDDEN, "DENIED", msg),
            other => OciError {
                challenge: Some(format!("Basic realm=\"{}\"", app.config.realm)),
                ..OciError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", other.to_string())
            },
        }
    }

    pub fn name_invalid(message: impl Into<String>) -> OciError {
        OciError::new(StatusCode::BAD_REQUEST, "NAME_INVALID", message)
    }

    pub fn name_unknown(name: &str) -> OciError {
        OciError::new(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            format!("repository {name} is not known"),
        )
    }

    pub fn digest_invalid(message: impl Into<String>) -> OciError {
        OciError::new(StatusCode::BAD_REQUEST, "DIGEST_INVALID", message)
    }

    pub fn upload_unknown(id: &str) -> OciError {
        OciError::new(
            StatusCode::NOT_FOUND,
            "BLOB_UPLOAD_UNKNOWN",
            format!("upload {id} is not known"),
        )
    }

    pub fn manifest_invalid(message: impl Into<String>) -> OciError {
        OciError::new(StatusCode::BAD_REQUEST, "MANIFEST_INVALID", message)
    }
}

impl From<crate::metadata::MetadataError> for OciError {
    fn from(e: crate::metadata::MetadataError) -> OciError {
        tracing::error!("metadata database: {e}");
        OciError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN",
            "metadata database error",
        )
    }
}

impl From<StorageError> for OciError {
    fn from(e: StorageError) -> OciError {
        match e {
            StorageError::TooLarge { limit } => OciError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "SIZE_INVALID",
                format!("blob exceeds the size limit of {limit} bytes"),
            ),
            StorageError::DigestMismatch { expected, actual } => OciError::digest_invalid(format!(
                "content digest {actual} does not match the provided digest {expected}"
            )),
            StorageError::UploadUnknown(id) => OciError::upload_unknown(&id),
            StorageError::Body(e) => OciError::new(
                StatusCode::BAD_REQUEST,
                "BLOB_UPLOAD_INVALID",
                format!("upload interrupted: {e}"),
            ),
            other => {
                tracing::error!("blob storage: {other}");
                OciError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "UNKNOWN",
                    "blob storage error",
                )
            }
        }
    }
}

impl From<BodyError> for OciError {
    fn from(e: BodyError) -> OciError {
        match e {
            BodyError::TooLarge(limit) => OciError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "SIZE_INVALID",
                format!("content exceeds the limit of {limit} bytes"),
            ),
            BodyError::Read(msg) => OciError::new(StatusCode::BAD_REQUEST, "SIZE_INVALID", msg),
        }
    }
}

impl IntoResponse for OciError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "errors": [{ "code": self.code, "message": self.message, "detail": null }] });
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        if let Some(value) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}
