//! The in-container step agent: a POSIX `sh` loop that is the job container's main process.
//!
//! One `docker exec` costs ~100 ms (a new process via containerd, a new HTTP hijack); the agent
//! turns a step into one line on the already-attached stdin instead. Protocol:
//!
//! * host → agent (stdin): `<nonce> <bytes> <lines>\n`, then the request itself: that many bytes
//!   (and lines) of sh: `export`s, `cd`, `exec argv...`. The request carries the step's
//!   environment, secrets included, so it never touches a file on this machine; the agent pipes
//!   it into the step's shell with the `printf` builtin (never argv, which any local user could
//!   read in `ps`, and never a here-document, which bash as `/bin/sh` may spill into a temporary
//!   file). `head -c` takes it in one read where the image has `head` (it may read ahead:
//!   nothing more arrives before the step's end markers), else a line at a time.
//! * agent → host: the step inherits the container's stdout/stderr, which Docker keeps apart in
//!   its multiplexed attach stream. When the step ends the agent prints
//!   `::gantry-end-<nonce>::<code>\n` on *both* streams; the host waits for both, so late stderr
//!   bytes cannot slip past the end of a step.
//! * The nonce is random per step and only travels over stdin (never in the step's environment,
//!   argv or files), so step output cannot forge an end marker.
//! * Cancellation: `SIGUSR1` to the container's main process makes the agent send `TERM` to the
//!   step's process group, `SIGUSR2` sends `KILL`. Steps run under `setsid` (busybox and
//!   util-linux both have it) so the group holds the step and all its children.

/// The agent script, run as `sh -c AGENT_SCRIPT`. Kept to POSIX sh: it must work in busybox,
/// dash and any user image that has a `/bin/sh`.
pub(crate) const AGENT_SCRIPT: &str = r#"p=
stop() { [ -n "$p" ] && { kill -"$1" -- "-$p" 2>/dev/null || kill -"$1" "$p" 2>/dev/null; }; }
trap 'stop TERM' USR1
trap 'stop KILL' USR2
s=sh
command -v setsid >/dev/null 2>&1 && s="setsid sh"
if command -v head >/dev/null 2>&1; then take() { head -c "$1"; }
else take() { i=0; while [ "$i" -lt "$2" ]; do IFS= read -r l; printf '%s\n' "$l"; i=$((i+1)); done; }
fi
while read -r n b l; do
  r=$(take "$b" "$l"; echo .)
  r=${r%.}
  printf '%s' "$r" | $s -s &
  p=$!
  while :; do wait "$p"; c=$?; kill -0 "$p" 2>/dev/null || break; done
  p=
  printf '::gantry-end-%s::%s\n' "$n" "$c"
  printf '::gantry-end-%s::%s\n' "$n" "$c" >&2
done
"#;

/// The end-of-step marker prefix for one nonce; the exit code and a newline follow it.
pub(crate) fn end_marker(nonce: &str) -> Vec<u8> {
    format!("::gantry-end-{nonce}::").into_bytes()
}

/// Quotes a string for POSIX sh: single quotes, with embedded `'` spelled `'\''`.
pub(crate) fn sh_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

fn is_shell_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Renders one step request as a sh script. The step inherits the container's environment
/// (image `ENV`, `container.env`), as `docker exec` would, with the request's variables on top.
/// Names sh cannot `export` (`A-B`) go through `env`, which every image with a shell has.
pub(crate) fn request_script(argv: &[String], env: &[(String, String)], workdir: &str) -> String {
    let mut script = String::new();
    let mut odd = Vec::new();
    for (name, value) in env {
        if is_shell_name(name) {
            script.push_str(&format!("export {name}={}\n", sh_quote(value)));
        } else {
            odd.push(sh_quote(&format!("{name}={value}")));
        }
    }
    script.push_str(&format!(
        "cd -- {} || exit 1\nexec {}",
        sh_quote(workdir),
        if odd.is_empty() {
            String::new()
        } else {
            format!("env {} ", odd.join(" "))
        }
    ));
    let args: Vec<String> = argv.iter().map(|a| sh_quote(a)).collect();
    script.push_str(&args.join(" "));
    // The shell reads this script from its stdin; the step reads nothing.
    script.push_str(" </dev/null\n");
    script
}

/// What the host sends the agent for one step: the request line and the request.
pub(crate) fn request_message(nonce: &str, script: &str) -> String {
    let lines = script.matches('\n').count();
    format!("{nonce} {} {lines}\n{script}", script.len())
}

/// Finds the end marker in one output stream, passing through every byte before it. A marker
/// may arrive split across chunks, so a suffix that could start one is held back.
#[derive(Debug)]
pub(crate) struct MarkerScanner {
    marker: Vec<u8>,
    held: Vec<u8>,
    /// After the marker: the exit code digits, until the newline.
    tail: Option<Vec<u8>>,
}

impl MarkerScanner {
    pub(crate) fn new(nonce: &str) -> Self {
        Self {
            marker: end_marker(nonce),
            held: Vec::new(),
            tail: None,
        }
    }

    /// Feeds bytes; returns the part that is step output.
    pub(crate) fn push(&mut self, data: &[u8]) -> Vec<u8> {
        if let Some(tail) = &mut self.tail {
            tail.extend_from_slice(data);
            return Vec::new();
        }
        self.held.extend_from_slice(data);
        if let Some(pos) = find(&self.held, &self.marker) {
            let rest = self.held.split_off(pos + self.marker.len());
            self.held.truncate(pos);
            self.tail = Some(rest);
            return std::mem::take(&mut self.held);
        }
        let keep = partial_suffix(&self.held, &self.marker);
        let emit_len = self.held.len() - keep;
        self.held.drain(..emit_len).collect()
    }

    /// The step's exit code once the whole marker line has arrived.
    pub(crate) fn finished(&self) -> Option<i32> {
        let tail = self.tail.as_ref()?;
        let end = tail.iter().position(|&b| b == b'\n')?;
        // A malformed code cannot come from the agent; -1 keeps the step failed rather than hung.
        Some(
            std::str::from_utf8(&tail[..end])
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(-1),
        )
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The length of the longest suffix of `data` that is a proper prefix of `marker`.
fn partial_suffix(data: &[u8], marker: &[u8]) -> usize {
    let max = marker.len().saturating_sub(1).min(data.len());
    (1..=max)
        .rev()
        .find(|&n| data[data.len() - n..] == marker[..n])
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(nonce: &str, chunks: &[&[u8]]) -> (Vec<u8>, Option<i32>) {
        let mut s = MarkerScanner::new(nonce);
        let mut out = Vec::new();
        for c in chunks {
            out.extend(s.push(c));
        }
        (out, s.finished())
    }

    #[test]
    fn marker_split_anywhere_is_found() {
        let full = b"hello :: world::gantry-end-abc::17\n".to_vec();
        for cut in 0..full.len() {
            let (out, code) = scan("abc", &[&full[..cut], &full[cut..]]);
            assert_eq!(out, b"hello :: world", "cut at {cut}");
            assert_eq!(code, Some(17));
        }
    }

    #[test]
    fn other_nonce_is_plain_output() {
        let (out, code) = scan("abc", &[b"::gantry-end-xyz::0\nrest"]);
        assert_eq!(out, b"::gantry-end-xyz::0\nrest");
        assert_eq!(code, None);
    }

    #[test]
    fn partial_prefix_is_released_when_not_a_marker() {
        let mut s = MarkerScanner::new("abc");
        assert_eq!(s.push(b"x::gan"), b"x");
        assert_eq!(s.push(b"dalf"), b"::gandalf");
    }

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn odd_env_names_use_env() {
        let s = request_script(
            &["echo".into(), "a b".into()],
            &[("A".into(), "1".into()), ("B-C".into(), "2".into())],
            "/w",
        );
        assert_eq!(
            s,
            "export A='1'\ncd -- '/w' || exit 1\nexec env 'B-C=2' 'echo' 'a b' </dev/null\n"
        );
    }

    #[test]
    fn messages_count_bytes_and_lines() {
        let script = "export A='é\nb'\nexec 'x'\n";
        assert_eq!(
            request_message("n1", script),
            format!("n1 {} 3\n{script}", script.len())
        );
    }
}
