//! Picks the executor per job: host-platform jobs without a `container:` run on the host (their
//! services, if any, in Docker beside them), everything else in Docker.

use async_trait::async_trait;
use gantry_runner::executor::{Executor, ExecutorError, JobEnvironment, JobSpec, Platform};

use crate::{DockerExecutor, HostExecutor};

/// Routes each job by its platform. `docker` is `None` when no engine answered: host jobs still
/// run, container jobs fail with [`ExecutorError::EngineUnavailable`].
#[derive(Debug, Clone)]
pub struct RoutingExecutor {
    docker: Option<DockerExecutor>,
    host: HostExecutor,
}

impl RoutingExecutor {
    pub fn new(docker: Option<DockerExecutor>, host: HostExecutor) -> Self {
        Self { docker, host }
    }
}

impl RoutingExecutor {
    /// Services run as containers even for a host job; the steps run here and reach them on
    /// `localhost:<published port>`.
    async fn host_job_with_services(
        &self,
        mut spec: JobSpec,
    ) -> Result<Box<dyn JobEnvironment>, ExecutorError> {
        let Some(docker) = &self.docker else {
            return Err(ExecutorError::EngineUnavailable(format!(
                "job `{}` runs on the host, but its services run as containers (published on 127.0.0.1); start Docker (scripts/ensure-docker.sh) or remove `services:`",
                spec.job_key
            )));
        };
        let services = docker.start_services(&spec).await?;
        spec.services.clear();
        match self.host.start_job(spec).await {
            Ok(job) => Ok(services.around(job)),
            Err(e) => {
                if let Err(cleanup) = services.release().await {
                    tracing::warn!("cleanup of services after a failed host job: {cleanup}");
                }
                Err(e)
            }
        }
    }
}

#[async_trait]
impl Executor for RoutingExecutor {
    async fn start_job(&self, spec: JobSpec) -> Result<Box<dyn JobEnvironment>, ExecutorError> {
        let on_host = spec.platform == Platform::Host && spec.container.is_none();
        if on_host && spec.services.is_empty() {
            return self.host.start_job(spec).await;
        }
        if on_host {
            return self.host_job_with_services(spec).await;
        }
        match &self.docker {
            Some(docker) => docker.start_job(spec).await,
            None => Err(ExecutorError::EngineUnavailable(format!(
                "job `{}` needs a container; start Docker (scripts/ensure-docker.sh) or map its runner label to `host`",
                spec.job_key
            ))),
        }
    }
}
