//! Stores a run under `.gantry/runs/<n>/`: one log file per step (`jobs/<job>/<step>.log`,
//! job-level lines in `jobs/<job>/job.log`), `summary.md` (all step summaries),
//! `annotations.json`, `events.jsonl` (every event, for `gantry logs --json`) and
//! `result.json`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::event::{RunEvent, RunResult, StepRef};

/// Picks the next free `<root>/<n>` (1, 2, ...) and creates it.
pub fn next_run_dir(root: &Path) -> io::Result<PathBuf> {
    fs::create_dir_all(root)?;
    let mut highest = 0u64;
    for entry in fs::read_dir(root)? {
        if let Some(n) = entry?
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u64>().ok())
        {
            highest = highest.max(n);
        }
    }
    let dir = root.join((highest + 1).to_string());
    fs::create_dir(&dir)?;
    Ok(dir)
}

/// Writes events as they arrive. Every string in an event is already masked.
#[derive(Debug)]
pub struct LogWriter {
    dir: PathBuf,
    events: File,
}

impl LogWriter {
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        let events = File::create(dir.join("events.jsonl"))?;
        Ok(Self { dir, events })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn handle(&mut self, event: &RunEvent) -> io::Result<()> {
        serde_json::to_writer(&mut self.events, event)?;
        self.events.write_all(b"\n")?;
        match event {
            RunEvent::Log {
                job, step, line, ..
            } => self.append(job, step.as_ref(), line),
            RunEvent::GroupStarted { job, step, title } => {
                self.append(job, step.as_ref(), &format!("##[group]{title}"))
            }
            RunEvent::GroupEnded { job, step } => self.append(job, step.as_ref(), "##[endgroup]"),
            RunEvent::Annotation {
                job,
                step,
                annotation,
            } => {
                let level = serde_json::to_value(annotation.level)?;
                let level = level.as_str().unwrap_or("error").to_owned();
                self.append(
                    job,
                    step.as_ref(),
                    &format!("##[{level}]{}", annotation.message),
                )
            }
            RunEvent::StepSummary { markdown, .. } => {
                let mut f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.join("summary.md"))?;
                writeln!(f, "{markdown}")
            }
            _ => Ok(()),
        }
    }

    /// Writes `result.json` and `annotations.json` at the end of the run.
    pub fn finish(&mut self, result: &RunResult) -> io::Result<()> {
        self.events.flush()?;
        fs::write(
            self.dir.join("result.json"),
            serde_json::to_vec_pretty(result)?,
        )?;
        fs::write(
            self.dir.join("annotations.json"),
            serde_json::to_vec_pretty(&result.annotations)?,
        )?;
        Ok(())
    }

    fn append(&self, job: &str, step: Option<&StepRef>, line: &str) -> io::Result<()> {
        let dir = self.dir.join("jobs").join(file_name(job));
        fs::create_dir_all(&dir)?;
        let file = match step {
            Some(s) => format!("{}-{}.log", s.path, file_name(&s.name)),
            None => "job.log".to_owned(),
        };
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(file))?;
        writeln!(f, "{line}")
    }
}

/// A file-name-safe form of a job key or step name (at most 60 characters).
fn file_name(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    cleaned.trim_matches('.').to_owned()
}
