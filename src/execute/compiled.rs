//! Patterns compiled once per process: a runbook's regexes (captures, input patterns,
//! `stdout_matches`) and JSONPaths are the same at every run of a step, and `runbook test` runs
//! a runbook's steps hundreds of times. A pattern's compile error is kept too.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use regex::Regex;
use serde_json_path::JsonPath;

/// Beyond this many entries (templated patterns, rendered per host) a cache starts again.
const KEPT: usize = 4096;

type Cache<T> = Mutex<HashMap<String, Result<Arc<T>, String>>>;

/// `pattern` compiled, or why it does not compile (the `regex` crate's message).
pub fn regex(pattern: &str) -> Result<Arc<Regex>, String> {
    static CACHE: OnceLock<Cache<Regex>> = OnceLock::new();
    cached(&CACHE, pattern, |p| {
        Regex::new(p).map(Arc::new).map_err(|e| e.to_string())
    })
}

/// `path` parsed as a JSONPath (RFC 9535), or why it does not parse.
pub fn json_path(path: &str) -> Result<Arc<JsonPath>, String> {
    static CACHE: OnceLock<Cache<JsonPath>> = OnceLock::new();
    cached(&CACHE, path, |p| {
        JsonPath::parse(p).map(Arc::new).map_err(|e| e.to_string())
    })
}

/// What `make` gives for `key`, made once per process and kept in `cache` (which starts
/// again past [`KEPT`] entries).
pub(crate) fn cached<K, Q, V>(
    cache: &OnceLock<Mutex<HashMap<K, V>>>,
    key: &Q,
    make: impl FnOnce(&Q) -> V,
) -> V
where
    K: Borrow<Q> + Hash + Eq,
    Q: ?Sized + Hash + Eq + ToOwned<Owned = K>,
    V: Clone,
{
    let cache = cache.get_or_init(Default::default);
    if let Some(found) = cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(key)
    {
        return found.clone();
    }
    // Made outside the lock: another thread may make the same value meanwhile.
    let made = make(key);
    let mut map = cache.lock().unwrap_or_else(PoisonError::into_inner);
    if map.len() >= KEPT {
        map.clear();
    }
    map.insert(key.to_owned(), made.clone());
    made
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
