//! The routing executor sends host jobs to the host and container jobs to Docker.

use gantry_docker::{DockerExecutor, HostExecutor, RoutingExecutor};
use gantry_runner::executor::{ContainerSpec, Executor, ExecutorError, ExitStatus, Platform};

use crate::common::{BUSYBOX, Harness, docker, sh};
use crate::docker::{httpd_image, web_service};

#[tokio::test]
async fn jobs_go_where_their_platform_says() {
    let h = Harness::docker().await;
    let base = tempfile::tempdir().unwrap();
    let router = RoutingExecutor::new(
        Some(DockerExecutor::with_client(docker().await)),
        HostExecutor::new(base.path()),
    );

    let mut spec = h.spec();
    spec.platform = Platform::Host;
    let env = router.start_job(spec.clone()).await.unwrap();
    assert!(
        env.paths()
            .workspace
            .starts_with(&*base.path().to_string_lossy()),
        "{}",
        env.paths().workspace
    );
    env.cleanup().await.unwrap();

    spec.container = Some(ContainerSpec {
        image: BUSYBOX.into(),
        ..Default::default()
    });
    let env = router.start_job(spec).await.unwrap();
    assert_eq!(env.paths().workspace, "/__w/hello/hello");
    let (status, _) = sh(&*env, "test -d /__w/_temp").await;
    assert_eq!(status, ExitStatus::Code(0));
    env.cleanup().await.unwrap();
    h.assert_clean().await;
}

#[tokio::test]
async fn container_jobs_without_an_engine_fail_clearly() {
    let h = Harness::host();
    let base = tempfile::tempdir().unwrap();
    let router = RoutingExecutor::new(None, HostExecutor::new(base.path()));
    let mut spec = h.spec();
    spec.platform = Platform::Image(BUSYBOX.into());
    let err = router.start_job(spec.clone()).await.err().unwrap();
    assert!(
        matches!(err, ExecutorError::EngineUnavailable(_)),
        "{err:?}"
    );

    spec.platform = Platform::Host;
    spec.container = Some(ContainerSpec {
        image: BUSYBOX.into(),
        ..Default::default()
    });
    let host = HostExecutor::new(base.path());
    let err = host.start_job(spec).await.err().unwrap();
    assert!(
        err.to_string().contains("host executor cannot run"),
        "{err}"
    );
}

/// A host job's services run as containers published on 127.0.0.1: the steps (processes on
/// this machine) reach them at `localhost:<port>`, and cleanup removes them.
#[tokio::test]
async fn host_job_services_are_on_localhost() {
    httpd_image().await;
    let h = Harness::docker().await;
    let base = tempfile::tempdir().unwrap();
    let router = RoutingExecutor::new(
        Some(DockerExecutor::with_client(docker().await)),
        HostExecutor::new(base.path()),
    );
    let mut spec = h.spec();
    spec.platform = Platform::Host;
    spec.services.insert("web".into(), web_service());
    let env = router.start_job(spec).await.unwrap();
    assert!(env.local_workspace().unwrap().starts_with(base.path()));
    let port = env.containers().services["web"].ports["8080"].clone();
    let (status, out) = sh(&*env, &format!("curl -fsS http://localhost:{port}/")).await;
    assert_eq!(
        (status, out.out()),
        (ExitStatus::Code(0), "hello-from-web\n".to_string()),
        "{}",
        out.err()
    );
    env.cleanup().await.unwrap();
    h.assert_clean().await;
    assert_eq!(std::fs::read_dir(base.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn host_job_services_without_an_engine_say_so() {
    let h = Harness::host();
    let base = tempfile::tempdir().unwrap();
    let router = RoutingExecutor::new(None, HostExecutor::new(base.path()));
    let mut spec = h.spec();
    spec.services.insert("web".into(), web_service());
    let err = router.start_job(spec).await.err().unwrap();
    assert!(
        matches!(&err, ExecutorError::EngineUnavailable(m) if m.contains("services run as containers")),
        "{err:?}"
    );
}
