//! Rules over `${{ }}` expressions: contexts and their shapes (`expr-context`), types of
//! operands and arguments (`expr-type`), fixed results (`expr-constant`), `if:` strings that are
//! always true (`if-always-true`) and `env.X` that nothing defines (`env-undefined`).
//!
//! The reader (gantry-workflow) has already checked that each expression parses and names only
//! the contexts allowed at its key, so expressions are parsed permissively here and those that
//! do not parse are left to its diagnostics.

mod check;
pub mod contexts;
pub mod scope;
pub mod types;

use gantry_expr::{Expr, ParseOptions, PathPart, Segment, parse, parse_template_all};
use gantry_workflow::{Job, Severity, StepKind, Workflow};

use crate::report::Report;
use crate::rules::{ENV_UNDEFINED, IF_ALWAYS_TRUE};
use crate::walk::{Place, Site};
use check::Checker;
use scope::Scope;

/// One expression of a site and the byte offset of its text in the site's value.
pub struct SiteExpr {
    pub expr: Expr,
    pub offset: usize,
}

/// The expressions of a site. An `if:` without `${{ }}` is one expression.
pub fn expressions(site: &Site<'_>) -> Vec<SiteExpr> {
    let options = ParseOptions::permissive();
    if !site.text.contains("${{") {
        if site.place != Place::If {
            return Vec::new();
        }
        let trimmed = site.text.trim_start();
        let offset = site.text.len() - trimmed.len();
        let trimmed = trimmed.trim_end();
        if trimmed.is_empty() {
            return Vec::new();
        }
        return parse(trimmed, &options)
            .map(|expr| vec![SiteExpr { expr, offset }])
            .unwrap_or_default();
    }
    let Ok(template) = parse_template_all(site.text, &options) else {
        return Vec::new();
    };
    template
        .segments()
        .iter()
        .filter_map(|segment| match segment {
            Segment::Expression {
                expr, expr_offset, ..
            } => Some(SiteExpr {
                expr: expr.clone(),
                offset: *expr_offset,
            }),
            Segment::Literal { .. } => None,
        })
        .collect()
}

/// Checks every expression of `site` against the contexts in force there.
pub fn check_site(site: &Site<'_>, exprs: &[SiteExpr], scope: &Scope<'_>, report: &mut Report) {
    if site.place == Place::If {
        always_true(site, report);
    }
    for e in exprs {
        let mut checker = Checker::new(scope, e.expr.source(), site.place == Place::If);
        checker.check(e.expr.root());
        for f in checker.findings {
            report.at_value(
                site,
                e.offset + f.start,
                e.offset + f.end,
                f.rule,
                f.severity,
                f.message,
            );
        }
        // `if: env.X == ''` asks whether X is set: that is no mistake.
        if site.place != Place::If {
            env_references(site, e, scope, report);
        }
    }
}

/// `if: ${{ a }} && ${{ b }}` or `if: x ${{ y }}`: text outside the braces makes the whole value
/// a string, and a non-empty string is true, whatever the expressions say.
fn always_true(site: &Site<'_>, report: &mut Report) {
    let trimmed = site.text.trim();
    if !trimmed.contains("${{") {
        return;
    }
    let Ok(template) = parse_template_all(trimmed, &ParseOptions::permissive()) else {
        return;
    };
    let segments = template.segments();
    let lone = matches!(
        segments,
        [Segment::Expression { .. }] | [Segment::Literal { .. }]
    );
    if lone {
        return;
    }
    let message = "this condition has text outside `${{ }}`, so GitHub reads it as a string, \
                   which is always true; put the whole condition inside one `${{ }}` or drop \
                   the braces"
        .to_owned();
    let start = site.text.len() - site.text.trim_start().len();
    report.at_value(
        site,
        start,
        start + trimmed.len(),
        IF_ALWAYS_TRUE,
        Severity::Warning,
        message,
    );
}

/// `env.NAME` where no `env:` in scope defines NAME and no earlier step could have exported it.
fn env_references(site: &Site<'_>, e: &SiteExpr, scope: &Scope<'_>, report: &mut Report) {
    for reference in e.expr.references() {
        if !reference.name.eq_ignore_ascii_case("env") {
            continue;
        }
        let Some(PathPart::Key(name)) = reference.path.first() else {
            continue;
        };
        if defined_env(scope.workflow, site.job, site.step, name) {
            continue;
        }
        let message = format!(
            "no `env:` in scope defines `{name}`, and no earlier step can have exported it, so \
             `env.{name}` is empty; define it under `env:` of the workflow, job or step"
        );
        report.at_value(
            site,
            e.offset + reference.span.start,
            e.offset + reference.span.end,
            ENV_UNDEFINED,
            Severity::Warning,
            message,
        );
    }
}

fn defined_env(workflow: &Workflow, job: Option<&Job>, step: Option<usize>, name: &str) -> bool {
    let has = |env: &gantry_workflow::Env| env.keys().any(|k| k.eq_ignore_ascii_case(name));
    if has(&workflow.env) {
        return true;
    }
    let Some(job) = job else {
        // Workflow-level keys see only the workflow's env.
        return false;
    };
    if has(&job.env) || job.container.iter().any(|c| has(&c.value.env)) {
        return true;
    }
    let before = step.unwrap_or(job.steps.len()).min(job.steps.len());
    if step.is_some_and(|s| job.steps.get(s).is_some_and(|s| has(&s.env))) {
        return true;
    }
    // Steps before may export variables: actions through their toolkit, scripts through
    // `$GITHUB_ENV`. A job-level key (`step == None`) may follow any step.
    job.steps[..before].iter().any(|s| match &s.kind {
        StepKind::Uses { .. } => true,
        StepKind::Run { run, .. } => {
            run.value.contains("GITHUB_ENV") || run.value.contains("set-env")
        }
    })
}
