//! Arbitrary input never panics the reader.

use proptest::prelude::*;

/// Fragments that steer random input towards workflow-shaped YAML.
fn yamlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("on: push\n".to_owned()),
        Just("jobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n".to_owned()),
        Just("${{ ".to_owned()),
        Just(" }}".to_owned()),
        Just("&a ".to_owned()),
        Just("*a".to_owned()),
        Just("!!int ".to_owned()),
        Just("- ".to_owned()),
        Just(": ".to_owned()),
        Just("\n  ".to_owned()),
        Just("'".to_owned()),
        Just("\"".to_owned()),
        Just("[{".to_owned()),
        "[a-z0-9 _.()=!|&-]{0,12}",
        "\\PC{0,4}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn workflows_never_panic(src in yamlish()) {
        let parsed = gantry_workflow::parse_workflow("fuzz.yml", &src);
        for d in &parsed.diagnostics {
            prop_assert!(d.span.start.line >= 1 || d.span.start.line == 0);
        }
    }

    #[test]
    fn actions_never_panic(src in yamlish()) {
        let _ = gantry_workflow::parse_action("action.yml", &src);
    }

    /// Any bytes at all, decoded lossily: NULs, control characters, tabs, BOMs and broken
    /// UTF-8 that the fragments above never produce.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let src = String::from_utf8_lossy(&bytes);
        let _ = gantry_workflow::parse_workflow("fuzz.yml", &src);
        let _ = gantry_workflow::parse_action("action.yml", &src);
    }

    /// Bytes spliced into workflow-shaped text, so the reader gets past the first line.
    #[test]
    fn bytes_inside_workflows_never_panic(
        src in yamlish(),
        bytes in prop::collection::vec(any::<u8>(), 0..64),
        at in any::<prop::sample::Index>(),
    ) {
        let mut text = src.into_bytes();
        let at = at.index(text.len() + 1);
        text.splice(at..at, bytes);
        let src = String::from_utf8_lossy(&text);
        let _ = gantry_workflow::parse_workflow("fuzz.yml", &src);
    }
}

/// Nesting past GitHub's depth limit (50) is reported; hostile nesting is an error, not a
/// stack overflow.
#[test]
fn deep_nesting_is_an_error() {
    for (depth, expected) in [
        (60, "Maximum object depth exceeded"),
        (200_000, "YAML syntax error: recursion limit exceeded"),
    ] {
        let source = format!("on: push\njobs: {}{}", "[".repeat(depth), "]".repeat(depth));
        let parsed = gantry_workflow::parse_workflow("deep.yml", &source);
        let messages: Vec<&str> = parsed
            .diagnostics
            .iter()
            .map(|d| d.message.as_str())
            .collect();
        assert!(messages.contains(&expected), "{depth}: {messages:?}");
    }
}
