//! `gantry run` against what GitHub documents for its hosted runners (issue 16): services on
//! `localhost`, the default variables, the runner image, warnings before a run.

use std::process::{Command, Stdio};

use crate::run::normalize;
use crate::run_docker::{BUSYBOX, docker_ready, leftovers};
use crate::test::Test;

const HTTPD: &str = "gantry-test/httpd:latest";

/// The service image the executor tests use too: busybox's httpd serving one page, built offline
/// from gantry's busybox image when missing.
fn httpd_image() {
    docker_ready();
    let present = Command::new("docker")
        .args(["image", "inspect", HTTPD])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return;
    }
    let dockerfile = "FROM gantry/busybox:latest\nCMD [\"sh\", \"-c\", \"echo hello-from-$SERVICE_NAME > /var/www/index.html && exec httpd -f -p 8080 -h /var/www\"]\n";
    let mut child = Command::new("docker")
        .args(["build", "-q", "-t", HTTPD, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dockerfile.as_bytes())
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "docker build of {HTTPD} failed"
    );
}

/// GitHub's documented pattern for a job without `container:` (8 of the 10 real-world
/// workflows with services): the service at `localhost:<mapped port>`, a fixed mapping
/// (`18080:8080`) or a free one read from `job.services`. `FETCH` is wget in the busybox job
/// container, curl on the host; `by_id` adds a step reaching the service by its id (which
/// resolves in a job container, not on the host, as on GitHub).
fn services_workflow(fetch: &str, by_id: bool) -> String {
    let by_id = match by_id {
        true => format!("- name: service id\n                run: {fetch} http://web:8080/"),
        false => String::new(),
    };
    format!(
        "
        on: push
        jobs:
          test:
            runs-on: ubuntu-latest
            services:
              web:
                image: {HTTPD}
                env:
                  SERVICE_NAME: web
                ports: ['8080']
                options: >-
                  --health-cmd 'wget -q -O /dev/null http://127.0.0.1:8080/'
                  --health-interval 200ms --health-retries 50
            steps:
              - name: mapped port
                run: {fetch} http://localhost:${{{{ job.services.web.ports['8080'] }}}}/
              {by_id}
              - name: gantry registry
                run: |
                  out=$({fetch} \"http://$GANTRY_REGISTRY/v2/\" 2>&1 || true)
                  case \"$out\" in *401*|*'{{'*) echo registry answered ;; *) echo \"$out\"; exit 1 ;; esac
        "
    )
}

#[test]
fn services_are_on_localhost_for_runner_jobs_on_docker() {
    httpd_image();
    let workflow = services_workflow("wget -q -O -", true);
    let out = Test::new()
        .file(".github/workflows/ci.yml", &workflow)
        .args(["run", "-P", BUSYBOX])
        .output();
    let stdout = normalize(&out.stdout);
    for line in [
        "[test] ✓ mapped port",
        "[test] ✓ service id",
        "[test]   registry answered",
        "[test] job test succeeded",
    ] {
        assert!(stdout.contains(line), "{line} missing:\n{stdout}");
    }
    assert_eq!(stdout.matches("hello-from-web").count(), 2, "{stdout}");
    assert_eq!(leftovers(out.dir.path()), Vec::<String>::new());
}

#[test]
fn services_are_on_localhost_for_host_jobs() {
    httpd_image();
    let out = Test::new()
        .file(
            ".github/workflows/ci.yml",
            &services_workflow("curl -sS", false),
        )
        .args(["run", "-P", "ubuntu-latest=host"])
        .output();
    let stdout = normalize(&out.stdout);
    for line in [
        "[test]   hello-from-web",
        "[test]   registry answered",
        "[test] job test succeeded",
    ] {
        assert!(stdout.contains(line), "{line} missing:\n{stdout}");
    }
    assert_eq!(leftovers(out.dir.path()), Vec::<String>::new());
}
