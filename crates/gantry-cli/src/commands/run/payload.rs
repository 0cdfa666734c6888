//! Webhook payloads gantry synthesizes when `-e` gives none: plausible enough that workflows
//! reading `github.event.*` (a release's tag, a push's head commit, a pull request's branches)
//! behave as they would on GitHub. Built from the local repository's facts; pure data.

use indexmap::IndexMap;
use serde_json::{Map, Value as Json, json};

use crate::engine::RepoInfo;

/// The tag of a synthesized release outside a git repository (as the runner's git module uses
/// when no tag is reachable).
const DEFAULT_TAG: &str = "v0.0.0";

/// What an event's payload and refs are made from.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub event: &'a str,
    /// `None` outside a git repository.
    pub repo: Option<&'a RepoInfo>,
    pub inputs: &'a IndexMap<String, String>,
}

impl Facts<'_> {
    fn repository(&self) -> &str {
        self.repo
            .map_or("local/repository", |r| r.repository.as_str())
    }

    fn actor(&self) -> &str {
        self.repo.map_or("gantry", |r| r.actor.as_str())
    }

    fn sha(&self) -> &str {
        self.repo
            .map_or("0000000000000000000000000000000000000000", |r| {
                r.sha.as_str()
            })
    }

    fn branch(&self) -> String {
        self.repo
            .and_then(|r| r.branch.clone())
            .unwrap_or_else(|| "refs/heads/main".to_owned())
    }
}

/// The payload for `facts.event`; events without a dedicated shape get the common fields.
pub fn synthesize(facts: &Facts<'_>) -> Json {
    let mut payload = match facts.event {
        "push" => push(facts),
        "release" => release(facts),
        "workflow_dispatch" => workflow_dispatch(facts),
        // Run directly (for debugging), a called workflow sees its inputs as a dispatch does.
        "workflow_call" => workflow_call(facts),
        "pull_request"
        | "pull_request_target"
        | "pull_request_review"
        | "pull_request_review_comment" => pull_request(facts),
        _ => Map::new(),
    };
    payload.insert("repository".into(), repository(facts));
    payload.insert("sender".into(), user(facts.actor()));
    Json::Object(payload)
}

/// A `schedule` run's payload names the cron that fired (`github.event.schedule`): without one
/// (no `-e`, or a payload lacking it) the workflow's first schedule.
pub fn name_schedule<'c>(
    event: &str,
    payload: &mut Json,
    mut crons: impl Iterator<Item = &'c str>,
) {
    if event != "schedule" || payload.get("schedule").is_some() {
        return;
    }
    if let (Some(object), Some(cron)) = (payload.as_object_mut(), crons.next()) {
        object.insert("schedule".into(), json!(cron));
    }
}

/// The refs the run reports for an event: (`GITHUB_REF`, `GITHUB_HEAD_REF`, `GITHUB_BASE_REF`),
/// from GitHub's table in `gantry-plan` (the daemon reads the same one). A `-e` payload may be
/// partial; what it lacks falls back to the checked-out ref, as act does.
pub fn refs(event: &str, payload: &Json, repo_ref: &str) -> (String, String, String) {
    match gantry_plan::event_ref(event, payload) {
        Ok(r) => (r.git_ref, r.head_ref, r.base_ref),
        Err(_) => (repo_ref.to_owned(), String::new(), String::new()),
    }
}

fn push(facts: &Facts<'_>) -> Map<String, Json> {
    let repository = facts.repository();
    let commit = head_commit(facts);
    let before = facts
        .repo
        .and_then(|r| r.head_commit.as_ref())
        .and_then(|c| c.parent.clone())
        .unwrap_or_else(|| "0".repeat(40));
    let mut m = Map::new();
    m.insert(
        "ref".into(),
        json!(facts.repo.map_or("refs/heads/main", |r| r.git_ref.as_str())),
    );
    m.insert("before".into(), json!(before));
    m.insert("after".into(), json!(facts.sha()));
    m.insert("created".into(), json!(false));
    m.insert("deleted".into(), json!(false));
    m.insert("forced".into(), json!(false));
    m.insert("base_ref".into(), Json::Null);
    m.insert(
        "compare".into(),
        json!(format!(
            "https://github.com/{repository}/compare/{}...{}",
            short(&before),
            short(facts.sha())
        )),
    );
    m.insert("commits".into(), json!([commit.clone()]));
    m.insert("head_commit".into(), commit);
    m.insert(
        "pusher".into(),
        json!({ "name": facts.actor(), "email": author_email(facts) }),
    );
    m
}

fn release(facts: &Facts<'_>) -> Map<String, Json> {
    let tag = facts
        .repo
        .map_or_else(|| DEFAULT_TAG.to_owned(), |r| r.release_tag.clone());
    let repository = facts.repository();
    let mut m = Map::new();
    m.insert("action".into(), json!("created"));
    m.insert(
        "release".into(),
        json!({
            "id": 1,
            "tag_name": tag,
            "target_commitish": facts.branch().trim_start_matches("refs/heads/"),
            "name": tag,
            "body": "",
            "draft": false,
            "prerelease": false,
            "created_at": timestamp(facts),
            "published_at": timestamp(facts),
            "author": user(facts.actor()),
            "html_url": format!("https://github.com/{repository}/releases/tag/{tag}"),
            "url": format!("https://api.github.com/repos/{repository}/releases/1"),
            "tarball_url": format!("https://api.github.com/repos/{repository}/tarball/{tag}"),
            "zipball_url": format!("https://api.github.com/repos/{repository}/zipball/{tag}"),
            "assets": [],
        }),
    );
    m
}

fn workflow_call(facts: &Facts<'_>) -> Map<String, Json> {
    let mut m = workflow_dispatch(facts);
    m.remove("workflow");
    m
}

fn workflow_dispatch(facts: &Facts<'_>) -> Map<String, Json> {
    let inputs: Map<String, Json> = facts
        .inputs
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let mut m = Map::new();
    m.insert("inputs".into(), Json::Object(inputs));
    m.insert("ref".into(), json!(facts.branch()));
    m.insert("workflow".into(), json!(""));
    m
}

fn pull_request(facts: &Facts<'_>) -> Map<String, Json> {
    let branch = facts.branch();
    let head = branch.trim_start_matches("refs/heads/");
    // A pull request from the current branch into `main` (or from `feature` when on main).
    let head = if head == "main" { "feature" } else { head };
    let repository = facts.repository();
    let repo = repository_object(facts);
    let mut m = Map::new();
    m.insert("action".into(), json!("opened"));
    m.insert("number".into(), json!(1));
    m.insert(
        "pull_request".into(),
        json!({
            "number": 1,
            "state": "open",
            "title": head_message(facts).lines().next().unwrap_or("").to_owned(),
            "body": "",
            "draft": false,
            "merged": false,
            "user": user(facts.actor()),
            "html_url": format!("https://github.com/{repository}/pull/1"),
            "head": { "ref": head, "sha": facts.sha(), "label": format!("{}:{head}", owner(repository)), "repo": repo },
            "base": { "ref": "main", "sha": facts.sha(), "label": format!("{}:main", owner(repository)), "repo": repo },
        }),
    );
    m
}

fn repository(facts: &Facts<'_>) -> Json {
    repository_object(facts)
}

fn repository_object(facts: &Facts<'_>) -> Json {
    let full = facts.repository();
    let (owner_name, name) = full.split_once('/').unwrap_or(("local", full));
    json!({
        "id": 1,
        "name": name,
        "full_name": full,
        "private": false,
        "owner": user(owner_name),
        "html_url": format!("https://github.com/{full}"),
        "clone_url": format!("https://github.com/{full}.git"),
        // A local run has no forge to say which branch is the default: the checked-out one
        // stands in, so events that run on the default branch (issues, schedule) run it.
        "default_branch": facts.branch().strip_prefix("refs/heads/").unwrap_or("main"),
    })
}

fn user(login: &str) -> Json {
    json!({ "login": login, "id": 1, "type": "User" })
}

fn head_commit(facts: &Facts<'_>) -> Json {
    let commit = facts
        .repo
        .and_then(|r| r.head_commit.clone())
        .unwrap_or_default();
    let repository = facts.repository();
    let author = json!({
        "name": commit.author_name,
        "email": commit.author_email,
        "username": facts.actor(),
    });
    json!({
        "id": facts.sha(),
        "tree_id": commit.tree,
        "distinct": true,
        "message": commit.message,
        "timestamp": timestamp(facts),
        "url": format!("https://github.com/{repository}/commit/{}", facts.sha()),
        "author": author,
        "committer": author,
        "added": [],
        "removed": [],
        "modified": [],
    })
}

fn head_message(facts: &Facts<'_>) -> String {
    facts
        .repo
        .and_then(|r| r.head_commit.as_ref())
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

fn author_email(facts: &Facts<'_>) -> String {
    facts
        .repo
        .and_then(|r| r.head_commit.as_ref())
        .map(|c| c.author_email.clone())
        .unwrap_or_default()
}

/// The head commit's time as GitHub writes it (UTC, seconds).
fn timestamp(facts: &Facts<'_>) -> String {
    let seconds = facts
        .repo
        .and_then(|r| r.head_commit.as_ref())
        .map_or(0, |c| c.time);
    rfc3339(seconds)
}

/// `YYYY-MM-DDTHH:MM:SSZ` from seconds since the epoch (civil-from-days, proleptic Gregorian).
fn rfc3339(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

fn owner(repository: &str) -> &str {
    repository.split('/').next().unwrap_or(repository)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> RepoInfo {
        RepoInfo {
            root: "/r".into(),
            sha: "a".repeat(40),
            git_ref: "refs/heads/dev".into(),
            branch: Some("refs/heads/dev".into()),
            repository: "octo/widget".into(),
            actor: "mona".into(),
            release_tag: "v1.2.3".into(),
            head_commit: None,
        }
    }

    #[test]
    fn release_payload_names_the_tag_and_is_published_as_created() {
        let repo = repo();
        let inputs = IndexMap::new();
        let p = synthesize(&Facts {
            event: "release",
            repo: Some(&repo),
            inputs: &inputs,
        });
        assert_eq!(p["action"], "created");
        assert_eq!(p["release"]["tag_name"], "v1.2.3");
        assert_eq!(p["release"]["draft"], false);
        assert_eq!(p["release"]["prerelease"], false);
        assert_eq!(p["repository"]["full_name"], "octo/widget");
        assert_eq!(p["sender"]["login"], "mona");
        assert_eq!(refs("release", &p, "refs/heads/dev").0, "refs/tags/v1.2.3");
    }

    #[test]
    fn release_without_a_repository_uses_v0() {
        let inputs = IndexMap::new();
        let p = synthesize(&Facts {
            event: "release",
            repo: None,
            inputs: &inputs,
        });
        assert_eq!(p["release"]["tag_name"], "v0.0.0");
    }

    #[test]
    fn push_payload_has_ref_and_head_commit() {
        let repo = repo();
        let inputs = IndexMap::new();
        let p = synthesize(&Facts {
            event: "push",
            repo: Some(&repo),
            inputs: &inputs,
        });
        assert_eq!(p["ref"], "refs/heads/dev");
        assert_eq!(p["after"], "a".repeat(40));
        assert_eq!(p["head_commit"]["id"], "a".repeat(40));
        assert_eq!(p["commits"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn dispatch_payload_carries_inputs_and_pull_request_refs_follow_the_payload() {
        let repo = repo();
        let inputs = IndexMap::from([("level".to_owned(), "debug".to_owned())]);
        let p = synthesize(&Facts {
            event: "workflow_dispatch",
            repo: Some(&repo),
            inputs: &inputs,
        });
        assert_eq!(p["inputs"]["level"], "debug");
        let p = synthesize(&Facts {
            event: "pull_request",
            repo: Some(&repo),
            inputs: &inputs,
        });
        assert_eq!(
            refs("pull_request", &p, ""),
            (
                "refs/pull/1/merge".to_owned(),
                "dev".to_owned(),
                "main".to_owned()
            )
        );
        // pull_request_target runs the base branch; issues run the default (here: checked-out)
        // branch. Both used to fall back to the payload's missing `ref`.
        for (event, want) in [
            ("pull_request_target", "refs/heads/main"),
            ("pull_request_review", "refs/pull/1/merge"),
            ("issues", "refs/heads/dev"),
        ] {
            let p = synthesize(&Facts {
                event,
                repo: Some(&repo),
                inputs: &inputs,
            });
            assert_eq!(refs(event, &p, "refs/heads/other").0, want, "{event}");
        }
    }

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
