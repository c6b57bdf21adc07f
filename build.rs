//! Build script: generates the DML parser from `grammar/dml.lalrpop` with LALRPOP.
fn main() {
    lalrpop::Configuration::new()
        .set_in_dir("grammar")
        .emit_rerun_directives(true)
        .process()
        .expect("LALRPOP failed to generate the DML parser");
}
