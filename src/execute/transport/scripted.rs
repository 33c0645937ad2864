//! The scripted target of `runbook test`: nothing runs. Each shell command or HTTP request is
//! answered by the first rule that matches its step, host and rendered command; a command no
//! rule matches fails (with a reason naming it) and is remembered, so that the test fails
//! naming it too.

use std::sync::Mutex;
use std::time::Duration;

use regex::Regex;

use super::{CommandOutput, HttpResponse};

/// One scripted outcome and what it answers.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The step id as the timeline names it (`restart/inner` inside a sub-procedure).
    pub step: Option<String>,
    /// The host as the timeline names it (`local` on this machine).
    pub host: Option<String>,
    /// A regex searched in the rendered command (for HTTP: `METHOD URL`, then headers and
    /// body, as an action shows it).
    pub run: Option<Regex>,
    /// How many commands it answers (`None`: every one); once used up, the next rule that
    /// matches answers, so that the tries of a wait can fail, then pass.
    pub times: Option<usize>,
    pub reply: Reply,
}

/// What a matched command gives.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// Exit code of a shell command (default 0).
    pub exit: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// HTTP status (default 200).
    pub status: Option<u16>,
    /// HTTP body (default: `stdout`).
    pub body: Option<String>,
}

/// One command the run asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub step: String,
    pub host: String,
    /// The rendered command, as shown and recorded.
    pub command: String,
    /// The index of the rule that answered it; `None` when no rule matched.
    pub rule: Option<usize>,
}

/// The rules of one test and the calls made so far. Shared by the threads of a fan-out.
#[derive(Debug, Default)]
pub struct Scripted {
    rules: Vec<Rule>,
    calls: Mutex<Vec<Call>>,
    /// How many commands each rule has answered.
    used: Mutex<Vec<usize>>,
}

impl Scripted {
    pub fn new(rules: Vec<Rule>) -> Self {
        Scripted {
            used: Mutex::new(vec![0; rules.len()]),
            rules,
            calls: Mutex::new(Vec::new()),
        }
    }

    /// Every command asked for, in the order asked.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// The first rule that matches and is not used up, recording the call.
    fn answer(&self, step: &str, host: &str, command: &str) -> Option<&Reply> {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let index = self.rules.iter().enumerate().position(|(i, rule)| {
            rule.times.is_none_or(|times| used[i] < times)
                && rule.step.as_deref().is_none_or(|s| s == step)
                && rule.host.as_deref().is_none_or(|h| h == host)
                && rule.run.as_ref().is_none_or(|r| r.is_match(command))
        });
        if let Some(i) = index {
            used[i] += 1;
        }
        drop(used);
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(Call {
                step: step.to_string(),
                host: host.to_string(),
                command: command.to_string(),
                rule: index,
            });
        }
        index.map(|i| &self.rules[i].reply)
    }

    /// A shell command of step `step` on `host`.
    pub fn shell(&self, step: &str, host: &str, script: &str) -> CommandOutput {
        match self.answer(step, host, script) {
            Some(reply) => CommandOutput {
                exit: Some(reply.exit.unwrap_or(0)),
                stdout: reply.stdout.clone(),
                stderr: reply.stderr.clone(),
                duration: Duration::ZERO,
                ..CommandOutput::default()
            },
            None => CommandOutput {
                error: Some(unmatched(step, host)),
                ..CommandOutput::default()
            },
        }
    }

    /// An HTTP request of step `step`; `shown` is the request as an action shows it.
    pub fn http(&self, step: &str, host: &str, shown: &str) -> HttpResponse {
        match self.answer(step, host, shown) {
            Some(reply) => HttpResponse {
                status: Some(reply.status.unwrap_or(200)),
                body: reply.body.clone().unwrap_or_else(|| reply.stdout.clone()),
                duration: Duration::ZERO,
                error: None,
            },
            None => HttpResponse {
                error: Some(unmatched(step, host)),
                ..HttpResponse::default()
            },
        }
    }
}

fn unmatched(step: &str, host: &str) -> String {
    format!("no scripted outcome matches this command (step `{step}`, host `{host}`)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(step: Option<&str>, host: Option<&str>, run: Option<&str>, exit: i32) -> Rule {
        Rule {
            step: step.map(str::to_string),
            host: host.map(str::to_string),
            run: run.map(|r| Regex::new(r).unwrap()),
            times: None,
            reply: Reply {
                exit: Some(exit),
                ..Reply::default()
            },
        }
    }

    #[test]
    fn the_first_matching_rule_answers_and_an_unmatched_command_fails() {
        let scripted = Scripted::new(vec![
            rule(Some("health"), Some("web-1"), None, 0),
            rule(Some("health"), None, None, 3),
            rule(None, None, Some("socat"), 7),
        ]);
        assert_eq!(scripted.shell("health", "web-1", "curl").exit, Some(0));
        assert_eq!(scripted.shell("health", "web-2", "curl").exit, Some(3));
        assert_eq!(
            scripted.shell("drain", "lb", "echo | socat x").exit,
            Some(7)
        );
        assert_eq!(
            scripted.shell("restart/health", "local", "socat").exit,
            Some(7)
        );
        let missed = scripted.shell("drain", "lb", "rm -rf /");
        assert_eq!(missed.exit, None);
        assert!(missed.error.unwrap().contains("no scripted outcome"));
        let calls = scripted.calls();
        assert_eq!(calls.len(), 5);
        assert_eq!(calls[4].rule, None);
        assert_eq!(calls[1].rule, Some(1));
    }

    #[test]
    fn a_step_of_a_sub_procedure_is_named_as_the_timeline_names_it() {
        let scripted = Scripted::new(vec![rule(Some("restart/rollout"), None, None, 0)]);
        assert_eq!(
            scripted.shell("restart/rollout", "local", "k").exit,
            Some(0)
        );
        assert_eq!(scripted.shell("rollout", "local", "k").exit, None);
    }

    #[test]
    fn a_rule_with_times_answers_that_many_commands_then_the_next_one_answers() {
        let mut twice = rule(Some("gone"), None, None, 1);
        twice.times = Some(2);
        let scripted = Scripted::new(vec![twice, rule(Some("gone"), None, None, 0)]);
        let exits: Vec<Option<i32>> = (0..4)
            .map(|_| scripted.shell("gone", "local", "count").exit)
            .collect();
        assert_eq!(exits, [Some(1), Some(1), Some(0), Some(0)]);
        let rules: Vec<Option<usize>> = scripted.calls().iter().map(|c| c.rule).collect();
        assert_eq!(rules, [Some(0), Some(0), Some(1), Some(1)]);
    }

    #[test]
    fn a_used_up_rule_and_nothing_after_it_leaves_the_command_unmatched() {
        let mut once = rule(None, None, None, 0);
        once.times = Some(1);
        let scripted = Scripted::new(vec![once]);
        assert_eq!(scripted.shell("a", "local", "x").exit, Some(0));
        assert!(scripted.shell("a", "local", "x").error.is_some());
    }
}
