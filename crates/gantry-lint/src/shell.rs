//! `shellcheck` and `python-syntax`: scripts of `run:` steps checked by the real tools.
//!
//! Scripts are collected while files are linted ([`collect`]), `${{ }}` replaced by as many
//! underscores (a word in every shell and a name in Python, and columns stay where they were),
//! then checked in one pass over all files: shellcheck gets the scripts as files in a temporary
//! directory, a few processes with many files each, run in parallel; Python gets them all in one
//! process on stdin. Findings are mapped back to the workflow's lines and columns.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use gantry_workflow::{Diagnostic, Job, Pos, RunsOn, Severity, Span, StepKind, Workflow};
use serde::Deserialize;

use crate::rules::{PYTHON_SYNTAX, SHELLCHECK};
use crate::source::SourceMap;

/// The checks shellcheck would report that placeholders or GitHub's env cause, not the script
/// (as actionlint turns them off): sourced files it cannot follow (SC1091), constant `case` and
/// test expressions and `-z`/`-n` of placeholders (SC2194, SC2050, SC2157, SC2078), and
/// variables that `env:` sets (SC2154).
const EXCLUDED: &str = "SC1091,SC2194,SC2050,SC2157,SC2078,SC2154";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Bash,
    Sh,
    Python,
}

/// One script to check and where its lines are in the workflow.
#[derive(Debug, Clone)]
pub struct Script {
    /// Index of the file among those linted.
    pub file: usize,
    pub dialect: Dialect,
    /// The script with `${{ }}` replaced.
    pub text: String,
    /// The source position of each script line's start; `None` when not found verbatim.
    starts: Vec<Option<Pos>>,
    fallback: Span,
}

impl Script {
    /// The workflow position of 1-based `line` and `col` of the script.
    fn pos(&self, line: usize, col: usize) -> Option<Pos> {
        let start = (*self.starts.get(line.checked_sub(1)?)?)?;
        let text = self.text.lines().nth(line - 1).unwrap_or("");
        let bytes: usize = text
            .chars()
            .take(col.saturating_sub(1))
            .map(char::len_utf8)
            .sum();
        Some(Pos {
            line: start.line,
            col: start.col + u32::try_from(col.saturating_sub(1)).unwrap_or(0),
            offset: start.offset + bytes,
        })
    }

    fn span(&self, line: usize, col: usize, end_line: usize, end_col: usize) -> Span {
        match (self.pos(line, col), self.pos(end_line, end_col)) {
            (Some(start), Some(end)) if end.offset >= start.offset => Span { start, end },
            (Some(start), _) => Span { start, end: start },
            _ => self.fallback,
        }
    }
}

/// The scripts of a workflow's `run:` steps that a tool can check.
pub fn collect(file: usize, workflow: &Workflow, source: &SourceMap<'_>) -> Vec<Script> {
    let mut out = Vec::new();
    for job in workflow.jobs.values() {
        for step in &job.steps {
            let StepKind::Run { run, shell, .. } = &step.kind else {
                continue;
            };
            let shell = shell
                .as_ref()
                .or(job.defaults.shell.as_ref())
                .or(workflow.defaults.shell.as_ref())
                .map(|s| s.value.as_str());
            let Some(dialect) = dialect(shell, job) else {
                continue;
            };
            let text = placeholders(&run.value);
            let map = source.scalar(&run.value, run.span);
            let mut starts = Vec::new();
            for (index, _) in run.value.split('\n').enumerate() {
                starts.push(map.line_start(index).map(|o| source.pos(o)));
            }
            let fallback = source.span(map.fallback(), map.fallback());
            out.push(Script {
                file,
                dialect,
                text,
                starts,
                fallback,
            });
        }
    }
    out
}

/// The dialect a step's shell runs; `None` for shells no tool here checks (pwsh, cmd, custom
/// programs) and for jobs that may run on Windows with the default shell (pwsh there).
fn dialect(shell: Option<&str>, job: &Job) -> Option<Dialect> {
    let program = match shell {
        None if may_run_on_windows(job) => return None,
        None => "bash",
        Some(s) => s.split_whitespace().next().unwrap_or(""),
    };
    match Path::new(program).file_name()?.to_str()? {
        "bash" => Some(Dialect::Bash),
        "sh" => Some(Dialect::Sh),
        "python" | "python3" => Some(Dialect::Python),
        _ => None,
    }
}

fn may_run_on_windows(job: &Job) -> bool {
    match job.runs_on.as_ref().map(|r| &r.value) {
        None => false,
        Some(RunsOn::Labels { labels, .. }) => labels
            .iter()
            .any(|l| l.value.to_ascii_lowercase().contains("windows") || l.value.contains("${{")),
        // `runs-on: ${{ matrix.os }}`: any matrix value might be Windows.
        Some(RunsOn::Expr(_)) => true,
    }
}

/// `${{ expr }}` → `_` for every character, newlines kept.
fn placeholders(script: &str) -> String {
    let mut out = String::with_capacity(script.len());
    let mut rest = script;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let Some(end) = after.find("}}") else {
            out.push_str(after);
            return out;
        };
        for c in after[..end + 2].chars() {
            out.push(if c == '\n' { '\n' } else { '_' });
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// What running the tools found, and what could not be run.
#[derive(Debug, Default)]
pub struct Outcome {
    /// (file index, diagnostic).
    pub diagnostics: Vec<(usize, Diagnostic)>,
    /// Tools that are missing or failed, for the user to read.
    pub notices: Vec<String>,
}

/// Runs shellcheck (with `shellcheck_jobs` processes) and Python over `scripts`.
pub fn run(scripts: &[Script], shellcheck: bool, python: bool, jobs: usize) -> Outcome {
    let mut outcome = Outcome::default();
    let (shells, pythons): (Vec<&Script>, Vec<&Script>) =
        scripts.iter().partition(|s| s.dialect != Dialect::Python);
    if shellcheck
        && !shells.is_empty()
        && let Err(notice) = run_shellcheck(&shells, jobs, &mut outcome.diagnostics)
    {
        outcome.notices.push(notice);
    }
    if python
        && !pythons.is_empty()
        && let Err(notice) = run_python(&pythons, &mut outcome.diagnostics)
    {
        outcome.notices.push(notice);
    }
    outcome
}

#[derive(Deserialize)]
struct ShellcheckOutput {
    comments: Vec<ShellcheckComment>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShellcheckComment {
    file: String,
    line: usize,
    end_line: usize,
    column: usize,
    end_column: usize,
    level: String,
    code: u32,
    message: String,
}

fn run_shellcheck(
    scripts: &[&Script],
    jobs: usize,
    out: &mut Vec<(usize, Diagnostic)>,
) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| format!("shellcheck skipped: no temp dir: {e}"))?;
    let mut names = Vec::with_capacity(scripts.len());
    for (index, script) in scripts.iter().enumerate() {
        let shebang = match script.dialect {
            Dialect::Sh => "#!/bin/sh\n",
            _ => "#!/bin/bash\n",
        };
        let name = format!("{index}.sh");
        std::fs::write(dir.path().join(&name), format!("{shebang}{}", script.text))
            .map_err(|e| format!("shellcheck skipped: cannot write a script: {e}"))?;
        names.push(name);
    }
    // Balanced batches by size, one process each, all running at once.
    let jobs = jobs.clamp(1, names.len());
    let mut batches: Vec<(usize, Vec<&str>)> = vec![(0, Vec::new()); jobs];
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(scripts[i].text.len()));
    for i in order {
        if let Some(lightest) = batches.iter_mut().min_by_key(|(size, _)| *size) {
            lightest.0 += scripts[i].text.len() + 1;
            lightest.1.push(&names[i]);
        }
    }
    let mut children = Vec::new();
    for (_, batch) in batches.iter().filter(|(_, b)| !b.is_empty()) {
        let child = Command::new("shellcheck")
            .args(["--norc", "-f", "json1", "-e", EXCLUDED])
            .args(batch)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    "shellcheck is not installed: `run:` scripts were not checked \
                     (scripts/ensure-tools.sh installs it)"
                        .to_owned()
                }
                _ => format!("shellcheck could not be started: {e}"),
            })?;
        children.push(child);
    }
    for child in children {
        let output = child
            .wait_with_output()
            .map_err(|e| format!("shellcheck failed: {e}"))?;
        // Exit 1 means findings; anything else without JSON is a real failure.
        let parsed: ShellcheckOutput = serde_json::from_slice(&output.stdout).map_err(|_| {
            format!(
                "shellcheck failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )
        })?;
        for c in parsed.comments {
            let Some(index) = c
                .file
                .strip_suffix(".sh")
                .and_then(|i| i.parse::<usize>().ok())
            else {
                continue;
            };
            let Some(script) = scripts.get(index) else {
                continue;
            };
            // Line 1 is the shebang added above.
            let span = script.span(
                c.line.saturating_sub(1),
                c.column,
                c.end_line.saturating_sub(1),
                c.end_column,
            );
            let message = format!("{} (SC{}, {})", c.message, c.code, c.level);
            out.push((
                script.file,
                Diagnostic {
                    severity: Severity::Warning,
                    span,
                    message,
                    rule: SHELLCHECK,
                },
            ));
        }
    }
    Ok(())
}

/// Compiles every script in one Python process; prints `index<TAB>line<TAB>col<TAB>message`
/// for each that does not compile.
const PYTHON_PROGRAM: &str = r#"
import json, sys
for i, src in enumerate(json.load(sys.stdin)):
    try:
        compile(src, "<run>", "exec")
    except SyntaxError as e:
        msg = (e.msg or "invalid syntax").replace("\t", " ").replace("\n", " ")
        print(f"{i}\t{e.lineno or 1}\t{e.offset or 1}\t{msg}")
"#;

fn run_python(scripts: &[&Script], out: &mut Vec<(usize, Diagnostic)>) -> Result<(), String> {
    let input = serde_json::to_vec(&scripts.iter().map(|s| &s.text).collect::<Vec<_>>())
        .map_err(|e| format!("python syntax check skipped: {e}"))?;
    let mut child = Command::new("python3")
        .args(["-c", PYTHON_PROGRAM])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                "python3 is not installed: `shell: python` scripts were not checked".to_owned()
            }
            _ => format!("python3 could not be started: {e}"),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(&input)
            .map_err(|e| format!("python syntax check failed: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("python syntax check failed: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "python syntax check failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let mut fields = line.splitn(4, '\t');
        let (Some(i), Some(l), Some(c), Some(msg)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let (Ok(i), Ok(l), Ok(c)) = (i.parse::<usize>(), l.parse(), c.parse()) else {
            continue;
        };
        let Some(script) = scripts.get(i) else {
            continue;
        };
        let span = script.span(l, c, l, c + 1);
        out.push((
            script.file,
            Diagnostic {
                severity: Severity::Error,
                span,
                message: format!("this Python script does not compile: {msg}"),
                rule: PYTHON_SYNTAX,
            },
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_keep_columns() {
        assert_eq!(placeholders("echo ${{ a }} x"), "echo ________ x");
        assert_eq!(placeholders("a ${{ b"), "a ${{ b");
    }
}
