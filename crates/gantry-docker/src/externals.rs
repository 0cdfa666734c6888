//! gantry's node for job containers that have none, as GitHub's runner mounts its "externals"
//! (`/__e`, holding the node that runs JavaScript actions) into every job container.
//!
//! The runner image carries them (`scripts/build-images.sh`, `add_externals`):
//! `/__e/node<MAJOR>/bin/node` is a wrapper that starts the tool cache's node through the glibc
//! loader and libraries in `/__e/lib`, so it runs whatever libc the job image has, or none
//! (busybox). gantry copies `lib/` and the one major an action asks for into the job container
//! when that action runs, engine to engine through a created (never started) container of the
//! runner image: nothing touches this machine's disk, nothing outlives the job.

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, DownloadFromContainerOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use gantry_runner::executor::{ExecutorError, JobEnvironment};

use crate::engine_error;
use crate::job::DockerJob;
use crate::resources::remove_container;

/// Where the externals live in the runner image and in a job container (GitHub's path).
pub(crate) const EXTERNALS: &str = "/__e";

/// The image that carries them: the default runner image.
const RUNNER_IMAGE: &str = "gantry/runner:latest";

impl DockerJob {
    /// `/__e/node<major>/bin/node` in the job container, copied in on first use; `None` when
    /// the runner image is not in the engine or has no such major.
    pub(crate) async fn external_node(&self, major: &str) -> Result<Option<String>, ExecutorError> {
        if major.is_empty() || !major.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(None);
        }
        let node = format!("{EXTERNALS}/node{major}/bin/node");
        if self.has_program(&node).await? {
            return Ok(Some(node));
        }
        if self.docker.inspect_image(RUNNER_IMAGE).await.is_err() {
            return Ok(None);
        }
        let source = self.source_container().await?;
        let copied = self.copy_externals(&source, major).await;
        let removed = remove_container(&self.docker, &source).await;
        self.guard
            .register(|r| r.containers.retain(|c| c != &source));
        let found = copied?;
        removed?;
        Ok(found.then_some(node))
    }

    /// A container of the runner image to read from: created, never started.
    async fn source_container(&self) -> Result<String, ExecutorError> {
        let run = self
            .labels
            .get(crate::LABEL_RUN_ID)
            .map_or("run", String::as_str);
        let name = crate::docker::object_name(&[run, "externals"]);
        let body = ContainerCreateBody {
            image: Some(RUNNER_IMAGE.to_string()),
            entrypoint: Some(vec!["/bin/true".to_string()]),
            labels: Some(self.labels.clone()),
            network_disabled: Some(true),
            ..Default::default()
        };
        let opts = CreateContainerOptionsBuilder::default().name(&name).build();
        let id = self
            .docker
            .create_container(Some(opts), body)
            .await
            .map_err(|e| engine_error("creating a container of the runner image", e))?
            .id;
        // Registered at once: a job dropped half-way still removes it.
        self.guard.register(|r| r.containers.push(id.clone()));
        Ok(id)
    }

    /// `lib/` and `node<major>/` from `source` into the job container's `/__e`; `false` when
    /// the runner image has no externals for that major (built before they existed).
    async fn copy_externals(&self, source: &str, major: &str) -> Result<bool, ExecutorError> {
        let root = crate::tarball::single_dir(EXTERNALS)?;
        self.upload("/", futures::stream::iter([Ok(bytes::Bytes::from(root))]))
            .await?;
        for part in ["lib".to_string(), format!("node{major}")] {
            let path = format!("{EXTERNALS}/{part}");
            let opts = DownloadFromContainerOptionsBuilder::default()
                .path(&path)
                .build();
            let mut archive = self.docker.download_from_container(source, Some(opts));
            // The first chunk tells whether the path exists before the upload starts.
            use futures::StreamExt;
            let first = match archive.next().await {
                None => continue,
                Some(Ok(chunk)) => chunk,
                Some(Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404,
                    ..
                })) => return Ok(false),
                Some(Err(e)) => {
                    return Err(engine_error(
                        &format!("reading {path} of {RUNNER_IMAGE}"),
                        e,
                    ));
                }
            };
            let body = futures::stream::iter([Ok(first)]).chain(
                archive.map(|chunk| chunk.map_err(|e| std::io::Error::other(e.to_string()))),
            );
            self.upload(EXTERNALS, body).await?;
        }
        Ok(true)
    }

    async fn upload(
        &self,
        at: &str,
        body: impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
    ) -> Result<(), ExecutorError> {
        let opts = UploadToContainerOptionsBuilder::default().path(at).build();
        self.docker
            .upload_to_container(
                self.container_id(),
                Some(opts),
                bollard::body_try_stream(body),
            )
            .await
            .map_err(|e| engine_error("copying gantry's node into the job container", e))
    }
}
