//! Environment files: `GITHUB_ENV`, `GITHUB_OUTPUT`, `GITHUB_STATE`, `GITHUB_PATH` and
//! `GITHUB_STEP_SUMMARY`.
//!
//! The rules are the runner's (`FileCommandManager`) on Linux: lines end at `\n` only (a `\r`
//! before it stays in the value, as on GitHub's Linux runners, which is why `@actions/core`'s
//! `os.EOL` heredocs work there); a line is `NAME=value` or `NAME<<DELIMITER` followed by value
//! lines and a line that is exactly the delimiter; empty lines are skipped.

use indexmap::IndexMap;

/// The files a step may write, as the runner names them in its error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileCommand {
    Env,
    Output,
    State,
    Path,
    StepSummary,
}

impl FileCommand {
    pub const ALL: [FileCommand; 5] = [
        FileCommand::Env,
        FileCommand::Output,
        FileCommand::State,
        FileCommand::Path,
        FileCommand::StepSummary,
    ];

    /// The environment variable that holds the file's path.
    pub fn env_var(self) -> &'static str {
        match self {
            FileCommand::Env => "GITHUB_ENV",
            FileCommand::Output => "GITHUB_OUTPUT",
            FileCommand::State => "GITHUB_STATE",
            FileCommand::Path => "GITHUB_PATH",
            FileCommand::StepSummary => "GITHUB_STEP_SUMMARY",
        }
    }

    /// The runner's name in `Unable to process file command '<name>' successfully.`
    pub fn context_name(self) -> &'static str {
        match self {
            FileCommand::Env => "env",
            FileCommand::Output => "output",
            FileCommand::State => "state",
            FileCommand::Path => "path",
            FileCommand::StepSummary => "step_summary",
        }
    }

    /// The file name prefix (the runner's; a per-step suffix makes each file fresh).
    pub fn file_prefix(self) -> &'static str {
        match self {
            FileCommand::Env => "set_env_",
            FileCommand::Output => "set_output_",
            FileCommand::State => "save_state_",
            FileCommand::Path => "add_path_",
            FileCommand::StepSummary => "step_summary_",
        }
    }
}

/// Why a key-value file could not be read. Messages are the runner's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileCommandError {
    #[error("Invalid format '{0}'. Name must not be empty")]
    EmptyName(String),
    #[error("Invalid format '{0}'. Name must not be empty and delimiter must not be empty")]
    EmptyHeredoc(String),
    #[error("Invalid value. Matching delimiter not found '{0}'")]
    MissingDelimiter(String),
    #[error("Invalid value. EOF marker missing new line.")]
    DelimiterWithoutNewline,
    #[error("Invalid format '{0}'")]
    Invalid(String),
}

/// Reads one line starting at `*index`; returns it (without `\n`) and whether a `\n` ended it.
fn read_line<'a>(text: &'a str, index: &mut usize) -> Option<(&'a str, bool)> {
    if *index >= text.len() {
        return None;
    }
    let start = *index;
    match text[start..].find('\n') {
        Some(lf) => {
            *index = start + lf + 1;
            Some((&text[start..start + lf], true))
        }
        None => {
            *index = text.len();
            Some((&text[start..], false))
        }
    }
}

/// Parses a `GITHUB_ENV` / `GITHUB_OUTPUT` / `GITHUB_STATE` file into its pairs, in order (a
/// later pair for the same name wins when the caller inserts them into a map).
pub fn parse_key_values(text: &str) -> Result<Vec<(String, String)>, FileCommandError> {
    let mut pairs = Vec::new();
    let mut index = 0;
    while let Some((line, _)) = read_line(text, &mut index) {
        if line.is_empty() {
            continue;
        }
        let equals = line.find('=');
        let heredoc = line.find("<<");
        match (equals, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                let (name, value) = (&line[..e], &line[e + 1..]);
                if name.is_empty() {
                    return Err(FileCommandError::EmptyName(line.to_owned()));
                }
                pairs.push((name.to_owned(), value.to_owned()));
            }
            (_, Some(h)) => {
                let (name, delimiter) = (&line[..h], &line[h + 2..]);
                if name.is_empty() || delimiter.is_empty() {
                    return Err(FileCommandError::EmptyHeredoc(line.to_owned()));
                }
                let value = read_heredoc(text, &mut index, delimiter)?;
                pairs.push((name.to_owned(), value.to_owned()));
            }
            _ => return Err(FileCommandError::Invalid(line.to_owned())),
        }
    }
    Ok(pairs)
}

/// Reads value lines up to the delimiter line; the newline before the delimiter is not part of
/// the value.
fn read_heredoc<'a>(
    text: &'a str,
    index: &mut usize,
    delimiter: &str,
) -> Result<&'a str, FileCommandError> {
    let start = *index;
    let mut end = start;
    loop {
        match read_line(text, index) {
            None => return Err(FileCommandError::MissingDelimiter(delimiter.to_owned())),
            Some((line, _)) if line == delimiter => break,
            // A last value line without `\n`: the runner's own message for this case.
            Some((_, false)) => return Err(FileCommandError::DelimiterWithoutNewline),
            Some((_, true)) => end = *index - 1,
        }
    }
    Ok(&text[start..end.max(start)])
}

/// Parses `GITHUB_PATH`: one directory per line, empty lines skipped. `ReadAllLines` splits at
/// `\r\n`, `\n` and `\r`, so a `\r` never ends up in a path.
pub fn parse_path_file(text: &str) -> Vec<String> {
    text.split(['\n', '\r'])
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Directories added through `GITHUB_PATH` (or `add-path`) during a job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrependPath {
    /// In the order added; a repeated directory moves to the end.
    entries: Vec<String>,
}

impl PrependPath {
    pub fn add(&mut self, dir: String) {
        self.entries.retain(|e| e != &dir);
        self.entries.push(dir);
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `PATH` steps see: the most recently added directory first, then `base`.
    pub fn apply(&self, base: &str) -> String {
        let mut parts: Vec<&str> = self.entries.iter().rev().map(String::as_str).collect();
        if !base.is_empty() {
            parts.push(base);
        }
        parts.join(":")
    }
}

/// GitHub's limit for one step's summary.
pub const STEP_SUMMARY_LIMIT: usize = 1024 * 1024;

/// A step summary over [`STEP_SUMMARY_LIMIT`]: the runner reports it and drops the summary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "$GITHUB_STEP_SUMMARY upload aborted, supports content up to a size of {}k, got {}k. For more information see: https://docs.github.com/actions/using-workflows/workflow-commands-for-github-actions#adding-a-markdown-summary",
    STEP_SUMMARY_LIMIT / 1024,
    .size / 1024
)]
pub struct SummaryTooLarge {
    pub size: usize,
}

/// Checks a step summary: `Ok(None)` when empty, an error when over the limit.
pub fn check_step_summary(contents: &[u8]) -> Result<Option<String>, SummaryTooLarge> {
    if contents.is_empty() {
        return Ok(None);
    }
    if contents.len() > STEP_SUMMARY_LIMIT {
        return Err(SummaryTooLarge {
            size: contents.len(),
        });
    }
    Ok(Some(String::from_utf8_lossy(contents).into_owned()))
}

/// Applies key-value pairs to a map (later wins), keeping first-insertion order.
pub fn merge_pairs(into: &mut IndexMap<String, String>, pairs: Vec<(String, String)>) {
    for (k, v) in pairs {
        into.insert(k, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<(String, String)> {
        parse_key_values(text).unwrap()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.into(), v.into())
    }

    #[test]
    fn simple_pairs_and_empty_lines() {
        assert_eq!(
            ok("A=1\n\nB==2\nC=\n"),
            vec![pair("A", "1"), pair("B", "=2"), pair("C", "")]
        );
    }

    #[test]
    fn heredoc_values() {
        assert_eq!(
            ok("A<<EOF\nx\ny\nEOF\nB=2"),
            vec![pair("A", "x\ny"), pair("B", "2")]
        );
        assert_eq!(ok("A<<EOF\nEOF\n"), vec![pair("A", "")]);
        assert_eq!(ok("A<<EOF\n\nEOF\n"), vec![pair("A", "")]);
        assert_eq!(ok("A<<EOF\n\n\nEOF\n"), vec![pair("A", "\n")]);
        // `=` after `<<` belongs to the delimiter.
        assert_eq!(ok("A<<E=F\nv\nE=F\n"), vec![pair("A", "v")]);
    }

    #[test]
    fn crlf_heredoc_from_actions_core() {
        // `@actions/core` writes `name<<ghadelimiter_x{EOL}value{EOL}ghadelimiter_x{EOL}`.
        assert_eq!(ok("A<<D\nv\nD\n"), vec![pair("A", "v")]);
        // On Linux a `\r` is data: a CRLF file still finds its delimiter (`D\r` on both lines)
        // but the value keeps the `\r` of its last line, as on GitHub's Linux runners.
        assert_eq!(ok("A<<D\r\nv\r\nD\r\n"), vec![pair("A", "v\r")]);
        assert_eq!(
            parse_key_values("A<<D\r\nv\nD\n"),
            Err(FileCommandError::MissingDelimiter("D\r".into()))
        );
        assert_eq!(ok("A=1\r\n"), vec![pair("A", "1\r")]);
    }

    #[test]
    fn errors_use_runner_messages() {
        assert_eq!(
            parse_key_values("=1").unwrap_err().to_string(),
            "Invalid format '=1'. Name must not be empty"
        );
        assert_eq!(
            parse_key_values("A<<\nx").unwrap_err().to_string(),
            "Invalid format 'A<<'. Name must not be empty and delimiter must not be empty"
        );
        assert_eq!(
            parse_key_values("A<<EOF\nx\n").unwrap_err().to_string(),
            "Invalid value. Matching delimiter not found 'EOF'"
        );
        assert_eq!(
            parse_key_values("A<<EOF\nxEOF").unwrap_err().to_string(),
            "Invalid value. EOF marker missing new line."
        );
        assert_eq!(
            parse_key_values("JUSTTEXT").unwrap_err().to_string(),
            "Invalid format 'JUSTTEXT'"
        );
    }

    #[test]
    fn path_prepends_latest_first() {
        let mut p = PrependPath::default();
        for dir in parse_path_file("/a\r\n\n/b\n/a\n") {
            p.add(dir);
        }
        assert_eq!(p.apply("/usr/bin"), "/a:/b:/usr/bin");
    }

    #[test]
    fn summary_limit() {
        assert_eq!(check_step_summary(b""), Ok(None));
        assert_eq!(check_step_summary(b"# hi"), Ok(Some("# hi".into())));
        let big = vec![b'x'; STEP_SUMMARY_LIMIT + 2048];
        assert!(
            check_step_summary(&big)
                .unwrap_err()
                .to_string()
                .contains("got 1026k")
        );
    }
}
