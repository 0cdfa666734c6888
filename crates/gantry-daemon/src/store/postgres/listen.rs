//! The `LISTEN` connection: notifications from every daemon's transactions become
//! [`StoreSignal`]s. It reconnects forever; after each (re)connect it signals `Queue` once,
//! since whatever was notified while it was away is lost.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{broadcast, mpsc};
use tokio_postgres::{AsyncMessage, NoTls, Notification};

use super::writes::{CANCEL, QUEUE, RUN};
use crate::store::StoreSignal;

pub(super) async fn listen(
    config: tokio_postgres::Config,
    instance: String,
    signals: broadcast::Sender<StoreSignal>,
) {
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let (notes, mut received) = mpsc::unbounded_channel();
                // The connection must be polled for the LISTEN to complete and for
                // notifications to arrive; it ends when the server or the network goes away.
                let pump = tokio::spawn(async move {
                    let mut messages =
                        futures::stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(Ok(message)) = messages.next().await {
                        if let AsyncMessage::Notification(n) = message
                            && notes.send(n).is_err()
                        {
                            return;
                        }
                    }
                });
                let listening = format!("LISTEN {QUEUE}; LISTEN {RUN}; LISTEN {CANCEL}");
                match client.batch_execute(&listening).await {
                    Ok(()) => {
                        let _ = signals.send(StoreSignal::Queue);
                        while let Some(note) = received.recv().await {
                            if let Some(signal) = parse(&note, &instance) {
                                // Nobody subscribed (yet) is fine.
                                let _ = signals.send(signal);
                            }
                        }
                        tracing::warn!("the postgresql LISTEN connection closed; reconnecting");
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot LISTEN; reconnecting"),
                }
                pump.abort();
            }
            Err(e) => tracing::warn!(error = %e, "cannot connect the LISTEN connection"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn parse(note: &Notification, instance: &str) -> Option<StoreSignal> {
    let payload = note.payload();
    match note.channel() {
        QUEUE => Some(StoreSignal::Queue),
        RUN => {
            let (id, from) = payload.split_once(' ')?;
            // This daemon already told its own live views.
            (from != instance).then_some(StoreSignal::Run(id.parse().ok()?))
        }
        CANCEL => {
            let (id, reason) = payload.split_once(' ')?;
            Some(StoreSignal::Cancel {
                run: id.parse().ok()?,
                reason: reason.to_owned(),
            })
        }
        _ => None,
    }
}
