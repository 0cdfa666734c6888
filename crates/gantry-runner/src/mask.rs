//! Secret masking: every secret and every `add-mask` value becomes `***` in everything a run
//! emits (log lines, annotations, summaries, step output files).
//!
//! Like the runner's secret masker, a value is registered together with its lines (a multi-line
//! secret usually reaches the log one line at a time) and the forms a program commonly prints
//! it in (JSON-escaped, base64). Overlapping matches are merged into one `***`.
//!
//! [`StreamMasker`] masks a byte stream cut at arbitrary places: it holds back only the longest
//! tail of the input that could still grow into a secret.

use std::collections::BTreeSet;
use std::sync::{Arc, PoisonError, RwLock};

/// The set of values to hide. Cheap to clone (a job starts from the run's secrets).
#[derive(Debug, Clone, Default)]
pub struct Masker {
    /// Longest first, so the longest-possible hold-back is found fast.
    values: BTreeSet<MaskValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct MaskValue {
    /// `Reverse` length ordering keeps the longest values first.
    neg_len: std::cmp::Reverse<usize>,
    bytes: Vec<u8>,
}

pub const MASK: &str = "***";

impl Masker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a secret (from `secrets` or `add-mask`): the value, each of its lines, and
    /// its common encodings. Blank values are ignored (masking them would hide every space).
    pub fn add(&mut self, value: &str) {
        if value.trim().is_empty() {
            return;
        }
        self.insert(value);
        for line in value.split(['\r', '\n']) {
            if !line.trim().is_empty() {
                self.insert(line);
            }
        }
        let json = json_escape(value);
        if json != value {
            self.insert(&json);
        }
        self.insert(base64_trimmed(value.as_bytes()).as_str());
    }

    fn insert(&mut self, value: &str) {
        if value.is_empty() {
            return;
        }
        self.values.insert(MaskValue {
            neg_len: std::cmp::Reverse(value.len()),
            bytes: value.as_bytes().to_vec(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Masks a complete piece of text.
    pub fn mask(&self, text: &str) -> String {
        if self.values.is_empty() {
            return text.to_owned();
        }
        let bytes = mask_bytes(self, text.as_bytes(), text.len());
        // Replacing whole UTF-8 sequences by ASCII keeps the text valid UTF-8, except when a
        // registered value itself cut a character; fall back to lossy conversion then.
        String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// The byte ranges of every occurrence of every value, merged where they overlap (adjacent
    /// matches stay separate, so a stream cut between them masks the same way).
    fn ranges(&self, text: &[u8]) -> Vec<(usize, usize)> {
        let mut found: Vec<(usize, usize)> = Vec::new();
        for value in &self.values {
            let needle = &value.bytes;
            let mut start = 0;
            while let Some(at) = find(&text[start..], needle) {
                found.push((start + at, start + at + needle.len()));
                start += at + 1;
            }
        }
        found.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for (s, e) in found {
            match merged.last_mut() {
                Some(last) if s < last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        merged
    }

    /// The length of the longest tail of `text` that is a proper prefix of some value.
    fn partial_tail(&self, text: &[u8]) -> usize {
        let mut best = 0;
        for value in &self.values {
            let max = (value.bytes.len() - 1).min(text.len());
            for k in (best + 1..=max).rev() {
                if text[text.len() - k..] == value.bytes[..k] {
                    best = k;
                    break;
                }
            }
        }
        best
    }
}

/// A job's masker, shared by the job task (which registers `add-mask` values as steps print
/// them) and the dispatcher, which masks every event with it on the way out. Sharing one value
/// keeps a mask registered by a step in force for every event the job sends after it.
#[derive(Debug, Clone, Default)]
pub struct SharedMasker(Arc<RwLock<Masker>>);

impl SharedMasker {
    pub fn new(masker: Masker) -> Self {
        Self(Arc::new(RwLock::new(masker)))
    }

    /// Registers a value, as [`Masker::add`].
    pub fn add(&self, value: &str) {
        // A panic while holding the lock cannot leave the set half-updated in a way that
        // unmasks anything (inserts only), so a poisoned lock is still safe to use.
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .add(value);
    }

    /// Masks a complete piece of text, as [`Masker::mask`].
    pub fn mask(&self, text: &str) -> String {
        self.read().mask(text)
    }

    /// The current set of values (to mask several strings under one lock, or start another
    /// job's masker from this one).
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, Masker> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Masks `text[..cut]` using the matches that lie inside it.
fn mask_bytes(masker: &Masker, text: &[u8], cut: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(cut);
    let mut pos = 0;
    for (s, e) in masker.ranges(&text[..cut]) {
        out.extend_from_slice(&text[pos..s]);
        out.extend_from_slice(MASK.as_bytes());
        pos = e;
    }
    out.extend_from_slice(&text[pos..cut]);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Masks a stream of chunks. Output is masked exactly as if the whole stream had been masked at
/// once; at most (longest value − 1) bytes, plus a match they overlap, are held back.
#[derive(Debug, Default)]
pub struct StreamMasker {
    pending: Vec<u8>,
}

impl StreamMasker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk; returns the bytes that are now safe to emit.
    pub fn push(&mut self, masker: &Masker, chunk: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(chunk);
        let cut = self.safe_cut(masker);
        let out = mask_bytes(masker, &self.pending, cut);
        self.pending.drain(..cut);
        out
    }

    /// Emits everything held back (end of stream).
    pub fn finish(&mut self, masker: &Masker) -> Vec<u8> {
        let text = std::mem::take(&mut self.pending);
        mask_bytes(masker, &text, text.len())
    }

    /// How much of `pending` can be emitted: not the tail that may still become a secret, and
    /// not any match that reaches into that tail (a longer overlapping match may still form).
    fn safe_cut(&self, masker: &Masker) -> usize {
        let text = &self.pending;
        let mut cut = text.len() - masker.partial_tail(text);
        for (s, e) in masker.ranges(text).into_iter().rev() {
            // A future match can only start inside the held-back tail, so a match ending at
            // `cut` is final.
            if e > cut {
                cut = cut.min(s);
            }
        }
        cut
    }
}

fn json_escape(value: &str) -> String {
    let quoted = serde_json::to_string(value).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or_default()
        .to_owned()
}

/// Standard base64 without the trailing `=` padding, which may differ when the value is part of
/// a longer encoded string.
fn base64_trimmed(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(TABLE[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    // The last character of a partial group depends on what follows; drop it so the value is
    // still found inside a longer encoding.
    if !bytes.len().is_multiple_of(3) {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn masker(values: &[&str]) -> Masker {
        let mut m = Masker::new();
        for v in values {
            m.add(v);
        }
        m
    }

    #[test]
    fn masks_values_and_merges_overlaps() {
        let m = masker(&["abc", "bcd"]);
        assert_eq!(m.mask("xabcdy abc"), "x***y ***");
    }

    #[test]
    fn multi_line_secret_masked_per_line() {
        let m = masker(&["line1\nline2"]);
        assert_eq!(m.mask("line2"), "***");
        assert_eq!(m.mask("a line1\nline2 b"), "a *** b");
    }

    #[test]
    fn blank_values_are_ignored() {
        let m = masker(&["", "  "]);
        assert!(m.is_empty());
        assert_eq!(m.mask("a  b"), "a  b");
    }

    #[test]
    fn encodings_are_masked() {
        let m = masker(&["p\"w"]);
        assert_eq!(m.mask(r#"{"k":"p\"w"}"#), r#"{"k":"***"}"#);
        let m = masker(&["hunter22"]);
        // The last, partial base64 group depends on what follows the value, so it stays.
        assert_eq!(m.mask("aHVudGVyMjI="), "***I=");
    }

    #[test]
    fn base64_matches_reference() {
        assert_eq!(base64_trimmed(b"Man"), "TWFu");
        assert_eq!(base64_trimmed(b"Ma"), "TW");
        assert_eq!(base64_trimmed(b"M"), "T");
    }

    #[test]
    fn split_secret_is_masked() {
        let m = masker(&["s3cr3t"]);
        let mut s = StreamMasker::new();
        let mut out = s.push(&m, b"x s3c");
        assert_eq!(out, b"x ");
        out.extend(s.push(&m, b"r3t y"));
        out.extend(s.finish(&m));
        assert_eq!(String::from_utf8(out).unwrap(), "x *** y");
    }

    fn stream(m: &Masker, text: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut s = StreamMasker::new();
        let mut out = Vec::new();
        let mut last = 0;
        for &c in cuts {
            let c = c.min(text.len()).max(last);
            out.extend(s.push(m, &text[last..c]));
            last = c;
        }
        out.extend(s.push(m, &text[last..]));
        out.extend(s.finish(m));
        out
    }

    proptest! {
        #[test]
        fn streaming_equals_whole(
            secrets in proptest::collection::vec("[ab]{1,4}", 1..3),
            text in "[abc]{0,40}",
            mut cuts in proptest::collection::vec(0usize..40, 0..6),
        ) {
            cuts.sort_unstable();
            let mut m = Masker::new();
            for s in &secrets { m.insert(s); }
            let whole = m.mask(&text);
            let streamed = String::from_utf8(stream(&m, text.as_bytes(), &cuts)).unwrap();
            prop_assert_eq!(streamed, whole);
        }

        #[test]
        fn no_secret_survives(secret in "[a-z]{3,8}", pre in "[a-z ]{0,10}", post in "[a-z ]{0,10}") {
            let m = masker(&[&secret]);
            let text = format!("{pre}{secret}{post}");
            let masked = m.mask(&text);
            prop_assert!(!masked.contains(&secret));
        }
    }
}
