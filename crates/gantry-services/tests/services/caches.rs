//! `@actions/cache`: save and restore over the legacy REST protocol and the v2 Twirp one.

use crate::support::{Server, node, noise};
use std::path::Path;

async fn save(
    server: &Server,
    token: &str,
    v2: bool,
    cwd: &Path,
    key: &str,
    paths: &[&str],
) -> crate::support::Node {
    let mut args = vec![key];
    args.extend(paths);
    node(server, token, v2, cwd, "save", &args).await
}

async fn restore(
    server: &Server,
    token: &str,
    v2: bool,
    cwd: &Path,
    key: &str,
    restore: &str,
    paths: &[&str],
) -> Option<String> {
    let mut args = vec![key, restore];
    args.extend(paths);
    let out = node(server, token, v2, cwd, "restore", &args).await;
    assert!(out.ok, "{}", out.output);
    out.result.as_str().map(str::to_owned)
}

async fn semantics(v2: bool) {
    let server = Server::start().await;
    let main = server.token("1", "octo/app", "refs/heads/main");
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path();
    std::fs::create_dir_all(cwd.join("deps")).unwrap();
    let content = noise(3 * 1024 * 1024, 7);
    std::fs::write(cwd.join("deps/lib.bin"), &content).unwrap();

    assert_eq!(
        restore(&server, &main, v2, cwd, "deps-abc", "deps-", &["deps"]).await,
        None,
        "nothing yet"
    );
    let saved = save(&server, &main, v2, cwd, "deps-abc", &["deps"]).await;
    assert!(saved.ok, "{}", saved.output);
    assert!(saved.result.as_i64().unwrap() > 0, "{}", saved.output);

    // Exact key, then restore-key prefix; the content comes back byte for byte.
    std::fs::remove_dir_all(cwd.join("deps")).unwrap();
    assert_eq!(
        restore(&server, &main, v2, cwd, "deps-abc", "", &["deps"])
            .await
            .as_deref(),
        Some("deps-abc")
    );
    assert_eq!(std::fs::read(cwd.join("deps/lib.bin")).unwrap(), content);
    assert_eq!(
        restore(
            &server,
            &main,
            v2,
            cwd,
            "deps-xyz",
            "nope-,deps-",
            &["deps"]
        )
        .await
        .as_deref(),
        Some("deps-abc")
    );
    // Another version (other paths) does not match.
    assert_eq!(
        restore(
            &server,
            &main,
            v2,
            cwd,
            "deps-abc",
            "deps-",
            &["deps", "other"]
        )
        .await,
        None
    );

    // Immutable: saving the key again is refused (the client reports it and goes on) and
    // the first content stays.
    std::fs::write(cwd.join("deps/lib.bin"), b"changed").unwrap();
    let again = save(&server, &main, v2, cwd, "deps-abc", &["deps"]).await;
    assert!(
        again.output.contains("Unable to reserve cache") || again.output.contains("already exists"),
        "{}",
        again.output
    );
    std::fs::remove_dir_all(cwd.join("deps")).unwrap();
    restore(&server, &main, v2, cwd, "deps-abc", "", &["deps"]).await;
    assert_eq!(std::fs::read(cwd.join("deps/lib.bin")).unwrap(), content);

    // Scopes: a feature branch reads main's entries and its own; a sibling branch does not
    // see the feature's; another repository sees nothing.
    let feature = server.token("2", "octo/app", "refs/heads/feature");
    assert_eq!(
        restore(&server, &feature, v2, cwd, "deps-abc", "", &["deps"])
            .await
            .as_deref(),
        Some("deps-abc")
    );
    std::fs::write(cwd.join("deps/lib.bin"), b"feature").unwrap();
    let own = save(&server, &feature, v2, cwd, "deps-feature", &["deps"]).await;
    assert!(own.ok, "{}", own.output);
    assert_eq!(
        restore(&server, &feature, v2, cwd, "x", "deps-f", &["deps"])
            .await
            .as_deref(),
        Some("deps-feature")
    );
    let sibling = server.token("3", "octo/app", "refs/heads/sibling");
    assert_eq!(
        restore(&server, &sibling, v2, cwd, "x", "deps-f", &["deps"]).await,
        None
    );
    let other_repo = server.token("4", "evil/app", "refs/heads/main");
    assert_eq!(
        restore(
            &server,
            &other_repo,
            v2,
            cwd,
            "deps-abc",
            "deps-",
            &["deps"]
        )
        .await,
        None
    );
    assert_eq!(server.staged_count(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_protocol_semantics() {
    semantics(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn v2_protocol_semantics() {
    semantics(true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn least_recently_used_entries_are_evicted_past_the_limit() {
    // Three ~1.5 MB archives in a 3.5 MB budget: the third evicts one.
    let server = Server::with(|c| c.cache_limit_bytes = 3_500_000).await;
    let token = server.token("1", "octo/app", "refs/heads/main");
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path();
    std::fs::create_dir_all(cwd.join("d")).unwrap();
    for (i, key) in ["k1", "k2"].iter().enumerate() {
        std::fs::write(cwd.join("d/f"), noise(1_500_000, i as u64)).unwrap();
        assert!(save(&server, &token, true, cwd, key, &["d"]).await.ok);
    }
    // Using k1 makes k2 the least recently used.
    assert_eq!(
        restore(&server, &token, true, cwd, "k1", "", &["d"])
            .await
            .as_deref(),
        Some("k1")
    );
    std::fs::write(cwd.join("d/f"), noise(1_500_000, 9)).unwrap();
    assert!(save(&server, &token, true, cwd, "k3", &["d"]).await.ok);
    let keys: Vec<String> = server
        .services()
        .caches(Some("octo/app"))
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.key)
        .collect();
    assert_eq!(keys, ["k3", "k1"]);
    assert_eq!(
        restore(&server, &token, true, cwd, "k2", "", &["d"]).await,
        None
    );
    assert_eq!(server.blob_count(), 2);
}
