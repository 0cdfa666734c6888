//! Notifications on the hot paths (a group commit queued runs, a run progressed or ended), sent
//! *after* the data they announce committed, in a transaction of their own.
//!
//! Why not `NOTIFY` inside the data's transaction: PostgreSQL serialises the commits of every
//! transaction that notified behind one cluster-wide lock, held through the commit's WAL
//! flush. With each group commit and each progress batch notifying, the daemons' commits ran
//! one flush after the other instead of sharing flushes (PostgreSQL's own group commit), and
//! a second daemon made every commit slower.
//!
//! The notification's own transaction writes no data, so it commits with
//! `synchronous_commit = off`: it does not wait for a flush, and holds the lock only for an
//! instant. That costs no durability: the data it announces is already committed and flushed
//! (its transaction kept the server's setting), and a notification is not durable anyway (it
//! reaches the sessions listening at that moment, and listeners fall back to polling).
//! A listener still never hears of data before it is visible: the hint is sent after the data
//! committed.

use deadpool_postgres::ClientWrapper;
use tokio_postgres::types::ToSql;

use crate::store::StoreError;

const NOTIFY_ALL: &str = "SELECT pg_notify(u.channel, u.payload) FROM unnest($1::text[], $2::text[]) AS u(channel, payload)";

/// Sends `notes` (channel, payload) in one transaction of their own, pipelined: one round trip.
pub(super) async fn send(c: &ClientWrapper, notes: &[(&str, String)]) -> Result<(), StoreError> {
    if notes.is_empty() {
        return Ok(());
    }
    let statement = c.prepare_cached(NOTIFY_ALL).await?;
    let channels: Vec<&str> = notes.iter().map(|(c, _)| *c).collect();
    let payloads: Vec<&str> = notes.iter().map(|(_, p)| p.as_str()).collect();
    let params: [&(dyn ToSql + Sync); 2] = [&channels, &payloads];
    futures::try_join!(
        c.batch_execute("BEGIN; SET LOCAL synchronous_commit TO off"),
        c.query(&statement, &params),
        c.batch_execute("COMMIT"),
    )?;
    Ok(())
}
