//! What a daemon does when it shares its store with other daemons (PostgreSQL): renew the
//! leases of the runs it executes, reap runs whose daemon stopped renewing, and turn other
//! daemons' changes (`LISTEN/NOTIFY`) into local wake-ups, live-view updates and
//! cancellations. Nothing here runs for the embedded SQLite store.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use crate::daemon::{Shared, running_ids};
use crate::store::StoreSignal;

/// Starts the tasks the store needs (none for a store with one daemon).
pub(crate) fn start(shared: &Arc<Shared>) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    if let Some(every) = shared.store.lease_interval() {
        tasks.push(tokio::spawn(maintain(shared.clone(), every)));
    }
    if let Some(signals) = shared.store.signals() {
        tasks.push(tokio::spawn(follow(shared.clone(), signals)));
    }
    tasks
}

/// Every `every`: renew this daemon's leases (stopping runs it lost or that were cancelled
/// elsewhere), then reap other daemons' expired ones. Runs until the daemon aborts it after
/// its drain: runs still executing during a drain keep their leases.
async fn maintain(shared: Arc<Shared>, every: Duration) {
    let policy = shared.config.on_restart;
    loop {
        tokio::time::sleep(every).await;
        let ids = running_ids(&shared);
        if !ids.is_empty() {
            match shared.db(move |s| s.renew_leases(&ids)).await {
                Ok(report) => {
                    for id in report.lost {
                        tracing::warn!(run = id, "lost the lease of a run; stopping it here");
                        shared.cancel_if_running(
                            id,
                            "cancelled: this daemon lost the run's lease to another daemon",
                        );
                    }
                    for (id, reason) in report.cancel {
                        shared.cancel_if_running(id, &reason);
                    }
                }
                // Not fatal yet: the lease lasts three renewal periods.
                Err(e) => tracing::error!(error = %e, "cannot renew run leases"),
            }
        }
        match shared.db(move |s| s.reap(policy)).await {
            Ok(reaped) if !reaped.is_empty() => {
                tracing::warn!(runs = ?reaped, "reaped runs whose daemon's lease expired");
                reaped.iter().for_each(|&id| shared.changed(id));
                shared.wake.notify_one();
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "cannot reap expired leases"),
        }
    }
}

/// Other daemons' changes, as the store pushes them.
async fn follow(shared: Arc<Shared>, mut signals: tokio::sync::broadcast::Receiver<StoreSignal>) {
    loop {
        match signals.recv().await {
            Ok(StoreSignal::Queue) => shared.wake.notify_one(),
            Ok(StoreSignal::Run(id)) => shared.changed(id),
            Ok(StoreSignal::Cancel { run, reason }) => shared.cancel_if_running(run, &reason),
            // Missed some: claim in case one was a wake-up (live views poll every second).
            Err(RecvError::Lagged(_)) => shared.wake.notify_one(),
            Err(RecvError::Closed) => return,
        }
    }
}
