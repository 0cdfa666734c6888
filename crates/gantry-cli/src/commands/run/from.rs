//! `gantry run --from JOB.STEP`: run a job from one step on.
//!
//! gantry does not yet re-attach to a kept job environment, so the environment is re-created
//! by replaying the steps before STEP (said up front); their output is kept out of the
//! terminal (it is still in the run log), so what shows is the step being worked on. The
//! workflow is read afresh by every `gantry run`, so an edited step is the one that runs.

use std::collections::HashSet;

use crate::engine::{RunEvent, StepAt, Workflow, static_name};

use super::RunError;

#[derive(Debug, Clone)]
pub struct From {
    pub job: String,
    /// 0-based position of the step to start from.
    pub index: usize,
    pub name: String,
    /// Keys of the job's instances (matrix rows), learnt from `JobStarted`.
    keys: HashSet<String>,
}

/// The job id a `--from` selector names (the text before the first `.`).
pub fn job_of(selector: &str) -> &str {
    selector.split_once('.').map_or(selector, |(job, _)| job)
}

impl From {
    /// Finds the step `selector` (`JOB.STEP`) names in one of `workflows`.
    pub fn resolve<'w>(
        selector: &str,
        workflows: impl IntoIterator<Item = &'w Workflow>,
    ) -> Result<Self, RunError> {
        let Some((job_id, _)) = selector.split_once('.') else {
            return Err(RunError::FromSelector(selector.to_owned()));
        };
        for workflow in workflows {
            let Some(job) = workflow.jobs.get(job_id) else {
                continue;
            };
            for (index, step) in job.steps.iter().enumerate() {
                let name = static_name(step);
                let at = StepAt {
                    job_id,
                    index,
                    step_id: step.id.as_ref().map(|i| i.value.as_str()),
                    name: &name,
                };
                if at.matches(selector) {
                    return Ok(Self {
                        job: job_id.to_owned(),
                        index,
                        name,
                        keys: HashSet::new(),
                    });
                }
            }
        }
        Err(RunError::UnknownSteps(vec![selector.to_owned()]))
    }

    pub fn announce(&self) -> String {
        let from = format!("step {} `{}`", self.index + 1, self.name);
        if self.index == 0 {
            return format!("gantry: running job `{}` from {from}\n", self.job);
        }
        format!(
            "gantry: no kept environment to reuse for job `{}`; re-creating it by replaying steps 1-{} (their output is in the run log), then running from {from}\n",
            self.job, self.index
        )
    }

    /// Whether `event` is output of a replayed step, kept off the terminal.
    pub fn quiet(&mut self, event: &RunEvent) -> bool {
        let (job, step) = match event {
            RunEvent::JobStarted { job, job_id, .. } => {
                if *job_id == self.job {
                    self.keys.insert(job.clone());
                }
                return false;
            }
            RunEvent::Log { job, step, .. }
            | RunEvent::GroupStarted { job, step, .. }
            | RunEvent::GroupEnded { job, step }
            | RunEvent::Annotation { job, step, .. } => (job, step.as_ref()),
            RunEvent::StepSummary { job, step, .. } => (job, Some(step)),
            _ => return false,
        };
        let Some(step) = step else {
            return false;
        };
        let position: Option<usize> = step.path.split('.').next().and_then(|p| p.parse().ok());
        self.keys.contains(job) && position.is_some_and(|p| p < self.index)
    }
}
