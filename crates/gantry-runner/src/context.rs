//! Expression contexts (`github`, `env`, `steps`, `needs`, ...), the default environment of a
//! step, and the [`EvalContext`] that evaluates `${{ }}` with GitHub's status functions and
//! `hashFiles`.

use std::path::PathBuf;

use gantry_expr::{EvalContext, ExprError, ParseOptions, Value};

pub use crate::hashfiles::HashFilesError;
use indexmap::IndexMap;
use serde_json::{Map, Value as Json, json};

use crate::event::Conclusion;

/// The run's facts, from `gantry-plan` so the planner, the daemon and `gantry run` build the
/// same `github` context the steps see.
pub use gantry_plan::GithubInfo;

/// What the runner adds to [`GithubInfo`]: the per-step `github` fields and the `GITHUB_*`,
/// `RUNNER_*` variables, derived from the same facts.
pub trait StepGithub {
    /// The `github` context for a step (`job`, `action`, paths filled from `step`).
    fn step_context(&self, step: &StepVars) -> Json;
    /// The `GITHUB_*`, `RUNNER_*` and `CI` variables every step gets.
    fn default_env(&self, step: &StepVars, runner: &RunnerInfo) -> IndexMap<String, String>;
}

impl StepGithub for GithubInfo {
    fn step_context(&self, step: &StepVars) -> Json {
        // The plan-time context with the step's fields filled in place (same key order).
        let mut m = GithubInfo::context(self);
        let mut put = |k: &str, v: &str| {
            m.insert(k.to_owned(), json!(v));
        };
        put("event_path", &step.event_path);
        put("workspace", &step.workspace);
        put("job", &step.job);
        put("action", &step.action);
        put("action_path", &step.action_path);
        put("action_repository", &step.action_repository);
        put("action_ref", &step.action_ref);
        for (key, value) in &step.files {
            put(key, value);
        }
        Json::Object(m)
    }

    fn default_env(&self, step: &StepVars, runner: &RunnerInfo) -> IndexMap<String, String> {
        let mut env = IndexMap::new();
        let mut put = |k: &str, v: &str| {
            env.insert(k.to_owned(), v.to_owned());
        };
        put("CI", "true");
        put("GITHUB_ACTIONS", "true");
        put("GITHUB_ACTION", &step.action);
        put("GITHUB_ACTION_PATH", &step.action_path);
        // Empty for a script step, as the runner sets them.
        put("GITHUB_ACTION_REPOSITORY", &step.action_repository);
        put("GITHUB_ACTION_REF", &step.action_ref);
        put("GITHUB_ACTOR", &self.actor);
        put("GITHUB_ACTOR_ID", &self.actor_id());
        put("GITHUB_TRIGGERING_ACTOR", &self.triggering_actor);
        put("GITHUB_API_URL", &self.api_url);
        put("GITHUB_BASE_REF", &self.base_ref);
        put("GITHUB_HEAD_REF", &self.head_ref);
        put("GITHUB_EVENT_NAME", &self.event_name);
        put("GITHUB_EVENT_PATH", &step.event_path);
        put("GITHUB_GRAPHQL_URL", &self.graphql_url);
        put("GITHUB_JOB", &step.job);
        put("GITHUB_REF", &self.git_ref);
        put("GITHUB_REF_NAME", &self.ref_name());
        put("GITHUB_REF_TYPE", self.ref_type());
        put("GITHUB_REF_PROTECTED", "false");
        put("GITHUB_REPOSITORY", &self.repository);
        put("GITHUB_REPOSITORY_ID", &self.repository_id());
        put("GITHUB_REPOSITORY_OWNER", &self.owner());
        put("GITHUB_REPOSITORY_OWNER_ID", &self.repository_owner_id());
        put("GITHUB_RETENTION_DAYS", "90");
        put("GITHUB_RUN_ID", &self.run_id);
        put("GITHUB_RUN_NUMBER", &self.run_number.to_string());
        put("GITHUB_RUN_ATTEMPT", &self.run_attempt.to_string());
        put("GITHUB_SERVER_URL", &self.server_url);
        put("GITHUB_SHA", &self.sha);
        put("GITHUB_WORKFLOW", &self.workflow);
        put("GITHUB_WORKFLOW_REF", &self.workflow_ref());
        put("GITHUB_WORKFLOW_SHA", &self.sha);
        put("GITHUB_WORKSPACE", &step.workspace);
        put("RUNNER_OS", &runner.os);
        put("RUNNER_ARCH", &runner.arch);
        put("RUNNER_NAME", &runner.name);
        put("RUNNER_ENVIRONMENT", "self-hosted");
        put("RUNNER_TEMP", &runner.temp);
        put("RUNNER_TOOL_CACHE", &runner.tool_cache);
        put("RUNNER_WORKSPACE", runner.workspace_parent());
        put("HOME", &runner.home);
        env
    }
}

/// The per-step parts of `github` and the default variables.
#[derive(Debug, Clone, Default)]
pub struct StepVars {
    pub job: String,
    pub action: String,
    pub action_path: String,
    pub action_repository: String,
    pub action_ref: String,
    pub workspace: String,
    pub event_path: String,
    /// `env`, `output`, `state`, `path`, `step_summary` → the file paths of this step.
    pub files: Vec<(String, String)>,
}

/// The `runner` context.
#[derive(Debug, Clone)]
pub struct RunnerInfo {
    pub os: String,
    pub arch: String,
    pub name: String,
    pub temp: String,
    pub tool_cache: String,
    pub home: String,
    pub workspace: String,
    pub debug: bool,
}

impl RunnerInfo {
    pub fn context(&self) -> Json {
        let mut ctx = json!({
            "os": self.os,
            "arch": self.arch,
            "name": self.name,
            "temp": self.temp,
            "tool_cache": self.tool_cache,
            "environment": "self-hosted",
        });
        if self.debug {
            ctx["debug"] = json!("1");
        }
        ctx
    }

    fn workspace_parent(&self) -> &str {
        self.workspace
            .rsplit_once('/')
            .map_or(self.workspace.as_str(), |(parent, _)| parent)
    }
}

/// `steps.<id>` for one step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    pub outputs: IndexMap<String, String>,
    pub outcome: Conclusion,
    pub conclusion: Conclusion,
}

pub fn steps_context(steps: &IndexMap<String, StepRecord>) -> Json {
    let mut m = Map::new();
    for (id, s) in steps {
        m.insert(
            id.clone(),
            json!({
                "outputs": string_map(&s.outputs),
                "outcome": s.outcome.as_str(),
                "conclusion": s.conclusion.as_str(),
            }),
        );
    }
    Json::Object(m)
}

/// `needs.<id>` for one finished job.
#[derive(Debug, Clone, PartialEq)]
pub struct NeedRecord {
    pub result: Conclusion,
    pub outputs: Map<String, Json>,
}

pub fn needs_context(needs: &IndexMap<String, NeedRecord>) -> Json {
    let mut m = Map::new();
    for (id, n) in needs {
        m.insert(
            id.clone(),
            json!({ "result": n.result.as_str(), "outputs": n.outputs }),
        );
    }
    Json::Object(m)
}

pub fn string_map(map: &IndexMap<String, String>) -> Json {
    Json::Object(
        map.iter()
            .map(|(k, v)| (k.clone(), Json::String(v.clone())))
            .collect(),
    )
}

/// What the status functions answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A job's `if`: about the jobs it (transitively) needs.
    Job {
        all_needs_succeeded: bool,
        any_need_failed: bool,
        cancelled: bool,
    },
    /// A step's `if`: about the job (or composite action) so far.
    Step { failed: bool, cancelled: bool },
}

impl Status {
    fn call(self, name: &str) -> Option<bool> {
        let (success, failure, cancelled) = match self {
            Status::Job {
                all_needs_succeeded,
                any_need_failed,
                cancelled,
            } => (
                all_needs_succeeded && !cancelled,
                any_need_failed,
                cancelled,
            ),
            Status::Step { failed, cancelled } => (!failed && !cancelled, failed, cancelled),
        };
        match name.to_ascii_lowercase().as_str() {
            "success" => Some(success),
            "failure" => Some(failure),
            "cancelled" => Some(cancelled),
            "always" => Some(true),
            _ => None,
        }
    }
}

/// Computes `hashFiles(...)` where the job's files are. Synchronous because expression
/// evaluation is; the implementation for an environment whose files are not on this machine
/// can run a helper process ahead of time.
pub trait HashFiles: Send + Sync {
    /// The hex SHA-256 over the matched files, or `""` when none match.
    fn hash_files(&self, patterns: &[String]) -> Result<String, HashFilesError>;
}

/// `hashFiles` over a directory on this machine (the host executor's workspace, or the source
/// checkout for the Docker executor, whose workspace is a copy of it).
#[derive(Debug, Clone)]
pub struct LocalHashFiles {
    pub root: PathBuf,
}

impl HashFiles for LocalHashFiles {
    fn hash_files(&self, patterns: &[String]) -> Result<String, HashFilesError> {
        crate::hashfiles::hash_files(&self.root, patterns)
    }
}

/// Named values plus status and `hashFiles`: what one evaluation sees.
pub struct Scope<'a> {
    values: IndexMap<String, Value>,
    status: Status,
    hash: Option<&'a dyn HashFiles>,
}

impl<'a> Scope<'a> {
    pub fn new(status: Status, hash: Option<&'a dyn HashFiles>) -> Self {
        Self {
            values: IndexMap::new(),
            status,
            hash,
        }
    }

    pub fn set(&mut self, name: &str, value: Json) {
        self.values
            .insert(name.to_ascii_lowercase(), Value::from(value));
    }

    pub fn set_status(&mut self, status: Status) {
        self.status = status;
    }

    /// Evaluates a template (`run:`, env values, `with:`) to a string.
    pub fn eval_string(&self, source: &str) -> Result<String, ExprError> {
        if !source.contains("${{") {
            return Ok(source.to_owned());
        }
        let template = gantry_expr::parse_template(source, &parse_options())?;
        Ok(template.evaluate(self)?.to_display_string())
    }

    /// Evaluates a template keeping the value's type (`${{ fromJSON(...) }}` in a matrix).
    pub fn eval_value(&self, source: &str) -> Result<Value, ExprError> {
        let template = gantry_expr::parse_template(source, &parse_options())?;
        template.evaluate(self)
    }

    /// Evaluates an `if:` (absent = `success()`).
    pub fn eval_condition(&self, source: Option<&str>) -> Result<bool, ExprError> {
        let expr = gantry_expr::parse_condition(source.unwrap_or(""), &parse_options())?;
        Ok(expr.evaluate(self)?.is_truthy())
    }
}

/// Every context a run provides, and `hashFiles`. Availability per key is checked by
/// `gantry validate`; at run time a context that is not set evaluates to null.
pub(crate) fn parse_options() -> ParseOptions {
    [
        "github", "env", "vars", "secrets", "job", "jobs", "steps", "runner", "needs", "strategy",
        "matrix", "inputs",
    ]
    .iter()
    .fold(ParseOptions::new(), |o, name| o.named_value(name))
    .function("hashFiles", 1, 255)
}

impl EvalContext for Scope<'_> {
    fn named_value(&self, name: &str) -> Option<Value> {
        self.values.get(&name.to_ascii_lowercase()).cloned()
    }

    fn call_function(&self, name: &str, args: &[Value]) -> Option<Result<Value, ExprError>> {
        if let Some(answer) = self.status.call(name) {
            return Some(Ok(Value::Bool(answer)));
        }
        if !name.eq_ignore_ascii_case("hashFiles") {
            return None;
        }
        let patterns: Vec<String> = args.iter().map(Value::to_display_string).collect();
        let result = match self.hash {
            Some(hash) => hash.hash_files(&patterns),
            None => Err(HashFilesError::Unavailable),
        };
        Some(result.map(Value::String).map_err(|message| {
            ExprError::evaluation(format!(
                "hashFiles('{}') failed. {message}",
                patterns.join(", ")
            ))
        }))
    }
}

/// Converts a masked-or-not string map to the `env` context.
pub fn env_context(env: &IndexMap<String, String>) -> Json {
    string_map(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_name_and_type() {
        let mut g = GithubInfo::default();
        assert_eq!((g.ref_name().as_str(), g.ref_type()), ("main", "branch"));
        g.git_ref = "refs/tags/v1.2".into();
        assert_eq!((g.ref_name().as_str(), g.ref_type()), ("v1.2", "tag"));
    }

    #[test]
    fn status_functions() {
        let mut scope = Scope::new(
            Status::Step {
                failed: true,
                cancelled: false,
            },
            None,
        );
        scope.set("env", json!({"A": "1"}));
        assert!(!scope.eval_condition(None).unwrap());
        assert!(!scope.eval_condition(Some("env.A == '1'")).unwrap());
        assert!(
            scope
                .eval_condition(Some("failure() && env.A == '1'"))
                .unwrap()
        );
        assert!(scope.eval_condition(Some("${{ always() }}")).unwrap());
        scope.set_status(Status::Job {
            all_needs_succeeded: true,
            any_need_failed: false,
            cancelled: true,
        });
        assert!(scope.eval_condition(Some("cancelled()")).unwrap());
        assert!(!scope.eval_condition(Some("success()")).unwrap());
    }

    #[test]
    fn templates_render_strings() {
        let mut scope = Scope::new(
            Status::Step {
                failed: false,
                cancelled: false,
            },
            None,
        );
        scope.set("matrix", json!({"n": 3}));
        assert_eq!(scope.eval_string("n=${{ matrix.n }}!").unwrap(), "n=3!");
        assert_eq!(scope.eval_string("plain").unwrap(), "plain");
        assert!(scope.eval_string("${{ hashFiles('x') }}").is_err());
    }
}
