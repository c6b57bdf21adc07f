//! Every script in `tests/parse_corpus/` must parse and survive a print/re-parse round trip.
//! When the SystemDS scripts are present (`DML_SCRIPTS` or the default cache path) they are
//! round-tripped too; the test skips them silently when they are absent.
mod common;

use std::path::{Path, PathBuf};

fn dml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "dml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn own_corpus_parses_and_round_trips() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parse_corpus");
    let files = dml_files(&dir);
    assert!(files.len() >= 5, "corpus too small");
    for f in files {
        let src = std::fs::read_to_string(&f).expect("corpus file readable");
        common::assert_roundtrip(&f.display().to_string(), &src);
    }
}

/// Scripts SystemDS itself rejects (checked with SystemDS 3.4.0).
const KNOWN_MALFORMED: &[&str] = &["databricks/demo.dml"];

#[test]
fn systemds_scripts_round_trip_when_present() {
    let dir = std::env::var("DML_SCRIPTS")
        .unwrap_or_else(|_| "/root/.cache/dml-reference/scripts-3.4.0/scripts".to_string());
    let dir = Path::new(&dir);
    for f in dml_files(dir) {
        let name = f.display().to_string();
        if KNOWN_MALFORMED.iter().any(|m| name.ends_with(m)) {
            continue;
        }
        let src = String::from_utf8_lossy(&std::fs::read(&f).expect("readable")).into_owned();
        common::assert_roundtrip(&name, &src);
    }
}
