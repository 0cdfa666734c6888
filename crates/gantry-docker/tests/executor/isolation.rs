//! Another local user (`nobody`, through `setpriv`) can neither read nor write a job's files
//! on this machine while the job runs: step scripts, file-command files, step requests (which
//! carry the step's environment, secrets included) and the directories holding them. The job
//! itself, also under a non-root container user, still reads and writes them.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use gantry_runner::executor::{ContainerSpec, ExitStatus, JobSpec, OutputChunk, Stream};
use indexmap::IndexMap;
use tokio::sync::mpsc;

use crate::common::*;

/// Written into the step script, as `${{ secrets.X }}` in `run:` is.
const SECRET: &str = "s3cr3t-b4nana-7781";
/// Only in the step's environment: it must reach the step without touching a file.
const ENV_SECRET: &str = "env-0nly-s3cr3t-9912";
const NOBODY: &str = "65534";

#[tokio::test]
async fn another_user_cannot_touch_a_docker_jobs_files() {
    let h = Harness::docker().await;
    let spec = h.spec();
    private_while_running(&h, spec).await;
    h.assert_clean().await;
}

#[tokio::test]
async fn another_user_cannot_touch_the_files_of_a_job_running_as_uid_1001() {
    let h = Harness::docker().await;
    let mut spec = h.spec();
    spec.container = Some(ContainerSpec {
        image: job_image(),
        options: Some("--user 1001:1001".into()),
        ..Default::default()
    });
    private_while_running(&h, spec).await;
    h.assert_clean().await;
}

#[tokio::test]
async fn another_user_cannot_touch_a_host_jobs_files() {
    let h = Harness::host();
    let spec = h.spec();
    private_while_running(&h, spec).await;
    h.assert_clean().await;
}

/// Starts a step that holds a secret in its environment and waits; meanwhile `nobody` tries
/// every file and directory of the job; then the step writes its own file command.
async fn private_while_running(h: &Harness, spec: JobSpec) {
    let job = h.executor.start_job(spec).await.unwrap();
    let temp = job.paths().temp.clone();
    let script = format!("{temp}/gantry-step-1.sh");
    let env_file = format!("{temp}/_runner_file_commands/set_env_1");
    let go = format!("{temp}/go");
    job.write_file(&script, format!("echo {SECRET} | wc -c\n").as_bytes())
        .await
        .unwrap();
    job.write_file(&env_file, b"").await.unwrap();
    let mut req = request(
        &*job,
        r#"[ "$SECRET_VALUE" = env-0nly-s3cr3t-9912 ] && sh "$1" && echo started; while [ ! -e "$2" ]; do sleep 0.1; done; echo MINE=1 >> "$3" && echo wrote"#,
    );
    req.argv
        .extend(["sh".into(), script.clone(), go.clone(), env_file.clone()]);
    req.env = IndexMap::from([("SECRET_VALUE".to_string(), ENV_SECRET.to_string())]);
    let (tx, mut rx) = mpsc::channel::<OutputChunk>(16);
    let probe = async {
        let mut out = String::new();
        while !out.contains("started") {
            match rx.recv().await {
                Some(chunk) if chunk.stream == Stream::Stdout => {
                    out.push_str(&String::from_utf8_lossy(&chunk.bytes))
                }
                Some(chunk) => panic!("step error: {}", String::from_utf8_lossy(&chunk.bytes)),
                None => panic!("the step ended before it started waiting: {out}"),
            }
        }
        let root = job_root(h).await;
        let entries = walk(&root);
        let leaks = as_nobody(&entries);
        assert_eq!(
            leaks,
            "",
            "another user reached the job's files under {}",
            root.display()
        );
        assert_secret_on_disk(&entries);
        job.write_file(&go, b"").await.unwrap();
        while let Some(chunk) = rx.recv().await {
            out.push_str(&String::from_utf8_lossy(&chunk.bytes));
        }
        (entries, out)
    };
    let (status, (entries, out)) = tokio::join!(job.exec(req, tx), probe);
    assert_eq!(status.unwrap(), ExitStatus::Code(0), "{out}");
    assert!(out.contains("wrote"), "{out}");
    assert!(entries.len() > 4, "{entries:?}");
    let written = job.read_file(&env_file).await.unwrap().unwrap();
    assert_eq!(String::from_utf8_lossy(&written), "MINE=1\n");
    job.cleanup().await.unwrap();
}

/// The job's private directory on this machine: the host job's root, or the parent of the
/// directory a job container has at `/__w`.
async fn job_root(h: &Harness) -> PathBuf {
    match &h.kind {
        Kind::Host(base) => {
            let mut roots: Vec<PathBuf> = std::fs::read_dir(base.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            assert_eq!(roots.len(), 1, "{roots:?}");
            roots.remove(0)
        }
        Kind::Docker(d) => {
            let managed = gantry_docker::list_managed(d, Some(&h.run_id))
                .await
                .unwrap();
            let info = d
                .inspect_container(&managed.containers[0], None)
                .await
                .unwrap();
            let work = info
                .mounts
                .unwrap_or_default()
                .into_iter()
                .find(|m| m.destination.as_deref() == Some("/__w"))
                .and_then(|m| m.source)
                .expect("a /__w bind mount");
            Path::new(&work).parent().unwrap().to_path_buf()
        }
    }
}

/// Every directory and regular file below (and including) `root`.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut found = vec![root.to_path_buf()];
    let mut i = 0;
    while i < found.len() {
        if found[i].is_dir() && !found[i].is_symlink() {
            for entry in std::fs::read_dir(&found[i]).unwrap() {
                let path = entry.unwrap().path();
                if !path.is_symlink() {
                    found.push(path);
                }
            }
        }
        i += 1;
    }
    found
}

/// The probe is only worth something if the secret really is on disk below the root (in the
/// step script), in a file private to its owner; the secret that only the environment carries
/// is in no file at all.
fn assert_secret_on_disk(entries: &[PathBuf]) {
    let holding = |secret: &str| -> Vec<&PathBuf> {
        entries
            .iter()
            .filter(|p| p.is_file())
            .filter(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains(secret)))
            .collect()
    };
    let on_disk = holding(ENV_SECRET);
    assert!(
        on_disk.is_empty(),
        "the environment's secret is in {on_disk:?}"
    );
    let holding = holding(SECRET);
    assert_eq!(holding.len(), 1, "files holding the secret: {holding:?}");
    for path in holding {
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{} has mode {mode:o}", path.display());
    }
    let root_mode = std::fs::metadata(&entries[0]).unwrap().permissions().mode();
    assert_eq!(root_mode & 0o777, 0o700, "{}", entries[0].display());
}

/// What `nobody` managed: `READ`/`WROTE` for files, `LISTED`/`CREATED` for directories.
fn as_nobody(entries: &[PathBuf]) -> String {
    let probe = r#"for p in "$@"; do
  if [ -d "$p" ]; then
    ls "$p" >/dev/null 2>&1 && echo "LISTED $p"
    touch "$p/injected" 2>/dev/null && echo "CREATED $p"
  else
    cat "$p" >/dev/null 2>&1 && echo "READ $p"
    (echo INJECTED=1 >> "$p") 2>/dev/null && echo "WROTE $p"
  fi
done
exit 0"#;
    let out = Command::new("setpriv")
        .args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
            "sh",
            "-c",
            probe,
            "probe",
        ])
        .args(entries)
        .output()
        .expect("setpriv (util-linux)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
