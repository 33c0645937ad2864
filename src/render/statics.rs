//! What a runbook's templates can show before any run: its links, its contacts, the defaults
//! of its inputs, its id, title and owner. Rendered with the one template environment
//! ([`crate::template::render_static`]); every expression that needs a run (an input without a
//! default, `vars.*`, `steps.*`, `incident.*`, a secret) stays marked between
//! [`RUN_TIME_OPEN`] and [`RUN_TIME_CLOSE`], which Markdown shows as `⟨inputs.backend⟩` and
//! HTML as a styled mark.

use std::collections::BTreeMap;

use minijinja::value::Value;
use minijinja::{Environment, context};

use crate::model::Runbook;
use crate::template::{self, StaticPiece};

/// Opens a run-time mark: a private-use character no runbook text holds by accident.
pub const RUN_TIME_OPEN: char = '\u{E000}';
/// Closes a run-time mark.
pub const RUN_TIME_CLOSE: char = '\u{E001}';

/// The values known at render time, and the environment to render with.
pub struct Statics {
    env: Environment<'static>,
    context: Value,
}

impl Statics {
    pub fn new(runbook: &Runbook, id: Option<&str>) -> Statics {
        let env = template::environment();
        // Secret inputs are never shown, not even their defaults.
        let inputs: BTreeMap<String, String> = runbook
            .inputs
            .iter()
            .filter(|(_, input)| !input.secret)
            .filter_map(|(name, input)| {
                input
                    .default
                    .as_ref()
                    .map(|d| (name.value.clone(), d.value.clone()))
            })
            .collect();
        let field = |value: &Option<String>| value.clone().unwrap_or_default();
        let contacts: Vec<BTreeMap<&str, String>> = runbook
            .contacts
            .iter()
            .map(|c| {
                BTreeMap::from([
                    ("name", c.name.value.clone()),
                    ("role", field(&c.role)),
                    ("chat", field(&c.chat)),
                    ("email", field(&c.email)),
                    ("phone", field(&c.phone)),
                    ("when", field(&c.when)),
                ])
            })
            .collect();
        let mut about = BTreeMap::from([
            ("title", runbook.title.value.clone()),
            ("owner", runbook.owner.value.clone()),
        ]);
        if let Some(id) = id {
            about.insert("id", id.to_string());
        }
        let base = context! { inputs => inputs, contacts => contacts, runbook => about };
        // Links may use the other names; a link that needs a run is not known here.
        let links: BTreeMap<String, String> = runbook
            .links
            .iter()
            .filter_map(|link| {
                let pieces = template::render_static(&env, &link.url, &base)?;
                let mut url = String::new();
                for piece in pieces {
                    match piece {
                        StaticPiece::Text(text) => url.push_str(&text),
                        StaticPiece::RunTime(_) => return None,
                    }
                }
                Some((link.name.value.clone(), url))
            })
            .collect();
        let context = context! { links => links, ..base };
        Statics { env, context }
    }

    /// `source` with what is known filled in and the rest marked; as written when it cannot
    /// be rendered in pieces.
    pub fn resolve(&self, source: &str) -> String {
        let Some(pieces) = template::render_static(&self.env, source, &self.context) else {
            return source.to_string();
        };
        let mut out = String::with_capacity(source.len());
        for piece in pieces {
            match piece {
                StaticPiece::Text(text) => out.push_str(&text),
                StaticPiece::RunTime(expression) => {
                    out.push(RUN_TIME_OPEN);
                    out.push_str(&expression);
                    out.push(RUN_TIME_CLOSE);
                }
            }
        }
        out
    }

    /// Whether resolved text holds no run-time mark.
    pub fn is_complete(resolved: &str) -> bool {
        !resolved.contains(RUN_TIME_OPEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statics() -> Statics {
        let runbook = crate::load::parse(
            "runbook: 1\ntitle: T\nowner: o\nreviewed: 2026-11-01\nscope: { services: [s] }\n\
             contacts: [{ name: Ops, phone: '+1 555' }, { name: DBA }]\n\
             links: [{ name: Dash, url: 'https://d/{{ inputs.env }}' }, { name: Host, url: 'https://h/{{ inputs.host }}' }]\n\
             inputs: { env: { default: prod }, host: {}, key: { default: hunter2, secret: true } }\n\
             steps: [{ id: a, name: A, instructions: x }]\n",
        )
        .expect("valid runbook");
        Statics::new(&runbook, Some("team/t"))
    }

    #[test]
    fn known_values_are_filled_in_and_the_rest_marked() {
        let statics = statics();
        assert_eq!(
            statics.resolve(
                "[dash]({{ links.Dash }}) call {{ contacts[1].name }} in {{ inputs.env }}"
            ),
            "[dash](https://d/prod) call DBA in prod"
        );
        assert_eq!(
            statics
                .resolve("{{ runbook.id }}: {{inputs.host}} {{ links.Host }} {{ vars.x | upper }}"),
            "team/t: \u{E000}inputs.host\u{E001} \u{E000}links.Host\u{E001} \u{E000}vars.x | upper\u{E001}"
        );
        // A secret's default is never shown; block tags stay as written.
        assert_eq!(
            statics.resolve("{{ inputs.key }}"),
            "\u{E000}inputs.key\u{E001}"
        );
        let branch = "{% if inputs.env == 'prod' %}careful{% endif %}";
        assert_eq!(statics.resolve(branch), branch);
        assert_eq!(
            statics.resolve(
                "{{ contacts[0].name }}{%- if x %} now{% else %} later{% endif %} {# note #}"
            ),
            "Ops{%- if x %} now{% else %} later{% endif %} {# note #}"
        );
        let raw = "{% raw %}{{ inputs.env }}{% endraw %}";
        assert_eq!(statics.resolve(raw), raw);
        assert_eq!(statics.resolve("no template"), "no template");
    }
}
