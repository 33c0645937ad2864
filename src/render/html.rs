//! A runbook as one self-contained HTML page: the Markdown rendering converted with
//! pulldown-cmark, inside a page with inline CSS. The page loads nothing from anywhere and
//! runs no script: raw HTML written in a runbook is shown as text, images become links, and
//! the Mermaid chart stays as source for a Mermaid viewer to draw.

use pulldown_cmark::{CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd};

use crate::model::Runbook;

/// The whole page.
pub fn html(runbook: &Runbook) -> String {
    page(&runbook.title, &body(&super::markdown(runbook)))
}

/// The HTML of a Markdown document, made safe to open: see the module documentation.
fn body(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut events = Vec::new();
    let mut in_mermaid = false;
    for event in Parser::new_ext(markdown, options) {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) if &*info == "mermaid" => {
                in_mermaid = true;
                events.push(Event::Html(r#"<pre class="mermaid">"#.into()));
            }
            Event::End(TagEnd::CodeBlock) if in_mermaid => {
                in_mermaid = false;
                events.push(Event::Html(format!("</pre>\n{MERMAID_NOTE}\n").into()));
            }
            // Raw HTML is shown as its source: a block as code, inline tags as text.
            Event::Start(Tag::HtmlBlock) => events.push(Event::Start(Tag::CodeBlock(
                CodeBlockKind::Fenced("html".into()),
            ))),
            Event::End(TagEnd::HtmlBlock) => events.push(Event::End(TagEnd::CodeBlock)),
            Event::Html(raw) | Event::InlineHtml(raw) => events.push(Event::Text(raw)),
            // An image becomes a link to it: the page loads nothing from elsewhere.
            Event::Start(
                Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                }
                | Tag::Image {
                    link_type,
                    dest_url,
                    title,
                    id,
                },
            ) => events.push(Event::Start(Tag::Link {
                link_type,
                dest_url: safe_url(dest_url),
                title,
                id,
            })),
            Event::End(TagEnd::Image) => events.push(Event::End(TagEnd::Link)),
            other => events.push(other),
        }
    }
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events.into_iter());
    out
}

const MERMAID_NOTE: &str = r#"<p class="note">This flow chart is Mermaid source: a Mermaid viewer (GitHub, or a docs site with Mermaid enabled) draws it. This page runs no script.</p>"#;

/// A link target that cannot run code when clicked: `javascript:` and friends become `#`.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    if runs_code(&url) {
        CowStr::Borrowed("#")
    } else {
        url
    }
}

/// Whether following `url` would run code (`javascript:`, `vbscript:`, `data:`), however its
/// scheme is spelt (case, spaces, control characters).
pub(crate) fn runs_code(url: &str) -> bool {
    let scheme: String = url
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .take_while(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    url.contains(':') && matches!(scheme.as_str(), "javascript" | "vbscript" | "data")
}

/// Text safe inside an element or an attribute value.
pub(crate) fn escape(text: &str) -> String {
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

fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="runbook">
<title>{title}</title>
<style>
{STYLE}</style>
</head>
<body>
<main>
{body}</main>
</body>
</html>
"#,
        title = escape(title),
    )
}

const STYLE: &str = r#":root { color-scheme: light dark; --fg: #1f2328; --bg: #ffffff; --muted: #59636e; --line: #d1d9e0; --code: #f6f8fa; --link: #0969da; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --line: #3d444d; --code: #151b23; --link: #4493f8; } }
body { margin: 0; background: var(--bg); color: var(--fg); font: 16px/1.6 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 52rem; margin: 0 auto; padding: 2rem 1.25rem 4rem; }
h1, h2, h3 { line-height: 1.25; margin: 2rem 0 1rem; }
h1 { font-size: 2rem; margin-top: 0; }
h2 { font-size: 1.5rem; padding-bottom: .3rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.2rem; }
a { color: var(--link); }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: .875em; }
code { background: var(--code); padding: .15em .35em; border-radius: 4px; }
pre { background: var(--code); border: 1px solid var(--line); border-radius: 6px; padding: .9rem 1rem; overflow-x: auto; line-height: 1.45; }
pre code { background: none; padding: 0; font-size: 1em; }
table { border-collapse: collapse; margin: 1rem 0; display: block; overflow-x: auto; }
th, td { border: 1px solid var(--line); padding: .4rem .75rem; text-align: left; vertical-align: top; }
th { background: var(--code); }
blockquote { margin: 1rem 0; padding: 0 1rem; color: var(--muted); border-left: .25rem solid var(--line); }
.note { color: var(--muted); font-size: .875rem; }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_is_shown_not_run() {
        let html = body("Hello <script>alert(1)</script>\n\n<iframe src=\"x\"></iframe>\n");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<iframe"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(
            html.contains("<pre><code class=\"language-html\">&lt;iframe src=\"x\"&gt;"),
            "{html}"
        );
    }

    #[test]
    fn images_become_links_and_scripts_in_links_are_dropped() {
        let html = body("![graph](https://example.com/g.png) [x](javascript:alert(1))\n");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains(r#"<a href="https://example.com/g.png">graph</a>"#),
            "{html}"
        );
        assert!(html.contains(r##"<a href="#">x</a>"##), "{html}");
    }

    #[test]
    fn mermaid_stays_source_with_a_note() {
        let html = body("```mermaid\nflowchart TD\n    s0 --> s1\n```\n");
        assert!(
            html.starts_with("<pre class=\"mermaid\">flowchart TD\n    s0 --&gt; s1\n</pre>"),
            "{html}"
        );
        assert!(html.contains("Mermaid viewer"), "{html}");
    }

    #[test]
    fn title_is_escaped() {
        let page = page("<b> & \"x\"", "");
        assert!(page.contains("<title>&lt;b&gt; &amp; &quot;x&quot;</title>"));
    }
}
