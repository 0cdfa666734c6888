//! Rendering results as text for people and as JSON/SARIF for tools. Renderers return strings;
//! only [`crate::output`] writes them.

pub mod explain;
pub mod json;
pub mod run;
pub mod run_json;
pub mod run_plan;
pub mod sarif;
pub mod snippet;
pub mod text;

use crate::discover::SourceFile;
use crate::engine::{Diagnostic, Severity};

/// One file and what validating it found.
#[derive(Debug, Clone)]
pub struct Checked {
    pub file: SourceFile,
    pub diagnostics: Vec<Diagnostic>,
}

/// Totals over every file checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub files: usize,
    pub errors: usize,
    pub warnings: usize,
}

impl Summary {
    pub fn of(checked: &[Checked]) -> Summary {
        let all = || checked.iter().flat_map(|c| &c.diagnostics);
        Summary {
            files: checked.len(),
            errors: all().filter(|d| d.severity == Severity::Error).count(),
            warnings: all().filter(|d| d.severity == Severity::Warning).count(),
        }
    }
}

pub fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// `1 error`, `2 errors`.
pub fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
