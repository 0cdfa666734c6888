//! Action metadata for `uses:` steps: local actions read from the repository, and a built-in
//! table (`data/actions.json`) of the most used public actions' inputs, outputs and runtimes.
//! Rules: `action-input`, `action-output` (through the `steps` context), `action-outdated`,
//! `action-metadata`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gantry_workflow::uses::parse_uses;
use gantry_workflow::{ActionRuns, Severity, Step, StepKind, UsesRef};
use serde::Deserialize;

use crate::report::Report;
use crate::rules::{ACTION_INPUT, ACTION_METADATA, ACTION_OUTDATED};

const TABLE: &str = include_str!("../data/actions.json");

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct TableEntry {
    inputs: Vec<String>,
    legacy: Vec<String>,
    outputs: Vec<String>,
    node: Vec<String>,
    checked_from: u32,
    /// The action sets outputs its script chooses (`core.setOutput` in github-script).
    #[serde(default)]
    open_outputs: bool,
}

/// What is known about the action one `uses:` names.
#[derive(Debug, Clone)]
pub struct ActionMeta {
    /// As shown in messages: `actions/checkout@v4`, `./.github/actions/build`.
    pub name: String,
    /// (name, required without a default).
    pub inputs: Vec<(String, bool)>,
    /// `None`: any output name may be set.
    pub outputs: Option<Vec<String>>,
    /// `node12`, `node20`, `docker`, `composite`.
    pub runtime: Option<String>,
}

/// Why a local action has no metadata.
#[derive(Debug, Clone)]
pub enum Lookup {
    Found(Arc<ActionMeta>),
    /// `uses: ./dir` where `dir` has no action.yml.
    MissingLocal,
    Unknown,
}

/// Where the files of a remote action (`owner/repo[/path]@ref`) are on disk, when the caller
/// keeps them (gantry's action store): their action.yml is then read instead of the table.
pub trait ActionSource: Send + Sync {
    /// The directory holding the action's metadata file for this `uses:` value.
    fn dir(&self, uses: &str) -> Option<PathBuf>;
}

pub struct Catalog {
    table: HashMap<String, TableEntry>,
    source: Option<Box<dyn ActionSource>>,
    /// Local actions already read, by directory (several workflows use the same ones).
    local: Mutex<HashMap<PathBuf, Lookup>>,
}

#[derive(Debug, thiserror::Error)]
#[error("the built-in action table is invalid: {0}")]
pub struct TableError(#[from] serde_json::Error);

impl Catalog {
    pub fn new() -> Result<Catalog, TableError> {
        let mut raw: serde_json::Map<String, serde_json::Value> = serde_json::from_str(TABLE)?;
        raw.remove("_comment");
        let table = raw
            .into_iter()
            .map(|(k, v)| Ok((k.to_ascii_lowercase(), serde_json::from_value(v)?)))
            .collect::<Result<_, serde_json::Error>>()?;
        Ok(Catalog {
            table,
            source: None,
            local: Mutex::new(HashMap::new()),
        })
    }

    pub fn set_source(&mut self, source: Box<dyn ActionSource>) {
        self.source = Some(source);
    }

    /// The metadata of `uses`, reading local actions under `root` (the repository).
    pub fn lookup(&self, uses: &str, root: Option<&Path>) -> Lookup {
        match parse_uses(uses) {
            Ok(UsesRef::Local(path)) => match root {
                Some(root) => self.local(&root.join(path.trim_start_matches("./")), &path),
                None => Lookup::Unknown,
            },
            Ok(UsesRef::Repo {
                owner,
                repo,
                path,
                git_ref,
            }) => {
                let stored = self.source.as_ref().and_then(|s| s.dir(uses));
                match (stored, path) {
                    (Some(dir), _) => match self.local(&dir, uses) {
                        Lookup::MissingLocal => Lookup::Unknown,
                        found => found,
                    },
                    (None, None) => self.table_entry(&owner, &repo, &git_ref),
                    (None, Some(_)) => Lookup::Unknown,
                }
            }
            _ => Lookup::Unknown,
        }
    }

    fn table_entry(&self, owner: &str, repo: &str, git_ref: &str) -> Lookup {
        let key = format!("{owner}/{repo}").to_ascii_lowercase();
        let Some(entry) = self.table.get(&key) else {
            return Lookup::Unknown;
        };
        // A commit or a branch could be any version: nothing is certain about it.
        let Some(major) = major_version(git_ref) else {
            return Lookup::Unknown;
        };
        if major < entry.checked_from {
            return Lookup::Unknown;
        }
        let inputs = entry
            .inputs
            .iter()
            .map(|spec| match spec.split_once('!') {
                Some((name, "")) => (name.to_owned(), true),
                Some((name, from)) => {
                    (name.to_owned(), from.parse().is_ok_and(|f: u32| major >= f))
                }
                None => (spec.clone(), false),
            })
            .chain(entry.legacy.iter().map(|n| (n.clone(), false)))
            .collect();
        let runtime = usize::try_from(major)
            .ok()
            .and_then(|m| m.checked_sub(1))
            .and_then(|i| entry.node.get(i))
            .cloned();
        Lookup::Found(Arc::new(ActionMeta {
            name: format!("{owner}/{repo}@{git_ref}"),
            inputs,
            outputs: (!entry.open_outputs).then(|| entry.outputs.clone()),
            runtime,
        }))
    }

    /// The action in `dir`, shown as `shown`; read once per directory.
    fn local(&self, dir: &Path, shown: &str) -> Lookup {
        let dir = dir.to_path_buf();
        let cached = self
            .local
            .lock()
            .ok()
            .and_then(|cache| cache.get(&dir).cloned());
        match cached {
            Some(lookup) => lookup,
            None => {
                let lookup = read_local(&dir, shown);
                if let Ok(mut cache) = self.local.lock() {
                    cache.insert(dir.clone(), lookup.clone());
                }
                lookup
            }
        }
    }
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog")
            .field("table", &self.table.len())
            .field("source", &self.source.is_some())
            .finish()
    }
}

/// `v4`, `v4.1.0`, `4` → 4.
fn major_version(git_ref: &str) -> Option<u32> {
    let digits = git_ref.strip_prefix('v').unwrap_or(git_ref);
    digits.split('.').next()?.parse().ok()
}

/// The metadata of the action in `dir`. A file over the 1 MiB limit (or unreadable) is not
/// read at all: nothing is known about that action (the runner reports it at run time).
fn read_local(dir: &Path, shown: &str) -> Lookup {
    let mut text = None;
    for name in ["action.yml", "action.yaml"] {
        match gantry_files::read_workflow(&dir.join(name)) {
            Ok(found) => {
                text = Some(found);
                break;
            }
            Err(e) if e.is_not_found() => {}
            Err(_) => return Lookup::Unknown,
        }
    }
    let Some(text) = text else {
        return Lookup::MissingLocal;
    };
    match parse_local(&text, shown) {
        Some(meta) => Lookup::Found(Arc::new(meta)),
        None => Lookup::MissingLocal,
    }
}

fn parse_local(text: &str, shown: &str) -> Option<ActionMeta> {
    let action = gantry_workflow::parse_action(shown, text).value?;
    let runtime = match &action.runs.value {
        ActionRuns::Node { using, .. } => using.value.clone(),
        ActionRuns::Docker { .. } => "docker".to_owned(),
        ActionRuns::Composite { .. } => "composite".to_owned(),
    };
    Some(ActionMeta {
        name: shown.to_owned(),
        inputs: action
            .inputs
            .iter()
            .map(|(name, input)| {
                (
                    name.clone(),
                    input.value.required && input.value.default.is_none(),
                )
            })
            .collect(),
        outputs: Some(action.outputs.keys().cloned().collect()),
        runtime: Some(runtime),
    })
}

/// The rules over one `uses:` step.
pub fn check_step(step: &Step, lookup: &Lookup, report: &mut Report) {
    let StepKind::Uses { uses, with } = &step.kind else {
        return;
    };
    let meta = match lookup {
        Lookup::Found(meta) => meta,
        Lookup::MissingLocal => {
            // The path as written: the directory it resolved to is this machine's, which
            // neither a snapshot nor another checkout shares.
            let message = format!(
                "there is no action.yml or action.yaml in `{}`, so GitHub fails this step \
                 unless an earlier step creates it; check the path",
                uses.value
            );
            report.at(uses.span, ACTION_METADATA, Severity::Warning, message);
            return;
        }
        Lookup::Unknown => return,
    };
    for (name, value) in with {
        if meta
            .inputs
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            continue;
        }
        let close = meta
            .inputs
            .iter()
            .map(|(n, _)| (strsim::levenshtein(n, name), n))
            .filter(|(d, _)| *d <= 2)
            .min()
            .map_or(String::new(), |(_, n)| format!(" (did you mean `{n}`?)"));
        let known: Vec<&str> = meta.inputs.iter().map(|(n, _)| n.as_str()).collect();
        let message = format!(
            "`{}` has no input `{name}`{close}, so GitHub ignores it; its inputs are: {}",
            meta.name,
            known.join(", ")
        );
        let span = key_span(report, name, value.span);
        report.at(span, ACTION_INPUT, Severity::Warning, message);
    }
    for (name, _) in meta.inputs.iter().filter(|(_, required)| *required) {
        if with.keys().any(|k| k.eq_ignore_ascii_case(name)) {
            continue;
        }
        let message = format!(
            "`{}` requires the input `{name}`; add it under `with:`",
            meta.name
        );
        report.at(uses.span, ACTION_INPUT, Severity::Error, message);
    }
    if let Some(runtime @ ("node12" | "node16")) = meta.runtime.as_deref() {
        let message = format!(
            "`{}` runs on {runtime}, which GitHub no longer supports (it forces a newer Node.js \
             that the action may not work with); use a newer version of the action",
            meta.name
        );
        report.at(uses.span, ACTION_OUTDATED, Severity::Warning, message);
    }
}

/// `with:` keys have no span of their own in the model: the key is the last occurrence of its
/// name before its value (on the same line or the one before, for block values).
fn key_span(report: &Report, name: &str, value: gantry_workflow::Span) -> gantry_workflow::Span {
    let source = report.source();
    let before = &source.text()[..value.start.offset.min(source.text().len())];
    match before.rfind(name) {
        Some(at) if value.start.offset - at < 4096 => source.span(at, at + name.len()),
        _ => value,
    }
}
