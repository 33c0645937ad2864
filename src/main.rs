use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // `RUNBOOK_COMPLETE=bash runbook` prints the shell's hook; the hook calls back here to
    // complete runbook ids, step ids and input names (see the README's "Shell completions").
    // Not clap's default `COMPLETE`: a stray `COMPLETE=1` would make every command fail.
    clap_complete::CompleteEnv::with_factory(<runbook::cli::Cli as clap::CommandFactory>::command)
        .var("RUNBOOK_COMPLETE")
        .complete();
    let cli = runbook::cli::Cli::parse();
    runbook::run(cli).into()
}
