//! `.github/gantry.toml` (or `--config FILE`): which rules are off, globally or for some files,
//! and the runner labels a repository's self-hosted runners have. Unknown keys under `[lint]`
//! and unknown rule names are errors, so a typo does not silently leave a rule on.
//!
//! ```toml
//! [lint]
//! disable = ["shellcheck"]
//! runner-labels = ["gpu-runner"]
//!
//! [[lint.files]]
//! paths = [".github/workflows/legacy-*.yml"]
//! disable = ["script-injection", "action-outdated"]
//! ```
//!
//! On a line of a workflow, `# gantry-ignore: rule-a, rule-b` silences those rules for findings
//! on that line; a comment alone on its line applies to the next line.

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use crate::rules;

/// The names of the reader's own rules (gantry-workflow), which the configuration may also
/// turn off.
const READER_RULES: &[&str] = &[
    "syntax",
    "schema",
    "expression",
    "needs",
    "needs-cycle",
    "job-id",
    "step-id",
    "uses",
    "event",
    "event-types",
    "event-filter",
    "cron",
    "glob",
    "input",
    "matrix",
    "shell",
    "job",
    "timeout",
    "action",
    "limits",
    "calls",
    "permissions",
];

/// The rules `gantry-cli` adds (its checks of what will not work offline: actions missing from
/// the store, labels without a platform, what needs the network), which the configuration may
/// also turn off.
const CLI_RULES: &[&str] = &["offline-action", "offline-platform", "offline-network"];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("unknown rule `{name}` in the configuration (known rules: {known})")]
    UnknownRule { name: String, known: String },
    #[error("invalid file pattern `{pattern}` in the configuration: {source}")]
    Pattern {
        pattern: String,
        source: globset::Error,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    #[serde(default)]
    lint: LintToml,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct LintToml {
    #[serde(default)]
    disable: Vec<String>,
    #[serde(default)]
    runner_labels: Vec<String>,
    #[serde(default)]
    files: Vec<FilesToml>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilesToml {
    paths: Vec<String>,
    disable: Vec<String>,
}

/// The linter's configuration. `Default` is every rule on, GitHub's hosted labels only.
#[derive(Debug, Default)]
pub struct Config {
    disabled: Vec<String>,
    /// Extra runner labels, lower-cased.
    pub runner_labels: Vec<String>,
    per_file: Vec<(GlobSet, Vec<String>)>,
}

impl Config {
    /// Reads a configuration file's text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let file: FileToml = toml::from_str(text)?;
        let lint = file.lint;
        check_names(&lint.disable)?;
        let mut per_file = Vec::new();
        for files in lint.files {
            check_names(&files.disable)?;
            let mut set = GlobSetBuilder::new();
            for pattern in &files.paths {
                let glob = Glob::new(pattern).map_err(|source| ConfigError::Pattern {
                    pattern: pattern.clone(),
                    source,
                })?;
                set.add(glob);
            }
            let set = set.build().map_err(|source| ConfigError::Pattern {
                pattern: files.paths.join(", "),
                source,
            })?;
            per_file.push((set, files.disable));
        }
        Ok(Config {
            disabled: lint.disable,
            runner_labels: lint
                .runner_labels
                .iter()
                .map(|l| l.to_ascii_lowercase())
                .collect(),
            per_file,
        })
    }

    /// Whether `rule` is on for the file shown as `path`.
    pub fn enabled(&self, rule: &str, path: &str) -> bool {
        if self.disabled.iter().any(|d| d == rule) {
            return false;
        }
        !self
            .per_file
            .iter()
            .any(|(set, disabled)| set.is_match(path) && disabled.iter().any(|d| d == rule))
    }

    /// Whether any file may still need `rule` (to skip costly work such as shellcheck).
    pub fn globally_disabled(&self, rule: &str) -> bool {
        self.disabled.iter().any(|d| d == rule)
    }
}

fn check_names(names: &[String]) -> Result<(), ConfigError> {
    for name in names {
        if rules::find(name).is_none()
            && !READER_RULES.contains(&name.as_str())
            && !CLI_RULES.contains(&name.as_str())
        {
            let known = rules::RULES
                .iter()
                .map(|r| r.name)
                .chain(READER_RULES.iter().copied())
                .chain(CLI_RULES.iter().copied())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(ConfigError::UnknownRule {
                name: name.clone(),
                known,
            });
        }
    }
    Ok(())
}

/// The rules silenced on each line by `# gantry-ignore:` comments.
#[derive(Debug, Default)]
pub struct Ignores {
    /// (1-based line, rule names; `*` for all).
    lines: Vec<(u32, Vec<String>)>,
}

const IGNORE: &str = "gantry-ignore:";

impl Ignores {
    /// Finds the comments in a file. A `#` inside a quoted string that happens to spell the
    /// marker would be taken as a comment too; that can only silence, never add, findings.
    pub fn scan(text: &str) -> Ignores {
        let mut lines = Vec::new();
        // Most files have none: one substring search instead of one per line.
        if !text.contains(IGNORE) {
            return Ignores { lines };
        }
        for (index, line) in text.lines().enumerate() {
            let Some(at) = line.find(IGNORE) else {
                continue;
            };
            let before = line[..at].trim_end();
            let Some(code) = before.strip_suffix('#') else {
                continue;
            };
            let names = line[at + IGNORE.len()..]
                .split(',')
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .collect();
            let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
            // A comment alone on its line is about the next line.
            let target = if code.trim().is_empty() {
                number + 1
            } else {
                number
            };
            lines.push((target, names));
        }
        Ignores { lines }
    }

    pub fn ignored(&self, rule: &str, line: u32) -> bool {
        self.lines
            .iter()
            .any(|(l, names)| *l == line && names.iter().any(|n| n == rule || n == "*"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_rules_are_rejected() {
        let err = Config::parse("[lint]\ndisable = [\"shelcheck\"]\n").unwrap_err();
        assert!(
            err.to_string().contains("unknown rule `shelcheck`"),
            "{err}"
        );
    }

    #[test]
    fn per_file_rules_apply_to_matching_paths() {
        let config = Config::parse(
            "[lint]\n[[lint.files]]\npaths = [\".github/workflows/old-*.yml\"]\ndisable = [\"shellcheck\"]\n",
        )
        .unwrap();
        assert!(!config.enabled("shellcheck", ".github/workflows/old-ci.yml"));
        assert!(config.enabled("shellcheck", ".github/workflows/ci.yml"));
    }

    #[test]
    fn ignore_comments_cover_their_line_or_the_next() {
        let ignores = Ignores::scan(
            "a: 1 # gantry-ignore: shellcheck\n# gantry-ignore: expr-type, runner-label\nb: 2\n",
        );
        assert!(ignores.ignored("shellcheck", 1));
        assert!(ignores.ignored("runner-label", 3));
        assert!(!ignores.ignored("shellcheck", 3));
    }
}
