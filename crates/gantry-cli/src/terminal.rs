//! The user's terminal as `gantry run`'s debugger needs it: is there one, its size, raw mode
//! while a shell runs, and the keyboard as a stream of bytes.
//!
//! The keyboard is read by one thread for the whole run: a read from stdin cannot be
//! cancelled, so a reader per pause would swallow the first keystroke after it. Writing stays
//! in [`crate::output`].

use std::io::{IsTerminal, Read};

use gantry_runner::interactive::TermSize;
use tokio::sync::{Mutex, mpsc};

/// Whether stdin and stdout are both a terminal (a person can answer a pause).
pub fn is_interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// The terminal's size; a usual default when it cannot be asked.
pub fn size() -> TermSize {
    match crossterm::terminal::size() {
        Ok((cols, rows)) if cols > 0 && rows > 0 => TermSize { cols, rows },
        _ => TermSize::default(),
    }
}

/// Raw mode (no echo, no line editing, Ctrl-C as a byte) until dropped.
pub struct RawMode(());

impl RawMode {
    pub fn enable() -> std::io::Result<Self> {
        crossterm::terminal::enable_raw_mode()?;
        Ok(Self(()))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // The terminal may be gone (closed window); nothing else can be done then.
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// What the user types, as it arrives: lines in cooked mode, single keys in raw mode.
pub struct Keyboard {
    keys: Mutex<mpsc::Receiver<Vec<u8>>>,
}

impl Keyboard {
    /// Starts the reader thread. It ends with stdin (end of file, or the terminal closing).
    pub fn start() -> Self {
        let (tx, keys) = mpsc::channel(256);
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin();
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stdin.read(&mut buf) {
                if tx.blocking_send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Self {
            keys: Mutex::new(keys),
        }
    }

    /// The next bytes typed; `None` once the terminal is gone.
    pub async fn next(&self) -> Option<Vec<u8>> {
        self.keys.lock().await.recv().await
    }

    /// Drops what was typed ahead (while the run printed), so it does not reach a shell.
    pub async fn discard_typeahead(&self) {
        let mut keys = self.keys.lock().await;
        while keys.try_recv().is_ok() {}
    }

    /// One line (without its end); `None` once the terminal is gone.
    pub async fn line(&self) -> Option<String> {
        let mut line = Vec::new();
        let mut keys = self.keys.lock().await;
        loop {
            let chunk = keys.recv().await?;
            line.extend_from_slice(&chunk);
            if let Some(end) = line.iter().position(|b| *b == b'\n' || *b == b'\r') {
                line.truncate(end);
                return Some(String::from_utf8_lossy(&line).into_owned());
            }
        }
    }
}
