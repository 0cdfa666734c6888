//! Prometheus text exposition, written by hand.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use crate::store::Counts;

/// In-memory counters (reset on restart, as Prometheus counters may be).
#[derive(Debug, Default)]
pub struct Metrics {
    /// Webhook responses by HTTP status.
    webhooks: Mutex<BTreeMap<u16, u64>>,
}

impl Metrics {
    pub fn webhook_answered(&self, status: u16) {
        if let Ok(mut map) = self.webhooks.lock() {
            *map.entry(status).or_default() += 1;
        }
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
    out
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
        let text = render(&metrics, &counts, 1, 2);
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
