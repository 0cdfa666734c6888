//! Two services instances on one PostgreSQL database and one shared directory, as two daemons
//! behind a load balancer run them: what the real clients store through one, the other
//! serves. A cache saved through `a` is restored through `b` (both protocols); an artifact
//! uploaded through `a` is listed and downloaded (digest checked) through `b`, and deleted
//! through `b` so that `a` no longer lists it either. SQLite stays per instance and is
//! covered by the rest of the suite.

use std::path::Path;

use gantry_services::{Config, Services};

use crate::pg;
use crate::support::{Server, node, noise};

async fn instance(shared: &Path, db: &str, name: &str) -> Server {
    let mut config = Config::new(shared);
    config.instance = Some(format!("host-{name}:/var/lib/gantry"));
    let services = Services::open_on_postgres(config, db, 2).await.unwrap();
    let handle = gantry_services::serve("127.0.0.1:0".parse().unwrap(), services)
        .await
        .unwrap();
    Server {
        dir: tempfile::tempdir().unwrap(),
        handle,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn what_one_instance_stores_the_other_serves() {
    let db = pg::database();
    let shared = tempfile::tempdir().unwrap();
    let (a, b) = tokio::join!(
        instance(shared.path(), &db, "a"),
        instance(shared.path(), &db, "b")
    );
    // Minted by `a`, accepted by `b`: started together, they still agreed on one key.
    let token = a.token("100", "octo/app", "refs/heads/main");
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path();

    for v2 in [false, true] {
        let key = format!("deps-{v2}");
        let deps = cwd.join("deps");
        std::fs::create_dir_all(&deps).unwrap();
        let content = noise(3 * 1024 * 1024 + 5, u64::from(v2) + 7);
        std::fs::write(deps.join("blob.bin"), &content).unwrap();
        let saved = node(&a, &token, v2, cwd, "save", &[&key, "deps"]).await;
        assert!(saved.ok, "{}", saved.output);
        std::fs::remove_dir_all(&deps).unwrap();
        let restored = node(&b, &token, v2, cwd, "restore", &[&key, "", "deps"]).await;
        assert!(restored.ok, "{}", restored.output);
        assert_eq!(restored.result.as_str(), Some(key.as_str()), "v2={v2}");
        assert_eq!(std::fs::read(deps.join("blob.bin")).unwrap(), content);
        std::fs::remove_dir_all(&deps).unwrap();
        // The key is taken for both: saving it again through `b` is refused, as on one.
        std::fs::create_dir_all(&deps).unwrap();
        std::fs::write(deps.join("blob.bin"), b"other").unwrap();
        let again = node(&b, &token, v2, cwd, "save", &[&key, "deps"]).await;
        assert_eq!(again.result.as_i64(), Some(-1), "v2={v2}: {}", again.output);
        std::fs::remove_dir_all(&deps).unwrap();
    }
    assert_eq!(
        b.services().caches(Some("octo/app")).await.unwrap().len(),
        2
    );

    let src = cwd.join("src");
    std::fs::create_dir_all(src.join("dir")).unwrap();
    // Larger than the client's 8 MiB block: several blocks and a block list, all through `a`.
    let big = noise(9 * 1024 * 1024 + 3, 11);
    std::fs::write(src.join("big.bin"), &big).unwrap();
    std::fs::write(src.join("dir/a.txt"), b"alpha\n").unwrap();
    let files = [src.join("big.bin"), src.join("dir/a.txt")].map(|f| f.display().to_string());
    let args = ["build", src.to_str().unwrap(), &files[0], &files[1]];
    let up = node(&a, &token, false, cwd, "upload", &args).await;
    assert!(up.ok, "{}", up.output);
    let id = up.result["id"].as_i64().unwrap();

    let listed = node(&b, &token, false, cwd, "list", &[]).await;
    assert!(listed.ok, "{}", listed.output);
    assert_eq!(listed.result[0]["name"], "build");
    assert_eq!(listed.result[0]["id"].as_i64(), Some(id));
    let dest = cwd.join("dest");
    let down = node(
        &b,
        &token,
        false,
        cwd,
        "download",
        &["build", dest.to_str().unwrap()],
    )
    .await;
    assert!(down.ok, "{}", down.output);
    assert_eq!(down.result["digestMismatch"], false, "{}", down.output);
    assert_eq!(std::fs::read(dest.join("big.bin")).unwrap(), big);
    assert_eq!(std::fs::read(dest.join("dir/a.txt")).unwrap(), b"alpha\n");

    let deleted = node(&b, &token, false, cwd, "delete", &["build"]).await;
    assert!(deleted.ok, "{}", deleted.output);
    assert!(
        a.services()
            .artifacts(Some("100"))
            .await
            .unwrap()
            .is_empty()
    );
    // Each instance stages in its own directory, and nothing is left staged.
    let staging: Vec<_> = std::fs::read_dir(shared.path().join("staging"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(staging.len(), 2, "one staging directory per instance");
    for dir in staging {
        assert_eq!(crate::support::count_files(&dir.path()), 0);
    }
}
