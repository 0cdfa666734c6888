//! Standalone serving: bind, serve the router within `Config::http`'s limits, shut down on
//! request.

use crate::config::Config;
use crate::error::Error;
use crate::registry::Registry;
use std::net::SocketAddr;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running registry server.
pub struct ServeHandle {
    addr: SocketAddr,
    registry: Registry,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl ServeHandle {
    /// The bound address (with the real port when `:0` was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The served registry, for minting tokens and running gc.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server to end.
    pub async fn shutdown(mut self) {
        self.stop_and_wait().await;
    }

    async fn stop_and_wait(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ServeHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Opens the registry described by `config` and serves it on `addr` (use `127.0.0.1:0` for a
/// free loopback port).
pub async fn serve(addr: SocketAddr, config: Config) -> Result<ServeHandle, Error> {
    let registry = Registry::open(config).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| Error::Bind { addr, source })?;
    let (stop, stopped) = oneshot::channel::<()>();
    let app = registry.router();
    let limits = registry.inner.config.http;
    let task = tokio::spawn(gantry_http::serve(listener, app, limits, async move {
        let _ = stopped.await;
    }));
    Ok(ServeHandle {
        addr,
        registry,
        stop: Some(stop),
        task: Some(task),
    })
}
