//! `runbook new ID [PATH]`: a commented starter runbook that passes lint.

use std::path::Path;

use super::write_stdout;
use crate::{Error, ExitStatus};

pub fn new(id: &str, catalog: &Path) -> Result<ExitStatus, Error> {
    validate_id(id)?;
    let path = catalog.join(format!("{id}.yaml"));
    if path.exists() {
        return Err(Error::AlreadyExists { path });
    }
    if let Some(parent) = path.parent() {
        crate::files::create_private_folder(parent).map_err(|source| Error::WriteFile {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let service = id.split('/').next().unwrap_or(id);
    let today = crate::today()?;
    let text = format!(
        "# yaml-language-server: $schema={}\n{}",
        schema_reference(&path),
        starter(id, service, &today.to_string())
    );
    // Created new, never through a link: a file appearing meanwhile is never overwritten.
    let write = crate::files::create_new(&path, crate::files::SHARED)
        .and_then(|mut file| std::io::Write::write_all(&mut file, text.as_bytes()));
    write.map_err(|source| Error::WriteFile {
        path: path.clone(),
        source,
    })?;
    write_stdout(&format!(
        "wrote {}\nnext: fill in the TODOs, then `runbook lint {}` and `runbook run {} --dry-run`\n",
        path.display(),
        path.display(),
        path.display()
    ))?;
    Ok(ExitStatus::Success)
}

/// Where editors find the JSON Schema, for the first line of a runbook at `file`: the
/// `schemas/runbook.schema.json` of the nearest folder above it that has one, relative to the
/// file (as the shipped runbooks have it); else the schema in the repository of this tool.
pub fn schema_reference(file: &Path) -> String {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let folder = absolute(&crate::files::folder_of(file));
    for dir in folder.ancestors() {
        let schema = dir.join("schemas").join("runbook.schema.json");
        if schema.is_file() {
            let up = folder
                .strip_prefix(dir)
                .map_or(0, |below| below.components().count());
            let mut reference = "../".repeat(up);
            reference.push_str("schemas/runbook.schema.json");
            return reference;
        }
    }
    schema_url()
}

/// The committed schema in the repository named in Cargo.toml, as a raw file an editor can
/// fetch (a GitHub page URL would give it HTML).
fn schema_url() -> String {
    let repository = env!("CARGO_PKG_REPOSITORY").trim_end_matches('/');
    match repository.strip_prefix("https://github.com/") {
        Some(owner_repo) => format!(
            "https://raw.githubusercontent.com/{owner_repo}/main/schemas/runbook.schema.json"
        ),
        None => format!("{repository}/schemas/runbook.schema.json"),
    }
}

fn validate_id(id: &str) -> Result<(), Error> {
    let invalid = |reason| {
        Err(Error::InvalidId {
            id: id.to_string(),
            reason,
        })
    };
    if id.is_empty() {
        return invalid("it is empty");
    }
    for part in id.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return invalid("each part between `/` must be a name");
        }
        let first_ok = part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !first_ok
            || !part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return invalid(
                "use lowercase letters, digits and `-`, with `/` between folders (e.g. `payments/refunds-stuck`)",
            );
        }
    }
    Ok(())
}

fn starter(id: &str, service: &str, today: &str) -> String {
    format!(
        r##"# Runbook `{id}`: written by `runbook new`. Every TODO is yours to fill in.
# The format is described in docs/format.md; `runbook lint` checks this file.
runbook: 1
title: "TODO: what this runbook restores, in a few words"
summary: |
  TODO: what the service does, which failure this runbook handles and when to use it.
owner: TODO-team                    # the team that answers for this runbook
reviewed: {today}                 # update after each review; lint warns after 180 days

scope:
  services: [{service}]
  environments: [prod]
  alerts:                           # regexes matched by `runbook triage "ALERT TEXT"`
    - '^\[{service}\] '

contacts:                           # who to call, in escalation order
  - name: TODO owning team
    role: owns {service}
    chat: "#TODO"
    when: the steps below do not restore the service within 30 minutes

links:
  - name: Dashboard
    url: https://grafana.example.com/d/{service}?var-env={{{{ inputs.env }}}}

inputs:
  env:
    description: Environment
    default: prod
    choices: [prod, staging]

steps:
  - id: assess
    name: Assess the damage
    instructions: |
      Open the [dashboard]({{{{ links.Dashboard }}}}) for `{{{{ inputs.env }}}}`.
      How many users are affected, and since when?

  - id: health
    name: The service answers
    check:
      run: echo "TODO replace with a real health check"
      expect: {{ exit: 0 }}

  - id: restart
    name: Restart the service
    action:
      run: echo TODO restart {service} in {{{{ inputs.env }}}}
      rollback:
        run: echo "TODO how to undo the restart, or why it cannot be undone"

  - id: verify
    name: The service answers again
    wait:
      until:
        run: echo "TODO replace with the same health check"
      every: 10s
      timeout: 5m
"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(validate_id("payments/refunds-stuck").is_ok());
        for bad in ["", "Payments", "a//b", "../x", "a b", "-x", "a/"] {
            assert!(validate_id(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
