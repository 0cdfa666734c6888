//! Name validation through the HTTP surface, driven by the lists in `fixtures/names/`.

use crate::common::{Server, client};

fn cases(file: &str) -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/registry/fixtures/names/"
    );
    let text = std::fs::read_to_string(format!("{path}{file}")).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Checks every case and reports all mismatches at once.
async fn check(s: &Server, file: &str, path: impl Fn(&str) -> String, want_400: bool) {
    let mut wrong = Vec::new();
    for name in cases(file) {
        let status = client()
            .get(s.url(&path(&name)))
            .bearer_auth(&s.admin)
            .send()
            .await
            .unwrap()
            .status();
        if (status == 400) != want_400 {
            wrong.push(format!("{name}: {status}"));
        }
    }
    assert!(wrong.is_empty(), "{file}: {wrong:#?}");
}

#[tokio::test]
async fn oci_and_npm_names() {
    let s = Server::start().await;
    check(&s, "oci-valid.txt", |n| format!("/v2/{n}/tags/list"), false).await;
    check(
        &s,
        "oci-invalid.txt",
        |n| format!("/v2/{n}/tags/list"),
        true,
    )
    .await;
    check(&s, "npm-valid.txt", |n| format!("/{n}"), false).await;
    check(&s, "npm-invalid.txt", |n| format!("/{n}"), true).await;
}
