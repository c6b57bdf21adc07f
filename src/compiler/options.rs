//! Settings of a compilation and run: the command-line parameters of the script (`$name`,
//! `$1`), the rewrite switches, the memory budget and where DML-bodied builtins live.

use crate::hops::Lit;
use crate::plan::Budget;
use crate::rewrite::RewriteConfig;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Settings that shape compilation and execution.
#[derive(Clone, Debug)]
pub struct Options {
    pub args: CmdArgs,
    pub rewrites: RewriteConfig,
    pub budget: Budget,
    /// Directory of DML-bodied builtins (`NAME.dml`), as SystemDS's `scripts/builtin`.
    pub builtin_path: Option<PathBuf>,
    /// Set from another thread to stop a running program: the executor checks it before each
    /// block (every loop iteration, every function body) and fails with [`INTERRUPTED`].
    /// `None` (the default): nothing to check. Embedders use it for Ctrl-C.
    pub interrupt: Option<Arc<AtomicBool>>,
    /// How each compiled block describes its plan (`Plan::explain`): text lines, or Graphviz
    /// DOT for `--explain dot`.
    pub explain_format: ExplainFormat,
    /// Whether operators may run on a GPU (`--gpu`, `--gpu force`, `--no-gpu`); the planner
    /// consults it (`crate::plan::gpu`).
    pub gpu: crate::gpu::GpuMode,
}

/// The form of the plan descriptions the block compiler writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExplainFormat {
    /// One operator a line (`--explain hops`).
    #[default]
    Text,
    /// Graphviz statements, collected into one graph by `hops::explain::dot::document`.
    Dot,
}

/// The message of the error a program stops with when [`Options::interrupt`] is set.
pub const INTERRUPTED: &str = "interrupted";

impl Options {
    /// Whether [`Options::interrupt`] asks the running program to stop.
    #[inline]
    pub fn interrupted(&self) -> bool {
        self.interrupt.as_ref().is_some_and(|f| f.load(Ordering::Relaxed))
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            args: CmdArgs::default(),
            rewrites: RewriteConfig::default(),
            budget: Budget::from_env(),
            builtin_path: std::env::var_os("DML_BUILTIN_PATH").map(PathBuf::from),
            interrupt: None,
            explain_format: ExplainFormat::Text,
            gpu: crate::gpu::GpuMode::Off,
        }
    }
}

/// Command-line parameters: `$name` and `$1`, already typed as SystemDS does.
#[derive(Clone, Debug, Default)]
pub struct CmdArgs {
    pub values: HashMap<String, Lit>,
}

impl CmdArgs {
    /// Types a raw argument as SystemDS does: integer, then double, then boolean, else string.
    pub fn parse_value(raw: &str) -> Lit {
        if let Ok(i) = raw.parse::<i64>() {
            return Lit::Int(i);
        }
        if let Ok(d) = raw.parse::<f64>() {
            return Lit::Double(d);
        }
        match raw {
            "TRUE" | "true" => Lit::Bool(true),
            "FALSE" | "false" => Lit::Bool(false),
            _ => Lit::Str(raw.trim_matches('"').to_string()),
        }
    }
}
