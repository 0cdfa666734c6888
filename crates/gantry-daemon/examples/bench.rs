//! A bounded webhook load generator for `scripts/bench-daemon.sh`.
//!
//! `bench load <url[,url...]> <secret> <payload.json> <seconds> <connections> <acked-file>`
//! sends signed `release` deliveries with unique ids for `seconds`, appends every acknowledged
//! id to `acked-file` (only after the 2xx arrived), and prints deliveries/s and latency
//! percentiles. Several URLs (daemons sharing one database) are spread over the connections
//! like a load balancer would, and a connection whose daemon fails moves to the next one.
//!
//! `bench verify <gantry.db | postgres://...> <acked-file>` checks that every acknowledged
//! delivery has exactly one run (the release workflow in the bench repository has one
//! workflow file).

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gantry_daemon::signature::sign;

#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error(
        "usage: bench load <url> <secret> <payload> <seconds> <connections> <acked-file> | bench verify <db> <acked-file>"
    )]
    Usage,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Db(#[from] rusqlite::Error),
    #[error("{0}")]
    Postgres(#[from] tokio_postgres::Error),
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("load") if args.len() == 7 => load(&args[1..]),
        Some("verify") if args.len() == 3 => verify(&args[1], &args[2]),
        _ => Err(BenchError::Usage),
    };
    match result {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

struct Load {
    urls: Vec<String>,
    secret: String,
    payload: Vec<u8>,
    deadline: Instant,
    next: AtomicU64,
    prefix: String,
}

fn load(args: &[String]) -> Result<bool, BenchError> {
    let seconds: u64 = args[3].parse().map_err(|_| BenchError::Usage)?;
    let connections: usize = args[4].parse().map_err(|_| BenchError::Usage)?;
    let load = Arc::new(Load {
        urls: args[0]
            .split(',')
            .map(|u| format!("{}/webhook", u.trim_end_matches('/')))
            .collect(),
        secret: args[1].clone(),
        payload: std::fs::read(&args[2])?,
        deadline: Instant::now() + Duration::from_secs(seconds),
        next: AtomicU64::new(0),
        prefix: format!("bench-{}-{}", std::process::id(), now_nanos()),
    });
    let acked = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&args[5])?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let started = Instant::now();
    let results = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(std::io::Error::other)?;
        let tasks: Vec<_> = (0..connections)
            .map(|i| tokio::spawn(worker(load.clone(), client.clone(), i)))
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            all.push(task.await.map_err(std::io::Error::other)?);
        }
        Ok::<_, std::io::Error>(all)
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    report(results, elapsed, acked)
}

/// What one connection saw: acknowledged ids with their latency, and failures.
#[derive(Default)]
struct Seen {
    acked: Vec<(String, Duration)>,
    failed: u64,
}

async fn worker(load: Arc<Load>, client: reqwest::Client, mut target: usize) -> Seen {
    let mut seen = Seen::default();
    while Instant::now() < load.deadline {
        let n = load.next.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}-{n}", load.prefix);
        let signature = sign(load.secret.as_bytes(), &load.payload);
        let sent = Instant::now();
        let response = client
            .post(&load.urls[target % load.urls.len()])
            .header("X-GitHub-Event", "release")
            .header("X-GitHub-Delivery", &id)
            .header("X-Hub-Signature-256", signature)
            .header("Content-Type", "application/json")
            .body(load.payload.clone())
            .send()
            .await;
        match response {
            Ok(r) if r.status().is_success() => seen.acked.push((id, sent.elapsed())),
            // A killed daemon refuses connections: back off a little instead of spinning,
            // and try the next daemon, as a load balancer's health check would.
            _ => {
                seen.failed += 1;
                target += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    seen
}

fn report(results: Vec<Seen>, elapsed: f64, mut acked: std::fs::File) -> Result<bool, BenchError> {
    let mut latencies = Vec::new();
    let mut failed = 0;
    let mut ids = String::new();
    for seen in results {
        failed += seen.failed;
        for (id, latency) in seen.acked {
            ids.push_str(&id);
            ids.push('\n');
            latencies.push(latency);
        }
    }
    acked.write_all(ids.as_bytes())?;
    acked.sync_all()?;
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "acked={} failed={} seconds={elapsed:.1} rate={:.0}/s p50={:.1}ms p99={:.1}ms max={:.1}ms",
        latencies.len(),
        failed,
        latencies.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    );
    Ok(true)
}

/// One pass over the runs: `delivery_id` has no index, and a lookup per acknowledged
/// delivery scanned the table each time (quadratic, minutes at 40,000 deliveries).
const PER_DELIVERY: &str =
    "SELECT delivery_id, COUNT(*) FROM runs WHERE delivery_id IS NOT NULL GROUP BY delivery_id";

/// Runs per delivery id, and all runs, from the SQLite file or the PostgreSQL database.
fn runs_per_delivery(db: &str) -> Result<(HashMap<String, i64>, i64), BenchError> {
    if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        return runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(db, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            let mut runs_of = HashMap::new();
            for row in client.query(PER_DELIVERY, &[]).await? {
                runs_of.insert(row.try_get(0)?, row.try_get(1)?);
            }
            let total = client.query_one("SELECT COUNT(*) FROM runs", &[]).await?;
            Ok((runs_of, total.try_get(0)?))
        });
    }
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut runs_of: HashMap<String, i64> = HashMap::new();
    let mut per_delivery = conn.prepare(PER_DELIVERY)?;
    let rows = per_delivery.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (id, n) = row?;
        runs_of.insert(id, n);
    }
    let total: i64 = conn.query_row("SELECT COUNT(*) FROM runs", [], |r| r.get(0))?;
    Ok((runs_of, total))
}

fn verify(db: &str, acked: &str) -> Result<bool, BenchError> {
    let text = std::fs::read_to_string(acked)?;
    let (runs_of, total) = runs_per_delivery(db)?;
    let (mut ok, mut missing, mut doubled) = (0u64, Vec::new(), Vec::new());
    for id in text.lines().filter(|l| !l.is_empty()) {
        match runs_of.get(id).copied().unwrap_or(0) {
            1 => ok += 1,
            0 => missing.push(id.to_owned()),
            _ => doubled.push(id.to_owned()),
        }
    }
    println!(
        "verified={ok} missing={} duplicated={} runs_in_db={total}",
        missing.len(),
        doubled.len()
    );
    for id in missing.iter().chain(&doubled).take(10) {
        println!("  bad: {id}");
    }
    Ok(missing.is_empty() && doubled.is_empty())
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
