//! Rules about `notify:`: each request has a method HTTP knows, a timeout written as a
//! duration, events it can be sent on, and templates that compile and use only the names a
//! notification sees (`event`, `incident`, `runbook`, `operator`, `inputs`, `data`,
//! `timeline`), inputs the runbook declares. And an action that waits for approvals has an
//! `allowed_signers` file in its catalog to check them against.

use std::collections::HashSet;

use super::{FileLint, Rule};
use crate::model::Sp;

/// The names a notification's templates see.
pub const NOTIFY_ROOTS: [&str; 7] = [
    "event", "incident", "runbook", "operator", "inputs", "data", "timeline",
];

pub(crate) fn check(lint: &mut FileLint<'_>) {
    let runbook = lint.runbook;
    let env = crate::template::environment();
    for notify in &runbook.notify {
        if let Some(method) = &notify.method {
            const METHODS: [&str; 4] = ["GET", "POST", "PUT", "PATCH"];
            if !METHODS.contains(&method.to_ascii_uppercase().as_str()) {
                lint.report(
                    Rule::InvalidValue,
                    method.pos,
                    format!(
                        "`method: {}` is not a method a notification sends; use one of {}",
                        method.value,
                        METHODS.join(", ")
                    ),
                );
            }
        }
        if let Some(timeout) = &notify.timeout
            && let Err(reason) = crate::model::parse_duration(&timeout.value)
        {
            lint.report(
                Rule::InvalidDuration,
                timeout.pos,
                format!("`timeout: {}`: {reason}", timeout.value),
            );
        }
        let mut templates: Vec<&Sp<String>> = vec![&notify.url];
        templates.extend(notify.headers.values());
        templates.extend(notify.body.as_ref());
        for text in templates {
            check_template(lint, &env, text);
        }
    }
}

fn check_template(lint: &mut FileLint<'_>, env: &minijinja::Environment<'_>, text: &Sp<String>) {
    if !text.value.contains("{{") && !text.value.contains("{%") {
        return;
    }
    let template = match env.template_from_str(&text.value) {
        Ok(template) => template,
        Err(error) => {
            lint.report(
                Rule::TemplateSyntax,
                text.pos,
                format!("this template does not compile: {error}"),
            );
            return;
        }
    };
    let used: HashSet<String> = template.undeclared_variables(true);
    let mut used: Vec<String> = used.into_iter().collect();
    used.sort();
    for name in used {
        let root = name.split('.').next().unwrap_or_default();
        if !NOTIFY_ROOTS.contains(&root) {
            lint.report_with_help(
                Rule::UndefinedName,
                text.pos,
                format!("a notification cannot use `{root}`"),
                Some(format!(
                    "a notification's templates see {}",
                    NOTIFY_ROOTS
                        .iter()
                        .map(|r| format!("`{r}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
            continue;
        }
        if root == "inputs"
            && let Some(input) = name.split('.').nth(1)
            && !lint.runbook.inputs.keys().any(|k| k.value == input)
        {
            lint.report(
                Rule::UndefinedName,
                text.pos,
                format!("`inputs.{input}` is not an input of this runbook"),
            );
        }
        if root == "data"
            && let Some(key) = name.split('.').nth(1)
            && !lint.runbook.data.keys().any(|k| k.value == key)
        {
            lint.report(
                Rule::UndefinedName,
                text.pos,
                format!("`data.{key}` is not in this runbook's `data`"),
            );
        }
    }
}

/// An action with `confirm: approve` or `approvers` in a catalog without
/// `.runbook/allowed_signers`: found now rather than at 4 am (`--allowed-signers` can still
/// name another file at run time).
pub(crate) fn check_approvals(lint: &mut FileLint<'_>, catalog: &std::path::Path) {
    let file = catalog.join(".runbook").join("allowed_signers");
    if file.is_file() {
        return;
    }
    for step in &lint.runbook.steps {
        let Some(action) = &step.action else { continue };
        if action.approvals_needed() == 0 {
            continue;
        }
        let pos = action
            .approvers
            .as_ref()
            .map(|a| a.pos)
            .or(action.confirm.as_ref().map(|c| c.pos))
            .unwrap_or(action.pos);
        lint.report_with_help(
            Rule::NoAllowedSigners,
            pos,
            format!(
                "step `{}` waits for approvals, and there is no `{}` to check them against",
                step.id.value,
                file.display()
            ),
            Some("list who may approve, one `PRINCIPAL KEYTYPE KEY` line each (the `ssh-keygen -Y verify` format), or give `runbook run --allowed-signers FILE`"),
        );
    }
}
