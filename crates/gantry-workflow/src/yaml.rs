//! A small positioned YAML tree built from `saphyr-parser` events.
//!
//! Scalars are typed the way GitHub's workflow reader types them (YAML 1.2 core schema: `yes` is a
//! string, `0x1F` a number, `12_345` a string), explicit core tags are honoured, and anything
//! GitHub rejects (anchors, aliases, other tags, a tag that does not fit its scalar) becomes a
//! diagnostic instead of an error that stops reading.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError, Tag};

use crate::memory::{MIN_OBJECT_SIZE, string_bytes};
use crate::model::{Diagnostic, Pos, Severity, Span};

/// One node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Seq(Vec<Node>),
    /// Keys in source order, duplicates included (the schema walker reports them).
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn is_scalar(&self) -> bool {
        !matches!(self.kind, NodeKind::Seq(_) | NodeKind::Map(_))
    }

    /// The string value if this is a string scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::String(s) => Some(s),
            _ => None,
        }
    }

    /// A scalar as GitHub turns it into a string (`null` → `""`, `1e3` → `"1000"`).
    pub fn scalar_to_string(&self) -> Option<String> {
        match &self.kind {
            NodeKind::Null => Some(String::new()),
            NodeKind::Bool(b) => Some(b.to_string()),
            NodeKind::Number(n) => Some(format_number(*n)),
            NodeKind::String(s) => Some(s.clone()),
            NodeKind::Seq(_) | NodeKind::Map(_) => None,
        }
    }

    /// The entries of a mapping node (empty for anything else).
    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.kind {
            NodeKind::Map(entries) => entries,
            _ => &[],
        }
    }

    /// The value of the first entry whose key is the string `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }
}

/// Formats a number as GitHub does when it coerces one to a string: .NET's `G15` format. One
/// formatter serves the reader and the expression engine, so `1e-5` reads the same in both.
pub use gantry_expr::format_number;

/// The result of reading a YAML file: the root node (absent after a syntax error or for an
/// empty stream) and every problem found.
#[derive(Debug, Default)]
pub struct YamlDoc {
    pub root: Option<Node>,
    pub diagnostics: Vec<Diagnostic>,
    /// The file's tokens as written, by GitHub's per-token estimate ([`token_bytes`]), summed
    /// while reading. A coarse bound only: the `max-result-size` count that matters is the
    /// schema walk's over what GitHub's reader accepts ([`crate::memory`]).
    pub result_size: usize,
}

/// What the reader accepts beyond GitHub's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YamlOptions {
    /// Resolve anchors and aliases instead of rejecting them (GitHub's `AllowAnchors`).
    pub allow_anchors: bool,
    /// Collections nested deeper than this are an error (GitHub: 50).
    pub max_depth: usize,
    /// Most bytes the file's tokens may take by GitHub's estimate (GitHub: 10 MB).
    pub max_result_size: usize,
}

impl Default for YamlOptions {
    fn default() -> Self {
        Self {
            allow_anchors: false,
            max_depth: 50,
            max_result_size: DEFAULT_MAX_RESULT_SIZE,
        }
    }
}

/// GitHub's default limit on the estimated size of a workflow and everything it calls.
pub const DEFAULT_MAX_RESULT_SIZE: usize = 10 * 1024 * 1024;

/// What GitHub's reader would charge for one token read as it is written, without its children
/// (the YAML-level estimate; the authoritative count is the schema walk's, see
/// [`crate::memory`]).
pub fn token_bytes(kind: &NodeKind) -> usize {
    match kind {
        NodeKind::String(s) => string_bytes(s),
        _ => MIN_OBJECT_SIZE,
    }
}

/// [`token_bytes`] for a node and everything in it (an alias repeats its anchor's tokens).
fn tree_bytes(node: &Node) -> usize {
    let children: usize = match &node.kind {
        NodeKind::Seq(items) => items.iter().map(tree_bytes).sum(),
        NodeKind::Map(entries) => entries
            .iter()
            .map(|(k, v)| tree_bytes(k) + tree_bytes(v))
            .sum(),
        _ => 0,
    };
    token_bytes(&node.kind) + children
}

/// Reads `source` into a tree. Never panics; syntax errors become diagnostics.
pub fn read(source: &str, options: YamlOptions) -> YamlDoc {
    let mut doc = read_patched(source, options);
    if let Some(d) = control_character(source) {
        doc.diagnostics.insert(0, d);
    }
    doc
}

/// YAML streams may not contain control characters other than tab and line breaks (escapes in
/// double-quoted strings are fine); GitHub's parser rejects them, saphyr lets some through.
fn control_character(source: &str) -> Option<Diagnostic> {
    let offset = first_control_character(source.as_bytes())?;
    let c = source[offset..].chars().next()?;
    let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let pos = Pos {
        line: to_u32(source[..offset].matches('\n').count() + 1),
        col: to_u32(source[line_start..offset].chars().count() + 1),
        offset,
    };
    Some(Diagnostic {
        severity: Severity::Error,
        span: Span {
            start: pos,
            end: Pos {
                offset: offset + c.len_utf8(),
                col: pos.col + 1,
                ..pos
            },
        },
        message: format!(
            "YAML syntax error: control character U+{:04X} is not allowed",
            c as u32
        ),
        rule: "syntax",
    })
}

/// The byte offset of the first character [`control_character`] rejects: C0 controls but tab
/// and line breaks, DEL, C1 controls but NEL (U+0085), U+FFFE and U+FFFF. Works on bytes,
/// because decoding every character of every file was a tenth of `gantry validate`'s time: runs
/// of printable ASCII are skipped a block at a time (a loop the compiler vectorises), and only
/// blocks with anything else are looked at byte by byte. In valid UTF-8, 0xC2 and 0xEF only
/// ever start a character, so matching them needs no decoding.
fn first_control_character(bytes: &[u8]) -> Option<usize> {
    const BLOCK: usize = 32;
    let plain = |b: u8| (b.wrapping_sub(0x20) < 0x5f) | (b == b'\n') | (b == b'\t') | (b == b'\r');
    let mut from = 0;
    for block in bytes.chunks(BLOCK) {
        let all_plain = block.iter().fold(true, |ok, &b| ok & plain(b));
        if !all_plain {
            let found = (from..from + block.len()).find(|&i| is_control_at(bytes, i));
            if found.is_some() {
                return found;
            }
        }
        from += block.len();
    }
    None
}

/// Whether a rejected character starts at byte `i` (see [`first_control_character`]).
fn is_control_at(bytes: &[u8], i: usize) -> bool {
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    match at(i) {
        b'\t' | b'\n' | b'\r' => false,
        0x00..=0x1f | 0x7f => true,
        0xc2 => matches!(at(i + 1), 0x80..=0x84 | 0x86..=0x9f),
        0xef => at(i + 1) == 0xbf && matches!(at(i + 2), 0xbe | 0xbf),
        _ => false,
    }
}

fn read_patched(source: &str, options: YamlOptions) -> YamlDoc {
    let mut patched: Option<String> = None;
    // GitHub's YAML parser accepts a comment glued to a flow collection (`[a]# note`), which
    // saphyr rejects: blank such comments out (same byte length, so positions hold) and retry.
    for _ in 0..MAX_COMMENT_PATCHES {
        let text = patched.as_deref().unwrap_or(source);
        match read_once(text, options) {
            Ok(doc) => return doc,
            Err((doc, Some(offset))) => {
                let mut bytes = text.as_bytes().to_vec();
                for b in bytes[offset..].iter_mut().take_while(|b| **b != b'\n') {
                    *b = b' ';
                }
                match String::from_utf8(bytes) {
                    Ok(s) => patched = Some(s),
                    Err(_) => return doc,
                }
            }
            Err((doc, None)) => return doc,
        }
    }
    read_once(patched.as_deref().unwrap_or(source), options).unwrap_or_else(|(doc, _)| doc)
}

const MAX_COMMENT_PATCHES: usize = 64;

/// One attempt. On a syntax error, also the byte offset of a glued comment's `#`, if that was
/// the problem.
fn read_once(source: &str, options: YamlOptions) -> Result<YamlDoc, (YamlDoc, Option<usize>)> {
    let mut builder = Builder::new(source, options);
    let mut parser = Parser::new_from_str(source);
    while let Some(event) = parser.next_event() {
        match event {
            Ok((event, span)) => {
                if !builder.on_event(event, span.start, span.end) {
                    break;
                }
            }
            Err(err) => {
                let offset = builder.positions.byte_offset(err.marker().index());
                let glued = err.info().starts_with("comments must be separated")
                    && source.as_bytes().get(offset) == Some(&b'#');
                builder.syntax_error(&err);
                let doc = YamlDoc {
                    root: None,
                    diagnostics: builder.diagnostics,
                    result_size: builder.result_size,
                };
                return Err((doc, glued.then_some(offset)));
            }
        }
    }
    Ok(YamlDoc {
        root: builder.root,
        diagnostics: builder.diagnostics,
        result_size: builder.result_size,
    })
}

/// Maps saphyr's character-based markers to our positions (byte offsets, 1-based columns).
/// Markers arrive almost in order, so a cursor walked from the last one converts character
/// indices to byte offsets without a table.
struct Positions<'a> {
    source: &'a str,
    ascii: bool,
    /// The last conversion: `(char index, byte offset)`.
    cursor: std::cell::Cell<(usize, usize)>,
}

impl<'a> Positions<'a> {
    fn new(source: &'a str) -> Self {
        Self {
            source,
            ascii: source.is_ascii(),
            cursor: std::cell::Cell::new((0, 0)),
        }
    }

    fn byte_offset(&self, char_index: usize) -> usize {
        if self.ascii {
            return char_index.min(self.source.len());
        }
        let (mut chars, mut bytes) = self.cursor.get();
        for c in self.source[..bytes].chars().rev() {
            if chars <= char_index {
                break;
            }
            chars -= 1;
            bytes -= c.len_utf8();
        }
        for c in self.source[bytes..].chars() {
            if chars == char_index {
                break;
            }
            chars += 1;
            bytes += c.len_utf8();
        }
        self.cursor.set((chars, bytes));
        bytes
    }

    fn pos(&self, m: Marker) -> Pos {
        Pos {
            line: to_u32(m.line()),
            col: to_u32(m.col() + 1),
            offset: self.byte_offset(m.index()),
        }
    }
}

/// The position of byte `offset`, counting from `from` (which lies before it).
fn advance(src: &[u8], from: Pos, offset: usize) -> Pos {
    let mut pos = from;
    for &b in &src[from.offset.min(offset)..offset] {
        if b == b'\n' {
            pos.line += 1;
            pos.col = 1;
        } else if b & 0xC0 != 0x80 {
            // Columns count characters: skip UTF-8 continuation bytes.
            pos.col += 1;
        }
    }
    pos.offset = offset;
    pos
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A collection being built, with its start and anchor id (0: none).
enum Frame {
    Seq(Vec<Node>, Pos, usize),
    /// Entries so far, a key waiting for its value.
    Map(Vec<(Node, Node)>, Option<Node>, Pos, usize),
}

struct Builder<'a> {
    positions: Positions<'a>,
    stack: Vec<Frame>,
    root: Option<Node>,
    documents: usize,
    diagnostics: Vec<Diagnostic>,
    /// Where the previous event ended: block scalars are located from there.
    last_end: Pos,
    options: YamlOptions,
    /// Open collections inside one that is being skipped for depth (0: not skipping).
    skipping: usize,
    skipped_start: Pos,
    /// Anchored nodes by anchor id, when anchors are allowed.
    anchors: HashMap<usize, Node>,
    depth_reported: bool,
    /// Bytes charged so far, as GitHub's template memory counts them: a counter kept while
    /// reading, so the limit costs no second walk.
    result_size: usize,
    size_reported: bool,
}

impl<'a> Builder<'a> {
    fn new(source: &'a str, options: YamlOptions) -> Self {
        Self {
            options,
            anchors: HashMap::new(),
            depth_reported: false,
            result_size: 0,
            size_reported: false,
            skipping: 0,
            skipped_start: Pos::default(),
            positions: Positions::new(source),
            stack: Vec::new(),
            root: None,
            documents: 0,
            diagnostics: Vec::new(),
            last_end: Pos::default(),
        }
    }

    /// A YAML feature GitHub does not accept (the file itself is well-formed).
    fn error(&mut self, span: Span, message: String) {
        self.diagnostics.push(Diagnostic {
            severity: Severity::Error,
            span,
            message,
            rule: "yaml",
        });
    }

    fn syntax_error(&mut self, err: &ScanError) {
        let pos = self.positions.pos(*err.marker());
        self.diagnostics.push(Diagnostic {
            severity: Severity::Error,
            span: Span {
                start: pos,
                end: pos,
            },
            message: syntax_message(err.info()),
            rule: "syntax",
        });
    }

    /// Adds a token's bytes; the token that first passes the limit is reported, as GitHub
    /// stops there. Reading goes on so that other problems are still found.
    fn charge(&mut self, bytes: usize, span: Span) {
        self.result_size = self.result_size.saturating_add(bytes);
        if self.result_size > self.options.max_result_size && !self.size_reported {
            self.size_reported = true;
            self.error(span, "Maximum object size exceeded".into());
        }
    }

    /// Starts a collection. Past the depth limit the collection is reported once and skipped
    /// (it becomes a null), so hostile nesting cannot exhaust the stack of later passes.
    fn open(&mut self, frame: Frame, span: Span) {
        if self.stack.len() >= self.options.max_depth {
            if !self.depth_reported {
                self.depth_reported = true;
                self.error(span, "Maximum object depth exceeded".into());
            }
            self.skipping = 1;
            self.skipped_start = span.start;
            return;
        }
        self.stack.push(frame);
    }

    /// While skipping a too-deep collection: track nesting until it closes.
    fn skip(&mut self, event: &Event<'_>, end: Pos) {
        match event {
            Event::SequenceStart(..) | Event::MappingStart(..) => self.skipping += 1,
            Event::SequenceEnd | Event::MappingEnd => self.skipping -= 1,
            _ => {}
        }
        if self.skipping == 0 {
            let span = Span {
                start: self.skipped_start,
                end,
            };
            self.push(
                Node {
                    kind: NodeKind::Null,
                    span,
                },
                0,
            );
        }
    }

    /// Handles one event; `false` stops reading (a second document).
    fn on_event(&mut self, event: Event<'_>, start: Marker, end: Marker) -> bool {
        let span = Span {
            start: self.positions.pos(start),
            end: self.positions.pos(end),
        };
        let last_end = std::mem::replace(&mut self.last_end, span.end);
        if self.skipping > 0 {
            self.skip(&event, span.end);
            return true;
        }
        match event {
            Event::DocumentStart(_) => return self.document_start(span),
            Event::Scalar(value, style, anchor, tag) => {
                let span =
                    self.scalar_span(&value, style, tag.is_some() || anchor != 0, span, last_end);
                self.check_anchor(anchor, span);
                let kind = self.scalar_kind(value, style, tag.as_deref(), span);
                self.charge(token_bytes(&kind), span);
                self.push(Node { kind, span }, anchor);
            }
            Event::SequenceStart(anchor, tag) => {
                self.check_anchor(anchor, span);
                self.check_collection_tag(tag.as_deref(), "seq", span);
                self.charge(MIN_OBJECT_SIZE, span);
                self.open(Frame::Seq(Vec::new(), span.start, anchor), span);
            }
            Event::MappingStart(anchor, tag) => {
                self.check_anchor(anchor, span);
                self.check_collection_tag(tag.as_deref(), "map", span);
                self.charge(MIN_OBJECT_SIZE, span);
                self.open(Frame::Map(Vec::new(), None, span.start, anchor), span);
            }
            // Block collections end where the next token starts (an empty span): end them at
            // their last child instead, as editors expect.
            Event::SequenceEnd | Event::MappingEnd => {
                self.close((span.start != span.end).then_some(span.end));
            }
            Event::Alias(id) => {
                let node = self.alias(id, span);
                self.charge(tree_bytes(&node), span);
                self.push(node, 0);
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        true
    }

    /// A workflow is one document; a second one stops reading.
    fn document_start(&mut self, span: Span) -> bool {
        self.documents += 1;
        if self.documents == 1 {
            return true;
        }
        self.diagnostics.push(Diagnostic {
            severity: Severity::Error,
            span,
            message: "Only one YAML document is allowed in a workflow file".into(),
            rule: "syntax",
        });
        false
    }

    fn close(&mut self, end: Option<Pos>) {
        let (kind, start, anchor) = match self.stack.pop() {
            Some(Frame::Seq(items, start, anchor)) => (NodeKind::Seq(items), start, anchor),
            Some(Frame::Map(entries, _, start, anchor)) => (NodeKind::Map(entries), start, anchor),
            None => return,
        };
        let last_child = match &kind {
            NodeKind::Seq(items) => items.last().map(|n| n.span.end),
            NodeKind::Map(entries) => entries.last().map(|(_, v)| v.span.end),
            _ => None,
        };
        let end = end.or(last_child).unwrap_or(start);
        let span = Span { start, end };
        self.push(Node { kind, span }, anchor);
    }

    /// An alias: the anchored node again when anchors are allowed, else an error.
    fn alias(&mut self, id: usize, span: Span) -> Node {
        if self.options.allow_anchors {
            if let Some(node) = self.anchors.get(&id) {
                return node.clone();
            }
        } else {
            let name = self.name_after(span.start.offset, '*');
            self.error(
                span,
                format!("Anchors are not currently supported. Remove the alias '{name}'"),
            );
        }
        Node {
            kind: NodeKind::Null,
            span,
        }
    }

    fn push(&mut self, node: Node, anchor: usize) {
        if anchor != 0 && self.options.allow_anchors {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            Some(Frame::Seq(items, ..)) => items.push(node),
            Some(Frame::Map(entries, pending, ..)) => match pending.take() {
                Some(key) => entries.push((key, node)),
                None => *pending = Some(node),
            },
            None => self.root = Some(node),
        }
    }

    /// GitHub locates a block scalar at its `|`/`>` indicator (saphyr: at its content) and an
    /// empty value just after the `:` (saphyr: at the `:`).
    fn scalar_span(
        &self,
        value: &str,
        style: ScalarStyle,
        decorated: bool,
        span: Span,
        last_end: Pos,
    ) -> Span {
        let src = self.positions.source.as_bytes();
        let start = match style {
            ScalarStyle::Literal | ScalarStyle::Folded if !decorated => {
                let from = last_end.offset.min(span.start.offset);
                match src[from..span.start.offset]
                    .iter()
                    .position(|b| matches!(b, b'|' | b'>'))
                {
                    Some(i) => advance(src, last_end, from + i),
                    None => span.start,
                }
            }
            ScalarStyle::Plain
                if value.is_empty() && !decorated && src.get(span.start.offset) == Some(&b':') =>
            {
                advance(src, span.start, span.start.offset + 1)
            }
            _ => return span,
        };
        Span {
            start,
            end: span.end.max(start),
        }
    }

    /// GitHub rejects anchors (and so aliases): report the anchor by name.
    fn check_anchor(&mut self, anchor: usize, span: Span) {
        if anchor == 0 || self.options.allow_anchors {
            return;
        }
        let name = self.name_after(span.start.offset, '&');
        self.error(
            span,
            format!("Anchors are not currently supported. Remove the anchor '{name}'"),
        );
    }

    /// The anchor or alias name written after `sigil` at or just after `offset`.
    fn name_after(&self, offset: usize, sigil: char) -> String {
        let src = self.positions.source;
        let rest = src.get(offset..).unwrap_or("");
        let Some(at) = rest.find(sigil) else {
            return String::new();
        };
        rest[at + 1..]
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | '[' | ']' | '{' | '}'))
            .collect()
    }

    fn check_collection_tag(&mut self, tag: Option<&Tag>, expected: &str, span: Span) {
        if let Some(tag) = tag {
            let full = full_tag(tag);
            if full != format!("{CORE}{expected}") {
                self.error(span, format!("Unexpected tag '{full}'"));
            }
        }
    }

    /// The scalar's type; the text moves into the node when it is a string (no copy).
    fn scalar_kind(
        &mut self,
        value: Cow<'_, str>,
        style: ScalarStyle,
        tag: Option<&Tag>,
        span: Span,
    ) -> NodeKind {
        let typed = match tag {
            None if style == ScalarStyle::Plain => plain_type(&value),
            None => None,
            Some(tag) => self.tagged_type(&value, style, tag, span),
        };
        typed.unwrap_or_else(|| NodeKind::String(value.into_owned()))
    }

    /// A scalar with an explicit tag: its type, or `None` for a string (also after an error).
    fn tagged_type(
        &mut self,
        value: &str,
        style: ScalarStyle,
        tag: &Tag,
        span: Span,
    ) -> Option<NodeKind> {
        let full = full_tag(tag);
        // `!` is YAML's non-specific tag: the scalar is a string.
        if full == "!" || full == format!("{CORE}str") {
            return None;
        }
        let Some(suffix) = full.strip_prefix(CORE).filter(|s| is_scalar_tag(s)) else {
            self.error(span, format!("Unexpected tag '{full}'"));
            return None;
        };
        let (line, col) = (span.start.line, span.start.col);
        if style != ScalarStyle::Plain {
            let style = style_name(style);
            self.error(
                span,
                format!("The scalar style '{style}' on line {line} and column {col} is not valid with the tag '{full}'"),
            );
            return None;
        }
        let typed = typed_scalar(suffix, value);
        if typed.is_none() {
            self.error(
                span,
                format!("The value '{value}' on line {line} and column {col} is invalid for the type '{full}'"),
            );
        }
        typed
    }
}

const CORE: &str = "tag:yaml.org,2002:";

/// Core-schema tags (besides `str`) that GitHub accepts on scalars.
fn is_scalar_tag(suffix: &str) -> bool {
    matches!(suffix, "null" | "bool" | "int" | "float")
}

/// A plain scalar read with an explicit core tag; `None` if the text does not fit the tag.
fn typed_scalar(suffix: &str, value: &str) -> Option<NodeKind> {
    match suffix {
        "null" => parse_null(value).then_some(NodeKind::Null),
        "bool" => parse_bool(value).map(NodeKind::Bool),
        "int" => parse_int(value).map(NodeKind::Number),
        _ => parse_float(value).map(NodeKind::Number),
    }
}

fn full_tag(tag: &Tag) -> String {
    if tag.handle == "!" {
        format!("!{}", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

fn style_name(style: ScalarStyle) -> &'static str {
    match style {
        ScalarStyle::Plain => "Plain",
        ScalarStyle::SingleQuoted => "SingleQuoted",
        ScalarStyle::DoubleQuoted => "DoubleQuoted",
        ScalarStyle::Literal => "Literal",
        ScalarStyle::Folded => "Folded",
    }
}

/// saphyr's messages start with "while parsing ..."; keep them but make them a sentence.
fn syntax_message(info: &str) -> String {
    let mut s = String::from("YAML syntax error: ");
    s.push_str(info);
    s
}

/// Types an untagged plain scalar by the YAML 1.2 core schema.
#[cfg(test)]
fn plain_scalar(value: &str) -> NodeKind {
    plain_type(value).unwrap_or_else(|| NodeKind::String(value.to_owned()))
}

/// The type of an untagged plain scalar, `None` for a string.
fn plain_type(value: &str) -> Option<NodeKind> {
    if parse_null(value) {
        return Some(NodeKind::Null);
    }
    if let Some(b) = parse_bool(value) {
        return Some(NodeKind::Bool(b));
    }
    // Numbers start with a sign, a digit or a dot: skip other text quickly.
    if !value.starts_with(|c: char| c.is_ascii_digit() || "+-.".contains(c)) {
        return None;
    }
    parse_int(value)
        .or_else(|| parse_float(value))
        .map(NodeKind::Number)
}

fn parse_null(v: &str) -> bool {
    matches!(v, "" | "~" | "null" | "Null" | "NULL")
}

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`.
fn parse_int(v: &str) -> Option<f64> {
    if let Some(oct) = v.strip_prefix("0o") {
        return radix(oct, 8);
    }
    if let Some(hex) = v.strip_prefix("0x") {
        return radix(hex, 16);
    }
    let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<f64>().ok()
}

fn radix(digits: &str, base: u32) -> Option<f64> {
    if digits.is_empty() {
        return None;
    }
    digits.chars().try_fold(0f64, |acc, c| {
        c.to_digit(base)
            .map(|d| acc * f64::from(base) + f64::from(d))
    })
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, `[-+]?.inf`, `.nan`.
fn parse_float(v: &str) -> Option<f64> {
    let unsigned = v.strip_prefix(['-', '+']).unwrap_or(v);
    let negative = v.starts_with('-');
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") {
        return Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if matches!(v, ".nan" | ".NaN" | ".NAN") {
        return Some(f64::NAN);
    }
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = all_digits(int)
        && all_digits(frac)
        && (!int.is_empty() || !frac.is_empty())
        && (mantissa.contains('.') || !int.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let d = e.strip_prefix(['-', '+']).unwrap_or(e);
        !d.is_empty() && all_digits(d)
    });
    if !mantissa_ok || !exponent_ok {
        return None;
    }
    v.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_size_counts_tokens_as_github_does() {
        // A mapping (24), `on` (24 + 26 + 2*2) and `push` (24 + 26 + 2*4); `é` is one unit.
        assert_eq!(read("on: push", YamlOptions::default()).result_size, 136);
        assert_eq!(read("on: é", YamlOptions::default()).result_size, 130);
        // The token that passes the limit is reported: `push` takes the total to 136 > 100.
        let limited = YamlOptions {
            max_result_size: 100,
            ..YamlOptions::default()
        };
        let doc = read("on: push", limited);
        let found: Vec<_> = doc
            .diagnostics
            .iter()
            .map(|d| (d.span.start.col, d.message.as_str()))
            .collect();
        assert_eq!(found, [(5, "Maximum object size exceeded")]);
    }

    #[test]
    fn core_schema_typing() {
        assert_eq!(plain_scalar("yes"), NodeKind::String("yes".into()));
        assert_eq!(plain_scalar("TRUE"), NodeKind::Bool(true));
        assert_eq!(plain_scalar("0x1F"), NodeKind::Number(31.0));
        assert_eq!(plain_scalar("12_345"), NodeKind::String("12_345".into()));
        assert_eq!(plain_scalar("3.10"), NodeKind::Number(3.1));
        assert_eq!(plain_scalar(".5"), NodeKind::Number(0.5));
        assert_eq!(plain_scalar("1e3"), NodeKind::Number(1000.0));
        assert_eq!(plain_scalar("~"), NodeKind::Null);
        assert_eq!(plain_scalar("."), NodeKind::String(".".into()));
        assert_eq!(
            plain_scalar("2002-12-14"),
            NodeKind::String("2002-12-14".into())
        );
    }

    #[test]
    fn control_characters_found_on_bytes_as_on_characters() {
        let bad = |c: char| {
            matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}')
                || matches!(c, '\u{80}'..='\u{84}' | '\u{86}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}')
        };
        // Before, inside and across the scanner's 32-byte blocks.
        let cases = (0..=0x10ffff).filter_map(char::from_u32).flat_map(|c| {
            [0, 28, 30, 31, 40].map(move |pad| (c, format!("{}\u{e9}", "a".repeat(pad))))
        });
        for (c, before) in cases {
            let text = format!("{before}{c}\u{fffd}\nxyz");
            let expected = bad(c).then_some(before.len());
            assert_eq!(
                first_control_character(text.as_bytes()),
                expected,
                "U+{:04X}",
                c as u32
            );
        }
    }
}
