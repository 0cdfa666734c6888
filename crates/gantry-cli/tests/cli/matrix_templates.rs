//! nektos/act's `evalmatrix-merge-map` and `evalmatrix-merge-array` fixtures (its
//! `pkg/runner/testdata`), run as its test runs them (a push, every job must succeed): the job
//! sees the matrix value GitHub's template rules build, `${{ insert }}` merged into the object
//! and an expression item spliced into the vector.

use crate::test::Test;

const MERGE_MAP: &str = r#"
on: push
jobs:
  a:
    strategy:
      matrix:
        a:
        - env:
              key1: val1
              ${{insert}}:
                 key2: val2
              ${{ insert }}: ${{fromJSON('{"key3":"val3"}')}}
    runs-on: ubuntu-latest
    steps:
    - run: exit ${{ (matrix.a.env.key2 == 'val2' && matrix.a.env.key1 == 'val1' && matrix.a.env.key3 == 'val3' ) && '0' || '1' }}
"#;

const MERGE_ARRAY: &str = r#"
on: push
jobs:
  a:
    strategy:
      matrix:
        a:
        - env:
              key1: ${{'val'}}1
        - ${{fromJSON('[{"env":{"key2":"val2"}},{"env":{"key3":"val3"}}]')}}
    runs-on: ubuntu-latest
    steps:
    - run: exit ${{ (matrix.a.env.key2 == 'val2' || matrix.a.env.key1 == 'val1' || matrix.a.env.key3 == 'val3' ) && '0' || '1' }}
"#;

fn run(source: &str) -> String {
    Test::new()
        .file_verbatim(".github/workflows/push.yml", source)
        .args(["run", "-P", "ubuntu-latest=host"])
        .output()
        .stdout
}

#[test]
fn an_inserted_mapping_is_merged_into_the_matrix_object() {
    let stdout = run(MERGE_MAP);
    // One row; the step exits 0 only when all three keys are in `matrix.a.env`.
    assert!(stdout.contains("[a] job a (Object) succeeded"), "{stdout}");
    assert!(stdout.contains("Run succeeded"), "{stdout}");
}

#[test]
fn an_expression_item_is_spliced_into_the_vector() {
    let stdout = run(MERGE_ARRAY);
    // Three rows: the literal one and the two the expression holds.
    for row in ["[a-1]", "[a-2]", "[a-3]"] {
        assert!(
            stdout.contains(&format!("{row} job ")),
            "{row} missing\n{stdout}"
        );
    }
    assert!(!stdout.contains("[a-4]"), "{stdout}");
    assert!(stdout.contains("Run succeeded"), "{stdout}");
}
