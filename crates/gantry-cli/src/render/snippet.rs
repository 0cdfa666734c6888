//! The source line under a diagnostic, with a caret/underline, drawn by annotate-snippets.

use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

/// The line holding `span.start`, with `span` underlined (clamped to that line: a span over a
/// whole job would otherwise draw a box around dozens of lines). An empty span gets one caret.
pub fn render(source: &str, span: Range<usize>, level: Level<'_>, color: bool) -> String {
    let start = floor_boundary(source, span.start.min(source.len()));
    let line_begin = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[start..]
        .find(['\n', '\r'])
        .map_or(source.len(), |i| start + i);
    let end = floor_boundary(source, span.end.clamp(start, line_end));
    let line_number = source[..line_begin].matches('\n').count() + 1;
    let line = &source[line_begin..line_end];
    let report = [Group::with_level(level).element(
        Snippet::source(line)
            .line_start(line_number)
            .annotation(AnnotationKind::Primary.span(start - line_begin..end - line_begin)),
    )];
    renderer(color).render(&report)
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

    #[test]
    fn underlines_the_span_on_its_line() {
        let src = "on: push\njobs:\n  build:\n    runs-on: [\n";
        let out = render(src, 28..35, Level::ERROR, false);
        insta::assert_snapshot!(out);
    }

    #[test]
    fn empty_span_gets_a_caret() {
        let src = "a: 1\nbb: 2\n";
        insta::assert_snapshot!(render(src, 7..7, Level::WARNING, false));
    }

    #[test]
    fn multi_line_span_is_clamped_and_offsets_inside_chars_do_not_panic() {
        let src = "é: 1\nx: 2\n";
        insta::assert_snapshot!(render(src, 1..9, Level::ERROR, false));
    }
}
