//! Times `uses: docker://IMAGE`-style step containers: starts one job, runs N step containers
//! (`echo`) through `run_container`, prints the mean milliseconds per step container and the
//! cost of one agent step for comparison.
//!
//! usage: step-container [IMAGE] [N]

use std::time::Instant;

use gantry_docker::DockerExecutor;
use gantry_runner::executor::{
    ContainerStepRequest, ExecRequest, Executor, ExitStatus, JobSpec, Platform,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let image = args.first().map_or("gantry/busybox:latest", String::as_str);
    let n: u32 = args.get(1).map_or(Ok(10), |s| s.parse())?;
    let executor = DockerExecutor::connect().await?;
    let spec = JobSpec {
        run_id: format!("bench-step-container-{}", std::process::id()),
        job_key: "steps".into(),
        platform: Platform::Image(image.into()),
        container: None,
        services: Default::default(),
        workspace_source: None,
        repository: "gantry/bench".into(),
        docker_socket: false,
        keep: false,
    };
    let env = executor.start_job(spec).await?;
    let start = Instant::now();
    for _ in 0..n {
        let (tx, mut rx) = mpsc::channel(16);
        let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let request = ContainerStepRequest {
            image: image.into(),
            entrypoint: Some("echo".into()),
            args: vec!["hi".into()],
            env: Default::default(),
            cancel: CancellationToken::new(),
        };
        let status = env.run_container(request, tx).await?;
        drain.await?;
        assert_eq!(status, ExitStatus::Code(0));
    }
    println!(
        "step container: {} ms each",
        start.elapsed().as_millis() / u128::from(n)
    );
    let start = Instant::now();
    for _ in 0..n {
        let (tx, mut rx) = mpsc::channel(16);
        let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let request = ExecRequest {
            argv: vec!["echo".into(), "hi".into()],
            env: Default::default(),
            workdir: "/".into(),
            cancel: CancellationToken::new(),
        };
        env.exec(request, tx).await?;
        drain.await?;
    }
    println!(
        "agent step: {} ms each",
        start.elapsed().as_millis() / u128::from(n)
    );
    env.cleanup().await?;
    Ok(())
}
