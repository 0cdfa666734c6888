//! What one connection is doing, so a watchdog can close it when it stalls.
//!
//! hyper's own `header_read_timeout` also runs while a keep-alive connection waits for its next
//! request, so it cannot tell "slow headers" (short) from "idle between requests" (longer). The
//! phases are tracked here instead: a connection starts reading a head; the service being
//! called makes it busy (no deadline: handlers and event streams take what they take, and
//! request bodies have their own inactivity timeout); the response body being dropped (sent or
//! abandoned) makes it idle; the first byte read while idle starts the next head. In any phase,
//! a write that stays blocked (the client stopped reading) ends the connection after the write
//! timeout.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes};
use http_body::Frame;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use crate::Limits;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for (the rest of) a request line and headers.
    Head,
    /// A request is being handled or its response sent.
    Busy,
    /// Between requests on a keep-alive connection.
    Idle,
}

/// Why a connection's deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stall {
    Head,
    Idle,
    Write,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    since: Instant,
    /// Since when a write has been waiting for the client to read, if one is.
    write_blocked: Option<Instant>,
}

/// One connection's phase, shared by its IO, its service and its watchdog.
#[derive(Debug)]
pub(crate) struct Watch {
    state: Mutex<State>,
    /// Wakes the watchdog when the phase changed (its deadline moved).
    pub changed: Notify,
}

impl Watch {
    pub fn new() -> Arc<Watch> {
        Arc::new(Watch {
            state: Mutex::new(State {
                phase: Phase::Head,
                since: Instant::now(),
                write_blocked: None,
            }),
            changed: Notify::new(),
        })
    }

    fn set(&self, from: Option<Phase>, to: Phase) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if from.is_none_or(|from| state.phase == from) {
            state.phase = to;
            state.since = Instant::now();
            drop(state);
            self.changed.notify_one();
        }
    }

    /// Bytes arrived: on an idle connection they start the next request's head.
    fn read_some(&self) {
        self.set(Some(Phase::Idle), Phase::Head);
    }

    /// A write could not go through: the client's receive window is full.
    fn write_pending(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.write_blocked.is_none() {
            state.write_blocked = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    /// A write went through (the deadline only moves later: no need to wake the watchdog).
    fn write_done(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.write_blocked = None;
    }

    /// The service was called: until the guard drops there is no connection deadline.
    pub fn busy(self: &Arc<Self>) -> BusyGuard {
        self.set(None, Phase::Busy);
        BusyGuard(self.clone())
    }

    /// When the connection is ended unless something changes, and why (`None`: busy, with
    /// writes going through).
    pub fn deadline(&self, limits: &Limits) -> Option<(Instant, Stall)> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let phase = match state.phase {
            Phase::Head => Some((state.since + limits.header_read_timeout, Stall::Head)),
            Phase::Idle => Some((state.since + limits.idle_timeout, Stall::Idle)),
            Phase::Busy => None,
        };
        let write = state
            .write_blocked
            .map(|since| (since + limits.write_timeout, Stall::Write));
        match (phase, write) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        }
    }
}

/// Makes the connection idle when the response is done with.
#[derive(Debug)]
pub(crate) struct BusyGuard(Arc<Watch>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.set(Some(Phase::Busy), Phase::Idle);
    }
}

/// A response body that keeps its connection busy until hyper has sent (and dropped) it.
pub(crate) struct TrackedBody {
    pub body: Body,
    pub _guard: BusyGuard,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A socket that tells its [`Watch`] when bytes arrive.
pub(crate) struct Watched<T> {
    pub inner: T,
    pub watch: Arc<Watch>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.read_some();
        }
        polled
    }
}

impl<T> Watched<T> {
    /// Tells the watch whether a write is waiting for the client.
    fn noting<R>(&self, polled: Poll<R>) -> Poll<R> {
        match polled {
            Poll::Pending => self.watch.write_pending(),
            Poll::Ready(_) => self.watch.write_done(),
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.noting(polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.noting(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
