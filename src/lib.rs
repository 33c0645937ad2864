//! `runbook`: incident procedures as code.
//!
//! A runbook is loaded ([`load`]) into the model ([`model`]), checked ([`lint`]), then
//! rendered ([`render`]) or — in later work — executed. Each subcommand lives in
//! [`commands`]; [`run`] dispatches the parsed command line to it.

pub mod alert;
pub mod cli;
pub mod color;
pub mod commands;
pub mod complete;
mod error;
pub mod execute;
pub mod files;
pub mod flow;
pub mod lint;
pub mod load;
pub mod model;
pub mod notify;
pub mod render;
pub mod sanitize;
pub mod schema;
pub mod secrets;
pub mod template;
pub mod timeline;

pub use error::{Error, ExitStatus};

use cli::{Cli, Command};

/// Runs one command line and reports any error on stderr.
pub fn run(cli: Cli) -> ExitStatus {
    color::init(match cli.color {
        cli::ColorWhen::Auto => color::When::Auto,
        cli::ColorWhen::Always => color::When::Always,
        cli::ColorWhen::Never => color::When::Never,
    });
    // Fleet scale: as many open files as the system lets this user have (see `fleet`).
    execute::transport::fleet::raise_open_files_limit();
    let catalog = cli.catalog;
    let result = match cli.command {
        Command::Run(args) => execute::run(execute::RunSettings {
            runbook: args.runbook,
            catalog,
            sets: args.set,
            incident: args.incident,
            alerted_at: args.alerted_at,
            alert: args.alert,
            timeline: args.timeline,
            ssh_config: args.ssh_config,
            from: args.from,
            dry_run: args.dry_run,
            rehearse: args.rehearse,
            yes: args.yes,
            answers: args.answers,
            resume: args.resume,
            resume_runbook: args.resume_runbook,
            allowed_signers: args.allowed_signers,
        }),
        Command::Approve(args) => commands::approve::approve(commands::approve::ApproveSettings {
            timeline: args.timeline,
            step: args.step,
            key: args.key,
            yes: args.yes,
        }),
        Command::Lint(args) => {
            to_output(args.format, args.output, cli::LintFormat::Human, |format| {
                commands::lint::lint_checked(
                    &args.paths,
                    format,
                    args.deny_warnings,
                    catalog,
                    args.require_tests,
                )
            })
        }
        Command::Render(args) => match (args.out, args.runbook) {
            (Some(out), _) => commands::render::site(&out, catalog),
            (None, Some(runbook)) => {
                to_output(args.format, args.output, cli::RenderFormat::Md, |format| {
                    commands::render::render(&runbook, format, catalog)
                })
            }
            (None, None) => unreachable!("clap requires RUNBOOK without --out"),
        },
        Command::List(args) => commands::list::list(&args.path, args.format),
        Command::Triage(args) => to_output(
            args.format,
            args.output,
            cli::TriageFormat::Text,
            |format| {
                commands::triage::triage(
                    args.alert.as_deref(),
                    args.path.as_deref(),
                    format,
                    catalog,
                )
            },
        ),
        Command::Status(args) => commands::output::format(
            args.format,
            args.output.as_deref(),
            cli::StatusFormat::Table,
        )
        .and_then(|format| {
            commands::status::status(commands::status::StatusSettings {
                path: args.path,
                format,
                output: args.output,
                parallel: args.parallel as usize,
                ssh_config: args.ssh_config,
                catalog,
            })
        }),
        Command::New(args) => commands::new::new(&args.id, &args.path),
        Command::Timeline(args) => match (args.action, args.file) {
            (
                Some(cli::TimelineAction::Verify {
                    file,
                    allowed_signers,
                }),
                _,
            ) => commands::timeline::verify(&file, allowed_signers.as_deref()),
            (None, Some(file)) if args.follow => commands::timeline::follow(&file),
            (None, Some(file)) => to_output(
                args.format,
                args.output,
                cli::TimelineFormat::Text,
                |format| commands::timeline::show(&file, format),
            ),
            (None, None) => unreachable!("clap requires FILE without a subcommand"),
        },
        Command::Test(args) => commands::test::test(&commands::test::TestSettings {
            paths: args.paths,
            format: args.format,
            catalog,
        }),
        Command::Schema => commands::schema(),
        Command::Watch(args) => commands::watch::watch(commands::watch::WatchSettings {
            path: args.path,
            every: args.every,
            duration: args.duration,
            timeline: args.timeline,
            parallel: args.parallel as usize,
            ssh_config: args.ssh_config,
            catalog,
        }),
        Command::Incidents(args) => {
            commands::incidents::incidents(commands::incidents::IncidentsSettings {
                dir: args.dir,
                format: args.format,
                catalog,
            })
        }
        Command::Changes(args) => commands::changes::changes(commands::changes::ChangesSettings {
            dir: args.dir,
            since: args.since,
            format: args.format,
        }),
        Command::Completions(args) => commands::completions(args.shell),
        Command::Man(args) => commands::man::man(&args.subcommand, args.out.as_deref()),
    };
    result.unwrap_or_else(|error| {
        report_error(&error);
        error.exit_status()
    })
}

/// Runs a command whose stdout goes to `output` when it is given (`-o/--output FILE`), in
/// the format `--format` names, else the file's extension, else `default`. The file is
/// written only when the command did not fail outright (lint findings still write it).
fn to_output<F: clap::ValueEnum + Copy>(
    format: Option<F>,
    output: Option<std::path::PathBuf>,
    default: F,
    command: impl FnOnce(F) -> Result<ExitStatus, Error>,
) -> Result<ExitStatus, Error> {
    let format = commands::output::format(format, output.as_deref(), default)?;
    let Some(path) = output else {
        return command(format);
    };
    commands::output::capture();
    let result = command(format);
    commands::output::finish(&path, result.is_ok())?;
    result
}

/// Today's date, or `RUNBOOK_TODAY` (`YYYY-MM-DD`) when set, so that review ages in CI
/// output and tests do not drift with the calendar.
pub fn today() -> Result<jiff::civil::Date, Error> {
    match std::env::var("RUNBOOK_TODAY") {
        Ok(value) => value.parse().map_err(|_| Error::InvalidEnv {
            name: "RUNBOOK_TODAY",
            value,
            reason: "write the date as YYYY-MM-DD",
        }),
        Err(_) => Ok(jiff::Zoned::now().date()),
    }
}

/// Prints an error the way every command does: `error: ` and one sentence.
pub fn report_error(error: &Error) {
    use std::io::Write as _;
    let style = anstyle::Style::new()
        .bold()
        .fg_color(Some(anstyle::AnsiColor::Red.into()));
    let _ = writeln!(anstream::stderr(), "{style}error{style:#}: {error}");
}
