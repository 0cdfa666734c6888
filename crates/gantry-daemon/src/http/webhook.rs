//! `POST /webhook`.
//!
//! Order of checks: draining (503), signature over the raw body (401), headers (400, see
//! [`super::delivery`]), body format and repository name (400), redelivery (200, nothing
//! starts), `ping` (200), repository and event (202 with the reason when nothing runs), then planning and ONE transaction that records the
//! delivery with its runs (shared with the deliveries committed alongside it, see
//! [`crate::committer`]). The answer is sent only after that transaction committed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::delivery::{DeliveryHeaders, check_repo_name};
use crate::daemon::Shared;
use crate::planner::Planned;
use crate::signature::verify_any;
use crate::store::{Committed, DeliveryStatus, NewDelivery, PendingCommit};

/// GitHub's limit for webhook payloads.
pub const MAX_BODY: usize = 25 * 1024 * 1024;

/// GitHub waits 10 s for an answer; planning gets most of that.
const PLAN_TIMEOUT: Duration = Duration::from_secs(8);

/// Events that can trigger workflows ("Events that trigger workflows").
const WORKFLOW_EVENTS: &[&str] = &[
    "branch_protection_rule",
    "check_run",
    "check_suite",
    "create",
    "delete",
    "deployment",
    "deployment_status",
    "discussion",
    "discussion_comment",
    "fork",
    "gollum",
    "issue_comment",
    "issues",
    "label",
    "merge_group",
    "milestone",
    "page_build",
    "project",
    "project_card",
    "project_column",
    "public",
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_target",
    "push",
    "registry_package",
    "release",
    "repository_dispatch",
    "status",
    "watch",
    "workflow_dispatch",
    "workflow_run",
];

fn reply(shared: &Shared, status: StatusCode, body: Value) -> Response {
    shared.metrics.webhook_answered(status.as_u16());
    (status, axum::Json(body)).into_response()
}

fn error(shared: &Shared, status: StatusCode, message: impl std::fmt::Display) -> Response {
    reply(shared, status, json!({ "error": message.to_string() }))
}

pub async fn handle(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !shared.is_accepting() {
        return error(
            &shared,
            StatusCode::SERVICE_UNAVAILABLE,
            "the daemon is shutting down",
        );
    }
    let signer = match check_signature(&shared, &headers, &body) {
        Ok(signer) => signer,
        Err(e) => return error(&shared, StatusCode::UNAUTHORIZED, e),
    };
    let DeliveryHeaders { event, delivery } = match super::delivery::read(&headers) {
        Ok(read) => read,
        Err(e) => return error(&shared, StatusCode::BAD_REQUEST, e),
    };
    let payload = match parse_body(&headers, &body) {
        Ok(payload) => payload,
        Err(e) => return error(&shared, StatusCode::BAD_REQUEST, e),
    };
    let repo = payload
        .get("repository")
        .and_then(|r| r.get("full_name"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(Err(e)) = repo.as_deref().map(check_repo_name) {
        return error(&shared, StatusCode::BAD_REQUEST, e);
    }
    if let (Some(repo), Some(signer)) = (&repo, &signer)
        && shared.config.repositories.contains_key(repo)
        && shared.config.secret_for(repo) != Some(signer.as_str())
    {
        let msg = format!("the signature is not made with {repo}'s secret");
        return error(&shared, StatusCode::UNAUTHORIZED, msg);
    }
    let delivery = Delivery {
        id: delivery,
        event,
        repo,
        payload,
    };
    accept(&shared, delivery).await
}

struct Delivery {
    id: String,
    event: String,
    repo: Option<String>,
    payload: Value,
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The secret that signed the body (`None` when unsigned deliveries are allowed).
fn check_signature(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<String>, crate::signature::SignatureError> {
    let header = header_str(headers, "x-hub-signature-256");
    if shared.config.insecure && header.is_none() {
        return Ok(None);
    }
    let secrets = shared.config.all_secrets();
    let index = verify_any(&secrets, body, header)?;
    Ok(secrets.get(index).map(|s| (*s).to_owned()))
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("the form body has no payload field")]
    NoPayloadField,
    #[error("the form body is not valid: {0}")]
    Form(#[from] serde_urlencoded::de::Error),
    #[error("the payload is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the payload is not a JSON object")]
    NotObject,
}

/// JSON, or `application/x-www-form-urlencoded` with the JSON in `payload`.
pub(crate) fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, BodyError> {
    let content_type = header_str(headers, header::CONTENT_TYPE.as_str()).unwrap_or_default();
    let value: Value = if content_type.starts_with("application/x-www-form-urlencoded") {
        let form: HashMap<String, String> = serde_urlencoded::from_bytes(body)?;
        let payload = form.get("payload").ok_or(BodyError::NoPayloadField)?;
        serde_json::from_str(payload)?
    } else {
        serde_json::from_slice(body)?
    };
    if value.is_object() {
        Ok(value)
    } else {
        Err(BodyError::NotObject)
    }
}

async fn accept(shared: &Arc<Shared>, delivery: Delivery) -> Response {
    let id = delivery.id.clone();
    match shared.db(move |s| s.has_delivery(&id)).await {
        Ok(true) => return duplicate(shared, &delivery.id),
        Ok(false) => {}
        Err(e) => return error(shared, StatusCode::INTERNAL_SERVER_ERROR, e),
    }
    if delivery.event == "ping" {
        return record(
            shared,
            &delivery,
            DeliveryStatus::Ping,
            None,
            Planned::default(),
        )
        .await;
    }
    let ignored = |reason: String| (DeliveryStatus::Ignored, Some(reason), Planned::default());
    let (status, reason, planned) = match (
        &delivery.repo,
        WORKFLOW_EVENTS.contains(&delivery.event.as_str()),
    ) {
        (_, false) => ignored(format!(
            "event '{}' does not trigger workflows",
            delivery.event
        )),
        (None, true) => ignored("the payload names no repository".to_owned()),
        (Some(repo), true) if !shared.config.repositories.contains_key(repo) => {
            ignored(format!("repository '{repo}' is not configured"))
        }
        (Some(repo), true) => {
            let planned = shared
                .plan(
                    repo.clone(),
                    delivery.event.clone(),
                    delivery.payload.clone(),
                    PLAN_TIMEOUT,
                )
                .await;
            match planned {
                Ok(planned) => (DeliveryStatus::Accepted, None, planned),
                Err(e) if e.is_transient() => {
                    // Not recorded: GitHub shows the failure and a redelivery is planned anew.
                    let msg = format!("planning failed, redeliver later: {e}");
                    return error(shared, StatusCode::SERVICE_UNAVAILABLE, msg);
                }
                Err(e) => ignored(format!("nothing to run: {e}")),
            }
        }
    };
    record(shared, &delivery, status, reason, planned).await
}

fn duplicate(shared: &Shared, id: &str) -> Response {
    let body = json!({"status": "duplicate", "delivery": id, "runs": []});
    reply(shared, StatusCode::OK, body)
}

async fn record(
    shared: &Arc<Shared>,
    delivery: &Delivery,
    status: DeliveryStatus,
    reason: Option<String>,
    planned: Planned,
) -> Response {
    let new = NewDelivery {
        id: delivery.id.clone(),
        event: delivery.event.clone(),
        repo: delivery.repo.clone(),
        status,
        reason: reason.clone(),
    };
    let pending = PendingCommit {
        delivery: Some(new),
        runs: planned.runs,
    };
    // Answered only after the batch holding this delivery committed (group commit).
    let committed = shared.committer.commit(pending).await;
    let (run_ids, cancel_running) = match committed {
        Ok(Committed::Duplicate) => return duplicate(shared, &delivery.id),
        Ok(Committed::New {
            run_ids,
            cancel_running,
            ..
        }) => (run_ids, cancel_running),
        Err(e) => return error(shared, StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    after_commit(shared, &run_ids, &cancel_running);
    tracing::info!(
        delivery = %delivery.id,
        event = %delivery.event,
        repo = ?delivery.repo,
        status = status.as_str(),
        runs = ?run_ids,
        "webhook recorded"
    );
    let skipped: Vec<Value> = planned
        .skipped
        .iter()
        .map(|(workflow, why)| json!({"workflow": workflow, "reason": why}))
        .collect();
    let code = match status {
        DeliveryStatus::Ping => StatusCode::OK,
        _ => StatusCode::ACCEPTED,
    };
    let body = json!({
        "status": status.as_str(),
        "delivery": delivery.id,
        "reason": reason,
        "runs": run_ids,
        "skipped": skipped,
    });
    reply(shared, code, body)
}

/// Wakes the scheduler for new runs and stops runs that `cancel-in-progress` displaced.
pub(crate) fn after_commit(shared: &Shared, run_ids: &[i64], cancel_running: &[i64]) {
    for &id in cancel_running {
        shared.cancel(
            id,
            "cancelled: a newer run in the concurrency group started",
        );
    }
    for &id in run_ids {
        shared.changed(id);
    }
    shared.wake.notify_one();
}

/// Arbitrary bytes as a webhook body or headers: an answer, never a panic.
#[cfg(test)]
mod fuzz {
    use super::*;
    use axum::http::HeaderValue;
    use proptest::prelude::*;

    fn headers(content_type: &'static str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        map
    }

    /// Pieces that make random bodies look like JSON or form payloads often enough to get past
    /// the first byte.
    fn jsonish() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"{".to_vec()),
            Just(b"}".to_vec()),
            Just(b"[".to_vec()),
            Just(b"\"repository\":".to_vec()),
            Just(b"{\"full_name\":".to_vec()),
            Just(b"\"a/b\"".to_vec()),
            Just(b",".to_vec()),
            Just(b"payload=".to_vec()),
            Just(b"%7B%22".to_vec()),
            Just(b"&".to_vec()),
            Just(b"\\u0000".to_vec()),
            Just(b"1e999".to_vec()),
            prop::collection::vec(any::<u8>(), 0..8),
        ];
        prop::collection::vec(piece, 0..32).prop_map(|v| v.concat())
    }

    /// Either content type: an object or an error, nothing else.
    fn parses_or_refuses(body: &[u8]) -> Result<(), TestCaseError> {
        for content_type in ["application/json", "application/x-www-form-urlencoded"] {
            if let Ok(value) = parse_body(&headers(content_type), body) {
                prop_assert!(value.is_object());
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bodies_parse_or_are_refused(body in prop::collection::vec(any::<u8>(), 0..4096)) {
            parses_or_refuses(&body)?;
        }

        #[test]
        fn json_shaped_bodies_parse_or_are_refused(body in jsonish()) {
            parses_or_refuses(&body)?;
        }

        #[test]
        fn arbitrary_header_values_are_checked_not_trusted(
            event in prop::collection::vec(any::<u8>(), 0..200),
            delivery in prop::collection::vec(any::<u8>(), 0..200),
            repo in "\\PC{0,200}",
        ) {
            let mut map = HeaderMap::new();
            for (name, value) in [("x-github-event", &event), ("x-github-delivery", &delivery)] {
                if let Ok(value) = HeaderValue::from_bytes(value) {
                    map.insert(name, value);
                }
            }
            if let Ok(read) = super::super::delivery::read(&map) {
                prop_assert!(read.delivery.len() <= super::super::delivery::MAX_DELIVERY_ID);
                prop_assert!(read.delivery.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'));
                prop_assert!(read.event.len() <= super::super::delivery::MAX_EVENT);
            }
            if check_repo_name(&repo).is_ok() {
                prop_assert!(repo.len() <= super::super::delivery::MAX_REPO_NAME);
                prop_assert!(!repo.contains('<'));
            }
        }
    }
}
