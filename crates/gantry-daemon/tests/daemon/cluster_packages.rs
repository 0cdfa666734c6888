//! One package registry served by two daemon processes on one PostgreSQL database and one
//! shared blob directory: what one daemon stores, the other serves. npm publishes through one
//! daemon and installs through the other; an image layer is uploaded in chunks that alternate
//! between the daemons, and skopeo reads the image back through both.

use std::path::{Path, PathBuf};
use std::process::Output;

use gantry_packages::{MetadataBackend, Scope};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use tokio::process::Command;

use crate::common::*;
use crate::crash::spawn;
use crate::pg;

fn config(env: &Env, db: &str, shared: &Path, name: &str) -> PathBuf {
    let toml = format!(
        "insecure = true\nlisten = \"127.0.0.1:0\"\ndata_dir = '{data}'\n\n\
         [packages]\nstorage_dir = '{shared}'\npool_size = 2\n\n\
         [store]\nurl = \"{db}\"\npool_size = 2\ninstance_id = \"{name}\"\n",
        data = env.path(&format!("data-{name}")).display(),
        shared = shared.display(),
    );
    let path = env.path(&format!("{name}.toml"));
    std::fs::write(&path, toml).unwrap();
    path
}

/// An administrator token, written straight into the shared metadata the way `gantry packages
/// token` would: neither daemon minted it, both must accept it.
async fn admin_token(db: &str, shared: &Path) -> String {
    let mut config = gantry_packages::Config::new(shared);
    config.metadata = MetadataBackend::Postgres {
        url: db.to_owned(),
        pool_size: 1,
    };
    let registry = gantry_packages::Registry::open(config).await.unwrap();
    let all = [
        Scope::ReadPackages,
        Scope::WritePackages,
        Scope::DeletePackages,
    ];
    registry
        .create_token("octo", None, &all, None)
        .await
        .unwrap()
}

fn host(client: &Client) -> &str {
    client.base.trim_start_matches("http://")
}

fn require(tool: &str) {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{tool} is required: scripts/ensure-tools.sh installs it"
    );
}

async fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().await.expect("the client runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// npm with its own user config naming `daemon` as the `@octo` registry.
fn npm(root: &Path, daemon: &Client, token: &str, dir: &Path) -> Command {
    let rc = root.join(format!("npmrc-{}", host(daemon).replace(':', "_")));
    let h = host(daemon);
    std::fs::write(
        &rc,
        format!("@octo:registry=http://{h}/\n//{h}/:_authToken={token}\n"),
    )
    .unwrap();
    let mut cmd = Command::new("npm");
    cmd.current_dir(dir)
        .env("npm_config_userconfig", &rc)
        .env(
            "npm_config_cache",
            root.join(format!("cache-{}", h.replace(':', "_"))),
        )
        .env("npm_config_audit", "false")
        .env("npm_config_fund", "false")
        .env("npm_config_update_notifier", "false")
        .env_remove("npm_config_registry");
    cmd
}

fn digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// `POST` on one daemon, `PATCH`es alternating between both, `PUT` on the first.
async fn push_layer_across(a: &Client, b: &Client, token: &str, layer: &[u8]) -> String {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let start = http
        .post(a.url("/v2/octo/img/blobs/uploads/"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 202);
    let mut location = start.headers()["location"].to_str().unwrap().to_owned();
    let mut offset = 0;
    for (i, chunk) in layer.chunks(layer.len().div_ceil(4)).enumerate() {
        let daemon = if i % 2 == 0 { b } else { a };
        let end = offset + chunk.len() - 1;
        let reply = http
            .patch(daemon.url(&location))
            .bearer_auth(token)
            .header("content-range", format!("{offset}-{end}"))
            .header("content-type", "application/octet-stream")
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 202, "chunk {i} through the other daemon");
        location = reply.headers()["location"].to_str().unwrap().to_owned();
        offset = end + 1;
    }
    let layer_digest = digest(layer);
    let sep = if location.contains('?') { '&' } else { '?' };
    let done = http
        .put(a.url(&format!("{location}{sep}digest={layer_digest}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 201);
    layer_digest
}

async fn put(http: &reqwest::Client, url: String, token: &str, media: &str, body: Vec<u8>) {
    let reply = http
        .put(url)
        .bearer_auth(token)
        .header("content-type", media)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_daemons_serve_one_registry_for_npm_and_skopeo() {
    require("npm");
    require("skopeo");
    let env = Env::new();
    let db = pg::database();
    let shared = env.path("shared-packages");
    let token = admin_token(&db, &shared).await;
    let (_pa, a) = spawn(&config(&env, &db, &shared, "a"));
    let (_pb, b) = spawn(&config(&env, &db, &shared, "b"));
    let root = env.path("npm");

    // npm: publish through a, read and install through b.
    let pkg = root.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let manifest = json!({ "name": "@octo/shared", "version": "1.2.3", "main": "index.js",
        "license": "MIT", "description": "published through one daemon" });
    std::fs::write(pkg.join("package.json"), manifest.to_string()).unwrap();
    std::fs::write(pkg.join("index.js"), "module.exports = 'from a';\n").unwrap();
    run(npm(&root, &a, &token, &pkg).arg("publish")).await;
    let view = run(npm(&root, &b, &token, &pkg).args(["view", "@octo/shared", "version"])).await;
    assert_eq!(String::from_utf8_lossy(&view.stdout).trim(), "1.2.3");
    let app = root.join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("package.json"),
        r#"{"name":"app","version":"0.0.0"}"#,
    )
    .unwrap();
    run(npm(&root, &b, &token, &app).args(["install", "@octo/shared@1.2.3"])).await;
    let installed =
        std::fs::read_to_string(app.join("node_modules/@octo/shared/index.js")).unwrap();
    assert_eq!(installed, "module.exports = 'from a';\n");

    // OCI: a layer uploaded in chunks through both, config and manifest through b.
    let layer: Vec<u8> = (0..64 * 1024u32).map(|i| (i % 251) as u8).collect();
    let layer_digest = push_layer_across(&a, &b, &token, &layer).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let config = json!({ "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": { "type": "layers", "diff_ids": [layer_digest] } })
    .to_string()
    .into_bytes();
    let config_digest = digest(&config);
    let url = b.url(&format!(
        "/v2/octo/img/blobs/uploads/?digest={config_digest}"
    ));
    let reply = http
        .post(url)
        .bearer_auth(&token)
        .body(config.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 201);
    let media = "application/vnd.oci.image.manifest.v1+json";
    let image = json!({ "schemaVersion": 2, "mediaType": media,
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": config_digest, "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar",
                     "digest": layer_digest, "size": layer.len() }] })
    .to_string()
    .into_bytes();
    let image_digest = digest(&image);
    let url = b.url("/v2/octo/img/manifests/v1");
    put(&http, url, &token, media, image).await;

    let creds = format!("octo:{token}");
    for daemon in [&a, &b] {
        let out = run(Command::new("skopeo").args([
            "--insecure-policy",
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            &creds,
            &format!("docker://{}/octo/img:v1", host(daemon)),
        ]))
        .await;
        assert_eq!(digest(&out.stdout), image_digest);
    }
    let out_dir = env.path("copied");
    run(Command::new("skopeo").args([
        "--insecure-policy",
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        &creds,
        &format!("docker://{}/octo/img:v1", host(&a)),
        &format!("dir:{}", out_dir.display()),
    ]))
    .await;
    let copied = std::fs::read(out_dir.join(&layer_digest["sha256:".len()..])).unwrap();
    assert_eq!(copied, layer);
}
