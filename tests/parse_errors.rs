//! Malformed scripts in `tests/parse_errors/`: each must fail to parse, and its rendered
//! diagnostics are snapshotted (reviewed by hand so that each points at the right place).
use dml::diagnostics::{SourceMap, render_to_string};
use dml::syntax::parse_program;

#[test]
fn malformed_scripts_report_errors() {
    insta::glob!("parse_errors/*.dml", |path| {
        let src = std::fs::read_to_string(path).expect("test input readable");
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut map = SourceMap::new();
        let file = map.add(name, src.clone());
        let rendered = match parse_program(&src, file) {
            Ok(_) => panic!("{} parsed without errors", path.display()),
            Err(diags) => render_to_string(&map, &diags),
        };
        insta::assert_snapshot!(rendered);
    });
}
