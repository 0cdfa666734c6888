//! Writing to the terminal: the only module that touches stdout and stderr.

use std::io::Write;

use annotate_snippets::renderer::{AnsiColor, Effects, Style};

use crate::error::CliError;

/// Writes a rendered report to stdout.
pub fn print(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Writes raw terminal bytes (an interactive shell's screen) to stdout as they come.
pub fn raw(bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    let mut out = std::io::stdout().lock();
    // A closed terminal ends the shell through its input; nothing to report here.
    let _ = out.write_all(bytes).and_then(|()| out.flush());
}

/// Writes a note for the user (not the command's result) to stderr.
pub fn note(text: &str) {
    // If stderr is gone there is no one left to tell.
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Reports an error that stopped the command.
pub fn report_error(err: &CliError, paint: Paint) {
    note(&format!("{}: {err}\n", paint.error("error")));
}

/// Adds ANSI styles to fragments of text when color is on.
#[derive(Debug, Clone, Copy)]
pub struct Paint {
    pub enabled: bool,
}

impl Paint {
    pub fn error(self, text: &str) -> String {
        self.style(
            AnsiColor::BrightRed.on_default().effects(Effects::BOLD),
            text,
        )
    }

    pub fn warning(self, text: &str) -> String {
        self.style(
            AnsiColor::BrightYellow.on_default().effects(Effects::BOLD),
            text,
        )
    }

    pub fn bold(self, text: &str) -> String {
        self.style(Style::new().effects(Effects::BOLD), text)
    }

    pub fn dim(self, text: &str) -> String {
        self.style(Style::new().effects(Effects::DIMMED), text)
    }

    fn style(self, style: Style, text: &str) -> String {
        if self.enabled {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }
}
