//! Job summaries (`GITHUB_STEP_SUMMARY`) rendered for the page with `pulldown-cmark`, as GitHub
//! renders them: GitHub-flavoured Markdown (tables, strikethrough, task lists). A summary is
//! written by the workflow, so it is untrusted: raw HTML is shown as text, and links and images
//! keep only `http`, `https` and `mailto` targets (a `javascript:` link becomes plain text).

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, html};

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders `markdown` to HTML that can be embedded in the page.
pub fn render(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    // Unsafe links and images are dropped with their closing tag; the text between stays.
    let mut dropped: Vec<bool> = Vec::new();
    let events = Parser::new_ext(markdown, options).filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::Start(Tag::Link { ref dest_url, .. } | Tag::Image { ref dest_url, .. }) => {
            let safe = is_safe_url(dest_url);
            dropped.push(!safe);
            safe.then_some(event)
        }
        Event::End(TagEnd::Link | TagEnd::Image) => {
            let was_dropped = dropped.pop().unwrap_or(false);
            (!was_dropped).then_some(event)
        }
        other => Some(other),
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// Relative links and the schemes a summary legitimately links to; anything else (`javascript:`,
/// `data:`, `vbscript:`) could run in the page.
fn is_safe_url(url: &str) -> bool {
    let scheme_end = url.find([':', '/', '?', '#']);
    match scheme_end {
        Some(i) if url[i..].starts_with(':') => {
            let scheme = url[..i].to_ascii_lowercase();
            matches!(scheme.as_str(), "http" | "https" | "mailto")
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped_everywhere() {
        let html = render(
            "# <script>x</script>\n- <img src=x onerror=alert(1)>\n`<b>`\n```\n</pre><script>\n```\n\n<div onclick=x>raw</div>",
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(!html.contains("<div"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn unsafe_links_become_text() {
        let html =
            render("[a](javascript:alert(1)) [b](JavaScript:x) ![c](data:x) [d](https://e.x/)");
        assert!(!html.to_ascii_lowercase().contains("javascript"), "{html}");
        assert!(!html.contains("data:"), "{html}");
        assert!(html.contains(r#"<a href="https://e.x/">d</a>"#), "{html}");
        assert_eq!(html, "<p>a b c <a href=\"https://e.x/\">d</a></p>\n");
    }

    #[test]
    fn renders_the_common_constructs() {
        let cases = [
            ("# Title", "<h1>Title</h1>\n"),
            ("### Small", "<h3>Small</h3>\n"),
            ("#nospace", "<p>#nospace</p>\n"),
            ("a\nb\n\nc", "<p>a\nb</p>\n<p>c</p>\n"),
            (
                "- one\n- **two**",
                "<ul>\n<li>one</li>\n<li><strong>two</strong></li>\n</ul>\n",
            ),
            (
                "use `x < y` *now*",
                "<p>use <code>x &lt; y</code> <em>now</em></p>\n",
            ),
            ("a * b", "<p>a * b</p>\n"),
            ("~~gone~~", "<p><del>gone</del></p>\n"),
            (
                "```\nfn main() {}\n```",
                "<pre><code>fn main() {}\n</code></pre>\n",
            ),
            (
                "| a | b |\n|---|---|\n| 1 | 2 |",
                "<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody>\n<tr><td>1</td><td>2</td></tr>\n</tbody></table>\n",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(render(input), want, "{input:?}");
        }
    }
}
