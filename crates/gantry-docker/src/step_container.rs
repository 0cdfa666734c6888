//! Step containers (`uses: docker://IMAGE`, docker actions) and action images built from a
//! Dockerfile, with the job's directories mounted where GitHub mounts them.

use std::path::Path;

use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, BuildImageOptionsBuilder, CreateContainerOptionsBuilder,
    StopContainerOptionsBuilder,
};
use futures::StreamExt;
use gantry_runner::executor::{
    CANCEL_GRACE, ContainerStepRequest, ExecutorError, ExitStatus, OutputChunk, Stream as Out,
    step_container,
};
use tokio::sync::mpsc;

use crate::job::DockerJob;
use crate::resources::remove_container;
use crate::{engine_error, io_error};

/// Runs one step container to its end and removes it (unless the job keeps its containers).
pub(crate) async fn run(
    job: &DockerJob,
    request: ContainerStepRequest,
    output: mpsc::Sender<OutputChunk>,
) -> Result<ExitStatus, ExecutorError> {
    if request.cancel.is_cancelled() {
        return Ok(ExitStatus::Cancelled);
    }
    ensure_present(job, &request.image).await?;
    let body = create_body(job, &request)?;
    let name = crate::docker::object_name(&[
        job.labels
            .get(crate::LABEL_RUN_ID)
            .map_or("run", String::as_str),
        "step",
    ]);
    let opts = CreateContainerOptionsBuilder::default().name(&name).build();
    let id = job
        .docker
        .create_container(Some(opts), body)
        .await
        .map_err(|e| {
            engine_error(
                &format!("creating step container from {}", request.image),
                e,
            )
        })?
        .id;
    // Registered right away: a job dropped mid-step still removes it.
    job.guard.register(|r| r.containers.push(id.clone()));
    let status = attach_and_wait(job, &id, &request, &output).await;
    if !job.guard.keeps() {
        let removed = remove_container(&job.docker, &id).await;
        job.guard.register(|r| r.containers.retain(|c| c != &id));
        removed?;
    }
    status
}

/// Never pulls, like the job image.
async fn ensure_present(job: &DockerJob, image: &str) -> Result<(), ExecutorError> {
    match job.docker.inspect_image(image).await {
        Ok(_) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Err(ExecutorError::MissingImage {
            image: image.to_string(),
            hint: crate::docker::missing_image_hint(image),
        }),
        Err(e) => Err(engine_error(&format!("inspecting image {image}"), e)),
    }
}

/// GitHub's mounts: workspace, file commands, home and workflow directories, on the job's
/// network, working in `/github/workspace`.
fn create_body(
    job: &DockerJob,
    request: &ContainerStepRequest,
) -> Result<ContainerCreateBody, ExecutorError> {
    let host = |path: &str| {
        job.work_path(path).ok_or_else(|| {
            ExecutorError::Other(format!("{path} is not under the job's work directory"))
        })
    };
    let temp = job.host_dir.temp();
    let file_commands = temp.join("_runner_file_commands");
    let workflow = temp.join("_github_workflow");
    for dir in [&file_commands, &workflow] {
        std::fs::create_dir_all(dir)
            .map_err(|e| io_error(format!("creating {}", dir.display()), e))?;
    }
    let mut binds = vec![
        bind(&host(&job.paths.workspace)?, step_container::WORKSPACE),
        bind(&file_commands, step_container::FILE_COMMANDS),
        bind(&job.host_dir.home(), step_container::HOME),
        bind(&workflow, step_container::WORKFLOW),
    ];
    if job.docker_socket {
        binds.push("/var/run/docker.sock:/var/run/docker.sock".into());
    }
    let host_config = HostConfig {
        binds: Some(binds),
        network_mode: Some(job.network.clone()),
        ..Default::default()
    };
    Ok(ContainerCreateBody {
        image: Some(request.image.clone()),
        entrypoint: request.entrypoint.clone().map(|e| vec![e]),
        cmd: (!request.args.is_empty()).then(|| request.args.clone()),
        env: Some(
            request
                .env
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
        ),
        working_dir: Some(step_container::WORKSPACE.into()),
        labels: Some(job.labels.clone()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(false),
        host_config: Some(host_config),
        ..Default::default()
    })
}

fn bind(host: &Path, target: &str) -> String {
    format!("{}:{target}", host.display())
}

/// Streams the container's output until it exits; cancellation stops it (TERM, then KILL after
/// the grace period, which the engine's `stop` does).
async fn attach_and_wait(
    job: &DockerJob,
    id: &str,
    request: &ContainerStepRequest,
    output: &mpsc::Sender<OutputChunk>,
) -> Result<ExitStatus, ExecutorError> {
    let opts = AttachContainerOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .stream(true)
        .build();
    let mut attached = job
        .docker
        .attach_container(id, Some(opts))
        .await
        .map_err(|e| engine_error("attaching to the step container", e))?;
    job.docker
        .start_container(id, None)
        .await
        .map_err(|e| engine_error("starting the step container", e))?;
    let mut cancelled = false;
    loop {
        tokio::select! {
            item = attached.output.next() => match item {
                Some(Ok(LogOutput::StdOut { message })) => forward(output, Out::Stdout, &message).await,
                Some(Ok(LogOutput::StdErr { message })) => forward(output, Out::Stderr, &message).await,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(engine_error("reading step container output", e)),
                None => break,
            },
            () = request.cancel.cancelled(), if !cancelled => {
                cancelled = true;
                stop(job, id).await?;
            }
        }
    }
    if cancelled {
        return Ok(ExitStatus::Cancelled);
    }
    exit_code(job, id).await.map(ExitStatus::Code)
}

async fn forward(output: &mpsc::Sender<OutputChunk>, stream: Out, bytes: &[u8]) {
    // A closed receiver means nobody wants the output; the container still runs.
    let _ = output
        .send(OutputChunk {
            stream,
            bytes: bytes.to_vec(),
        })
        .await;
}

async fn stop(job: &DockerJob, id: &str) -> Result<(), ExecutorError> {
    let grace = i32::try_from(CANCEL_GRACE.as_secs()).unwrap_or(10);
    let opts = StopContainerOptionsBuilder::default().t(grace).build();
    match job.docker.stop_container(id, Some(opts)).await {
        Ok(())
        | Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 304 | 404,
            ..
        }) => Ok(()),
        Err(e) => Err(engine_error("stopping the step container", e)),
    }
}

async fn exit_code(job: &DockerJob, id: &str) -> Result<i32, ExecutorError> {
    let mut waits = job.docker.wait_container(id, None);
    match waits.next().await {
        Some(Ok(r)) => Ok(i32::try_from(r.status_code).unwrap_or(1)),
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => {
            Ok(i32::try_from(code).unwrap_or(1))
        }
        Some(Err(e)) => Err(engine_error("waiting for the step container", e)),
        None => Err(ExecutorError::Other(
            "the engine did not report the step container's exit".into(),
        )),
    }
}

/// Builds `dockerfile` in `context` (both as steps see them, under the work directory) from a
/// tar context; the image is labelled like the job's objects and removed with the job.
pub(crate) async fn build(
    job: &DockerJob,
    context: &str,
    dockerfile: &str,
) -> Result<String, ExecutorError> {
    let dir = job.work_path(context).ok_or_else(|| {
        ExecutorError::Other(format!(
            "{context} is not under the job's work directory; cannot build an image from it"
        ))
    })?;
    check_bases(
        job,
        &dir.join(dockerfile),
        &format!("{context}/{dockerfile}"),
    )
    .await?;
    let archive = tokio::task::spawn_blocking(move || {
        let mut builder = tar::Builder::new(Vec::new());
        builder.follow_symlinks(false);
        builder.append_dir_all(".", &dir)?;
        builder.into_inner()
    })
    .await
    .map_err(|e| ExecutorError::Other(format!("archiving {context}: {e}")))?
    .map_err(|e| io_error(format!("archiving {context}"), e))?;
    let tag = format!(
        "gantry-action-{}:latest",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let opts = BuildImageOptionsBuilder::default()
        .dockerfile(dockerfile)
        .t(&tag)
        .rm(true)
        .forcerm(true)
        .labels(&job.labels)
        .build();
    job.guard.register(|r| r.images.push(tag.clone()));
    let mut progress = job
        .docker
        .build_image(opts, None, Some(bollard::body_full(archive.into())));
    while let Some(item) = progress.next().await {
        let info =
            item.map_err(|e| engine_error(&format!("building {context}/{dockerfile}"), e))?;
        if let Some(error) = info.error_detail.and_then(|d| d.message) {
            return Err(ExecutorError::Other(format!(
                "building {context}/{dockerfile}: {error}"
            )));
        }
    }
    Ok(tag)
}

/// Every base image of a Dockerfile must already be in the engine: the build would otherwise
/// try to pull it, which never works here and says so only after a network time-out.
async fn check_bases(
    job: &DockerJob,
    file: &std::path::Path,
    shown: &str,
) -> Result<(), ExecutorError> {
    let Ok(text) = tokio::fs::read_to_string(file).await else {
        // The build reports a missing or unreadable Dockerfile in its own words.
        return Ok(());
    };
    for (line, image) in base_images(&text) {
        if job.docker.inspect_image(&image).await.is_err() {
            return Err(ExecutorError::Other(format!(
                "{shown}:{line}: the base image `{image}` is not in the Docker engine, and gantry never pulls: build or load it first (`docker load`, or scripts/build-images.sh for gantry's own images)"
            )));
        }
    }
    Ok(())
}

/// `(line, image)` of each `FROM` that names an image: not `scratch`, not an earlier stage
/// (`FROM base AS build` ... `FROM build`), and not one built from build arguments (`$VAR`),
/// which only the build can resolve.
fn base_images(dockerfile: &str) -> Vec<(usize, String)> {
    let mut stages: Vec<String> = Vec::new();
    let mut found = Vec::new();
    for (index, raw) in dockerfile.lines().enumerate() {
        let mut words = raw.split_whitespace();
        if !words.next().is_some_and(|w| w.eq_ignore_ascii_case("FROM")) {
            continue;
        }
        let mut words = words.skip_while(|w| w.starts_with("--"));
        let Some(image) = words.next() else { continue };
        let lower = image.to_ascii_lowercase();
        let named_here = match (words.next(), words.next()) {
            (Some(as_), Some(name)) if as_.eq_ignore_ascii_case("AS") => {
                Some(name.to_ascii_lowercase())
            }
            _ => None,
        };
        let is_stage = stages.contains(&lower);
        stages.extend(named_here);
        if lower == "scratch" || image.contains('$') || is_stage {
            continue;
        }
        found.push((index + 1, image.to_owned()));
    }
    found
}

#[cfg(test)]
mod base_image_tests {
    use super::base_images;

    #[test]
    fn from_lines_name_images_but_not_stages_scratch_or_arguments() {
        let dockerfile = "# a comment\nARG V=1\nFROM --platform=linux/amd64 gantry/busybox:latest AS base\n\
                          RUN echo\nfrom base\nFROM scratch\nFROM debian:$V\nFROM alpine\n";
        assert_eq!(
            base_images(dockerfile),
            vec![
                (3, "gantry/busybox:latest".to_owned()),
                (8, "alpine".to_owned())
            ]
        );
    }
}
