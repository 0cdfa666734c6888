//! `gantry graph`.

use crate::fixtures::{CI, CYCLE, RELEASE};
use crate::test::Test;

fn workflows() -> Test {
    Test::new()
        .file(".github/workflows/ci.yml", CI)
        .file(".github/workflows/release.yml", RELEASE)
}

#[test]
fn text_shows_stages_and_needs() {
    workflows()
        .args(["graph"])
        .stdout(
            r#"
            .github/workflows/ci.yml: CI
              stage 1: build, lint
              stage 2: test <- build
              stage 3: deploy <- test lint

            .github/workflows/release.yml
              stage 1: publish
        "#,
        )
        .run();
}

#[test]
fn text_for_one_event() {
    workflows()
        .args(["graph", "pull_request"])
        .stdout(
            r#"
            .github/workflows/ci.yml: CI
              stage 1: build, lint
              stage 2: test <- build
              stage 3: deploy <- test lint
        "#,
        )
        .run();
}

#[test]
fn dot() {
    workflows()
        .args(["graph", "--format", "dot"])
        .stdout(
            r#"
            digraph gantry {
              rankdir=LR;
              node [shape=box];
              subgraph "cluster_0" {
                label=".github/workflows/ci.yml: CI";
                "0:build" [label="build"];
                "0:lint" [label="lint"];
                "0:test" [label="test"];
                "0:deploy" [label="deploy"];
              }
              "0:build" -> "0:test";
              "0:test" -> "0:deploy";
              "0:lint" -> "0:deploy";
              subgraph "cluster_1" {
                label=".github/workflows/release.yml";
                "1:publish" [label="publish"];
              }
            }
        "#,
        )
        .run();
}

#[test]
fn mermaid() {
    workflows()
        .args(["graph", "--format", "mermaid"])
        .stdout(
            r#"
            flowchart LR
              subgraph w0 [".github/workflows/ci.yml: CI"]
                w0_j0["build"]
                w0_j1["lint"]
                w0_j2["test"]
                w0_j3["deploy"]
              end
              w0_j0 --> w0_j2
              w0_j2 --> w0_j3
              w0_j1 --> w0_j3
              subgraph w1 [".github/workflows/release.yml"]
                w1_j0["publish"]
              end
        "#,
        )
        .run();
}

#[test]
fn format_env_twin() {
    workflows()
        .args(["graph", "release"])
        .env("GANTRY_GRAPH_FORMAT", "mermaid")
        .stdout(
            r#"
                flowchart LR
                  subgraph w0 [".github/workflows/release.yml"]
                    w0_j0["publish"]
                  end
            "#,
        )
        .run();
}

#[test]
fn a_cycle_is_reported_instead_of_stages() {
    Test::new()
        .file(".github/workflows/cycle.yml", CYCLE)
        .args(["graph"])
        .stdout(r#"
                .github/workflows/cycle.yml
                  error: jobs depend on each other in a cycle: a -> b -> a
            "#)
        .stderr("warning: `.github/workflows/cycle.yml` has 2 problems (see `gantry validate .github/workflows/cycle.yml`)\n")
        .status(1)
        .run();
}
