//! Rooms import only downward. Every `crate::…` and `super::…` path in
//! `src/` (in `use` lines and in expressions, outside `#[cfg(test)]`
//! modules) is checked against the table below: a room may name its own
//! layer and those beneath it, never one above. The few paths that still
//! reach up are listed with their reason and the change that removes them;
//! an entry that no longer matches anything fails too, so the list only
//! shrinks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each room with its layer, bottom (0) to top.
const LAYERS: &[(&str, u8)] = &[
    ("clock", 0),
    ("config", 0),
    ("telemetry", 0),
    ("access", 1),
    ("crypto", 2),
    ("secret", 2),
    ("db", 3),
    ("cache", 3),
    ("auth", 4),
    ("domain", 5),
    ("app", 6),
    ("error", 6),
    ("api", 7),
    ("openapi", 8),
    ("jobs", 8),
    ("server", 8),
    ("cli", 8),
    ("bench", 8),
];

/// `(file, room it names, why)`: the paths that still reach up.
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

fn layer(room: &str) -> Option<u8> {
    LAYERS.iter().find(|(r, _)| *r == room).map(|(_, l)| *l)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without comments, string literals and `#[cfg(test)]` modules.
fn code(source: &str) -> String {
    let source = match source.find("#[cfg(test)]\nmod tests") {
        Some(at) => &source[..at],
        None => source,
    };
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            // A char or byte literal ('"', '\''), not a lifetime.
            '\'' if chars.peek() == Some(&'\\') => {
                chars.next();
                chars.next();
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                }
            }
            '\'' if chars.clone().nth(1) == Some('\'') => {
                chars.next();
                chars.next();
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if !escaped && c == '"' {
                        break;
                    }
                    escaped = !escaped && c == '\\';
                }
                out.push_str("\"\"");
            }
            c => out.push(c),
        }
    }
    out
}

/// The first segments after each `prefix` (`crate::x`, or each item of
/// `crate::{x, y::z}`).
fn named_after(code: &str, prefix: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().last();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            let mut at_start = true;
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => at_start = true,
                    c if at_start && depth == 0 && (c.is_alphanumeric() || c == '_') => item.push(c),
                    c if at_start && !item.is_empty() && !(c.is_alphanumeric() || c == '_') => {
                        names.push(std::mem::take(&mut item));
                        at_start = false;
                    }
                    _ => {}
                }
            }
            if !item.is_empty() {
                names.push(item);
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                names.push(name);
            }
        }
    }
    names
}

#[test]
fn rooms_import_only_downward() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut used_exceptions = BTreeSet::new();
    let mut violations = Vec::new();
    let mut named: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in &files {
        let rel = path
            .strip_prefix(root)
            .expect("under the crate")
            .to_string_lossy()
            .replace('\\', "/");
        let inner: Vec<&str> = rel.trim_start_matches("src/").split('/').collect();
        let room = inner[0].trim_end_matches(".rs").to_owned();
        if room == "lib" || room == "main" {
            continue;
        }
        let own = layer(&room).unwrap_or_else(|| panic!("{rel}: room `{room}` has no layer; add it to LAYERS"));
        let code = code(&std::fs::read_to_string(path).expect("readable"));
        // `super::` from a room's top file (or its mod.rs) is the crate root.
        let top_file = inner.len() == 1 || inner.last() == Some(&"mod.rs");
        let mut rooms: Vec<String> = named_after(&code, "crate::");
        if top_file {
            rooms.extend(named_after(&code, "super::"));
        }
        for target in rooms {
            if target == room || target == "self" {
                continue;
            }
            let Some(theirs) = layer(&target) else {
                continue;
            };
            named.entry(rel.clone()).or_default().insert(target.clone());
            if theirs > own {
                match EXCEPTIONS.iter().find(|(f, r, _)| *f == rel && *r == target) {
                    Some(exception) => {
                        used_exceptions.insert(*exception);
                    }
                    None => violations.push(format!("{rel} ({room}, layer {own}) names `{target}` (layer {theirs})")),
                }
            }
        }
        if room != "auth" && room != "access" {
            for made in ["Principal::for_key", "Principal::for_person"] {
                assert!(
                    !code.contains(made),
                    "{rel}: only auth/ makes a principal from a credential ({made})"
                );
            }
        }
        // A committed change's result is reached only by applying its effects.
        if rel != "src/app.rs" && rel != "src/domain/effects.rs" {
            assert!(
                !code.contains("into_parts"),
                "{rel}: only AppState::apply takes a Committed apart"
            );
        }
        if room != "domain" {
            assert!(
                !code.contains("Committed::new"),
                "{rel}: only domain/ commits changes with effects"
            );
        }
    }
    violations.sort();
    violations.dedup();
    assert!(
        violations.is_empty(),
        "imports that reach up:\n{}",
        violations.join("\n")
    );
    for exception in EXCEPTIONS {
        assert!(
            used_exceptions.contains(exception),
            "the exception {exception:?} no longer applies: remove it"
        );
    }
    // The vocabulary stands on nothing of the crate's.
    assert!(
        named
            .iter()
            .filter(|(f, _)| f.starts_with("src/access/"))
            .all(|(_, r)| r.is_empty()),
        "access/ imports no other room: {named:?}"
    );
}

#[test]
fn the_path_reader_sees_every_form() {
    let sample = "use crate::{db::{Db, TenantDb}, access::Grant};\nlet x = crate::app::AppState::new(); // crate::cli\n\"crate::bench\" b'\"' '\\'' crate::auth::x /* crate::api */ 'a: loop {}";
    let names = named_after(&code(sample), "crate::");
    assert_eq!(names, ["db", "access", "app", "auth"]);
}
