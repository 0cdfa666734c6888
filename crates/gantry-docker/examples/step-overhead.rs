//! Runs JOBS jobs of STEPS trivial steps each through `DockerExecutor`, sequentially, and prints
//! the wall time in milliseconds (used by `benches/step-overhead.sh`).
//!
//! usage: step-overhead [IMAGE] [JOBS] [STEPS]

use std::time::Instant;

use gantry_docker::DockerExecutor;
use gantry_runner::executor::{ExecRequest, Executor, ExitStatus, JobSpec, Platform};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let image = args
        .first()
        .cloned()
        .unwrap_or_else(|| "gantry/busybox:latest".into());
    let jobs: usize = args.get(1).map_or(Ok(2), |s| s.parse())?;
    let steps: usize = args.get(2).map_or(Ok(20), |s| s.parse())?;
    let executor = DockerExecutor::connect().await?;
    let start = Instant::now();
    for job in 0..jobs {
        run_job(&executor, &image, job, steps).await?;
    }
    println!("{}", start.elapsed().as_millis());
    Ok(())
}

async fn run_job(
    executor: &DockerExecutor,
    image: &str,
    job: usize,
    steps: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let spec = JobSpec {
        run_id: format!("bench-{}", std::process::id()),
        job_key: format!("job{job}"),
        platform: Platform::Image(image.to_string()),
        container: None,
        services: Default::default(),
        workspace_source: None,
        repository: "gantry/bench".into(),
        docker_socket: false,
        keep: false,
    };
    let t0 = Instant::now();
    let env = executor.start_job(spec).await?;
    let t1 = Instant::now();
    for step in 0..steps {
        // What the runner does per step: write the script, run it, read a file-command file.
        let script = format!("{}/step{step}.sh", env.paths().temp);
        env.write_file(&script, format!("echo step {step}\n").as_bytes())
            .await?;
        let (tx, mut rx) = mpsc::channel(16);
        let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let request = ExecRequest {
            argv: vec!["sh".into(), "-e".into(), script],
            env: Default::default(),
            workdir: env.paths().workspace.clone(),
            cancel: CancellationToken::new(),
        };
        let status = env.exec(request, tx).await?;
        drain.await?;
        if status != ExitStatus::Code(0) {
            return Err(format!("step {step} failed: {status:?}").into());
        }
        env.read_file(&format!("{}/env-{step}", env.paths().temp))
            .await?;
    }
    let t2 = Instant::now();
    env.cleanup().await?;
    // The breakdown goes to stderr so stdout stays one number for the benchmark script.
    eprintln!(
        "job{job}: start {} ms, {steps} steps {} ms, cleanup {} ms",
        (t1 - t0).as_millis(),
        (t2 - t1).as_millis(),
        t2.elapsed().as_millis()
    );
    Ok(())
}
