//! `fixtures/<rule>/`: `fail*.yml` must have findings of that rule (their whole output is a
//! snapshot), `pass*.yml` must have none of that rule. The folder is the repository root for
//! local actions; a `gantry.toml` in it is the configuration.

use std::path::{Path, PathBuf};

use crate::support;

fn fixture_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lint/fixtures")
}

#[test]
fn every_rule_has_failing_and_passing_fixtures() {
    for rule in gantry_lint::rules::RULES {
        let dir = fixture_root().join(rule.name);
        let names = yaml_files(&dir);
        assert!(
            names.iter().any(|n| n.starts_with("fail"))
                && names.iter().any(|n| n.starts_with("pass")),
            "rule {} needs fixtures/{}/fail*.yml and pass*.yml",
            rule.name,
            rule.name
        );
    }
}

#[test]
fn fixtures() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixture_root())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut failures = Vec::new();
    for dir in dirs {
        let rule = dir.file_name().unwrap().to_str().unwrap().to_owned();
        let config = std::fs::read_to_string(dir.join("gantry.toml")).ok();
        let linter = support::linter(config.as_deref());
        for name in yaml_files(&dir) {
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            let found = support::lint(&linter, &name, &text, Some(&dir));
            // The `config` folder has no rule of its own: its passing file must be silent.
            let of_rule = found
                .iter()
                .filter(|d| d.rule == rule || rule == "config")
                .count();
            let rendered = support::render(&text, &found);
            if name.starts_with("pass") && of_rule > 0 {
                failures.push(format!("{rule}/{name} should pass:\n{rendered}"));
            }
            if name.starts_with("fail") {
                if of_rule == 0 {
                    failures.push(format!("{rule}/{name} should fail:\n{rendered}"));
                }
                let snapshot = format!("{rule}__{}", name.trim_end_matches(".yml"));
                insta::with_settings!({
                    snapshot_path => fixture_root().join("../snapshots"),
                    prepend_module_to_snapshot => false,
                }, {
                    insta::assert_snapshot!(snapshot, rendered);
                });
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn yaml_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".yml"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
