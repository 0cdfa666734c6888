//! Workflows shared by the `list` and `graph` tests.

/// A CI workflow: a 3×2 matrix build, tests after it, a lint job beside it, deploy after both.
pub const CI: &str = "
    name: CI
    on:
      push:
        branches: [main]
      pull_request:
    jobs:
      build:
        name: Build
        runs-on: ubuntu-latest
        strategy:
          matrix:
            os: [linux, macos, windows]
            node: [20, 22]
        steps:
          - run: echo build
      lint:
        runs-on: ubuntu-latest
        steps:
          - run: echo lint
      test:
        needs: build
        runs-on: ubuntu-latest
        strategy:
          matrix: ${{ fromJSON(needs.build.outputs.matrix) }}
        steps:
          - run: echo test
      deploy:
        name: Deploy \"prod\"
        needs: [test, lint]
        runs-on: ubuntu-latest
        steps:
          - run: echo deploy
";

/// Runs on releases only, with no name.
pub const RELEASE: &str = "
    on:
      release:
        types: [published]
    jobs:
      publish:
        runs-on: ubuntu-latest
        steps:
          - run: echo publish
";

/// Jobs that need each other.
pub const CYCLE: &str = "
    on: push
    jobs:
      a:
        needs: b
        runs-on: ubuntu-latest
        steps:
          - run: echo a
      b:
        needs: a
        runs-on: ubuntu-latest
        steps:
          - run: echo b
";
