//! `on:`: event names, activity types, which filters each event takes, filter patterns, cron
//! schedules and `workflow_dispatch` inputs.

use super::events_table::{self, EventSpec, Filter, Types};
use super::{Sink, is_expression};
use crate::cron::Cron;
use crate::filter::{FilterKind, Pattern};
use crate::model::{EventConfig, Input, InputType, Spanned, StringList, Triggers, Yaml};

pub(super) fn check(on: &Triggers, sink: &mut Sink) {
    for (name, config) in &on.events {
        let Some(spec) = events_table::lookup(name) else {
            sink.error(config.span, "event", unknown_event_message(name));
            continue;
        };
        check_types(spec, config, sink);
        check_filters_apply(spec, &config.value, config.span, sink);
        check_patterns(&config.value, sink);
        for cron in &config.value.crons {
            check_cron(cron, sink);
        }
        if spec.name == "workflow_run" {
            check_workflow_run(config, sink);
        }
        if spec.name == "workflow_dispatch" {
            for (input, spanned) in &config.value.inputs {
                check_dispatch_input(input, spanned, sink);
            }
        }
    }
}

/// GitHub refuses to run a workflow whose `workflow_run` names no workflow to follow.
fn check_workflow_run(config: &Spanned<EventConfig>, sink: &mut Sink) {
    let names = config
        .value
        .workflows
        .as_ref()
        .map(|w| w.value.as_slice())
        .unwrap_or_default();
    if names.is_empty() {
        let span = config
            .value
            .workflows
            .as_ref()
            .map_or(config.span, |w| w.span);
        sink.error(
            span,
            "event-filter",
            "on.workflow_run does not reference any workflows.",
        );
    }
}

fn unknown_event_message(name: &str) -> String {
    let lower = name.to_ascii_lowercase().replace('-', "_");
    match events_table::lookup(&lower) {
        Some(spec) => format!("Unknown event '{name}'. Did you mean '{}'?", spec.name),
        None => format!("Unknown event '{name}'."),
    }
}

fn check_types(spec: &EventSpec, config: &Spanned<EventConfig>, sink: &mut Sink) {
    let Some(types) = &config.value.types else {
        return;
    };
    let allowed = match spec.types {
        Types::Any => return,
        Types::NotApplicable => {
            let message = format!(
                "Event '{}' has no activity types; remove 'types'.",
                spec.name
            );
            sink.error(types.span, "event-types", message);
            return;
        }
        Types::Only(allowed) => allowed,
    };
    for t in &types.value {
        if !allowed.contains(&t.value.as_str()) && !is_expression(&t.value) {
            let message = format!(
                "Unknown activity type '{}' for event '{}'. Valid types: {}.",
                t.value,
                spec.name,
                allowed.join(", ")
            );
            sink.error(t.span, "event-types", message);
        }
    }
}

/// Every list-valued key of an event with the filter it belongs to.
fn filter_lists(c: &EventConfig) -> [(Filter, &'static str, Option<&Spanned<StringList>>); 7] {
    [
        (Filter::Branches, "branches", c.branches.as_ref()),
        (
            Filter::Branches,
            "branches-ignore",
            c.branches_ignore.as_ref(),
        ),
        (Filter::Tags, "tags", c.tags.as_ref()),
        (Filter::Tags, "tags-ignore", c.tags_ignore.as_ref()),
        (Filter::Paths, "paths", c.paths.as_ref()),
        (Filter::Paths, "paths-ignore", c.paths_ignore.as_ref()),
        (Filter::Workflows, "workflows", c.workflows.as_ref()),
    ]
}

fn check_filters_apply(
    spec: &EventSpec,
    c: &EventConfig,
    event_span: crate::model::Span,
    sink: &mut Sink,
) {
    // The schema checks the keys of events that take a configuration ("Unexpected value
    // 'branches'"); only events that take none (`create`, `status`) are read loosely.
    let schema_checked = !crate::schema::workflow_schema()
        .event_config_mappings(spec.name)
        .is_empty();
    for (filter, key, list) in filter_lists(c) {
        if let Some(list) = list
            && !spec.filters.contains(&filter)
            && !schema_checked
        {
            // GitHub reads such a file and ignores the filter: a warning, since the author
            // surely meant it to have an effect.
            sink.warning(
                list.span,
                "event-filter",
                format!(
                    "Event '{}' does not take '{key}'; GitHub ignores it.",
                    spec.name
                ),
            );
        }
    }
    let others = [
        (Filter::Cron, !c.crons.is_empty()),
        (Filter::Inputs, !c.inputs.is_empty()),
        (Filter::Outputs, !c.outputs.is_empty()),
        (Filter::Secrets, !c.secrets.is_empty()),
    ];
    for (filter, present) in others {
        if present && !spec.filters.contains(&filter) {
            let message = format!(
                "Event '{}' does not take '{}'; GitHub ignores it.",
                spec.name,
                filter.key()
            );
            sink.warning(event_span, "event-filter", message);
        }
    }
    check_conflict(
        FilterKind::Branches,
        c.branches.as_ref(),
        c.branches_ignore.as_ref(),
        sink,
    );
    check_conflict(
        FilterKind::Tags,
        c.tags.as_ref(),
        c.tags_ignore.as_ref(),
        sink,
    );
    check_conflict(
        FilterKind::Paths,
        c.paths.as_ref(),
        c.paths_ignore.as_ref(),
        sink,
    );
}

/// `branches` and `branches-ignore` together: reported at whichever comes second.
fn check_conflict(
    kind: FilterKind,
    include: Option<&Spanned<StringList>>,
    ignore: Option<&Spanned<StringList>>,
    sink: &mut Sink,
) {
    let (Some(include), Some(ignore)) = (include, ignore) else {
        return;
    };
    let later = if include.span.start.offset > ignore.span.start.offset {
        include
    } else {
        ignore
    };
    // GitHub's file reader accepts this, so it is no reading error; but GitHub refuses to run the
    // workflow for this event, with this wording. A warning keeps both facts visible.
    let message = format!(
        "you may only define one of `{}` and `{}` for a single event",
        kind.include_key(),
        kind.ignore_key()
    );
    sink.warning(later.span, "event-filter", message);
}

fn check_patterns(c: &EventConfig, sink: &mut Sink) {
    for (filter, key, list) in filter_lists(c) {
        let Some(list) = list else { continue };
        if filter == Filter::Workflows {
            continue;
        }
        for pattern in &list.value {
            if let Some(error) = Pattern::validate(&pattern.value).first() {
                let message = format!(
                    "Invalid pattern '{}' in '{key}': {}",
                    pattern.value, error.kind
                );
                sink.error(pattern.span, "glob", message);
            } else if filter == Filter::Paths {
                check_path_prefix(pattern, key, sink);
            }
        }
    }
}

/// Changed files are matched as `src/main.rs`, relative to the repository root without a
/// leading `./` or `/`: a pattern starting with either can never match.
fn check_path_prefix(pattern: &Spanned<String>, key: &str, sink: &mut Sink) {
    let body = pattern.value.strip_prefix('!').unwrap_or(&pattern.value);
    let Some(prefix) = ["./", "/"].into_iter().find(|p| body.starts_with(p)) else {
        return;
    };
    let message = format!(
        "Pattern '{}' in '{key}' never matches: changed files are relative to the repository root, without a leading '{prefix}'.",
        pattern.value
    );
    sink.error(pattern.span, "glob", message);
}

/// GitHub's message, then the parser's reason; schedules GitHub would throttle get a warning.
fn check_cron(cron: &Spanned<String>, sink: &mut Sink) {
    match Cron::parse(&cron.value) {
        Err(error) => {
            let reason = match error.field {
                Some(field) => format!("{field} field: {}", error.kind),
                None => error.kind.to_string(),
            };
            let message = format!(
                "Invalid cron expression. Expected format: '* * * * *' (minute hour day month weekday): {reason}"
            );
            sink.error(cron.span, "cron", message);
        }
        Ok(parsed) => {
            for warning in parsed.warnings() {
                sink.warning(cron.span, "cron", capitalize(&warning.to_string()));
            }
        }
    }
}

fn check_dispatch_input(name: &str, input: &Spanned<Input>, sink: &mut Sink) {
    let i = &input.value;
    match i.kind {
        InputType::Choice if i.options.is_empty() => {
            sink.error(input.span, "input", "Missing 'options' for choice input");
        }
        InputType::Choice => check_choice_default(name, i, sink),
        _ if !i.options.is_empty() => {
            sink.error(
                input.span,
                "input",
                "Input type is not 'choice', but 'options' is defined",
            );
        }
        InputType::Boolean => check_boolean_default(name, i, sink),
        _ => {}
    }
}

fn check_choice_default(name: &str, input: &Input, sink: &mut Sink) {
    let Some(default) = &input.default else {
        return;
    };
    let text = match &default.value {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        _ => return,
    };
    if !input.options.iter().any(|o| o.value == text) {
        let options: Vec<&str> = input.options.iter().map(|o| o.value.as_str()).collect();
        let message = format!(
            "Default value '{text}' of choice input '{name}' is not one of its options: {}.",
            options.join(", ")
        );
        sink.error(default.span, "input", message);
    }
}

fn check_boolean_default(name: &str, input: &Input, sink: &mut Sink) {
    let Some(default) = &input.default else {
        return;
    };
    // A quoted 'true'/'false' is what the dispatch form sends anyway; GitHub accepts it.
    let is_bool = match &default.value {
        Yaml::Bool(_) => true,
        Yaml::String(s) => s == "true" || s == "false",
        _ => false,
    };
    if !is_bool {
        let message = format!("Default value of boolean input '{name}' must be true or false.");
        sink.error(default.span, "input", message);
    }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
