//! Build script: generates the DML parser from `grammar/dml.lalrpop` with LALRPOP, and embeds the
//! nn library (`stdlib-nn/**/*.dml`) in the binary as a table of (path, contents).
use std::path::{Path, PathBuf};

fn collect(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            // The library's own tests are not part of the embedded library.
            if path.file_name().is_some_and(|n| n == "test") && dir == root {
                continue;
            }
            collect(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "dml") {
            let rel = path.strip_prefix(root).expect("under root").to_string_lossy().replace('\\', "/");
            out.push((rel, path));
        }
    }
}

fn main() {
    lalrpop::Configuration::new()
        .set_in_dir("grammar")
        .emit_rerun_directives(true)
        .process()
        .expect("LALRPOP failed to generate the DML parser");

    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.join("stdlib-nn");
    println!("cargo:rerun-if-changed=stdlib-nn");
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    let mut code = String::from("/// The embedded nn library: (path relative to `stdlib-nn/`, source).\n");
    code.push_str("pub static FILES: &[(&str, &str)] = &[\n");
    for (rel, path) in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        code.push_str(&format!("    ({rel:?}, include_str!({:?})),\n", path.display().to_string()));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("stdlib_files.rs");
    std::fs::write(out, code).expect("write the embedded library table");
}
