//! Step containers (`uses: docker://IMAGE`, local docker actions) and local node actions with
//! their `post` steps.

use gantry_workflow::{ActionRuns, Yaml};
use indexmap::IndexMap;
use serde_json::Value as Json;
use tokio_util::sync::CancellationToken;

use super::{ActionSite, Ran, StepError};
use crate::event::{Conclusion, RunEvent, StepRef};
use crate::executor::{ContainerStepRequest, ExecutorError, step_container};
use crate::job::{Frame, JobRunner, millis};

/// A step container to run: the image and how to call it, plus the variables the action adds
/// (`INPUT_*`, `runs.env`).
pub(crate) struct ContainerCall {
    pub image: String,
    pub entrypoint: Option<String>,
    pub args: Vec<String>,
    pub env: IndexMap<String, String>,
}

/// A docker action's `runs.args` and `runs.env`, evaluated.
pub(super) struct DockerArgs {
    pub args: Vec<String>,
    pub env: IndexMap<String, String>,
}

/// A docker action's post step: its image, `post-entrypoint`, `runs.args` and variables.
#[derive(Debug, Clone)]
pub(crate) struct PostContainer {
    pub image: String,
    pub entrypoint: String,
    pub args: Vec<String>,
    pub env: IndexMap<String, String>,
}

/// What a post step runs: a node action's `post` script or a docker action's
/// `post-entrypoint`.
#[derive(Debug, Clone)]
pub(crate) enum PostBody {
    /// The node program to run it with, and the script.
    Node {
        node: String,
        script: String,
    },
    Container(PostContainer),
}

/// An action's post step, run at the end of the job (in reverse order of registration).
#[derive(Debug, Clone)]
pub(crate) struct PostStep {
    pub sref: StepRef,
    pub action_dir: String,
    pub body: PostBody,
    /// `post-if`, `always()` when absent.
    pub condition: String,
    /// The main step's environment (step `env` and `INPUT_*`).
    pub env: IndexMap<String, String>,
    pub inputs: Json,
    /// What the main step saved with `GITHUB_STATE` / `save-state`, as `STATE_*` variables.
    pub state: IndexMap<String, String>,
}

/// `INPUT_<NAME>`: GitHub upper-cases the input name and turns spaces into `_`.
pub(crate) fn input_var(name: &str) -> String {
    format!("INPUT_{}", name.replace(' ', "_").to_uppercase())
}

/// Splits `with: args` like the runner does: on whitespace, double quotes group (and are
/// removed), `\"` is a literal quote.
pub(crate) fn split_action_args(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut started) = (false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
                started = true;
            }
            '"' => {
                quoted = !quoted;
                started = true;
            }
            c if c.is_whitespace() && !quoted => {
                if started {
                    args.push(std::mem::take(&mut current));
                    started = false;
                }
            }
            c => {
                current.push(c);
                started = true;
            }
        }
    }
    if started {
        args.push(current);
    }
    args
}

/// The step's environment as the step container sees it: the job's directories are mounted at
/// GitHub's `/github/...` paths, and `PATH` is the image's unless the workflow set one.
fn container_env(
    mut env: IndexMap<String, String>,
    temp: &str,
    workspace: &str,
    home: &str,
    workflow_path: bool,
) -> IndexMap<String, String> {
    let temp = temp.trim_end_matches('/');
    let prefixes = [
        (
            format!("{temp}/_runner_file_commands"),
            step_container::FILE_COMMANDS,
        ),
        (format!("{temp}/_github_workflow"), step_container::WORKFLOW),
        (
            workspace.trim_end_matches('/').to_owned(),
            step_container::WORKSPACE,
        ),
        (home.trim_end_matches('/').to_owned(), step_container::HOME),
    ];
    for value in env.values_mut() {
        for (from, to) in &prefixes {
            let rest = value.strip_prefix(from.as_str());
            if let Some(rest) = rest.filter(|r| r.is_empty() || r.starts_with('/')) {
                *value = format!("{to}{rest}");
                break;
            }
        }
    }
    if !workflow_path {
        env.shift_remove("PATH");
    }
    env
}

impl JobRunner<'_> {
    /// Warns that a local action's `pre` will not run: GitHub's runner only reads a local
    /// action when its step runs, too late for `pre` (node and docker actions alike).
    fn warn_local_pre(&self, sref: &StepRef, site: &ActionSite, has_pre: bool) {
        // A remote action's `pre` ran at the start of the job.
        let uses = &site.uses;
        if has_pre && site.remote.is_none() {
            self.warning(
                Some(sref),
                format!("`pre` execution is not supported for local action from '{uses}'"),
            );
        }
    }

    /// Runs a step container through the executor, with the step's file commands.
    pub(super) async fn run_container_step(
        &mut self,
        sref: &StepRef,
        frame: &Frame,
        env: IndexMap<String, String>,
        call: ContainerCall,
        cancel: CancellationToken,
    ) -> Ran {
        let number = self.next_step_number();
        let paths = self.env.paths().clone();
        let workflow_path = env.contains_key("PATH");
        let action = format!("__{}", call.image.replace(['/', ':'], "_"));
        self.execute(
            sref,
            frame,
            env,
            &action,
            number,
            cancel,
            move |job, mut env, tx, cancel| {
                env.extend(call.env);
                let env = container_env(
                    env,
                    &paths.temp,
                    &paths.workspace,
                    &paths.home,
                    workflow_path,
                );
                let request = ContainerStepRequest {
                    image: call.image,
                    entrypoint: call.entrypoint,
                    args: call.args,
                    env,
                    cancel,
                };
                Box::pin(async move {
                    job.run_container(request, tx)
                        .await
                        .map(|s| (s, IndexMap::new()))
                })
            },
        )
        .await
    }

    /// `uses: docker://IMAGE`: `with: args` / `entrypoint` call it, other inputs are `INPUT_*`.
    pub(super) async fn run_docker_uses(
        &mut self,
        sref: &StepRef,
        frame: &Frame,
        env: IndexMap<String, String>,
        image: &str,
        with: &IndexMap<String, gantry_workflow::Spanned<Yaml>>,
        cancel: CancellationToken,
    ) -> Ran {
        let mut inputs = match self.with_inputs(frame, &env, with) {
            Ok(i) => i,
            Err(e) => return self.fail(sref, e),
        };
        let args = inputs
            .shift_remove("args")
            .map(|a| split_action_args(&a))
            .unwrap_or_default();
        let entrypoint = inputs.shift_remove("entrypoint").filter(|e| !e.is_empty());
        let call = ContainerCall {
            image: image.to_owned(),
            entrypoint,
            args,
            env: inputs
                .iter()
                .map(|(k, v)| (input_var(k), v.clone()))
                .collect(),
        };
        self.run_container_step(sref, frame, env, call, cancel)
            .await
    }

    /// A local `runs.using: docker` action: `image: docker://x` runs x, anything else is a
    /// Dockerfile in the action's directory, built offline and removed with the job.
    pub(super) async fn run_docker_action(
        &mut self,
        sref: &StepRef,
        inner: &Frame,
        env: IndexMap<String, String>,
        runs: &ActionRuns,
        site: &ActionSite,
        cancel: CancellationToken,
    ) -> Ran {
        let ActionRuns::Docker {
            image,
            entrypoint,
            args,
            env: action_env,
            pre_entrypoint,
            post_entrypoint,
        } = runs
        else {
            return Ran::failed();
        };
        self.warn_local_pre(sref, site, pre_entrypoint.is_some());
        let image = match self.action_image(inner, &image.value).await {
            Ok(image) => image,
            Err(e) => return self.fail(sref, StepError::ActionImage(e)),
        };
        let DockerArgs {
            args,
            env: mut extra,
        } = match self.docker_args_env(inner, &env, args, action_env) {
            Ok(evaluated) => evaluated,
            Err(e) => return self.fail(sref, e),
        };
        extra.extend(input_env(inner));
        if let Some(post) = post_entrypoint {
            self.post_steps.push(PostStep {
                sref: post_ref(sref),
                action_dir: inner.action_path.clone(),
                body: PostBody::Container(PostContainer {
                    image: image.clone(),
                    entrypoint: post.value.clone(),
                    args: args.clone(),
                    env: extra.clone(),
                }),
                condition: "always()".to_owned(),
                env: env.clone(),
                inputs: inner.inputs.clone().unwrap_or(Json::Null),
                state: IndexMap::new(),
            });
        }
        let call = ContainerCall {
            image,
            entrypoint: entrypoint.as_ref().map(|e| e.value.clone()),
            args,
            env: extra,
        };
        self.run_container_step(sref, inner, env, call, cancel)
            .await
    }

    /// `docker://x` is x; anything else names a Dockerfile in the action's directory, built by
    /// the executor.
    pub(super) async fn action_image(
        &self,
        inner: &Frame,
        image: &str,
    ) -> Result<String, ExecutorError> {
        if let Some(name) = image.strip_prefix("docker://") {
            return Ok(name.to_owned());
        }
        self.env.build_image(&inner.action_path, image).await
    }

    /// `runs.args` and `runs.env` evaluated with the action's inputs; every error at once.
    pub(super) fn docker_args_env(
        &self,
        inner: &Frame,
        env: &IndexMap<String, String>,
        args: &[gantry_workflow::Spanned<String>],
        action_env: &gantry_workflow::Env,
    ) -> Result<DockerArgs, StepError> {
        let scope = self.scope(inner, env);
        let mut errors = Vec::new();
        let mut values = Vec::new();
        for arg in args {
            match scope.eval_string(&arg.value) {
                Ok(v) => values.push(v),
                Err(e) => errors.push(StepError::at("args", e)),
            }
        }
        let mut vars = IndexMap::new();
        for (name, value) in action_env {
            match scope.eval_string(&value.value) {
                Ok(v) => {
                    vars.insert(name.clone(), v);
                }
                Err(e) => errors.push(StepError::at(format!("env.{name}"), e)),
            }
        }
        if errors.is_empty() {
            Ok(DockerArgs {
                args: values,
                env: vars,
            })
        } else {
            Err(StepError::Several(errors))
        }
    }

    /// A local `runs.using: node*` action: `node <main>` in the job environment with `INPUT_*`;
    /// its `post` script is queued for the end of the job with what it saved as state.
    pub(super) async fn run_node_action(
        &mut self,
        sref: &StepRef,
        inner: &Frame,
        mut env: IndexMap<String, String>,
        runs: &ActionRuns,
        site: &ActionSite,
        cancel: CancellationToken,
    ) -> Ran {
        let ActionRuns::Node {
            using,
            main,
            pre,
            post,
            post_if,
            ..
        } = runs
        else {
            return Ran::failed();
        };
        self.warn_local_pre(sref, site, pre.is_some());
        let uses = site.uses.as_str();
        let node = self.node_for(sref, &using.value, uses, &cancel).await;
        let node = match self.node_or_external(sref, node, &using.value, uses).await {
            Ok(node) => node,
            Err(e) => return self.fail(sref, e),
        };
        env.extend(input_env(inner));
        // What `pre` saved is `STATE_*` for main, and main's saves add to it for `post`.
        let pre_state = self.remote.take_pre_state(&sref.path);
        for (name, value) in &pre_state {
            env.insert(format!("STATE_{name}"), value.clone());
        }
        let saved = std::mem::replace(&mut self.state, pre_state);
        let ran = self
            .run_node_script(sref, inner, env.clone(), (&node, &main.value), cancel)
            .await;
        let state = std::mem::replace(&mut self.state, saved);
        if let Some(post) = post {
            self.post_steps.push(PostStep {
                sref: post_ref(sref),
                action_dir: inner.action_path.clone(),
                body: PostBody::Node {
                    node,
                    script: post.value.clone(),
                },
                condition: post_if
                    .as_ref()
                    .map_or_else(|| "always()".to_owned(), |c| c.value.clone()),
                env,
                inputs: inner.inputs.clone().unwrap_or(Json::Null),
                state,
            });
        }
        ran
    }

    /// The node a `using: nodeNN` action runs with. GitHub's runner ships the node each `using`
    /// names; here that major from the tool cache (the runner image has 20, 22 and 24), else
    /// whatever `node` is on `PATH`.
    pub(super) async fn node_for(
        &self,
        sref: &StepRef,
        using: &str,
        uses: &str,
        cancel: &CancellationToken,
    ) -> String {
        let using = self.forced_node(sref, using, uses);
        let major = using.strip_prefix("node").unwrap_or_default();
        if major.is_empty() || !major.bytes().all(|b| b.is_ascii_digit()) {
            return "node".to_owned();
        }
        let cache = self.env.paths().tool_cache.trim_end_matches('/').to_owned();
        // Version-sorted so that 20.10 beats 20.9; `sort -V` exists in busybox and coreutils.
        let script =
            format!("ls -d {cache}/node/{major}.*/x64/bin/node 2>/dev/null | sort -V | tail -n 1");
        let request = crate::executor::ExecRequest {
            argv: vec!["sh".to_owned(), "-c".to_owned(), script],
            env: IndexMap::new(),
            workdir: self.env.paths().temp.clone(),
            cancel: cancel.clone(),
        };
        match crate::executor::capture_stdout(self.env, request).await {
            Ok((_, out)) if !out.trim().is_empty() => out.trim().to_owned(),
            _ => "node".to_owned(),
        }
    }

    /// `node` from `PATH` when there is one; else gantry's own node of that major, copied in as
    /// GitHub's runner mounts its externals into job containers.
    async fn node_or_external(
        &self,
        sref: &StepRef,
        node: String,
        using: &str,
        uses: &str,
    ) -> Result<String, StepError> {
        if node != "node" || self.env.has_program("node").await.unwrap_or(true) {
            return Ok(node);
        }
        let major = match using {
            "node12" | "node16" => "20",
            other => other.strip_prefix("node").unwrap_or_default(),
        };
        match self.env.external_node(major).await {
            Ok(Some(external)) => {
                self.log(
                    Some(sref),
                    crate::event::LogStream::Runner,
                    &format!("the job environment has no node; running with gantry's node{major} ({external})"),
                );
                Ok(external)
            }
            Ok(None) => Err(StepError::NoNode {
                uses: uses.to_owned(),
                major: major.to_owned(),
            }),
            Err(source) => Err(StepError::ExternalNode {
                uses: uses.to_owned(),
                major: major.to_owned(),
                source,
            }),
        }
    }

    /// GitHub runs node12 and node16 actions on node20 now, with a warning naming the action.
    fn forced_node<'u>(&self, sref: &StepRef, using: &'u str, uses: &str) -> &'u str {
        if !matches!(using, "node12" | "node16") {
            return using;
        }
        self.warning(
            Some(sref),
            format!(
                "The following actions use a deprecated Node.js version and will be forced to run on node20: {uses}. For more info: https://github.blog/changelog/2024-03-07-github-actions-all-actions-will-run-on-node20-instead-of-node16-by-default/"
            ),
        );
        "node20"
    }

    pub(super) async fn run_node_script(
        &mut self,
        sref: &StepRef,
        frame: &Frame,
        env: IndexMap<String, String>,
        (node, script): (&str, &str),
        cancel: CancellationToken,
    ) -> Ran {
        let number = self.next_step_number();
        let argv = vec![
            node.to_owned(),
            format!("{}/{}", frame.action_path.trim_end_matches('/'), script),
        ];
        let workdir = self.env.paths().workspace.clone();
        self.exec_program(sref, frame, env, number, argv, workdir, cancel)
            .await
    }

    /// Runs the queued `post` scripts, last registered first, each when its `post-if` holds
    /// against the job's status. A failing post step fails the job, as on GitHub.
    pub(crate) async fn run_post_steps(&mut self, job: &mut Frame) {
        while let Some(post) = self.post_steps.pop() {
            let started = std::time::Instant::now();
            self.emit(RunEvent::StepStarted {
                job: self.inst.key.clone(),
                step: post.sref.clone(),
            });
            let outcome = self.run_post(&post, job).await;
            if outcome == Conclusion::Failure {
                job.failed = true;
            }
            self.emit(RunEvent::StepFinished {
                job: self.inst.key.clone(),
                step: post.sref.clone(),
                outcome,
                conclusion: outcome,
                duration_ms: millis(started.elapsed()),
            });
        }
    }

    async fn run_post(&mut self, post: &PostStep, job: &Frame) -> Conclusion {
        let env = self.env_context(job);
        match self
            .scope(job, &env)
            .eval_condition(Some(post.condition.as_str()))
        {
            Ok(true) => {}
            Ok(false) => return Conclusion::Skipped,
            Err(e) => {
                self.report(&post.sref, &StepError::PostCondition(e));
                return Conclusion::Failure;
            }
        }
        let (cancel, _) = self.step_token(&job.cancel, job.cancel.is_cancelled(), None);
        let frame = Frame {
            inputs: Some(post.inputs.clone()),
            action_path: post.action_dir.clone(),
            env: post.env.clone(),
            depth: 1,
            cancel: cancel.clone(),
            ..Frame::default()
        };
        let mut env = post.env.clone();
        for (name, value) in &post.state {
            env.insert(format!("STATE_{name}"), value.clone());
        }
        let ran = match &post.body {
            PostBody::Node { node, script } => {
                self.run_node_script(&post.sref, &frame, env, (node, script), cancel.clone())
                    .await
            }
            PostBody::Container(c) => {
                let call = ContainerCall {
                    image: c.image.clone(),
                    entrypoint: Some(c.entrypoint.clone()),
                    args: c.args.clone(),
                    env: c.env.clone(),
                };
                self.run_container_step(&post.sref, &frame, env, call, cancel.clone())
                    .await
            }
        };
        cancel.cancel();
        ran.outcome
    }
}

/// How GitHub names a post step: `Post <main step's name>`.
fn post_ref(main: &StepRef) -> StepRef {
    StepRef {
        path: format!("post.{}", main.path),
        name: format!("Post {}", main.name),
    }
}

/// `INPUT_*` for a frame's inputs (an action's, defaults applied).
pub(super) fn input_env(frame: &Frame) -> IndexMap<String, String> {
    let Some(Json::Object(inputs)) = &frame.inputs else {
        return IndexMap::new();
    };
    inputs
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            (input_var(k), text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_names_are_mangled_like_github() {
        assert_eq!(input_var("who to greet"), "INPUT_WHO_TO_GREET");
        assert_eq!(input_var("node-version"), "INPUT_NODE-VERSION");
    }

    #[test]
    fn args_split_on_whitespace_with_quotes() {
        assert_eq!(
            split_action_args(r#"echo "hello world"  a\"b ''"#),
            vec!["echo", "hello world", "a\"b", "''"]
        );
        assert!(split_action_args("   ").is_empty());
        assert_eq!(split_action_args(r#""""#), vec![""]);
    }

    #[test]
    fn container_env_uses_github_mounts() {
        let env: IndexMap<String, String> = [
            (
                "GITHUB_OUTPUT",
                "/__w/_temp/_runner_file_commands/set_output_3",
            ),
            (
                "GITHUB_EVENT_PATH",
                "/__w/_temp/_github_workflow/event.json",
            ),
            ("GITHUB_WORKSPACE", "/__w/r/r"),
            ("HOME", "/github/home"),
            ("OTHER", "/__w/r/rest"),
            ("PATH", "/usr/bin"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let out = container_env(env, "/__w/_temp", "/__w/r/r", "/github/home", false);
        assert_eq!(out["GITHUB_OUTPUT"], "/github/file_commands/set_output_3");
        assert_eq!(out["GITHUB_EVENT_PATH"], "/github/workflow/event.json");
        assert_eq!(out["GITHUB_WORKSPACE"], "/github/workspace");
        assert_eq!(out["HOME"], "/github/home");
        assert_eq!(out["OTHER"], "/__w/r/rest");
        assert!(!out.contains_key("PATH"));
    }
}
