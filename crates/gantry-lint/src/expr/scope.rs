//! The type of each context at one place of a workflow: `matrix` from the job's matrix, `steps`
//! from the steps before this one, `needs` from the job's `needs:`, `inputs` from the triggers.

use std::cell::RefCell;

use gantry_workflow::{InputType, Job, Matrix, StepKind, Workflow, Yaml};

use super::contexts;
use super::types::{Hint, Obj, Ty};

/// The fixed shapes, built once per linter.
#[derive(Debug)]
pub struct Statics {
    github: Ty,
    runner: Ty,
    strategy: Ty,
    job: Ty,
}

impl Default for Statics {
    fn default() -> Self {
        Statics {
            github: contexts::github(),
            runner: contexts::runner(),
            strategy: contexts::strategy(),
            job: contexts::job(),
        }
    }
}

/// What declares the outputs of a `uses:` step: the action's name as shown and its output
/// names; `None` when the action's metadata is unknown.
pub type StepOutputs<'a> = dyn Fn(&str) -> Option<(String, Vec<String>)> + 'a;

/// One place in a workflow.
pub struct Scope<'a> {
    pub workflow: &'a Workflow,
    pub job: Option<&'a Job>,
    /// `None` at job level: every step of the job (as `jobs.<id>.outputs` sees them).
    pub step: Option<usize>,
    pub statics: &'a Statics,
    pub step_outputs: &'a StepOutputs<'a>,
    /// Types already built here, by lower-case name (a site refers to `steps` or `matrix`
    /// many times, and building them walks the job).
    cache: RefCell<Vec<(String, Ty)>>,
}

impl<'a> Scope<'a> {
    pub fn new(
        workflow: &'a Workflow,
        job: Option<&'a Job>,
        step: Option<usize>,
        statics: &'a Statics,
        step_outputs: &'a StepOutputs<'a>,
    ) -> Self {
        Scope {
            workflow,
            job,
            step,
            statics,
            step_outputs,
            cache: RefCell::new(Vec::new()),
        }
    }

    /// The type of the named value `name` here (`Any` for contexts without a known shape).
    pub fn named(&self, name: &str) -> Ty {
        let lower = name.to_ascii_lowercase();
        if let Some((_, ty)) = self.cache.borrow().iter().find(|(n, _)| *n == lower) {
            return ty.clone();
        }
        let ty = self.build(&lower);
        self.cache.borrow_mut().push((lower, ty.clone()));
        ty
    }

    fn build(&self, lower: &str) -> Ty {
        match lower {
            "github" => self.statics.github.clone(),
            "runner" => self.statics.runner.clone(),
            "strategy" => self.statics.strategy.clone(),
            "job" => self.statics.job.clone(),
            "env" | "vars" => Ty::map(Ty::String),
            "secrets" => self.secrets(),
            "inputs" => self.inputs(),
            "matrix" => self.job.map_or(Ty::Any, matrix),
            "steps" => self.job.map_or(Ty::Any, |job| self.steps(job)),
            "needs" => self.job.map_or(Ty::Any, |job| self.needs(job)),
            "jobs" => self.jobs(),
            _ => Ty::Any,
        }
    }

    fn inputs(&self) -> Ty {
        let mut props = Vec::new();
        for event in ["workflow_dispatch", "workflow_call"] {
            let Some(config) = self.workflow.on.events.get(event) else {
                continue;
            };
            for (name, input) in &config.value.inputs {
                let ty = match input.value.kind {
                    InputType::Boolean => Ty::Bool,
                    InputType::Number => Ty::Number,
                    _ => Ty::String,
                };
                let name = name.to_ascii_lowercase();
                match props.iter().position(|(n, _)| *n == name) {
                    // An input of both triggers with two types: either may come.
                    Some(at) => {
                        let (_, old): &mut (String, Ty) = &mut props[at];
                        *old = std::mem::replace(old, Ty::Any).join(ty);
                    }
                    None => props.push((name, ty)),
                }
            }
        }
        Ty::obj(Obj::strict(Hint::Inputs, props))
    }

    /// A reusable workflow that only runs when called sees the secrets it declares (and
    /// `GITHUB_TOKEN`); any other workflow may read every secret of the repository.
    fn secrets(&self) -> Ty {
        let events = &self.workflow.on.events;
        let call = events.get("workflow_call");
        match call {
            Some(call) if events.len() == 1 && !call.value.secrets.is_empty() => {
                let mut props: Vec<(String, Ty)> = call
                    .value
                    .secrets
                    .keys()
                    .map(|k| (k.to_ascii_lowercase(), Ty::String))
                    .collect();
                props.push(("github_token".into(), Ty::String));
                Ty::obj(Obj::strict(Hint::Secrets, props))
            }
            _ => Ty::map(Ty::String),
        }
    }

    fn steps(&self, job: &Job) -> Ty {
        let before = self.step.unwrap_or(job.steps.len()).min(job.steps.len());
        let mut props = Vec::new();
        for step in &job.steps[..before] {
            let Some(id) = &step.id else { continue };
            let outputs = match &step.kind {
                StepKind::Uses { uses, .. } => match (self.step_outputs)(&uses.value) {
                    Some((action, names)) => Ty::obj(Obj::strict(
                        Hint::StepOutputs {
                            step: id.value.clone(),
                            action,
                        },
                        names
                            .into_iter()
                            .map(|n| (n.to_ascii_lowercase(), Ty::String))
                            .collect(),
                    )),
                    None => Ty::map(Ty::String),
                },
                StepKind::Run { .. } => Ty::map(Ty::String),
            };
            props.push((id.value.to_ascii_lowercase(), contexts::step(outputs)));
        }
        Ty::obj(Obj::strict(Hint::Steps, props))
    }

    fn needs(&self, job: &Job) -> Ty {
        let props = job
            .needs
            .iter()
            .map(|need| {
                (
                    need.value.to_ascii_lowercase(),
                    self.job_result(&need.value),
                )
            })
            .collect();
        Ty::obj(Obj::strict(Hint::Needs, props))
    }

    fn jobs(&self) -> Ty {
        let props = self
            .workflow
            .jobs
            .keys()
            .map(|id| (id.to_ascii_lowercase(), self.job_result(id)))
            .collect();
        Ty::obj(Obj::strict(Hint::Jobs, props))
    }

    /// `needs.<id>`: the job's declared outputs; a reusable-workflow call's come from the callee.
    fn job_result(&self, id: &str) -> Ty {
        let found = self
            .workflow
            .jobs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(id))
            .map(|(_, j)| j);
        let outputs = match found {
            Some(job) if job.uses.is_none() => Ty::obj(Obj::strict(
                Hint::JobOutputs(job.id.value.clone()),
                job.outputs
                    .keys()
                    .map(|k| (k.to_ascii_lowercase(), Ty::String))
                    .collect(),
            )),
            Some(_) => Ty::map(Ty::String),
            None => return Ty::Any,
        };
        contexts::need(outputs)
    }
}

/// `matrix` in a job: its vector names and the keys its `include` entries add.
fn matrix(job: &Job) -> Ty {
    let Some(strategy) = &job.strategy else {
        return Ty::obj(Obj::strict(Hint::Matrix, Vec::new()));
    };
    let Some(matrix) = &strategy.value.matrix else {
        return Ty::obj(Obj::strict(Hint::Matrix, Vec::new()));
    };
    let Matrix::Map {
        dimensions,
        include,
        ..
    } = &matrix.value
    else {
        return Ty::Any;
    };
    let mut props: Vec<(String, Ty)> = Vec::new();
    let mut add = |name: &str| {
        let name = name.to_ascii_lowercase();
        if !props.iter().any(|(n, _)| *n == name) {
            props.push((name, Ty::Any));
        }
    };
    for (name, _) in dimensions {
        add(&name.value);
    }
    match include.as_ref().map(|i| &i.value) {
        None => {}
        Some(Yaml::Seq(entries)) => {
            for entry in entries {
                match &entry.value {
                    Yaml::Map(keys) => keys.iter().for_each(|(k, _)| add(&k.value)),
                    // `include: [${{ fromJSON(...) }}]`: keys known only at run time.
                    _ => return Ty::Any,
                }
            }
        }
        Some(_) => return Ty::Any,
    }
    Ty::obj(Obj::strict(Hint::Matrix, props))
}
