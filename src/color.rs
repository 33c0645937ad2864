//! Colour, decided once for every output: `--color auto|always|never`, then (for `auto`)
//! `NO_COLOR`, `CLICOLOR_FORCE`, `CLICOLOR=0`, `TERM=dumb` and whether the stream is a
//! terminal — the conventions anstream follows. Everything that writes styles goes through
//! anstream (which drops them when colour is off), the prompts through inquire's render
//! config, set here.

use anstream::ColorChoice;

/// `--color`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum When {
    /// On a terminal that supports it, unless `NO_COLOR` (or `CLICOLOR_FORCE` forces it).
    #[default]
    Auto,
    Always,
    Never,
}

/// Sets the choice for the whole process; call it once, before anything is written.
pub fn init(when: When) {
    match when {
        // anstream colours a dumb terminal when `CI` is set; a dumb terminal gets none.
        When::Auto if dumb_terminal() => ColorChoice::Never,
        When::Auto => ColorChoice::Auto,
        When::Always => ColorChoice::AlwaysAnsi,
        When::Never => ColorChoice::Never,
    }
    .write_global();
    // The prompts are drawn on stderr.
    if !on_stderr() {
        inquire::set_global_render_config(inquire::ui::RenderConfig::empty());
    }
}

/// Whether styles written to stdout are kept.
pub fn on_stdout() -> bool {
    anstream::AutoStream::choice(&std::io::stdout()) != ColorChoice::Never
}

/// Whether styles written to stderr are kept.
pub fn on_stderr() -> bool {
    anstream::AutoStream::choice(&std::io::stderr()) != ColorChoice::Never
}

/// `TERM=dumb`: a terminal that cannot move its cursor either, so nothing is redrawn in
/// place (no spinners).
pub fn dumb_terminal() -> bool {
    std::env::var_os("TERM").is_some_and(|term| term == "dumb")
}
