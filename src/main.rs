//! The `dml` command line. Each subcommand lives in [`cli`]; this file only dispatches.
mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let ok = match args.command {
        cli::Command::Check { parse_only, files } => cli::check::run(&files, parse_only),
        cli::Command::Fmt { file } => cli::fmt::run(&file),
    };
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
