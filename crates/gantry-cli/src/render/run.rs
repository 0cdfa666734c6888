//! `gantry run`'s live text output, one line per event, every line prefixed with its job:
//!
//! ```text
//! ▶ .github/workflows/ci.yml (CI) on push, run 3
//! [build] job build started
//! [build] ▶ Run npm test
//! [build]   ▸ Test suites
//! [build]   1 passing
//! [build] ✓ Run npm test (1.2s)
//! [build] job build succeeded (1.9s)
//!
//! JOB    RESULT   DURATION
//! build  success  1.9s
//!
//! Run succeeded in 2.0s; logs in .gantry/runs/3
//! ```
//!
//! Groups are folded as GitHub's log view folds them: a `::group::` shows as one `▸ title`
//! line and the lines inside it are hidden, unless `--verbose` shows them indented under it.
//! The `Run ...` group the runner opens for each `run:` step (its script, shell and env) is
//! the step's own header, so it is not repeated. Everything is in `.gantry/runs/<n>/` either
//! way. Annotations are shown where they happen and listed again at the end.

use std::collections::HashMap;

use crate::engine::{
    Annotation, AnnotationLevel, Conclusion, LogStream, RunEvent, RunResult, StepRef, Workflow,
    WorkflowPlan,
};
use crate::output::Paint;

/// A workflow about to run (or shown by `--dry-run`).
pub struct PlannedWorkflow<'a> {
    pub path: &'a str,
    pub workflow: &'a Workflow,
    pub plan: &'a WorkflowPlan,
}

/// Renders one run's events; holds which groups are open per job.
pub struct TextRun {
    paint: Paint,
    verbose: bool,
    jobs: HashMap<String, JobState>,
    annotations: Vec<(String, Annotation)>,
}

#[derive(Default)]
struct JobState {
    /// Open groups, innermost last; `true` for one whose header was shown.
    groups: Vec<bool>,
    /// Nothing of the current step has been seen yet: a `Run ...` group now is the runner's
    /// header of a `run:` step (its script, shell and env).
    fresh_step: bool,
    /// The current step's start line, shown only once the step shows something: a step
    /// without output is one line when it ends, a skipped one only `- name (skipped)`.
    pending_start: Option<String>,
}

impl TextRun {
    pub fn new(paint: Paint, verbose: bool) -> Self {
        Self {
            paint,
            verbose,
            jobs: HashMap::new(),
            annotations: Vec::new(),
        }
    }

    /// The line before a workflow's first event.
    pub fn header(&self, path: &str, name: Option<&str>, event: &str, number: u64) -> String {
        let title = match name {
            Some(name) => format!("{path} ({name})"),
            None => path.to_owned(),
        };
        format!(
            "{} {title} on {event}, run {number}\n",
            self.paint.bold("▶")
        )
    }

    /// The text for one event (empty when the event shows nothing).
    pub fn event(&mut self, event: &RunEvent) -> String {
        match event {
            RunEvent::JobStarted { job, name, .. } => {
                self.jobs.insert(job.clone(), JobState::default());
                self.line(job, &format!("job {name} started"))
            }
            RunEvent::StepStarted { job, step } => {
                let state = self.jobs.entry(job.clone()).or_default();
                state.fresh_step = true;
                state.groups.clear();
                state.pending_start = Some(format!("{} {}", self.paint.bold("▶"), step.name));
                String::new()
            }
            RunEvent::Log {
                job, stream, line, ..
            } => self.log(job, *stream, line),
            RunEvent::GroupStarted { job, step, title } => self.group(job, step.as_ref(), title),
            RunEvent::GroupEnded { job, .. } => {
                self.jobs.entry(job.clone()).or_default().groups.pop();
                String::new()
            }
            RunEvent::Annotation {
                job, annotation, ..
            } => {
                if let Some(state) = self.jobs.get_mut(job) {
                    state.fresh_step = false;
                }
                self.annotations.push((job.clone(), annotation.clone()));
                let text = format!("  {}", self.annotation(annotation));
                self.line(job, &text)
            }
            RunEvent::StepFinished {
                job,
                step,
                outcome,
                conclusion,
                duration_ms,
            } => self.step_finished(job, step, *outcome, *conclusion, *duration_ms),
            RunEvent::JobFinished {
                job,
                name,
                outcome,
                conclusion,
                duration_ms,
                ..
            } => {
                self.jobs.remove(job);
                let result = self.result_word(*outcome, *conclusion);
                let time = match conclusion {
                    Conclusion::Skipped => String::new(),
                    _ => format!(" ({})", duration(*duration_ms)),
                };
                self.line(job, &format!("job {name} {result}{time}"))
            }
            RunEvent::RunStarted { .. }
            | RunEvent::StepSummary { .. }
            | RunEvent::RunFinished { .. } => String::new(),
        }
    }

    fn log(&mut self, job: &str, stream: LogStream, line: &str) -> String {
        let state = self.jobs.entry(job.to_owned()).or_default();
        state.fresh_step = false;
        let depth = state.groups.len();
        if depth > 0 && !self.verbose {
            return String::new();
        }
        let text = match stream {
            LogStream::Debug => format!("##[debug]{line}"),
            _ => line.to_owned(),
        };
        self.line(job, &format!("{}{text}", "  ".repeat(depth + 1)))
    }

    fn group(&mut self, job: &str, step: Option<&StepRef>, title: &str) -> String {
        let verbose = self.verbose;
        let state = self.jobs.entry(job.to_owned()).or_default();
        let depth = state.groups.len();
        let header =
            step.is_some() && std::mem::take(&mut state.fresh_step) && title.starts_with("Run ");
        // Inside a hidden group nothing shows; the step's start line already stands for its
        // `Run` header.
        let shown = verbose || (depth == 0 && !header);
        state.groups.push(shown);
        if !shown {
            return String::new();
        }
        let indent = "  ".repeat(depth + 1);
        self.line(job, &format!("{indent}▸ {title}"))
    }

    fn step_finished(
        &mut self,
        job: &str,
        step: &StepRef,
        outcome: Conclusion,
        conclusion: Conclusion,
        duration_ms: u64,
    ) -> String {
        if let Some(state) = self.jobs.get_mut(job) {
            state.groups.clear();
            state.fresh_step = false;
            state.pending_start = None;
        }
        let mark = match outcome {
            Conclusion::Success => self.paint.bold("✓"),
            Conclusion::Failure => self.paint.error("✗"),
            Conclusion::Cancelled => self.paint.warning("⊘"),
            Conclusion::Skipped => "-".to_owned(),
        };
        let text = match outcome {
            Conclusion::Skipped => format!("{mark} {} (skipped)", step.name),
            Conclusion::Success => format!("{mark} {} ({})", step.name, duration(duration_ms)),
            _ => format!(
                "{mark} {} ({}): {}",
                step.name,
                duration(duration_ms),
                self.result_word(outcome, conclusion)
            ),
        };
        self.line(job, &text)
    }

    /// `succeeded`, `failed`, `failed (continue-on-error)`, `skipped`, `cancelled`.
    fn result_word(&self, outcome: Conclusion, conclusion: Conclusion) -> String {
        let word = match outcome {
            Conclusion::Success => "succeeded",
            Conclusion::Failure => "failed",
            Conclusion::Cancelled => "cancelled",
            Conclusion::Skipped => "skipped",
        };
        let word = match outcome {
            Conclusion::Failure => self.paint.error(word),
            Conclusion::Cancelled => self.paint.warning(word),
            _ => word.to_owned(),
        };
        if outcome != conclusion && outcome == Conclusion::Failure {
            format!("{word} (continue-on-error)")
        } else {
            word
        }
    }

    fn annotation(&self, a: &Annotation) -> String {
        let level = match a.level {
            AnnotationLevel::Error => self.paint.error("error"),
            AnnotationLevel::Warning => self.paint.warning("warning"),
            AnnotationLevel::Notice => self.paint.bold("notice"),
        };
        let title = a.title.as_ref().map_or(String::new(), |t| format!("{t}: "));
        format!("{level}: {title}{}{}", a.message, location(a))
    }

    /// One line of a job, after the start line of its step if that is still pending.
    fn line(&mut self, job: &str, text: &str) -> String {
        let prefix = self.paint.dim(&format!("[{job}]"));
        let pending = self.jobs.get_mut(job).and_then(|s| s.pending_start.take());
        match pending {
            Some(start) => format!("{prefix} {start}\n{prefix} {text}\n"),
            None => format!("{prefix} {text}\n"),
        }
    }

    /// The table of jobs, the annotations again, and where the logs are.
    pub fn summary(&self, result: &RunResult, run_dir: &str) -> String {
        let mut rows = vec![["JOB", "RESULT", "DURATION"].map(str::to_owned)];
        for job in &result.jobs {
            let time = match job.conclusion {
                Conclusion::Skipped => "-".to_owned(),
                _ => duration(job.duration_ms),
            };
            rows.push([job.job.clone(), job.conclusion.as_str().to_owned(), time]);
        }
        let mut out = format!("\n{}", table(&rows));
        if !self.annotations.is_empty() {
            out.push_str("\nAnnotations:\n");
            for (job, a) in &self.annotations {
                out.push_str(&format!("  [{job}] {}\n", self.annotation(a)));
            }
        }
        let word = match result.conclusion {
            Conclusion::Success | Conclusion::Skipped => "succeeded".to_owned(),
            Conclusion::Failure => self.paint.error("failed"),
            Conclusion::Cancelled => self.paint.warning("was cancelled"),
        };
        out.push_str(&format!(
            "\nRun {word} in {}; logs in {run_dir}\n",
            duration(result.duration_ms)
        ));
        out
    }
}

/// ` (file:line:col)` when the annotation points somewhere.
fn location(a: &Annotation) -> String {
    let Some(file) = &a.file else {
        return String::new();
    };
    match (a.line, a.col) {
        (Some(line), Some(col)) => format!(" ({file}:{line}:{col})"),
        (Some(line), None) => format!(" ({file}:{line})"),
        _ => format!(" ({file})"),
    }
}

/// `850ms`, `1.2s`, `2m05s`.
pub fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{}.{}s", ms / 1000, ms % 1000 / 100)
    } else {
        format!("{}m{:02}s", ms / 60_000, ms % 60_000 / 1000)
    }
}

/// Left-aligned columns two spaces apart, no trailing spaces.
pub fn table(rows: &[[String; 3]]) -> String {
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let widths = [width(0), width(1)];
    rows.iter()
        .map(|r| {
            format!(
                "{:w0$}  {:w1$}  {}\n",
                r[0],
                r[1],
                r[2],
                w0 = widths[0],
                w1 = widths[1]
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_runner::JobSummary;

    fn step(path: &str, name: &str) -> StepRef {
        StepRef {
            path: path.into(),
            name: name.into(),
        }
    }

    fn log(job: &str, line: &str) -> RunEvent {
        RunEvent::Log {
            job: job.into(),
            step: Some(step("0", "Run make")),
            stream: LogStream::Stdout,
            line: line.into(),
        }
    }

    fn events() -> Vec<RunEvent> {
        let s = step("0", "Run make");
        vec![
            RunEvent::JobStarted {
                job: "build".into(),
                job_id: "build".into(),
                name: "build".into(),
                matrix: None,
            },
            RunEvent::StepStarted {
                job: "build".into(),
                step: s.clone(),
            },
            RunEvent::GroupStarted {
                job: "build".into(),
                step: Some(s.clone()),
                title: "Run make".into(),
            },
            log("build", "make"),
            RunEvent::GroupEnded {
                job: "build".into(),
                step: Some(s.clone()),
            },
            log("build", "compiling"),
            RunEvent::GroupStarted {
                job: "build".into(),
                step: Some(s.clone()),
                title: "Details".into(),
            },
            log("build", "inside"),
            RunEvent::GroupEnded {
                job: "build".into(),
                step: Some(s.clone()),
            },
            RunEvent::Annotation {
                job: "build".into(),
                step: Some(s.clone()),
                annotation: Annotation {
                    file: Some("src/a.c".into()),
                    line: Some(3),
                    ..Annotation::plain(AnnotationLevel::Warning, "unused x")
                },
            },
            RunEvent::StepFinished {
                job: "build".into(),
                step: s.clone(),
                outcome: Conclusion::Failure,
                conclusion: Conclusion::Success,
                duration_ms: 1234,
            },
            RunEvent::JobFinished {
                job: "build".into(),
                job_id: "build".into(),
                name: "build".into(),
                outcome: Conclusion::Success,
                conclusion: Conclusion::Success,
                duration_ms: 61_000,
                outputs: serde_json::Map::new(),
            },
        ]
    }

    fn render(verbose: bool) -> String {
        let mut r = TextRun::new(Paint { enabled: false }, verbose);
        let mut out = r.header(".github/workflows/ci.yml", Some("CI"), "push", 1);
        for e in events() {
            out.push_str(&r.event(&e));
        }
        let result = RunResult {
            conclusion: Conclusion::Success,
            duration_ms: 61_500,
            jobs: vec![JobSummary {
                job: "build".into(),
                job_id: "build".into(),
                name: "build".into(),
                outcome: Conclusion::Success,
                conclusion: Conclusion::Success,
                duration_ms: 61_000,
                outputs: serde_json::Map::new(),
            }],
            summary: String::new(),
            annotations: Vec::new(),
        };
        out.push_str(&r.summary(&result, ".gantry/runs/1"));
        out
    }

    #[test]
    fn groups_fold_to_their_title() {
        insta::assert_snapshot!(render(false));
    }

    #[test]
    fn verbose_shows_group_contents() {
        insta::assert_snapshot!(render(true));
    }

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration(850), "850ms");
        assert_eq!(duration(1234), "1.2s");
        assert_eq!(duration(125_000), "2m05s");
    }
}
