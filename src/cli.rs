//! The command line, as clap derive types. Nothing below this module sees clap: `lib.rs`
//! turns these into plain calls.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use clap_complete::engine::ArgValueCompleter;

/// Runbooks as code: lint, render and run incident procedures written in YAML.
#[derive(Debug, Parser)]
#[command(name = "runbook", version, about, propagate_version = true)]
pub struct Cli {
    /// Folder that catalog ids (in `uses`, or a RUNBOOK that is not a file) resolve against
    /// [default: the nearest `runbooks` folder above the runbook, else ./runbooks]
    #[arg(long, global = true, env = "RUNBOOK_CATALOG", value_name = "DIR")]
    pub catalog: Option<PathBuf>,

    /// When to colour the output (and the prompts): `auto` colours a terminal unless
    /// NO_COLOR is set or TERM=dumb (CLICOLOR_FORCE forces it)
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub color: ColorWhen,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Walk through a runbook: checks run by themselves, actions are confirmed first, and
    /// every action is recorded in an incident timeline
    Run(RunArgs),
    /// Check runbooks for mistakes; every finding has file:line:col, a rule and one sentence
    Lint(LintArgs),
    /// Turn a runbook into documentation: Markdown (or HTML) with a Mermaid flow chart
    Render(RenderArgs),
    /// List the runbooks of the catalog: id, title, services, owner, review age, steps
    List(ListArgs),
    /// Find the runbook for an alert: best match first, with its contacts, links and the
    /// command to start it
    Triage(TriageArgs),
    /// The morning check: run every runbook's `health` checks at once; one row per service,
    /// green, orange or red
    Status(StatusArgs),
    /// Write a commented starter runbook that passes lint
    New(NewArgs),
    /// Read an incident timeline: a chronology, a postmortem draft, or JSON;
    /// `timeline verify FILE` checks its hash chain
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Timeline(TimelineArgs),
    /// Run the tests beside runbooks (`NAME.test.yaml`): scripted commands and answers,
    /// the same engine as `run`, nothing touched; a line per test, exit 1 on a failure
    Test(TestArgs),
    /// Print the JSON Schema of the runbook format (for editors and CI)
    Schema,
    /// Hypercare after a fix: run the `health` checks every interval for a while, one line per
    /// round; loud (bell, ⚠, exit 1) when a service turns worse than it started
    Watch(WatchArgs),
    /// The incident board: every timeline of a folder with its state, priority, operator,
    /// time to acknowledge and time left before the deadline; breached first
    Incidents(IncidentsArgs),
    /// The change trail: every action that ran for real across the timelines, newest first
    Changes(ChangesArgs),
    /// Approve an action another engineer's run waits for: shows the command and its hash,
    /// then signs the request with your SSH key (`ssh-keygen -Y sign`, namespace `runbook`)
    Approve(ApproveArgs),
    /// Print shell completions
    Completions(CompletionsArgs),
    /// Print the manual page: runbook(1), or a subcommand's (`runbook man run`); `--out DIR`
    /// writes every page (`runbook.1`, `runbook-run.1`, …) into DIR
    Man(ManArgs),
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// The subcommand whose page to print, e.g. `run` or `timeline verify` [default: runbook(1)]
    #[arg(value_name = "SUBCOMMAND")]
    pub subcommand: Vec<String>,

    /// Write every page into DIR (e.g. /usr/local/share/man/man1) instead of printing one
    #[arg(long, value_name = "DIR", conflicts_with = "subcommand")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("mode").args(["dry_run", "rehearse"]))]
pub struct RunArgs {
    /// A runbook file, or a catalog id such as `demo/local-demo`
    #[arg(
        value_name = "RUNBOOK",
        required_unless_present = "resume",
        conflicts_with = "resume",
        add = ArgValueCompleter::new(crate::complete::runbook)
    )]
    pub runbook: Option<String>,

    /// Give an input: NAME=VALUE (repeatable); inputs not given are asked
    #[arg(long = "set", value_name = "NAME=VALUE", add = ArgValueCompleter::new(crate::complete::set))]
    pub set: Vec<String>,

    /// Incident id, used in the timeline [default: the runbook id and the start time]
    #[arg(long, value_name = "ID")]
    pub incident: Option<String>,

    /// When the alert fired (RFC 3339, e.g. 2026-11-21T03:58:00Z), for time-to-acknowledge
    #[arg(long, value_name = "TIME")]
    pub alerted_at: Option<String>,

    /// Start from this alert: a payload file (Alertmanager, Grafana, PagerDuty V3, Opsgenie,
    /// Prometheus alert) or `-` for stdin; fills the inputs that name a `label`, the alert
    /// time, and `alert.*` in templates
    #[arg(long, value_name = "FILE")]
    pub alert: Option<String>,

    /// Where to write the timeline [default: timelines/INCIDENT.jsonl]
    #[arg(long, value_name = "FILE")]
    pub timeline: Option<PathBuf>,

    /// ssh configuration file passed to ssh as `-F FILE`
    #[arg(long, value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,

    /// Start at this step instead of the first
    #[arg(long, value_name = "STEP", add = ArgValueCompleter::new(crate::complete::step))]
    pub from: Option<String>,

    /// Run nothing: print every step with its rendered commands and where branches lead
    #[arg(long)]
    pub dry_run: bool,

    /// Practice: checks run for real, actions are shown but not run
    #[arg(long)]
    pub rehearse: bool,

    /// Answer "done" to manual steps and "yes" to confirmations
    #[arg(long)]
    pub yes: bool,

    /// Pick a choice of an `ask` step: STEP=LABEL (repeatable)
    #[arg(long = "answer", value_name = "STEP=LABEL", add = ArgValueCompleter::new(crate::complete::answer))]
    pub answers: Vec<String>,

    /// Continue an interrupted run from its timeline; the first run's flags come back with it
    /// (`--set` gives secrets, or replaces an input)
    #[arg(long, value_name = "TIMELINE", conflicts_with_all = ["incident", "timeline", "from", "dry_run", "rehearse", "alerted_at", "alert"])]
    pub resume: Option<PathBuf>,

    /// With --resume: the runbook file to continue, when the one the timeline names has moved
    /// out of its catalog or is gone
    #[arg(long, value_name = "FILE", requires = "resume")]
    pub resume_runbook: Option<PathBuf>,

    /// The `allowed_signers` file (as `ssh-keygen -Y verify` reads it) that approvals of
    /// `confirm: approve` actions are checked against (default: the catalog's
    /// `.runbook/allowed_signers`)
    #[arg(long, value_name = "FILE")]
    pub allowed_signers: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    /// The timeline of the run that waits for an approval
    #[arg(value_name = "TIMELINE")]
    pub timeline: PathBuf,

    /// The step whose approval request to sign (as the run prints it)
    #[arg(value_name = "STEP")]
    pub step: String,

    /// Your SSH private key (default `~/.ssh/id_ed25519`); its public key must be in the
    /// run's `allowed_signers`
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,

    /// Sign without asking (you still see the command); needed without a terminal
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// Runbook files or folders to check
    #[arg(value_name = "PATH", default_value = "runbooks")]
    pub paths: Vec<PathBuf>,

    /// How to print findings: `text` (with the source line), `github` (workflow
    /// annotations for pull requests, and a job summary in $GITHUB_STEP_SUMMARY), `json` or
    /// `sarif` (SARIF 2.1.0, for GitHub code scanning) [default: text, or what the
    /// `--output` file's extension names]
    #[arg(long, value_enum)]
    pub format: Option<LintFormat>,

    /// Write the findings to FILE instead of stdout (`.sarif`, `.json` pick the format)
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Exit 1 on warnings too, not only on errors
    #[arg(long)]
    pub deny_warnings: bool,

    /// Also warn about decision choices (and `on_failure` steps) that no test of the
    /// runbook's `NAME.test.yaml` takes (rule `untested-branch`)
    #[arg(long)]
    pub require_tests: bool,
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Test files (`NAME.test.yaml`), runbook files (their tests beside them) or folders
    #[arg(value_name = "PATH", default_value = "runbooks")]
    pub paths: Vec<PathBuf>,

    /// How to print results: `text` (a line per test, paths side by side on a failure),
    /// `github` (workflow annotations, and a job summary in $GITHUB_STEP_SUMMARY) or `json`
    #[arg(long, value_enum, default_value_t = LintFormat::Human)]
    pub format: LintFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    /// For a person (`human` is its old name)
    #[value(name = "text", alias = "human")]
    Human,
    Github,
    Json,
    /// SARIF 2.1.0 (`lint` only)
    Sarif,
}

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// A runbook file, or a catalog id such as `user-sync/push-failures`
    #[arg(value_name = "RUNBOOK", required_unless_present = "out", add = ArgValueCompleter::new(crate::complete::runbook))]
    pub runbook: Option<String>,

    /// Output format: Markdown, or a self-contained HTML page [default: md, or what the
    /// `--output` file's extension names]
    #[arg(long, value_enum)]
    pub format: Option<RenderFormat>,

    /// Write the page to FILE instead of stdout (`.html`, `.md` pick the format)
    #[arg(short = 'o', long, value_name = "FILE", conflicts_with = "out")]
    pub output: Option<PathBuf>,

    /// Render the whole catalog (`--catalog`, else ./runbooks) as a static HTML site in DIR:
    /// one page per runbook at ID.html, with an anchor #step-ID per step, and index.html —
    /// the pages an alert's `runbook_url` points at
    #[arg(long, value_name = "DIR", conflicts_with_all = ["runbook", "format"])]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderFormat {
    Md,
    Html,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Catalog folder (or a single file)
    #[arg(value_name = "PATH", default_value = "runbooks")]
    pub path: PathBuf,

    /// Output format
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    #[value(name = "text", alias = "table")]
    Table,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct TriageArgs {
    /// The alert as it arrived: its text (`[FIRING:1] KubePodCrashLooping (…)`), a payload
    /// file (Alertmanager, Grafana, PagerDuty V3, Opsgenie webhook, Prometheus alert), or `-`
    /// for stdin [default: stdin, when it is not a terminal]
    #[arg(value_name = "ALERT")]
    pub alert: Option<String>,

    /// Catalog folder (or a single file) [default: the `--catalog` folder, else runbooks]
    ///
    /// A catalog of 100 runbooks or more is parsed through a private cache in
    /// $XDG_CACHE_HOME/runbook (else ~/.cache/runbook), used only for a file's exact bytes;
    /// RUNBOOK_CACHE=off turns it off.
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,

    /// Output format [default: text, or what the `--output` file's extension names]
    #[arg(long, value_enum)]
    pub format: Option<TriageFormat>,

    /// Write the result to FILE instead of stdout (`.json` picks the format)
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TriageFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Catalog folder (or a single file)
    #[arg(value_name = "PATH", default_value = "runbooks")]
    pub path: PathBuf,

    /// `text` for the terminal, `json`, or `html`: one self-contained page [default: text,
    /// or what the `--output` file's extension names]
    #[arg(long, value_enum)]
    pub format: Option<StatusFormat>,

    /// Write the report to FILE instead of stdout (`.json`, `.html` pick the format)
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Checks (and hosts of a fan-out) running at once, over the whole catalog
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub parallel: u32,

    /// ssh configuration file passed to ssh as `-F FILE`
    #[arg(long, value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    #[value(name = "text", alias = "table")]
    Table,
    Json,
    Html,
}

#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// Id of the new runbook, e.g. `payments/refunds-stuck` (becomes PATH/ID.yaml)
    #[arg(value_name = "ID")]
    pub id: String,

    /// Catalog folder to write into
    #[arg(value_name = "PATH", default_value = "runbooks")]
    pub path: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct TimelineArgs {
    #[command(subcommand)]
    pub action: Option<TimelineAction>,

    /// The timeline file (JSON Lines)
    #[arg(value_name = "FILE", required = true)]
    pub file: Option<PathBuf>,

    /// `text`: a readable chronology; `md`: a postmortem draft; `json`: the events as an array
    /// [default: text, or what the `--output` file's extension names]
    #[arg(long, value_enum)]
    pub format: Option<TimelineFormat>,

    /// Write it to FILE instead of stdout (`.md` a postmortem draft, `.json` the events)
    #[arg(short = 'o', long, value_name = "FILE", conflicts_with = "follow")]
    pub output: Option<PathBuf>,

    /// A live, read-only view of a running incident: the events so far, then each new one as
    /// it is written, the current step and the clock; ends at `run_finished` or Ctrl-C
    #[arg(long, conflicts_with = "format")]
    pub follow: bool,
}

#[derive(Debug, Subcommand)]
pub enum TimelineAction {
    /// Check the hash chain; exit 1 and the first broken line when the file was tampered with
    Verify {
        /// The timeline file
        #[arg(value_name = "FILE")]
        file: PathBuf,

        /// Also check the head's SSH signature against this `allowed_signers` file
        /// (as `ssh-keygen -Y verify` reads it); exit 1 when it is missing or does not hold
        #[arg(long, value_name = "FILE")]
        allowed_signers: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TimelineFormat {
    Text,
    Md,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorWhen {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// Catalog folder, or one runbook file
    #[arg(value_name = "PATH", default_value = "runbooks")]
    pub path: PathBuf,

    /// Time between the starts of two rounds, e.g. `30s`, `1m`
    #[arg(long, value_name = "DURATION", default_value = "1m")]
    pub every: String,

    /// How long to watch, e.g. `1h`, `90m`
    #[arg(long = "for", value_name = "DURATION", default_value = "1h")]
    pub duration: String,

    /// Record each service that turns worse in this incident timeline (its writer's lock is
    /// taken for each event, so not while its run is still going)
    #[arg(long, value_name = "FILE")]
    pub timeline: Option<PathBuf>,

    /// Checks (and hosts of a fan-out) running at once
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub parallel: u32,

    /// ssh configuration file passed to ssh as `-F FILE`
    #[arg(long, value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct IncidentsArgs {
    /// Folder of timelines (searched recursively for `*.jsonl`)
    #[arg(value_name = "DIR", default_value = "timelines")]
    pub dir: PathBuf,

    /// Output format
    #[arg(long, value_enum, default_value_t = BoardFormat::Table)]
    pub format: BoardFormat,
}

#[derive(Debug, clap::Args)]
pub struct ChangesArgs {
    /// Folder of timelines (searched recursively for `*.jsonl`)
    #[arg(value_name = "DIR", default_value = "timelines")]
    pub dir: PathBuf,

    /// How far back: a duration (`24h`, `7d`, `1w`) or a time (RFC 3339)
    #[arg(long, value_name = "WHEN", default_value = "24h")]
    pub since: String,

    /// Output format
    #[arg(long, value_enum, default_value_t = BoardFormat::Table)]
    pub format: BoardFormat,
}

/// The output of `incidents` and `changes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BoardFormat {
    #[value(name = "text", alias = "table")]
    Table,
    Json,
}
