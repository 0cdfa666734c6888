//! Prometheus text exposition, written by hand.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::store::Counts;

/// In-memory counters (reset on restart, as Prometheus counters may be).
#[derive(Debug, Default)]
pub struct Metrics {
    /// Webhook responses by HTTP status.
    webhooks: Mutex<BTreeMap<u16, u64>>,
    /// Where a webhook's time goes, stage by stage (see [`Stage`]).
    stages: [StageTimer; Stage::ALL.len()],
    /// Deliveries written by the group committer, and the transactions (fsyncs) they took.
    batched_deliveries: AtomicU64,
    batches: AtomicU64,
}

/// The stages of accepting a webhook, timed so a benchmark can say where latency goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Waiting for the per-daemon fetch lock.
    FetchLockWait,
    /// `git fetch` into the mirror (only when no fetch since the delivery arrived).
    Fetch,
    /// Reading the workflows at the event's commit and planning them (no lock held).
    Plan,
    /// From handing the delivery to the group committer until its batch starts.
    CommitQueue,
    /// The batch's transaction, fsync included.
    Commit,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::FetchLockWait,
        Stage::Fetch,
        Stage::Plan,
        Stage::CommitQueue,
        Stage::Commit,
    ];

    fn name(self) -> &'static str {
        match self {
            Stage::FetchLockWait => "fetch_lock_wait",
            Stage::Fetch => "fetch",
            Stage::Plan => "plan",
            Stage::CommitQueue => "commit_queue",
            Stage::Commit => "commit",
        }
    }
}

/// A count and a total, lock-free: stages are timed on hot paths.
#[derive(Debug, Default)]
struct StageTimer {
    count: AtomicU64,
    micros: AtomicU64,
}

impl Metrics {
    pub fn webhook_answered(&self, status: u16) {
        if let Ok(mut map) = self.webhooks.lock() {
            *map.entry(status).or_default() += 1;
        }
    }

    /// Adds one observation of `stage`.
    pub fn observe(&self, stage: Stage, took: Duration) {
        let timer = &self.stages[stage as usize];
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        timer.count.fetch_add(1, Ordering::Relaxed);
        timer.micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Counts one group commit of `deliveries` deliveries.
    pub fn batch_committed(&self, deliveries: usize) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        let n = u64::try_from(deliveries).unwrap_or(u64::MAX);
        self.batched_deliveries.fetch_add(n, Ordering::Relaxed);
    }

    fn webhooks(&self) -> BTreeMap<u16, u64> {
        self.webhooks.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

/// Label values are escaped as the text format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Renders every metric.
pub fn render(metrics: &Metrics, counts: &Counts, running: usize, capacity: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP gantry_webhooks_total Webhook deliveries answered, by HTTP status."
    );
    let _ = writeln!(out, "# TYPE gantry_webhooks_total counter");
    for (status, n) in metrics.webhooks() {
        let _ = writeln!(out, "gantry_webhooks_total{{status=\"{status}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP gantry_deliveries Recorded deliveries, by outcome."
    );
    let _ = writeln!(out, "# TYPE gantry_deliveries gauge");
    for (status, n) in &counts.deliveries {
        let _ = writeln!(out, "gantry_deliveries{{status=\"{}\"}} {n}", label(status));
    }
    let _ = writeln!(
        out,
        "# HELP gantry_runs Stored runs, by status and conclusion."
    );
    let _ = writeln!(out, "# TYPE gantry_runs gauge");
    for (status, conclusion, n) in &counts.runs {
        let _ = writeln!(
            out,
            "gantry_runs{{status=\"{}\",conclusion=\"{}\"}} {n}",
            label(status),
            label(conclusion)
        );
    }
    let _ = writeln!(out, "# HELP gantry_runs_running Runs executing now.");
    let _ = writeln!(out, "# TYPE gantry_runs_running gauge");
    let _ = writeln!(out, "gantry_runs_running {running}");
    let _ = writeln!(out, "# HELP gantry_capacity Runs that may execute at once.");
    let _ = writeln!(out, "# TYPE gantry_capacity gauge");
    let _ = writeln!(out, "gantry_capacity {capacity}");
    render_stages(metrics, &mut out);
    out
}

fn render_stages(metrics: &Metrics, out: &mut String) {
    let name = "gantry_webhook_stage_seconds";
    let _ = writeln!(out, "# HELP {name} Time webhooks spent in each stage.");
    let _ = writeln!(out, "# TYPE {name} summary");
    for stage in Stage::ALL {
        let timer = &metrics.stages[stage as usize];
        let micros = timer.micros.load(Ordering::Relaxed);
        let count = timer.count.load(Ordering::Relaxed);
        let stage = stage.name();
        let seconds = micros as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{{stage=\"{stage}\"}} {seconds}");
        let _ = writeln!(out, "{name}_count{{stage=\"{stage}\"}} {count}");
    }
    let _ = writeln!(
        out,
        "# HELP gantry_commit_batches_total Group commits (one fsync each)."
    );
    let _ = writeln!(out, "# TYPE gantry_commit_batches_total counter");
    let batches = metrics.batches.load(Ordering::Relaxed);
    let _ = writeln!(out, "gantry_commit_batches_total {batches}");
    let _ = writeln!(
        out,
        "# HELP gantry_commit_batched_deliveries_total Deliveries they wrote."
    );
    let _ = writeln!(out, "# TYPE gantry_commit_batched_deliveries_total counter");
    let delivered = metrics.batched_deliveries.load(Ordering::Relaxed);
    let _ = writeln!(out, "gantry_commit_batched_deliveries_total {delivered}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_text_format() {
        let metrics = Metrics::default();
        metrics.webhook_answered(202);
        metrics.webhook_answered(202);
        let counts = Counts {
            runs: vec![("completed".into(), "success".into(), 3)],
            deliveries: vec![("ping".into(), 1)],
        };
        metrics.observe(Stage::Plan, Duration::from_millis(3));
        metrics.batch_committed(4);
        let text = render(&metrics, &counts, 1, 2);
        assert!(text.contains("gantry_webhook_stage_seconds_sum{stage=\"plan\"} 0.003\n"));
        assert!(text.contains("gantry_webhook_stage_seconds_count{stage=\"plan\"} 1\n"));
        assert!(text.contains("gantry_commit_batched_deliveries_total 4\n"));
        assert!(
            text.contains("gantry_webhooks_total{status=\"202\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("gantry_runs{status=\"completed\",conclusion=\"success\"} 3\n"));
        assert!(text.contains("gantry_deliveries{status=\"ping\"} 1\n"));
        assert!(
            text.contains("gantry_runs_running 1\ngantry_capacity 2")
                || text.contains("gantry_capacity 2\n")
        );
    }
}
