//! Parser throughput: lexes and parses every `.dml` file under a directory several times and
//! prints files/s and MB/s.
//!
//! Directory: the first argument, else `DML_SCRIPTS`, else the SystemDS scripts in the local
//! reference cache, else our own `tests/parse_corpus`.
use dml::syntax::ast::FileId;
use dml::syntax::parse_program;
use std::path::{Path, PathBuf};
use std::time::Instant;

const ROUNDS: usize = 20;
const DEFAULT_SCRIPTS: &str = "/root/.cache/dml-reference/scripts-3.4.0/scripts";

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

fn choose_dir() -> PathBuf {
    // `cargo bench` passes `--bench`; ignore flags.
    if let Some(arg) = std::env::args().skip(1).find(|a| !a.starts_with('-')) {
        return PathBuf::from(arg);
    }
    if let Ok(dir) = std::env::var("DML_SCRIPTS") {
        return PathBuf::from(dir);
    }
    if Path::new(DEFAULT_SCRIPTS).is_dir() {
        return PathBuf::from(DEFAULT_SCRIPTS);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parse_corpus")
}

fn main() {
    let dir = choose_dir();
    let sources: Vec<String> = dml_files(&dir)
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect();
    if sources.is_empty() {
        eprintln!("no .dml files under {}", dir.display());
        return;
    }
    let bytes: usize = sources.iter().map(String::len).sum();
    let mut failed = 0;
    // Warm-up round, also counts failures.
    for s in &sources {
        if parse_program(s, FileId(0)).is_err() {
            failed += 1;
        }
    }
    let start = Instant::now();
    for _ in 0..ROUNDS {
        for s in &sources {
            std::hint::black_box(parse_program(std::hint::black_box(s), FileId(0)).is_ok());
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let files = (sources.len() * ROUNDS) as f64;
    let mb = (bytes * ROUNDS) as f64 / 1e6;
    println!(
        "parse: {} files ({:.2} MB) from {}, {} with errors, {ROUNDS} rounds in {secs:.3} s",
        sources.len(),
        bytes as f64 / 1e6,
        dir.display(),
        failed
    );
    println!("parse: {:.0} files/s, {:.1} MB/s", files / secs, mb / secs);
}
