//! Positions inside a file: byte offsets to lines and columns, and offsets inside a scalar's
//! *value* (a `run:` script, an `if:` condition) back to where that text is in the file.
//!
//! The model keeps values decoded (block scalars lose their indentation, quotes are gone), so a
//! rule that finds something at byte 40 of a script must find byte 40 in the source. Each line
//! of the value is looked up in the source in order from the scalar's start: that is exact for
//! plain, quoted (without escapes) and literal block scalars, which is nearly every script. A
//! line that cannot be found (folded text, escapes) maps to the start of the scalar.

use gantry_workflow::{Pos, Span};

/// Line starts of one file, for offset → line/column.
pub struct SourceMap<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> SourceMap<'a> {
    pub fn new(text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceMap { text, line_starts }
    }

    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The 1-based line and column (in characters, as gantry's positions count) of `offset`.
    pub fn pos(&self, offset: usize) -> Pos {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        Pos {
            line: u32::try_from(line + 1).unwrap_or(u32::MAX),
            col: u32::try_from(col + 1).unwrap_or(u32::MAX),
            offset,
        }
    }

    pub fn span(&self, start: usize, end: usize) -> Span {
        Span {
            start: self.pos(start),
            end: self.pos(end.max(start)),
        }
    }

    /// How the value of `scalar` lies in the source.
    pub fn scalar(&self, value: &str, span: Span) -> ScalarMap {
        ScalarMap::new(self.text, value, span)
    }
}

/// Where each line of a scalar's value starts in the source (`None`: not found verbatim).
pub struct ScalarMap {
    /// (offset of the line in the value, offset in the source).
    lines: Vec<(usize, Option<usize>)>,
    fallback: usize,
}

impl ScalarMap {
    fn new(text: &str, value: &str, span: Span) -> Self {
        let start = span.start.offset.min(text.len());
        let end = span.end.offset.clamp(start, text.len());
        let raw = &text[start..end];
        // Skip a block scalar's header line and an opening quote: content starts after them.
        let mut cursor = match raw.as_bytes().first() {
            Some(b'|' | b'>') => raw.find('\n').map_or(raw.len(), |n| n + 1),
            Some(b'"' | b'\'') => 1,
            _ => 0,
        };
        let fallback = start + cursor.min(raw.len());
        let mut lines = Vec::new();
        let mut value_offset = 0;
        for line in value.split('\n') {
            let found = if line.is_empty() {
                Some(cursor)
            } else {
                raw.get(cursor..)
                    .and_then(|rest| rest.find(line))
                    .map(|p| cursor + p)
            };
            if let Some(at) = found {
                cursor = at + line.len();
            }
            lines.push((value_offset, found.map(|f| start + f)));
            value_offset += line.len() + 1;
        }
        ScalarMap { lines, fallback }
    }

    /// The source offset of byte `offset` of the value.
    pub fn offset(&self, offset: usize) -> usize {
        let index = self
            .lines
            .partition_point(|(line_start, _)| *line_start <= offset)
            .saturating_sub(1);
        match self.lines.get(index) {
            Some((line_start, Some(source))) => source + (offset - line_start),
            _ => self.fallback,
        }
    }

    /// The source offset where line `index` (0-based) of the value starts, if found verbatim.
    pub fn line_start(&self, index: usize) -> Option<usize> {
        self.lines.get(index).and_then(|(_, s)| *s)
    }

    /// The source offset of the scalar's first content byte.
    pub fn fallback(&self) -> usize {
        self.fallback
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_workflow::Spanned;

    fn spanned(text: &str, from: &str, value: &str) -> Spanned<String> {
        let start = text.find(from).unwrap();
        let end = start + from.len();
        let pos = |o| SourceMap::new(text).pos(o);
        Spanned::new(
            value.to_owned(),
            Span {
                start: pos(start),
                end: pos(end),
            },
        )
    }

    #[test]
    fn literal_block_lines_map_to_their_source_lines() {
        let text = "run: |\n  echo a\n    echo b\n";
        let scalar = spanned(text, "|\n  echo a\n    echo b\n", "echo a\n  echo b\n");
        let map = SourceMap::new(text);
        let scalar_map = map.scalar(&scalar.value, scalar.span);
        let pos = map.pos(scalar_map.offset("echo a\n  echo ".len()));
        assert_eq!((pos.line, pos.col), (3, 10));
    }

    #[test]
    fn quoted_scalars_skip_the_quote() {
        let text = "run: 'echo x'\n";
        let scalar = spanned(text, "'echo x'", "echo x");
        let map = SourceMap::new(text);
        let pos = map.pos(map.scalar(&scalar.value, scalar.span).offset(5));
        assert_eq!((pos.line, pos.col), (1, 12));
    }
}
