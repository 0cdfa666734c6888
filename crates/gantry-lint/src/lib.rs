//! `gantry validate`'s linter: the mistakes GitHub only shows at run time, or never, on top of
//! what gantry-workflow's reader reports. Rules are listed in [`rules::RULES`]; each finding is
//! a [`gantry_workflow::Diagnostic`] with the rule's name, so the CLI renders them like the
//! reader's.
//!
//! Linting a file is in-process and pure except for reading local actions' metadata
//! ([`Linter::lint`]); the external tools (shellcheck, Python) run once over the scripts of
//! every file ([`Linter::run_tools`]), so a whole repository costs a few processes.
//! [`Linter::filter`] applies the configuration and `# gantry-ignore:` comments last.

mod actions;
pub mod config;
mod expr;
mod hygiene;
mod injection;
mod report;
pub mod rules;
mod shell;
mod source;
mod walk;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;

use gantry_workflow::{Diagnostic, StepKind, Workflow};

pub use actions::ActionSource;
pub use config::{Config, ConfigError};
pub use shell::{Outcome as ToolOutcome, Script};

use actions::{Catalog, Lookup};
use expr::scope::{Scope, Statics};
use report::Report;
use source::SourceMap;
use walk::{Place, Site};

#[derive(Debug, thiserror::Error)]
pub enum LintError {
    #[error(transparent)]
    Table(#[from] actions::TableError),
}

/// One workflow file to lint.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The path as shown (for per-file configuration).
    pub path: &'a str,
    /// The file's text, which the workflow's spans point into.
    pub source: &'a str,
    /// The repository root that `uses: ./...` is relative to, when known.
    pub root: Option<&'a Path>,
}

/// The rules with their configuration and shared tables; share one across threads.
#[derive(Debug)]
pub struct Linter {
    config: Config,
    statics: Statics,
    catalog: Catalog,
    patterns: hygiene::Patterns,
}

impl Linter {
    pub fn new(config: Config) -> Result<Linter, LintError> {
        Ok(Linter {
            config,
            statics: Statics::default(),
            catalog: Catalog::new()?,
            patterns: hygiene::Patterns::default(),
        })
    }

    /// Reads remote actions' metadata from `source` (gantry's action store) before the
    /// built-in table.
    pub fn with_actions(mut self, source: Box<dyn ActionSource>) -> Self {
        self.catalog.set_source(source);
        self
    }

    /// Every in-process rule over one workflow, and the scripts it has for the tools (tagged
    /// with `file`, the caller's index for this file).
    pub fn lint(
        &self,
        input: &Input<'_>,
        workflow: &Workflow,
        file: usize,
    ) -> (Vec<Diagnostic>, Vec<Script>) {
        let source = SourceMap::new(input.source);
        let mut report = Report::new(&source);
        // One lookup per distinct `uses:` of the file: `steps` types ask again at every site.
        let looked_up: RefCell<HashMap<String, Lookup>> = RefCell::new(HashMap::new());
        let lookup = |uses: &str| {
            if let Some(found) = looked_up.borrow().get(uses) {
                return found.clone();
            }
            let found = self.catalog.lookup(uses, input.root);
            looked_up
                .borrow_mut()
                .insert(uses.to_owned(), found.clone());
            found
        };
        let step_outputs = |uses: &str| match lookup(uses) {
            Lookup::Found(meta) => Some((meta.name.clone(), meta.outputs.clone()?)),
            _ => None,
        };
        for site in walk::all_sites(workflow) {
            self.site(workflow, &site, &step_outputs, &mut report);
        }
        for job in workflow.jobs.values() {
            hygiene::runner_labels(job, &self.config.runner_labels, &mut report);
            hygiene::credentials(job, &mut report);
            for step in &job.steps {
                if let StepKind::Uses { uses, .. } = &step.kind {
                    actions::check_step(step, &lookup(&uses.value), &mut report);
                }
            }
        }
        hygiene::filters(workflow, &mut report);
        hygiene::duplicate_names(workflow, &mut report);
        let scripts = if self.wants_tools() {
            shell::collect(file, workflow, &source)
        } else {
            Vec::new()
        };
        (report.diagnostics, scripts)
    }

    fn site(
        &self,
        workflow: &Workflow,
        site: &Site<'_>,
        step_outputs: &expr::scope::StepOutputs<'_>,
        report: &mut Report,
    ) {
        let exprs = expr::expressions(site);
        if site.place == Place::Run {
            let allowed = hygiene::unsecure_allowed(workflow, site.job, site.step);
            hygiene::deprecated_commands(site, &self.patterns, allowed, report);
        }
        if exprs.is_empty() {
            return;
        }
        let scope = Scope::new(workflow, site.job, site.step, &self.statics, step_outputs);
        expr::check_site(site, &exprs, &scope, report);
        if site.place == Place::Run || is_github_script(site) {
            injection::check(site, &exprs, report);
        }
    }

    fn wants_tools(&self) -> bool {
        !self.config.globally_disabled(rules::SHELLCHECK)
            || !self.config.globally_disabled(rules::PYTHON_SYNTAX)
    }

    /// Runs shellcheck and Python over the scripts of every file, `jobs` processes at once.
    pub fn run_tools(&self, scripts: &[Script], jobs: usize) -> ToolOutcome {
        shell::run(
            scripts,
            !self.config.globally_disabled(rules::SHELLCHECK),
            !self.config.globally_disabled(rules::PYTHON_SYNTAX),
            jobs,
        )
    }

    /// Drops what the configuration turns off for `path` and what `# gantry-ignore:` comments
    /// in `source` silence.
    pub fn filter(&self, path: &str, source: &str, diagnostics: &mut Vec<Diagnostic>) {
        let ignores = config::Ignores::scan(source);
        diagnostics.retain(|d| {
            self.config.enabled(d.rule, path) && !ignores.ignored(d.rule, d.span.start.line)
        });
    }
}

/// `actions/github-script`'s `script:` input is JavaScript that runs with the token.
fn is_github_script(site: &Site<'_>) -> bool {
    let Place::With(name) = site.place else {
        return false;
    };
    if !name.eq_ignore_ascii_case("script") {
        return false;
    }
    let uses = site
        .job
        .zip(site.step)
        .and_then(|(job, s)| job.steps.get(s))
        .and_then(|step| match &step.kind {
            StepKind::Uses { uses, .. } => Some(uses.value.to_ascii_lowercase()),
            StepKind::Run { .. } => None,
        });
    uses.is_some_and(|u| u.starts_with("actions/github-script@"))
}

/// The repository root for a workflow at `path`: the directory holding `.github/workflows`.
pub fn repository_root(path: &Path) -> Option<&Path> {
    let workflows = path.parent()?;
    let github = workflows.parent()?;
    (workflows.file_name()? == "workflows" && github.file_name()? == ".github")
        .then(|| github.parent())
        .flatten()
}
