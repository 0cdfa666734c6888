//! The accept loop and one connection's life.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::timeout::TimeoutBody;

use crate::Limits;
use crate::watch::{TrackedBody, Watch, Watched};

/// What a connection past `max_connections` gets before it is closed: written without waiting,
/// into the fresh socket's empty send buffer.
const TOO_MANY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: text/plain; charset=utf-8\r\nretry-after: 1\r\nconnection: close\r\n\
content-length: 44\r\n\r\ntoo many open connections, retry in a moment\n";

/// How long to wait before accepting again after the process ran out of file descriptors
/// (accepting at once would spin).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` over HTTP/1.1 within `limits` until `shutdown` completes, then
/// stops accepting, lets requests in flight finish (idle connections close at once) and
/// returns when every connection has ended.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let connections = TaskTracker::new();
    let stopping = CancellationToken::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                // A client that reset before we accepted is its own problem; anything else
                // (EMFILE) is ours, and passes once connections close.
                if !is_connection_error(&e) {
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!("refused a connection: max_connections reached");
            let _ = stream.try_write(TOO_MANY);
            continue;
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(connection(
            stream,
            app.clone(),
            limits,
            stopping.clone(),
            permit,
        ));
    }
    drop(listener);
    stopping.cancel();
    connections.close();
    connections.wait().await;
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}

/// One connection: hyper serves it while a watchdog closes it when its head or idle deadline
/// passes. The permit returns to the cap when this ends.
async fn connection(
    stream: TcpStream,
    app: Router,
    limits: Limits,
    stopping: CancellationToken,
    _permit: OwnedSemaphorePermit,
) {
    let watch = Watch::new();
    let io = TokioIo::new(Watched {
        inner: stream,
        watch: watch.clone(),
    });
    let service_watch = watch.clone();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let guard = service_watch.busy();
        let mut app = app.clone();
        let request = request.map(|body| TimeoutBody::new(limits.body_read_timeout, body));
        async move {
            let response = tower_service::Service::call(&mut app, request).await?;
            Ok::<_, Infallible>(response.map(|body| TrackedBody {
                body,
                _guard: guard,
            }))
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // The watchdog below times heads; hyper's timer would also cut idle connections.
        .header_read_timeout(None)
        .keep_alive(true)
        .max_header_size(limits.max_header_bytes);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut shutting_down = false;
    loop {
        let deadline = watch.deadline(&limits);
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(e) = served {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            () = watch.changed.notified() => {}
            () = until(deadline.map(|(at, _)| at)) => {
                // The phase may have moved on just now: only a deadline still due closes.
                if let Some((at, stall)) = watch.deadline(&limits)
                    && at <= std::time::Instant::now()
                {
                    tracing::debug!(?stall, "closing a stalled connection");
                    return;
                }
            }
            () = stopping.cancelled(), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

async fn until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
