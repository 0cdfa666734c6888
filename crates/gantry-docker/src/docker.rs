//! The Docker executor: creates a job's network, service containers and job container.

use std::collections::HashMap;
use std::path::Path;

use async_trait::async_trait;
use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, VolumeCreateRequest};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder,
    DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures::TryStreamExt;
use gantry_runner::executor::{
    ContainerInfo, Executor, ExecutorError, JobContainers, JobEnvironment, JobPaths, JobSpec,
    Platform,
};
use indexmap::IndexMap;

use crate::access::Access;
use crate::agent::AGENT_SCRIPT;
use crate::job::{Agent, DockerJob, Started};
use crate::options::ContainerOptions;
use crate::owner::Owner;
use crate::resources::{ResourceGuard, labels};
use crate::{engine_error, io_error, tarball};

const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// The job container's work root: workspace parent directories and `RUNNER_TEMP`.
pub(crate) const WORK_ROOT: &str = "/__w";

/// Runs each job in its own container. Never pulls: images must be present in the engine.
#[derive(Debug, Clone)]
pub struct DockerExecutor {
    docker: Docker,
    /// Labelled on everything a job creates, so cleanups remove only their own.
    pub(crate) owner: Owner,
    /// Where the jobs come from (`gantry run`'s repository), labelled too.
    pub(crate) scope: Option<String>,
}

impl DockerExecutor {
    /// Connects to the engine named by `DOCKER_HOST` (or the local socket) and agrees on an API
    /// version, so older engines (20.10 speaks 1.41) work.
    pub async fn connect() -> Result<Self, ExecutorError> {
        let docker = Docker::connect_with_defaults()
            .map_err(|e| ExecutorError::EngineUnavailable(e.to_string()))?
            .negotiate_version()
            .await
            .map_err(|e| ExecutorError::EngineUnavailable(e.to_string()))?;
        Ok(Self::with_client(docker))
    }

    /// Uses an already connected client; what it creates is owned by this process.
    pub fn with_client(docker: Docker) -> Self {
        Self {
            docker,
            owner: Owner::this_process(),
            scope: None,
        }
    }

    /// Labels what jobs create with `scope` ([`crate::LABEL_SCOPE`]) as well.
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Labels what jobs create with `owner` instead (a daemon's instance).
    pub fn with_owner(mut self, owner: Owner) -> Self {
        self.owner = owner;
        self
    }

    /// Whose objects this executor creates.
    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    /// The engine client, for [`crate::clean_all`].
    pub fn client(&self) -> &Docker {
        &self.docker
    }

    /// Fails with [`ExecutorError::MissingImage`] unless `image` is present locally; returns the
    /// image's default user (`USER`, empty for root).
    pub async fn ensure_image(&self, image: &str) -> Result<String, ExecutorError> {
        match self.docker.inspect_image(image).await {
            Ok(info) => Ok(info.config.and_then(|c| c.user).unwrap_or_default()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Err(ExecutorError::MissingImage {
                image: image.to_string(),
                hint: missing_image_hint(image),
            }),
            Err(e) => Err(engine_error(&format!("inspecting image {image}"), e)),
        }
    }
}

pub(crate) fn missing_image_hint(image: &str) -> String {
    if image.starts_with("gantry/") {
        "build gantry's images offline with `scripts/build-images.sh`".to_string()
    } else {
        format!(
            "gantry never pulls; load it with `docker load -i FILE` or build it with `docker build -t {image} .`"
        )
    }
}

/// GitHub's layout for container jobs (`/__w/<repo>/<repo>`, `/__w/_temp`, ...).
fn job_paths(repository: &str) -> JobPaths {
    let name = repository
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or("workspace");
    JobPaths {
        workspace: format!("/__w/{name}/{name}"),
        temp: format!("{WORK_ROOT}/_temp"),
        tool_cache: "/__t".to_string(),
        home: "/github/home".to_string(),
    }
}

/// Container and network names: readable, and unique even when a run id is reused.
pub(crate) fn object_name(parts: &[&str]) -> String {
    let mut name: String = parts
        .join("-")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    name.truncate(100);
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("gantry-{name}-{}", &suffix[..8])
}

#[async_trait]
impl Executor for DockerExecutor {
    async fn start_job(&self, spec: JobSpec) -> Result<Box<dyn JobEnvironment>, ExecutorError> {
        let image = match (&spec.container, &spec.platform) {
            (Some(c), _) => c.image.clone(),
            (None, Platform::Image(image)) => image.clone(),
            (None, Platform::Host) => {
                return Err(ExecutorError::Other(
                    "the docker executor cannot run a host-platform job".into(),
                ));
            }
        };
        let image_user = self.ensure_image(&image).await?;
        for svc in spec.services.values() {
            self.ensure_image(&svc.image).await?;
        }
        let job_opts =
            ContainerOptions::parse(spec.container.as_ref().and_then(|c| c.options.as_deref()))?;
        let svc_opts = spec
            .services
            .values()
            .map(|s| ContainerOptions::parse(s.options.as_deref()))
            .collect::<Result<Vec<_>, _>>()?;
        let setup = Setup {
            docker: &self.docker,
            owner: &self.owner,
            scope: self.scope.as_deref(),
            spec: &spec,
            guard: ResourceGuard::new(self.docker.clone(), spec.keep),
        };
        let user = job_opts.user.clone().unwrap_or(image_user);
        match setup.run(image, user, job_opts, svc_opts).await {
            Ok(started) => Ok(Box::new(DockerJob::new(
                self.docker.clone(),
                started,
                setup.guard,
            ))),
            Err(e) => {
                // Remove what was created before reporting, rather than in the background.
                if let Err(cleanup) = setup.guard.release().await {
                    tracing::warn!("cleanup after a failed job start: {cleanup}");
                }
                Err(e)
            }
        }
    }
}

/// One `start_job`: everything it creates is registered in the guard right away, so dropping
/// the future half-way still removes it.
pub(crate) struct Setup<'a> {
    pub(crate) docker: &'a Docker,
    pub(crate) owner: &'a Owner,
    pub(crate) scope: Option<&'a str>,
    pub(crate) spec: &'a JobSpec,
    pub(crate) guard: ResourceGuard,
}

impl Setup<'_> {
    async fn run(
        &self,
        image: String,
        user: String,
        job_opts: ContainerOptions,
        svc_opts: Vec<ContainerOptions>,
    ) -> Result<Started, ExecutorError> {
        let paths = job_paths(&self.spec.repository);
        let mut host_dir = HostDir::create()?;
        let services = self.start_services(&svc_opts).await?;
        // A `container:` job joins the services' network; a job on the runner image stays on
        // the host network and reaches them on localhost (see `services.rs`).
        let joined = match self.spec.container {
            Some(_) => services.network.as_deref(),
            None => None,
        };
        let network_mode = job_network_mode(&job_opts, joined);
        let mut body = self
            .job_container_body(&image, &job_opts, joined, &paths, &host_dir)
            .await?;
        if joined.is_none()
            && !services.hosts.is_empty()
            && let Some(host) = body.host_config.as_mut()
        {
            host.extra_hosts = Some(services.hosts.clone());
        }
        let id = self.create(&self.spec.job_key, body).await?;
        let owner = self.owner(&id, &user).await?;
        host_dir.grant(Access::for_user(owner))?;
        // No step can arrive before this returns, so copying the workspace may overlap the
        // container's start (the slowest part of a job's setup).
        let ((), agent) = tokio::try_join!(
            self.upload_tree(&id, &paths, owner),
            self.attach_and_start(&id)
        )?;
        if self.spec.keep {
            // A kept container keeps its bind-mounted RUNNER_TEMP; a failed start leaves none.
            host_dir.keep();
        }
        tracing::debug!(container = %id, "job container started");
        let containers = JobContainers {
            container: Some(ContainerInfo {
                id: id.clone(),
                // GitHub names the job's network here even when the job runs on the host.
                network: services.network.clone().unwrap_or(network_mode.clone()),
                ports: IndexMap::new(),
            }),
            services: services.info,
        };
        Ok(Started {
            container: id,
            paths,
            agent,
            host_dir,
            owner,
            network: network_mode,
            containers,
            labels: self.labels(),
            docker_socket: self.spec.docker_socket,
        })
    }

    pub(crate) fn labels(&self) -> HashMap<String, String> {
        labels(
            &self.spec.run_id,
            &self.spec.job_key,
            self.owner,
            self.scope,
        )
    }

    pub(crate) async fn create(
        &self,
        what: &str,
        body: ContainerCreateBody,
    ) -> Result<String, ExecutorError> {
        let name = object_name(&[&self.spec.run_id, what]);
        let opts = CreateContainerOptionsBuilder::default().name(&name).build();
        let created = self
            .docker
            .create_container(Some(opts), body)
            .await
            .map_err(|e| engine_error(&format!("creating container {name}"), e))?;
        self.guard
            .register(|r| r.containers.push(created.id.clone()));
        Ok(created.id)
    }

    async fn job_container_body(
        &self,
        image: &str,
        opts: &ContainerOptions,
        network: Option<&str>,
        paths: &JobPaths,
        host_dir: &HostDir,
    ) -> Result<ContainerCreateBody, ExecutorError> {
        let mut host = HostConfig::default();
        opts.apply_to_host_config(&mut host);
        let spec = self.spec.container.clone().unwrap_or_default();
        // `/__w` (workspace and RUNNER_TEMP) and HOME live on this machine, as on GitHub's
        // runner: step containers mount them too, and hashFiles reads the workspace directly.
        let mut binds = vec![
            format!("{}:{}", host_dir.work().display(), WORK_ROOT),
            format!("{}:{}", host_dir.home().display(), paths.home),
        ];
        binds.extend(self.volume_binds(&spec.volumes).await?.unwrap_or_default());
        if self.spec.docker_socket {
            binds.push(format!("{DOCKER_SOCKET}:{DOCKER_SOCKET}"));
        }
        host.binds = Some(binds);
        host.network_mode = Some(job_network_mode(opts, network));
        Ok(ContainerCreateBody {
            image: Some(image.to_string()),
            env: Some(env_list(&spec.env, &opts.env)),
            labels: Some(self.labels()),
            hostname: opts.hostname.clone(),
            user: opts.user.clone(),
            entrypoint: Some(vec![
                "/bin/sh".into(),
                "-c".into(),
                AGENT_SCRIPT.into(),
                "gantry-agent".into(),
            ]),
            cmd: Some(vec![]),
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            open_stdin: Some(true),
            stdin_once: Some(false),
            tty: Some(false),
            host_config: Some(host),
            networking_config: network
                .filter(|_| opts.network.is_none())
                .map(|n| crate::services::endpoint(n, &self.spec.job_key)),
            ..Default::default()
        })
    }

    /// `SOURCE:TARGET[:ro]`: absolute sources are bind mounts; names are volumes, created here
    /// (labelled, removed with the job) unless they already exist and belong to the user.
    pub(crate) async fn volume_binds(
        &self,
        volumes: &[String],
    ) -> Result<Option<Vec<String>>, ExecutorError> {
        let mut binds = Vec::new();
        for v in volumes {
            let source = v.split(':').next().unwrap_or_default();
            if !v.contains(':') {
                // A bare target is an anonymous volume: removed with the container (`v=true`).
                binds.push(v.clone());
                continue;
            }
            if !source.starts_with('/')
                && !source.starts_with('.')
                && self.docker.inspect_volume(source).await.is_err()
            {
                let req = VolumeCreateRequest {
                    name: Some(source.to_string()),
                    labels: Some(self.labels()),
                    ..Default::default()
                };
                self.docker
                    .create_volume(req)
                    .await
                    .map_err(|e| engine_error(&format!("creating volume {source}"), e))?;
                self.guard.register(|r| r.volumes.push(source.to_string()));
            }
            binds.push(v.clone());
        }
        Ok((!binds.is_empty()).then_some(binds))
    }

    /// Creates the job directories and copies the workspace in before the container starts.
    /// Who owns the workspace and job directories: the container's user, so `--user 1001` (or an
    /// image `USER node`) can write its workspace and git sees a repository it owns.
    async fn owner(&self, id: &str, user: &str) -> Result<tarball::Owner, ExecutorError> {
        let numeric = user.is_empty() || user.split(':').all(|p| p.parse::<u64>().is_ok());
        if let Some(owner) = tarball::resolve_owner(user, "", "").filter(|_| numeric) {
            return Ok(owner);
        }
        let passwd = self.container_text(id, "/etc/passwd").await?;
        let group = self.container_text(id, "/etc/group").await?;
        tarball::resolve_owner(user, &passwd, &group).ok_or_else(|| {
            ExecutorError::Other(format!(
                "user `{user}` is not in the job image's /etc/passwd or /etc/group"
            ))
        })
    }

    async fn container_text(&self, id: &str, path: &str) -> Result<String, ExecutorError> {
        let opts = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let parts: Result<Vec<bytes::Bytes>, _> = self
            .docker
            .download_from_container(id, Some(opts))
            .try_collect()
            .await;
        match parts {
            Ok(parts) => Ok(tarball::first_file(&parts.concat(), path)?
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(String::new()),
            Err(e) => Err(engine_error(
                &format!("reading {path} from the job container"),
                e,
            )),
        }
    }

    async fn upload_tree(
        &self,
        id: &str,
        paths: &JobPaths,
        owner: tarball::Owner,
    ) -> Result<(), ExecutorError> {
        let workspace = paths.workspace.clone();
        let dirs = [
            WORK_ROOT.to_string(),
            Path::new(&workspace)
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            workspace.clone(),
            paths.tool_cache.clone(),
            "/github".to_string(),
            paths.home.clone(),
            "/github/workflow".to_string(),
        ];
        let source = self.spec.workspace_source.clone();
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        // Archiving runs on a blocking thread while the engine consumes the stream; an archive
        // error is sent down the stream, failing the upload with it.
        let archiver = tokio::task::spawn_blocking(move || {
            let dirs: Vec<&str> = dirs
                .iter()
                .map(String::as_str)
                .filter(|d| !d.is_empty())
                .collect();
            match tarball::job_tree(
                tarball::ChunkSender::new(tx),
                &dirs,
                &workspace,
                source.as_deref(),
                owner,
            ) {
                Ok(sender) => sender
                    .finish()
                    .map_err(|e| io_error("archiving the workspace", e)),
                Err(e) => Err(e),
            }
        });
        let body = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        // The container user owns the copy (`--user 1001` must be able to write its workspace).
        let opts = UploadToContainerOptionsBuilder::default().path("/").build();
        let uploaded = self
            .docker
            .upload_to_container(id, Some(opts), bollard::body_try_stream(body))
            .await;
        archiver
            .await
            .map_err(|e| ExecutorError::Other(format!("archiving the workspace: {e}")))??;
        uploaded.map_err(|e| engine_error("copying the workspace into the job container", e))
    }

    async fn attach_and_start(&self, id: &str) -> Result<Agent, ExecutorError> {
        let opts = AttachContainerOptionsBuilder::default()
            .stdin(true)
            .stdout(true)
            .stderr(true)
            .stream(true)
            .build();
        let attached = self
            .docker
            .attach_container(id, Some(opts))
            .await
            .map_err(|e| engine_error("attaching to the job container", e))?;
        self.docker
            .start_container(id, None)
            .await
            .map_err(|e| engine_error("starting the job container", e))?;
        Ok(Agent::new(attached.input, attached.output))
    }
}

/// Host networking by default, as act does (and as GitHub's runner runs steps on its machine); a
/// `container:` job with services joins their network so service ids resolve as host names. Docker refuses a hostname on the host network, so `--hostname`
/// alone means the default bridge.
fn job_network_mode(opts: &ContainerOptions, network: Option<&str>) -> String {
    let default_mode = if opts.hostname.is_some() {
        "bridge"
    } else {
        "host"
    };
    opts.network
        .clone()
        .or(network.map(str::to_string))
        .unwrap_or_else(|| default_mode.into())
}

pub(crate) fn env_list(env: &indexmap::IndexMap<String, String>, extra: &[String]) -> Vec<String> {
    env.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .chain(extra.iter().cloned())
        .collect()
}

/// The per-job host directory: `temp/` is bind-mounted at `RUNNER_TEMP` (scripts and file
/// commands cost a local file write). Step requests never land here: they travel over stdin.
pub(crate) struct HostDir {
    dir: tempfile::TempDir,
}

impl HostDir {
    fn create() -> Result<Self, ExecutorError> {
        use std::os::unix::fs::PermissionsExt;
        // Private to gantry's user: nothing below it is reachable by other host users, whatever
        // the modes of the entries the container user needs.
        let dir = tempfile::Builder::new()
            .prefix("gantry-job-")
            .permissions(std::fs::Permissions::from_mode(crate::access::PRIVATE_DIR))
            .tempdir()
            .map_err(|e| io_error("creating the job directory", e))?;
        let this = Self { dir };
        for d in [this.work(), this.temp(), this.home()] {
            crate::access::create_private_dirs(&d)?;
        }
        Ok(this)
    }

    /// Hands the directories the container's user writes (RUNNER_TEMP, HOME) to that user.
    fn grant(&self, access: Access) -> Result<(), ExecutorError> {
        for d in [self.temp(), self.home()] {
            access.dir(&d)?;
        }
        Ok(())
    }

    fn keep(&mut self) {
        self.dir.disable_cleanup(true);
    }

    /// Bind-mounted at `/__w`.
    pub(crate) fn work(&self) -> std::path::PathBuf {
        self.dir.path().join("work")
    }

    /// `RUNNER_TEMP` (`/__w/_temp`).
    pub(crate) fn temp(&self) -> std::path::PathBuf {
        self.work().join("_temp")
    }

    /// Bind-mounted at `/github/home` (GitHub keeps it at `RUNNER_TEMP/_github_home` too).
    pub(crate) fn home(&self) -> std::path::PathBuf {
        self.temp().join("_github_home")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_use_the_repository_name() {
        let p = job_paths("octo-org/my.repo");
        assert_eq!(
            (p.workspace.as_str(), p.temp.as_str()),
            ("/__w/my.repo/my.repo", "/__w/_temp")
        );
        assert_eq!(job_paths("").workspace, "/__w/workspace/workspace");
    }

    #[test]
    fn missing_image_hints() {
        assert!(missing_image_hint("gantry/runner:bookworm").contains("scripts/build-images.sh"));
        assert!(missing_image_hint("postgres:16").contains("docker load"));
    }
}
