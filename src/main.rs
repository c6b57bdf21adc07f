//! The `dml` command line. Each subcommand lives in [`cli`]; this file only dispatches.
mod cli;

use clap::Parser;
use std::process::ExitCode;

/// Keeps large freed blocks in the process instead of returning them to the operating system:
/// training loops allocate and free the same large matrices every iteration, and glibc's
/// defaults would unmap and map them again each time (page faults measured at a quarter of a
/// LeNet epoch's time). One arena for all threads: blocks freed by rayon's workers otherwise
/// sit in per-thread arenas that glibc shrinks page by page, and the next iteration faults them
/// in again (LeNet: 5,000 page faults per iteration and 0.18 s of system time per epoch, down
/// to the first touches and 0.07 s). Small allocations still go through each thread's cache.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator thresholds; it is called before any other thread
    // exists and its arguments are valid parameter numbers with non-negative values.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

fn main() -> ExitCode {
    tune_allocator();
    let words: Vec<String> = std::env::args().skip(1).collect();
    // SystemDS's own form, `dml -f script.dml -nvargs ...`, is accepted as `run`.
    if words.first().map(String::as_str) == Some("-f") {
        return ExitCode::from(cli::run::run(&words) as u8);
    }
    let args = cli::Cli::parse();
    let code = match args.command {
        cli::Command::Check { parse_only, files, builtin_path } => {
            let mut opts = dml::compiler::Options::default();
            if builtin_path.is_some() {
                opts.builtin_path = builtin_path;
            }
            if cli::check::run(&files, parse_only, &opts) { 0 } else { 1 }
        }
        cli::Command::Fmt { check, in_place, files } => {
            let mode = match (check, in_place) {
                (true, _) => cli::fmt::Mode::Check,
                (_, true) => cli::fmt::Mode::InPlace,
                _ => cli::fmt::Mode::Print,
            };
            cli::fmt::run(&files, mode)
        }
        cli::Command::Run { words } => cli::run::run(&words),
        cli::Command::Convert(cli::ConvertCommand::Keras(args)) => cli::convert::keras(&args),
        cli::Command::Convert(cli::ConvertCommand::Onnx(args)) => cli::convert::onnx(&args),
        cli::Command::Convert(cli::ConvertCommand::Caffe(args)) => cli::convert::caffe(&args),
        cli::Command::Repl { builtin_path, gpu, no_gpu } => {
            let mut opts = dml::compiler::Options::default();
            if builtin_path.is_some() {
                opts.builtin_path = builtin_path;
            }
            match gpu.as_deref() {
                Some(how) if !no_gpu => match cli::run::gpu_mode(how == "force") {
                    Some(mode) => opts.gpu = mode,
                    None => return ExitCode::from(1),
                },
                _ => {}
            }
            cli::repl::run(opts)
        }
        cli::Command::GpuBench { n, reps, backend } => cli::gpu_bench::run(n, reps, backend.as_deref()),
    };
    ExitCode::from(code as u8)
}
