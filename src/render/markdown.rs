//! A runbook as Markdown, for pull-request review and docs sites: every section, the steps
//! numbered with their commands, and a Mermaid flow chart. Commands are shown as written; in
//! the prose (summary, instructions, questions) and the links, what is known before a run
//! (links, contacts, inputs' defaults) is filled in through the one template environment, and
//! what only a run knows stays marked `⟨inputs.backend⟩`.
//!
//! The document is a list of [`Block`]s: Markdown, and the few parts the HTML page draws its
//! own way (a step's anchor, the contacts, the flow chart).

use crate::model::{
    Command, Confirm, ConfirmWord, Contact, END, Http, Input, Link, Priority, Runbook, Sp, Step,
    StepKind,
};

use super::mermaid;
use super::statics::{RUN_TIME_CLOSE, RUN_TIME_OPEN, Statics};

/// The whole document, ending with one newline. `id` is the runbook's catalog id, for
/// `{{ runbook.id }}`.
pub fn markdown(runbook: &Runbook, id: Option<&str>) -> String {
    let blocks = document(runbook, &Statics::new(runbook, id));
    let text: Vec<String> = blocks
        .iter()
        .map(|block| block.markdown(runbook))
        .filter(|block| !block.is_empty())
        .collect();
    finish(&text.join("\n\n"))
        .replace(RUN_TIME_OPEN, "⟨")
        .replace(RUN_TIME_CLOSE, "⟩")
}

/// A part of the document.
pub(crate) enum Block {
    /// Markdown, which may hold run-time marks (see [`Statics`]).
    Text(String),
    /// The start of a step: its heading (Markdown), and in HTML the anchor `step-ID`.
    Step { id: String, heading: String },
    /// The end of a step's part.
    StepEnd,
    /// The contacts table; HTML shows cards with `tel:` and `mailto:` links.
    Contacts,
    /// The flow chart: Mermaid in Markdown, SVG in HTML.
    Flow,
}

impl Block {
    fn markdown(&self, runbook: &Runbook) -> String {
        match self {
            Block::Text(text) => text.clone(),
            Block::Step { heading, .. } => format!("### {heading}"),
            Block::StepEnd => String::new(),
            Block::Contacts => contacts_table(&runbook.contacts),
            Block::Flow => fenced("mermaid", &mermaid::flowchart(&runbook.steps)),
        }
    }
}

/// The document's blocks.
pub(crate) fn document(runbook: &Runbook, statics: &Statics) -> Vec<Block> {
    let mut doc = Blocks {
        blocks: Vec::new(),
        statics,
    };
    doc.push(format!("# {}", heading(&runbook.title)));
    if let Some(summary) = &runbook.summary {
        doc.push(prose(&unlinked(&statics.resolve(summary))));
    }
    about(&mut doc, runbook);
    scope(&mut doc, runbook);
    contacts(&mut doc, &runbook.contacts);
    links(&mut doc, &runbook.links, statics);
    inputs(&mut doc, runbook);
    hosts(&mut doc, runbook);
    health(&mut doc, &runbook.health);
    doc.push("## Steps");
    for (index, step) in runbook.steps.iter().enumerate() {
        self::step(&mut doc, &runbook.steps, index, step);
    }
    doc.push("## Flow");
    doc.blocks.push(Block::Flow);
    doc.blocks
}

/// Markdown blocks, separated by one blank line, and the templates' known values.
struct Blocks<'a> {
    blocks: Vec<Block>,
    statics: &'a Statics,
}

impl Blocks<'_> {
    fn push(&mut self, block: impl Into<String>) {
        let block = block.into();
        let block = block.trim_matches('\n');
        if !block.trim().is_empty() {
            self.blocks.push(Block::Text(block.to_string()));
        }
    }

    /// A bulleted list; nothing when there are no items.
    fn list(&mut self, items: &[String]) {
        self.push(
            items
                .iter()
                .map(|item| format!("- {item}"))
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
}

/// The document with no trailing spaces on any line.
fn finish(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Owner, review date and priority on one line.
fn about(doc: &mut Blocks, runbook: &Runbook) {
    let mut facts = vec![
        format!("**Owner:** {}", text(&runbook.owner)),
        format!("**Reviewed:** {}", text(&runbook.reviewed)),
    ];
    if let Some(priority) = &runbook.priority {
        let priority = match priority.value {
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
            Priority::P4 => "P4",
            Priority::P5 => "P5",
        };
        facts.push(format!("**Priority:** {priority}"));
    }
    doc.push(facts.join(" · "));
}

fn scope(doc: &mut Blocks, runbook: &Runbook) {
    let scope = &runbook.scope;
    doc.push("## Scope");
    let mut items = vec![format!("**Services:** {}", codes(&scope.services))];
    if !scope.environments.is_empty() {
        items.push(format!("**Environments:** {}", codes(&scope.environments)));
    }
    if !scope.alerts.is_empty() {
        let alerts: Vec<String> = scope
            .alerts
            .iter()
            .map(|alert| format!("  - {}", code(&alert.to_string())))
            .collect();
        items.push(format!(
            "**Alerts** (regexes matched by `runbook triage`):\n{}",
            alerts.join("\n")
        ));
    }
    doc.list(&items);
}

fn contacts(doc: &mut Blocks, contacts: &[Sp<Contact>]) {
    if contacts.is_empty() {
        return;
    }
    doc.push("## Contacts");
    doc.push("In escalation order.");
    doc.blocks.push(Block::Contacts);
}

fn contacts_table(contacts: &[Sp<Contact>]) -> String {
    let optional = |value: &Option<String>| value.as_deref().map(text).unwrap_or_default();
    let rows = contacts
        .iter()
        .map(|contact| {
            vec![
                text(&contact.name),
                optional(&contact.role),
                optional(&contact.chat),
                optional(&contact.email),
                optional(&contact.phone),
                optional(&contact.when),
            ]
        })
        .collect();
    table(&["Name", "Role", "Chat", "Email", "Phone", "When"], rows)
}

fn links(doc: &mut Blocks, links: &[Sp<Link>], statics: &Statics) {
    if links.is_empty() {
        return;
    }
    doc.push("## Links");
    let items: Vec<String> = links
        .iter()
        .map(|link| {
            let url = statics.resolve(&link.url);
            if Statics::is_complete(&url) && !is_template(&url) {
                format!("[{}](<{}>)", text(&link.name), destination(&url))
            } else {
                format!(
                    "{}: {} (filled in when the runbook runs)",
                    text(&link.name),
                    code(&url)
                )
            }
        })
        .collect();
    doc.list(&items);
}

fn inputs(doc: &mut Blocks, runbook: &Runbook) {
    if runbook.inputs.is_empty() {
        return;
    }
    doc.push("## Inputs");
    doc.push("Asked at the start of a run unless given with `--set NAME=VALUE`.");
    let rows = runbook
        .inputs
        .iter()
        .map(|(name, input)| input_row(name, input))
        .collect();
    doc.push(table(
        &[
            "Name",
            "Description",
            "Default",
            "Choices",
            "Pattern",
            "Secret",
            "Env",
        ],
        rows,
    ));
}

fn input_row(name: &str, input: &Input) -> Vec<String> {
    let optional_code =
        |value: &Option<Sp<String>>| value.as_ref().map(|v| code(v)).unwrap_or_default();
    vec![
        code(name),
        input.description.as_deref().map(text).unwrap_or_default(),
        optional_code(&input.default),
        input.choices.as_deref().map(codes).unwrap_or_default(),
        optional_code(&input.pattern),
        if input.secret { "yes" } else { "" }.to_string(),
        optional_code(&input.env),
    ]
}

fn hosts(doc: &mut Blocks, runbook: &Runbook) {
    if runbook.hosts.is_empty() {
        return;
    }
    doc.push("## Hosts");
    let items: Vec<String> = runbook
        .hosts
        .iter()
        .map(|(group, members)| format!("{}: {}", code(group), codes(members)))
        .collect();
    doc.list(&items);
}

fn health(doc: &mut Blocks, checks: &[Sp<Command>]) {
    if checks.is_empty() {
        return;
    }
    doc.push("## Health checks");
    doc.push("Run by `runbook status`, the morning check.");
    for (index, check) in checks.iter().enumerate() {
        let name = check
            .name
            .as_ref()
            .map_or_else(|| format!("Health check {}", index + 1), |n| heading(n));
        doc.push(format!("### {name}"));
        command(doc, check, Role::Check);
    }
}

fn step(doc: &mut Blocks, steps: &[Sp<Step>], index: usize, step: &Step) {
    doc.blocks.push(Block::Step {
        id: step.id.value.clone(),
        heading: format!("{}. {}", index + 1, heading(&step.name)),
    });
    let kind = step.kind();
    doc.push(format!("**{}** step {}", kind.as_str(), code(&step.id)));
    if let Some(condition) = &step.condition {
        doc.push(format!(
            "**If** {}; skipped when false, and the run goes on with the step below.",
            code(condition)
        ));
    }
    if let Some(instructions) = &step.instructions {
        doc.push(prose(&unlinked(&doc.statics.resolve(instructions))));
    }
    match kind {
        StepKind::Manual => {
            if let Some(checklist) = &step.checklist {
                doc.push("**Checklist**, each item ticked or left (the timeline records which):");
                let items: Vec<String> = checklist
                    .iter()
                    .map(|item| text(&doc.statics.resolve(item)))
                    .collect();
                doc.list(&items);
            }
        }
        StepKind::Check => {
            if let Some(check) = &step.check {
                command(doc, check, Role::Check);
            }
        }
        StepKind::Action => {
            if let Some(action) = &step.action {
                command(doc, action, Role::Action);
                if let Some(rollback) = &action.rollback {
                    doc.push("**Rollback**, offered when the action fails:");
                    command(doc, rollback, Role::Check);
                }
            }
        }
        StepKind::Ask => {
            if let Some(ask) = &step.ask {
                doc.push(format!(
                    "**Question:** {}",
                    text(&doc.statics.resolve(&ask.question))
                ));
                if let Some(choices) = &ask.choices {
                    let items: Vec<String> = choices
                        .iter()
                        .map(|choice| {
                            let leads = match &choice.next {
                                Some(next) => step_ref(steps, next),
                                None => below(steps, index),
                            };
                            format!("{} → {leads}", text(&choice.label))
                        })
                        .collect();
                    doc.list(&items);
                }
                if let Some(input) = &ask.input {
                    doc.push(format!(
                        "The answer is kept as {}.",
                        code(&format!("vars.{}", input.value))
                    ));
                }
            }
        }
        StepKind::Wait => {
            if let Some(wait) = &step.wait {
                let every = wait
                    .every
                    .as_deref()
                    .map_or("10s (default)", String::as_str);
                let timeout = wait
                    .timeout
                    .as_deref()
                    .map_or("10m (default)", String::as_str);
                if let Some(pause) = &wait.pause {
                    doc.push(format!("**Pause** for {}.", text(pause)));
                }
                if let Some(until) = &wait.until {
                    doc.push(format!(
                        "**Wait** until this check passes, every {}, giving up after {}:",
                        text(every),
                        text(timeout)
                    ));
                    command(doc, until, Role::Check);
                }
            }
        }
        StepKind::Uses => {
            if let Some(uses) = &step.uses {
                let with: Vec<String> = step
                    .with
                    .iter()
                    .flat_map(|with| with.iter())
                    .map(|(name, value)| format!("{}: {}", code(name), code(value)))
                    .collect();
                if with.is_empty() {
                    doc.push(format!("**Uses** {} as a sub-procedure.", code(uses)));
                } else {
                    doc.push(format!("**Uses** {} as a sub-procedure, with:", code(uses)));
                    doc.list(&with);
                }
            }
        }
    }
    let mut flow = Vec::new();
    // A decision's choices say where to go; its own `next` does not apply.
    let has_choices = step.ask.as_ref().is_some_and(|ask| ask.choices.is_some());
    if let Some(next) = step.next.as_ref().filter(|_| !has_choices) {
        flow.push(format!("**Next:** {}", step_ref(steps, next)));
    }
    if let Some(policy) = &step.on_failure {
        let shown = if steps.iter().any(|s| s.id.as_str() == policy.as_str()) {
            step_ref(steps, policy)
        } else {
            code(policy)
        };
        flow.push(format!("**On failure:** {shown}"));
    }
    if let Some(timeout) = &step.timeout {
        flow.push(format!("**Timeout:** {} per command", text(timeout)));
    }
    doc.push(flow.join(" · "));
    doc.blocks.push(Block::StepEnd);
}

/// A step id as a reader follows it: its number and id, or the end of the run.
fn step_ref(steps: &[Sp<Step>], id: &str) -> String {
    if id == END {
        return "end of the run".to_string();
    }
    match steps.iter().position(|s| s.id.as_str() == id) {
        Some(index) => format!("step {} ({})", index + 1, code(id)),
        None => code(id),
    }
}

/// Where a run goes after step `index` by default.
fn below(steps: &[Sp<Step>], index: usize) -> String {
    match steps.get(index + 1) {
        Some(next) => step_ref(steps, &next.id),
        None => step_ref(steps, END),
    }
}

/// Whether a command is an action, which is always confirmed (y/N unless it says otherwise).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Check,
    Action,
}

/// A command in a code block, then what it runs on and what it must show.
fn command(doc: &mut Blocks, command: &Command, role: Role) {
    if let Some(run) = &command.run {
        doc.push(fenced("sh", run));
    }
    if let Some(http) = &command.http {
        doc.push(fenced("http", &request(http)));
    }
    let mut facts = Vec::new();
    if let Some(on) = &command.on {
        facts.push(format!("**On:** {}", code(on)));
    }
    // A loop's limits count items, not hosts.
    let unit = if command.for_each.is_some() {
        "item"
    } else {
        "host"
    };
    if let Some(for_each) = &command.for_each {
        facts.push(format!(
            "**For each** item of {}: the command runs once per item, with {}",
            code(for_each),
            code("{{ item }}")
        ));
    }
    if command.interactive.as_ref().is_some_and(|i| i.value) {
        facts.push(
            "**Interactive:** the terminal is handed to the command; its start, end and exit are recorded, not its output"
                .to_string(),
        );
    }
    if let Some(parallel) = &command.parallel {
        facts.push(format!("**Parallel:** {} {unit}s at once", parallel.value));
    }
    if let Some(canary) = &command.canary {
        facts.push(format!(
            "**Canary:** the first {} {unit}(s), then asks before the rest",
            canary.value
        ));
    }
    if let Some(max) = &command.max_failures {
        facts.push(format!(
            "**Max failures:** stops starting {unit}s after {}",
            max.value
        ));
    }
    if let Some(why) = &command.irreversible {
        facts.push(format!("**Cannot be undone:** {}", text(why)));
    }
    let expected = expectations(command);
    if !expected.is_empty() {
        facts.push(format!("**Expect:** {}", expected.join("; ")));
    }
    if let Some(capture) = &command.capture {
        match &capture.value {
            crate::model::Capture::Whole(name) => facts.push(format!(
                "**Capture:** output kept as {}",
                code(&format!("vars.{name}"))
            )),
            crate::model::Capture::Each(rules) => {
                let kept: Vec<String> = rules
                    .iter()
                    .map(|(name, rule)| {
                        format!(
                            "{} ← {}",
                            code(&format!("vars.{}", name.value)),
                            crate::execute::capture::describe(rule)
                        )
                    })
                    .collect();
                facts.push(format!("**Capture:** {}", kept.join("; ")));
            }
        }
    }
    match (&command.confirm, role) {
        (Some(confirm), _) => {
            facts.push(format!("**Confirm:** {}", confirmation(confirm, command)));
        }
        (None, Role::Action) => {
            facts.push(format!(
                "**Confirm:** {}",
                confirmation(&Confirm::Word(ConfirmWord::Yes), command)
            ));
        }
        (None, Role::Check) => {}
    }
    if let Some(timeout) = &command.timeout {
        facts.push(format!("**Timeout:** {}", text(timeout)));
    }
    if let Some(timeout) = command.http.as_ref().and_then(|h| h.timeout.as_ref()) {
        facts.push(format!("**Request timeout:** {}", text(timeout)));
    }
    if command.warn.as_ref().is_some_and(|warn| warn.value) {
        facts.push("**Warn only:** a failure shows orange, not red".to_string());
    }
    doc.list(&facts);
}

/// An HTTP request as it goes on the wire: `METHOD url`, headers, a blank line, the body.
fn request(http: &Http) -> String {
    let method = http.method.as_deref().map_or("GET", String::as_str);
    let mut out = format!("{method} {}", http.url.value);
    for (name, value) in &http.headers {
        out.push_str(&format!("\n{}: {}", name.value, value.value));
    }
    if let Some(body) = &http.body {
        out.push_str("\n\n");
        out.push_str(body);
    }
    out
}

/// What the output or the response must show, as written.
fn expectations(command: &Command) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(expect) = &command.expect {
        if let Some(exit) = &expect.exit {
            out.push(format!("exit code {}", code(&exit.value.to_string())));
        }
        if let Some(text) = &expect.stdout_contains {
            out.push(format!("stdout contains {}", code(text)));
        }
        if let Some(regex) = &expect.stdout_matches {
            out.push(format!("stdout matches {}", code(regex)));
        }
        if let Some(text) = &expect.stdout_not_contains {
            out.push(format!("stdout does not contain {}", code(text)));
        }
        if let Some(that) = &expect.that {
            out.push(format!("that {}", code(that.trim())));
        }
    }
    if let Some(http) = &command.http {
        if let Some(status) = &http.status {
            out.push(format!("status {}", code(&status.value.to_string())));
        }
        if let Some(text) = &http.body_contains {
            out.push(format!("body contains {}", code(text)));
        }
        if let Some(regex) = &http.body_matches {
            out.push(format!("body matches {}", code(regex)));
        }
    }
    out
}

fn confirmation(confirm: &Confirm, command: &Command) -> String {
    match confirm {
        Confirm::Word(ConfirmWord::Yes) => "yes or no (no by default)".to_string(),
        Confirm::Word(ConfirmWord::Type) => {
            let target = command.on.as_deref().map_or("local", String::as_str);
            format!("the engineer types the target, {}", code(target))
        }
        Confirm::Text { text } => format!("the engineer types {}", code(text)),
        Confirm::Word(ConfirmWord::Approve) => {
            let needed = command.approvals_needed().max(1);
            format!(
                "yes or no, then an approval signed by {needed} other engineer{} (`runbook approve`)",
                if needed == 1 { "" } else { "s" }
            )
        }
    }
}

/// Whether a string holds Jinja syntax.
fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// The author's Markdown, kept as written but for trailing spaces: a hard line break written
/// as two spaces becomes a backslash, so that no line ends with spaces.
fn prose(markdown: &str) -> String {
    let lines: Vec<&str> = markdown.trim_matches('\n').lines().collect();
    let last = lines.len().saturating_sub(1);
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let trimmed = line.trim_end();
            let hard_break = line.ends_with("  ") && i < last && !trimmed.is_empty();
            if hard_break {
                format!("{trimmed}\\")
            } else {
                trimmed.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A Markdown link to an address only a run knows, `[text](⟨links.X⟩)`, becomes its text
/// followed by the mark: there is nothing to follow yet.
fn unlinked(resolved: &str) -> String {
    static LINK: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let link = LINK.get_or_init(|| {
        regex::Regex::new(&format!(
            r"\[([^\]\n]*)\]\(\s*({RUN_TIME_OPEN}[^{RUN_TIME_CLOSE}]*{RUN_TIME_CLOSE})\s*\)"
        ))
        .expect("valid regex")
    });
    link.replace_all(resolved, "$1 ($2)").into_owned()
}

/// Text for a heading: inline text, and a trailing `#` escaped so that it is not read as a
/// closing sequence.
fn heading(value: &str) -> String {
    let escaped = text(value.trim());
    match escaped.strip_suffix('#') {
        Some(rest) => format!("{rest}\\#"),
        None => escaped,
    }
}

/// Plain text on one line, with the characters Markdown would interpret escaped.
fn text(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let mut out = String::with_capacity(value.len());
    for (i, &c) in chars.iter().enumerate() {
        let alnum_around = |offset: isize| {
            i.checked_add_signed(offset)
                .and_then(|j| chars.get(j))
                .is_some_and(|c| c.is_alphanumeric())
        };
        match c {
            '\\' | '`' | '*' | '[' | ']' | '<' | '>' | '~' => {
                out.push('\\');
                out.push(c);
            }
            // `snake_case` stays readable; only an `_` that could open or close emphasis is
            // escaped.
            '_' if !(alnum_around(-1) && alnum_around(1)) => out.push_str("\\_"),
            '&' if looks_like_entity(&chars[i + 1..]) => out.push_str("\\&"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Whether the text after a `&` would be read as an HTML entity (`&amp;`, `&#35;`).
fn looks_like_entity(rest: &[char]) -> bool {
    let name_len = rest
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == '#')
        .count();
    name_len > 0 && rest.get(name_len) == Some(&';')
}

/// An inline code span that holds any text: the fence is longer than any run of backticks
/// inside, and padded when the text starts or ends with a backtick.
fn code(value: &str) -> String {
    if value.is_empty() {
        return "*(empty)*".to_string();
    }
    let value = value.replace(['\r', '\n'], " ");
    let fence = "`".repeat(longest_run(&value, '`') + 1);
    let pad = if value.starts_with('`') || value.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{value}{pad}{fence}")
}

/// Values as code spans, separated by commas.
fn codes(values: &[Sp<String>]) -> String {
    values
        .iter()
        .map(|v| code(v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A fenced code block whose fence no line of `content` can close.
fn fenced(info: &str, content: &str) -> String {
    let fence = "`".repeat(longest_run(content, '`').max(2) + 1);
    format!("{fence}{info}\n{}\n{fence}", content.trim_end_matches('\n'))
}

fn longest_run(text: &str, wanted: char) -> usize {
    let (mut longest, mut current) = (0, 0);
    for c in text.chars() {
        current = if c == wanted { current + 1 } else { 0 };
        longest = longest.max(current);
    }
    longest
}

/// A link destination between `<` and `>`, where spaces (as in `{{ inputs.env }}`) are
/// allowed.
fn destination(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A GitHub-flavoured table. Columns that are empty in every row are left out, but for the
/// first; `|` inside a cell is escaped (also inside code spans, as GFM expects).
fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let keep: Vec<usize> = (0..headers.len())
        .filter(|&column| column == 0 || rows.iter().any(|row| !row[column].is_empty()))
        .collect();
    let line = |cells: Vec<String>| format!("| {} |", cells.join(" | "));
    let mut out = vec![
        line(keep.iter().map(|&c| headers[c].to_string()).collect()),
        line(keep.iter().map(|_| "---".to_string()).collect()),
    ];
    for row in &rows {
        out.push(line(
            keep.iter().map(|&c| row[c].replace('|', "\\|")).collect(),
        ));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_what_markdown_would_interpret() {
        assert_eq!(text("a *b* [c](d) <e>"), r"a \*b\* \[c\](d) \<e\>");
        assert_eq!(text("snake_case _x_"), r"snake_case \_x\_");
        assert_eq!(text("R&D &amp; &#35;"), r"R&D \&amp; \&#35;");
        assert_eq!(text("two\nlines"), "two lines");
        assert_eq!(heading("issue #"), r"issue \#");
    }

    #[test]
    fn code_spans_hold_backticks() {
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`a`"), "`` `a` ``");
        assert_eq!(code(""), "*(empty)*");
    }

    #[test]
    fn fences_outgrow_their_content() {
        assert_eq!(fenced("sh", "ls\n"), "```sh\nls\n```");
        assert_eq!(fenced("sh", "printf '```'"), "````sh\nprintf '```'\n````");
    }

    #[test]
    fn tables_escape_pipes_and_drop_empty_columns() {
        let rows = vec![vec!["a|b".to_string(), String::new(), "`x|y`".to_string()]];
        assert_eq!(
            table(&["One", "Two", "Three"], rows),
            "| One | Three |\n| --- | --- |\n| a\\|b | `x\\|y` |"
        );
    }

    #[test]
    fn prose_keeps_hard_breaks_without_trailing_spaces() {
        assert_eq!(prose("one  \ntwo  \n"), "one\\\ntwo");
    }
}
