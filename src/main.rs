use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = runbook::cli::Cli::parse();
    runbook::run(cli).into()
}
