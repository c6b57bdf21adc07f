//! Loading: the main script, every file it `source`s (and the files that paramserv's function
//! references name by path), and the DML-bodied builtins a script calls, from the builtin
//! directory. Each file becomes a module with its functions; the main script's body and every
//! function body are cut into statement blocks.

use crate::compiler::program::{Function, Module, ModuleId, Program, VarTable, make_blocks};
use crate::compiler::stdlib;
use crate::diagnostics::{Diagnostic, SourceMap};
use crate::syntax::ast::{self, StmtKind};
use crate::syntax::visit;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

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

impl<'a> Loader<'a> {
    fn new(map: &'a mut SourceMap, predefined: &'a [String], builtin_dir: Option<&'a Path>) -> Self {
        Loader {
            map,
            predefined,
            builtin_dir,
            sources: HashMap::new(),
            program: Program::default(),
            by_path: HashMap::new(),
            errors: Vec::new(),
        }
    }

    /// The program loaded, or every problem found while loading it.
    fn finish(self) -> Result<Program, Vec<Diagnostic>> {
        if self.errors.is_empty() { Ok(self.program) } else { Err(self.errors) }
    }

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

    /// The module of a found file: the one loaded before from the same place, or a new one.
    fn load_found(&mut self, found: Found) -> Option<ModuleId> {
        let (key, text, dir) = match found {
            Found::File(p, text) => {
                let canon = p.canonicalize().unwrap_or(p.clone());
                let dir = canon.parent().map(Path::to_path_buf);
                (canon.to_string_lossy().to_string(), text, dir)
            }
            Found::Embedded(name, src) => (name, src.to_string(), None),
        };
        match self.by_path.get(&key) {
            Some(&m) => Some(m),
            None => self.load_module(&key, &text, dir.as_deref()),
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
                    let target = self.load_found(found);
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
        visit::for_each_call(&ast.body, &mut |ns, name, args| {
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
        let target = self.load_found(found);
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
                .map(|p| {
                    p.default
                        .clone()
                        .map(|e| crate::compiler::program::Predicate { expr: e, cache: Default::default() })
                })
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
    let mut loader = Loader::new(map, predefined, builtin_dir);
    loader.load_module(name, src, script_dir.as_deref());
    loader.load_dml_builtins(&[]);
    loader.finish()
}

/// A program whose main part is empty and which holds the DML-bodied builtin `NAME` from `dir`
/// (and the builtins it calls), loaded but not yet checked.
pub(crate) fn load_builtin_program(
    map: &mut SourceMap,
    name: &str,
    dir: &Path,
) -> Result<Program, Vec<Diagnostic>> {
    let mut loader = Loader::new(map, &[], Some(dir));
    loader.load_module(&format!("<eval {name}>"), "", None);
    loader.load_dml_builtins(&[name.to_string()]);
    loader.finish()
}

/// Names of unqualified calls anywhere in `stmts`.
fn calls_in(stmts: &[ast::Stmt], out: &mut Vec<String>) {
    use ast::ExprKind;
    visit::for_each_call(stmts, &mut |namespace, name, args| {
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
