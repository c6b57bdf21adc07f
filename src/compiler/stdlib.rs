//! The nn library embedded in the binary (`stdlib-nn/`), looked up by the path a script passes to
//! `source()`, such as `nn/layers/affine.dml`.

include!(concat!(env!("OUT_DIR"), "/stdlib_files.rs"));

/// The embedded file at `path` (a leading `./` or `scripts/` is ignored, as SystemDS's own
/// fallback to its `scripts/` folder does).
pub fn lookup(path: &str) -> Option<&'static str> {
    let p = path.trim_start_matches("./");
    let p = p.strip_prefix("scripts/").unwrap_or(p);
    FILES.iter().find(|(name, _)| *name == p).map(|(_, src)| *src)
}
