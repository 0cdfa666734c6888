//! The source line under a diagnostic, with a caret/underline, drawn by annotate-snippets.

use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

/// The line holding `span.start`, with `span` underlined (clamped to that line: a span over a
/// whole job would otherwise draw a box around dozens of lines). An empty span gets one caret.
/// `line` is the diagnostic's own line number, shown as is.
pub fn render(
    source: &str,
    span: Range<usize>,
    line: u32,
    level: Level<'_>,
    color: bool,
) -> String {
    let start = floor_boundary(source, span.start.min(source.len()));
    let line_begin = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[start..]
        .find(['\n', '\r'])
        .map_or(source.len(), |i| start + i);
    let end = floor_boundary(source, span.end.clamp(start, line_end));
    // The diagnostic knows its line: counting newlines before it, once per diagnostic, made
    // rendering quadratic in the size of files with many findings.
    let line_number = usize::try_from(line).unwrap_or(1).max(1);
    let line = &source[line_begin..line_end];
    if !color
        && let Some(plain) = plain_fast(line, line_number, start - line_begin, end - line_begin)
    {
        return plain;
    }
    let report = [Group::with_level(level).element(
        Snippet::source(line)
            .line_start(line_number)
            .annotation(AnnotationKind::Primary.span(start - line_begin..end - line_begin)),
    )];
    renderer(color).render(&report)
}

/// What annotate-snippets draws for a plain line, without it: over a corpus with thousands of
/// findings its general layout (wide characters, tabs, long-line trimming) was a seventh of
/// `gantry validate`'s time. Only lines where the two agree exactly take this path: ASCII
/// without tabs, trailing blanks or deep indentation, well under the terminal width (a test
/// compares them).
fn plain_fast(line: &str, number: usize, start: usize, end: usize) -> Option<String> {
    let simple = !line.is_empty()
        && line.len() <= 100
        && line.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        && !line.ends_with(' ')
        // Deep indentation is elided with `...` by annotate-snippets.
        && line.len() - line.trim_start().len() <= 20;
    if !simple || start > line.len() {
        return None;
    }
    let width = number.to_string().len();
    let carets = (end.saturating_sub(start)).max(1);
    let pad = " ".repeat(width);
    Some(format!(
        "{pad} |\n{number} | {line}\n{pad} | {}{}",
        " ".repeat(start),
        "^".repeat(carets)
    ))
}

pub fn renderer(color: bool) -> Renderer {
    if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    }
}

/// The largest char boundary at or before `i`: spans come from another crate and a byte offset
/// inside a multi-byte character must not panic here.
fn floor_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path draws exactly what annotate-snippets draws, on every line of real files.
    #[test]
    fn the_plain_fast_path_matches_annotate_snippets() {
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/conformance/realworld");
        let mut compared = 0;
        for entry in std::fs::read_dir(corpus).unwrap().take(200) {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for (index, line) in text.lines().enumerate() {
                let number = index * 97 + 1;
                for (start, end) in [(0, line.len()), (line.len() / 2, line.len()), (1, 1)] {
                    let Some(fast) = plain_fast(line, number, start.min(line.len()), end) else {
                        continue;
                    };
                    let end = end.min(line.len()).max(start.min(line.len()));
                    let start = start.min(line.len());
                    let report = [Group::with_level(Level::ERROR).element(
                        Snippet::source(line)
                            .line_start(number)
                            .annotation(AnnotationKind::Primary.span(start..end)),
                    )];
                    assert_eq!(
                        fast,
                        renderer(false).render(&report),
                        "{line:?} {start}..{end}"
                    );
                    compared += 1;
                }
            }
        }
        assert!(compared > 1000, "{compared}");
    }

    #[test]
    fn underlines_the_span_on_its_line() {
        let src = "on: push\njobs:\n  build:\n    runs-on: [\n";
        let out = render(src, 28..35, 4, Level::ERROR, false);
        insta::assert_snapshot!(out);
    }

    #[test]
    fn empty_span_gets_a_caret() {
        let src = "a: 1\nbb: 2\n";
        insta::assert_snapshot!(render(src, 7..7, 2, Level::WARNING, false));
    }

    #[test]
    fn multi_line_span_is_clamped_and_offsets_inside_chars_do_not_panic() {
        let src = "é: 1\nx: 2\n";
        insta::assert_snapshot!(render(src, 1..9, 1, Level::ERROR, false));
    }
}
