//! Behaviour every executor must have, run against both the Docker and the host executor.

use std::time::Duration;

use gantry_runner::executor::ExitStatus;

use crate::common::{Harness, request, run_request, sh, workspace_fixture};

/// Generates one `#[tokio::test]` per executor kind for each behaviour function.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod on_docker {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(crate::common::Harness::docker().await).await })*
        }
        mod on_host {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(crate::common::Harness::host()).await })*
        }
    };
}

both!(
    output_and_exit_codes,
    output_split_across_chunks,
    end_marker_lookalikes_are_plain_output,
    env_and_workdir,
    file_round_trip,
    cancellation_stops_sleep,
    cancellation_kills_a_step_ignoring_term,
    cancelled_before_start,
    workspace_is_copied,
    has_program,
    failed_job_leaves_nothing,
    dropped_job_leaves_nothing,
    dropped_step_does_not_leak_into_the_next,
    missing_program_is_a_failed_step,
    copy_in_keeps_modes_and_links,
    local_workspace_sees_step_files,
);

async fn output_and_exit_codes(h: Harness) {
    let env = h.start().await;
    let (status, out) = sh(&*env, "echo out; echo err >&2; printf 'no newline'; exit 3").await;
    assert_eq!(status, ExitStatus::Code(3));
    assert_eq!(out.out(), "out\nno newline");
    assert_eq!(out.err(), "err\n");
    let (status, out) = sh(&*env, "true").await;
    assert_eq!(
        (status, out.out(), out.err()),
        (ExitStatus::Code(0), String::new(), String::new())
    );
    env.cleanup().await.unwrap();
    h.assert_clean().await;
}

async fn output_split_across_chunks(h: Harness) {
    let env = h.start().await;
    // 300 kB without a newline on stdout, interleaved lines on stderr.
    let script = "i=0; while [ $i -lt 3000 ]; do printf '%0100d' $i; i=$((i+1)); done; echo; \
                  for j in 1 2 3; do echo e$j >&2; done";
    let (status, out) = sh(&*env, script).await;
    assert_eq!(status, ExitStatus::Code(0));
    assert_eq!(out.stdout.len(), 300_001);
    assert!(
        out.chunks > 2,
        "expected several chunks, got {}",
        out.chunks
    );
    let expected: String = (0..3000).map(|i| format!("{i:0100}")).collect();
    assert_eq!(out.out(), format!("{expected}\n"));
    assert_eq!(out.err(), "e1\ne2\ne3\n");
    env.cleanup().await.unwrap();
}

async fn end_marker_lookalikes_are_plain_output(h: Harness) {
    let env = h.start().await;
    let (status, out) = sh(
        &*env,
        "printf '::gantry-end-0123::0\\n'; printf '::gantry-end-' >&2; exit 4",
    )
    .await;
    assert_eq!(status, ExitStatus::Code(4));
    assert_eq!(out.out(), "::gantry-end-0123::0\n");
    assert_eq!(out.err(), "::gantry-end-");
    let (status, out) = sh(&*env, "echo next").await;
    assert_eq!(
        (status, out.out()),
        (ExitStatus::Code(0), "next\n".to_string())
    );
    env.cleanup().await.unwrap();
}

async fn env_and_workdir(h: Harness) {
    let env = h.start().await;
    let mut req = request(&*env, "echo \"$GREETING|$QUOTED|$(pwd)\"");
    req.env.insert("GREETING".into(), "hello world".into());
    req.env
        .insert("QUOTED".into(), "it's \"$HOME\"\nline2".into());
    req.workdir = env.paths().temp.clone();
    let (status, out) = run_request(&*env, req).await;
    assert_eq!(status, ExitStatus::Code(0));
    assert_eq!(
        out.out(),
        format!("hello world|it's \"$HOME\"\nline2|{}\n", env.paths().temp)
    );
    env.cleanup().await.unwrap();
}

async fn file_round_trip(h: Harness) {
    let env = h.start().await;
    let temp = env.paths().temp.clone();
    let script = format!("{temp}/scripts/step.sh");
    env.write_file(&script, b"cat \"$1\"; echo written-by-step > \"$2\"\n")
        .await
        .unwrap();
    env.write_file(&format!("{temp}/in.txt"), b"from host\n")
        .await
        .unwrap();
    let mut req = request(&*env, "");
    req.argv = vec![
        "sh".into(),
        script,
        format!("{temp}/in.txt"),
        format!("{temp}/out.txt"),
    ];
    let (status, out) = run_request(&*env, req).await;
    assert_eq!(
        (status, out.out()),
        (ExitStatus::Code(0), "from host\n".to_string())
    );
    assert_eq!(
        env.read_file(&format!("{temp}/out.txt")).await.unwrap(),
        Some(b"written-by-step\n".to_vec())
    );
    assert_eq!(
        env.read_file(&format!("{temp}/missing.txt")).await.unwrap(),
        None
    );
    // Outside the temp dir too (the Docker executor goes through the engine's archive API).
    let home_file = format!("{}/.config/x.json", env.paths().home);
    env.write_file(&home_file, b"{}").await.unwrap();
    assert_eq!(
        env.read_file(&home_file).await.unwrap(),
        Some(b"{}".to_vec())
    );
    let (_, out) = sh(&*env, &format!("cat {home_file}")).await;
    assert_eq!(out.out(), "{}");
    env.cleanup().await.unwrap();
    h.assert_clean().await;
}

async fn cancellation_stops_sleep(h: Harness) {
    let env = h.start().await;
    let req = request(&*env, "sleep 60 & sleep 60; echo not reached");
    let cancel = req.cancel.clone();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel();
    });
    // Far below the 60 s sleep and the 7.5 s kill grace: TERM reached the process group.
    let (status, out) = tokio::time::timeout(Duration::from_secs(6), run_request(&*env, req))
        .await
        .expect("cancel took too long");
    canceller.await.unwrap();
    assert_eq!(status, ExitStatus::Cancelled);
    assert_eq!(out.out(), "");
    // The environment stays usable after a cancelled step.
    let (status, out) = sh(&*env, "echo alive").await;
    assert_eq!(
        (status, out.out()),
        (ExitStatus::Code(0), "alive\n".to_string())
    );
    env.cleanup().await.unwrap();
    h.assert_clean().await;
}

async fn cancellation_kills_a_step_ignoring_term(h: Harness) {
    let env = h.start().await;
    let req = request(&*env, "trap '' TERM; echo ready; sleep 60 & wait; sleep 60");
    let cancel = req.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel();
    });
    // TERM is ignored, so this takes the grace period, then KILL ends the whole group.
    let (status, out) = tokio::time::timeout(Duration::from_secs(30), run_request(&*env, req))
        .await
        .expect("KILL did not stop the step");
    assert_eq!(
        (status, out.out()),
        (ExitStatus::Cancelled, "ready\n".to_string())
    );
    let (status, _) = sh(&*env, "true").await;
    assert_eq!(status, ExitStatus::Code(0));
    env.cleanup().await.unwrap();
    h.assert_clean().await;
}

async fn cancelled_before_start(h: Harness) {
    let env = h.start().await;
    let req = request(&*env, "echo should not run");
    req.cancel.cancel();
    let (status, out) = run_request(&*env, req).await;
    assert_eq!((status, out.out()), (ExitStatus::Cancelled, String::new()));
    env.cleanup().await.unwrap();
}

async fn workspace_is_copied(h: Harness) {
    let src = workspace_fixture();
    let mut spec = h.spec();
    spec.workspace_source = Some(src.path().to_path_buf());
    let env = h.executor.start_job(spec).await.unwrap();
    assert!(
        env.paths().workspace.ends_with("/hello/hello"),
        "{}",
        env.paths().workspace
    );
    let (status, out) = sh(
        &*env,
        "cat a.txt sub/b.txt link; readlink link; echo changed > a.txt",
    )
    .await;
    assert_eq!(
        (status, out.out()),
        (
            ExitStatus::Code(0),
            "alpha\nbeta\nalpha\na.txt\n".to_string()
        )
    );
    assert_eq!(
        std::fs::read_to_string(src.path().join("a.txt")).unwrap(),
        "alpha\n",
        "the user's checkout changed"
    );
    env.cleanup().await.unwrap();
    h.assert_clean().await;
}

async fn has_program(h: Harness) {
    let env = h.start().await;
    assert!(env.has_program("sh").await.unwrap());
    assert!(!env.has_program("gantry-no-such-program").await.unwrap());
    env.cleanup().await.unwrap();
}

async fn failed_job_leaves_nothing(h: Harness) {
    let env = h.start().await;
    let (status, _) = sh(&*env, "exit 1").await;
    assert_eq!(status, ExitStatus::Code(1));
    assert!(
        !h.leftovers().await.is_empty(),
        "the job should exist before cleanup"
    );
    env.cleanup().await.unwrap();
    h.assert_clean().await;
}

async fn dropped_job_leaves_nothing(h: Harness) {
    let job = async {
        let env = h.start().await;
        sh(&*env, "sleep 60").await
    };
    // The job future is dropped mid-step, as on Ctrl-C.
    assert!(
        tokio::time::timeout(Duration::from_secs(2), job)
            .await
            .is_err()
    );
    h.assert_clean_eventually().await;
}

async fn dropped_step_does_not_leak_into_the_next(h: Harness) {
    let env = h.start().await;
    let step = sh(&*env, "echo before; sleep 60; echo late");
    assert!(
        tokio::time::timeout(Duration::from_secs(1), step)
            .await
            .is_err()
    );
    let (status, out) = sh(&*env, "echo after").await;
    assert_eq!(
        (status, out.out(), out.err()),
        (ExitStatus::Code(0), "after\n".to_string(), String::new())
    );
    env.cleanup().await.unwrap();
    h.assert_clean().await;
}

async fn missing_program_is_a_failed_step(h: Harness) {
    let env = h.start().await;
    let mut req = request(&*env, "");
    req.argv = vec!["gantry-no-such-program".into()];
    let (status, _) = run_request(&*env, req).await;
    assert_eq!(status, ExitStatus::Code(127));
    env.cleanup().await.unwrap();
}

async fn copy_in_keeps_modes_and_links(h: Harness) {
    use std::os::unix::fs::PermissionsExt;
    let src = workspace_fixture();
    let tool = src.path().join("sub/tool.sh");
    std::fs::write(&tool, "#!/bin/sh\necho tool-ran\n").unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let env = h.start().await;
    let dest = format!("{}/repo", env.paths().workspace);
    env.copy_in(src.path(), &dest).await.unwrap();
    // A second copy over the first replaces files (checkout into an existing directory).
    env.copy_in(src.path(), &dest).await.unwrap();
    let (status, out) = sh(
        &*env,
        "cd repo && cat a.txt sub/b.txt && readlink link && ./sub/tool.sh && echo new > a.txt",
    )
    .await;
    assert_eq!(
        (status, out.out()),
        (
            ExitStatus::Code(0),
            "alpha\nbeta\na.txt\ntool-ran\n".to_string()
        ),
        "{}",
        out.err()
    );
    env.cleanup().await.unwrap();
    h.assert_clean().await;
}

async fn local_workspace_sees_step_files(h: Harness) {
    let env = h.start().await;
    let (status, _) = sh(&*env, "mkdir -p made && echo hi > made/by-step.txt").await;
    assert_eq!(status, ExitStatus::Code(0));
    let local = env.local_workspace().expect("a workspace on this machine");
    assert_eq!(
        std::fs::read_to_string(local.join("made/by-step.txt")).unwrap(),
        "hi\n"
    );
    env.cleanup().await.unwrap();
    h.assert_clean().await;
}
