//! `gantry actions ...` on a store in a temporary data directory, fed from a local bare git
//! repository with tags and branches (the forge is `file://`).

use std::path::Path;
use std::process::Command;

use crate::test::Test;

pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// `forge/acme/tool.git`: tag v1 at the first commit, branch main and release/x at the second.
fn forge(root: &Path) -> (String, String) {
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(
        work.join("action.yml"),
        "name: one\nruns:\n  using: node20\n  main: index.js\n",
    )
    .unwrap();
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "one"]);
    git(&work, &["tag", "-a", "v1", "-m", "v1"]);
    let first = git(&work, &["rev-parse", "HEAD"]);
    std::fs::write(
        work.join("action.yml"),
        "name: two\nruns:\n  using: node20\n  main: index.js\n",
    )
    .unwrap();
    git(&work, &["commit", "-q", "-am", "two"]);
    git(&work, &["branch", "release/x"]);
    let second = git(&work, &["rev-parse", "HEAD"]);
    std::fs::create_dir_all(root.join("forge/acme")).unwrap();
    git(
        root,
        &["clone", "-q", "--bare", "work", "forge/acme/tool.git"],
    );
    (first, second)
}

#[test]
fn add_pull_list_and_rm_from_a_bare_repository() {
    let test = Test::new();
    let root = test.path().to_path_buf();
    let (first, second) = forge(&root);
    let data = root.join("data").display().to_string();
    let bare = root.join("forge/acme/tool.git").display().to_string();
    let forge_url = format!("file://{}", root.join("forge").display());

    Test::new()
        .args(["actions", "add", "acme/tool@v1", &bare, "--data-dir", &data])
        .stdout(&format!(
            "added acme/tool@v1 (SHA:{first}) from git {bare}\n"
        ))
        .run();
    Test::new()
        .args(["actions", "pull", "acme/tool@release/x", "acme/tool@main"])
        .args(["--data-dir", &data, "--forge", &forge_url])
        .stdout(&format!(
            "pulled acme/tool@release/x (SHA:{second}) from pull {forge_url}/acme/tool.git\n\
             pulled acme/tool@main (SHA:{second}) from pull {forge_url}/acme/tool.git\n"
        ))
        .run();
    Test::new()
        .args(["actions", "list", "--data-dir", &data])
        .stdout(&format!(
            "acme/tool@main       {second}  pull {forge_url}/acme/tool.git\n\
             acme/tool@release/x  {second}  pull {forge_url}/acme/tool.git\n\
             acme/tool@v1         {first}  git {bare}\n"
        ))
        .run();
    Test::new()
        .args(["actions", "pull", "acme/tool@nope", "--data-dir", &data])
        .env("GANTRY_ACTIONS_FORGE", &forge_url)
        .stderr(&format!(
            "error: {forge_url}/acme/tool.git has no tag, branch or commit `nope`\n"
        ))
        .status(2)
        .run();
    Test::new()
        .args(["actions", "rm", "acme/tool@main", "--data-dir", &data])
        .stdout("removed acme/tool@main\n")
        .run();
    Test::new()
        .args(["actions", "rm", "acme/tool@main", "--data-dir", &data])
        .stderr("error: no action `acme/tool@main` in the store (see `gantry actions list`)\n")
        .status(2)
        .run();
    Test::new()
        .args(["actions", "add", "acme/tool", &bare, "--data-dir", &data])
        .stderr("error: `acme/tool` has no `@REF`: expected OWNER/REPO[/PATH]@REF\n")
        .status(2)
        .run();
}

const PULLING_WORKFLOW: &str = "
    on: push
    jobs:
      hello:
        runs-on: ubuntu-latest
        steps:
          - uses: acme/hello@v1
            with:
              who: gantry
";

/// `gantry run --pull-actions` at run level: offline a missing action fails its job naming
/// the command; with the flag (and `--forge` at a local bare repository) the run fetches it,
/// records it in the store and runs it; afterwards it runs offline from the store.
#[test]
fn run_pull_actions_fetches_a_missing_action_from_the_forge_and_runs_it() {
    let forge_root = tempfile::tempdir().unwrap();
    let work = forge_root.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(
        work.join("action.yml"),
        "name: hello\ninputs:\n  who:\n    default: world\nruns:\n  using: composite\n  steps:\n    - run: echo \"hello ${{ inputs.who }}, pulled from the forge\"\n      shell: bash\n",
    )
    .unwrap();
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "hello"]);
    git(&work, &["tag", "v1"]);
    let commit = git(&work, &["rev-parse", "HEAD"]);
    std::fs::create_dir_all(forge_root.path().join("forge/acme")).unwrap();
    git(
        forge_root.path(),
        &["clone", "-q", "--bare", "work", "forge/acme/hello.git"],
    );
    let forge_url = format!("file://{}", forge_root.path().join("forge").display());
    let data = forge_root.path().join("data").display().to_string();
    let run = |extra: &[&str], status: i32| {
        Test::new()
            .file(".github/workflows/ci.yml", PULLING_WORKFLOW)
            .args(["run", "-P", "ubuntu-latest=host", "--data-dir", &data])
            .args(extra.iter().copied())
            .status(status)
            .output()
    };

    let offline = run(&[], 1);
    assert!(
        offline
            .stdout
            .contains("action `acme/hello@v1` is not in the action store"),
        "{}",
        offline.stdout
    );
    assert!(
        offline.stdout.contains("--pull-actions"),
        "{}",
        offline.stdout
    );

    let pulled = run(&["--pull-actions", "--forge", &forge_url], 0);
    assert!(
        pulled.stdout.contains(&format!(
            "Download action repository 'acme/hello@v1' (SHA:{commit})"
        )),
        "{}",
        pulled.stdout
    );
    assert!(
        pulled
            .stdout
            .contains("hello gantry, pulled from the forge"),
        "{}",
        pulled.stdout
    );
    Test::new()
        .args(["actions", "list", "--data-dir", &data])
        .stdout(&format!(
            "acme/hello@v1  {commit}  pull {forge_url}/acme/hello.git\n"
        ))
        .run();

    // Stored now: the next run needs no forge.
    let again = run(&[], 0);
    assert!(
        again.stdout.contains("hello gantry, pulled from the forge"),
        "{}",
        again.stdout
    );
}
