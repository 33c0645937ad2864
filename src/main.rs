// mimalloc: the catalog load and ranking allocate from every core at once; glibc malloc
// spent a fifth of `triage` in its arenas and page faults.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
