//! Command-line interface: argument definitions and one module per subcommand.
pub mod check;
pub mod convert;
pub mod fmt;
pub mod gpu_bench;
pub mod repl;
pub mod run;

use clap::{Parser, Subcommand};
use dml::diagnostics::{Diagnostic, SourceMap};
use dml::syntax::ast::FileId;
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(name = "dml", version, about = "A fast engine for DML, the language of Apache SystemDS")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check scripts for errors without running them.
    Check {
        /// Only parse (no validation).
        #[arg(long)]
        parse_only: bool,
        /// The scripts to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Directory of DML-bodied builtins.
        #[arg(long)]
        builtin_path: Option<PathBuf>,
    },
    /// Print a script in canonical formatting, comments and blank lines kept.
    Fmt {
        /// Print nothing; exit with status 1, naming each file, when formatting would change it.
        #[arg(long, conflicts_with = "in_place")]
        check: bool,
        /// Rewrite the files that are not formatted (atomically: temporary file, then rename).
        #[arg(short = 'i', long)]
        in_place: bool,
        /// The scripts to format (one when printing to standard output).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run a script: dml run FILE [--stats] [--explain hops|runtime|dot] [--no-rewrites]
    /// [--no-rewrite NAME] [--builtin-path DIR] [-args v1 v2 ...] [-nvargs name=value ...]
    Run {
        /// The script, then options, then -args or -nvargs and their values.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        words: Vec<String>,
    },
    /// Convert a model of another framework into DML scripts and weights.
    #[command(subcommand)]
    Convert(ConvertCommand),
    /// An interactive session (reads standard input when it is not a terminal).
    Repl {
        /// Directory of DML-bodied builtins.
        #[arg(long)]
        builtin_path: Option<PathBuf>,
        /// Put operators on the GPU where the planner estimates it pays; `--gpu force`: every
        /// operator the device has a kernel for.
        #[arg(long, value_name = "force", num_args = 0..=1, default_missing_value = "auto",
              value_parser = ["auto", "force"])]
        gpu: Option<String>,
        /// Everything on the CPU (the default).
        #[arg(long, conflicts_with = "gpu")]
        no_gpu: bool,
    },
    /// Time an n x n f64 matrix product on each GPU backend of this build (CUDA, wgpu), inputs
    /// resident on the device, and print GFLOP/s and the share of the device's f64 peak.
    #[command(hide = true)]
    GpuBench {
        /// Matrix size.
        #[arg(long, default_value_t = 8192)]
        n: usize,
        /// Products timed after the warm-up.
        #[arg(long, default_value_t = 5)]
        reps: usize,
        /// Only this backend (`cuda` or `wgpu`).
        #[arg(long)]
        backend: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConvertCommand {
    /// A Keras model (`.keras` or legacy `.h5`): dml convert keras MODEL --out DIR | --summary
    Keras(convert::KerasArgs),
    /// An ONNX model: dml convert onnx MODEL.onnx --out DIR [--loss L --optimizer O] | --summary
    Onnx(convert::OnnxArgs),
    /// A Caffe model: dml convert caffe NET.prototxt [SOLVER.prototxt] [--weights MODEL.caffemodel] --out DIR
    Caffe(convert::CaffeArgs),
}

/// Reads a script into the source map; on failure prints a clear error and returns `None`.
pub fn load(map: &mut SourceMap, path: &Path) -> Option<FileId> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            Some(map.add(path.display().to_string(), text))
        }
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            None
        }
    }
}

/// Prints diagnostics to standard error.
pub fn report(map: &SourceMap, diags: &[Diagnostic]) {
    dml::diagnostics::emit_to_stderr(map, diags);
}
