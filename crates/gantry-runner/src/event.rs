//! What a run tells the outside world, as a typed stream: the CLI renders these (terminal or
//! `--json`) and [`crate::logs::LogWriter`] stores them. Every string in an event has been
//! through the job's masker: the dispatcher applies [`RunEvent::masked`] to each event on its
//! way out, the one place masking happens, so no call site can forget a field.

use serde::{Deserialize, Serialize};

use crate::mask::Masker;
use crate::workflow_commands::Annotation;

/// The result of a step, a job or a run, with GitHub's names (`needs.x.result`,
/// `steps.x.outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Conclusion {
    Success,
    Failure,
    Cancelled,
    Skipped,
}

impl Conclusion {
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Cancelled => "cancelled",
            Conclusion::Skipped => "skipped",
        }
    }

    /// The inverse of [`Conclusion::as_str`] (stores keep conclusions as text).
    pub fn parse(s: &str) -> Option<Conclusion> {
        match s {
            "success" => Some(Conclusion::Success),
            "failure" => Some(Conclusion::Failure),
            "cancelled" => Some(Conclusion::Cancelled),
            "skipped" => Some(Conclusion::Skipped),
            _ => None,
        }
    }
}

/// Where a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    Stdout,
    Stderr,
    /// `::debug::` messages and the runner's debug notes (shown with `ACTIONS_STEP_DEBUG`).
    Debug,
    /// gantry's own lines (the `Run ...` header, errors that are not annotations).
    Runner,
}

/// Identifies a step within a job: its position (0-based, in the job's step list; nested
/// composite steps get `parent.child` paths) and display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepRef {
    /// `"3"` for the fourth step, `"3.1"` for the second step of the composite action it runs.
    pub path: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RunEvent {
    RunStarted {
        run_id: String,
        workflow: String,
        /// Job ids in topological order.
        jobs: Vec<String>,
    },
    JobStarted {
        /// Unique within the run (`build`, `test-2` for the second matrix row).
        job: String,
        /// The job id in the workflow.
        job_id: String,
        name: String,
        matrix: Option<serde_json::Value>,
    },
    JobFinished {
        job: String,
        job_id: String,
        name: String,
        /// Before `continue-on-error`.
        outcome: Conclusion,
        /// What `needs.<job>.result` and the run result see.
        conclusion: Conclusion,
        duration_ms: u64,
        outputs: serde_json::Map<String, serde_json::Value>,
    },
    StepStarted {
        job: String,
        step: StepRef,
    },
    StepFinished {
        job: String,
        step: StepRef,
        outcome: Conclusion,
        conclusion: Conclusion,
        duration_ms: u64,
    },
    Log {
        job: String,
        step: Option<StepRef>,
        stream: LogStream,
        line: String,
    },
    GroupStarted {
        job: String,
        step: Option<StepRef>,
        title: String,
    },
    GroupEnded {
        job: String,
        step: Option<StepRef>,
    },
    Annotation {
        job: String,
        step: Option<StepRef>,
        annotation: Annotation,
    },
    /// One step's `GITHUB_STEP_SUMMARY` markdown.
    StepSummary {
        job: String,
        step: StepRef,
        markdown: String,
    },
    RunFinished {
        conclusion: Conclusion,
        duration_ms: u64,
    },
}

impl RunEvent {
    /// The event with every string it carries masked: ids, names, paths, titles, messages,
    /// matrix values and outputs (keys too). The destructuring is exhaustive on purpose: a new
    /// field does not compile until it is masked here.
    pub fn masked(self, masker: &Masker) -> RunEvent {
        if masker.is_empty() {
            return self;
        }
        let m = |s: String| masker.mask(&s);
        let step = |s: StepRef| StepRef {
            path: m(s.path),
            name: m(s.name),
        };
        match self {
            RunEvent::RunStarted {
                run_id,
                workflow,
                jobs,
            } => RunEvent::RunStarted {
                run_id: m(run_id),
                workflow: m(workflow),
                jobs: jobs.into_iter().map(m).collect(),
            },
            RunEvent::JobStarted {
                job,
                job_id,
                name,
                matrix,
            } => RunEvent::JobStarted {
                job: m(job),
                job_id: m(job_id),
                name: m(name),
                matrix: matrix.map(|v| mask_json(v, masker)),
            },
            RunEvent::JobFinished {
                job,
                job_id,
                name,
                outcome,
                conclusion,
                duration_ms,
                outputs,
            } => RunEvent::JobFinished {
                job: m(job),
                job_id: m(job_id),
                name: m(name),
                outcome,
                conclusion,
                duration_ms,
                outputs: mask_map(outputs, masker),
            },
            RunEvent::StepStarted { job, step: s } => RunEvent::StepStarted {
                job: m(job),
                step: step(s),
            },
            RunEvent::StepFinished {
                job,
                step: s,
                outcome,
                conclusion,
                duration_ms,
            } => RunEvent::StepFinished {
                job: m(job),
                step: step(s),
                outcome,
                conclusion,
                duration_ms,
            },
            RunEvent::Log {
                job,
                step: s,
                stream,
                line,
            } => RunEvent::Log {
                job: m(job),
                step: s.map(step),
                stream,
                line: m(line),
            },
            RunEvent::GroupStarted {
                job,
                step: s,
                title,
            } => RunEvent::GroupStarted {
                job: m(job),
                step: s.map(step),
                title: m(title),
            },
            RunEvent::GroupEnded { job, step: s } => RunEvent::GroupEnded {
                job: m(job),
                step: s.map(step),
            },
            RunEvent::Annotation {
                job,
                step: s,
                annotation,
            } => RunEvent::Annotation {
                job: m(job),
                step: s.map(step),
                annotation: mask_annotation(annotation, masker),
            },
            RunEvent::StepSummary {
                job,
                step: s,
                markdown,
            } => RunEvent::StepSummary {
                job: m(job),
                step: step(s),
                markdown: m(markdown),
            },
            RunEvent::RunFinished {
                conclusion,
                duration_ms,
            } => RunEvent::RunFinished {
                conclusion,
                duration_ms,
            },
        }
    }
}

fn mask_annotation(a: Annotation, masker: &Masker) -> Annotation {
    let Annotation {
        level,
        message,
        title,
        file,
        line,
        col,
        end_line,
        end_column,
    } = a;
    Annotation {
        level,
        message: masker.mask(&message),
        title: title.map(|t| masker.mask(&t)),
        file: file.map(|f| masker.mask(&f)),
        line,
        col,
        end_line,
        end_column,
    }
}

fn mask_map(
    map: serde_json::Map<String, serde_json::Value>,
    masker: &Masker,
) -> serde_json::Map<String, serde_json::Value> {
    map.into_iter()
        .map(|(k, v)| (masker.mask(&k), mask_json(v, masker)))
        .collect()
}

fn mask_json(value: serde_json::Value, masker: &Masker) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(masker.mask(&s)),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| mask_json(v, masker)).collect())
        }
        Value::Object(map) => Value::Object(mask_map(map, masker)),
        // A number or boolean that prints as a secret (`secrets.PIN: 1234`) must not show
        // either; it becomes the masked string.
        Value::Number(n) => {
            let text = n.to_string();
            let masked = masker.mask(&text);
            if masked == text {
                Value::Number(n)
            } else {
                Value::String(masked)
            }
        }
        other @ (Value::Bool(_) | Value::Null) => other,
    }
}

/// The final state of a run, returned by [`crate::run`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunResult {
    pub conclusion: Conclusion,
    pub duration_ms: u64,
    pub jobs: Vec<JobSummary>,
    /// Every step summary, in the order the steps finished, joined as GitHub shows them.
    pub summary: String,
    pub annotations: Vec<Annotation>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobSummary {
    pub job: String,
    pub job_id: String,
    pub name: String,
    pub outcome: Conclusion,
    pub conclusion: Conclusion,
    pub duration_ms: u64,
    pub outputs: serde_json::Map<String, serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow_commands::AnnotationLevel;
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    /// A string that may carry the secret anywhere (or several times), or not at all.
    fn text(secret: String) -> impl Strategy<Value = String> {
        ("[a-z /.:=-]{0,6}", "[a-z /.:=-]{0,6}", 0usize..3)
            .prop_map(move |(pre, post, n)| format!("{pre}{}{post}", secret.repeat(n)))
    }

    fn opt(s: impl Strategy<Value = String>) -> impl Strategy<Value = Option<String>> {
        proptest::option::of(s)
    }

    fn json(secret: String) -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            text(secret.clone()).prop_map(Value::String),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
        ];
        leaf.prop_recursive(3, 12, 3, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::vec((text(secret.clone()), inner), 0..3)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn map(secret: String) -> impl Strategy<Value = Map<String, Value>> {
        proptest::collection::vec((text(secret.clone()), json(secret)), 0..3)
            .prop_map(|kv| kv.into_iter().collect())
    }

    fn step(secret: String) -> impl Strategy<Value = StepRef> {
        (text(secret.clone()), text(secret)).prop_map(|(path, name)| StepRef { path, name })
    }

    fn annotation(secret: String) -> impl Strategy<Value = Annotation> {
        let s = secret;
        (
            text(s.clone()),
            opt(text(s.clone())),
            opt(text(s)),
            proptest::option::of(any::<u64>()),
        )
            .prop_map(|(message, title, file, line)| Annotation {
                level: AnnotationLevel::Warning,
                message,
                title,
                file,
                line,
                col: line,
                end_line: line,
                end_column: line,
            })
    }

    /// Every variant, every string field drawn from [`text`].
    fn event(secret: String) -> impl Strategy<Value = RunEvent> {
        let s = secret;
        let t = || text(s.clone());
        let c = Just(Conclusion::Success);
        prop_oneof![
            (t(), t(), proptest::collection::vec(t(), 0..3)).prop_map(
                |(run_id, workflow, jobs)| {
                    RunEvent::RunStarted {
                        run_id,
                        workflow,
                        jobs,
                    }
                }
            ),
            (t(), t(), t(), proptest::option::of(json(s.clone()))).prop_map(
                |(job, job_id, name, matrix)| RunEvent::JobStarted {
                    job,
                    job_id,
                    name,
                    matrix,
                }
            ),
            (t(), t(), t(), c, map(s.clone())).prop_map(|(job, job_id, name, c, outputs)| {
                RunEvent::JobFinished {
                    job,
                    job_id,
                    name,
                    outcome: c,
                    conclusion: c,
                    duration_ms: 1,
                    outputs,
                }
            }),
            (t(), step(s.clone())).prop_map(|(job, step)| RunEvent::StepStarted { job, step }),
            (t(), step(s.clone()), c).prop_map(|(job, step, c)| RunEvent::StepFinished {
                job,
                step,
                outcome: c,
                conclusion: c,
                duration_ms: 1,
            }),
            (t(), proptest::option::of(step(s.clone())), t()).prop_map(|(job, step, line)| {
                RunEvent::Log {
                    job,
                    step,
                    stream: LogStream::Stdout,
                    line,
                }
            }),
            (t(), proptest::option::of(step(s.clone())), t())
                .prop_map(|(job, step, title)| RunEvent::GroupStarted { job, step, title }),
            (t(), proptest::option::of(step(s.clone())))
                .prop_map(|(job, step)| RunEvent::GroupEnded { job, step }),
            (
                t(),
                proptest::option::of(step(s.clone())),
                annotation(s.clone())
            )
                .prop_map(|(job, step, annotation)| RunEvent::Annotation {
                    job,
                    step,
                    annotation,
                }),
            (t(), step(s.clone()), t()).prop_map(|(job, step, markdown)| RunEvent::StepSummary {
                job,
                step,
                markdown,
            }),
        ]
    }

    fn with_secret() -> impl Strategy<Value = (String, RunEvent)> {
        "[A-Za-z0-9_\"\\\\]{4,12}".prop_flat_map(|secret| (Just(secret.clone()), event(secret)))
    }

    proptest! {
        /// Whatever field a secret lands in, the masked event shows it nowhere: not raw, not
        /// in its JSON form (what `--json`, the run files and the daemon store).
        #[test]
        fn no_event_field_keeps_a_secret((secret, event) in with_secret()) {
            let mut masker = Masker::new();
            masker.add(&secret);
            let masked = event.masked(&masker);
            let json = serde_json::to_string(&masked).unwrap();
            let debug = format!("{masked:?}");
            prop_assert!(!json.contains(&secret), "{json}");
            prop_assert!(!debug.contains(&secret), "{debug}");
        }

        /// Masking leaves an event without secrets as it was.
        #[test]
        fn events_without_secrets_are_unchanged((_, event) in with_secret()) {
            let mut masker = Masker::new();
            masker.add("NEVER-PRESENT-VALUE");
            prop_assert_eq!(event.clone().masked(&masker), event);
        }
    }

    #[test]
    fn a_secret_number_in_outputs_is_masked() {
        let mut masker = Masker::new();
        masker.add("1234");
        let outputs: Map<String, Value> = [("pin".to_owned(), Value::from(1234))]
            .into_iter()
            .collect();
        let event = RunEvent::JobFinished {
            job: "j".into(),
            job_id: "j".into(),
            name: "j".into(),
            outcome: Conclusion::Success,
            conclusion: Conclusion::Success,
            duration_ms: 0,
            outputs,
        };
        let json = serde_json::to_string(&event.masked(&masker)).unwrap();
        assert!(!json.contains("1234"), "{json}");
    }
}
