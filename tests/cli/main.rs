//! Integration tests: the real `runbook` binary, one module per command.

mod common;
mod complete;
mod examples;
mod lint;
mod list;
mod man;
mod new;
mod output;
#[path = "../support/pty.rs"]
mod pty;
mod render;
mod run;
mod schema;
mod timeline;
mod triage;
