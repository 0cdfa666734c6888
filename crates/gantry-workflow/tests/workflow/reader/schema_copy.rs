//! The embedded schemas are unchanged copies of GitHub's (kept in `shared/conformance/schema`).

#[test]
fn embedded_schemas_match_shared_copies() {
    let shared = super::conformance_dir().join("schema");
    if !shared.exists() {
        return;
    }
    let ours = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema");
    for name in ["workflow-v1.0.json", "action-v1.0.json"] {
        let theirs = std::fs::read(shared.join(name)).unwrap();
        let mine = std::fs::read(ours.join(name)).unwrap();
        assert!(
            theirs == mine,
            "schema/{name} differs from shared/conformance/schema/{name}"
        );
    }
}
