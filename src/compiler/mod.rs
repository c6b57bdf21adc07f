//! The compiler: from parsed scripts to a validated, structured program.
//!
//! `load_program` parses the main script and every file it `source`s, collects the functions per
//! module (file), and cuts every body into statement blocks. `validate::validate` then builds the
//! HOP DAG of every block once with the types and constants known statically, which reports type
//! errors, unknown names and refused memory estimates before anything runs. At run time each block
//! is compiled again with the actual input shapes (`crate::runtime::exec`).

pub mod branches;
pub mod hoist;
pub mod liveness;
pub mod plan_cache;
pub mod program;
pub mod stdlib;
pub mod to_hops;
pub mod validate;

use crate::compiler::to_hops::CmdArgs;
use crate::diagnostics::{Diagnostic, SourceMap};
use crate::plan::Budget;
use crate::rewrite::RewriteConfig;
use crate::syntax::ast::{self, StmtKind};
use program::{Function, Module, ModuleId, Program, VarTable, make_blocks};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Settings that shape compilation and execution.
#[derive(Clone, Debug)]
pub struct Options {
    pub args: CmdArgs,
    pub rewrites: RewriteConfig,
    pub budget: Budget,
    /// Directory of DML-bodied builtins (`NAME.dml`), as SystemDS's `scripts/builtin`.
    pub builtin_path: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            args: CmdArgs::default(),
            rewrites: RewriteConfig::default(),
            budget: Budget::from_env(),
            builtin_path: std::env::var_os("DML_BUILTIN_PATH").map(PathBuf::from),
        }
    }
}

struct Loader<'a> {
    map: &'a mut SourceMap,
    /// Variable names that exist before the main program starts (REPL sessions, embedders).
    predefined: &'a [String],
    /// Directory of DML-bodied builtins (`NAME.dml`).
    builtin_dir: Option<&'a Path>,
    sources: HashMap<String, String>,
    program: Program,
    by_path: HashMap<String, ModuleId>,
    errors: Vec<Diagnostic>,
}

/// Where a `source`d file was found.
enum Found {
    File(PathBuf, String),
    Embedded(String, &'static str),
}

/// Resolves `source(path)`: relative to the working directory (or the last `setwd`) first, then
/// its `scripts/` folder, as SystemDS does; then relative to the directory of the script that sources it; then the nn
/// library embedded in the binary. An absolute path is used as it is. A `scripts/...` path that is
/// not found there is looked up in the `scripts` folder holding the builtin directory, as SystemDS
/// finds such paths (`scripts/builtin/bandit.dml`) inside its jar.
fn find_source(
    path: &str,
    base: &Path,
    script_dir: Option<&Path>,
    builtin_dir: Option<&Path>,
) -> Option<Found> {
    let p = Path::new(path);
    let mut candidates = vec![base.join(p), base.join("scripts").join(p)];
    if let Some(dir) = script_dir {
        candidates.push(dir.join(p));
    }
    if let (Some(rest), Some(scripts)) =
        (path.trim_start_matches("./").strip_prefix("scripts/"), builtin_dir.and_then(Path::parent))
    {
        candidates.push(scripts.join(rest));
    }
    for c in candidates {
        if c.is_file()
            && let Ok(text) = std::fs::read_to_string(&c)
        {
            return Some(Found::File(c, text));
        }
    }
    stdlib::lookup(path)
        .map(|src| Found::Embedded(format!("<embedded>/{}", path.trim_start_matches("./")), src))
}

impl Loader<'_> {
    /// Loads `DIR/NAME.dml` for every called name that is neither a user function nor a native
    /// builtin, and again for the names those files call, until nothing new is found.
    fn load_dml_builtins(&mut self, seed: &[String]) {
        let Some(dir) = self.builtin_dir else { return };
        let mut scanned = 0;
        let mut tried: std::collections::HashSet<String> = seed.iter().cloned().collect();
        let mut wanted: Vec<String> = seed.to_vec();
        loop {
            while scanned < self.program.modules.len() {
                let path = self.program.modules[scanned].path.clone();
                let src = self.source_of(&path);
                if let Some(src) = src
                    && let Ok(ast) = crate::syntax::parse_program(&src, crate::syntax::ast::FileId(u32::MAX))
                {
                    let mut calls = Vec::new();
                    calls_in(&ast.body, &mut calls);
                    for c in calls {
                        let defined_here = self.program.modules[scanned].functions.contains_key(&c);
                        if !defined_here && crate::builtins::lookup(&c).is_none() && tried.insert(c.clone()) {
                            wanted.push(c);
                        }
                    }
                }
                scanned += 1;
            }
            if wanted.is_empty() {
                return;
            }
            for name in std::mem::take(&mut wanted) {
                let file = dir.join(format!("{name}.dml"));
                let Ok(text) = std::fs::read_to_string(&file) else { continue };
                let key = file.to_string_lossy().to_string();
                if let Some(m) = self.load_module(&key, &text, Some(dir)) {
                    self.program.builtin_modules.insert(name, m);
                }
            }
        }
    }

    fn source_of(&self, path: &str) -> Option<String> {
        self.map_source(path)
    }

    fn map_source(&self, path: &str) -> Option<String> {
        self.sources.get(path).cloned()
    }

    /// Parses and registers one module; returns its id.
    fn load_module(&mut self, name: &str, src: &str, script_dir: Option<&Path>) -> Option<ModuleId> {
        let file = self.map.add(name, src);
        self.sources.insert(name.to_string(), src.to_string());
        let starts = std::iter::once(0).chain(src.match_indices('\n').map(|(i, _)| i as u32 + 1)).collect();
        self.program.files.insert(file.0, (name.to_string(), starts));
        let ast = match crate::syntax::parse_program(src, file) {
            Ok(p) => p,
            Err(diags) => {
                self.errors.extend(diags);
                return None;
            }
        };
        let id = self.program.modules.len() as ModuleId;
        self.program.modules.push(Module { path: name.to_string(), ..Default::default() });
        self.by_path.insert(name.to_string(), id);
        self.register(id, &ast, script_dir);
        if id == 0 {
            let mut vars = VarTable::default();
            for name in self.predefined {
                vars.slot(name);
            }
            self.program.main = make_blocks(&ast.body, &mut vars);
            self.program.main_vars = vars;
        }
        Some(id)
    }

    fn register(&mut self, module: ModuleId, ast: &ast::Program, script_dir: Option<&Path>) {
        let mut base = PathBuf::from(".");
        for stmt in &ast.body {
            match &stmt.kind {
                StmtKind::SetWd { path } => base = PathBuf::from(path),
                StmtKind::Source { path, path_span, namespace } => {
                    let Some(found) = find_source(path, &base, script_dir, self.builtin_dir) else {
                        self.errors.push(
                            Diagnostic::error(format!("cannot find the file `{path}` to source"))
                                .with_primary(*path_span, "not found")
                                .with_note(
                                    "looked in the working directory, the directory of this script, and the built-in nn library",
                                ),
                        );
                        continue;
                    };
                    let (key, text, dir) = match found {
                        Found::File(p, text) => {
                            let canon = p.canonicalize().unwrap_or(p.clone());
                            let dir = canon.parent().map(Path::to_path_buf);
                            (canon.to_string_lossy().to_string(), text.to_string(), dir)
                        }
                        Found::Embedded(name, src) => (name, src.to_string(), None),
                    };
                    let target = match self.by_path.get(&key) {
                        Some(&m) => Some(m),
                        None => self.load_module(&key, &text, dir.as_deref()),
                    };
                    if let Some(t) = target {
                        let m = &mut self.program.modules[module as usize];
                        if let Some(&old) = m.namespaces.get(&namespace.name)
                            && old != t
                        {
                            self.errors.push(
                                Diagnostic::error(format!(
                                    "namespace `{}` is already bound to another file",
                                    namespace.name
                                ))
                                .with_primary(namespace.span, "bound again here"),
                            );
                        }
                        self.program.modules[module as usize].namespaces.insert(namespace.name.clone(), t);
                    }
                }
                StmtKind::FunctionDef(def) => self.add_function(module, def, stmt.span),
                _ => {}
            }
        }
        // paramserv(upd="path/file.dml::f", ...) names a function by the path of its file: load
        // the file and bind the path as a namespace, here and in the main module (where
        // run-time lookups by name start).
        let mut refs = Vec::new();
        let mut traces = false;
        visit_calls(&ast.body, &mut |ns, name, args| {
            if ns.is_none() {
                refs.extend(paramserv_file_refs(name, args));
                traces |= name == "lineage" || name == "autoDiff";
            }
        });
        self.program.traces_lineage |= traces;
        for (path, span) in refs {
            self.bind_file_namespace(module, &path, span, &base, script_dir);
        }
    }

    /// Loads `path` (as `source` would) and binds it under its path as a namespace of `module`
    /// and of the main module.
    fn bind_file_namespace(
        &mut self,
        module: ModuleId,
        path: &str,
        span: ast::Span,
        base: &Path,
        script_dir: Option<&Path>,
    ) {
        let Some(found) = find_source(path, base, script_dir, self.builtin_dir) else {
            self.errors.push(
                Diagnostic::error(format!("cannot find the file `{path}` named in a function reference"))
                    .with_primary(span, "not found"),
            );
            return;
        };
        let (key, text, dir) = match found {
            Found::File(p, text) => {
                let canon = p.canonicalize().unwrap_or(p.clone());
                let dir = canon.parent().map(Path::to_path_buf);
                (canon.to_string_lossy().to_string(), text, dir)
            }
            Found::Embedded(name, src) => (name, src.to_string(), None),
        };
        let target = match self.by_path.get(&key) {
            Some(&m) => Some(m),
            None => self.load_module(&key, &text, dir.as_deref()),
        };
        if let Some(t) = target {
            for m in [module, 0] {
                if let Some(m) = self.program.modules.get_mut(m as usize) {
                    m.namespaces.entry(path.to_string()).or_insert(t);
                }
            }
        }
    }

    fn add_function(&mut self, module: ModuleId, def: &ast::FunctionDef, span: ast::Span) {
        let mut vars = VarTable::default();
        let param_slots = def.params.iter().map(|p| vars.slot(&p.name.name)).collect();
        let return_slots = def.returns.iter().map(|p| vars.slot(&p.name.name)).collect();
        let body = make_blocks(&def.body, &mut vars);
        let id = self.program.functions.len() as u32;
        let m = &mut self.program.modules[module as usize];
        if m.functions.contains_key(&def.name.name) {
            self.errors.push(
                Diagnostic::error(format!("function `{}` is defined twice", def.name.name))
                    .with_primary(def.name.span, "defined again here"),
            );
            return;
        }
        m.functions.insert(def.name.name.clone(), id);
        self.program.functions.push(Function {
            name: def.name.name.clone(),
            module,
            params: def.params.clone(),
            returns: def.returns.clone(),
            param_slots,
            return_slots,
            body,
            vars,
            span,
            external: def.external.is_some(),
            defaults: def
                .params
                .iter()
                .map(|p| p.default.clone().map(|e| program::Predicate { expr: e, cache: Default::default() }))
                .collect(),
        });
    }
}

/// Parses `src` (the main script, named `name` in messages) and everything it sources.
pub fn load_program(map: &mut SourceMap, name: &str, src: &str) -> Result<Program, Vec<Diagnostic>> {
    load_program_with_vars(map, name, src, &[], None)
}

/// Like [`load_program`], with variables that exist before the script starts; they get the
/// first slots of the main program, in the order given.
pub fn load_program_with_vars(
    map: &mut SourceMap,
    name: &str,
    src: &str,
    predefined: &[String],
    builtin_dir: Option<&Path>,
) -> Result<Program, Vec<Diagnostic>> {
    let script_dir = Path::new(name).parent().map(Path::to_path_buf);
    let mut loader = Loader {
        map,
        predefined,
        builtin_dir,
        sources: HashMap::new(),
        program: Program::default(),
        by_path: HashMap::new(),
        errors: Vec::new(),
    };
    loader.load_module(name, src, script_dir.as_deref());
    loader.load_dml_builtins(&[]);
    if loader.errors.is_empty() { Ok(loader.program) } else { Err(loader.errors) }
}

/// A program whose main part is empty and which holds the DML-bodied builtin `NAME` from
/// `opts.builtin_path` (and the builtins it calls): what `eval` runs when the name of a builtin
/// is only known at run time (`gridSearch(train="lm")`). `None` when there is no such file.
pub fn prepare_builtin_program(name: &str, opts: &Options) -> Option<Result<Program, String>> {
    let dir = opts.builtin_path.as_deref()?;
    if !dir.join(format!("{name}.dml")).is_file() {
        return None;
    }
    let mut map = SourceMap::default();
    let loaded = {
        let mut loader = Loader {
            map: &mut map,
            predefined: &[],
            builtin_dir: Some(dir),
            sources: HashMap::new(),
            program: Program::default(),
            by_path: HashMap::new(),
            errors: Vec::new(),
        };
        loader.load_module(&format!("<eval {name}>"), "", None);
        loader.load_dml_builtins(&[name.to_string()]);
        if loader.errors.is_empty() { Ok(loader.program) } else { Err(loader.errors) }
    };
    let checked = loaded.and_then(|mut program| {
        let validation = validate::validate_with(&program, opts, false, &[]);
        if !validation.errors.is_empty() {
            return Err(validation.errors);
        }
        liveness::attach_constants(&mut program, &validation.block_consts);
        liveness::annotate(&mut program, false);
        Ok(program)
    });
    Some(checked.map_err(|diags| crate::diagnostics::render_to_string(&map, &diags)))
}

/// Names of unqualified calls anywhere in `stmts`.
fn calls_in(stmts: &[ast::Stmt], out: &mut Vec<String>) {
    use ast::ExprKind;
    visit_calls(stmts, &mut |namespace, name, args| {
        if namespace.is_none() {
            out.push(name.to_string());
            // eval("f", ...) with a constant name loads `f` like a direct call.
            if (name == "eval" || name == "evalList")
                && let Some(ExprKind::Str(f)) = args.first().map(|a| &a.value.kind)
            {
                out.push(f.clone());
            }
        }
    });
}

/// A callback for every call anywhere in `stmts`: its namespace, name and arguments.
pub(crate) type CallVisitor<'a> = dyn FnMut(Option<&str>, &str, &[ast::Arg]) + 'a;

/// Calls `f` for every call expression anywhere in `stmts`, function bodies included.
pub(crate) fn visit_calls(stmts: &[ast::Stmt], out: &mut CallVisitor<'_>) {
    use ast::{ExprKind, IndexSpec};
    fn expr(e: &ast::Expr, out: &mut CallVisitor<'_>) {
        match &e.kind {
            ExprKind::Call { namespace, name, args } => {
                out(namespace.as_ref().map(|n| n.name.as_str()), &name.name, args);
                args.iter().for_each(|a| expr(&a.value, out));
            }
            ExprKind::Unary { expr: x, .. } => expr(x, out),
            ExprKind::Binary { lhs, rhs, .. } => {
                expr(lhs, out);
                expr(rhs, out);
            }
            ExprKind::IfDef { default, .. } => expr(default, out),
            ExprKind::List(items) => items.iter().for_each(|i| expr(i, out)),
            ExprKind::Index { rows, cols, .. } => {
                for s in [Some(rows.as_ref()), cols.as_deref()].into_iter().flatten() {
                    match s {
                        IndexSpec::Single(x) => expr(x, out),
                        IndexSpec::Range(a, b) => {
                            expr(a, out);
                            expr(b, out);
                        }
                        IndexSpec::All => {}
                    }
                }
            }
            _ => {}
        }
    }
    for s in stmts {
        match &s.kind {
            StmtKind::Assign { value, .. } | StmtKind::MultiAssign { value, .. } | StmtKind::Expr(value) => {
                expr(value, out)
            }
            StmtKind::If { cond, then_body, else_body } => {
                expr(cond, out);
                visit_calls(then_body, out);
                if let Some(e) = else_body {
                    visit_calls(e, out);
                }
            }
            StmtKind::While { cond, body } => {
                expr(cond, out);
                visit_calls(body, out);
            }
            StmtKind::For { iter, body, .. } | StmtKind::ParFor { iter, body, .. } => {
                match iter {
                    ast::Iterable::Range { from, to } => {
                        expr(from, out);
                        expr(to, out);
                    }
                    ast::Iterable::Seq { from, to, incr } => {
                        expr(from, out);
                        expr(to, out);
                        if let Some(i) = incr {
                            expr(i, out);
                        }
                    }
                }
                visit_calls(body, out);
            }
            StmtKind::FunctionDef(f) => {
                for p in &f.params {
                    if let Some(d) = &p.default {
                        expr(d, out);
                    }
                }
                visit_calls(&f.body, out);
            }
            _ => {}
        }
    }
}

/// Everything between source text and a program ready to run: load the script and what it
/// sources, validate it (with the types of variables that exist beforehand, as in a REPL
/// session or a prepared script), attach the proven constants, remove constant branches, hoist
/// loop invariants, and annotate live variables. `keep_vars` keeps every variable of the main
/// program alive at its end, for REPL sessions and prepared scripts, which read them afterwards;
/// a script run from the command line ends with nothing live, so computations whose results
/// nobody reads (the gradient of a network's input, say) are never run.
pub fn prepare_program(
    map: &mut SourceMap,
    name: &str,
    src: &str,
    opts: &Options,
    vars: &[(String, crate::types::type_info::TypeInfo)],
    keep_vars: bool,
) -> Result<Program, Vec<Diagnostic>> {
    let names: Vec<String> = vars.iter().map(|(n, _)| n.clone()).collect();
    let mut program = load_program_with_vars(map, name, src, &names, opts.builtin_path.as_deref())?;
    let initial: Vec<(u32, crate::types::type_info::TypeInfo)> =
        vars.iter().enumerate().map(|(i, (_, t))| (i as u32, *t)).collect();
    let validation = validate::validate_with(&program, opts, false, &initial);
    if !validation.errors.is_empty() {
        return Err(validation.errors);
    }
    // Constants are attached before blocks move (spans are the keys).
    liveness::attach_constants(&mut program, &validation.block_consts);
    if opts.rewrites.enabled("remove_constant_branches") {
        branches::remove_constant_branches(&mut program, &validation.if_outcomes);
    }
    if opts.rewrites.enabled("hoist_loop_invariants") {
        hoist::hoist_loop_invariants(&mut program);
    }
    liveness::annotate(&mut program, keep_vars);
    Ok(program)
}

/// The file paths that a call names in function references (`upd="path/file.dml::f"`), with
/// the spans of those strings: the compiler loads these files like `source` does. A prefix
/// that is not a path (`"ns::f"`) is left to resolve as a namespace of the main script.
fn paramserv_file_refs(name: &str, args: &[ast::Arg]) -> Vec<(String, ast::Span)> {
    if name != "paramserv" {
        return Vec::new();
    }
    let mut out = Vec::new();
    for a in args {
        let named = a.name.as_ref().map(|n| n.name.as_str());
        if matches!(named, Some("upd" | "agg" | "val"))
            && let ast::ExprKind::Str(s) = &a.value.kind
            && let Some((path, _)) = s.rsplit_once("::")
            && (path.ends_with(".dml") || path.contains('/'))
        {
            out.push((path.to_string(), a.value.span));
        }
    }
    out
}
