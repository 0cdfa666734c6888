//! Reusable-workflow calls to workflows of the same repository (`uses: ./.github/workflows/x.yml`)
//! checked against the called file: its inputs, secrets and permissions. The checks are the
//! reader's ([`gantry_workflow::check_calls`]); this module reads the called files, which the
//! reader may not.

use std::path::Path;

use gantry_workflow::{CallOptions, Diagnostic, Workflow, check_calls};

/// The call diagnostics of `workflow`, reading callees under `root`.
pub fn check(workflow: &Workflow, root: &Path) -> Vec<Diagnostic> {
    let calls_local = workflow
        .jobs
        .values()
        .any(|j| j.uses.as_ref().is_some_and(|u| u.value.starts_with("./")));
    if !calls_local {
        return Vec::new();
    }
    let resolve = |uses: &str| -> Option<Workflow> {
        let path = uses.strip_prefix("./")?;
        let text = std::fs::read_to_string(root.join(path)).ok()?;
        gantry_workflow::parse_workflow(path, &text).value
    };
    check_calls(workflow, &resolve, &CallOptions::default())
}
