//! The web page in headless Chromium: with `api_token` set the page asks for the token and
//! logs in (session cookie); a signed webhook starts a run whose job prints a line and waits;
//! the run page must show that line from the live log stream before the job ends, and its
//! Re-run button must queue a new attempt.
//! Screenshots go to `target/test-artifacts/`.
//!
//! A page with open event streams never goes "idle", so `--dump-dom`/`--screenshot` would
//! capture it too early (or never, with a virtual time budget). The test drives Chromium over
//! the DevTools protocol instead: a minimal WebSocket client (text frames only) evaluates
//! `#log`'s text until the line appears and captures screenshots on demand.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::common::*;

/// The browser the page tests drive. Missing is a failure, not a skip: `scripts/ensure-tools.sh`
/// installs it, and a test that passes without running proves nothing.
pub(crate) fn chromium() -> PathBuf {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .filter_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|p| p.join(name))
                    .find(|p| p.is_file())
            })
        })
        .next();
    found.expect("chromium is required for the page tests: scripts/ensure-tools.sh installs it (apt package `chromium`)")
}

pub(crate) fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Headless Chromium with a DevTools port; killed when dropped.
pub(crate) struct Browser {
    _child: tokio::process::Child,
    devtools: String,
}

impl Browser {
    pub(crate) async fn launch(binary: &Path, profile: &Path) -> Browser {
        let mut child = tokio::process::Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-first-run",
                "--disable-dev-shm-usage",
                "--window-size=1280,800",
                "--remote-debugging-port=0",
                "about:blank",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let find = async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("DevTools listening on ws://") {
                    return url.split('/').next().unwrap().to_owned();
                }
            }
            panic!("chromium exited without a DevTools address");
        };
        let devtools = tokio::time::timeout(Duration::from_secs(60), find)
            .await
            .expect("chromium did not start");
        // Keep draining stderr so chromium never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Browser {
            _child: child,
            devtools,
        }
    }

    /// The first page target's WebSocket path.
    pub(crate) async fn page(&self) -> Cdp {
        let list: Value = reqwest::get(format!("http://{}/json/list", self.devtools))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let page = list
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .expect("a page target");
        let ws = page["webSocketDebuggerUrl"].as_str().unwrap();
        let path = ws.splitn(4, '/').nth(3).unwrap();
        Cdp::connect(&self.devtools, &format!("/{path}")).await
    }
}

/// A DevTools session over a WebSocket.
pub(crate) struct Cdp {
    stream: TcpStream,
    next_id: u64,
}

impl Cdp {
    async fn connect(host: &str, path: &str) -> Cdp {
        let mut stream = TcpStream::connect(host).await.unwrap();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        // Read the handshake answer up to the blank line, byte by byte (frames follow).
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(stream.read_u8().await.unwrap());
        }
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        Cdp { stream, next_id: 0 }
    }

    pub(crate) async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let text = json!({ "id": id, "method": method, "params": params }).to_string();
        self.send(text.as_bytes()).await;
        loop {
            let message: Value = serde_json::from_slice(&self.receive().await).unwrap();
            if message["id"] == id {
                assert!(message.get("error").is_none(), "{method}: {message}");
                return message["result"].clone();
            }
        }
    }

    /// One masked text frame (clients must mask; the key may be constant for a test).
    async fn send(&mut self, payload: &[u8]) {
        let mut frame = vec![0x81u8];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n < 65536 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let key = [0x12u8, 0x34, 0x56, 0x78];
        frame.extend_from_slice(&key);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        self.stream.write_all(&frame).await.unwrap();
    }

    /// The next complete message (server frames are unmasked; continuation frames joined).
    async fn receive(&mut self) -> Vec<u8> {
        let mut message = Vec::new();
        loop {
            let first = self.stream.read_u8().await.unwrap();
            let second = self.stream.read_u8().await.unwrap();
            let len = match second & 0x7f {
                126 => u64::from(self.stream.read_u16().await.unwrap()),
                127 => self.stream.read_u64().await.unwrap(),
                n => u64::from(n),
            };
            let mut payload = vec![0u8; len as usize];
            self.stream.read_exact(&mut payload).await.unwrap();
            message.extend_from_slice(&payload);
            if first & 0x80 != 0 {
                return message;
            }
        }
    }

    pub(crate) async fn text_of(&mut self, selector: &str) -> String {
        let expression = format!("document.querySelector({selector:?})?.textContent ?? ''");
        let result = self
            .call("Runtime.evaluate", json!({ "expression": expression }))
            .await;
        result["result"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub(crate) async fn screenshot(&mut self, path: &Path) {
        let result = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let data = base64::engine::general_purpose::STANDARD
            .decode(result["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(path, data).unwrap();
    }

    /// Evaluates `expression` in the page; its value.
    pub(crate) async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call("Runtime.evaluate", json!({ "expression": expression }))
            .await;
        result["result"]["value"].clone()
    }

    /// Polls (bounded) until `expression` is true.
    pub(crate) async fn wait_for(&mut self, expression: &str) -> bool {
        for _ in 0..400 {
            if self.eval(expression).await == Value::Bool(true) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// Polls (bounded) until `selector`'s text contains `needle`.
    pub(crate) async fn wait_for_text(&mut self, selector: &str, needle: &str) -> bool {
        for _ in 0..400 {
            if self.text_of(selector).await.contains(needle) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

#[tokio::test]
async fn the_run_page_shows_the_live_log_in_chromium() {
    let binary = chromium();
    let mut env = Env::new();
    let workflow = gated_workflow(&env, "release", "").replace(
        "          while",
        "          echo 'browser-visible line'\n          while",
    );
    env.repo(REPO, &[("page.yml", &workflow)]);
    env.config.api_token = Some("page-t0ken".to_owned());
    let mut server = env.start().await;
    server.client.token = Some("page-t0ken".to_owned());
    let client = server.client.clone();
    let reply = client
        .webhook(
            "release",
            "browser-1",
            &payload("release/published.payload.json"),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let id = run_ids(&reply)[0];
    client.wait_status(id, "running").await;

    let profile = tempfile::tempdir().unwrap();
    let browser = Browser::launch(&binary, profile.path()).await;
    let mut page = browser.page().await;
    let url = client.url(&format!("/#run={id}&job=build"));
    page.call("Page.navigate", json!({ "url": url })).await;
    // Every read answers 401 until the page logged in.
    let asked = page
        .wait_for("!document.getElementById('login').hidden")
        .await;
    page.screenshot(&artifacts().join("daemon-login.png")).await;
    assert!(asked, "the page never showed its login form");
    page.eval("document.getElementById('token').value = 'wrong'; document.getElementById('login-button').click()")
        .await;
    assert!(page.wait_for_text("#login-error", "wrong API token").await);
    page.eval("document.getElementById('token').value = 'page-t0ken'; document.getElementById('login-button').click()")
        .await;
    let live = page.wait_for_text("#log", "browser-visible line").await;
    page.screenshot(&artifacts().join("daemon-run-live.png"))
        .await;
    // Still running: the line came from the live stream, not from a finished log.
    assert_eq!(client.run(id).await["status"], "running");

    env.open_gate();
    let run = client.wait_completed(id).await;
    assert_eq!(run["conclusion"], "success", "{run}");
    let finished = page.wait_for_text("#log", "done").await;
    page.screenshot(&artifacts().join("daemon-run-done.png"))
        .await;
    // The buttons work with the session cookie: Re-run queues attempt 2.
    let pressed =
        "[...document.querySelectorAll('button')].find((b) => b.textContent === 'Re-run').click()";
    page.eval(pressed).await;
    let mut rerun = None;
    for _ in 0..400 {
        let runs = client.get("/api/runs").await.body;
        rerun = runs["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] != id)
            .cloned();
        if rerun.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rerun = rerun.expect("pressing Re-run queued no run");
    let rerun = client.wait_completed(rerun["id"].as_i64().unwrap()).await;
    server.stop().await;
    assert_eq!(rerun["attempt"], 2, "{rerun}");
    assert!(live, "the page never showed the live log line");
    assert!(finished, "the page never showed the job's last line");
}
