//! Remote actions (`uses: OWNER/REPO[/PATH]@REF`) from the action store. At set-up, as GitHub's
//! "Set up job" does, every remote action of the job (and of the composite actions among them)
//! is resolved and downloaded into `<work>/_actions/OWNER/REPO/REF`, logging
//! `Download action repository 'OWNER/REPO@REF' (SHA:...)`; then the `pre` steps run (`pre-if`,
//! default `always()`). The main step runs the downloaded copy like a local action; what `pre`
//! saved is `STATE_*` for main and post.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use gantry_actions::ActionRef;
use gantry_workflow::{ActionRuns, Step, StepKind, UsesRef, Yaml};
use indexmap::IndexMap;
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

use super::actions_run::{ContainerCall, DockerArgs, input_env};
use super::{MAX_DEPTH, Ran, StepError};
use crate::event::{Conclusion, LogStream, RunEvent, StepRef};
use crate::job::{Frame, JobRunner, millis};

/// Where an action's files are in the job environment, how the log names it, and for a remote
/// action its reference (`github.action_repository`, `github.action_ref`).
#[derive(Debug, Clone)]
pub(crate) struct ActionSite {
    pub dir: String,
    pub uses: String,
    pub remote: Option<ActionRef>,
}

/// A remote action downloaded into the job.
struct Downloaded {
    site: ActionSite,
    action: Arc<gantry_workflow::Action>,
}

/// The job's remote actions.
#[derive(Default)]
pub(crate) struct RemoteActions {
    /// By `uses:` as written.
    by_uses: IndexMap<String, Arc<Downloaded>>,
    /// `owner/repo@ref` (lower-case owner and repo) → its root in the job environment.
    roots: IndexMap<String, String>,
    /// What each top-level step's `pre` saved, by the main step's path.
    pre_state: IndexMap<String, IndexMap<String, String>>,
}

impl RemoteActions {
    pub fn take_pre_state(&mut self, main_path: &str) -> IndexMap<String, String> {
        self.pre_state.shift_remove(main_path).unwrap_or_default()
    }
}

type PrepareFuture<'s> = Pin<Box<dyn Future<Output = Result<(), StepError>> + Send + 's>>;

impl JobRunner<'_> {
    /// The reference of a step's `uses:` when it names a remote action that is not run built
    /// in.
    fn remote_reference(&self, uses: &str) -> Option<ActionRef> {
        let Ok(UsesRef::Repo {
            owner, repo, path, ..
        }) = gantry_workflow::uses::parse_uses(uses)
        else {
            return None;
        };
        let builtin = path.is_none() && self.shared.options.actions.get(&owner, &repo).is_some();
        if builtin {
            return None;
        }
        ActionRef::parse(uses).ok()
    }

    /// Resolves and downloads every remote action `steps` use, composite actions' own steps
    /// included (as deep as they may nest).
    pub(crate) fn prepare_actions<'s>(
        &'s mut self,
        steps: &'s [Step],
        depth: usize,
    ) -> PrepareFuture<'s> {
        Box::pin(async move {
            for step in steps {
                let StepKind::Uses { uses, .. } = &step.kind else {
                    continue;
                };
                if self.remote_reference(&uses.value).is_none() {
                    continue;
                }
                let downloaded = self.download(&uses.value).await?;
                if let ActionRuns::Composite { steps } = &downloaded.action.runs.value
                    && depth + 1 < MAX_DEPTH
                {
                    self.prepare_actions(steps, depth + 1).await?;
                }
            }
            Ok(())
        })
    }

    /// The downloaded action for `uses`, downloading it (once per `owner/repo@ref`) if needed.
    async fn download(&mut self, uses: &str) -> Result<Arc<Downloaded>, StepError> {
        if let Some(done) = self.remote.by_uses.get(uses) {
            return Ok(done.clone());
        }
        let reference = ActionRef::parse(uses)?;
        let key = format!(
            "{}/{}@{}",
            reference.owner.to_ascii_lowercase(),
            reference.repo.to_ascii_lowercase(),
            reference.git_ref
        );
        let root = match self.remote.roots.get(&key) {
            Some(root) => root.clone(),
            None => {
                let root = self.fetch_into_job(&reference).await?;
                self.remote.roots.insert(key, root.clone());
                root
            }
        };
        let dir = match &reference.path {
            Some(path) => format!("{root}/{path}"),
            None => root,
        };
        let action = self
            .read_action(&dir)
            .await
            .map_err(|e| StepError::InAction {
                uses: uses.to_owned(),
                source: Box::new(e),
            })?;
        let downloaded = Arc::new(Downloaded {
            site: ActionSite {
                dir,
                uses: uses.to_owned(),
                remote: Some(reference),
            },
            action: Arc::new(action),
        });
        self.remote
            .by_uses
            .insert(uses.to_owned(), downloaded.clone());
        Ok(downloaded)
    }

    /// Resolves `reference` through the run's action source and copies its tree into the job.
    async fn fetch_into_job(&self, reference: &ActionRef) -> Result<String, StepError> {
        let Some(source) = self.shared.options.actions.source().cloned() else {
            return Err(StepError::NoActionStore(reference.to_string()));
        };
        let wanted = reference.clone();
        // The store reads (and may fetch) from disk: off the async workers.
        let resolved = tokio::task::spawn_blocking(move || source.resolve(&wanted))
            .await
            .map_err(|source| StepError::ResolveTask {
                reference: reference.to_string(),
                source,
            })??;
        let paths = self.env.paths();
        let temp = paths.temp.trim_end_matches('/');
        let work = temp.rsplit_once('/').map_or(temp, |(parent, _)| parent);
        let root = format!(
            "{work}/_actions/{}/{}/{}",
            reference.owner, reference.repo, reference.git_ref
        );
        self.env
            .copy_in(&resolved.root, &root)
            .await
            .map_err(|source| StepError::CopyAction {
                reference: reference.to_string(),
                source,
            })?;
        self.log(
            None,
            LogStream::Runner,
            &format!(
                "Download action repository '{}' (SHA:{})",
                reference.repository_ref(),
                resolved.commit
            ),
        );
        Ok(root)
    }

    /// `uses: OWNER/REPO[/PATH]@REF` that is not built in: the downloaded copy, run like a local
    /// action.
    pub(super) async fn run_remote_action(
        &mut self,
        sref: &StepRef,
        frame: &Frame,
        env: IndexMap<String, String>,
        uses: &str,
        with: &IndexMap<String, gantry_workflow::Spanned<Yaml>>,
        cancel: CancellationToken,
    ) -> Ran {
        // Actions nested in local composite actions are only known when they run.
        let downloaded = match self.download(uses).await {
            Ok(d) => d,
            Err(e) => return self.fail(sref, e),
        };
        self.run_action(
            sref,
            frame,
            env,
            &downloaded.site,
            &downloaded.action,
            with,
            cancel,
        )
        .await
    }

    /// The `pre` steps of the job's remote actions, in step order, before the first step.
    pub(crate) async fn run_pre_steps(&mut self, steps: &[Step], frame: &mut Frame) {
        for (index, step) in steps.iter().enumerate() {
            let StepKind::Uses { uses, with } = &step.kind else {
                continue;
            };
            let Some(downloaded) = self.remote.by_uses.get(&uses.value).cloned() else {
                continue;
            };
            let condition = match &downloaded.action.runs.value {
                ActionRuns::Node {
                    pre: Some(_),
                    pre_if,
                    ..
                } => pre_if.as_ref().map(|c| c.value.clone()),
                ActionRuns::Docker {
                    pre_entrypoint: Some(_),
                    ..
                } => None,
                _ => continue,
            };
            let started = std::time::Instant::now();
            let env = self.env_context(frame);
            let main_name = self.step_name(step, &self.scope(frame, &env));
            let sref = StepRef {
                path: format!("pre.{index}"),
                name: self.masker.mask(&format!("Pre {main_name}")),
            };
            self.emit(RunEvent::StepStarted {
                job: self.inst.key.clone(),
                step: sref.clone(),
            });
            let call = PreCall {
                step,
                main_path: index.to_string(),
                condition: condition.unwrap_or_else(|| "always()".to_owned()),
                with,
            };
            let outcome = self.run_pre(&sref, frame, &downloaded, call).await;
            if outcome == Conclusion::Failure {
                frame.failed = true;
            }
            self.emit(RunEvent::StepFinished {
                job: self.inst.key.clone(),
                step: sref,
                outcome,
                conclusion: outcome,
                duration_ms: millis(started.elapsed()),
            });
        }
    }

    async fn run_pre(
        &mut self,
        sref: &StepRef,
        frame: &Frame,
        downloaded: &Downloaded,
        call: PreCall<'_>,
    ) -> Conclusion {
        let mut env = self.env_context(frame);
        match self
            .scope(frame, &env)
            .eval_condition(Some(call.condition.as_str()))
        {
            Ok(true) => {}
            Ok(false) => return Conclusion::Skipped,
            Err(e) => {
                self.report(sref, &StepError::PreCondition(e));
                return Conclusion::Failure;
            }
        }
        for (name, value) in &call.step.env {
            match self.scope(frame, &env).eval_string(&value.value) {
                Ok(v) => {
                    env.insert(name.clone(), v);
                }
                Err(e) => {
                    self.report(sref, &StepError::at(format!("env.{name}"), e));
                    return Conclusion::Failure;
                }
            }
        }
        let action = &downloaded.action;
        let inputs = match self.action_inputs(sref, frame, &env, action, call.with) {
            Ok(i) => i,
            Err(e) => {
                self.report(sref, &e);
                return Conclusion::Failure;
            }
        };
        let site = &downloaded.site;
        let (repository, git_ref) = site
            .remote
            .as_ref()
            .map(|r| (r.repository(), r.git_ref.clone()))
            .unwrap_or_default();
        let (cancel, _) = self.step_token(&frame.cancel, frame.cancel.is_cancelled(), None);
        let inner = Frame {
            inputs: Some(Json::Object(inputs)),
            action_path: site.dir.clone(),
            action_repository: repository,
            action_ref: git_ref,
            env: env.clone(),
            depth: frame.depth + 1,
            cancel: cancel.clone(),
            ..Frame::default()
        };
        env.extend(input_env(&inner));
        let saved = std::mem::take(&mut self.state);
        let ran = match &action.runs.value {
            ActionRuns::Node {
                using,
                pre: Some(pre),
                ..
            } => {
                let node = self.node_for(sref, &using.value, &site.uses, &cancel).await;
                self.run_node_script(sref, &inner, env, (&node, &pre.value), cancel.clone())
                    .await
            }
            ActionRuns::Docker {
                image,
                args,
                env: action_env,
                pre_entrypoint: Some(entrypoint),
                ..
            } => {
                let image = match self.action_image(&inner, &image.value).await {
                    Ok(image) => image,
                    Err(e) => {
                        self.report(sref, &StepError::ActionImage(e));
                        self.state = saved;
                        return Conclusion::Failure;
                    }
                };
                let DockerArgs {
                    args,
                    env: mut extra,
                } = match self.docker_args_env(&inner, &env, args, action_env) {
                    Ok(evaluated) => evaluated,
                    Err(e) => {
                        self.report(sref, &e);
                        self.state = saved;
                        return Conclusion::Failure;
                    }
                };
                extra.extend(input_env(&inner));
                let call = ContainerCall {
                    image,
                    entrypoint: Some(entrypoint.value.clone()),
                    args,
                    env: extra,
                };
                self.run_container_step(sref, &inner, env, call, cancel.clone())
                    .await
            }
            _ => Ran::failed(),
        };
        cancel.cancel();
        let state = std::mem::replace(&mut self.state, saved);
        self.remote.pre_state.insert(call.main_path, state);
        ran.outcome
    }
}

/// One `pre` step to run: the main step, where its state goes, `pre-if`, the step's `with:`.
struct PreCall<'s> {
    step: &'s Step,
    main_path: String,
    condition: String,
    with: &'s IndexMap<String, gantry_workflow::Spanned<Yaml>>,
}
