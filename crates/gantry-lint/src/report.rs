//! Collects a file's findings, turning offsets inside values into source spans.

use gantry_workflow::{Diagnostic, Severity, Span};

use crate::source::SourceMap;
use crate::walk::Site;

pub struct Report<'a> {
    source: &'a SourceMap<'a>,
    pub diagnostics: Vec<Diagnostic>,
}

impl<'a> Report<'a> {
    pub fn new(source: &'a SourceMap<'a>) -> Self {
        Report {
            source,
            diagnostics: Vec::new(),
        }
    }

    pub fn source(&self) -> &'a SourceMap<'a> {
        self.source
    }

    /// A finding at bytes `start..end` of the value of `site`.
    pub fn at_value(
        &mut self,
        site: &Site<'_>,
        start: usize,
        end: usize,
        rule: &'static str,
        severity: Severity,
        message: String,
    ) {
        let map = self.source.scalar(site.text, site.span);
        let from = map.offset(start);
        let to = map.offset(end).max(from);
        let span = self.source.span(from, to);
        self.at(span, rule, severity, message);
    }

    pub fn at(&mut self, span: Span, rule: &'static str, severity: Severity, message: String) {
        self.diagnostics.push(Diagnostic {
            severity,
            span,
            message,
            rule,
        });
    }
}
