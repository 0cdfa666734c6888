//! `tests/fixtures/events/*.json`: `{"on": {event: config}, "cases": [{"event", "ref"?,
//! "base_ref"?, "payload"?, "files"? | "files_generated"?, "runs": true | "skip": reason}]}`, or
//! `{"on": ..., "errors": [messages]}`. `on` uses the workflow's own keys (`branches-ignore`).

use gantry_plan::{ChangedFiles, Event, TriggerSpec, Triggers};
use serde_json::Value;

use crate::{json_fixtures, strings};

fn list(config: &Value, key: &str) -> Option<Vec<String>> {
    config.get(key).map(strings)
}

fn spec(event: &str, config: &Value) -> TriggerSpec {
    let crons = match config {
        Value::Array(items) => items
            .iter()
            .map(|i| i["cron"].as_str().unwrap().to_owned())
            .collect(),
        _ => Vec::new(),
    };
    TriggerSpec {
        event: event.to_owned(),
        types: list(config, "types"),
        branches: list(config, "branches"),
        branches_ignore: list(config, "branches-ignore"),
        tags: list(config, "tags"),
        tags_ignore: list(config, "tags-ignore"),
        paths: list(config, "paths"),
        paths_ignore: list(config, "paths-ignore"),
        workflows: list(config, "workflows"),
        crons,
        inputs: Default::default(),
    }
}

fn event(case: &Value) -> Event {
    let mut event = Event::new(
        case["event"].as_str().unwrap(),
        case.get("payload").cloned().unwrap_or_default(),
    );
    event.git_ref = case.get("ref").and_then(Value::as_str).map(str::to_owned);
    event.base_ref = case
        .get("base_ref")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(files) = case.get("files") {
        event.changed_files = ChangedFiles::Known(strings(files));
    }
    if let Some(generated) = case.get("files_generated") {
        let filler = generated["filler"].as_u64().unwrap();
        let mut files: Vec<String> = (0..filler).map(|i| format!("docs/{i}.txt")).collect();
        files.extend(strings(&generated["then"]));
        event.changed_files = ChangedFiles::Known(files);
    }
    event
}

#[test]
fn event_fixtures() {
    let mut checked = 0;
    for (name, fixture) in json_fixtures("events") {
        let specs: Vec<TriggerSpec> = fixture["on"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(e, c)| spec(e, c))
            .collect();
        let compiled = Triggers::compile(&specs);
        if let Some(expected) = fixture.get("errors") {
            let errors: Vec<String> = compiled
                .expect_err(&name)
                .iter()
                .map(ToString::to_string)
                .collect();
            assert_eq!(errors, strings(expected), "{name}");
            continue;
        }
        let triggers = compiled.unwrap_or_else(|e| panic!("{name}: {e:?}"));
        for (i, case) in fixture["cases"].as_array().unwrap().iter().enumerate() {
            let outcome = triggers
                .check(&event(case))
                .map(|_| ())
                .map_err(|r| r.to_string());
            let expected = match case.get("skip") {
                Some(reason) => Err(reason.as_str().unwrap().to_owned()),
                None => Ok(()),
            };
            assert_eq!(
                case.get("runs").and_then(Value::as_bool),
                expected.is_ok().then_some(true),
                "{name} #{i}: fixture"
            );
            assert_eq!(outcome, expected, "{name} case #{i}");
            checked += 1;
        }
    }
    assert!(checked >= 50, "only {checked} cases");
}

#[test]
fn next_schedule_picks_the_earliest_cron() {
    let spec = TriggerSpec {
        event: "schedule".into(),
        crons: vec!["0 12 * * *".into(), "30 6 * * *".into()],
        ..TriggerSpec::default()
    };
    let triggers = Triggers::compile(&[spec]).unwrap();
    // 2023-11-14 22:13:20 UTC: the next firing is 06:30 the next day.
    let (at, cron) = triggers.next_schedule(1_700_000_000).unwrap();
    assert_eq!((at, cron.as_str()), (1_700_029_800, "30 6 * * *"));
    assert!(triggers.check(&Event::schedule(cron.as_str())).is_ok());
    assert!(Triggers::default().next_schedule(0).is_none());
}
