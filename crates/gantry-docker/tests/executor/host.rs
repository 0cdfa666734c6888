//! Host-only behaviour: the job directory layout.

use gantry_runner::executor::ExitStatus;

use crate::common::{Harness, sh};

#[tokio::test]
async fn job_directories_exist_and_are_removed() {
    let h = Harness::host();
    let env = h.start().await;
    let p = env.paths().clone();
    assert!(
        p.workspace.ends_with("/work/hello/hello"),
        "{}",
        p.workspace
    );
    for dir in [&p.workspace, &p.temp, &p.tool_cache, &p.home] {
        assert!(std::path::Path::new(dir).is_dir(), "{dir}");
    }
    let (status, _) = sh(&*env, "touch \"$PWD/made-by-step\"").await;
    assert_eq!(status, ExitStatus::Code(0));
    env.cleanup().await.unwrap();
    h.assert_clean().await;
}

#[tokio::test]
async fn step_containers_are_refused_clearly() {
    let h = Harness::host();
    let env = h.start().await;
    let request = gantry_runner::executor::ContainerStepRequest {
        image: "gantry/busybox:latest".into(),
        entrypoint: None,
        args: Vec::new(),
        env: Default::default(),
        cancel: Default::default(),
    };
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    let err = env.run_container(request, tx).await.err().unwrap();
    assert!(
        matches!(err, gantry_runner::executor::ExecutorError::Unsupported(_)),
        "{err}"
    );
    assert!(env.build_image("/x", "Dockerfile").await.is_err());
    assert_eq!(env.containers(), Default::default());
    env.cleanup().await.unwrap();
    h.assert_clean().await;
}
