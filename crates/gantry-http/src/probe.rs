//! A raw-socket HTTP/1.1 client that behaves as badly as asked: half a request line, headers
//! and no body, a keep-alive connection left silent. The abuse suites of the daemon and the
//! registry and `scripts/bench-daemon.sh` drive listeners with it; an ordinary client (reqwest)
//! cannot stall on purpose.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One connection to a server.
pub struct Probe {
    stream: TcpStream,
    /// Bytes read past the last answer (a pipelined or early next answer).
    pending: Vec<u8>,
}

/// An answer read off the wire.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// The status line and headers, as sent.
    pub head: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The server had not closed the connection when the wait's bound passed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("still open after {bound:?} (it sent {sent:?})")]
pub struct StillOpen {
    pub bound: Duration,
    /// What the server sent meanwhile.
    pub sent: String,
}

impl Probe {
    pub async fn connect(addr: SocketAddr) -> io::Result<Probe> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Probe {
            stream,
            pending: Vec::new(),
        })
    }

    /// Sends `bytes` as they are (any part of a request).
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// Reads one answer: the head up to the blank line, then `content-length` bytes of body
    /// (or everything up to the close when there is none).
    pub async fn answer(&mut self) -> io::Result<Answer> {
        let head_end = loop {
            if let Some(at) = find(&self.pending, b"\r\n\r\n") {
                break at + 4;
            }
            if self.fill().await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "closed before a whole answer: {:?}",
                        String::from_utf8_lossy(&self.pending)
                    ),
                ));
            }
        };
        let head = String::from_utf8_lossy(&self.pending[..head_end]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, head.clone()))?;
        let length = head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())
                .flatten()
        });
        let mut rest = self.pending.split_off(head_end);
        self.pending.clear();
        match length {
            Some(length) => {
                while rest.len() < length {
                    let mut chunk = [0u8; 8192];
                    let n = self.stream.read(&mut chunk).await?;
                    if n == 0 {
                        break;
                    }
                    rest.extend_from_slice(&chunk[..n]);
                }
                self.pending = rest.split_off(length.min(rest.len()));
            }
            None => {
                self.stream.read_to_end(&mut rest).await?;
            }
        }
        Ok(Answer {
            status,
            head,
            body: rest,
        })
    }

    /// Sends a whole request and reads its answer.
    pub async fn request(&mut self, request: &[u8]) -> io::Result<Answer> {
        self.send(request).await?;
        self.answer().await
    }

    /// Waits, at most `bound`, for the server to close the connection; what it sent before.
    /// A reset counts as closed.
    pub async fn closed_within(&mut self, bound: Duration) -> Result<String, StillOpen> {
        let mut seen = std::mem::take(&mut self.pending);
        let wait = async {
            loop {
                let mut chunk = [0u8; 8192];
                match self.stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(&chunk[..n]),
                }
            }
        };
        let closed = tokio::time::timeout(bound, wait).await.is_ok();
        let sent = String::from_utf8_lossy(&seen).into_owned();
        if closed {
            Ok(sent)
        } else {
            Err(StillOpen { bound, sent })
        }
    }

    async fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await?;
        self.pending.extend_from_slice(&chunk[..n]);
        Ok(n)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A `GET` with keep-alive.
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nhost: probe\r\n\r\n").into_bytes()
}
