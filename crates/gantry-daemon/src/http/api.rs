//! The JSON API, live streams (Server-Sent Events), `/healthz` and `/metrics`.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::daemon::Shared;
use crate::http::webhook::after_commit;
use crate::launcher::Conclusion;
use crate::markdown;
use crate::store::{
    CancelState, Committed, ConcurrencySpec, NewRun, RunDetail, RunFilter, StoreError,
};

/// Errors of the API, each with its HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not found")]
    NotFound,
    #[error("the daemon is shutting down")]
    Draining,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Draining => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Mutations need the daemon to be accepting work (the guard checked the caller).
fn check_mutation(shared: &Shared) -> ApiResult<()> {
    if shared.is_accepting() {
        Ok(())
    } else {
        Err(ApiError::Draining)
    }
}

pub async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    if shared.is_accepting() {
        Json(json!({"status": "ok"})).into_response()
    } else {
        let body = Json(json!({"status": "draining"}));
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}

pub async fn metrics(State(shared): State<Arc<Shared>>) -> ApiResult<Response> {
    let counts = shared.db(|s| s.counts()).await?;
    let running = shared.running_count();
    let text = crate::metrics::render(&shared.metrics, &counts, running, shared.config.capacity);
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
}

pub async fn list_runs(
    State(shared): State<Arc<Shared>>,
    Query(filter): Query<RunFilter>,
) -> ApiResult<Json<Value>> {
    let runs = shared.db(move |s| s.list_runs(&filter)).await?;
    Ok(Json(json!({ "runs": runs })))
}

pub async fn deliveries(State(shared): State<Arc<Shared>>) -> ApiResult<Json<Value>> {
    let deliveries = shared.db(|s| s.deliveries(100)).await?;
    Ok(Json(json!({ "deliveries": deliveries })))
}

/// A run as the API shows it: the stored detail plus each job's summary rendered to safe HTML.
fn run_json(detail: &RunDetail) -> Value {
    let mut value = serde_json::to_value(detail).unwrap_or_default();
    if let Some(jobs) = value.get_mut("jobs").and_then(Value::as_array_mut) {
        for (job, record) in jobs.iter_mut().zip(&detail.jobs) {
            let html = record.summary.as_deref().map(markdown::render);
            job["summary_html"] = json!(html);
        }
    }
    value
}

pub(crate) async fn load_run(shared: &Arc<Shared>, id: i64) -> ApiResult<RunDetail> {
    shared
        .db(move |s| s.run_detail(id))
        .await?
        .ok_or(ApiError::NotFound)
}

pub async fn get_run(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(run_json(&load_run(&shared, id).await?)))
}

#[derive(Debug, Deserialize)]
pub struct LogQuery {
    #[serde(default)]
    after: i64,
}

pub async fn get_logs(
    State(shared): State<Arc<Shared>>,
    Path((id, job)): Path<(i64, String)>,
    Query(q): Query<LogQuery>,
) -> ApiResult<Json<Value>> {
    let chunks = shared
        .db(move |s| s.logs(id, &job, q.after, 10_000))
        .await?;
    Ok(Json(json!({ "chunks": chunks })))
}

pub async fn cancel_run(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    check_mutation(&shared)?;
    let reason = "cancelled through the API";
    let state = shared.db(move |s| s.request_cancel(id, reason)).await?;
    let state = match state {
        CancelState::NotFound => return Err(ApiError::NotFound),
        CancelState::AlreadyFinished => {
            return Err(ApiError::Conflict("the run is already over".to_owned()));
        }
        CancelState::Dequeued => "cancelled",
        CancelState::Running => {
            shared.cancel(id, reason);
            "cancelling"
        }
    };
    shared.changed(id);
    Ok(Json(json!({ "run": id, "status": state })))
}

#[derive(Debug, Default, Deserialize)]
pub struct RerunRequest {
    #[serde(default)]
    failed_only: bool,
}

pub async fn rerun(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<i64>,
    body: Option<Json<RerunRequest>>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_mutation(&shared)?;
    let failed_only = body.map(|Json(b)| b.failed_only).unwrap_or_default();
    let detail = load_run(&shared, id).await?;
    if detail.run.status != "completed" {
        return Err(ApiError::Conflict("the run has not finished".to_owned()));
    }
    let spec = shared
        .db(move |s| s.run_spec(id))
        .await?
        .ok_or(ApiError::NotFound)?;
    let carried = if failed_only {
        carried_jobs(&detail)?
    } else {
        Vec::new()
    };
    let run = NewRun {
        concurrency: detail
            .run
            .concurrency_group
            .clone()
            .map(|group| ConcurrencySpec {
                group,
                cancel_in_progress: false,
            }),
        rerun_of: Some(id),
        attempt: detail.run.attempt + 1,
        carried,
        ..NewRun::new(spec)
    };
    let new_id = commit_runs(&shared, vec![run]).await?;
    Ok((StatusCode::CREATED, Json(json!({ "runs": new_id }))))
}

/// For "re-run failed jobs": the jobs that keep their result are those that neither failed
/// nor depend (transitively) on a job that failed.
fn carried_jobs(detail: &RunDetail) -> ApiResult<Vec<(String, Conclusion)>> {
    let failed = |c: &Option<String>| matches!(c.as_deref(), Some("failure" | "cancelled"));
    let mut rerun: BTreeSet<&str> = detail
        .jobs
        .iter()
        .filter(|j| failed(&j.conclusion))
        .map(|j| j.key.as_str())
        .collect();
    if rerun.is_empty() {
        return Err(ApiError::Conflict("the run has no failed jobs".to_owned()));
    }
    loop {
        let before = rerun.len();
        for job in &detail.jobs {
            if job.needs.iter().any(|n| rerun.contains(n.as_str())) {
                rerun.insert(&job.key);
            }
        }
        if rerun.len() == before {
            break;
        }
    }
    Ok(detail
        .jobs
        .iter()
        .filter(|j| !rerun.contains(j.key.as_str()))
        .map(|j| {
            let c = j.conclusion.as_deref().and_then(Conclusion::parse);
            (j.key.clone(), c.unwrap_or(Conclusion::Skipped))
        })
        .collect())
}

async fn commit_runs(shared: &Arc<Shared>, runs: Vec<NewRun>) -> ApiResult<Vec<i64>> {
    match shared.db(move |s| s.commit(None, &runs)).await? {
        Committed::New {
            run_ids,
            cancel_running,
            ..
        } => {
            after_commit(shared, &run_ids, &cancel_running);
            Ok(run_ids)
        }
        Committed::Duplicate => Ok(Vec::new()),
    }
}

#[derive(Debug, Deserialize)]
pub struct DispatchRequest {
    /// Branch or tag (`main`, `refs/tags/v1`); the default branch when omitted.
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    /// The workflow file name (`ci.yml`) or path; every dispatchable workflow when omitted.
    workflow: Option<String>,
    #[serde(default)]
    inputs: serde_json::Map<String, Value>,
}

pub async fn dispatch(
    State(shared): State<Arc<Shared>>,
    Path((owner, name)): Path<(String, String)>,
    Json(request): Json<DispatchRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_mutation(&shared)?;
    let repo_name = format!("{owner}/{name}");
    let Some(repo) = shared.config.repositories.get(&repo_name) else {
        return Err(ApiError::NotFound);
    };
    let default_branch = repo.default_branch.clone();
    let git_ref = request
        .git_ref
        .clone()
        .unwrap_or_else(|| default_branch.clone());
    let payload = json!({
        "ref": git_ref,
        "inputs": request.inputs,
        "workflow": request.workflow,
        "repository": { "full_name": repo_name, "default_branch": default_branch },
        "sender": { "login": "gantry" },
    });
    let planned = plan_dispatch(&shared, repo_name, payload).await?;
    let wanted = |path: &str| match &request.workflow {
        Some(w) => path == w || path.rsplit('/').next() == Some(w.as_str()),
        None => true,
    };
    let runs: Vec<NewRun> = planned
        .runs
        .into_iter()
        .filter(|r| wanted(&r.spec.workflow_path))
        .collect();
    if let Some(reason) = runs.iter().find_map(|r| r.failed.clone()) {
        return Err(ApiError::Invalid(reason));
    }
    if runs.is_empty() {
        let msg = "no workflow with a matching workflow_dispatch trigger";
        return Err(ApiError::Invalid(msg.to_owned()));
    }
    let ids = commit_runs(&shared, runs).await?;
    Ok((StatusCode::CREATED, Json(json!({ "runs": ids }))))
}

async fn plan_dispatch(
    shared: &Arc<Shared>,
    repo_name: String,
    payload: Value,
) -> ApiResult<crate::planner::Planned> {
    let event = "workflow_dispatch".to_owned();
    let timeout = Duration::from_secs(30);
    shared
        .plan(repo_name, event, payload, timeout)
        .await
        .map_err(|e| ApiError::Invalid(e.to_string()))
}

type EventStream = Response;

fn sse(mut rx: mpsc::Receiver<Event>) -> EventStream {
    let stream = futures::stream::poll_fn(move |cx| {
        rx.poll_recv(cx).map(|e| e.map(Ok::<Event, Infallible>))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Waits until something changed, the wait times out, or the stream should end.
async fn wait_for_change(
    shared: &Shared,
    changes: &mut tokio::sync::broadcast::Receiver<i64>,
    tx: &mpsc::Sender<Event>,
    run_id: i64,
) -> bool {
    let changed = async {
        loop {
            match changes.recv().await {
                Ok(id) if id == run_id => return,
                Ok(_) => {}
                // Missed messages may have been ours: look again.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    std::future::pending::<()>().await;
                }
            }
        }
    };
    tokio::select! {
        () = changed => true,
        () = tokio::time::sleep(Duration::from_secs(1)) => true,
        () = shared.closing.cancelled() => false,
        () = tx.closed() => false,
    }
}

/// `GET /api/runs/{id}/events`: the run (as `GET /api/runs/{id}`) each time it changes;
/// an `end` event once it completed.
pub async fn run_events(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<i64>,
) -> ApiResult<EventStream> {
    load_run(&shared, id).await?;
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        let mut changes = shared.changes.subscribe();
        let mut last = Value::Null;
        loop {
            let Ok(detail) = load_run(&shared, id).await else {
                break;
            };
            let value = run_json(&detail);
            if value != last {
                let event = Event::default().event("run").data(value.to_string());
                if tx.send(event).await.is_err() {
                    break;
                }
                last = value;
            }
            if detail.run.status == "completed" {
                let _ = tx.send(Event::default().event("end").data("{}")).await;
                break;
            }
            if !wait_for_change(&shared, &mut changes, &tx, id).await {
                break;
            }
        }
    });
    Ok(sse(rx))
}

/// `GET /api/runs/{id}/jobs/{job}/logs/stream`: log chunks as they are written, following
/// while the job runs, then `end`. Resumes after `Last-Event-ID` or `?after=`.
pub async fn follow_logs(
    State(shared): State<Arc<Shared>>,
    Path((id, job)): Path<(i64, String)>,
    Query(q): Query<LogQuery>,
    headers: HeaderMap,
) -> ApiResult<EventStream> {
    load_run(&shared, id).await?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(q.after);
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(stream_logs(shared, id, job, after, tx));
    Ok(sse(rx))
}

async fn stream_logs(
    shared: Arc<Shared>,
    id: i64,
    job: String,
    mut after: i64,
    tx: mpsc::Sender<Event>,
) {
    const PAGE: u32 = 500;
    let mut changes = shared.changes.subscribe();
    loop {
        // Read "done" before the logs: a job's lines are stored before its end.
        let done = job_done(&shared, id, &job).await;
        let key = job.clone();
        let Ok(chunks) = shared.db(move |s| s.logs(id, &key, after, PAGE)).await else {
            break;
        };
        for chunk in &chunks {
            let data = serde_json::to_string(chunk).unwrap_or_default();
            let event = Event::default()
                .event("log")
                .id(chunk.id.to_string())
                .data(data);
            if tx.send(event).await.is_err() {
                return;
            }
            after = chunk.id;
        }
        if chunks.len() == PAGE as usize {
            continue;
        }
        if done {
            let _ = tx.send(Event::default().event("end").data("{}")).await;
            return;
        }
        if !wait_for_change(&shared, &mut changes, &tx, id).await {
            return;
        }
    }
}

/// Whether the job (or its whole run) is over.
async fn job_done(shared: &Arc<Shared>, id: i64, job: &str) -> bool {
    match load_run(shared, id).await {
        Ok(detail) => {
            detail.run.status == "completed"
                || detail
                    .jobs
                    .iter()
                    .any(|j| j.key == job && j.status == "completed")
        }
        Err(_) => true,
    }
}
