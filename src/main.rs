use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // `COMPLETE=bash runbook` prints the shell's hook; the hook calls back here to complete
    // runbook ids, step ids and input names (see the README's "Shell completions").
    clap_complete::CompleteEnv::with_factory(<runbook::cli::Cli as clap::CommandFactory>::command)
        .complete();
    let cli = runbook::cli::Cli::parse();
    runbook::run(cli).into()
}
