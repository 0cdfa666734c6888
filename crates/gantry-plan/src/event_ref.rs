//! Which commit and ref a run of an event gets: GitHub's table of `GITHUB_REF` / `GITHUB_SHA`
//! per event ("Events that trigger workflows"), in one place for `gantry run` and the daemon.
//!
//! The table reads only the event's payload. A payload that names the commit (`push`'s `after`,
//! a pull request's head) gives [`EventRef::sha`]; otherwise the caller resolves
//! [`EventRef::git_ref`] to its tip.

use serde_json::Value as Json;

/// The ref and commit a run checks out, with the pull-request refs GitHub reports beside them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRef {
    /// `GITHUB_REF`: fully qualified (`refs/heads/main`, `refs/tags/v1`, `refs/pull/7/merge`).
    pub git_ref: String,
    /// The commit the payload names, when it names one (`None`: the tip of `git_ref`).
    pub sha: Option<String>,
    /// Where to look when `git_ref` is not in the repository (a release's target branch, the
    /// pushed branch when `after` is unknown).
    pub fallback: Option<String>,
    /// `GITHUB_HEAD_REF`: the pull request's head branch, empty for other events.
    pub head_ref: String,
    /// `GITHUB_BASE_REF`: the pull request's base branch, empty for other events.
    pub base_ref: String,
}

/// Why an event's payload gives no ref.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventRefError {
    #[error("the {event} payload has no `{field}`")]
    Missing { event: String, field: &'static str },
    #[error("the push deleted {0}: nothing to run")]
    Deleted(String),
}

/// Events whose pull request fields GitHub reports as `head_ref` / `base_ref`.
const PULL_REQUEST_EVENTS: [&str; 4] = [
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_target",
];

/// GitHub's `GITHUB_REF` / `GITHUB_SHA` for `event` with `payload`. Events the table does not
/// name a ref for (issues, schedule, workflow_run, ...) run on the default branch, which comes
/// from `repository.default_branch` in the payload.
pub fn event_ref(event: &str, payload: &Json) -> Result<EventRef, EventRefError> {
    let text = |path: &[&str]| {
        path.iter()
            .try_fold(payload, |v, k| v.get(*k))
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty())
    };
    let missing = |field| EventRefError::Missing {
        event: event.to_owned(),
        field,
    };
    let (head_ref, base_ref) = pull_request_refs(event, payload);
    let at = |git_ref: String, sha: Option<&str>, fallback: Option<String>| EventRef {
        git_ref,
        sha: sha.map(str::to_owned),
        fallback,
        head_ref: head_ref.clone(),
        base_ref: base_ref.clone(),
    };
    let default_branch = || {
        text(&["repository", "default_branch"])
            .map(|b| qualify(b, "refs/heads/"))
            .ok_or_else(|| missing("repository.default_branch"))
    };
    Ok(match event {
        "push" => {
            let git_ref = text(&["ref"]).ok_or_else(|| missing("ref"))?;
            if payload.get("deleted").and_then(Json::as_bool) == Some(true) {
                return Err(EventRefError::Deleted(git_ref.to_owned()));
            }
            let after = text(&["after"]).filter(|sha| !is_zero_sha(sha));
            at(git_ref.to_owned(), after, Some(git_ref.to_owned()))
        }
        "create" => {
            let name = text(&["ref"]).ok_or_else(|| missing("ref"))?;
            let prefix = if text(&["ref_type"]) == Some("tag") {
                "refs/tags/"
            } else {
                "refs/heads/"
            };
            at(qualify(name, prefix), None, None)
        }
        "release" => {
            let tag = text(&["release", "tag_name"]).ok_or_else(|| missing("release.tag_name"))?;
            let target = text(&["release", "target_commitish"]);
            at(
                qualify(tag, "refs/tags/"),
                None,
                target.map(|c| qualify(c, "refs/heads/")),
            )
        }
        "pull_request" | "pull_request_review" | "pull_request_review_comment" => {
            let number = payload
                .get("number")
                .or_else(|| payload.get("pull_request").and_then(|p| p.get("number")))
                .and_then(Json::as_u64)
                .ok_or_else(|| missing("number"))?;
            let head = text(&["pull_request", "head", "sha"]);
            at(format!("refs/pull/{number}/merge"), head, None)
        }
        // The base branch's code runs, with the base's permissions: that is the point of it.
        "pull_request_target" => {
            let base = text(&["pull_request", "base", "ref"])
                .ok_or_else(|| missing("pull_request.base.ref"))?;
            at(qualify(base, "refs/heads/"), None, None)
        }
        "workflow_dispatch" => {
            let git_ref = text(&["ref"]).ok_or_else(|| missing("ref"))?;
            at(qualify(git_ref, "refs/heads/"), None, None)
        }
        "deployment" | "deployment_status" => {
            let sha = text(&["deployment", "sha"]);
            match text(&["deployment", "ref"]) {
                Some(r) if sha != Some(r) => at(qualify(r, "refs/heads/"), sha, None),
                _ => at(default_branch()?, sha, None),
            }
        }
        "merge_group" => {
            let git_ref = text(&["merge_group", "head_ref"])
                .ok_or_else(|| missing("merge_group.head_ref"))?;
            at(git_ref.to_owned(), text(&["merge_group", "head_sha"]), None)
        }
        _ => at(default_branch()?, None, None),
    })
}

/// `GITHUB_HEAD_REF` / `GITHUB_BASE_REF`: the pull request's branches for pull-request events,
/// empty for the others.
pub fn pull_request_refs(event: &str, payload: &Json) -> (String, String) {
    if !PULL_REQUEST_EVENTS.contains(&event) {
        return (String::new(), String::new());
    }
    let text = |pointer: &str| {
        payload
            .pointer(pointer)
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (
        text("/pull_request/head/ref"),
        text("/pull_request/base/ref"),
    )
}

/// `name` with `prefix` unless it is already a full ref.
fn qualify(name: &str, prefix: &str) -> String {
    if name.starts_with("refs/") {
        name.to_owned()
    } else {
        format!("{prefix}{name}")
    }
}

/// GitHub's "no commit" (a created branch's `before`, a deleted one's `after`).
pub fn is_zero_sha(sha: &str) -> bool {
    !sha.is_empty() && sha.bytes().all(|b| b == b'0')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn git_ref(event: &str, payload: Json) -> String {
        event_ref(event, &payload).unwrap().git_ref
    }

    #[test]
    fn follows_githubs_table() {
        let repo = json!({"default_branch": "trunk"});
        assert_eq!(
            event_ref("push", &json!({"ref": "refs/heads/dev", "after": "abc"})).unwrap(),
            EventRef {
                git_ref: "refs/heads/dev".into(),
                sha: Some("abc".into()),
                fallback: Some("refs/heads/dev".into()),
                head_ref: String::new(),
                base_ref: String::new(),
            }
        );
        assert_eq!(
            event_ref(
                "release",
                &json!({"release": {"tag_name": "v1", "target_commitish": "main"}})
            )
            .unwrap()
            .fallback
            .as_deref(),
            Some("refs/heads/main")
        );
        let pr = json!({"number": 7, "pull_request": {
            "head": {"ref": "feature", "sha": "h"}, "base": {"ref": "main", "sha": "b"}}});
        for event in [
            "pull_request",
            "pull_request_review",
            "pull_request_review_comment",
        ] {
            let r = event_ref(event, &pr).unwrap();
            assert_eq!(
                (r.git_ref.as_str(), r.sha.as_deref()),
                ("refs/pull/7/merge", Some("h"))
            );
            assert_eq!(
                (r.head_ref.as_str(), r.base_ref.as_str()),
                ("feature", "main")
            );
        }
        let target = event_ref("pull_request_target", &pr).unwrap();
        assert_eq!(
            (target.git_ref.as_str(), target.sha),
            ("refs/heads/main", None)
        );
        assert_eq!(target.head_ref, "feature");
        assert_eq!(
            git_ref("workflow_dispatch", json!({"ref": "main"})),
            "refs/heads/main"
        );
        assert_eq!(
            git_ref("create", json!({"ref": "v2", "ref_type": "tag"})),
            "refs/tags/v2"
        );
        for event in [
            "issues",
            "issue_comment",
            "schedule",
            "workflow_run",
            "label",
        ] {
            assert_eq!(
                git_ref(event, json!({"repository": repo})),
                "refs/heads/trunk"
            );
        }
        assert_eq!(
            git_ref(
                "deployment",
                json!({"deployment": {"ref": "rel", "sha": "d"}})
            ),
            "refs/heads/rel"
        );
    }

    #[test]
    fn missing_fields_and_deleted_pushes_are_errors() {
        assert_eq!(
            event_ref("issues", &json!({})),
            Err(EventRefError::Missing {
                event: "issues".into(),
                field: "repository.default_branch"
            })
        );
        assert_eq!(
            event_ref("push", &json!({"ref": "refs/heads/x", "deleted": true})),
            Err(EventRefError::Deleted("refs/heads/x".into()))
        );
        let zero = "0".repeat(40);
        assert_eq!(
            event_ref("push", &json!({"ref": "refs/heads/x", "after": zero}))
                .unwrap()
                .sha,
            None
        );
    }
}
