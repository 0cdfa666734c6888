//! Interactive shells at a paused step: a `docker exec` with a TTY in the job container, or a
//! pseudo-terminal on the host (portable-pty). Both end up as a
//! [`ShellSession`]: byte channels the front end pumps its terminal through, plus resize, wait
//! and kill.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bollard::Docker;
use bollard::exec::{CreateExecOptions, ResizeExecOptions, StartExecOptions, StartExecResults};
use futures::StreamExt;
use gantry_runner::debugger::ShellRequest;
use gantry_runner::executor::{ExecutorError, ExitStatus};
use gantry_runner::interactive::{ShellControl, ShellSession, TermSize};
use portable_pty::{CommandBuilder, MasterPty, PtySize};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::engine_error;

/// Channel depth between the terminal pumps and the process: keystrokes and screenfuls.
const CHANNEL_DEPTH: usize = 64;

/// Starts `request` with a TTY in `container` (`docker exec -it`).
pub(crate) async fn docker_shell(
    docker: &Docker,
    container: &str,
    request: &ShellRequest,
    size: TermSize,
) -> Result<ShellSession, ExecutorError> {
    let env: Vec<String> = request
        .env
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let config = CreateExecOptions {
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(true),
        env: Some(env),
        cmd: Some(request.argv.clone()),
        working_dir: Some(request.workdir.clone()),
        ..Default::default()
    };
    let exec = docker
        .create_exec(container, config)
        .await
        .map_err(|e| engine_error("creating the shell", e))?
        .id;
    let start = StartExecOptions {
        detach: false,
        tty: true,
        output_capacity: None,
    };
    let StartExecResults::Attached {
        output: mut stream,
        input: mut writer,
    } = docker
        .start_exec(&exec, Some(start))
        .await
        .map_err(|e| engine_error("starting the shell", e))?
    else {
        return Err(ExecutorError::Other(
            "the docker engine did not attach the shell".into(),
        ));
    };
    let control = DockerShell {
        docker: docker.clone(),
        exec,
    };
    // The size can only be set once the exec runs; a failure leaves the engine's default size.
    let _ = control.resize(size).await;
    let (out_tx, output) = mpsc::channel(CHANNEL_DEPTH);
    tokio::spawn(async move {
        while let Some(Ok(chunk)) = stream.next().await {
            if out_tx.send(chunk.into_bytes().to_vec()).await.is_err() {
                break;
            }
        }
    });
    let (input, mut in_rx) = mpsc::channel::<Vec<u8>>(CHANNEL_DEPTH);
    tokio::spawn(async move {
        while let Some(bytes) = in_rx.recv().await {
            if writer.write_all(&bytes).await.is_err() || writer.flush().await.is_err() {
                break;
            }
        }
        // Closing the input is the shell's end of file.
        let _ = writer.shutdown().await;
    });
    Ok(ShellSession {
        output,
        input,
        control: Box::new(control),
    })
}

struct DockerShell {
    docker: Docker,
    exec: String,
}

#[async_trait]
impl ShellControl for DockerShell {
    async fn resize(&self, size: TermSize) -> Result<(), ExecutorError> {
        let options = ResizeExecOptions {
            height: size.rows,
            width: size.cols,
        };
        self.docker
            .resize_exec(&self.exec, options)
            .await
            .map_err(|e| engine_error("resizing the shell", e))
    }

    async fn wait(&mut self) -> Result<ExitStatus, ExecutorError> {
        // The output stream ends when the process does; the engine may take a moment longer to
        // record the exit code.
        for _ in 0..100 {
            let inspect = self
                .docker
                .inspect_exec(&self.exec)
                .await
                .map_err(|e| engine_error("inspecting the shell", e))?;
            if inspect.running != Some(true) {
                let code = inspect.exit_code.unwrap_or(-1);
                return Ok(ExitStatus::Code(i32::try_from(code).unwrap_or(-1)));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Ok(ExitStatus::Cancelled)
    }

    async fn kill(&mut self) -> Result<(), ExecutorError> {
        // An exec cannot be stopped through the API. Its input is closed when the session is
        // dropped, and the job's cleanup removes the container with whatever still runs in it.
        Ok(())
    }
}

/// Starts `request` on a new pseudo-terminal of this machine.
pub(crate) fn host_shell(
    request: &ShellRequest,
    size: TermSize,
) -> Result<ShellSession, ExecutorError> {
    let pair = portable_pty::native_pty_system()
        .openpty(pty_size(size))
        .map_err(|e| ExecutorError::Other(format!("opening a pseudo-terminal: {e}")))?;
    let mut command = CommandBuilder::from_argv(request.argv.iter().map(Into::into).collect());
    command.env_clear();
    for (k, v) in &request.env {
        command.env(k, v);
    }
    if !request.env.contains_key("PATH") {
        command.env("PATH", std::env::var_os("PATH").unwrap_or_default());
    }
    command.cwd(&request.workdir);
    let child = pair
        .slave
        .spawn_command(command)
        .map_err(|e| ExecutorError::Other(format!("starting the shell: {e}")))?;
    // The slave end belongs to the shell now; keeping it open here would hide its exit.
    drop(pair.slave);
    let mut reader = pair
        .master
        .try_clone_reader()
        .map_err(|e| ExecutorError::Other(format!("reading the pseudo-terminal: {e}")))?;
    let mut writer = pair
        .master
        .take_writer()
        .map_err(|e| ExecutorError::Other(format!("writing the pseudo-terminal: {e}")))?;
    let (out_tx, output) = mpsc::channel(CHANNEL_DEPTH);
    // portable-pty's ends are blocking: a thread each.
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 8192];
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            if out_tx.blocking_send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let (input, mut in_rx) = mpsc::channel::<Vec<u8>>(CHANNEL_DEPTH);
    std::thread::spawn(move || {
        while let Some(bytes) = in_rx.blocking_recv() {
            if writer.write_all(&bytes).is_err() || writer.flush().is_err() {
                break;
            }
        }
    });
    Ok(ShellSession {
        output,
        input,
        control: Box::new(HostShell {
            master: Mutex::new(pair.master),
            killer: Mutex::new(child.clone_killer()),
            child: Arc::new(Mutex::new(child)),
        }),
    })
}

fn pty_size(size: TermSize) -> PtySize {
    PtySize {
        rows: size.rows,
        cols: size.cols,
        pixel_width: 0,
        pixel_height: 0,
    }
}

struct HostShell {
    master: Mutex<Box<dyn MasterPty + Send>>,
    child: Arc<Mutex<Box<dyn portable_pty::Child + Send + Sync>>>,
    /// Separate from `child`, which a waiting thread holds locked.
    killer: Mutex<Box<dyn portable_pty::ChildKiller + Send + Sync>>,
}

#[async_trait]
impl ShellControl for HostShell {
    async fn resize(&self, size: TermSize) -> Result<(), ExecutorError> {
        let master = self
            .master
            .lock()
            .map_err(|_| ExecutorError::Other("the pseudo-terminal is unusable".into()))?;
        master
            .resize(pty_size(size))
            .map_err(|e| ExecutorError::Other(format!("resizing the shell: {e}")))
    }

    async fn wait(&mut self) -> Result<ExitStatus, ExecutorError> {
        let child = self.child.clone();
        let status = tokio::task::spawn_blocking(move || match child.lock() {
            Ok(mut child) => child.wait(),
            Err(_) => Err(std::io::Error::other("the shell's handle is unusable")),
        })
        .await
        .map_err(|e| ExecutorError::Other(format!("waiting for the shell: {e}")))?
        .map_err(|e| crate::io_error("waiting for the shell", e))?;
        Ok(ExitStatus::Code(
            i32::try_from(status.exit_code()).unwrap_or(-1),
        ))
    }

    async fn kill(&mut self) -> Result<(), ExecutorError> {
        let mut child = self
            .killer
            .lock()
            .map_err(|_| ExecutorError::Other("the shell's handle is unusable".into()))?;
        // Already gone is fine.
        let _ = child.kill();
        Ok(())
    }
}
