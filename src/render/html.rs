//! A runbook as one self-contained HTML page: the blocks of the Markdown rendering converted
//! with pulldown-cmark, inside a page with inline CSS, with every step in a `<section
//! id="step-ID">` (so an alert's `runbook_url` can point at it), the contacts as cards with
//! `tel:` and `mailto:` links, and the flow chart drawn as inline SVG. The page loads nothing
//! from anywhere and runs no script: raw HTML written in a runbook is shown as text, images
//! become links, and a Mermaid block an author wrote stays as source.

use pulldown_cmark::{CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd, TextMergeStream};

use super::markdown::{Block, document};
use super::statics::{RUN_TIME_CLOSE, RUN_TIME_OPEN, Statics};
use crate::model::{Contact, Runbook, Sp};

/// The whole page. `id` is the runbook's catalog id, for `{{ runbook.id }}`; `home` a link
/// back to a site's index.
pub fn html(runbook: &Runbook, id: Option<&str>, home: Option<&str>) -> String {
    let statics = Statics::new(runbook, id);
    let mut out = String::new();
    if let Some(home) = home {
        out.push_str(&format!(
            "<nav class=\"home\"><a href=\"{}\">← All runbooks</a></nav>\n",
            escape(home)
        ));
    }
    let mut markdown = String::new();
    for block in document(runbook, &statics) {
        if let Block::Text(text) = &block {
            markdown.push_str(text);
            markdown.push_str("\n\n");
            continue;
        }
        out.push_str(&body(&std::mem::take(&mut markdown)));
        match block {
            Block::Text(_) => {}
            Block::Step { id, heading } => {
                let heading = body(&format!("### {heading}"));
                let heading = heading.trim_end();
                let inner = heading
                    .strip_prefix("<h3>")
                    .and_then(|h| h.strip_suffix("</h3>"))
                    .unwrap_or(heading);
                out.push_str(&format!(
                    "<section class=\"step\" id=\"step-{id}\">\n<h3><a class=\"anchor\" href=\"#step-{id}\" aria-label=\"Link to this step\">#</a> {inner}</h3>\n",
                    id = escape(&id),
                ));
            }
            Block::StepEnd => out.push_str("</section>\n"),
            Block::Contacts => out.push_str(&contact_cards(&runbook.contacts)),
            Block::Flow => {
                out.push_str("<figure class=\"flow-chart\">");
                out.push_str(&super::svg::flow_svg(&runbook.steps));
                out.push_str("<figcaption>Solid: the way a run goes on. Dashed: when a step fails (red) or is skipped. Each box leads to its step.</figcaption></figure>\n");
            }
        }
    }
    out.push_str(&body(&markdown));
    page(&runbook.title, &out)
}

/// The contacts in escalation order, one card each: readable on a phone, every number a
/// `tel:` link and every address a `mailto:` link.
fn contact_cards(contacts: &[Sp<Contact>]) -> String {
    let mut out = String::from("<ol class=\"contacts\">\n");
    for contact in contacts {
        let mut how = String::new();
        if let Some(phone) = contact.phone.as_deref() {
            let dial: String = phone
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '+')
                .collect();
            if dial.chars().any(|c| c.is_ascii_digit()) {
                how.push_str(&format!(
                    r#"<a class="phone" href="tel:{}">☎ {}</a>"#,
                    escape(&dial),
                    escape(phone)
                ));
            } else {
                how.push_str(&format!(
                    r#"<span class="phone">☎ {}</span>"#,
                    escape(phone)
                ));
            }
        }
        if let Some(email) = contact.email.as_deref() {
            if email.contains('@') && !email.contains(char::is_whitespace) && !runs_code(email) {
                how.push_str(&format!(
                    r#"<a class="email" href="mailto:{0}">✉ {0}</a>"#,
                    escape(email)
                ));
            } else {
                how.push_str(&format!(
                    r#"<span class="email">✉ {}</span>"#,
                    escape(email)
                ));
            }
        }
        if let Some(chat) = contact.chat.as_deref() {
            how.push_str(&format!(
                r#"<span class="chat">chat <b>{}</b></span>"#,
                escape(chat)
            ));
        }
        let role = contact
            .role
            .as_deref()
            .map(|role| format!(r#" <span class="role">{}</span>"#, escape(role)))
            .unwrap_or_default();
        let when = contact
            .when
            .as_deref()
            .map(|when| format!(r#"<p class="when">When: {}</p>"#, escape(when)))
            .unwrap_or_default();
        let how = if how.is_empty() {
            String::new()
        } else {
            format!(r#"<p class="how">{how}</p>"#)
        };
        out.push_str(&format!(
            "<li class=\"contact\"><p class=\"who\"><b>{}</b>{role}</p>{how}{when}</li>\n",
            escape(&contact.name)
        ));
    }
    out.push_str("</ol>\n");
    out
}

/// A run-time mark as HTML: styled, and saying so on hover.
fn marks(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find(RUN_TIME_OPEN) {
        out.push_str(&escape(&rest[..open]));
        let after = &rest[open + RUN_TIME_OPEN.len_utf8()..];
        let close = after.find(RUN_TIME_CLOSE).unwrap_or(after.len());
        out.push_str(&format!(
            r#"<span class="runtime" title="filled in when the runbook runs">⟨{}⟩</span>"#,
            escape(&after[..close])
        ));
        rest = after
            .get(close + RUN_TIME_CLOSE.len_utf8()..)
            .unwrap_or_default();
    }
    out.push_str(&escape(rest));
    out
}

/// The HTML of a Markdown document, made safe to open: see the module documentation.
fn body(markdown: &str) -> String {
    if markdown.trim().is_empty() {
        return String::new();
    }
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut events = Vec::new();
    let mut in_mermaid = false;
    // Whether each open link was kept: a link to an address a run fills in leads nowhere yet,
    // so it is shown as its text.
    let mut links_kept: Vec<bool> = Vec::new();
    // Text merged, so that a run-time mark is never cut in two.
    for event in TextMergeStream::new(Parser::new_ext(markdown, options)) {
        match event {
            Event::Text(text) if text.contains(RUN_TIME_OPEN) => {
                events.push(Event::Html(marks(&text).into()));
            }
            Event::Code(text) if text.contains(RUN_TIME_OPEN) => {
                events.push(Event::Html(format!("<code>{}</code>", marks(&text)).into()));
            }
            Event::Start(Tag::Link { ref dest_url, .. } | Tag::Image { ref dest_url, .. })
                if dest_url.contains(RUN_TIME_OPEN) =>
            {
                links_kept.push(false);
            }
            Event::End(TagEnd::Link | TagEnd::Image) if links_kept.last() == Some(&false) => {
                links_kept.pop();
            }
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
            ) => {
                links_kept.push(true);
                events.push(Event::Start(Tag::Link {
                    link_type,
                    dest_url: safe_url(dest_url),
                    title,
                    id,
                }))
            }
            Event::End(TagEnd::Link | TagEnd::Image) => {
                links_kept.pop();
                events.push(Event::End(TagEnd::Link))
            }
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

const STYLE: &str = r#":root { color-scheme: light dark; --fg: #1f2328; --bg: #ffffff; --muted: #59636e; --line: #d1d9e0; --code: #f6f8fa; --link: #0969da; --accent: #bc4c00; --accent-bg: #fff1e5; --danger: #cf222e; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --line: #3d444d; --code: #151b23; --link: #4493f8; --accent: #f0883e; --accent-bg: #3d2410; --danger: #f85149; } }
body { margin: 0; background: var(--bg); color: var(--fg); font: 16px/1.6 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 52rem; margin: 0 auto; padding: 2rem 1.25rem 4rem; overflow-wrap: break-word; }
p code, li code, a { overflow-wrap: anywhere; }
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
.home { font-size: .9rem; margin-bottom: 1rem; }
.step { scroll-margin-top: 1rem; border-radius: 8px; }
.step:target { outline: 3px solid var(--link); outline-offset: .5rem; }
h3 .anchor { color: var(--muted); text-decoration: none; font-weight: 400; }
.runtime { font-style: italic; color: var(--accent); background: var(--accent-bg); border-radius: 4px; padding: 0 .2em; overflow-wrap: anywhere; -webkit-box-decoration-break: clone; box-decoration-break: clone; }
.contacts { list-style: none; padding: 0; margin: 1rem 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: .75rem; counter-reset: contact; }
.contact { border: 1px solid var(--line); border-radius: 8px; padding: .6rem .8rem; counter-increment: contact; overflow-wrap: anywhere; }
.contact p { margin: .15rem 0; }
.contact .who::before { content: counter(contact); display: inline-block; min-width: 1.4em; height: 1.4em; line-height: 1.4em; text-align: center; border-radius: 50%; background: var(--code); border: 1px solid var(--line); font-size: .8rem; margin-right: .4rem; }
.contact .role, .contact .when { color: var(--muted); font-size: .9rem; }
.contact .how { display: flex; flex-wrap: wrap; gap: .2rem 1rem; }
.contact .phone { font-weight: 600; white-space: nowrap; }
.flow-chart { margin: 1rem 0; overflow-x: auto; }
.flow-chart figcaption { color: var(--muted); font-size: .875rem; }
svg.flow { display: block; max-width: 100%; height: auto; font-size: 14px; }
.flow-edge { fill: none; stroke: var(--muted); stroke-width: 1.6; }
.flow-edge.fail { stroke: var(--danger); stroke-dasharray: 6 4; }
.flow-edge.skip { stroke-dasharray: 2 4; }
.flow-head path { fill: var(--muted); } .flow-head.fail path { fill: var(--danger); }
.flow-label { font-size: 12px; fill: var(--fg); paint-order: stroke; stroke: var(--bg); stroke-width: 4px; stroke-linejoin: round; }
.flow-label.fail { fill: var(--danger); }
.flow-node rect, .flow-node polygon { fill: var(--bg); stroke: var(--fg); stroke-width: 1.4; }
.flow-node .inner { fill: none; }
.flow-node text { fill: var(--fg); }
.flow-node .kind { font-size: 11px; fill: var(--muted); text-transform: uppercase; letter-spacing: .06em; }
.flow-node.action rect { stroke: var(--accent); stroke-width: 2.5; fill: var(--accent-bg); }
.flow-node.action .kind { fill: var(--accent); font-weight: 700; }
.flow-node.ask polygon { fill: var(--code); }
.flow-node.end rect { fill: var(--code); stroke: var(--muted); }
a:hover .flow-node rect, a:hover .flow-node polygon { stroke: var(--link); }
@media (max-width: 36rem) { h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; } main { padding-top: 1.25rem; } }
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
