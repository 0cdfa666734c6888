//! The run engine: one dispatcher task over a closed set of [`Dispatch`] messages, one task per
//! job instance owning that job's state. A job starts as soon as the jobs it needs are done
//! (no stage barriers), within `max_jobs` and its matrix's `max-parallel`.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use gantry_plan::{CalledWorkflow, MatrixPlan, WorkflowPlan};
use gantry_workflow::{Job, OrExpr, Workflow};
use indexmap::IndexMap;
use serde_json::{Map, Value as Json, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::actions::ActionRegistry;
use crate::calls::{CallScope, call_outputs, call_result, callee_scope, jobs_context};
use crate::concurrency::{Admit, JobGroups, Slot};
use crate::context::{GithubInfo, NeedRecord, Status};
use crate::event::{Conclusion, JobSummary, LogStream, RunEvent, RunResult};
use crate::executor::{Executor, Platform};
use crate::job::{EventSink, JobInstance, JobOutcome, RunShared, job_scope, millis, run_job};
use crate::mask::SharedMasker;
use crate::workflow_commands::{Annotation, AnnotationLevel};

/// How to run: everything that is not in the workflow file.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Unique per run (container labels, log directory).
    pub run_id: String,
    pub github: GithubInfo,
    pub secrets: IndexMap<String, String>,
    pub vars: IndexMap<String, String>,
    /// Variables the runner itself gives every step's process, as GitHub's runner gives
    /// `ACTIONS_RUNTIME_URL`, `ACTIONS_RUNTIME_TOKEN`, ...: below the workflow's `env` (which
    /// may override them), in called workflows too, and not part of the `env` context.
    pub runner_env: IndexMap<String, String>,
    /// Values masked in everything the run reports, like secrets, though no `secrets.*` names
    /// them (the runner services' token).
    pub masked_values: Vec<String>,
    /// `runs-on` label (lower-case) → where jobs with that label run.
    pub platforms: IndexMap<String, Platform>,
    /// Where jobs go whose labels are not in `platforms` (`None`: such jobs are skipped with a
    /// notice, or fail with `strict_platforms`).
    pub default_platform: Option<Platform>,
    /// A job whose `runs-on` maps to no platform fails instead of being skipped.
    pub strict_platforms: bool,
    /// The directory copied into each job's workspace.
    pub workspace_source: Option<PathBuf>,
    /// Jobs running at once across the run.
    pub max_jobs: usize,
    /// `ACTIONS_STEP_DEBUG` / `ACTIONS_RUNNER_DEBUG`: show debug lines, set `RUNNER_DEBUG`.
    pub step_debug: bool,
    pub docker_socket: bool,
    pub keep_containers: bool,
    /// Cancelling stops running steps (cleanup still runs); the run ends `cancelled`.
    pub cancel: CancellationToken,
    pub actions: ActionRegistry,
    /// Breakpoints and the front end that answers them (`gantry run --pause-*`).
    pub debug: Option<crate::debugger::DebugOptions>,
}

impl RunOptions {
    pub fn new(run_id: impl Into<String>) -> Self {
        Self {
            run_id: run_id.into(),
            github: GithubInfo::default(),
            secrets: IndexMap::new(),
            vars: IndexMap::new(),
            runner_env: IndexMap::new(),
            masked_values: Vec::new(),
            platforms: IndexMap::new(),
            default_platform: None,
            strict_platforms: false,
            workspace_source: None,
            max_jobs: 4,
            step_debug: false,
            docker_socket: false,
            keep_containers: false,
            cancel: CancellationToken::new(),
            actions: ActionRegistry::with_defaults(),
            debug: None,
        }
    }
}

/// Everything the dispatcher reacts to.
pub(crate) enum Dispatch {
    /// An event from a job task, to mask with the masker it names, record and forward.
    Event(RunEvent, SharedMasker),
    JobFinished {
        node: usize,
        instance: usize,
        outcome: JobOutcome,
    },
    Cancel,
}

/// Runs the jobs of `plan` (from `gantry_plan::plan_workflow`) and streams [`RunEvent`]s to
/// `events` (every string already masked). Returns when every job has finished and its
/// environment has been cleaned up.
pub async fn run(
    workflow: Arc<Workflow>,
    plan: &WorkflowPlan,
    options: RunOptions,
    executor: Arc<dyn Executor>,
    events: mpsc::UnboundedSender<RunEvent>,
) -> RunResult {
    let started = Instant::now();
    let (tx, rx) = mpsc::unbounded_channel();
    let cancel = options.cancel.clone();
    let watcher = {
        let tx = tx.clone();
        tokio::spawn(async move {
            cancel.cancelled().await;
            let _ = tx.send(Dispatch::Cancel);
        })
    };
    let root = Arc::new(CallScope {
        workflow,
        inputs: plan.inputs.clone(),
        secrets: options.secrets.clone(),
        key_prefix: String::new(),
        name_prefix: String::new(),
    });
    let shared = Arc::new(RunShared {
        masker: RunShared::masker_for(&options),
        options,
        executor,
    });
    let mut dispatcher = Dispatcher::new(shared, root, plan, tx, events);
    dispatcher.emit(RunEvent::RunStarted {
        run_id: dispatcher.shared.options.run_id.clone(),
        workflow: dispatcher.shared.options.github.workflow.clone(),
        jobs: dispatcher.nodes.iter().map(|n| n.id.clone()).collect(),
    });
    dispatcher.run(rx).await;
    watcher.abort();
    dispatcher.finish(millis(started.elapsed()))
}

struct Node {
    /// The job id in its workflow.
    id: String,
    /// The workflow the job is in.
    scope: Arc<CallScope>,
    /// The workflow this job calls (`jobs.<id>.uses`), planned.
    call: Option<Arc<CalledWorkflow>>,
    /// The call ([`Dispatcher::calls`]) whose callee this job belongs to.
    parent: Option<usize>,
    needs: Vec<usize>,
    matrix: MatrixPlan,
    state: NodeState,
    instances: Vec<JobInstance>,
    results: Vec<Option<JobOutcome>>,
    queue: VecDeque<usize>,
    running: usize,
    fail_fast: bool,
    max_parallel: usize,
    cancel: CancellationToken,
    outputs: Map<String, Json>,
}

#[derive(Debug, Clone, PartialEq)]
enum NodeState {
    Waiting,
    Active,
    Done(NeedRecord),
}

/// One calling instance whose callee's jobs are nodes of the graph.
struct CallRun {
    node: usize,
    instance: usize,
    /// The callee's jobs.
    children: Vec<usize>,
    scope: Arc<CallScope>,
}

struct Dispatcher {
    shared: Arc<RunShared>,
    /// Jobs of the run's workflow, then those of called workflows as their calls start.
    nodes: Vec<Node>,
    calls: Vec<CallRun>,
    tx: mpsc::UnboundedSender<Dispatch>,
    out: mpsc::UnboundedSender<RunEvent>,
    /// Masks the events the dispatcher makes itself and those of jobs not yet set up.
    masker: SharedMasker,
    running: usize,
    /// Job-level `concurrency:` groups.
    groups: JobGroups,
    jobs: Vec<JobSummary>,
    summaries: Vec<String>,
    annotations: Vec<Annotation>,
}

impl Dispatcher {
    fn new(
        shared: Arc<RunShared>,
        root: Arc<CallScope>,
        plan: &WorkflowPlan,
        tx: mpsc::UnboundedSender<Dispatch>,
        out: mpsc::UnboundedSender<RunEvent>,
    ) -> Self {
        let nodes = new_nodes(&plan.jobs, 0, &root, None, &shared.options.cancel);
        Self {
            masker: SharedMasker::new(shared.masker.clone()),
            shared,
            nodes,
            calls: Vec::new(),
            tx,
            out,
            running: 0,
            groups: JobGroups::default(),
            jobs: Vec::new(),
            summaries: Vec::new(),
            annotations: Vec::new(),
        }
    }

    async fn run(&mut self, mut rx: mpsc::UnboundedReceiver<Dispatch>) {
        loop {
            self.schedule();
            if self
                .nodes
                .iter()
                .all(|n| matches!(n.state, NodeState::Done(_)))
            {
                return;
            }
            match rx.recv().await {
                Some(Dispatch::Event(event, masker)) => self.emit_masked(event, &masker),
                Some(Dispatch::JobFinished {
                    node,
                    instance,
                    outcome,
                }) => {
                    self.running -= 1;
                    self.finished(node, instance, outcome);
                }
                Some(Dispatch::Cancel) => self.cancel_queued(),
                // Unreachable while `self.tx` lives; stop rather than spin.
                None => return,
            }
        }
    }

    fn emit(&mut self, event: RunEvent) {
        let masker = self.masker.clone();
        self.emit_masked(event, &masker);
    }

    /// The one place events leave the runner: every string is masked here, whoever made the
    /// event, before it is recorded for the result or forwarded.
    fn emit_masked(&mut self, event: RunEvent, masker: &SharedMasker) {
        let event = event.masked(&masker.read());
        match &event {
            RunEvent::JobFinished {
                job,
                job_id,
                name,
                outcome,
                conclusion,
                duration_ms,
                outputs,
            } => {
                self.jobs.push(JobSummary {
                    job: job.clone(),
                    job_id: job_id.clone(),
                    name: name.clone(),
                    outcome: *outcome,
                    conclusion: *conclusion,
                    duration_ms: *duration_ms,
                    outputs: outputs.clone(),
                });
            }
            RunEvent::StepSummary { markdown, .. } => self.summaries.push(markdown.clone()),
            RunEvent::Annotation { annotation, .. } => self.annotations.push(annotation.clone()),
            _ => {}
        }
        // The consumer may have gone away (a closed terminal); the run still completes.
        let _ = self.out.send(event);
    }

    /// Activates every job whose needs are done, then starts queued instances within limits,
    /// until nothing changes (a starting call adds jobs; a call may end at once).
    fn schedule(&mut self) {
        loop {
            let mut progress = false;
            for i in 0..self.nodes.len() {
                let ready = self.nodes[i].state == NodeState::Waiting
                    && self.nodes[i]
                        .needs
                        .iter()
                        .all(|&n| matches!(self.nodes[n].state, NodeState::Done(_)));
                if ready {
                    progress = true;
                    self.activate(i);
                }
            }
            for i in 0..self.nodes.len() {
                while self.running < self.shared.options.max_jobs.max(1)
                    && self.nodes[i].running < self.nodes[i].max_parallel
                {
                    let Some(instance) = self.nodes[i].queue.pop_front() else {
                        break;
                    };
                    progress = true;
                    if self.nodes[i].call.is_some() {
                        self.start_call(i, instance);
                    } else {
                        self.admit(i, instance);
                    }
                }
            }
            if !progress {
                return;
            }
        }
    }

    /// A calling instance: its callee's jobs join the graph (they take job slots, not it).
    fn start_call(&mut self, node: usize, instance: usize) {
        self.nodes[node].running += 1;
        let inst = self.nodes[node].instances[instance].clone();
        let (Some(call), Some(job)) = (self.nodes[node].call.clone(), inst.scope.job(&inst.id))
        else {
            return;
        };
        let scope = job_scope(&self.shared, &inst);
        let child = callee_scope(&inst.scope, job, &call, &scope, &inst.key, &inst.name);
        drop(scope);
        let child = match child {
            Ok(child) => Arc::new(child),
            Err(e) => {
                self.emit(RunEvent::Annotation {
                    job: inst.key.clone(),
                    step: None,
                    annotation: Annotation::plain(AnnotationLevel::Error, e.to_string()),
                });
                self.emit(RunEvent::JobFinished {
                    job: inst.key.clone(),
                    job_id: inst.id.clone(),
                    name: inst.name.clone(),
                    outcome: Conclusion::Failure,
                    conclusion: Conclusion::Failure,
                    duration_ms: 0,
                    outputs: Map::new(),
                });
                let outcome = JobOutcome {
                    outcome: Conclusion::Failure,
                    conclusion: Conclusion::Failure,
                    outputs: Map::new(),
                };
                self.finished(node, instance, outcome);
                return;
            }
        };
        let index = self.calls.len();
        let base = self.nodes.len();
        let nodes = new_nodes(&call.jobs, base, &child, Some(index), &inst.cancel);
        self.nodes.extend(nodes);
        self.calls.push(CallRun {
            node,
            instance,
            children: (base..self.nodes.len()).collect(),
            scope: child,
        });
        if call.jobs.is_empty() {
            self.finish_call(index);
        }
    }

    /// A node is done: when it was the last job of a callee, the call is done too.
    fn node_done(&mut self, i: usize) {
        let Some(call) = self.nodes[i].parent else {
            return;
        };
        let all_done = self.calls[call]
            .children
            .iter()
            .all(|&n| matches!(self.nodes[n].state, NodeState::Done(_)));
        if all_done {
            self.finish_call(call);
        }
    }

    /// The callee's result and `on.workflow_call.outputs` become the calling instance's.
    fn finish_call(&mut self, call: usize) {
        let run = &self.calls[call];
        let (node, instance) = (run.node, run.instance);
        let mut jobs = IndexMap::new();
        for &n in &run.children {
            if let Some(record) = self.need_record(n) {
                jobs.insert(self.nodes[n].id.clone(), record.clone());
            }
        }
        let results: Vec<Conclusion> = jobs.values().map(|r| r.result).collect();
        let result = call_result(&results);
        let mut inst = self.nodes[node].instances[instance].clone();
        inst.scope = run.scope.clone();
        let mut scope = job_scope(&self.shared, &inst);
        scope.set("jobs", jobs_context(&jobs));
        let (outputs, errors) = call_outputs(&run.scope.workflow, &scope);
        drop(scope);
        for message in errors {
            self.emit(RunEvent::Annotation {
                job: inst.key.clone(),
                step: None,
                annotation: Annotation::plain(AnnotationLevel::Error, message),
            });
        }
        let outcome = JobOutcome {
            outcome: result,
            conclusion: result,
            outputs,
        };
        self.finished(node, instance, outcome);
    }

    /// Starts an instance unless its `concurrency:` group is held: then it waits, replacing
    /// the instance that waited before it and, with `cancel-in-progress`, cancelling the
    /// holder (see [`crate::concurrency`]).
    fn admit(&mut self, node: usize, instance: usize) {
        let inst = &self.nodes[node].instances[instance];
        let Some(concurrency) = inst.scope.job(&inst.id).and_then(|j| j.concurrency.clone()) else {
            self.start(node, instance);
            return;
        };
        let evaluated = {
            let scope = job_scope(&self.shared, inst);
            scope
                .eval_string(&concurrency.value.group.value)
                .and_then(|group| {
                    let cancel = match concurrency
                        .value
                        .cancel_in_progress
                        .as_ref()
                        .map(|c| &c.value)
                    {
                        None => false,
                        Some(OrExpr::Value(b)) => *b,
                        Some(OrExpr::Expr(source)) => scope.eval_value(source)?.is_truthy(),
                    };
                    Ok((group, cancel))
                })
        };
        let (group, cancel_in_progress) = match evaluated {
            Ok((group, _)) if group.is_empty() => {
                self.start(node, instance);
                return;
            }
            Ok(found) => found,
            Err(e) => {
                let message = format!("The job's concurrency group is invalid: {e}");
                self.finish_unstarted((node, instance), Conclusion::Failure, Some(message));
                return;
            }
        };
        match self
            .groups
            .admit(&group, (node, instance), cancel_in_progress)
        {
            Admit::Start => self.start(node, instance),
            Admit::Wait {
                replaced,
                cancel_running,
            } => {
                let key = self.nodes[node].instances[instance].key.clone();
                self.emit(RunEvent::Log {
                    job: key,
                    step: None,
                    stream: LogStream::Runner,
                    line: format!(
                        "Waiting for the concurrency group '{group}' (another job holds it)"
                    ),
                });
                if let Some(old) = replaced {
                    let message = crate::concurrency::replaced_message(&group);
                    self.finish_unstarted(old, Conclusion::Cancelled, Some(message));
                }
                if let Some((n, k)) = cancel_running {
                    let holder = self.nodes[n].instances[k].key.clone();
                    let message = crate::concurrency::cancelled_in_progress_message(&group);
                    self.emit(RunEvent::Annotation {
                        job: holder,
                        step: None,
                        annotation: Annotation::plain(AnnotationLevel::Error, message),
                    });
                    self.nodes[n].instances[k].cancel.cancel();
                }
            }
        }
    }

    /// The instance that waited for `slot`'s group starts now that `slot` is done (or ends
    /// cancelled at once when its run or job was cancelled meanwhile).
    fn release_group(&mut self, slot: Slot) {
        let Some((node, instance)) = self.groups.release(slot) else {
            return;
        };
        if self.nodes[node].instances[instance].cancel.is_cancelled() {
            self.finish_unstarted((node, instance), Conclusion::Cancelled, None);
            self.release_group((node, instance));
        } else {
            self.start(node, instance);
        }
    }

    fn start(&mut self, node: usize, instance: usize) {
        self.running += 1;
        self.nodes[node].running += 1;
        let inst = self.nodes[node].instances[instance].clone();
        let shared = self.shared.clone();
        let tx = self.tx.clone();
        let masker = self.masker.clone();
        tokio::spawn(async move {
            let sink = EventSink::new(tx.clone(), masker);
            let outcome = run_job(shared, inst, sink).await;
            let _ = tx.send(Dispatch::JobFinished {
                node,
                instance,
                outcome,
            });
        });
    }

    /// The transitive needs of a node.
    fn ancestors(&self, node: usize) -> Vec<usize> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack = self.nodes[node].needs.clone();
        let mut out = Vec::new();
        while let Some(n) = stack.pop() {
            if !std::mem::replace(&mut seen[n], true) {
                out.push(n);
                stack.extend(self.nodes[n].needs.iter().copied());
            }
        }
        out
    }

    fn need_record(&self, node: usize) -> Option<&NeedRecord> {
        match &self.nodes[node].state {
            NodeState::Done(record) => Some(record),
            _ => None,
        }
    }

    /// A job's `if`, matrix and strategy; queues its instances or finishes it right away.
    fn activate(&mut self, i: usize) {
        let scope_of = self.nodes[i].scope.clone();
        let Some(job) = scope_of.job(&self.nodes[i].id).cloned() else {
            self.done_without_running(
                i,
                Conclusion::Failure,
                Some(format!("job '{}' is not in the workflow", self.nodes[i].id)),
            );
            return;
        };
        let ancestors = self.ancestors(i);
        let results: Vec<Conclusion> = ancestors
            .iter()
            .filter_map(|&a| self.need_record(a))
            .map(|r| r.result)
            .collect();
        // A called job also stops when its caller was cancelled (fail-fast of a calling matrix).
        let cancelled =
            self.shared.options.cancel.is_cancelled() || self.nodes[i].cancel.is_cancelled();
        let status = Status::Job {
            all_needs_succeeded: results.iter().all(|r| *r == Conclusion::Success),
            any_need_failed: results.contains(&Conclusion::Failure),
            cancelled,
        };
        let mut needs = IndexMap::new();
        for &n in &self.nodes[i].needs {
            if let Some(record) = self.need_record(n) {
                needs.insert(self.nodes[n].id.clone(), record.clone());
            }
        }
        let base = JobInstance {
            key: format!("{}{}", scope_of.key_prefix, self.nodes[i].id),
            id: self.nodes[i].id.clone(),
            name: self.nodes[i].id.clone(),
            scope: scope_of.clone(),
            matrix: None,
            strategy: Json::Null,
            needs,
            cancel: self.nodes[i].cancel.child_token(),
        };
        let mut scope = job_scope(&self.shared, &base);
        scope.set_status(status);
        match scope.eval_condition(job.if_.as_ref().map(|c| c.value.as_str())) {
            Ok(true) => {}
            Ok(false) => {
                drop(scope);
                self.done_without_running(i, Conclusion::Skipped, None);
                return;
            }
            Err(e) => {
                drop(scope);
                self.done_without_running(
                    i,
                    Conclusion::Failure,
                    Some(format!("The job's condition is invalid: {e}")),
                );
                return;
            }
        }
        let rows = match self.matrix_rows(i, &job, &scope) {
            Ok(rows) => rows,
            Err(message) => {
                drop(scope);
                self.done_without_running(i, Conclusion::Failure, Some(message.to_string()));
                return;
            }
        };
        let (fail_fast, max_parallel) = strategy(&job, &scope, rows.len());
        drop(scope);
        self.queue_instances(i, &job, base, rows, fail_fast, max_parallel);
    }

    fn matrix_rows(
        &self,
        i: usize,
        job: &Job,
        scope: &crate::context::Scope<'_>,
    ) -> Result<Vec<Option<Map<String, Json>>>, MatrixError> {
        Ok(match &self.nodes[i].matrix {
            MatrixPlan::None => vec![None],
            MatrixPlan::Rows(rows) => rows.iter().cloned().map(Some).collect(),
            MatrixPlan::Deferred { .. } => {
                let Some(matrix) = job.strategy.as_ref().and_then(|s| s.value.matrix.as_ref())
                else {
                    return Ok(vec![None]);
                };
                let rows = gantry_plan::resolve_matrix(&matrix.value, &mut |text: &str| {
                    scope
                        .eval_value(text)
                        .map(|v| v.to_json())
                        .map_err(|error| gantry_plan::JobMatrixError::Expression {
                            expression: text.to_owned(),
                            error,
                        })
                })
                .map_err(MatrixError)?;
                rows.into_iter().map(Some).collect()
            }
        })
    }

    fn queue_instances(
        &mut self,
        i: usize,
        job: &Job,
        base: JobInstance,
        rows: Vec<Option<Map<String, Json>>>,
        fail_fast: bool,
        max_parallel: usize,
    ) {
        let total = rows.len();
        let mut instances = Vec::new();
        for (index, row) in rows.into_iter().enumerate() {
            let mut inst = base.clone();
            inst.cancel = self.nodes[i].cancel.child_token();
            if total > 1 {
                inst.key = format!("{}-{}", base.key, index + 1);
            }
            inst.strategy = json!({
                "fail-fast": fail_fast,
                "job-index": index,
                "job-total": total,
                "max-parallel": max_parallel.min(total),
            });
            inst.matrix = row;
            inst.name = self.instance_name(job, &inst);
            instances.push(inst);
        }
        let node = &mut self.nodes[i];
        node.fail_fast = fail_fast;
        node.max_parallel = max_parallel.max(1);
        node.results = vec![None; instances.len()];
        node.queue = (0..instances.len()).collect();
        node.instances = instances;
        node.state = NodeState::Active;
        if node.instances.is_empty() {
            self.complete(i);
        }
    }

    /// `name:` evaluated with the row, or `id (v1, v2)` as GitHub shows matrix jobs; a called
    /// job's name follows its caller's (`caller / called`).
    fn instance_name(&self, job: &Job, inst: &JobInstance) -> String {
        let own = if let Some(name) = &job.name {
            let scope = job_scope(&self.shared, inst);
            scope
                .eval_string(&name.value)
                .unwrap_or_else(|_| name.value.clone())
        } else {
            match &inst.matrix {
                Some(row) if !row.is_empty() => {
                    let values: Vec<String> = row.values().map(display_json).collect();
                    format!("{} ({})", inst.id, values.join(", "))
                }
                _ => inst.id.clone(),
            }
        };
        format!("{}{own}", inst.scope.name_prefix)
    }

    /// Finishes a job that never starts (skipped by `if`, or an error before it could run).
    fn done_without_running(&mut self, i: usize, result: Conclusion, error: Option<String>) {
        let id = self.nodes[i].id.clone();
        let scope = self.nodes[i].scope.clone();
        let own = scope
            .job(&id)
            .and_then(|j| j.name.as_ref())
            .filter(|n| !n.value.contains("${{"))
            .map_or_else(|| id.clone(), |n| n.value.clone());
        let name = format!("{}{own}", scope.name_prefix);
        let key = format!("{}{id}", scope.key_prefix);
        if let Some(message) = error {
            self.emit(RunEvent::Annotation {
                job: key.clone(),
                step: None,
                annotation: Annotation::plain(AnnotationLevel::Error, message),
            });
        }
        self.emit(RunEvent::JobFinished {
            job: key,
            job_id: id,
            name,
            outcome: result,
            conclusion: result,
            duration_ms: 0,
            outputs: Map::new(),
        });
        self.nodes[i].state = NodeState::Done(NeedRecord {
            result,
            outputs: Map::new(),
        });
        self.node_done(i);
    }

    fn finished(&mut self, i: usize, instance: usize, outcome: JobOutcome) {
        let node = &mut self.nodes[i];
        node.running -= 1;
        node.outputs.extend(outcome.outputs.clone());
        let failed = outcome.conclusion == Conclusion::Failure;
        node.results[instance] = Some(outcome);
        if failed && node.fail_fast && node.instances.len() > 1 {
            node.cancel.cancel();
            self.cancel_queue(i);
        }
        if self.nodes[i].results.iter().all(Option::is_some) {
            self.complete(i);
        }
        // After fail-fast had its say, so a waiting row of a failed matrix does not start.
        self.release_group((i, instance));
    }

    /// Instances that never started end `cancelled` (fail-fast, or the run was cancelled).
    fn cancel_queue(&mut self, i: usize) {
        while let Some(instance) = self.nodes[i].queue.pop_front() {
            self.record_unstarted((i, instance), Conclusion::Cancelled, None);
        }
        self.complete_if_done(i);
    }

    /// An instance that never ran ends with `result` (and `message` as an error annotation).
    fn finish_unstarted(&mut self, slot: Slot, result: Conclusion, message: Option<String>) {
        self.record_unstarted(slot, result, message);
        self.complete_if_done(slot.0);
    }

    fn record_unstarted(
        &mut self,
        (i, instance): Slot,
        result: Conclusion,
        message: Option<String>,
    ) {
        let inst = self.nodes[i].instances[instance].clone();
        if let Some(message) = message {
            self.emit(RunEvent::Annotation {
                job: inst.key.clone(),
                step: None,
                annotation: Annotation::plain(AnnotationLevel::Error, message),
            });
        }
        self.emit(RunEvent::JobFinished {
            job: inst.key,
            job_id: inst.id,
            name: inst.name,
            outcome: result,
            conclusion: result,
            duration_ms: 0,
            outputs: Map::new(),
        });
        self.nodes[i].results[instance] = Some(JobOutcome {
            outcome: result,
            conclusion: result,
            outputs: Map::new(),
        });
    }

    fn complete_if_done(&mut self, i: usize) {
        if self.nodes[i].state == NodeState::Active
            && self.nodes[i].results.iter().all(Option::is_some)
        {
            self.complete(i);
        }
    }

    fn cancel_queued(&mut self) {
        for slot in self.groups.take_pending() {
            self.finish_unstarted(slot, Conclusion::Cancelled, None);
        }
        for i in 0..self.nodes.len() {
            if self.nodes[i].state == NodeState::Active {
                self.cancel_queue(i);
            }
        }
    }

    /// All instances are done: the job's result for `needs` (any failure, else any
    /// cancellation, else success; skipped only when every instance was).
    fn complete(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let results: Vec<Conclusion> = node
            .results
            .iter()
            .flatten()
            .map(|o| o.conclusion)
            .collect();
        // Matrix rows combine as a callee's jobs do.
        let result = call_result(&results);
        node.state = NodeState::Done(NeedRecord {
            result,
            outputs: std::mem::take(&mut node.outputs),
        });
        self.node_done(i);
    }

    fn finish(self, duration_ms: u64) -> RunResult {
        // A callee's jobs count through their caller.
        let results: Vec<Conclusion> = self
            .nodes
            .iter()
            .filter(|n| n.parent.is_none())
            .filter_map(|n| match &n.state {
                NodeState::Done(r) => Some(r.result),
                _ => None,
            })
            .collect();
        let conclusion = if results.contains(&Conclusion::Failure) {
            Conclusion::Failure
        } else if results.contains(&Conclusion::Cancelled)
            || self.shared.options.cancel.is_cancelled()
        {
            Conclusion::Cancelled
        } else {
            Conclusion::Success
        };
        let _ = self.out.send(RunEvent::RunFinished {
            conclusion,
            duration_ms,
        });
        RunResult {
            conclusion,
            duration_ms,
            jobs: self.jobs,
            summary: self.summaries.join("\n"),
            annotations: self.annotations,
        }
    }
}

/// Graph nodes for planned jobs (those of `scope`'s workflow), numbered from `base`.
fn new_nodes(
    jobs: &[gantry_plan::PlannedJob],
    base: usize,
    scope: &Arc<CallScope>,
    parent: Option<usize>,
    cancel: &CancellationToken,
) -> Vec<Node> {
    let index: HashMap<&str, usize> = jobs
        .iter()
        .enumerate()
        .map(|(i, j)| (j.id.as_str(), base + i))
        .collect();
    jobs.iter()
        .map(|j| Node {
            id: j.id.clone(),
            scope: scope.clone(),
            call: j.call.clone(),
            parent,
            needs: j
                .needs
                .iter()
                .filter_map(|n| index.get(n.as_str()).copied())
                .collect(),
            matrix: j.matrix.clone(),
            state: NodeState::Waiting,
            instances: Vec::new(),
            results: Vec::new(),
            queue: VecDeque::new(),
            running: 0,
            fail_fast: true,
            max_parallel: usize::MAX,
            cancel: cancel.child_token(),
            outputs: Map::new(),
        })
        .collect()
}

/// `fail-fast` (default true) and `max-parallel` (default: all rows).
fn strategy(job: &Job, scope: &crate::context::Scope<'_>, rows: usize) -> (bool, usize) {
    let Some(strategy) = job.strategy.as_ref().map(|s| &s.value) else {
        return (true, rows.max(1));
    };
    let fail_fast = match strategy.fail_fast.as_ref().map(|f| &f.value) {
        Some(OrExpr::Value(b)) => *b,
        Some(OrExpr::Expr(e)) => scope.eval_value(e).map(|v| v.is_truthy()).unwrap_or(true),
        None => true,
    };
    let max_parallel = match strategy.max_parallel.as_ref().map(|m| &m.value) {
        Some(OrExpr::Value(n)) => *n,
        Some(OrExpr::Expr(e)) => scope.eval_value(e).map(|v| v.to_number()).unwrap_or(0.0),
        None => 0.0,
    };
    let max_parallel = if max_parallel >= 1.0 {
        max_parallel as usize
    } else {
        rows.max(1)
    };
    (fail_fast, max_parallel)
}

fn display_json(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => gantry_expr::Value::from(other.clone()).to_display_string(),
    }
}

/// A deferred matrix (one that reads `needs` outputs) that could not be expanded at run time.
#[derive(Debug, thiserror::Error)]
#[error("strategy.matrix: {0}")]
pub(crate) struct MatrixError(#[source] gantry_plan::JobMatrixError);
