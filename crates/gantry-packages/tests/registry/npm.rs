//! The real npm CLI against the registry: publish, install, view, dist-tags, deprecate,
//! unpublish, immutability, and a package with 50 versions.

use crate::common::{Meta, Server, client, on_both, require_tool, run, text};
use crate::npm_raw::publish_doc;
use std::path::{Path, PathBuf};
use tokio::process::Command;

/// A scratch npm environment: its own user config, cache and working directories.
struct Npm {
    root: tempfile::TempDir,
    npmrc: PathBuf,
}

impl Npm {
    fn new(s: &Server, token: &str) -> Npm {
        require_tool("npm", "install node and npm (apt-get install nodejs npm)");
        let root = tempfile::tempdir().unwrap();
        let npmrc = root.path().join("npmrc");
        let host = s.host();
        std::fs::write(
            &npmrc,
            format!("@octo:registry=http://{host}/\n//{host}/:_authToken={token}\n"),
        )
        .unwrap();
        Npm { root, npmrc }
    }

    fn cmd(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new("npm");
        cmd.args(args)
            .current_dir(dir)
            .env("npm_config_userconfig", &self.npmrc)
            .env("npm_config_cache", self.root.path().join("cache"))
            .env("npm_config_audit", "false")
            .env("npm_config_fund", "false")
            .env("npm_config_update_notifier", "false")
            .env("npm_config_loglevel", "warn")
            .env_remove("npm_config_registry");
        cmd
    }

    async fn ok(&self, dir: &Path, args: &[&str]) -> String {
        let out = run(&mut self.cmd(dir, args)).await;
        assert!(out.status.success(), "npm {args:?} failed:\n{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A package directory with `package.json` and `index.js`.
    fn package(&self, dir: &str, name: &str, version: &str) -> PathBuf {
        let path = self.root.path().join(dir);
        std::fs::create_dir_all(&path).unwrap();
        let manifest = serde_json::json!({ "name": name, "version": version, "main": "index.js", "license": "MIT",
            "description": "gantry test package", "repository": { "type": "git", "url": "https://example.invalid/octo/hello" } });
        std::fs::write(path.join("package.json"), manifest.to_string()).unwrap();
        std::fs::write(
            path.join("index.js"),
            format!("module.exports = '{name}@{version}';\n"),
        )
        .unwrap();
        path
    }
}

async fn npm_cli_publish_install_view_tags_deprecate_unpublish(meta: Meta) {
    let s = Server::start_on(meta).await;
    let npm = Npm::new(&s, &s.admin);
    let v1 = npm.package("v1", "@octo/hello", "1.0.0");
    npm.ok(&v1, &["publish"]).await;
    let registry = s.url("/");
    assert_eq!(
        npm.ok(&v1, &["whoami", "--registry", &registry])
            .await
            .trim(),
        "octo"
    );

    // Install into a fresh project and run the code.
    let consumer = npm.root.path().join("consumer");
    std::fs::create_dir_all(&consumer).unwrap();
    std::fs::write(
        consumer.join("package.json"),
        r#"{"name":"consumer","version":"1.0.0","private":true}"#,
    )
    .unwrap();
    npm.ok(&consumer, &["install", "@octo/hello"]).await;
    let out = run(Command::new("node")
        .arg("-p")
        .arg("require('@octo/hello')")
        .current_dir(&consumer))
    .await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "@octo/hello@1.0.0",
        "{}",
        text(&out)
    );

    let view: serde_json::Value =
        serde_json::from_str(&npm.ok(&v1, &["view", "@octo/hello", "--json"]).await).unwrap();
    assert_eq!(view["name"], "@octo/hello");
    assert_eq!(view["version"], "1.0.0");
    assert_eq!(view["description"], "gantry test package");

    // The same version again: npm itself checks the packument first and refuses (the server's
    // own 409 for clients that do not check is covered in npm_raw).
    let again = run(&mut npm.cmd(&v1, &["publish"])).await;
    assert!(!again.status.success());
    assert!(
        text(&again).to_lowercase().contains("cannot publish over"),
        "{}",
        text(&again)
    );

    let v2 = npm.package("v2", "@octo/hello", "1.1.0");
    npm.ok(&v2, &["publish", "--tag", "next"]).await;
    npm.ok(&v1, &["dist-tag", "add", "@octo/hello@1.0.0", "stable"])
        .await;
    let tags = npm.ok(&v1, &["dist-tag", "ls", "@octo/hello"]).await;
    assert!(
        tags.contains("latest: 1.0.0")
            && tags.contains("next: 1.1.0")
            && tags.contains("stable: 1.0.0"),
        "{tags}"
    );
    npm.ok(&v1, &["dist-tag", "rm", "@octo/hello", "stable"])
        .await;
    assert!(
        !npm.ok(&v1, &["dist-tag", "ls", "@octo/hello"])
            .await
            .contains("stable")
    );

    npm.ok(&v1, &["deprecate", "@octo/hello@1.0.0", "use 1.1.0"])
        .await;
    let deprecated = npm
        .ok(&v1, &["view", "@octo/hello@1.0.0", "deprecated"])
        .await;
    assert_eq!(deprecated.trim(), "use 1.1.0");
    let fresh = npm.root.path().join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    std::fs::write(
        fresh.join("package.json"),
        r#"{"name":"fresh","version":"1.0.0","private":true}"#,
    )
    .unwrap();
    let install = run(&mut npm.cmd(&fresh, &["install", "@octo/hello@1.0.0"])).await;
    assert!(
        text(&install).contains("deprecated") && text(&install).contains("use 1.1.0"),
        "{}",
        text(&install)
    );

    npm.ok(&v1, &["unpublish", "@octo/hello@1.0.0"]).await;
    let versions = npm
        .ok(&v1, &["view", "@octo/hello", "versions", "--json"])
        .await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&versions).unwrap(),
        serde_json::json!(["1.1.0"])
    );
    let latest = npm
        .ok(&v1, &["view", "@octo/hello", "dist-tags.latest"])
        .await;
    assert_eq!(latest.trim(), "1.1.0");
    let gone = client()
        .get(s.url("/@octo/hello/-/hello-1.0.0.tgz"))
        .bearer_auth(&s.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    // The last version: npm turns it into a whole-package delete.
    npm.ok(&v2, &["unpublish", "@octo/hello@1.1.0", "--force"])
        .await;
    let view = run(&mut npm.cmd(&v1, &["view", "@octo/hello"])).await;
    assert!(
        !view.status.success() && text(&view).contains("404"),
        "{}",
        text(&view)
    );
}

/// Builds a real npm tarball (`package/` prefix, gzip) with the system tar.
pub async fn npm_tarball(dir: &Path, name: &str, version: &str) -> Vec<u8> {
    let pkg = dir.join(format!("build-{version}/package"));
    std::fs::create_dir_all(&pkg).unwrap();
    let manifest = serde_json::json!({ "name": name, "version": version, "main": "index.js" });
    std::fs::write(pkg.join("package.json"), manifest.to_string()).unwrap();
    std::fs::write(
        pkg.join("index.js"),
        format!("module.exports = '{version}';\n"),
    )
    .unwrap();
    let out = run(Command::new("tar")
        .arg("-czf")
        .arg("-")
        .arg("package")
        .current_dir(pkg.parent().unwrap()))
    .await;
    assert!(out.status.success(), "{}", text(&out));
    out.stdout
}

async fn npm_cli_installs_from_a_package_with_50_versions(meta: Meta) {
    let s = Server::start_on(meta).await;
    let npm = Npm::new(&s, &s.admin);
    for minor in 0..50 {
        let version = format!("1.{minor}.0");
        let tarball = npm_tarball(npm.root.path(), "@octo/many", &version).await;
        let doc = publish_doc("@octo/many", &version, &tarball, &s.url(""));
        let resp = client()
            .put(s.url("/@octo%2fmany"))
            .bearer_auth(&s.admin)
            .json(&doc)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{version}");
    }
    let dir = npm.root.path().join("consumer");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("package.json"),
        r#"{"name":"consumer","version":"1.0.0","private":true}"#,
    )
    .unwrap();
    let versions: Vec<String> = serde_json::from_str(
        &npm.ok(&dir, &["view", "@octo/many", "versions", "--json"])
            .await,
    )
    .unwrap();
    assert_eq!(versions.len(), 50);
    assert_eq!(versions.last().map(String::as_str), Some("1.49.0"));
    npm.ok(&dir, &["install", "@octo/many@~1.17.0"]).await;
    let out = run(Command::new("node")
        .arg("-p")
        .arg("require('@octo/many')")
        .current_dir(&dir))
    .await;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1.17.0",
        "{}",
        text(&out)
    );
}

on_both!(multi_thread: npm_cli_publish_install_view_tags_deprecate_unpublish, npm_cli_installs_from_a_package_with_50_versions);
