//! Services for a job on the host executor: they run as containers (there is no other way to
//! run an image), with ports published on 127.0.0.1, so steps on this machine reach them at
//! `localhost:<port>` exactly as steps on GitHub's runner machine do. Service ids do not
//! resolve on the host (gantry does not edit this machine's `/etc/hosts`; on GitHub they
//! resolve only for `container:` jobs too).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use gantry_runner::executor::{
    ContainerStepRequest, ExecRequest, ExecutorError, ExitStatus, HostDirectory, JobContainers,
    JobEnvironment, JobPaths, JobSpec, OutputChunk,
};
use tokio::sync::mpsc;

use crate::DockerExecutor;
use crate::docker::Setup;
use crate::options::ContainerOptions;
use crate::resources::ResourceGuard;

/// A job's services, started without a job container.
pub(crate) struct ServicesOnly {
    guard: ResourceGuard,
    containers: JobContainers,
}

impl DockerExecutor {
    /// Starts `spec.services` (images checked first, nothing pulled); on failure whatever was
    /// created is removed before the error returns.
    pub(crate) async fn start_services(
        &self,
        spec: &JobSpec,
    ) -> Result<ServicesOnly, ExecutorError> {
        for svc in spec.services.values() {
            self.ensure_image(&svc.image).await?;
        }
        let opts = spec
            .services
            .values()
            .map(|s| ContainerOptions::parse(s.options.as_deref()))
            .collect::<Result<Vec<_>, _>>()?;
        let setup = Setup {
            docker: self.client(),
            owner: &self.owner,
            scope: self.scope.as_deref(),
            spec,
            guard: ResourceGuard::new(self.client().clone(), spec.keep),
        };
        match setup.start_services(&opts).await {
            Ok(started) => Ok(ServicesOnly {
                guard: setup.guard,
                containers: JobContainers {
                    container: None,
                    services: started.info,
                },
            }),
            Err(e) => {
                if let Err(cleanup) = setup.guard.release().await {
                    tracing::warn!("cleanup after failed services: {cleanup}");
                }
                Err(e)
            }
        }
    }
}

impl ServicesOnly {
    pub(crate) async fn release(&self) -> Result<(), ExecutorError> {
        self.guard.release().await
    }

    /// The host job with these services beside it.
    pub(crate) fn around(self, job: Box<dyn JobEnvironment>) -> Box<dyn JobEnvironment> {
        Box::new(WithServices {
            job,
            services: self,
        })
    }
}

/// A job environment plus the services it owns: everything is delegated to the job; cleanup
/// removes the services too (and dropping it does, through the guard).
struct WithServices {
    job: Box<dyn JobEnvironment>,
    services: ServicesOnly,
}

#[async_trait]
impl JobEnvironment for WithServices {
    fn paths(&self) -> &JobPaths {
        self.job.paths()
    }

    async fn exec(
        &self,
        request: ExecRequest,
        output: mpsc::Sender<OutputChunk>,
    ) -> Result<ExitStatus, ExecutorError> {
        self.job.exec(request, output).await
    }

    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), ExecutorError> {
        self.job.write_file(path, contents).await
    }

    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, ExecutorError> {
        self.job.read_file(path).await
    }

    async fn read_file_within(
        &self,
        path: &str,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, ExecutorError> {
        self.job.read_file_within(path, limit).await
    }

    async fn has_program(&self, program: &str) -> Result<bool, ExecutorError> {
        self.job.has_program(program).await
    }

    async fn copy_in(&self, source: &Path, dest: &str) -> Result<(), ExecutorError> {
        self.job.copy_in(source, dest).await
    }

    async fn run_container(
        &self,
        request: ContainerStepRequest,
        output: mpsc::Sender<OutputChunk>,
    ) -> Result<ExitStatus, ExecutorError> {
        self.job.run_container(request, output).await
    }

    async fn build_image(&self, context: &str, dockerfile: &str) -> Result<String, ExecutorError> {
        self.job.build_image(context, dockerfile).await
    }

    async fn interactive_shell(
        &self,
        request: &gantry_runner::debugger::ShellRequest,
        size: gantry_runner::interactive::TermSize,
    ) -> Result<gantry_runner::interactive::ShellSession, ExecutorError> {
        self.job.interactive_shell(request, size).await
    }

    async fn host_directory(&self, path: &str) -> Option<HostDirectory> {
        self.job.host_directory(path).await
    }

    async fn external_node(&self, major: &str) -> Result<Option<String>, ExecutorError> {
        self.job.external_node(major).await
    }

    fn containers(&self) -> JobContainers {
        self.services.containers.clone()
    }

    fn local_workspace(&self) -> Option<PathBuf> {
        self.job.local_workspace()
    }

    /// The job first (its steps may still talk to a service while they stop), then the
    /// services; both run even when one fails, and the first error is reported.
    async fn cleanup(&self) -> Result<(), ExecutorError> {
        let job = self.job.cleanup().await;
        let services = self.services.release().await;
        job.and(services)
    }
}
