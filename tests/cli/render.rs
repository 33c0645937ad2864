//! `runbook render`: Markdown with every section and a Mermaid flow chart, a self-contained
//! HTML page with the chart drawn as SVG and an anchor per step, a static site of the whole
//! catalog (`--out`), and no document at all for a runbook with lint errors.

use crate::common::{fixture, output, runbook};

/// Renders a fixture of `tests/fixtures/render/` with the fixture catalog (for `uses`);
/// returns (exit code, stdout, stderr).
fn render(name: &str, format: &str) -> (i32, String, String) {
    output(
        runbook()
            .args(["render", "--format", format, "--catalog"])
            .arg(fixture("catalog"))
            .arg(fixture(&format!("render/{name}.yaml"))),
    )
}

/// The Markdown of a fixture that must render.
fn markdown(name: &str) -> String {
    let (code, stdout, stderr) = render(name, "md");
    assert_eq!(code, 0, "render failed: {stderr}");
    stdout
}

/// The lines of the Mermaid block. Node labels have a no-break space after the step number,
/// so that Mermaid does not take them for a Markdown list.
fn mermaid_lines(markdown: &str) -> Vec<&str> {
    let start = markdown.find("```mermaid\n").expect("a mermaid block") + "```mermaid\n".len();
    let end = start
        + markdown[start..]
            .find("\n```")
            .expect("a closed mermaid block");
    markdown[start..end].lines().map(str::trim).collect()
}

#[test]
fn markdown_has_every_section_in_order() {
    let md = markdown("all-kinds");
    let headings: Vec<&str> = md.lines().filter(|l| l.starts_with("## ")).collect();
    assert_eq!(
        headings,
        [
            "## Scope",
            "## Contacts",
            "## Links",
            "## Inputs",
            "## Hosts",
            "## Health checks",
            "## Steps",
            "## Flow"
        ]
    );
    assert!(md.starts_with("# Payments \\<API\\> & \"queue\" — every step kind\n\nRestores"));
    assert!(md.contains("**Owner:** payments-team · **Reviewed:** 2026-10-01 · **Priority:** P2"));
    assert!(md.contains("  - `^\\[payments-api\\] queue lag: (high|critical)`"));
}

#[test]
fn steps_are_numbered_with_their_kind_and_id() {
    let md = markdown("all-kinds");
    let steps: Vec<&str> = md.lines().filter(|l| l.starts_with("### ")).collect();
    assert_eq!(
        steps[2..],
        [
            "### 1. Assess the damage",
            "### 2. Every backend answers its health check",
            "### 3. CPU and memory of each backend",
            "### 4. How many \"backends\" are down?",
            "### 5. Take the sick backend out of the load balancer",
            "### 6. Wait for the error rate to drop",
            "### 7. Escalate to the payments team",
            "### 8. Restart the deployment",
        ]
    );
    for line in [
        "**manual** step `assess`",
        "**check** step `health`",
        "**decision** step `how-bad`",
        "**action** step `drain`",
        "**wait** step `verify`",
        "**sub-procedure** step `restart`",
    ] {
        assert!(md.contains(&format!("\n{line}\n")), "missing {line:?}");
    }
}

#[test]
fn commands_are_in_code_blocks_as_written() {
    let md = markdown("all-kinds");
    // An HTTP check shows the request as it goes out, templates untouched.
    assert!(md.contains(
        "```http\nPOST http://{{ host }}:8080/health\nAuthorization: Bearer {{ inputs.token }}\n\n{\"deep\": true}\n```"
    ));
    assert!(md.contains(
        "- **Expect:** status `200`; body contains `ok`; body matches `\"status\": *\"(up|ok)\"`"
    ));
    // A command holding ``` gets a longer fence, so it cannot close the block.
    assert!(md.contains("````sh\nuptime && free -m\nprintf '```\\n'\n````"));
    // The action, its target, its confirmation and its rollback.
    assert!(md.contains(
        "```sh\necho \"set server web/web-1 state maint\" | socat stdio /run/haproxy/admin.sock\n```\n\n- **On:** `lb`\n- **Confirm:** the engineer types the target, `lb`"
    ));
    assert!(md.contains(
        "**Rollback**, offered when the action fails:\n\n```sh\necho \"set server web/web-1 state ready\""
    ));
    assert!(md.contains("**On failure:** step 7 (`escalate`) · **Timeout:** 30s per command"));
    assert!(md.contains("**Wait** until this check passes, every 10s, giving up after 10m:"));
    assert!(md.contains("**If** `inputs.env == \"prod\"`;"));
    // Prose gets what is known before a run: here, the first contact.
    assert!(md.contains("Call Payments team on +33 1 00 00 00 00."));
    assert!(md.contains(
        "**Uses** `common/restart` as a sub-procedure, with:\n\n- `deployment`: `payments-api`"
    ));
}

#[test]
fn decisions_list_where_each_choice_leads() {
    let md = markdown("all-kinds");
    assert!(md.contains(
        "**Question:** Which backends are unhealthy?\n\n- All of them → step 7 (`escalate`)\n- Some of them → step 5 (`drain`)\n- None → end of the run\n"
    ));
}

#[test]
fn tables_escape_pipes_and_links_get_the_defaults() {
    let md = markdown("all-kinds");
    assert!(md.contains("| lag above 10 min \\| errors above 5 % |"));
    assert!(md.contains("| `pod` | Name of the failing pod |  |  | `^api-(a\\|b)-[0-9]+$` |"));
    // `{{ inputs.env }}` has a default, so the link is known; and so is a link to it.
    assert!(md.contains("- [Dashboard](<https://grafana.example.com/d/payments?var-env=prod>)"));
    assert!(md.contains(
        "Open the [dashboard](https://grafana.example.com/d/payments?var-env=prod). Is the error"
    ));
}

#[test]
fn what_only_a_run_knows_stays_marked() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("marked.yaml");
    std::fs::write(
        &file,
        "runbook: 1\ntitle: Marked\nowner: ops\nreviewed: 2026-11-01\nscope: { services: [s] }\n\
         contacts: [{ name: Ops, phone: '+1 555 0100' }]\n\
         links: [{ name: Pod logs, url: 'https://logs.example.com/?pod={{ inputs.pod }}' }]\n\
         inputs: { pod: { description: The pod }, env: { default: prod } }\n\
         steps:\n  - id: look\n    name: Look\n    instructions: |\n      \
         Pod `{{ inputs.pod }}` in {{ inputs.env }}: read [its logs]({{ links['Pod logs'] }}), \
         incident {{ incident.id }}; call {{ contacts[0].name }}.\n      \
         {% if inputs.env == 'prod' %}Careful.{% endif %}\n",
    )
    .unwrap();
    let run = |format: &str| {
        let (code, out, err) = output(runbook().args(["render", "--format", format]).arg(&file));
        assert_eq!(code, 0, "{err}");
        out
    };
    let md = run("md");
    assert!(
        md.contains(
            "Pod `⟨inputs.pod⟩` in prod: read its logs (⟨links['Pod logs']⟩), incident ⟨incident.id⟩; call Ops."
        ),
        "{md}"
    );
    // A branch could depend on a run: its tags are shown as written.
    assert!(
        md.contains("\n{% if inputs.env == 'prod' %}Careful.{% endif %}\n"),
        "{md}"
    );
    assert!(md.contains(
        "- Pod logs: `https://logs.example.com/?pod=⟨inputs.pod⟩` (filled in when the runbook runs)"
    ));
    let html = run("html");
    assert!(html.contains(
        r#"Pod <code><span class="runtime" title="filled in when the runbook runs">⟨inputs.pod⟩</span></code> in prod: read its logs (<span class="runtime" title="filled in when the runbook runs">⟨links[&#39;Pod logs&#39;]⟩</span>), incident <span class="runtime""#
    ), "{html}");
    assert!(
        html.contains(r#"<a class="phone" href="tel:+15550100">☎ +1 555 0100</a>"#),
        "{html}"
    );
    assert!(!html.contains('\u{E000}') && !md.contains('\u{E000}'));
}

#[test]
fn flow_chart_has_an_edge_for_every_branch() {
    let md = markdown("all-kinds");
    assert_eq!(
        mermaid_lines(&md),
        [
            "flowchart TD",
            "s0[\"1.\u{a0}Assess the damage\"]",
            "s1[\"2.\u{a0}Every backend answers its health check\"]",
            "s2[\"3.\u{a0}CPU and memory of each backend\"]",
            "s3{\"4.\u{a0}How many #quot;backends#quot; are down?\"}",
            "s4[\"5.\u{a0}Take the sick backend out of the load balancer\"]",
            "s5([\"6.\u{a0}Wait for the error rate to drop\"])",
            "s6[\"7.\u{a0}Escalate to the payments team\"]",
            "s7[[\"8.\u{a0}Restart the deployment\"]]",
            "done((\"end\"))",
            "s0 --> s1",
            "s1 --> s2",
            "s2 --> s3",
            "s3 -- \"All of them\" --> s6",
            "s3 -- \"Some of them\" --> s4",
            "s3 -- \"None\" --> done",
            "s4 --> s5",
            "s4 -. on failure .-> s6",
            "s5 --> done",
            "s6 --> s7",
            "s6 -. skip .-> s7",
            "s7 --> done",
        ]
    );
}

#[test]
fn markdown_reads_well() {
    let md = markdown("all-kinds");
    for (n, line) in md.lines().enumerate() {
        assert_eq!(line, line.trim_end(), "line {} ends with spaces", n + 1);
    }
    assert!(!md.contains("\n\n\n"), "two blank lines in a row");
    assert!(md.ends_with("```\n") && !md.ends_with("\n\n"));
}

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!("all_kinds_markdown", markdown("all-kinds"));
}

#[test]
fn warnings_do_not_stop_rendering() {
    let (code, stdout, stderr) = render("warnings-only", "md");
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("# Warnings only\n"));
    assert!(!stdout.contains("## Contacts"), "no empty sections");
    assert!(stdout.contains(
        "```sh\nsystemctl restart svc\n```\n\n- **Confirm:** yes or no (no by default)\n"
    ));
    assert!(stdout.contains("s0 --> done"));
}

#[test]
fn a_catalog_id_renders_its_runbook() {
    let (code, stdout, stderr) = output(
        runbook()
            .args(["render", "common/restart", "--catalog"])
            .arg(fixture("catalog")),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("# Restart a deployment\n"));
}

#[test]
fn html_is_one_self_contained_page() {
    let (code, html, stderr) = render("all-kinds", "html");
    assert_eq!(code, 0, "{stderr}");
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    assert!(html.trim_end().ends_with("</html>"));
    assert!(
        html.contains(
            "<title>Payments &lt;API&gt; &amp; &quot;queue&quot; — every step kind</title>"
        )
    );
    assert!(html.contains("<style>"));
    assert!(html.contains("<table>"));
    // The chart is drawn, not left as Mermaid source; every box leads to its step's anchor.
    assert!(!html.contains("flowchart TD"));
    assert!(html.contains("<svg class=\"flow\""));
    for id in [
        "assess", "health", "load", "how-bad", "drain", "verify", "escalate", "restart",
    ] {
        assert!(
            html.contains(&format!("<section class=\"step\" id=\"step-{id}\">")),
            "no anchor for {id}"
        );
        assert!(html.contains(&format!("<a href=\"#step-{id}\"><g class=\"flow-node ")));
    }
    assert!(html.contains(">“All of them”</text>"), "a choice's label");
    // Contacts are cards with links to call and write.
    assert!(html.contains(
        r#"<a class="phone" href="tel:+33100000000">☎ +33 1 00 00 00 00</a><a class="email" href="mailto:payments@example.com">✉ payments@example.com</a>"#
    ));
    for loaded in ["<script", "<link", "<img", "<iframe"] {
        assert!(!html.contains(loaded), "the page holds {loaded}");
    }
}

#[test]
fn out_writes_a_site_of_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    let (code, stdout, stderr) = output(
        runbook()
            .args(["render", "--catalog", "runbooks", "--out"])
            .arg(&site),
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains(&format!(
            "wrote {} pages and index.html to",
            shipped_runbooks()
        )),
        "{stderr}"
    );
    let index = std::fs::read_to_string(site.join("index.html")).unwrap();
    for id in [
        "common/k8s-restart",
        "demo/local-demo",
        "user-sync/push-failures",
        "web-front/saturated-backends",
    ] {
        assert!(
            index.contains(&format!("<a href=\"{id}.html\">")),
            "{index}"
        );
        let page = std::fs::read_to_string(site.join(format!("{id}.html"))).unwrap();
        assert!(page.contains("<nav class=\"home\"><a href=\"../index.html\">"));
        assert!(page.contains("<section class=\"step\" id=\"step-"), "{id}");
    }
    let page = std::fs::read_to_string(site.join("web-front/saturated-backends.html")).unwrap();
    assert!(page.contains("<section class=\"step\" id=\"step-drain\">"));
    // A file where the site should go, a RUNBOOK beside --out: exit 2 with a message.
    let (code, _, stderr) =
        output(runbook().args(["render", "--catalog", "runbooks", "--out", "README.md"]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("invalid value `README.md` for `--out`"),
        "{stderr}"
    );
    let (code, _, stderr) = output(
        runbook()
            .args(["render", "demo/local-demo", "--out"])
            .arg(&site),
    );
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn out_leaves_out_invalid_runbooks_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    let (code, _, stderr) = output(
        runbook()
            .args(["render", "--catalog"])
            .arg(fixture("render"))
            .arg("--out")
            .arg(&site),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("`next` leads to `secnod`"), "{stderr}");
    assert!(stderr.contains("with errors left out"), "{stderr}");
    assert!(site.join("warnings-only.html").is_file());
    assert!(!site.join("unknown-step.html").exists());
    let index = std::fs::read_to_string(site.join("index.html")).unwrap();
    assert!(!index.contains("unknown-step"));
}

#[test]
fn html_shows_raw_html_from_the_runbook_as_text() {
    let (code, html, stderr) = render("raw-html", "html");
    assert_eq!(code, 0, "{stderr}");
    for loaded in ["<script", "<link", "<img", "<iframe", "href=\"javascript"] {
        assert!(!html.contains(loaded), "the page holds {loaded}:\n{html}");
    }
    assert!(html.contains(
        "<title>&lt;/title&gt;&lt;script&gt;alert(&quot;title&quot;)&lt;/script&gt;</title>"
    ));
    assert!(html.contains(
        "<pre><code class=\"language-html\">&lt;script src=\"https://evil.example.com/x.js\"&gt;"
    ));
    assert!(html.contains("<a href=\"https://evil.example.com/graph.png\">graph</a>"));
    assert!(html.contains("1. Look &lt;b&gt;here&lt;/b&gt;"));
}

#[test]
fn lint_errors_stop_rendering_with_the_finding() {
    let (code, stdout, stderr) = render("unknown-step", "md");
    assert_eq!(code, 2);
    assert!(stdout.is_empty(), "rendered anyway: {stdout}");
    assert!(stderr.contains("unknown-step.yaml:17:11"), "{stderr}");
    assert!(
        stderr.contains("`next` leads to `secnod`, which is not a step id"),
        "{stderr}"
    );
    assert!(
        stderr.contains("is not a valid runbook (1 error)"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_id_is_an_invalid_invocation() {
    let (code, stdout, stderr) = output(
        runbook()
            .args(["render", "no/such-runbook", "--catalog"])
            .arg(fixture("catalog")),
    );
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("`no/such-runbook` is neither a file nor a runbook of the catalog"),
        "{stderr}"
    );
}

/// How many runbooks the shipped catalog holds (test files beside them are not runbooks).
fn shipped_runbooks() -> usize {
    fn walk(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                if p.is_dir() {
                    walk(&p)
                } else {
                    usize::from(name.ends_with(".yaml") && !name.ends_with(".test.yaml"))
                }
            })
            .sum()
    }
    walk(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("runbooks")
            .as_path(),
    )
}
