//! The `github` context, built once from an event's facts: the planner (workflow-level
//! `concurrency:`, matrices), the daemon and `gantry run` evaluate against the same fields the
//! runner gives its steps, so `${{ github.ref_name }}` means one thing at plan and run time.
//!
//! No I/O: the event name, payload, repository, commit and ref are inputs. The runner adds the
//! per-step fields ([`STEP_FIELDS`]) and derives the `GITHUB_*` variables from the same facts.

use serde_json::{Map, Value as Json, json};

use crate::event_ref::pull_request_refs;

/// Fields of the `github` context that differ per step (the runner fills them; before a step
/// they are empty).
pub const STEP_FIELDS: [&str; 7] = [
    "event_path",
    "workspace",
    "job",
    "action",
    "action_path",
    "action_repository",
    "action_ref",
];

/// Fields only known once the run is stored (the daemon plans before it has a run id).
pub const RUN_FIELDS: [&str; 3] = ["run_id", "run_number", "run_attempt"];

/// Facts about the run that the `github` context and the `GITHUB_*` variables expose.
#[derive(Debug, Clone)]
pub struct GithubInfo {
    pub event_name: String,
    pub event: Json,
    pub sha: String,
    /// `refs/heads/main`, `refs/tags/v1`, `refs/pull/1/merge`.
    pub git_ref: String,
    pub head_ref: String,
    pub base_ref: String,
    pub repository: String,
    pub actor: String,
    pub triggering_actor: String,
    pub workflow: String,
    /// `.github/workflows/ci.yml`.
    pub workflow_path: String,
    pub run_id: String,
    pub run_number: u64,
    pub run_attempt: u64,
    pub server_url: String,
    pub api_url: String,
    pub graphql_url: String,
    pub token: String,
}

impl Default for GithubInfo {
    fn default() -> Self {
        Self {
            event_name: "push".into(),
            event: json!({}),
            sha: "0000000000000000000000000000000000000000".into(),
            git_ref: "refs/heads/main".into(),
            head_ref: String::new(),
            base_ref: String::new(),
            repository: "local/repository".into(),
            actor: "gantry".into(),
            triggering_actor: "gantry".into(),
            workflow: "workflow".into(),
            workflow_path: String::new(),
            run_id: "1".into(),
            run_number: 1,
            run_attempt: 1,
            server_url: "https://github.com".into(),
            api_url: "https://api.github.com".into(),
            graphql_url: "https://api.github.com/graphql".into(),
            token: String::new(),
        }
    }
}

/// What an event tells about a run before it starts: the inputs of [`GithubInfo::for_event`].
#[derive(Debug, Clone, Copy)]
pub struct EventFacts<'a> {
    pub event_name: &'a str,
    /// The webhook payload (with `workflow_dispatch` inputs in `inputs`).
    pub payload: &'a Json,
    /// `owner/repo`.
    pub repository: &'a str,
    pub sha: &'a str,
    /// Fully qualified, as [`crate::event_ref`] gives it.
    pub git_ref: &'a str,
    /// `.github/workflows/ci.yml`.
    pub workflow_path: &'a str,
    /// The workflow's `name:`; GitHub shows the path when it has none.
    pub workflow_name: Option<&'a str>,
}

impl GithubInfo {
    /// The run's facts from its event, as GitHub derives them: the actor is the payload's
    /// sender, `head_ref` / `base_ref` come from the pull request of pull-request events only,
    /// `workflow` is the name or else the path. Run numbers, URLs and the token keep their
    /// defaults for the caller to set.
    pub fn for_event(facts: &EventFacts<'_>) -> Self {
        let actor = facts
            .payload
            .pointer("/sender/login")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned();
        let (head_ref, base_ref) = pull_request_refs(facts.event_name, facts.payload);
        GithubInfo {
            event_name: facts.event_name.to_owned(),
            event: facts.payload.clone(),
            sha: facts.sha.to_owned(),
            git_ref: facts.git_ref.to_owned(),
            head_ref,
            base_ref,
            repository: facts.repository.to_owned(),
            triggering_actor: actor.clone(),
            actor,
            workflow: workflow_name(facts.workflow_name, facts.workflow_path),
            workflow_path: facts.workflow_path.to_owned(),
            ..GithubInfo::default()
        }
    }

    /// Names the workflow the run is of: `workflow` is its `name:`, or the path without one.
    pub fn set_workflow(&mut self, name: Option<&str>, path: &str) {
        self.workflow = workflow_name(name, path);
        self.workflow_path = path.to_owned();
    }

    /// `main` for `refs/heads/main`, `v1` for `refs/tags/v1`, `1/merge` for pull refs.
    pub fn ref_name(&self) -> String {
        let r = &self.git_ref;
        ["refs/heads/", "refs/tags/", "refs/pull/"]
            .iter()
            .find_map(|p| r.strip_prefix(p))
            .unwrap_or(r)
            .to_owned()
    }

    pub fn ref_type(&self) -> &'static str {
        if self.git_ref.starts_with("refs/tags/") {
            "tag"
        } else {
            "branch"
        }
    }

    pub fn owner(&self) -> String {
        self.repository
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned()
    }

    /// `owner/repo/.github/workflows/ci.yml@refs/heads/main`.
    pub fn workflow_ref(&self) -> String {
        format!(
            "{}/{}@{}",
            self.repository, self.workflow_path, self.git_ref
        )
    }

    /// A numeric id from the payload (`sender.id`, `repository.id`, `repository.owner.id`), as
    /// GitHub fills `GITHUB_ACTOR_ID` and friends; empty when the payload has none.
    fn payload_id(&self, path: &[&str]) -> String {
        match path.iter().try_fold(&self.event, |v, k| v.get(k)) {
            Some(Json::Number(n)) => n.to_string(),
            Some(Json::String(s)) => s.clone(),
            _ => String::new(),
        }
    }

    pub fn actor_id(&self) -> String {
        self.payload_id(&["sender", "id"])
    }

    pub fn repository_id(&self) -> String {
        self.payload_id(&["repository", "id"])
    }

    pub fn repository_owner_id(&self) -> String {
        self.payload_id(&["repository", "owner", "id"])
    }

    /// The `github` context outside a step: every field, the per-step ones ([`STEP_FIELDS`])
    /// empty. The runner overwrites those in place for each step.
    pub fn context(&self) -> Map<String, Json> {
        let mut m = Map::new();
        let mut put = |k: &str, v: Json| {
            m.insert(k.to_owned(), v);
        };
        put("event", self.event.clone());
        put("event_name", json!(self.event_name));
        put("event_path", json!(""));
        put("sha", json!(self.sha));
        put("ref", json!(self.git_ref));
        put("ref_name", json!(self.ref_name()));
        put("ref_type", json!(self.ref_type()));
        put("ref_protected", json!(false));
        put("head_ref", json!(self.head_ref));
        put("base_ref", json!(self.base_ref));
        put("repository", json!(self.repository));
        put("repository_owner", json!(self.owner()));
        put("repository_id", json!(self.repository_id()));
        put("repository_owner_id", json!(self.repository_owner_id()));
        put("actor_id", json!(self.actor_id()));
        put(
            "repositoryUrl",
            json!(format!("git://github.com/{}.git", self.repository)),
        );
        put("actor", json!(self.actor));
        put("triggering_actor", json!(self.triggering_actor));
        put("workflow", json!(self.workflow));
        put("workflow_ref", json!(self.workflow_ref()));
        put("workflow_sha", json!(self.sha));
        put("run_id", json!(self.run_id));
        put("run_number", json!(self.run_number.to_string()));
        put("run_attempt", json!(self.run_attempt.to_string()));
        put("retention_days", json!("90"));
        put("server_url", json!(self.server_url));
        put("api_url", json!(self.api_url));
        put("graphql_url", json!(self.graphql_url));
        put("token", json!(self.token));
        for key in &STEP_FIELDS[1..] {
            put(key, json!(""));
        }
        m
    }

    /// [`GithubInfo::context`] without the fields a run only has once it is stored
    /// ([`RUN_FIELDS`]): what the daemon's planner evaluates `concurrency:` against.
    pub fn context_before_run(&self) -> Map<String, Json> {
        let mut context = self.context();
        for key in RUN_FIELDS {
            context.shift_remove(key);
        }
        context
    }
}

fn workflow_name(name: Option<&str>, path: &str) -> String {
    name.unwrap_or(path).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_follow_githubs_rules() {
        let payload = json!({
            "sender": {"login": "octo", "id": 5},
            "pull_request": {"head": {"ref": "feature"}, "base": {"ref": "main"}},
        });
        let facts = EventFacts {
            event_name: "pull_request",
            payload: &payload,
            repository: "o/r",
            sha: "abc",
            git_ref: "refs/pull/7/merge",
            workflow_path: ".github/workflows/ci.yml",
            workflow_name: None,
        };
        let info = GithubInfo::for_event(&facts);
        let context = info.context();
        assert_eq!(context["actor"], "octo");
        assert_eq!(context["actor_id"], "5");
        assert_eq!(context["ref_name"], "7/merge");
        assert_eq!(
            (context["head_ref"].clone(), context["base_ref"].clone()),
            (json!("feature"), json!("main"))
        );
        assert_eq!(context["workflow"], ".github/workflows/ci.yml");
        // Only pull-request events report the pull request's branches.
        let issue = GithubInfo::for_event(&EventFacts {
            event_name: "issue_comment",
            workflow_name: Some("CI"),
            ..facts
        });
        assert_eq!(
            (issue.head_ref.as_str(), issue.workflow.as_str()),
            ("", "CI")
        );
        let before = info.context_before_run();
        assert!(RUN_FIELDS.iter().all(|k| !before.contains_key(*k)));
        assert!(STEP_FIELDS.iter().all(|k| before[*k] == ""));
    }
}
