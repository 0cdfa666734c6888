//! How a `run:` step becomes a process: GitHub's shell templates, script file extensions and
//! the `shell` / `working-directory` defaults chain (workflow < job < step).

/// Why a shell could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShellError {
    #[error(
        "Invalid shell option. Shell must be a valid built-in (bash, sh, cmd, powershell, pwsh) or a format string containing '{{0}}'"
    )]
    MissingPlaceholder,
    #[error("shell `{0}` is not supported on this platform")]
    Unsupported(String),
}

/// A resolved shell: a command template with `{0}` for the script path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellTemplate {
    /// As GitHub prints it in the step header (`bash --noprofile --norc -e -o pipefail {0}`).
    pub template: String,
    /// The script file's extension, with the dot (`.sh`), or empty for custom shells.
    pub extension: &'static str,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Posix,
    Pwsh,
    Python,
    Custom,
}

impl ShellTemplate {
    /// Resolves `shell:` as written (`None` when no level set one). `bash_available` decides the
    /// default, as the runner does on Linux.
    pub fn resolve(shell: Option<&str>, bash_available: bool) -> Result<Self, ShellError> {
        let shell = shell.map(str::trim).filter(|s| !s.is_empty());
        let (template, extension, kind) = match shell {
            None if bash_available => ("bash -e {0}", ".sh", Kind::Posix),
            None => ("sh -e {0}", ".sh", Kind::Posix),
            Some("bash") => (
                "bash --noprofile --norc -e -o pipefail {0}",
                ".sh",
                Kind::Posix,
            ),
            Some("sh") => ("sh -e {0}", ".sh", Kind::Posix),
            Some("python") => ("python {0}", ".py", Kind::Python),
            Some("pwsh") => ("pwsh -command \". '{0}'\"", ".ps1", Kind::Pwsh),
            Some(name @ ("cmd" | "powershell")) => {
                return Err(ShellError::Unsupported(name.to_owned()));
            }
            Some(custom) => {
                if !custom.contains("{0}") {
                    return Err(ShellError::MissingPlaceholder);
                }
                return Ok(Self {
                    template: custom.to_owned(),
                    extension: "",
                    kind: Kind::Custom,
                });
            }
        };
        Ok(Self {
            template: template.to_owned(),
            extension,
            kind,
        })
    }

    /// The program the template starts (`bash`), to check that it exists.
    pub fn program(&self) -> String {
        template_words(&self.template)
            .into_iter()
            .next()
            .unwrap_or_default()
    }

    /// The command line with the script path in place of `{0}`.
    pub fn argv(&self, script_path: &str) -> Vec<String> {
        template_words(&self.template)
            .into_iter()
            .map(|arg| arg.replace("{0}", script_path))
            .collect()
    }

    /// The script file contents for a `run:` body (pwsh gets the runner's prologue/epilogue so
    /// a failing command fails the step).
    pub fn script(&self, run: &str) -> String {
        match self.kind {
            Kind::Pwsh => format!(
                "$ErrorActionPreference = 'stop'\n{run}\nif ((Test-Path -LiteralPath variable:\\LASTEXITCODE)) {{ exit $LASTEXITCODE }}"
            ),
            Kind::Posix | Kind::Python | Kind::Custom => run.to_owned(),
        }
    }
}

/// The words of a shell template as a POSIX shell reads them (the runner hands the template to
/// the process starter, which groups quoted words). A template with an unbalanced quote is one
/// word per whitespace-separated piece rather than an error: GitHub accepts it too.
fn template_words(line: &str) -> Vec<String> {
    shlex::split(line).unwrap_or_else(|| line.split_whitespace().map(str::to_owned).collect())
}

/// Picks the first value set, most specific first (step, job defaults, workflow defaults).
pub fn most_specific<'a>(levels: &[Option<&'a str>]) -> Option<&'a str> {
    levels.iter().flatten().next().copied()
}

/// The directory a step runs in: `working-directory` resolved against the workspace.
pub fn working_directory(workspace: &str, configured: Option<&str>) -> String {
    match configured.map(str::trim).filter(|d| !d.is_empty()) {
        None => workspace.to_owned(),
        Some(dir) if dir.starts_with('/') => dir.to_owned(),
        Some(dir) => format!(
            "{}/{}",
            workspace.trim_end_matches('/'),
            dir.trim_start_matches("./")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_templates() {
        let bash = ShellTemplate::resolve(Some("bash"), true).unwrap();
        assert_eq!(
            bash.argv("/t/s.sh"),
            [
                "bash",
                "--noprofile",
                "--norc",
                "-e",
                "-o",
                "pipefail",
                "/t/s.sh"
            ]
        );
        assert_eq!(bash.extension, ".sh");
        assert_eq!(
            ShellTemplate::resolve(None, true).unwrap().argv("x"),
            ["bash", "-e", "x"]
        );
        assert_eq!(
            ShellTemplate::resolve(None, false).unwrap().argv("x"),
            ["sh", "-e", "x"]
        );
        assert_eq!(
            ShellTemplate::resolve(Some("python"), true)
                .unwrap()
                .extension,
            ".py"
        );
        assert_eq!(
            ShellTemplate::resolve(Some("pwsh"), true)
                .unwrap()
                .argv("/a.ps1"),
            ["pwsh", "-command", ". '/a.ps1'"]
        );
    }

    #[test]
    fn custom_templates() {
        let perl = ShellTemplate::resolve(Some("perl -w {0}"), true).unwrap();
        assert_eq!(perl.argv("/s"), ["perl", "-w", "/s"]);
        assert_eq!(perl.program(), "perl");
        assert_eq!(perl.extension, "");
        assert_eq!(
            ShellTemplate::resolve(Some("fish"), true),
            Err(ShellError::MissingPlaceholder)
        );
    }

    #[test]
    fn defaults_chain_and_directories() {
        assert_eq!(most_specific(&[None, Some("sh"), Some("bash")]), Some("sh"));
        assert_eq!(most_specific(&[None, None]), None);
        assert_eq!(working_directory("/w", None), "/w");
        assert_eq!(working_directory("/w", Some("./sub/dir")), "/w/sub/dir");
        assert_eq!(working_directory("/w", Some("/abs")), "/abs");
    }
}
