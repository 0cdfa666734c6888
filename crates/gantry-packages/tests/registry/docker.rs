//! The docker CLI against the registry: login, tag, push, remove, pull. Every image reference
//! the test creates is removed again, also when it fails.

use crate::common::{Meta, Server, on_both, require_tool, run, text};
use tokio::process::Command;

/// Removes the image references and the login config it created, on drop.
struct Cleanup {
    refs: Vec<String>,
    config: tempfile::TempDir,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for r in &self.refs {
            let _ = std::process::Command::new("docker")
                .args(["rmi", "--force", r])
                .env("DOCKER_CONFIG", self.config.path())
                .output();
        }
    }
}

impl Cleanup {
    fn docker(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("docker");
        cmd.args(args).env("DOCKER_CONFIG", self.config.path());
        cmd
    }

    async fn ok(&self, args: &[&str]) -> String {
        let out = run(&mut self.docker(args)).await;
        assert!(
            out.status.success(),
            "docker {args:?} failed:\n{}",
            text(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// A local image to push: `gantry/busybox:latest` when built, else one imported from a tar.
async fn source_image(c: &mut Cleanup) -> String {
    let busybox = "gantry/busybox:latest";
    if run(&mut c.docker(&["image", "inspect", busybox]))
        .await
        .status
        .success()
    {
        return busybox.to_owned();
    }
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    let content = b"gantry\n";
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "hello.txt", &content[..])
        .unwrap();
    let tarball = builder.into_inner().unwrap();
    let name = format!(
        "gantry-packages-test/import:{}",
        uuid::Uuid::new_v4().simple()
    );
    c.refs.push(name.clone());
    let mut child = c
        .docker(&["import", "-", &name])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use tokio::io::AsyncWriteExt;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&tarball).await.unwrap();
    drop(stdin);
    assert!(child.wait().await.unwrap().success());
    name
}

async fn docker_login_push_pull(meta: Meta) {
    require_tool(
        "docker",
        "a Docker engine is needed (scripts/ensure-docker.sh)",
    );
    let s = Server::start_on(meta).await;
    let mut c = Cleanup {
        refs: Vec::new(),
        config: tempfile::tempdir().unwrap(),
    };
    let source = source_image(&mut c).await;
    let target = format!(
        "{}/octo/busybox:gantry-test-{}",
        s.host(),
        uuid::Uuid::new_v4().simple()
    );
    c.refs.push(target.clone());

    let mut login = c
        .docker(&["login", &s.host(), "-u", "octo", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = login.stdin.take().unwrap();
        stdin.write_all(s.admin.as_bytes()).await.unwrap();
    }
    assert!(login.wait().await.unwrap().success(), "docker login failed");

    c.ok(&["tag", &source, &target]).await;
    let pushed = c.ok(&["push", &target]).await;
    assert!(pushed.contains("digest: sha256:"), "{pushed}");
    let id_before = c
        .ok(&["image", "inspect", "--format", "{{.Id}}", &target])
        .await;
    c.ok(&["rmi", &target]).await;
    c.ok(&["pull", &target]).await;
    let id_after = c
        .ok(&["image", "inspect", "--format", "{{.Id}}", &target])
        .await;
    assert_eq!(id_before, id_after);

    // A wrong password is refused at login.
    let mut bad = c
        .docker(&["login", &s.host(), "-u", "octo", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = bad.stdin.take().unwrap();
        stdin.write_all(b"gtk_wrong").await.unwrap();
    }
    assert!(!bad.wait().await.unwrap().success());
}

on_both!(multi_thread: docker_login_push_pull);
