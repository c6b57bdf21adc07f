//! The `dml` command line (temporary: merged with the front end's main).
mod cli_run;
mod repl;

fn main() {
    let words: Vec<String> = std::env::args().skip(1).collect();
    let code = match words.first().map(String::as_str) {
        Some("run") => cli_run::run(&words[1..]),
        Some("-f") => cli_run::run(&words),
        Some("repl") => repl::run(dml::compiler::Options::default()),
        _ => {
            eprintln!("{}", cli_run::RUN_HELP);
            2
        }
    };
    std::process::exit(code);
}
