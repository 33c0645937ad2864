//! The HTML pages in a real (headless) Chromium, at 1200 px and at 390 px (a phone): the
//! rendered site of the shipped catalog (`render --out`) and the status page.
//!
//! The pages run no script and load nothing. To ask the browser what it laid out, the test
//! opens a harness page that holds the page in an `<iframe>` exactly as wide as the screen
//! under test (headless Chromium lays a window out at least 500 px wide) and a probe script
//! (the page itself is checked to hold none); the probe writes its findings into the DOM,
//! which `--dump-dom` returns. The screenshots are kept when `RUNBOOK_KEEP_SCREENSHOTS=DIR` is
//! set, to be looked at.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Chromium, or `None` (after a loud note) when it is not installed; with `CI=true` a missing
/// Chromium fails the test instead.
fn chromium_or_skip() -> Option<PathBuf> {
    if Path::new(CHROMIUM).is_file() {
        return Some(PathBuf::from(CHROMIUM));
    }
    let message = "chromium not found — install Debian's `chromium` (.ci/run does)";
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{message}; CI=true makes this a failure");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED: {message}");
    None
}

/// Runs headless Chromium with the flags that work on a closed network, killing it if it
/// hangs; returns its stdout.
fn chromium(chromium: &Path, profile: &Path, args: &[&str]) -> String {
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let until = Instant::now() + Duration::from_secs(90);
    while matches!(child.try_wait(), Ok(None)) {
        if Instant::now() > until {
            let _ = child.kill();
            panic!("chromium did not finish within 90s: {args:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "chromium {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What a self-contained page must not hold: nothing that runs, nothing fetched.
#[track_caller]
fn assert_self_contained(html: &str) {
    for loaded in [
        "<script", "<link", "<img", "<iframe", "<object", "<embed", "@import", "src=",
    ] {
        assert!(!html.contains(loaded), "the page holds `{loaded}`");
    }
    for (at, _) in html.match_indices("url(") {
        assert!(
            html[at..].starts_with("url(#"),
            "the page fetches {}",
            &html[at..at + 40.min(html.len() - at)]
        );
    }
}

/// A screenshot of `page` at `width` px (tall enough for the whole page), checked to be a
/// PNG that is not blank, and kept for a person to look at when asked.
fn screenshot(browser: &Path, work: &Path, page: &Path, width: u32, height: u32, name: &str) {
    let shot = work.join(format!("{name}.png"));
    chromium(
        browser,
        &work.join(format!("profile-shot-{name}")),
        &[
            &format!("--screenshot={}", shot.display()),
            &format!("--window-size={width},{height}"),
            &format!("file://{}", page.display()),
        ],
    );
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(png.len() > 10_000, "a blank page? only {} bytes", png.len());
    if let Ok(keep) = std::env::var("RUNBOOK_KEEP_SCREENSHOTS") {
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::copy(&shot, Path::new(&keep).join(format!("{name}.png"))).unwrap();
    }
}

/// Asks the browser, at `width` px, what `page` lays out: the probe (JavaScript, run on the
/// page inside a frame `width` px wide; `document` and `getComputedStyle` are the frame's)
/// fills `<pre id="probe">` with one `key=value` per line.
fn probe(browser: &Path, work: &Path, page: &Path, width: u32, script: &str) -> Vec<String> {
    let harness = page.with_extension(format!("probe-{width}.html"));
    let html = format!(
        r#"<!DOCTYPE html><html><body style="margin:0"><iframe id="frame" src="file://{page}" style="border:0;width:{width}px;height:900px"></iframe><pre id="probe"></pre><script>
const frame = document.getElementById('frame');
frame.addEventListener('load', () => {{
  const out = []; const say = (k, v) => out.push(k + '=' + v);
  try {{
    (function (document, getComputedStyle) {{
{script}
    }})(frame.contentDocument, frame.contentWindow.getComputedStyle.bind(frame.contentWindow));
  }} catch (e) {{ say('error', e); }}
  say('frame-width', frame.contentDocument.documentElement.clientWidth);
  document.getElementById('probe').textContent = '\n' + out.join('\n') + '\n';
}});
</script></body></html>"#,
        page = page.display(),
    );
    std::fs::write(&harness, html).unwrap();
    let dom = chromium(
        browser,
        &work.join(format!("profile-probe-{width}")),
        &[
            &format!("--window-size={},1000", width.max(500) + 20),
            "--allow-file-access-from-files",
            "--virtual-time-budget=10000",
            "--dump-dom",
            &format!("file://{}", harness.display()),
        ],
    );
    let start = dom.find("<pre id=\"probe\">").expect("the probe ran") + 16;
    let end = start + dom[start..].find("</pre>").unwrap();
    dom[start..end]
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .collect()
}

#[track_caller]
fn value<'a>(found: &'a [String], key: &str) -> &'a str {
    found
        .iter()
        .find_map(|line| line.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("the probe did not say {key}: {found:?}"))
}

/// Whether elements are drawn where a reader sees them, written by the probe as
/// `NAME=visible` or `NAME=hidden …why`.
const VISIBLE_JS: &str = r#"
const seen = (name, el) => {
  if (!el) { say(name, 'missing'); return; }
  const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
  const why = [];
  if (r.width < 4 || r.height < 4) why.push('size ' + r.width + 'x' + r.height);
  if (r.left < 0 || r.right > document.documentElement.clientWidth + 1) why.push('outside ' + r.left + '..' + r.right);
  if (s.visibility !== 'visible' || s.display === 'none' || s.opacity === '0') why.push('style');
  let clip = el.parentElement;
  while (clip && clip !== document.body) {
    const c = getComputedStyle(clip); const cr = clip.getBoundingClientRect();
    if (c.overflowX !== 'visible' && (r.right > cr.right + 1 || r.left < cr.left - 1)) why.push('clipped by ' + clip.className);
    clip = clip.parentElement;
  }
  say(name, why.length ? 'hidden ' + why.join(', ') : 'visible');
};
"#;

#[test]
fn the_site_draws_its_flow_chart_and_phones_at_1200_and_390_px() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let site = work.path().join("site");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .current_dir(repo)
        .args(["render", "--catalog", "runbooks", "--out"])
        .arg(&site)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let page = site.join("web-front/saturated-backends.html");
    let html = std::fs::read_to_string(&page).expect("the page of the HAProxy runbook");
    assert_self_contained(&html);
    assert_self_contained(&std::fs::read_to_string(site.join("index.html")).unwrap());
    assert!(html.contains("<svg class=\"flow\""), "no chart");
    assert!(
        !html.contains("<pre class=\"mermaid\">"),
        "Mermaid source left"
    );
    assert!(html.contains(r#"href="tel:+33100000002""#), "no tel: link");
    assert!(
        html.contains(r#"href="mailto:netops@example.com""#),
        "no mailto: link"
    );
    // Static templates are filled in: the contact and the dashboard of the last step.
    assert!(
        html.contains("<strong>Network team</strong> on +33 1 00 00 00 03"),
        "{html}"
    );
    assert!(!html.contains("{{ contacts"), "a contact template left raw");

    for (width, height) in [(1200, 5200), (390, 9000)] {
        screenshot(
            &browser,
            work.path(),
            &page,
            width,
            height,
            &format!("haproxy-{width}"),
        );
        let found = probe(
            &browser,
            work.path(),
            &page,
            width,
            &format!(
                "{VISIBLE_JS}
const phones = [...document.querySelectorAll('.contact .phone')];
say('phones', phones.length);
phones.forEach((p, i) => seen('phone' + i, p));
seen('chart', document.querySelector('svg.flow'));
const svg = document.querySelector('svg.flow');
say('chart-width', Math.round(svg.getBoundingClientRect().width));
say('boxes', svg.querySelectorAll('.flow-node').length);
const nodes = [...svg.querySelectorAll('a .flow-node')];
say('boxes-drawn', nodes.filter(n => n.getBBox().width > 50).length);
say('edges-drawn', [...svg.querySelectorAll('.flow-edge')].filter(e => e.getTotalLength() > 5).length);
const steps = [...document.querySelectorAll('section.step[id^=\"step-\"]')];
say('steps', steps.length);
say('links-to-steps', [...svg.querySelectorAll('a')].filter(a => document.getElementById(a.getAttribute('href').slice(1))).length);
say('overflow', document.documentElement.scrollWidth > document.documentElement.clientWidth);
say('too-wide', [...document.querySelectorAll('main *')].filter(e => {{ if (e.getBoundingClientRect().right <= document.documentElement.clientWidth + 1) return false; for (let a = e.parentElement; a && a.tagName !== 'MAIN'; a = a.parentElement) {{ if (getComputedStyle(a).overflowX !== 'visible') return false; }} return true; }}).slice(0, 5).map(e => e.tagName + '.' + e.className + ':' + (e.textContent || '').slice(0, 40)).join(' | '));
say('height', document.documentElement.scrollHeight);
"
            ),
        );
        eprintln!("{width} px: {found:?}");
        assert_eq!(value(&found, "frame-width"), width.to_string(), "{found:?}");
        assert_eq!(value(&found, "phones"), "2", "{width} px");
        for phone in ["phone0", "phone1"] {
            assert_eq!(value(&found, phone), "visible", "{phone} at {width} px");
        }
        assert_eq!(value(&found, "chart"), "visible", "{width} px");
        let steps: usize = value(&found, "steps").parse().unwrap();
        assert!(steps >= 5, "{found:?}");
        // One box per step and the end, every one drawn and leading to its step.
        assert_eq!(value(&found, "boxes"), (steps + 1).to_string());
        assert_eq!(value(&found, "boxes-drawn"), steps.to_string());
        assert_eq!(value(&found, "links-to-steps"), steps.to_string());
        assert!(value(&found, "edges-drawn").parse::<usize>().unwrap() >= steps);
        assert_eq!(value(&found, "overflow"), "false", "wider than {width} px");
        let chart: u32 = value(&found, "chart-width").parse().unwrap();
        assert!(chart <= width, "the chart is {chart} px wide");
    }
}

#[test]
fn the_status_page_starts_with_one_line_per_service() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let catalog = work.path().join("runbooks");
    for (n, (service, checks)) in [
        ("payments", "[ok, ok, ok]"),
        ("search", "[ok, warn]"),
        ("user-sync", "[fail, ok, ok]"),
        ("web-front", "[ok, ok, ok, ok]"),
        ("mail", "[ok, ok]"),
        ("billing", "[fail, fail]"),
        ("auth", "[ok, ok, ok]"),
    ]
    .iter()
    .enumerate()
    {
        let health: String = checks
            .trim_matches(['[', ']'])
            .split(", ")
            .enumerate()
            .map(|(i, kind)| match kind {
                "ok" => format!("  - {{ name: Check {i} answers, run: 'true' }}\n"),
                "warn" => format!("  - {{ name: Lag {i}, run: 'false', warn: true }}\n"),
                _ => format!("  - {{ name: Check {i} answers, run: 'exit 3' }}\n"),
            })
            .collect();
        let path = catalog.join(format!("team{n}/{service}.yaml"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            format!(
                "runbook: 1\ntitle: {service} is broken\nowner: ops\nreviewed: 2026-11-01\n\
                 scope: {{ services: [{service}] }}\n\
                 links: [{{ name: Dashboard, url: 'https://grafana.example.com/d/{service}' }}]\n\
                 health:\n{health}\
                 steps:\n  - id: look\n    name: Look\n    instructions: Look at it.\n"
            ),
        )
        .unwrap();
    }
    let page = work.path().join("status.html");
    let output = Command::new(env!("CARGO_BIN_EXE_runbook"))
        .arg("status")
        .arg(&catalog)
        .args(["--format", "html", "--output"])
        .arg(&page)
        .env("NO_COLOR", "1")
        .env("RUNBOOK_TODAY", "2026-11-22")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert_self_contained(&html);

    for (width, height) in [(1200, 1600), (390, 2600)] {
        screenshot(
            &browser,
            work.path(),
            &page,
            width,
            height,
            &format!("status-{width}"),
        );
        let found = probe(
            &browser,
            work.path(),
            &page,
            width,
            &format!(
                "{VISIBLE_JS}
const rows = [...document.querySelectorAll('.overview .row')];
say('rows', rows.map(r => r.className.replace('row ', '')).join(','));
rows.forEach((r, i) => seen('row' + i, r.querySelector('.name')));
const first = document.querySelector('.service');
say('overview-above', rows.every(r => r.getBoundingClientRect().bottom <= first.getBoundingClientRect().top));
say('rows-one-line', rows.filter(r => r.getBoundingClientRect().height < 60).length);
say('leads-to-card', rows.filter(r => document.querySelector(r.querySelector('.name').getAttribute('href'))).length);
say('overflow', document.documentElement.scrollWidth > document.documentElement.clientWidth);
say('height', document.documentElement.scrollHeight);
"
            ),
        );
        eprintln!("status at {width} px: {found:?}");
        assert_eq!(value(&found, "frame-width"), width.to_string(), "{found:?}");
        assert_eq!(
            value(&found, "rows"),
            "red,red,orange,green,green,green,green",
            "worst first"
        );
        for i in 0..7 {
            assert_eq!(value(&found, &format!("row{i}")), "visible");
        }
        assert_eq!(value(&found, "overview-above"), "true");
        assert_eq!(value(&found, "leads-to-card"), "7");
        assert_eq!(value(&found, "overflow"), "false", "wider than {width} px");
        let height: u32 = value(&found, "height").parse().unwrap();
        if width == 1200 {
            assert_eq!(value(&found, "rows-one-line"), "7");
            // It was 2,233 px for these 7 runbooks before the overview and the one-line green
            // cards (scripts/page-heights.sh).
            // About 1,580 px now; the bound leaves room for fonts that differ.
            assert!(height < 1700, "the page is {height} px long at {width} px");
        }
    }
}
