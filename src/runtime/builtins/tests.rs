//! The implementation table against the builtin table: every builtin the compiler turns into a
//! call has exactly one implementation, and no implementation names a builtin the table lacks.

use super::LISTS;
use crate::builtins::{BUILTINS, Lower, lookup};
use std::collections::{BTreeMap, BTreeSet};

/// Builtins compiled by the HOP builder by name that still end in a call of their
/// implementation (`append` of lists and strings).
const SPECIALS_CALLED_AT_RUN_TIME: &[&str] = &["append"];

#[test]
fn every_library_builtin_has_exactly_one_implementation() {
    let mut count = vec![0usize; BUILTINS.len()];
    for (name, _) in LISTS.iter().copied().flatten() {
        if let Some(id) = lookup(name) {
            count[id.0 as usize] += 1;
        }
    }
    let mut wrong = Vec::new();
    for (spec, n) in BUILTINS.iter().zip(&count) {
        let wanted = spec.lower == Lower::Library || SPECIALS_CALLED_AT_RUN_TIME.contains(&spec.name);
        match (wanted, *n) {
            (true, 1) | (false, 0) => {}
            (true, 0) => wrong.push(format!("`{}` has no implementation", spec.name)),
            (true, n) => wrong.push(format!("`{}` has {n} implementations", spec.name)),
            (false, _) => {
                wrong.push(format!("`{}` is not called at run time, yet has an implementation", spec.name))
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_implementation_names_a_builtin_of_the_table() {
    for (name, _) in LISTS.iter().copied().flatten() {
        match lookup(name) {
            None => panic!("an implementation is listed for `{name}`, which is not in the builtin table"),
            Some(id) => {
                assert_eq!(id.name(), *name, "list `{}` by its name in the table, not an alias", id.name())
            }
        }
    }
}

#[test]
fn dispatch_finds_each_implementation_by_id() {
    for (i, spec) in BUILTINS.iter().enumerate() {
        let id = crate::builtins::BuiltinId(i as u16);
        let listed = LISTS.iter().copied().flatten().any(|(name, _)| *name == spec.name);
        assert_eq!(super::implementation(id).is_some(), listed, "{}", spec.name);
    }
}

/// The readers of [`super::Args`] that take a parameter name.
const READERS: &str = "get|has|take|value|matrix|opt_matrix|frame|opt_frame|list|opt_list|num|opt_num|real|opt_real|\
                       int|opt_int|count|opt_count|flag|opt_flag|text|opt_text|str|opt_str";

/// The source files of the implementations, with their paths.
fn sources() -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push((p.display().to_string(), std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/runtime/builtins"), &mut out);
    out
}

/// The top-level functions of a source text: name and text, from the `fn` line to the `}` that
/// closes it at the start of a line.
fn functions(text: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let head = line.trim_start_matches("pub(super) ").trim_start_matches("pub(crate) ");
        let Some(rest) = head.trim_start_matches("pub ").strip_prefix("fn ") else { continue };
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let end = (i..lines.len()).find(|&j| lines[j] == "}").unwrap_or(lines.len() - 1);
        out.push((name, lines[i..=end].join("\n")));
    }
    out
}

/// The parameter names a text reads: `a.matrix("x")` and the like, and literal names passed to
/// the functions in `named` and the closures that take a parameter name, by the convention that
/// they call it `param` (`fn shape(a: &Args, param: &str, ...)`, `let need = |param: &str, ...`).
fn names_read(text: &str, named: &BTreeSet<String>) -> Vec<String> {
    let reader = regex::Regex::new(&format!(r#"\b(?:a|args)\.(?:{READERS})\("([^"]+)""#)).unwrap();
    let mut out: Vec<String> = reader.captures_iter(text).map(|c| c[1].to_string()).collect();
    let closure = regex::Regex::new(r"let (\w+) = \|param: &str").unwrap();
    let local: BTreeSet<String> = closure.captures_iter(text).map(|c| c[1].to_string()).collect();
    let call = regex::Regex::new(r#"\b(\w+)\((?:&?a, )?"([^"]+)""#).unwrap();
    for c in call.captures_iter(text) {
        if named.contains(&c[1]) || local.contains(&c[1]) {
            out.push(c[2].to_string());
        }
    }
    out
}

/// Whether `body` calls the function `g` (not a method of that name).
fn calls(body: &str, g: &str) -> bool {
    body.match_indices(&format!("{g}(")).any(|(i, _)| {
        body[..i].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.'))
    })
}

/// Every parameter name an implementation reads is a parameter of a builtin it implements (a
/// wrong name fails here, not in a user's run). Reads are found in the source: in the rows of
/// the `IMPLS` lists, and in the functions those rows name, with the functions they call.
#[test]
fn implementations_read_only_their_parameters() {
    use crate::builtins::BuiltinId;
    let params = |b: &str| -> BTreeSet<&'static str> {
        lookup(b).map(|id: BuiltinId| id.spec().params.iter().map(|p| p.name).collect()).unwrap_or_default()
    };
    let row = regex::Regex::new(r#"\("([^"]+)",\s*(?:Plain|CallsBack)\("#).unwrap();
    let taking_a_name = regex::Regex::new(r"fn (\w+)\(a: &?Args, param: &str").unwrap();
    let operator = regex::Regex::new(r#"operator_id\("([^"]+)""#).unwrap();
    // `Plain(path::f)` names `f`; a closure calls functions: `f(a, ...)`.
    let called = regex::Regex::new(r"(?:(?:Plain|CallsBack)\((?:\w+::)*(\w+)\)|\b(\w+)\()").unwrap();
    let files = sources();
    let named: BTreeSet<String> =
        files.iter().flat_map(|(_, t)| taking_a_name.captures_iter(t).map(|c| c[1].to_string())).collect();
    let mut fns: BTreeMap<String, String> = BTreeMap::new();
    let mut builtins_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut errors = Vec::new();
    let mut rows = 0;
    for (path, text) in &files {
        for (name, body) in functions(text) {
            for c in operator.captures_iter(&body) {
                builtins_of.entry(name.clone()).or_default().insert(c[1].to_string());
            }
            let e = fns.entry(name).or_default();
            e.push('\n');
            e.push_str(&body);
        }
        // The rows of the file's list: each up to the next row (or the end of the list).
        let Some(start) = text.find("const IMPLS: &[Impl]") else { continue };
        let list = &text[start..start + text[start..].find("];").unwrap_or(text.len() - start)];
        let starts: Vec<(usize, String)> =
            row.captures_iter(list).map(|c| (c.get(0).unwrap().start(), c[1].to_string())).collect();
        for (k, (at, builtin)) in starts.iter().enumerate() {
            rows += 1;
            let text = &list[*at..starts.get(k + 1).map_or(list.len(), |n| n.0)];
            let own = params(builtin);
            for n in names_read(text, &named) {
                if !own.contains(n.as_str()) {
                    errors.push(format!("{path}: the row of `{builtin}` reads `{n}`, not a parameter of it"));
                }
            }
            for c in called.captures_iter(text) {
                let f = c.get(1).or(c.get(2)).map_or("", |m| m.as_str());
                builtins_of.entry(f.to_string()).or_default().insert(builtin.clone());
            }
        }
    }
    assert!(rows > 100, "found only {rows} rows in the IMPLS lists");
    // The builtins a function serves reach the functions it calls.
    let callees: BTreeMap<String, Vec<String>> = fns
        .iter()
        .map(|(f, body)| {
            let calls = fns.keys().filter(|g| *g != f && calls(body, g)).cloned().collect();
            (f.clone(), calls)
        })
        .collect();
    loop {
        let mut changed = false;
        for (f, calls) in &callees {
            let mine = builtins_of.get(f).cloned().unwrap_or_default();
            for g in calls {
                let theirs = builtins_of.entry(g.clone()).or_default();
                let before = theirs.len();
                theirs.extend(mine.iter().cloned());
                changed |= theirs.len() != before;
            }
        }
        if !changed {
            break;
        }
    }
    for (f, body) in &fns {
        let reads = names_read(body, &named);
        let served = builtins_of.get(f).cloned().unwrap_or_default();
        if !reads.is_empty() && served.is_empty() {
            errors.push(format!("`{f}` reads arguments ({}) but serves no builtin", reads.join(", ")));
        }
        let allowed: BTreeSet<&str> = served.iter().flat_map(|b| params(b)).collect();
        for n in reads {
            if !allowed.contains(n.as_str()) {
                errors.push(format!("`{f}` (for {served:?}) reads `{n}`, not a parameter of those builtins"));
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}
