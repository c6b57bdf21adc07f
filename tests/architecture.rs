//! The layering of `src/`: every top-level module may import only modules below it in
//! [`LAYERS`], so there is no import cycle between them. The test reads the `crate::` paths of
//! every source file (grouped `use crate::{a, b::c}` included) and names the file of any import
//! that goes up or sideways.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Top-level modules of the library, lowest first: the road of ARCHITECTURE.md, with the
/// shared vocabulary (`types`) and the pure kernels under everything that names operators.
const LAYERS: &[&str] = &[
    "diagnostics",
    "syntax",
    "types",
    "kernels",
    "builtins",
    "hops",
    "gpu",
    "rewrite",
    "plan",
    "lower",
    "compiler",
    "runtime",
    "driver",
    "session",
    "convert",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The source without `//` comments, so that prose naming a module is not an import.
fn strip_line_comments(src: &str) -> String {
    src.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// The top-level modules a source text names through `crate::`.
fn imported_modules(src: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = src;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            // `crate::{a, b::{c, d}, e}`: the first segment of each top-level item.
            let mut depth = 0usize;
            let mut item = String::new();
            for ch in group.chars() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        found.push(item.clone());
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.push(std::mem::take(&mut item));
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(ch);
                }
            }
        } else {
            found.push(after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect());
        }
        rest = after;
    }
    found
        .into_iter()
        .map(|s| s.trim().split("::").next().unwrap_or("").trim().to_string())
        .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect()
}

#[test]
fn top_level_modules_import_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut violations: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut unknown = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel.components().next().unwrap().as_os_str().to_string_lossy().to_string();
        let module = first.trim_end_matches(".rs").to_string();
        // The binary (`main.rs`, `cli/`) is a separate crate that sees the library as `dml::`.
        if module == "lib" || module == "main" || module == "cli" || module == "README.md" {
            continue;
        }
        let Some(own) = rank(&module) else {
            unknown.push(module);
            continue;
        };
        let text = strip_line_comments(&std::fs::read_to_string(file).unwrap());
        for target in imported_modules(&text) {
            if target == module {
                continue;
            }
            match rank(&target) {
                Some(r) if r < own => {}
                _ => violations.entry((module.clone(), target)).or_default().push(rel.display().to_string()),
            }
        }
    }
    unknown.sort();
    unknown.dedup();
    assert!(
        unknown.is_empty(),
        "top-level modules missing from LAYERS in tests/architecture.rs: {unknown:?}"
    );
    let report: Vec<String> = violations
        .iter()
        .map(|((from, to), files)| {
            let mut files = files.clone();
            files.dedup();
            format!("{from} -> {to} (a higher or unknown layer): {}", files.join(", "))
        })
        .collect();
    assert!(report.is_empty(), "imports against the layering:\n{}", report.join("\n"));
}

#[test]
fn the_import_scanner_reads_grouped_and_inline_paths() {
    let text = "use crate::{hops::{Dag, HopId}, types};\nlet x = crate::plan::assign(d);";
    assert_eq!(imported_modules(text), vec!["hops", "types", "plan"]);
}
