//! `dml repl`: an interactive session. Variables and functions persist between inputs; a bare
//! expression shows its value; an input continues over several lines while it is unfinished,
//! and a broken one is reported without swallowing the lines after it; an error is shown and
//! the session goes on. With piped standard input it reads the whole stream the same way,
//! without prompts, completion or history.
//!
//! The parts that do not need a terminal are pure and tested on their own: when an input is
//! whole (`input`), how values look (`display`), completion and hints (`complete`); the `:`
//! commands are in `commands`.

mod commands;
mod complete;
mod display;
mod input;

use commands::Repl;
use complete::{Names, ReplHelper};
use dml::compiler::Options;
use dml::runtime::output::Output;
use dml::session::Session;
use input::LineBuffer;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

/// Where the history is kept: `$XDG_DATA_HOME/dml/history` (or the platform's data directory,
/// `~/.local/share` on Linux).
fn history_path() -> Option<PathBuf> {
    let dir = dirs::data_dir()?.join("dml");
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir.join("history"))
}

/// The DML-bodied builtins of `--builtin-path` (`NAME.dml` files), for completion.
fn builtin_scripts(opts: &Options) -> Vec<String> {
    let Some(dir) = &opts.builtin_path else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok()?.strip_suffix(".dml").map(str::to_string))
        .collect();
    names.sort();
    names
}

fn names_of(session: &Session, builtin_scripts: &[String]) -> Names {
    Names {
        variables: session.var_names(),
        callable: session.callable().clone(),
        builtin_scripts: builtin_scripts.to_vec(),
    }
}

pub fn run(opts: Options) -> i32 {
    let scripts = builtin_scripts(&opts);
    let mut repl = Repl::new(Session::new(opts), Output::stdout());
    if !std::io::stdin().is_terminal() {
        let mut lines = LineBuffer::new(false);
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            for input in lines.push(&line) {
                if !repl.handle(&input) {
                    return 0;
                }
            }
        }
        if let Some(rest) = lines.finish() {
            repl.handle(&rest);
        }
        return 0;
    }
    let config = rustyline::Config::builder()
        .completion_type(rustyline::CompletionType::List)
        .auto_add_history(false)
        .build();
    let Ok(mut editor) =
        rustyline::Editor::<ReplHelper, rustyline::history::DefaultHistory>::with_config(config)
    else {
        eprintln!("error: cannot open the terminal for the REPL");
        return 1;
    };
    editor.set_helper(Some(ReplHelper { names: names_of(&repl.session, &scripts) }));
    let history = history_path();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!("dml {} REPL: :help for commands, Ctrl-D to leave", env!("CARGO_PKG_VERSION"));
    let mut lines = LineBuffer::new(true);
    'session: loop {
        let prompt = if lines.is_continuing() { "...> " } else { "dml> " };
        match editor.readline(prompt) {
            Ok(line) => {
                for input in lines.push(&line) {
                    let _ = editor.add_history_entry(input.trim_end());
                    if !repl.handle(&input) {
                        break 'session;
                    }
                }
                if let Some(helper) = editor.helper_mut() {
                    helper.names = names_of(&repl.session, &scripts);
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => lines.clear(),
            Err(_) => break,
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    0
}
