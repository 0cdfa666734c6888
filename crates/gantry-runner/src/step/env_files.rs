//! The environment files a step's process wrote (`GITHUB_ENV`, `GITHUB_OUTPUT`, `GITHUB_STATE`,
//! `GITHUB_PATH`, `GITHUB_STEP_SUMMARY`), read and applied when it ends.

use super::StepError;
use super::process::StepIo;
use crate::event::{RunEvent, StepRef};
use crate::file_commands::{self, FileCommand};
use crate::job::JobRunner;

impl JobRunner<'_> {
    /// Reads and applies the environment files; `false` when one of them is invalid.
    pub(super) async fn apply_files(
        &mut self,
        sref: &StepRef,
        files: &[(FileCommand, String)],
        io: &mut StepIo,
    ) -> bool {
        let mut ok = true;
        for (command, path) in files {
            let contents = match self.env.read_file(path).await {
                Ok(Some(c)) => c,
                Ok(None) => continue,
                Err(e) => {
                    self.file_error(sref, *command, &StepError::ReadFileCommand(e));
                    ok = false;
                    continue;
                }
            };
            if let Err(e) = self.apply_file(sref, *command, &contents, io) {
                self.file_error(sref, *command, &e);
                ok = false;
            }
        }
        ok
    }

    /// The runner's two annotations for a bad file command: which one, then why.
    pub(super) fn file_error(&self, sref: &StepRef, command: FileCommand, error: &StepError) {
        self.error(
            Some(sref),
            format!(
                "Unable to process file command '{}' successfully.",
                command.context_name()
            ),
        );
        self.report(sref, error);
    }

    pub(super) fn apply_file(
        &mut self,
        sref: &StepRef,
        command: FileCommand,
        contents: &[u8],
        io: &mut StepIo,
    ) -> Result<(), StepError> {
        let text = String::from_utf8_lossy(contents);
        match command {
            FileCommand::Env | FileCommand::Output | FileCommand::State => {
                let pairs = file_commands::parse_key_values(&text)?;
                let target = match command {
                    FileCommand::Env => &mut self.env_file,
                    FileCommand::Output => &mut io.outputs,
                    _ => &mut self.state,
                };
                file_commands::merge_pairs(target, pairs);
            }
            FileCommand::Path => {
                for dir in file_commands::parse_path_file(&text) {
                    self.prepend_path.add(dir);
                }
            }
            FileCommand::StepSummary => {
                // Too large: the runner reports an error and drops the summary, the step passes.
                match file_commands::check_step_summary(contents) {
                    Ok(Some(markdown)) => self.emit(RunEvent::StepSummary {
                        job: self.inst.key.clone(),
                        step: sref.clone(),
                        markdown,
                    }),
                    Ok(None) => {}
                    Err(too_large) => self.error(Some(sref), too_large.to_string()),
                }
            }
        }
        Ok(())
    }
}
