//! `script-injection`: webhook values that whoever opens an issue, names a branch or writes a
//! commit message controls, pasted into a `run:` script or `actions/github-script` code, where
//! they run as code. GitHub's hardening guide lists them ("Understanding the risk of script
//! injections"); the fix is to pass the value through `env:` and quote the variable.

use gantry_expr::{Node, NodeKind, PathPart, Reference};
use gantry_workflow::Severity;

use crate::expr::SiteExpr;
use crate::report::Report;
use crate::rules::SCRIPT_INJECTION;
use crate::walk::Site;

/// Paths under `github.` that carry text an outsider chooses; `*` is any one key.
const UNTRUSTED: &[&str] = &[
    "head_ref",
    "event.issue.title",
    "event.issue.body",
    "event.pull_request.title",
    "event.pull_request.body",
    "event.pull_request.head.ref",
    "event.pull_request.head.label",
    "event.pull_request.head.repo.default_branch",
    "event.pull_request.head.repo.description",
    "event.pull_request.head.repo.homepage",
    "event.comment.body",
    "event.review.body",
    "event.review_comment.body",
    "event.pages.*.page_name",
    "event.commits.*.message",
    "event.commits.*.author.email",
    "event.commits.*.author.name",
    "event.head_commit.message",
    "event.head_commit.author.email",
    "event.head_commit.author.name",
    "event.head_commit.committer.email",
    "event.head_commit.committer.name",
    "event.discussion.title",
    "event.discussion.body",
    "event.workflow_run.head_branch",
    "event.workflow_run.display_title",
    "event.workflow_run.head_commit.message",
    "event.workflow_run.head_commit.author.email",
    "event.workflow_run.head_commit.author.name",
    "event.workflow_run.pull_requests.*.head.ref",
    "event.merge_group.head_commit.message",
    "event.merge_group.head_commit.author.name",
    "event.merge_group.head_commit.author.email",
];

/// Reports untrusted values in the expressions of a script site (`run:` or github-script's
/// `script:`).
pub fn check(site: &Site<'_>, exprs: &[SiteExpr], report: &mut Report) {
    for e in exprs {
        let mut found = Vec::new();
        pasted_references(e.expr.root(), false, &mut found);
        for reference in e.expr.references() {
            let Some(&(_, whole)) = found.iter().find(|(s, _)| *s == reference.span.start) else {
                continue;
            };
            let Some(path) = untrusted(&reference, whole) else {
                continue;
            };
            let var = env_name(&reference);
            let message = format!(
                "`{path}` is text that others control, pasted into the script where it runs as \
                 code; pass it through the step's `env:` (`{var}: ${{{{ {path} }}}}`) and use \
                 \"${var}\" in the script instead"
            );
            report.at_value(
                site,
                e.offset + reference.span.start,
                e.offset + reference.span.end,
                SCRIPT_INJECTION,
                Severity::Warning,
                message,
            );
        }
    }
}

/// The starts of the references whose value ends up in the text (not those that only feed a
/// comparison or a function returning a boolean), and whether a whole object is serialised
/// (`toJSON(github.event)` pastes every field in it).
fn pasted_references(node: &Node, whole: bool, found: &mut Vec<(usize, bool)>) {
    match &node.kind {
        NodeKind::NamedValue(_) | NodeKind::Access { .. } => found.push((node.span.start, whole)),
        NodeKind::Group(inner) => pasted_references(inner, whole, found),
        NodeKind::Logical { operands, .. } => operands
            .iter()
            .for_each(|o| pasted_references(o, whole, found)),
        NodeKind::Call { name, args, .. } => {
            let lower = name.to_ascii_lowercase();
            if matches!(
                lower.as_str(),
                "format" | "join" | "tojson" | "fromjson" | "case"
            ) {
                let whole = whole || lower == "tojson";
                args.iter().for_each(|a| pasted_references(a, whole, found));
            }
        }
        NodeKind::Literal(_) | NodeKind::Not(_) | NodeKind::Compare { .. } => {}
    }
}

/// The reference as a dotted path when it is, or contains, an untrusted value.
fn untrusted(reference: &Reference<'_>, whole: bool) -> Option<String> {
    if !reference.name.eq_ignore_ascii_case("github") {
        return None;
    }
    let keys: Vec<String> = reference
        .path
        .iter()
        .map(|p| match p {
            PathPart::Key(k) => k.to_ascii_lowercase(),
            PathPart::Star | PathPart::Dynamic => "*".to_owned(),
        })
        .collect();
    let hit = UNTRUSTED.iter().any(|pattern| {
        let pattern: Vec<&str> = pattern.split('.').collect();
        // The value itself, something inside it, or (serialised) an object that contains it.
        (keys.len() >= pattern.len() || whole)
            && keys
                .iter()
                .zip(&pattern)
                .all(|(k, p)| *p == "*" || k == "*" || k == p)
            && !keys.is_empty()
    });
    hit.then(|| {
        std::iter::once("github".to_owned())
            .chain(keys)
            .collect::<Vec<_>>()
            .join(".")
    })
}

/// An environment variable name for the value (`github.event.issue.title` → `TITLE`).
fn env_name(reference: &Reference<'_>) -> String {
    let last = reference.path.iter().rev().find_map(|p| match p {
        PathPart::Key(k) if k.parse::<usize>().is_err() => Some(k.as_str()),
        _ => None,
    });
    last.unwrap_or("VALUE")
        .to_ascii_uppercase()
        .replace('-', "_")
}
