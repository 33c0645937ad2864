//! Documentation from a runbook: Markdown, HTML, and a Mermaid flow chart of the steps.
