//! The `Test` builder.

use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

/// A test's temporary directory that, when dropped, also removes what gantry runs in it left on
/// the Docker engine: every container, network and volume labelled with the directory as its
/// scope (`io.gantry.scope`, what `gantry run` labels with), and their job directories. So a test that fails half-way
/// (a run that leaked, a failed status assertion) still leaves nothing behind; a passing test
/// asserts separately that gantry itself removed everything.
pub struct ScopedDir(TempDir);

impl ScopedDir {
    pub fn new() -> Self {
        ScopedDir(tempfile::tempdir().unwrap())
    }
}

impl std::ops::Deref for ScopedDir {
    type Target = TempDir;
    fn deref(&self) -> &TempDir {
        &self.0
    }
}

impl Drop for ScopedDir {
    fn drop(&mut self) {
        // What `gantry clean` in this directory would remove: the runs here have all ended.
        if let Ok(scope) = std::fs::canonicalize(self.0.path()) {
            let scope = Some(scope.display().to_string());
            let _ = gantry_docker::clean_blocking(&gantry_docker::Selection::Ended { scope });
        }
    }
}

/// Environment variables that would change gantry's behaviour if inherited from the caller.
const CLEARED_ENV: &[&str] = &[
    "NO_COLOR",
    "GANTRY_COLOR",
    "GANTRY_LOG",
    "GANTRY_VALIDATE_FORMAT",
    "GANTRY_GRAPH_FORMAT",
    "GANTRY_WORKFLOWS",
    "GANTRY_CONTEXT",
    "GANTRY_EVENT",
    "GANTRY_EVENT_NAME",
];

/// One run of `gantry --color never ARGS...` in a temporary directory holding the given files.
/// Unless told otherwise, stdout and stderr must be empty and the status 0.
#[must_use]
pub struct Test {
    dir: ScopedDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
    color_never: bool,
    stdout: String,
    stderr: String,
    status: i32,
}

/// What a run printed, for snapshot assertions.
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    #[allow(dead_code)]
    pub dir: ScopedDir,
}

impl Test {
    pub fn new() -> Self {
        Test {
            dir: ScopedDir::new(),
            args: Vec::new(),
            env: Vec::new(),
            color_never: true,
            stdout: String::new(),
            stderr: String::new(),
            status: 0,
        }
    }

    /// Writes `contents` (unindented, see [`unindent`]) to `path` under the test directory.
    pub fn file(self, path: &str, contents: &str) -> Self {
        let full = self.dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, unindent(contents)).unwrap();
        self
    }

    /// Writes `contents` to `path` as it is (for fixture files).
    pub fn file_verbatim(self, path: &str, contents: &str) -> Self {
        let full = self.dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, contents).unwrap();
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Leaves `--color` out, for tests of the color options themselves.
    pub fn no_color_flag(mut self) -> Self {
        self.color_never = false;
        self
    }

    pub fn stdout(mut self, expected: &str) -> Self {
        self.stdout = unindent(expected);
        self
    }

    pub fn stderr(mut self, expected: &str) -> Self {
        self.stderr = unindent(expected);
        self
    }

    pub fn stdout_verbatim(mut self, expected: &str) -> Self {
        self.stdout = expected.to_owned();
        self
    }

    pub fn stderr_verbatim(mut self, expected: &str) -> Self {
        self.stderr = expected.to_owned();
        self
    }

    pub fn status(mut self, status: i32) -> Self {
        self.status = status;
        self
    }

    /// Runs and asserts stdout, stderr and status exactly.
    pub fn run(self) -> Output {
        let (expected_stdout, expected_stderr) = (self.stdout.clone(), self.stderr.clone());
        let output = self.output();
        assert!(
            output.stdout == expected_stdout,
            "stdout differs\n--- expected\n{expected_stdout}--- actual\n{}--- end",
            output.stdout
        );
        assert!(
            output.stderr == expected_stderr,
            "stderr differs\n--- expected\n{expected_stderr}--- actual\n{}--- end",
            output.stderr
        );
        output
    }

    /// Runs and asserts only the status: the caller snapshots the (long) output.
    pub fn output(self) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_gantry"));
        if self.color_never {
            command.args(["--color", "never"]);
        }
        command.args(&self.args).current_dir(self.dir.path());
        for key in CLEARED_ENV {
            command.env_remove(key);
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        let output = command.output().unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(
            output.status.code(),
            Some(self.status),
            "unexpected status\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
        Output {
            stdout,
            stderr,
            dir: self.dir,
        }
    }

    #[allow(dead_code)]
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Lets expected text and files be written indented in the test source: drops one leading
/// newline and the indentation common to all non-blank lines.
pub fn unindent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    text.split_inclusive('\n')
        .map(|l| {
            if l.trim().is_empty() {
                l.trim_start_matches([' ', '\t'])
            } else {
                &l[indent..]
            }
        })
        .collect()
}

#[test]
fn unindent_removes_common_indentation() {
    assert_eq!(unindent("\n    a\n      b\n\n    c\n"), "a\n  b\n\nc\n");
    assert_eq!(unindent("x"), "x");
}
