//! `gantry daemon --check-config`: exit 0 for a valid file, 1 with every problem listed, 2 when
//! the file cannot be read or parsed. (The daemon itself is tested end to end in
//! gantry-daemon's own tests.)

use crate::test::Test;

#[test]
fn a_valid_configuration_is_ok() {
    Test::new()
        .file(
            "gantry.toml",
            r#"
            data_dir = "data"
            webhook_secret = "s"
            [labels]
            self-hosted = "host"
            [repositories."octo/hello"]
            url = "/srv/git/hello.git"
            "#,
        )
        .args(["daemon", "--config", "gantry.toml", "--check-config"])
        .stdout("gantry.toml: ok\n")
        .run();
}

#[test]
fn every_problem_is_listed_with_status_1() {
    Test::new()
        .file(
            "gantry.toml",
            r#"
            data_dir = "data"
            capacity = 0
            [repositories."octo"]
            url = "https://example.com/octo.git"
            "#,
        )
        .args(["daemon", "--config", "gantry.toml", "--check-config"])
        .stderr(
            r#"
            gantry.toml: capacity must be at least 1
            gantry.toml: repositories."octo": the name must be owner/repo
            gantry.toml: repositories."octo".url: 'https://example.com/octo.git' is not a local path or file:// URL (gantry fetches without network transports)
            gantry.toml: repositories."octo": no webhook_secret (set one, a top-level webhook_secret, or insecure = true)
            "#,
        )
        .status(1)
        .run();
}

#[test]
fn a_missing_file_is_status_2() {
    let output = Test::new()
        .args(["daemon", "--config", "missing.toml", "--check-config"])
        .status(2)
        .output();
    assert!(
        output.stderr.contains("cannot read missing.toml"),
        "{}",
        output.stderr
    );
}
