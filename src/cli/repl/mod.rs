//! `dml repl`: an interactive session. Variables and functions persist between inputs; an input
//! continues over several lines while brackets are open; an error is shown and the session goes
//! on. With piped standard input it reads the whole stream the same way, without prompts.

use dml::compiler::Options;
use dml::diagnostics::render_to_string;
use dml::driver::Failure;
use dml::runtime::output::Output;
use dml::session::Session;
use std::io::{BufRead, IsTerminal};

const HELP: &str = "Enter DML statements; variables and functions persist between inputs.
  :vars            list the variables and their types
  :explain CODE    show the optimized HOP DAGs of CODE without running it
  :load FILE       run a script file in this session
  :help            this text
  :quit            leave (also Ctrl-D)";

/// Whether the text so far leaves a bracket open (outside strings and comments).
fn is_incomplete(text: &str) -> bool {
    let mut depth: i64 = 0;
    let mut chars = text.chars().peekable();
    let mut in_str: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = in_str {
            if c == '\\' {
                chars.next();
            } else if c == q {
                in_str = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => in_str = Some(c),
            '#' => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    depth > 0 || in_str.is_some()
}

fn report(session: &Session, f: Failure) {
    let text = match f {
        Failure::Compile(d) => render_to_string(&session.map, &d),
        Failure::Runtime(d) => render_to_string(&session.map, &[d]),
    };
    eprint!("{text}");
}

/// Handles one complete input; returns false to end the session.
fn handle(session: &mut Session, out: &Output, input: &str) -> bool {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return true;
    }
    if let Some(cmd) = trimmed.strip_prefix(':') {
        let (name, rest) = cmd.split_once(char::is_whitespace).unwrap_or((cmd, ""));
        match name {
            "quit" | "q" | "exit" => return false,
            "help" | "h" => println!("{HELP}"),
            "vars" => {
                for (n, t) in session.describe_vars() {
                    println!("{n}: {t}");
                }
            }
            "explain" => match session.explain(rest) {
                Ok(text) => print!("{text}"),
                Err(d) => eprint!("{}", render_to_string(&session.map, &d)),
            },
            "load" => match std::fs::read_to_string(rest.trim()) {
                Ok(src) => {
                    if let Err(f) = session.execute(&src, out) {
                        report(session, f);
                    }
                }
                Err(e) => eprintln!("error: cannot read `{}`: {e}", rest.trim()),
            },
            other => eprintln!("error: unknown command :{other} (try :help)"),
        }
        return true;
    }
    if let Err(f) = session.execute(input, out) {
        report(session, f);
    }
    true
}

pub fn run(opts: Options) -> i32 {
    let mut session = Session::new(opts);
    let out = Output::stdout();
    if !std::io::stdin().is_terminal() {
        let mut pending = String::new();
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            pending.push_str(&line);
            pending.push('\n');
            if is_incomplete(&pending) {
                continue;
            }
            let input = std::mem::take(&mut pending);
            if !handle(&mut session, &out, &input) {
                return 0;
            }
        }
        if !pending.trim().is_empty() {
            handle(&mut session, &out, &pending);
        }
        return 0;
    }
    let Ok(mut editor) = rustyline::DefaultEditor::new() else {
        eprintln!("error: cannot open the terminal for the REPL");
        return 1;
    };
    let history = std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".dml_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!("dml {} REPL: :help for commands, Ctrl-D to leave", env!("CARGO_PKG_VERSION"));
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() { "dml> " } else { "...> " };
        match editor.readline(prompt) {
            Ok(line) => {
                pending.push_str(&line);
                pending.push('\n');
                if is_incomplete(&pending) {
                    continue;
                }
                let input = std::mem::take(&mut pending);
                let _ = editor.add_history_entry(input.trim_end());
                if !handle(&mut session, &out, &input) {
                    break;
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => pending.clear(),
            Err(_) => break,
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    0
}
