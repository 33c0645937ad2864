//! The command line, as clap derive types. Nothing below this module sees clap: `lib.rs`
//! turns these into plain calls.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Runbooks as code: lint, render and run incident procedures written in YAML.
#[derive(Debug, Parser)]
#[command(name = "runbook", version, about, propagate_version = true)]
pub struct Cli {
    /// Folder that catalog ids (in `uses`, or a RUNBOOK that is not a file) resolve against
    /// [default: the nearest `runbooks` folder above the runbook, else ./runbooks]
    #[arg(long, global = true, env = "RUNBOOK_CATALOG", value_name = "DIR")]
    pub catalog: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check runbooks for mistakes; every finding has file:line:col, a rule and one sentence
    Lint(LintArgs),
    /// Turn a runbook into documentation: Markdown (or HTML) with a Mermaid flow chart
    Render(RenderArgs),
    /// List the runbooks of the catalog: id, title, services, owner, review age, steps
    List(ListArgs),
    /// Write a commented starter runbook that passes lint
    New(NewArgs),
    /// Print the JSON Schema of the runbook format (for editors and CI)
    Schema,
    /// Print shell completions
    Completions(CompletionsArgs),
}

#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// Runbook files or folders to check
    #[arg(value_name = "PATH", default_value = "runbooks")]
    pub paths: Vec<PathBuf>,

    /// How to print findings: `human` (with the source line), `github` (workflow
    /// annotations for pull requests) or `json`
    #[arg(long, value_enum, default_value_t = LintFormat::Human)]
    pub format: LintFormat,

    /// Exit 1 on warnings too, not only on errors
    #[arg(long)]
    pub deny_warnings: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    Human,
    Github,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// A runbook file, or a catalog id such as `user-sync/push-failures`
    #[arg(value_name = "RUNBOOK")]
    pub runbook: String,

    /// Output format: Markdown, or a self-contained HTML page
    #[arg(long, value_enum, default_value_t = RenderFormat::Md)]
    pub format: RenderFormat,
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
    Table,
    Json,
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
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
