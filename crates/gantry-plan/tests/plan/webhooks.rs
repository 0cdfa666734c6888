//! Real `release` webhook payloads (conformance/webhooks): activity types and the draft rule.

use gantry_plan::{Event, SkipReason, TriggerSpec, Triggers};
use serde_json::Value;

const RELEASES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/conformance/webhooks/release"
);

fn payloads() -> Vec<(String, Value)> {
    let mut files: Vec<_> = std::fs::read_dir(RELEASES)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let payloads: Vec<_> = files
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (
                name,
                serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap(),
            )
        })
        .collect();
    assert!(payloads.len() >= 10);
    payloads
}

fn release_triggers(types: Option<&[&str]>) -> Triggers {
    let spec = TriggerSpec {
        event: "release".into(),
        types: types.map(|t| t.iter().map(|s| (*s).to_owned()).collect()),
        ..TriggerSpec::default()
    };
    Triggers::compile(&[spec]).unwrap()
}

#[test]
fn types_select_the_payload_action() {
    for (name, payload) in payloads() {
        let action = payload["action"].as_str().unwrap().to_owned();
        let event = Event::new("release", payload);
        assert!(
            release_triggers(None).check(&event).is_ok(),
            "{name}: no types means every type"
        );
        assert!(
            release_triggers(Some(&[action.as_str()]))
                .check(&event)
                .is_ok(),
            "{name}"
        );
        let other = if action == "published" {
            "created"
        } else {
            "published"
        };
        let skipped = release_triggers(Some(&[other])).check(&event).unwrap_err();
        assert!(
            matches!(skipped, SkipReason::ActivityType { .. }),
            "{name}: {skipped}"
        );
    }
}

#[test]
fn drafts_do_not_trigger_created_edited_or_deleted() {
    for (name, mut payload) in payloads() {
        payload["release"]["draft"] = Value::Bool(true);
        let action = payload["action"].as_str().unwrap().to_owned();
        let outcome = release_triggers(None)
            .check(&Event::new("release", payload))
            .map(|_| ());
        match action.as_str() {
            "created" | "edited" | "deleted" => {
                assert_eq!(outcome, Err(SkipReason::DraftRelease(action)), "{name}")
            }
            _ => assert_eq!(outcome, Ok(()), "{name}"),
        }
    }
}
