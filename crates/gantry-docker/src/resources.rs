//! What a job created in the engine, and how it all goes away: explicitly (`cleanup`), when the
//! job is dropped mid-way (a guard), or later by label (`gantry clean`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bollard::Docker;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, ListNetworksOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
    RemoveVolumeOptionsBuilder,
};
use gantry_runner::executor::ExecutorError;

use crate::engine_error;
use crate::owner::{LABEL_OWNER, LABEL_SCOPE, Owner};

pub const LABEL_MANAGED: &str = "io.gantry.managed";
pub const LABEL_RUN_ID: &str = "io.gantry.run-id";
pub const LABEL_JOB: &str = "io.gantry.job";

/// The labels put on every container, network and volume a job creates.
pub(crate) fn labels(
    run_id: &str,
    job: &str,
    owner: &Owner,
    scope: Option<&str>,
) -> HashMap<String, String> {
    let mut labels = HashMap::from([
        (LABEL_MANAGED.to_string(), "true".to_string()),
        (LABEL_RUN_ID.to_string(), run_id.to_string()),
        (LABEL_JOB.to_string(), job.to_string()),
        (LABEL_OWNER.to_string(), owner.label()),
    ]);
    if let Some(scope) = scope {
        labels.insert(LABEL_SCOPE.to_string(), scope.to_string());
    }
    labels
}

/// Which of gantry's engine objects a cleanup removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Everything gantry created (`gantry clean --all`).
    All,
    /// One run's objects (`io.gantry.run-id`).
    Run(String),
    /// One owner's objects (a daemon's crash recovery).
    Owner(Owner),
    /// What processes of this machine that have ended left (`gantry clean`), in one scope
    /// (`io.gantry.scope`: a repository) or any: never a running `gantry run`'s, a daemon's,
    /// or another machine's.
    Ended { scope: Option<String> },
}

impl Selection {
    /// The engine's label filter; [`Selection::keeps`] decides the rest.
    fn filter(&self) -> String {
        match self {
            Selection::All => format!("{LABEL_MANAGED}=true"),
            Selection::Run(id) => format!("{LABEL_RUN_ID}={id}"),
            Selection::Owner(owner) => format!("{LABEL_OWNER}={}", owner.label()),
            Selection::Ended { .. } => LABEL_OWNER.to_string(),
        }
    }

    fn keeps(&self, labels: Option<&HashMap<String, String>>) -> bool {
        match self {
            Selection::Ended { scope } => {
                let label = |key| labels.and_then(|l| l.get(key));
                let in_scope = scope.is_none() || label(LABEL_SCOPE) == scope.as_ref();
                in_scope
                    && label(LABEL_OWNER)
                        .and_then(|o| Owner::parse(o))
                        .is_some_and(|o| o.has_ended())
            }
            _ => true,
        }
    }
}

/// Engine objects owned by one job, in creation order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Resources {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
    /// Images built for docker actions (`image: Dockerfile`).
    pub images: Vec<String>,
}

impl Resources {
    fn is_empty(&self) -> bool {
        self.containers.is_empty()
            && self.networks.is_empty()
            && self.volumes.is_empty()
            && self.images.is_empty()
    }
}

/// Removes a job's resources when dropped without an explicit cleanup (the job future was
/// dropped on Ctrl-C, a panic unwound through it). Removal runs on the current Tokio runtime;
/// when there is none, labels remain the safety net for `gantry clean`.
#[derive(Debug)]
pub(crate) struct ResourceGuard {
    docker: Docker,
    resources: Arc<Mutex<Resources>>,
    keep: bool,
}

impl ResourceGuard {
    pub(crate) fn new(docker: Docker, keep: bool) -> Self {
        Self {
            docker,
            resources: Arc::default(),
            keep,
        }
    }

    pub(crate) fn keeps(&self) -> bool {
        self.keep
    }

    pub(crate) fn register(&self, f: impl FnOnce(&mut Resources)) {
        // A poisoned lock only means another registration panicked; the list is still valid.
        let mut res = self.resources.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut res);
    }

    fn take(&self) -> Resources {
        std::mem::take(&mut *self.resources.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Removes everything now; afterwards the guard has nothing left to do.
    pub(crate) async fn release(&self) -> Result<(), ExecutorError> {
        if self.keep {
            self.take();
            return Ok(());
        }
        remove_all(&self.docker, self.take()).await
    }
}

impl Drop for ResourceGuard {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let res = self.take();
        if res.is_empty() {
            return;
        }
        let docker = self.docker.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    if let Err(e) = remove_all(&docker, res).await {
                        tracing::warn!("cleanup of a dropped job failed: {e}");
                    }
                });
            }
            Err(_) => tracing::warn!(
                "job dropped outside a runtime; run `gantry clean` to remove its containers"
            ),
        }
    }
}

/// Removes containers (with their anonymous volumes), then networks, then volumes. Keeps going
/// after a failure so one stuck object does not leak the rest; reports the first error.
pub(crate) async fn remove_all(docker: &Docker, res: Resources) -> Result<(), ExecutorError> {
    let mut first_err = None;
    for c in res.containers.iter().rev() {
        record(&mut first_err, remove_container(docker, c).await);
    }
    for n in &res.networks {
        record(
            &mut first_err,
            ignore_missing(docker.remove_network(n).await),
        );
    }
    for v in &res.volumes {
        let opts = RemoveVolumeOptionsBuilder::default().force(true).build();
        record(
            &mut first_err,
            ignore_missing(docker.remove_volume(v, Some(opts)).await),
        );
    }
    for image in &res.images {
        let opts = RemoveImageOptionsBuilder::default().force(true).build();
        let removed = docker.remove_image(image, Some(opts), None).await;
        record(&mut first_err, ignore_missing(removed.map(drop)));
    }
    first_err.map_or(Ok(()), Err)
}

fn record(first: &mut Option<ExecutorError>, r: Result<(), ExecutorError>) {
    if let Err(e) = r {
        first.get_or_insert(e);
    }
}

pub(crate) async fn remove_container(docker: &Docker, id: &str) -> Result<(), ExecutorError> {
    let opts = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    ignore_missing(docker.remove_container(id, Some(opts)).await)
}

/// Gone already (404) or being removed by someone else (409) both mean "not ours to remove".
fn ignore_missing(r: Result<(), bollard::errors::Error>) -> Result<(), ExecutorError> {
    match r {
        Ok(()) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404 | 409,
            ..
        }) => Ok(()),
        Err(e) => Err(engine_error("removing a job resource", e)),
    }
}

/// What [`clean_all`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CleanReport {
    pub containers: usize,
    pub networks: usize,
    pub volumes: usize,
}

/// Removes every container, network and volume labelled `io.gantry.managed=true`, whatever run
/// or owner created it (`gantry clean --all`).
pub async fn clean_all(docker: &Docker) -> Result<CleanReport, ExecutorError> {
    clean(docker, &Selection::All).await
}

/// Removes what one run left (its containers, networks and volumes), e.g. after
/// `--keep-containers` once the user is done looking.
pub async fn clean_run(docker: &Docker, run_id: &str) -> Result<CleanReport, ExecutorError> {
    clean(docker, &Selection::Run(run_id.to_string())).await
}

/// Removes the selected objects, the images of docker actions among them, and the host job
/// directories of removed job containers.
pub async fn clean(docker: &Docker, selection: &Selection) -> Result<CleanReport, ExecutorError> {
    let found = list(docker, selection).await?;
    let report = CleanReport {
        containers: found.containers.len(),
        networks: found.networks.len(),
        volumes: found.volumes.len(),
    };
    let mut resources: Resources = found.into();
    // Docker actions' images (`image: Dockerfile`) carry the labels too; not in the report,
    // whose shape callers already match.
    resources.images = managed_images(docker, selection).await?;
    let job_dirs = job_dirs(docker, &resources.containers).await;
    remove_all(docker, resources).await?;
    for dir in job_dirs {
        if let Err(e) = std::fs::remove_dir_all(&dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(crate::io_error(format!("removing {}", dir.display()), e));
        }
    }
    Ok(report)
}

/// [`clean`] for `Drop` guards (tests that must leave nothing behind, even when they fail): blocks
/// the calling thread, which may be a runtime's own, even one a panic is tearing down, so the
/// cleanup runs on a thread of its own with a runtime of its own and the default engine.
pub fn clean_blocking(selection: &Selection) -> Result<CleanReport, ExecutorError> {
    let selection = selection.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| crate::io_error("starting a runtime for the cleanup", e))?;
        runtime.block_on(async {
            let docker = Docker::connect_with_defaults()
                .map_err(|e| crate::engine_error("connecting to docker", e))?;
            clean(&docker, &selection).await
        })
    })
    .join()
    .map_err(|_| ExecutorError::Other("the cleanup thread panicked".into()))?
}

/// The host job directories (`gantry-job-*` in this machine's temp directory, bind-mounted at
/// `/__w`) of job containers a killed gantry left behind: they hold the workspace copy.
async fn job_dirs(docker: &Docker, containers: &[String]) -> Vec<std::path::PathBuf> {
    let temp = std::env::temp_dir();
    let mut dirs = Vec::new();
    for id in containers {
        let Ok(info) = docker.inspect_container(id, None).await else {
            continue;
        };
        let work = info
            .mounts
            .unwrap_or_default()
            .into_iter()
            .find(|m| m.destination.as_deref() == Some(crate::docker::WORK_ROOT))
            .and_then(|m| m.source);
        let dir = work
            .as_deref()
            .and_then(|w| std::path::Path::new(w).parent())
            .filter(|d| d.parent() == Some(temp.as_path()))
            .filter(|d| {
                d.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("gantry-job-"))
            });
        if let Some(dir) = dir {
            dirs.push(dir.to_path_buf());
        }
    }
    dirs
}

async fn managed_images(
    docker: &Docker,
    selection: &Selection,
) -> Result<Vec<String>, ExecutorError> {
    let label = selection.filter();
    let filters = HashMap::from([("label", vec![label.as_str()])]);
    let images = docker
        .list_images(Some(
            ListImagesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| engine_error("listing images", e))?;
    Ok(images
        .into_iter()
        .filter(|i| selection.keeps(Some(&i.labels)))
        .map(|i| i.id)
        .collect())
}

/// Lists managed objects, optionally only those of one run (tests use this to prove nothing
/// leaked).
pub async fn list_managed(
    docker: &Docker,
    run_id: Option<&str>,
) -> Result<ManagedObjects, ExecutorError> {
    let selection = match run_id {
        Some(id) => Selection::Run(id.to_string()),
        None => Selection::All,
    };
    list(docker, &selection).await
}

/// The selected containers, networks and volumes.
pub async fn list(docker: &Docker, selection: &Selection) -> Result<ManagedObjects, ExecutorError> {
    let label = selection.filter();
    let filters = HashMap::from([("label", vec![label.as_str()])]);
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| engine_error("listing containers", e))?;
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| engine_error("listing networks", e))?;
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| engine_error("listing volumes", e))?;
    Ok(Resources {
        containers: containers
            .into_iter()
            .filter(|c| selection.keeps(c.labels.as_ref()))
            .filter_map(|c| c.id)
            .collect(),
        networks: networks
            .into_iter()
            .filter(|n| selection.keeps(n.labels.as_ref()))
            .filter_map(|n| n.id)
            .collect(),
        volumes: volumes
            .volumes
            .unwrap_or_default()
            .into_iter()
            .filter(|v| selection.keeps(Some(&v.labels)))
            .map(|v| v.name)
            .collect(),
        images: Vec::new(),
    }
    .into())
}

/// Engine objects found by label.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ManagedObjects {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
}

impl ManagedObjects {
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.networks.is_empty() && self.volumes.is_empty()
    }
}

impl From<Resources> for ManagedObjects {
    fn from(r: Resources) -> Self {
        Self {
            containers: r.containers,
            networks: r.networks,
            volumes: r.volumes,
        }
    }
}

impl From<ManagedObjects> for Resources {
    fn from(m: ManagedObjects) -> Self {
        Self {
            containers: m.containers,
            networks: m.networks,
            volumes: m.volumes,
            images: Vec::new(),
        }
    }
}
