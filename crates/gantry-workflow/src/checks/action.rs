//! `action.yml`: what `runs.using` may be, and what composite actions need.

use super::Sink;
use super::steps;
use crate::model::{Action, ActionRuns, Spanned};

/// Node versions the runner can start. `node12` and `node16` are retired but still read.
const NODE_VERSIONS: &[&str] = &["node12", "node16", "node20", "node24"];
const RETIRED_NODE: &[&str] = &["node12", "node16"];

pub(super) fn check(action: &Action, sink: &mut Sink) {
    match &action.runs.value {
        ActionRuns::Node {
            using,
            main,
            pre,
            pre_if,
            post,
            post_if,
        } => {
            if !NODE_VERSIONS.contains(&using.value.as_str()) {
                let message = format!(
                    "Unknown 'using' value '{}'. Use one of {}, 'docker' or 'composite'.",
                    using.value,
                    NODE_VERSIONS.join(", ")
                );
                sink.error(using.span, "action", message);
            } else if RETIRED_NODE.contains(&using.value.as_str()) {
                let message = format!(
                    "'{}' is retired on GitHub-hosted runners; use 'node20' or 'node24'.",
                    using.value
                );
                sink.warning(using.span, "action", message);
            }
            check_hook_condition("pre", pre.is_some(), pre_if.as_ref(), sink);
            check_hook_condition("post", post.is_some(), post_if.as_ref(), sink);
            if main.value.trim().is_empty() {
                sink.error(main.span, "action", "Required property is missing: main");
            }
        }
        ActionRuns::Docker { image, .. } => {
            if image.value.trim().is_empty() {
                sink.error(image.span, "action", "Required property is missing: image");
            }
        }
        ActionRuns::Composite { steps: list } => {
            steps::check_steps(list, None, sink);
            check_composite_outputs(action, sink);
        }
    }
}

/// `pre-if`/`post-if` guard a `pre`/`post` script; without the script they do nothing.
fn check_hook_condition(
    hook: &str,
    has_script: bool,
    condition: Option<&Spanned<String>>,
    sink: &mut Sink,
) {
    if let Some(condition) = condition
        && !has_script
    {
        let message = format!("'{hook}-if' has no effect without '{hook}'.");
        sink.warning(condition.span, "action", message);
    }
}

/// A composite action has no process to set outputs: each one must say where its value comes from.
fn check_composite_outputs(action: &Action, sink: &mut Sink) {
    for (name, output) in &action.outputs {
        if output.value.value.is_none() {
            let message = format!("Output '{name}' of a composite action needs a 'value'.");
            sink.error(output.span, "action", message);
        }
    }
}
