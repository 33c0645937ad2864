//! Stand-ins for the tools that example runbooks call (`kubectl`, `df`…): small shell scripts in
//! a temporary folder that goes first on PATH. Each answers the invocations it was told about
//! with a set output and exit code, fails loudly on any other, and logs every invocation so the
//! test can see what the runbook really ran.
#![allow(dead_code)]

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;

/// One canned answer: when the arguments contain `args`, print `stdout` and exit with `exit`.
struct Answer {
    args: String,
    stdout: String,
    exit: i32,
}

/// A folder of fake programs.
pub struct FakeTools {
    dir: tempfile::TempDir,
    programs: Vec<(String, Vec<Answer>)>,
}

impl Default for FakeTools {
    fn default() -> Self {
        FakeTools::new()
    }
}

impl FakeTools {
    pub fn new() -> FakeTools {
        FakeTools {
            dir: tempfile::Builder::new()
                .prefix("runbook-fakes-")
                .tempdir()
                .expect("a temporary directory"),
            programs: Vec::new(),
        }
    }

    /// `program` answers an invocation whose arguments (joined by spaces) contain `args` by
    /// printing `stdout` and exiting with `exit`. The first answer that matches wins.
    pub fn answer(&mut self, program: &str, args: &str, stdout: &str, exit: i32) -> &mut Self {
        let answer = Answer {
            args: args.to_owned(),
            stdout: stdout.to_owned(),
            exit,
        };
        match self.programs.iter_mut().find(|(name, _)| name == program) {
            Some((_, answers)) => answers.push(answer),
            None => self.programs.push((program.to_owned(), vec![answer])),
        }
        self.write(program);
        self
    }

    /// PATH with this folder first.
    pub fn path(&self) -> OsString {
        let inherited = std::env::var_os("PATH").unwrap_or_default();
        let dirs =
            std::iter::once(self.dir.path().to_path_buf()).chain(std::env::split_paths(&inherited));
        std::env::join_paths(dirs).expect("a PATH")
    }

    /// The arguments of every invocation of `program` so far, oldest first.
    pub fn calls(&self, program: &str) -> Vec<String> {
        std::fs::read_to_string(self.calls_file(program))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn calls_file(&self, program: &str) -> PathBuf {
        self.dir.path().join(format!("{program}.calls"))
    }

    /// (Re)writes the script of `program` and the files holding its outputs.
    fn write(&self, program: &str) {
        let (_, answers) = self
            .programs
            .iter()
            .find(|(name, _)| name == program)
            .expect("a known program");
        let mut script = format!(
            "#!/bin/sh\n# A fake `{program}` for the tests (tests/support/fakes.rs).\n\
             printf '%s\\n' \"$*\" >> {calls}\n\
             case \"$*\" in\n",
            calls = quote(&self.calls_file(program).display().to_string()),
        );
        for (n, answer) in answers.iter().enumerate() {
            let out = self.dir.path().join(format!("{program}.{n}.out"));
            std::fs::write(&out, &answer.stdout).expect("write a fake's output");
            script.push_str(&format!(
                "  *{args}*) cat {out}; exit {exit} ;;\n",
                args = quote(&answer.args),
                out = quote(&out.display().to_string()),
                exit = answer.exit,
            ));
        }
        script.push_str(&format!(
            "esac\necho \"fake {program}: no answer for: $*\" >&2\nexit 127\n"
        ));
        let path = self.dir.path().join(program);
        std::fs::write(&path, script).expect("write a fake program");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("make a fake program executable");
    }
}

/// `text` as one single-quoted shell word (also literal inside a `case` pattern).
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}
