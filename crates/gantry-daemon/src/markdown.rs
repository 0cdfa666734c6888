//! A minimal, safe Markdown renderer for job summaries: every character of the input is
//! HTML-escaped first, then a few constructs are recognised (headings, lists, fenced code,
//! `code`, **bold**, *emphasis*, paragraphs). No raw HTML, no links, so no script can get in.

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

/// Renders `markdown` to HTML.
pub fn render(markdown: &str) -> String {
    let mut out = String::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut in_list = false;
    let mut in_code = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            flush(&mut out, &mut paragraph, &mut in_list);
            out.push_str(if in_code {
                "</code></pre>\n"
            } else {
                "<pre><code>"
            });
            in_code = !in_code;
            continue;
        }
        if in_code {
            out.push_str(&escape(line));
            out.push('\n');
            continue;
        }
        block_line(line, &mut out, &mut paragraph, &mut in_list);
    }
    if in_code {
        out.push_str("</code></pre>\n");
    }
    flush(&mut out, &mut paragraph, &mut in_list);
    out
}

fn block_line<'a>(
    line: &'a str,
    out: &mut String,
    paragraph: &mut Vec<&'a str>,
    in_list: &mut bool,
) {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        flush(out, paragraph, in_list);
    } else if let Some((level, text)) = heading(trimmed) {
        flush(out, paragraph, in_list);
        out.push_str(&format!("<h{level}>{}</h{level}>\n", inline(text)));
    } else if let Some(item) = trimmed
        .strip_prefix("- ")
        .or_else(|| trimmed.strip_prefix("* "))
    {
        if !paragraph.is_empty() {
            flush(out, paragraph, in_list);
        }
        if !*in_list {
            out.push_str("<ul>\n");
            *in_list = true;
        }
        out.push_str(&format!("<li>{}</li>\n", inline(item)));
    } else {
        if *in_list {
            out.push_str("</ul>\n");
            *in_list = false;
        }
        paragraph.push(trimmed);
    }
}

fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.chars().take_while(|&c| c == '#').count();
    let text = line[level..].strip_prefix(' ')?;
    (1..=6).contains(&level).then_some((level, text.trim()))
}

fn flush(out: &mut String, paragraph: &mut Vec<&str>, in_list: &mut bool) {
    if *in_list {
        out.push_str("</ul>\n");
        *in_list = false;
    }
    if !paragraph.is_empty() {
        out.push_str(&format!("<p>{}</p>\n", inline(&paragraph.join(" "))));
        paragraph.clear();
    }
}

/// `code`, **bold** and *emphasis* on escaped text.
fn inline(text: &str) -> String {
    // Part i follows the i-th backtick; the backticks that pair up are the first `paired`.
    let ticks = text.matches('`').count();
    let paired = ticks - ticks % 2;
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i > paired {
            out.push('`');
        }
        if i % 2 == 1 && i < paired {
            out.push_str(&format!("<code>{}</code>", escape(part)));
        } else {
            out.push_str(&emphasis(&escape(part)));
        }
    }
    out
}

fn emphasis(text: &str) -> String {
    let bold = wrap_pairs(text, "**", "strong");
    wrap_pairs(&bold, "*", "em")
}

/// Replaces pairs of `marker` around non-empty text with `<tag>`; other markers stay literal.
fn wrap_pairs(text: &str, marker: &str, tag: &str) -> String {
    let parts: Vec<&str> = text.split(marker).collect();
    let mut out = parts[0].to_owned();
    let mut i = 1;
    while i < parts.len() {
        // parts[i] lies between the i-th marker and the next one, if any.
        if i + 1 < parts.len() && !parts[i].is_empty() {
            out.push_str(&format!("<{tag}>{}</{tag}>{}", parts[i], parts[i + 1]));
            i += 2;
        } else {
            out.push_str(marker);
            out.push_str(parts[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped_everywhere() {
        let html = render(
            "# <script>x</script>\n- <img src=x onerror=alert(1)>\n`<b>`\n```\n</pre><script>\n```",
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn renders_the_common_constructs() {
        let cases = [
            ("# Title", "<h1>Title</h1>\n"),
            ("### Small", "<h3>Small</h3>\n"),
            ("#nospace", "<p>#nospace</p>\n"),
            ("a\nb\n\nc", "<p>a b</p>\n<p>c</p>\n"),
            (
                "- one\n- **two**",
                "<ul>\n<li>one</li>\n<li><strong>two</strong></li>\n</ul>\n",
            ),
            (
                "use `x < y` *now*",
                "<p>use <code>x &lt; y</code> <em>now</em></p>\n",
            ),
            ("a * b", "<p>a * b</p>\n"),
            ("odd `tick", "<p>odd `tick</p>\n"),
            ("**open bold", "<p>**open bold</p>\n"),
            ("a ** b", "<p>a ** b</p>\n"),
            (
                "```\nfn main() {}\n```",
                "<pre><code>fn main() {}\n</code></pre>\n",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(render(input), want, "{input:?}");
        }
    }
}
