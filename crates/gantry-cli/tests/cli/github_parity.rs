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

/// GitHub's default environment variables, as its variables reference lists them (every one;
/// `RUNNER_DEBUG` only with debug logging on).
const DOCUMENTED_VARIABLES: &[&str] = &[
    "CI",
    "GITHUB_ACTION",
    "GITHUB_ACTION_PATH",
    "GITHUB_ACTION_REPOSITORY",
    "GITHUB_ACTIONS",
    "GITHUB_ACTOR",
    "GITHUB_ACTOR_ID",
    "GITHUB_API_URL",
    "GITHUB_BASE_REF",
    "GITHUB_ENV",
    "GITHUB_EVENT_NAME",
    "GITHUB_EVENT_PATH",
    "GITHUB_GRAPHQL_URL",
    "GITHUB_HEAD_REF",
    "GITHUB_JOB",
    "GITHUB_OUTPUT",
    "GITHUB_PATH",
    "GITHUB_REF",
    "GITHUB_REF_NAME",
    "GITHUB_REF_PROTECTED",
    "GITHUB_REF_TYPE",
    "GITHUB_REPOSITORY",
    "GITHUB_REPOSITORY_ID",
    "GITHUB_REPOSITORY_OWNER",
    "GITHUB_REPOSITORY_OWNER_ID",
    "GITHUB_RETENTION_DAYS",
    "GITHUB_RUN_ATTEMPT",
    "GITHUB_RUN_ID",
    "GITHUB_RUN_NUMBER",
    "GITHUB_SERVER_URL",
    "GITHUB_SHA",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_TRIGGERING_ACTOR",
    "GITHUB_WORKFLOW",
    "GITHUB_WORKFLOW_REF",
    "GITHUB_WORKFLOW_SHA",
    "GITHUB_WORKSPACE",
    "RUNNER_ARCH",
    "RUNNER_DEBUG",
    "RUNNER_ENVIRONMENT",
    "RUNNER_NAME",
    "RUNNER_OS",
    "RUNNER_TEMP",
    "RUNNER_TOOL_CACHE",
];

/// Set by GitHub's runner too, though the reference does not list them.
const UNDOCUMENTED_RUNNER_VARIABLES: &[&str] =
    &["GITHUB_ACTION_REF", "GITHUB_STATE", "RUNNER_WORKSPACE"];

const DEFAULT_VARIABLES_WORKFLOW: &str = "
    on:
      push:
      schedule:
        - cron: '17 3 * * 1'
    jobs:
      vars:
        runs-on: ubuntu-latest
        steps:
          - id: greet
            run: |
              echo \"names $(env | grep -E '^(CI|GITHUB_|RUNNER_)[A-Z_]*=' | cut -d= -f1 | sort | tr '\\n' ' ')\"
              echo \"action=$GITHUB_ACTION ctx=${{ github.action }}\"
              echo \"ids=$GITHUB_ACTOR_ID/$GITHUB_REPOSITORY_ID/$GITHUB_REPOSITORY_OWNER_ID\"
              echo \"workflow=$GITHUB_WORKFLOW_REF@$GITHUB_WORKFLOW_SHA\"
              echo \"schedule=${{ github.event.schedule }}\"
          - run: echo \"second=$GITHUB_ACTION repo=[$GITHUB_ACTION_REPOSITORY]\"
          - run: echo \"third=$GITHUB_ACTION\"
          - uses: ./.github/actions/greet
            with:
              who: mona
              extra: kept
";

const GREET_ACTION: &str = "
    name: greet
    inputs:
      who:
        description: who
    runs:
      using: node20
      main: main.js
";

const GREET_MAIN: &str = "console.log(`node who=${process.env.INPUT_WHO} extra=${process.env.INPUT_EXTRA} action=${process.env.GITHUB_ACTION}`);\n";

/// The default variables on `PLATFORM`: the documented set (compared both ways), the ids and
/// refs GitHub documents, `github.event.schedule`, and undeclared inputs.
fn default_variables(platform: &str, event: &str) -> String {
    let out = Test::new()
        .file(".github/workflows/ci.yml", DEFAULT_VARIABLES_WORKFLOW)
        .file(".github/actions/greet/action.yml", GREET_ACTION)
        .file_verbatim(".github/actions/greet/main.js", GREET_MAIN)
        .args(["run", event, "-P", platform, "--step-debug"])
        .output();
    let stdout = normalize(&out.stdout);
    let names_line = stdout
        .lines()
        .find_map(|l| l.split_once("  names ").map(|(_, n)| n.to_owned()))
        .unwrap_or_else(|| panic!("no names line:\n{stdout}"));
    let names: Vec<&str> = names_line.split_whitespace().collect();
    let missing: Vec<&&str> = DOCUMENTED_VARIABLES
        .iter()
        .filter(|n| !names.contains(n))
        .collect();
    assert!(missing.is_empty(), "missing {missing:?}\n{stdout}");
    let unknown: Vec<&&str> = names
        .iter()
        .filter(|n| !DOCUMENTED_VARIABLES.contains(n) && !UNDOCUMENTED_RUNNER_VARIABLES.contains(n))
        .collect();
    assert!(unknown.is_empty(), "not GitHub's: {unknown:?}\n{stdout}");
    for line in [
        "[vars]   action=greet ctx=greet",
        "[vars]   ids=1/1/1",
        "[vars]   workflow=local/repository/.github/workflows/ci.yml@refs/heads/main@0000000000000000000000000000000000000000",
        "[vars]   second=__run repo=[]",
        "[vars]   third=__run_2",
        "[vars]   node who=mona extra=kept action=__self",
        "Unexpected input(s) 'extra', valid inputs are ['who']",
    ] {
        assert!(stdout.contains(line), "{line} missing:\n{stdout}");
    }
    stdout
}

#[test]
fn default_variables_are_githubs_on_docker() {
    docker_ready();
    let stdout = default_variables("ubuntu-latest=gantry/runner:latest", "schedule");
    assert!(stdout.contains("[vars]   schedule=17 3 * * 1"), "{stdout}");
}

#[test]
fn default_variables_are_githubs_on_the_host() {
    let stdout = default_variables("ubuntu-latest=host", "push");
    assert!(stdout.contains("[vars]   schedule=\n"), "{stdout}");
}

/// The runner image's additions (`scripts/build-images.sh`): yarn, Node 16 in the tool cache
/// (setup-node finds it offline), and gantry's node copied into a `container:` job whose image
/// has none (busybox: no node, not even a libc), as GitHub's runner mounts its externals.
#[test]
fn the_runner_image_has_yarn_node16_and_lends_node_to_job_containers() {
    docker_ready();
    let out = Test::new()
        .file(
            ".github/workflows/ci.yml",
            "
            on: push
            jobs:
              image:
                runs-on: ubuntu-20.04
                steps:
                  - run: echo \"yarn $(yarn --version)\"
                  - uses: actions/setup-node@v4
                    with:
                      node-version: 16
                  - run: echo \"node $(node --version)\"
              bare:
                runs-on: ubuntu-latest
                container: gantry/busybox:latest
                steps:
                  - uses: ./.github/actions/greet
                    with:
                      who: busybox
                  - uses: ./.github/actions/greet
                    with:
                      who: again
            ",
        )
        .file(".github/actions/greet/action.yml", GREET_ACTION)
        .file_verbatim(
            ".github/actions/greet/main.js",
            "console.log(`node ${process.version.split('.')[0]} who=${process.env.INPUT_WHO}`);\n",
        )
        .args(["run"])
        .output();
    let stdout = normalize(&out.stdout);
    for line in [
        "[image]   yarn 1.22.",
        "[image]   node v16.20.",
        "[bare]   node v20 who=busybox",
        "[bare]   node v20 who=again",
        "[bare] job bare succeeded",
    ] {
        assert!(stdout.contains(line), "{line} missing:\n{stdout}");
    }
    assert!(
        out.stderr.contains(
            "notice: .github/workflows/ci.yml: job `image`: runs-on ubuntu-20.04 is retired on GitHub; gantry runs it on gantry/runner:bookworm"
        ),
        "no notice for the legacy label:\n{}",
        out.stderr
    );
    assert_eq!(leftovers(out.dir.path()), Vec::<String>::new());
}

const NOT_OFFLINE_READY: &str = "
    on: push
    jobs:
      build:
        runs-on: ubuntu-latest
        container: gantry-test/never-built:1
        steps:
          - uses: actions/checkout@v4
          - uses: actions/checkout@v4
            with:
              repository: octo/elsewhere
          - uses: octo/not-stored@v1
          - uses: docker://gantry/busybox:latest
      mac:
        runs-on: macos-latest
        steps:
          - run: echo hi
";

/// `gantry validate` and `gantry run --dry-run` say before running what will not work offline:
/// an action the store does not have (the built-in checkout is fine), a label without a platform,
/// another repository to fetch and (dry-run, which asks the engine) an image gantry would have to
/// pull (a present one is fine).
#[test]
fn validate_and_dry_run_warn_about_what_needs_the_network() {
    docker_ready();
    let validate = Test::new()
        .file(".github/workflows/ci.yml", NOT_OFFLINE_READY)
        .args(["validate"])
        .env("GANTRY_DATA_DIR", "data")
        .output();
    let text = &validate.stdout;
    for expected in [
        ".github/workflows/ci.yml:11:15: warning: `octo/not-stored@v1` is not in gantry's action store",
        "[offline-action]",
        ".github/workflows/ci.yml:10:23: warning: `actions/checkout` of `octo/elsewhere` fetches another repository, which needs the network",
        ".github/workflows/ci.yml:14:14: warning: job `mac`: no platform for runs-on [macos-latest]",
    ] {
        assert!(text.contains(expected), "{expected} missing:\n{text}");
    }
    assert_eq!(text.matches("[offline-action]").count(), 1, "{text}");
    assert!(
        !text.contains("never-built"),
        "validate asks no engine:\n{text}"
    );

    let dry = Test::new()
        .file(".github/workflows/ci.yml", NOT_OFFLINE_READY)
        .args(["run", "--dry-run"])
        .env("GANTRY_DATA_DIR", "data")
        .output();
    let warnings = &dry.stderr;
    for expected in [
        "warning: .github/workflows/ci.yml:5:16: image `gantry-test/never-built:1` (the job container) is not in the Docker engine, and gantry never pulls",
        "warning: .github/workflows/ci.yml:11:15: `octo/not-stored@v1` is not in gantry's action store",
        "warning: .github/workflows/ci.yml:14:14: job `mac`: no platform for runs-on [macos-latest]",
        "[offline-network]",
    ] {
        assert!(
            warnings.contains(expected),
            "{expected} missing:\n{warnings}"
        );
    }
    assert!(!warnings.contains("gantry/busybox"), "{warnings}");
    assert!(dry.stdout.contains("build"), "{}", dry.stdout);
    assert!(
        !dry.dir.path().join("data").exists(),
        "the dry run created a store"
    );
}
