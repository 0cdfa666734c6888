//! Job-level `concurrency:` across the runs this daemon executes: a job whose group another
//! job holds waits (its log says so) until that job finishes, then starts.
//!
//! The engine creates a job's environment through its [`Executor`] right before the job's
//! steps run, so the wait sits in a wrapping executor; the group is released when the engine
//! reports the job finished (or when the run ends). Within one run the engine already applies
//! GitHub's rules (gantry-runner's `concurrency`: one waiting job per group, replacement,
//! `cancel-in-progress`, groups reading `matrix` or `needs`); across runs those are not
//! supported yet here.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use gantry_runner::executor::{Executor, ExecutorError, JobEnvironment, JobSpec};
use gantry_workflow::Workflow;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use crate::launcher::RunEvent;

/// The daemon-wide table of groups: one single-permit semaphore per group name.
#[derive(Default)]
pub struct JobGroups {
    slots: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl JobGroups {
    fn slot(&self, group: &str) -> Arc<Semaphore> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots
            .entry(group.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(1)))
            .clone()
    }
}

/// One run's executor: jobs with a group take it before their environment is created.
pub(crate) struct GroupedExecutor {
    pub inner: Arc<dyn Executor>,
    pub groups: Arc<JobGroups>,
    pub workflow: Arc<Workflow>,
    /// Job id → group.
    pub by_job: BTreeMap<String, String>,
    pub events: mpsc::Sender<RunEvent>,
    pub cancel: CancellationToken,
    /// Job key → the group it holds.
    pub held: Mutex<HashMap<String, OwnedSemaphorePermit>>,
}

impl GroupedExecutor {
    /// Gives the group back when the engine reports the job finished.
    pub fn release(&self, job_key: &str) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.remove(job_key);
    }

    async fn take(&self, job_key: &str, group: &str) -> Result<(), ExecutorError> {
        let slot = self.groups.slot(group);
        let permit = match slot.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let text =
                    format!("Waiting for the concurrency group '{group}' (another job holds it)");
                let log = RunEvent::Log {
                    job: job_key.to_owned(),
                    step: None,
                    text,
                };
                let _ = self.events.send(log).await;
                tokio::select! {
                    permit = slot.acquire_owned() => permit
                        .map_err(|e| ExecutorError::Other(format!("concurrency group: {e}")))?,
                    () = self.cancel.cancelled() => {
                        return Err(ExecutorError::Other(
                            "cancelled while waiting for the concurrency group".to_owned(),
                        ));
                    }
                }
            }
        };
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.insert(job_key.to_owned(), permit);
        Ok(())
    }
}

#[async_trait::async_trait]
impl Executor for GroupedExecutor {
    async fn start_job(&self, spec: JobSpec) -> Result<Box<dyn JobEnvironment>, ExecutorError> {
        let id = crate::engine::job_id_of(&self.workflow, &spec.job_key);
        if let Some(group) = self.by_job.get(&id) {
            self.take(&spec.job_key, group).await?;
        }
        let key = spec.job_key.clone();
        let started = self.inner.start_job(spec).await;
        if started.is_err() {
            self.release(&key);
        }
        started
    }
}
