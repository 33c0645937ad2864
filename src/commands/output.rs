//! `-o/--output FILE`, one way for every command that has it: a file name that is a format
//! name (`--output json`) is refused, the format follows the file's extension unless
//! `--format` says otherwise, and the file is replaced in one step with what the command
//! would have printed (no colour), only when the command did not fail.

use std::path::Path;
use std::sync::Mutex;

use clap::ValueEnum;

use crate::Error;

/// Every format name and old alias of any command: none is a file anyone means to write.
const FORMAT_NAMES: &[&str] = &[
    "text", "human", "table", "json", "html", "md", "markdown", "sarif", "github",
];

/// The format of a command that has `--format` and `-o/--output`: the one given, else the one
/// the output file's extension names (`.json`, `.html`, `.md`, `.sarif`, `.txt`), else
/// `default`. `--output json` (a format name as the file) is refused: exit 2.
pub fn format<F: ValueEnum + Copy>(
    given: Option<F>,
    output: Option<&Path>,
    default: F,
) -> Result<F, Error> {
    let Some(path) = output else {
        return Ok(given.unwrap_or(default));
    };
    check_name(path)?;
    if let Some(format) = given {
        return Ok(format);
    }
    let Some(extension) = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
    else {
        return Ok(default);
    };
    let wanted = match extension.as_str() {
        "json" => "json",
        "html" | "htm" => "html",
        "md" | "markdown" => "md",
        "sarif" => "sarif",
        "txt" | "text" => "text",
        _ => return Ok(default),
    };
    if let Some(format) = F::value_variants().iter().find(|variant| {
        variant
            .to_possible_value()
            .is_some_and(|value| value.matches(wanted, true))
    }) {
        return Ok(*format);
    }
    let names: Vec<String> = F::value_variants()
        .iter()
        .filter_map(|v| v.to_possible_value())
        .map(|v| format!("`{}`", v.get_name()))
        .collect();
    Err(Error::InvalidFlag {
        flag: "--output",
        value: path.display().to_string(),
        reason: format!(
            "`.{extension}` names a format this command does not write (it writes {}); \
             give `--format` too, or name the file after one of them",
            names.join(", ")
        ),
    })
}

/// Refuses `--output json`: a file named like a format is almost always `--format` misspelt,
/// and writing the text table into a file called `json` would be a silent surprise.
pub fn check_name(path: &Path) -> Result<(), Error> {
    let given = path.as_os_str().to_string_lossy();
    if let Some(name) = FORMAT_NAMES
        .iter()
        .find(|name| given.eq_ignore_ascii_case(name))
    {
        return Err(Error::InvalidFlag {
            flag: "--output",
            value: given.to_string(),
            reason: format!(
                "that is a format, not a file: use `--format {name}` (with `--output FILE.{}` \
                 to write it to a file; `--output ./{given}` if you do mean a file called `{given}`)",
                match *name {
                    "human" | "table" | "text" => "txt",
                    "markdown" => "md",
                    "github" => "txt",
                    other => other,
                }
            ),
        });
    }
    if path.is_dir() {
        return Err(Error::InvalidFlag {
            flag: "--output",
            value: given.into_owned(),
            reason: "a folder; name the file to write".into(),
        });
    }
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(Error::InvalidFlag {
            flag: "--output",
            value: given.into_owned(),
            reason: format!("the folder `{}` does not exist", parent.display()),
        });
    }
    Ok(())
}

/// What `write_stdout` collects while a command's output goes to a file.
static CAPTURED: Mutex<Option<String>> = Mutex::new(None);

/// From now on, what the command prints on stdout is kept for [`finish`].
pub fn capture() {
    *CAPTURED.lock().unwrap_or_else(|e| e.into_inner()) = Some(String::new());
}

/// Keeps `text` when a capture is on; false when stdout should get it.
pub(crate) fn captured(text: &str) -> bool {
    match CAPTURED.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        Some(buffer) => {
            buffer.push_str(text);
            true
        }
        None => false,
    }
}

/// Ends the capture and, when the command did not fail (`write` is true), replaces `path` with
/// what it printed, without colour; says where it went on stderr.
pub fn finish(path: &Path, write: bool) -> Result<(), Error> {
    let text = CAPTURED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .unwrap_or_default();
    if !write {
        return Ok(());
    }
    let text = anstream::adapter::strip_str(&text).to_string();
    crate::files::write_atomically(path, text.as_bytes(), crate::files::SHARED).map_err(
        |source| Error::WriteFile {
            path: path.to_path_buf(),
            source,
        },
    )?;
    let _ = std::io::Write::write_all(
        &mut anstream::stderr(),
        format!("wrote {}\n", path.display()).as_bytes(),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{LintFormat, RenderFormat, StatusFormat};

    #[test]
    fn the_extension_names_the_format_unless_format_is_given() {
        let f = |given, path: &str| format(given, Some(Path::new(path)), StatusFormat::Table);
        assert_eq!(f(None, "report.json").unwrap(), StatusFormat::Json);
        assert_eq!(f(None, "report.HTML").unwrap(), StatusFormat::Html);
        assert_eq!(f(None, "report.txt").unwrap(), StatusFormat::Table);
        assert_eq!(f(None, "report.log").unwrap(), StatusFormat::Table);
        assert_eq!(
            f(Some(StatusFormat::Json), "report.html").unwrap(),
            StatusFormat::Json
        );
        assert!(f(None, "report.md").is_err(), "status writes no Markdown");
        let r = format(None, Some(Path::new("a.html")), RenderFormat::Md).unwrap();
        assert_eq!(r, RenderFormat::Html);
        let l = format(None, Some(Path::new("a.sarif")), LintFormat::Human).unwrap();
        assert_eq!(l, LintFormat::Sarif);
    }

    #[test]
    fn a_format_name_is_not_a_file_name() {
        for name in [
            "json", "html", "table", "text", "human", "md", "sarif", "JSON",
        ] {
            let error = check_name(Path::new(name)).unwrap_err().to_string();
            assert!(error.contains("--format"), "{name}: {error}");
        }
        assert!(check_name(Path::new("json.out")).is_ok());
    }
}
