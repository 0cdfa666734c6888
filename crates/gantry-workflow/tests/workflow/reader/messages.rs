//! Small workflows with one known problem each: the message GitHub gives, at GitHub's position.
//! Each case is `(workflow, [(line, col, message)])`.

use gantry_workflow::{Severity, parse_action, parse_workflow};

/// `(line, col, message)`.
type Expected = (u32, u32, &'static str);

const CASES: &[(&str, &[Expected])] = &[
    // An event that takes a configuration takes only its own keys.
    (
        "on:\n  push:\n    inputs:\n      name:\n        type: string\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n",
        &[(3, 5, "Unexpected value 'inputs'")],
    ),
    (
        "on:\n  issues:\n    types: [opened]\n    branches: [main]\n  pull_request:\n    tags: [v1]\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n",
        &[
            (4, 5, "Unexpected value 'branches'"),
            (6, 5, "Unexpected value 'tags'"),
        ],
    ),
    // One that takes none is read loosely (GitHub ran `status: {}`), and so are the values of
    // known keys (`types: publish-nightly` is a string where the strict schema wants a list).
    (
        "on:\n  status: {}\n  repository_dispatch:\n    types: publish-nightly\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n",
        &[],
    ),
    // Reusable-workflow references with one-letter names are valid.
    (
        "on: push\njobs:\n  a:\n    uses: a/b/.github/workflows/c.yml@v1\n",
        &[],
    ),
    (
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n        runn: 1\n",
        &[(7, 9, "Unexpected value 'runn'")],
    ),
    (
        "on: push\njobs:\n  a:\n    if: secrets.x == 'y'\n    runs-on: x\n    steps:\n      - run: echo\n",
        &[(
            4,
            9,
            "Unrecognized named-value: 'secrets'. Located at position 1 within expression: secrets.x == 'y'",
        )],
    ),
    (
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo ${{ matrix.x }} ${{ foo.bar }}\n",
        &[(
            6,
            14,
            "Unrecognized named-value: 'foo'. Located at position 1 within expression: foo.bar",
        )],
    ),
    (
        "on: push\njobs:\n  a:\n    runs-on: x\n    timeout-minutes: ten\n    steps:\n      - run: echo\n",
        &[(5, 22, "Unexpected value 'ten'")],
    ),
    (
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: a\n    Steps: []\n",
        &[(7, 5, "'Steps' is already defined")],
    ),
    (
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: a/b@v1\n        with:\n          x: ${{ hashFiles() }}\n",
        &[(
            8,
            14,
            "Too few parameters supplied: 'hashFiles'. Located at position 1 within expression: hashFiles()",
        )],
    ),
    (
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n        if: ${{ success('a') }}\n",
        &[(
            7,
            13,
            "Too many parameters supplied: 'success'. Located at position 1 within expression: success('a')",
        )],
    ),
    (
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: a/b@v1\n        with: [1]\n",
        &[(7, 15, "A sequence was not expected")],
    ),
    (
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo \u{7}hi\n",
        &[(
            6,
            19,
            "YAML syntax error: control character U+0007 is not allowed",
        )],
    ),
    (
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: x\n---\non: push\n",
        &[(7, 1, "Only one YAML document is allowed in a workflow file")],
    ),
    (
        "on: push\r\njobs:\r\n  a:\r\n    runs-on: x\r\n    steps:\r\n      - run: |\r\n          echo ${{ foo }}\r\n",
        &[(
            6,
            14,
            "Unrecognized named-value: 'foo'. Located at position 1 within expression: foo",
        )],
    ),
    (
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: x\n        env:\n          A: &x 1\n          B: *x\n",
        &[
            (
                8,
                14,
                "Anchors are not currently supported. Remove the anchor 'x'",
            ),
            (
                9,
                14,
                "Anchors are not currently supported. Remove the alias 'x'",
            ),
        ],
    ),
    (
        "on: push\njobs:\n",
        &[(
            2,
            6,
            "The workflow must contain at least one job with no dependencies.",
        )],
    ),
];

#[test]
fn workflow_messages() {
    let mut failures = Vec::new();
    for (source, expected) in CASES {
        let parsed = parse_workflow("case.yml", source);
        let found: Vec<(u32, u32, &str)> = parsed
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| (d.span.start.line, d.span.start.col, d.message.as_str()))
            .collect();
        if found != *expected {
            failures.push(format!(
                "{source}\n  expected {expected:?}\n  found    {found:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn action_messages() {
    let parsed = parse_action(
        "action.yml",
        "name: x\nruns:\n  using: composite\n  steps:\n    - run: echo ${{ secrets.x }}\n      shell: bash\n",
    );
    let messages: Vec<&str> = parsed
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(
        messages,
        ["Unrecognized named-value: 'secrets'. Located at position 1 within expression: secrets.x"]
    );
    let node = parse_action(
        "action.yml",
        "runs:\n  using: node20\n  main: a.js\n  post: b.js\n  post-if: secrets.x\n",
    );
    let messages: Vec<&str> = node
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(
        messages,
        ["Unrecognized named-value: 'secrets'. Located at position 1 within expression: secrets.x"]
    );
    let missing = parse_action("action.yml", "name: x\n");
    assert!(missing.value.is_none());
    assert_eq!(
        missing.diagnostics[0].message,
        "Required property is missing: runs"
    );
}
