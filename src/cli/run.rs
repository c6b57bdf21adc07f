//! `dml run FILE [options] [-args v1 v2 ...] [-nvargs name=value ...]`, and SystemDS's own form
//! `dml -f FILE ...`.

use dml::compiler::CmdArgs;
use dml::compiler::Options;
use dml::diagnostics::{SourceMap, emit_to_stderr};
use dml::driver::{Explain, Failure, RunConfig, run_script};
use dml::runtime::output::Output;

pub const RUN_HELP: &str =
    "usage: dml run FILE [--stats] [--explain hops|runtime|dot] [--no-rewrites] [--no-rewrite NAME]
               [--gpu [force] | --no-gpu] [--builtin-path DIR] [-args v1 v2 ...] [-nvargs name=value ...]";

/// Parses the words after `run` (or after `-f`) and runs the script; returns the exit status.
pub fn run(words: &[String]) -> i32 {
    let mut file: Option<String> = None;
    let mut opts = Options::default();
    let mut cfg = RunConfig { explain: Explain::None, stats: false };
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        match w {
            "--stats" | "-stats" => cfg.stats = true,
            "--explain" | "-explain" => {
                let what = words.get(i + 1).map(String::as_str);
                cfg.explain = match what {
                    Some("runtime") => {
                        i += 1;
                        Explain::Runtime
                    }
                    Some("hops") => {
                        i += 1;
                        Explain::Hops
                    }
                    Some("dot") => {
                        i += 1;
                        Explain::Dot
                    }
                    _ => Explain::Hops,
                };
            }
            "--no-rewrites" => opts.rewrites.disable_all = true,
            "--gpu" | "-gpu" => {
                let force = words.get(i + 1).map(String::as_str) == Some("force");
                if force {
                    i += 1;
                }
                match gpu_mode(force) {
                    Some(mode) => opts.gpu = mode,
                    None => return 1,
                }
            }
            "--no-gpu" => opts.gpu = dml::gpu::GpuMode::Off,
            "--no-rewrite" => {
                let Some(name) = words.get(i + 1) else {
                    eprintln!(
                        "error: --no-rewrite needs a rule name ({})",
                        dml::rewrite::rule_names().join(", ")
                    );
                    return 2;
                };
                if !dml::rewrite::rule_names().contains(&name.as_str()) {
                    eprintln!(
                        "error: unknown rewrite `{name}` (known: {})",
                        dml::rewrite::rule_names().join(", ")
                    );
                    return 2;
                }
                opts.rewrites.disabled.insert(name.clone());
                i += 1;
            }
            "--builtin-path" => {
                let Some(dir) = words.get(i + 1) else {
                    eprintln!("error: --builtin-path needs a directory");
                    return 2;
                };
                opts.builtin_path = Some(dir.into());
                i += 1;
            }
            "-f" => {
                file = words.get(i + 1).cloned();
                i += 1;
            }
            "-args" => {
                for (k, v) in words[i + 1..].iter().enumerate() {
                    opts.args.values.insert((k + 1).to_string(), CmdArgs::parse_value(v));
                }
                break;
            }
            "-nvargs" => {
                for pair in &words[i + 1..] {
                    let Some((k, v)) = pair.split_once('=') else {
                        eprintln!("error: -nvargs expects name=value, got `{pair}`");
                        return 2;
                    };
                    opts.args.values.insert(k.to_string(), CmdArgs::parse_value(v));
                }
                break;
            }
            "-exec" | "-config" => i += 1,
            _ if w.starts_with('-') && file.is_some() => {
                eprintln!("error: unknown option `{w}`\n{RUN_HELP}");
                return 2;
            }
            _ if file.is_none() => file = Some(w.to_string()),
            _ => {
                eprintln!(
                    "error: unexpected argument `{w}` (script arguments go after -args or -nvargs)\n{RUN_HELP}"
                );
                return 2;
            }
        }
        i += 1;
    }
    let Some(file) = file else {
        eprintln!("error: no script given\n{RUN_HELP}");
        return 2;
    };
    let src = match std::fs::read_to_string(&file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot read `{file}`: {e}");
            return 1;
        }
    };
    let mut map = SourceMap::new();
    let out = Output::stdout();
    match run_script(&mut map, &file, &src, &opts, &cfg, &out) {
        Ok(report) => {
            if !report.is_empty() {
                eprint!("{report}");
            }
            0
        }
        Err(Failure::Compile(diags)) => {
            emit_to_stderr(&map, &diags);
            1
        }
        Err(Failure::Runtime(d)) => {
            emit_to_stderr(&map, &[d]);
            1
        }
    }
}

/// The mode `--gpu` (or `--gpu force`) asks for, after printing what a user should know: the
/// device it found, or why everything runs on the CPU. `None`: the request cannot be met (no GPU
/// support compiled in; no device under `force`), and the error was printed.
pub fn gpu_mode(force: bool) -> Option<dml::gpu::GpuMode> {
    if !dml::plan::gpu_available() {
        eprintln!("error: --gpu: this build was not compiled with GPU support");
        return None;
    }
    let mode = if force { dml::gpu::GpuMode::Force } else { dml::gpu::GpuMode::Auto };
    match dml::gpu::probe(mode) {
        Err(why) if force => {
            eprintln!("error: --gpu force: {why}");
            return None;
        }
        Err(why) => eprintln!("note: --gpu: {why}; everything runs on the CPU"),
        Ok(device) => {
            if let Some(why) = dml::gpu::fallback_note(mode) {
                eprintln!("note: --gpu: {why}; using `{}` ({})", device.name, device.api);
            }
        }
    }
    Some(mode)
}
