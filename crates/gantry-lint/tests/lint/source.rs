//! Remote actions whose files the caller has (gantry's action store) are checked against their
//! own action.yml, ahead of the built-in table.

use std::path::{Path, PathBuf};

use gantry_lint::{ActionSource, Config, Linter};

use crate::support;

/// Stands in for the store: `octo/greet@v1` is a directory of the test data.
struct Dirs;

impl ActionSource for Dirs {
    fn dir(&self, uses: &str) -> Option<PathBuf> {
        (uses == "octo/greet@v1")
            .then(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lint/store/octo-greet"))
    }
}

const WORKFLOW: &str = "on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - id: g
        uses: octo/greet@v1
        with:
          whom: x
      - run: echo ${{ steps.g.outputs.greeting }} ${{ steps.g.outputs.greting }}
      - uses: octo/other@v1
        with:
          anything: x
";

#[test]
fn stored_actions_are_checked_against_their_metadata() {
    let linter = Linter::new(Config::default())
        .unwrap()
        .with_actions(Box::new(Dirs));
    let found = support::lint(&linter, "ci.yml", WORKFLOW, None);
    let rendered: Vec<String> = found
        .iter()
        .filter(|d| d.rule.starts_with("action"))
        .map(|d| {
            format!(
                "{}:{} {} {}",
                d.span.start.line, d.span.start.col, d.rule, d.message
            )
        })
        .collect();
    insta::assert_snapshot!(rendered.join("\n"));
}
