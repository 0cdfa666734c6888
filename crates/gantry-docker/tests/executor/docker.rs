//! Docker-only behaviour: `container:` options, services, images, sockets.

use gantry_runner::executor::{
    ContainerSpec, ContainerStepRequest, ExecutorError, ExitStatus, Platform, Stream,
};
use indexmap::IndexMap;
use tokio_util::sync::CancellationToken;

use crate::common::{BUSYBOX, Harness, docker, sh};

pub(crate) const HTTPD: &str = "gantry-test/httpd:latest";

/// A service image that serves one page: built (offline) from the busybox image when missing.
pub(crate) async fn httpd_image() {
    let d = docker().await;
    if d.inspect_image(HTTPD).await.is_ok() {
        return;
    }
    let dockerfile = format!(
        "FROM {BUSYBOX}\nCMD [\"sh\", \"-c\", \"echo hello-from-$SERVICE_NAME > /var/www/index.html && exec httpd -f -p 8080 -h /var/www\"]\n"
    );
    let mut child = std::process::Command::new("docker")
        .args(["build", "-q", "-t", HTTPD, "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dockerfile.as_bytes())
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "docker build of {HTTPD} failed"
    );
}

fn container(options: &str) -> ContainerSpec {
    ContainerSpec {
        image: BUSYBOX.into(),
        env: IndexMap::from([("FROM_SPEC".to_string(), "spec value".to_string())]),
        options: Some(options.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn container_options_are_applied() {
    let h = Harness::docker().await;
    let mut spec = h.spec();
    spec.container = Some(container(
        "--network bridge --hostname gantry-box -e OPT=1 --env 'SPACED=a b' --cpus 1 --memory 64m --cap-add NET_ADMIN --user 0:0",
    ));
    let env = h.executor.start_job(spec).await.unwrap();
    let (status, out) = sh(&*env, "echo \"$(hostname)|$OPT|$SPACED|$FROM_SPEC|$(id -u)\"; cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max").await;
    assert_eq!(status, ExitStatus::Code(0));
    assert_eq!(
        out.out(),
        format!("gantry-box|1|a b|spec value|0\n{}\n", 64 << 20)
    );
    env.cleanup().await.unwrap();
    h.assert_clean().await;
}

#[tokio::test]
async fn hostname_alone_leaves_the_host_network() {
    let h = Harness::docker().await;
    let mut spec = h.spec();
    spec.container = Some(container("--hostname solo"));
    let env = h.executor.start_job(spec).await.unwrap();
    let (status, out) = sh(&*env, "hostname").await;
    assert_eq!(
        (status, out.out()),
        (ExitStatus::Code(0), "solo\n".to_string())
    );
    env.cleanup().await.unwrap();
    h.assert_clean().await;
}

#[tokio::test]
async fn unsupported_options_are_all_reported() {
    let h = Harness::docker().await;
    let mut spec = h.spec();
    spec.container = Some(container("--cpus 1 --gpus all --pid=host"));
    let err = h.executor.start_job(spec).await.err().unwrap();
    assert!(
        matches!(&err, ExecutorError::UnsupportedOption(_)),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "unsupported container option `--gpus`, `--pid`"
    );
    h.assert_clean().await;
}

pub(crate) fn web_service() -> ContainerSpec {
    ContainerSpec {
        image: HTTPD.into(),
        env: IndexMap::from([("SERVICE_NAME".to_string(), "web".to_string())]),
        ports: vec!["8080".into()],
        options: Some("--health-cmd 'wget -q -O /dev/null http://127.0.0.1:8080/' --health-interval 200ms --health-retries 20".into()),
        ..Default::default()
    }
}

/// A one-shot HTTP server on this machine's loopback, standing in for gantry's registry and
/// runner services: answers every connection with `body`.
pub(crate) fn loopback_server(body: &'static str) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            let _ = write!(
                conn,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[tokio::test]
async fn container_job_reaches_a_service_by_alias() {
    httpd_image().await;
    let h = Harness::docker().await;
    let mut spec = h.spec();
    spec.container = Some(container(""));
    spec.services.insert("web".into(), web_service());
    let env = h.executor.start_job(spec).await.unwrap();
    let (status, out) = sh(&*env, "wget -q -O - http://web:8080/").await;
    assert_eq!(
        (status, out.out()),
        (ExitStatus::Code(0), "hello-from-web\n".to_string()),
        "{}",
        out.err()
    );
    // `job.services.web`: its container, network and the host port 8080 is published on.
    let info = env.containers();
    let web = &info.services["web"];
    let job = info.container.as_ref().unwrap();
    assert!(!web.id.is_empty() && !job.id.is_empty());
    assert_eq!(web.network, job.network);
    assert!(web.network.starts_with("gantry-"), "{}", web.network);
    let port: u16 = web.ports["8080"].parse().unwrap();
    assert!(port > 0);
    env.cleanup().await.unwrap();
    h.assert_clean().await;
}

/// GitHub's pattern for a job without `container:`: the service at `localhost:<published
/// port>`; its id resolves too, and this machine's loopback (gantry's registry) stays reachable.
#[tokio::test]
async fn runner_job_reaches_services_on_localhost() {
    httpd_image().await;
    let registry = loopback_server("registry-ok");
    let h = Harness::docker().await;
    let mut spec = h.spec();
    spec.services.insert("web".into(), web_service());
    let mut fixed = web_service();
    fixed.env.insert("SERVICE_NAME".into(), "fixed".into());
    fixed.ports = vec!["0:8080".into()];
    spec.services.insert("fixed".into(), fixed);
    let env = h.executor.start_job(spec).await.unwrap();
    let info = env.containers();
    let port = &info.services["web"].ports["8080"];
    let script = format!(
        "wget -q -O - http://localhost:{port}/ && wget -q -O - http://web:8080/ && wget -q -O - http://fixed:8080/ && wget -q -O - http://127.0.0.1:{registry}/"
    );
    let (status, out) = sh(&*env, &script).await;
    assert_eq!(
        (status, out.out()),
        (
            ExitStatus::Code(0),
            "hello-from-web\nhello-from-web\nhello-from-fixed\nregistry-ok".to_string()
        ),
        "{}",
        out.err()
    );
    // Published on this machine's loopback only.
    let inspected = docker()
        .await
        .inspect_container(&info.services["web"].id, None)
        .await
        .unwrap();
    let bindings = inspected.host_config.unwrap().port_bindings.unwrap();
    let binding = &bindings["8080/tcp"].as_ref().unwrap()[0];
    assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
    let job = info.container.as_ref().unwrap();
    assert_eq!(job.network, info.services["web"].network);
    env.cleanup().await.unwrap();
    h.assert_clean().await;
}

#[tokio::test]
async fn missing_images_name_the_fix() {
    let h = Harness::docker().await;
    let mut spec = h.spec();
    spec.platform = Platform::Image("gantry-test/no-such-image:1".into());
    let err = h.executor.start_job(spec.clone()).await.err().unwrap();
    let ExecutorError::MissingImage { image, hint } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(image, "gantry-test/no-such-image:1");
    assert!(
        hint.contains("docker load") && hint.contains("docker build"),
        "{hint}"
    );

    spec.platform = Platform::Image("gantry/no-such-image:1".into());
    let err = h.executor.start_job(spec.clone()).await.err().unwrap();
    assert!(err.to_string().contains("scripts/build-images.sh"), "{err}");

    spec.platform = Platform::Image(BUSYBOX.into());
    spec.services.insert(
        "db".into(),
        ContainerSpec {
            image: "gantry-test/no-such-db:1".into(),
            ..Default::default()
        },
    );
    let err = h.executor.start_job(spec).await.err().unwrap();
    assert!(matches!(err, ExecutorError::MissingImage { .. }), "{err:?}");
    h.assert_clean().await;
}

#[tokio::test]
async fn job_paths_follow_github_layout() {
    let h = Harness::docker().await;
    let env = h.start().await;
    let p = env.paths();
    assert_eq!(
        (
            p.workspace.as_str(),
            p.temp.as_str(),
            p.tool_cache.as_str(),
            p.home.as_str()
        ),
        ("/__w/hello/hello", "/__w/_temp", "/__t", "/github/home")
    );
    let (status, _) = sh(&*env, "test -d /__w/hello/hello && test -d /__w/_temp && test -d /__t && test -d /github/home && test ! -e /var/run/docker.sock").await;
    assert_eq!(status, ExitStatus::Code(0));
    env.cleanup().await.unwrap();
}

#[tokio::test]
async fn named_volumes_are_created_and_removed() {
    let h = Harness::docker().await;
    let mut spec = h.spec();
    let volume = format!("gantry-test-{}", h.run_id);
    let mut c = container("");
    c.volumes = vec![format!("{volume}:/data"), "/cache".into()];
    spec.container = Some(c);
    let env = h.executor.start_job(spec).await.unwrap();
    let (status, _) = sh(&*env, "echo x > /data/f && echo y > /cache/f").await;
    assert_eq!(status, ExitStatus::Code(0));
    assert!(!h.leftovers().await.is_empty());
    env.cleanup().await.unwrap();
    h.assert_clean().await;
    assert!(
        docker().await.inspect_volume(&volume).await.is_err(),
        "volume {volume} survived"
    );
}

#[tokio::test]
async fn keep_leaves_the_job_until_clean_run() {
    httpd_image().await;
    let h = Harness::docker().await;
    let mut spec = h.spec();
    spec.keep = true;
    spec.services.insert(
        "svc".into(),
        ContainerSpec {
            image: HTTPD.into(),
            ..Default::default()
        },
    );
    let env = h.executor.start_job(spec).await.unwrap();
    env.cleanup().await.unwrap();
    let d = docker().await;
    let left = h.leftovers().await;
    assert!(!left.is_empty());
    // The kept job's host directory (bind-mounted at /__w) goes with its containers.
    let job_dir = env
        .local_workspace()
        .unwrap()
        .ancestors()
        .nth(3)
        .unwrap()
        .to_path_buf();
    assert!(job_dir.is_dir());
    let report = gantry_docker::clean_run(&d, &h.run_id).await.unwrap();
    assert_eq!((report.containers, report.networks), (2, 1), "{report:?}");
    assert!(
        !job_dir.exists(),
        "{} survived clean_run",
        job_dir.display()
    );
    h.assert_clean().await;
}

#[tokio::test]
async fn non_root_user_owns_its_workspace_and_temp() {
    let h = Harness::docker().await;
    let src = crate::common::workspace_fixture();
    let mut spec = h.spec();
    spec.workspace_source = Some(src.path().to_path_buf());
    spec.container = Some(container("--user 1000:1000"));
    let env = h.executor.start_job(spec).await.unwrap();
    let temp = env.paths().temp.clone();
    env.write_file(&format!("{temp}/GITHUB_ENV"), b"")
        .await
        .unwrap();
    let script = format!(
        "id -u; stat -c %u a.txt sub; echo more >> a.txt; echo A=1 >> {temp}/GITHUB_ENV; mkdir {temp}/made; touch {temp}/made/f; touch \"$HOME/x\" 2>/dev/null || touch /github/home/x"
    );
    let (status, out) = sh(&*env, &script).await;
    assert_eq!(
        (status, out.out()),
        (ExitStatus::Code(0), "1000\n1000\n1000\n".to_string()),
        "{}",
        out.err()
    );
    assert_eq!(
        env.read_file(&format!("{temp}/GITHUB_ENV")).await.unwrap(),
        Some(b"A=1\n".to_vec())
    );
    env.cleanup().await.unwrap();
    h.assert_clean().await;
}

#[tokio::test]
async fn docker_socket_only_on_request() {
    let h = Harness::docker().await;
    let mut spec = h.spec();
    spec.docker_socket = true;
    let env = h.executor.start_job(spec).await.unwrap();
    let (status, _) = sh(&*env, "test -S /var/run/docker.sock").await;
    assert_eq!(status, ExitStatus::Code(0));
    env.cleanup().await.unwrap();
    h.assert_clean().await;
}

#[tokio::test]
async fn named_user_is_resolved_in_the_image() {
    let h = Harness::docker().await;
    let mut spec = h.spec();
    spec.container = Some(container("--user nobody"));
    let env = h.executor.start_job(spec.clone()).await.unwrap();
    let (status, out) = sh(&*env, "id -u; stat -c %u:%g . /github/home; touch x").await;
    assert_eq!(
        (status, out.out()),
        (
            ExitStatus::Code(0),
            "65534\n65534:65534\n65534:65534\n".to_string()
        ),
        "{}",
        out.err()
    );
    env.cleanup().await.unwrap();
    spec.container = Some(container("--user ghost"));
    let err = h.executor.start_job(spec).await.err().unwrap();
    assert!(err.to_string().contains("user `ghost`"), "{err}");
    h.assert_clean().await;
}

/// Runs a step container and collects its output.
async fn run_step_container(
    env: &dyn gantry_runner::executor::JobEnvironment,
    request: ContainerStepRequest,
) -> (ExitStatus, String, String) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let collect = tokio::spawn(async move {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        while let Some(chunk) = rx.recv().await {
            let chunk: gantry_runner::executor::OutputChunk = chunk;
            match chunk.stream {
                Stream::Stdout => out.extend(chunk.bytes),
                Stream::Stderr => err.extend(chunk.bytes),
            }
        }
        (out, err)
    });
    let status = env.run_container(request, tx).await.unwrap();
    let (out, err) = collect.await.unwrap();
    (
        status,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

fn step_request(entrypoint: Option<&str>, args: &[&str]) -> ContainerStepRequest {
    ContainerStepRequest {
        image: BUSYBOX.into(),
        entrypoint: entrypoint.map(str::to_owned),
        args: args.iter().map(|a| a.to_string()).collect(),
        env: IndexMap::from([(
            "GITHUB_OUTPUT".to_string(),
            "/github/file_commands/set_output_1".to_string(),
        )]),
        cancel: CancellationToken::new(),
    }
}

#[tokio::test]
async fn step_containers_see_the_job_directories() {
    let h = Harness::docker().await;
    let env = h.start().await;
    let temp = env.paths().temp.clone();
    env.write_file(&format!("{temp}/_runner_file_commands/set_output_1"), b"")
        .await
        .unwrap();
    env.write_file(&format!("{temp}/_github_workflow/event.json"), b"{}")
        .await
        .unwrap();
    let (status, _) = sh(
        &*env,
        "echo from-job > made.txt; echo home > /github/home/h.txt",
    )
    .await;
    assert_eq!(status, ExitStatus::Code(0));
    let script = "cat made.txt /github/home/h.txt /github/workflow/event.json; echo; pwd; \
                  echo x=1 >> \"$GITHUB_OUTPUT\"; echo from-step > back.txt; echo err >&2; exit 4";
    let (status, out, err) =
        run_step_container(&*env, step_request(Some("sh"), &["-c", script])).await;
    assert_eq!(status, ExitStatus::Code(4), "{err}");
    assert_eq!(out, "from-job\nhome\n{}\n/github/workspace\n");
    assert_eq!(err, "err\n");
    let output = env
        .read_file(&format!("{temp}/_runner_file_commands/set_output_1"))
        .await
        .unwrap();
    assert_eq!(output.as_deref(), Some(&b"x=1\n"[..]));
    let (_, out) = sh(&*env, "cat back.txt").await;
    assert_eq!(out.out(), "from-step\n");
    // The image's own entrypoint and command when none are given.
    let (status, out, _) = run_step_container(&*env, step_request(None, &["echo", "plain"])).await;
    assert_eq!((status, out.as_str()), (ExitStatus::Code(0), "plain\n"));
    assert_eq!(
        h.leftovers().await.len(),
        1,
        "only the job container remains"
    );
    env.cleanup().await.unwrap();
    h.assert_clean().await;
}

#[tokio::test]
async fn step_container_cancellation_and_missing_images() {
    let h = Harness::docker().await;
    let env = h.start().await;
    let mut request = step_request(Some("sh"), &["-c", "sleep 60"]);
    let cancel = request.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        cancel.cancel();
    });
    let (status, _, _) = run_step_container(&*env, request.clone()).await;
    assert_eq!(status, ExitStatus::Cancelled);
    request.image = "gantry-test/no-such-image:1".into();
    request.cancel = CancellationToken::new();
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    let err = env.run_container(request, tx).await.err().unwrap();
    assert!(matches!(err, ExecutorError::MissingImage { .. }), "{err}");
    env.cleanup().await.unwrap();
    h.assert_clean().await;
}

#[tokio::test]
async fn dockerfile_actions_are_built_and_removed() {
    let h = Harness::docker().await;
    let env = h.start().await;
    let ws = env.paths().workspace.clone();
    let dockerfile =
        format!("FROM {BUSYBOX}\nCOPY hello.sh /hello.sh\nENTRYPOINT [\"sh\", \"/hello.sh\"]\n");
    env.write_file(&format!("{ws}/act/Dockerfile"), dockerfile.as_bytes())
        .await
        .unwrap();
    env.write_file(&format!("{ws}/act/hello.sh"), b"echo built \"$@\"\n")
        .await
        .unwrap();
    let tag = env
        .build_image(&format!("{ws}/act"), "Dockerfile")
        .await
        .unwrap();
    let mut request = step_request(None, &["arg"]);
    request.image = tag.clone();
    let (status, out, err) = run_step_container(&*env, request).await;
    assert_eq!(
        (status, out.as_str()),
        (ExitStatus::Code(0), "built arg\n"),
        "{err}"
    );
    env.cleanup().await.unwrap();
    h.assert_clean().await;
    assert!(
        docker().await.inspect_image(&tag).await.is_err(),
        "{tag} was left"
    );
}

#[tokio::test]
async fn clean_run_removes_kept_action_images() {
    let h = Harness::docker().await;
    let mut spec = h.spec();
    spec.keep = true;
    let env = h.executor.start_job(spec).await.unwrap();
    let ws = env.paths().workspace.clone();
    env.write_file(
        &format!("{ws}/Dockerfile"),
        format!("FROM {BUSYBOX}\n").as_bytes(),
    )
    .await
    .unwrap();
    let tag = env.build_image(&ws, "Dockerfile").await.unwrap();
    env.cleanup().await.unwrap();
    let d = docker().await;
    assert!(
        d.inspect_image(&tag).await.is_ok(),
        "a kept job keeps its image"
    );
    gantry_docker::clean_run(&d, &h.run_id).await.unwrap();
    assert!(
        d.inspect_image(&tag).await.is_err(),
        "{tag} survived clean_run"
    );
    h.assert_clean().await;
}

/// A Dockerfile whose base image is not in the engine fails before any pull is tried, naming
/// the image and its line.
#[tokio::test]
async fn a_missing_base_image_is_a_clear_error() {
    let h = Harness::docker().await;
    let env = h.start().await;
    let ws = env.paths().workspace.clone();
    env.write_file(
        &format!("{ws}/Dockerfile"),
        b"FROM scratch AS empty\nFROM gantry/never-built:1\n",
    )
    .await
    .unwrap();
    let err = env.build_image(&ws, "Dockerfile").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{ws}/Dockerfile:2: the base image `gantry/never-built:1` is not in the Docker engine, and gantry never pulls: build or load it first (`docker load`, or scripts/build-images.sh for gantry's own images)"
        )
    );
    env.cleanup().await.unwrap();
    h.assert_clean().await;
}

#[tokio::test]
async fn planted_symlinks_do_not_reach_host_files() {
    let h = Harness::docker().await;
    let env = h.start().await;
    let secret_dir = tempfile::tempdir().unwrap();
    let secret = secret_dir.path().join("host-secret");
    std::fs::write(&secret, "host only\n").unwrap();
    let temp = env.paths().temp.clone();
    // The container's own file at the same absolute path as the host's secret.
    let script = format!(
        "mkdir -p {dir} && echo container-side > {file} && ln -sf {file} {temp}/link && \
         mkdir -p {temp}/fc && ln -sf {file} {temp}/fc/set_env_9 && ln -s {dir} {temp}/linkdir",
        dir = secret_dir.path().display(),
        file = secret.display(),
    );
    let (status, out) = sh(&*env, &script).await;
    assert_eq!(status, ExitStatus::Code(0), "{}", out.err());
    // Reads resolve inside the container, never on this machine.
    let read = env.read_file(&format!("{temp}/link")).await.unwrap();
    assert_ne!(read.as_deref(), Some(&b"host only\n"[..]));
    // Writes replace the planted link (file commands) or go through the engine.
    env.write_file(&format!("{temp}/fc/set_env_9"), b"")
        .await
        .unwrap();
    env.write_file(&format!("{temp}/linkdir/host-secret"), b"overwritten")
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "host only\n");
    env.cleanup().await.unwrap();
    h.assert_clean().await;
}

/// A test that fails half-way (here: panics with a job and a service running) still leaves
/// nothing on the engine: the harness removes what carries its run id when it drops, even
/// though the panic tears down the runtime before the executor's own cleanup can run.
#[test]
fn a_test_failing_mid_job_leaves_nothing_on_the_engine() {
    let (tx, rx) = std::sync::mpsc::channel();
    let failed = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            httpd_image().await;
            let h = Harness::docker().await;
            let mut spec = h.spec();
            spec.services.insert(
                "web".into(),
                ContainerSpec {
                    image: HTTPD.into(),
                    ..Default::default()
                },
            );
            let env = h.executor.start_job(spec).await.unwrap();
            let (status, _) = sh(&*env, "true").await;
            tx.send((h.run_id.clone(), h.leftovers().await)).unwrap();
            assert_eq!(status, ExitStatus::Code(0));
            panic!("a failed assertion while the job runs");
        })
    })
    .join();
    assert!(failed.is_err(), "the inner test was meant to fail");
    let (run_id, running) = rx.recv().unwrap();
    assert!(
        running.len() >= 3,
        "the job, its service and its network should have existed: {running:?}"
    );
    let filter = format!("label={}={run_id}", gantry_docker::LABEL_RUN_ID);
    for list in [
        &["ps", "-aq"][..],
        &["network", "ls", "-q"],
        &["volume", "ls", "-q"],
    ] {
        let out = std::process::Command::new("docker")
            .args(list)
            .args(["--filter", &filter])
            .output()
            .unwrap();
        let left = String::from_utf8_lossy(&out.stdout);
        assert!(left.trim().is_empty(), "docker {list:?} left: {left}");
    }
}
