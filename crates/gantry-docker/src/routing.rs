//! Picks the executor per job: host-platform jobs without a `container:` run on the host,
//! everything else in Docker.

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

#[async_trait]
impl Executor for RoutingExecutor {
    async fn start_job(&self, spec: JobSpec) -> Result<Box<dyn JobEnvironment>, ExecutorError> {
        let on_host =
            spec.platform == Platform::Host && spec.container.is_none() && spec.services.is_empty();
        if on_host {
            return self.host.start_job(spec).await;
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
