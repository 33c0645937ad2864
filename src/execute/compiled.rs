//! Patterns compiled once per process: a runbook's regexes (captures, input patterns,
//! `stdout_matches`) and JSONPaths are the same at every run of a step, and `runbook test` runs
//! a runbook's steps hundreds of times. A pattern's compile error is kept too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use regex::Regex;
use serde_json_path::JsonPath;

/// Beyond this many patterns (templated ones, rendered per host) the cache starts again.
const KEPT: usize = 4096;

type Cache<T> = Mutex<HashMap<String, Result<Arc<T>, String>>>;

/// `pattern` compiled, or why it does not compile (the `regex` crate's message).
pub fn regex(pattern: &str) -> Result<Arc<Regex>, String> {
    static CACHE: std::sync::OnceLock<Cache<Regex>> = std::sync::OnceLock::new();
    cached(&CACHE, pattern, |p| {
        Regex::new(p).map_err(|e| e.to_string())
    })
}

/// `path` parsed as a JSONPath (RFC 9535), or why it does not parse.
pub fn json_path(path: &str) -> Result<Arc<JsonPath>, String> {
    static CACHE: std::sync::OnceLock<Cache<JsonPath>> = std::sync::OnceLock::new();
    cached(&CACHE, path, |p| {
        JsonPath::parse(p).map_err(|e| e.to_string())
    })
}

fn cached<T>(
    cache: &std::sync::OnceLock<Cache<T>>,
    key: &str,
    compile: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Arc<T>, String> {
    let cache = cache.get_or_init(Default::default);
    if let Some(found) = cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(key)
    {
        return found.clone();
    }
    // Compiled outside the lock: another thread may compile the same pattern meanwhile.
    let compiled = compile(key).map(Arc::new);
    let mut map = cache.lock().unwrap_or_else(PoisonError::into_inner);
    if map.len() >= KEPT {
        map.clear();
    }
    map.insert(key.to_string(), compiled.clone());
    compiled
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_is_compiled_once_and_its_error_kept() {
        let first = regex("a(?P<value>[0-9]+)").unwrap();
        let again = regex("a(?P<value>[0-9]+)").unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        // The pattern comes from a variable, as a runbook's does (clippy checks literals).
        let unclosed = String::from("a(");
        assert_eq!(
            regex(&unclosed).unwrap_err(),
            Regex::new(&unclosed).unwrap_err().to_string()
        );
        assert!(regex(&unclosed).is_err());
        let path = json_path("$.spec.replicas").unwrap();
        assert!(Arc::ptr_eq(&path, &json_path("$.spec.replicas").unwrap()));
        assert!(json_path("$[").is_err());
    }
}
