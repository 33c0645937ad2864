//! Documentation from a runbook: Markdown with a Mermaid flow chart of the steps, and HTML
//! with the chart drawn as SVG.
//!
//! Each is a pure function of the model; the `render` command loads and lints the runbook
//! first, so these only ever see a runbook without errors.

pub(crate) mod html;
mod markdown;
pub mod mermaid;
mod statics;
mod svg;

pub use self::html::html;
pub use self::markdown::markdown;
