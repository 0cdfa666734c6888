//! The rules this crate adds, by name. Names are what users write in `.github/gantry.toml` and in
//! `# gantry-ignore:` comments, and what SARIF reports as `ruleId`.
//!
//! Severity is per finding: an error is something GitHub fails the run for (a `format` call
//! that fails when evaluated, a script that does not compile, a required input missing, a
//! disabled workflow command); a warning is a mistake GitHub runs anyway (a reference that is
//! always null, a condition that is always true), a risk (an injectable script, a password in
//! the file) or an opinion (an outdated action, a shellcheck finding). GitHub ran every file of
//! the real-world corpus, so none of them may have an error (a test checks).

/// One rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo {
    pub name: &'static str,
    pub description: &'static str,
}

macro_rules! rules {
    ($($konst:ident = $name:literal: $description:literal;)*) => {
        $(pub const $konst: &str = $name;)*
        /// Every rule of the linter, in the order the README documents them.
        pub const RULES: &[RuleInfo] = &[$(RuleInfo { name: $name, description: $description }),*];
    };
}

rules! {
    EXPR_CONTEXT = "expr-context": "A ${{ }} expression reads a property that its context does not have";
    EXPR_TYPE = "expr-type": "An operator or function in a ${{ }} expression gets a value of the wrong type";
    EXPR_CONSTANT = "expr-constant": "A comparison or condition in a ${{ }} expression is always true or always false";
    IF_ALWAYS_TRUE = "if-always-true": "An `if:` with text around its ${{ }} is a non-empty string, always true";
    ENV_UNDEFINED = "env-undefined": "`env.NAME` names a variable that no `env:` in scope defines";
    SCRIPT_INJECTION = "script-injection": "An untrusted `github.event` value is pasted into a script";
    SHELLCHECK = "shellcheck": "shellcheck found a problem in a `run:` script";
    PYTHON_SYNTAX = "python-syntax": "A `shell: python` script is not valid Python";
    ACTION_INPUT = "action-input": "A `with:` input is unknown to the action, or a required one is missing";
    ACTION_OUTPUT = "action-output": "`steps.<id>.outputs.X` names an output the step's action does not declare";
    ACTION_OUTDATED = "action-outdated": "An action version runs on a Node.js that GitHub no longer supports";
    ACTION_METADATA = "action-metadata": "A local action's metadata file is missing or invalid";
    DEPRECATED_COMMAND = "deprecated-command": "A `run:` script uses a workflow command GitHub deprecated or disabled";
    RUNNER_LABEL = "runner-label": "`runs-on` names a label that no GitHub-hosted or configured runner has";
    HARDCODED_CREDENTIALS = "hardcoded-credentials": "A container registry password is written in the workflow";
    FILTER_PATTERN = "filter-pattern": "A branch, tag or path filter can never match what GitHub compares it with";
    DUPLICATE_NAME = "duplicate-name": "Two steps of a job or two jobs share a name";
}

/// The rule called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.name == name)
}
