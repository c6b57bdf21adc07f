//! Sessions that keep variables between inputs (the REPL), and prepared scripts that are compiled
//! once and run many times with new inputs (the embedding API, in the spirit of SystemDS's JMLC).

use crate::compiler::program::Program;
use crate::compiler::{self, Options};
use crate::diagnostics::{Diagnostic, SourceMap};
use crate::driver::Failure;
use crate::runtime::exec::{Slots, run_program};
use crate::runtime::output::Output;
use crate::syntax::ast::StmtKind;
use crate::types::matrix::Matrix;
use crate::types::type_info::TypeInfo;
use crate::types::value::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// An interactive session: every input runs as a small program that sees the variables and the
/// functions of the inputs before it.
pub struct Session {
    pub opts: Options,
    pub map: SourceMap,
    vars: BTreeMap<String, Value>,
    /// Function definitions and `source` statements entered so far, replayed before each input.
    defs: String,
    inputs: usize,
}

impl Session {
    pub fn new(opts: Options) -> Self {
        Session { opts, map: SourceMap::new(), vars: BTreeMap::new(), defs: String::new(), inputs: 0 }
    }

    fn source_for(&self, input: &str) -> String {
        format!("{}{}\n", self.defs, input)
    }

    fn var_types(&self) -> Vec<(String, TypeInfo)> {
        self.vars.iter().map(|(n, v)| (n.clone(), TypeInfo::of_value(v))).collect()
    }

    /// Runs one input. On success its variables are kept; on failure nothing changes.
    pub fn execute(&mut self, input: &str, out: &Output) -> Result<(), Failure> {
        self.inputs += 1;
        let name = format!("<input {}>", self.inputs);
        let src = self.source_for(input);
        let vars = self.var_types();
        let program = compiler::prepare_program(&mut self.map, &name, &src, &self.opts, &vars, true)
            .map_err(Failure::Compile)?;
        let mut slots = Slots::new(program.main_vars.len());
        for (i, (n, _)) in vars.iter().enumerate() {
            slots.vals[i] = self.vars.get(n).cloned();
        }
        run_program(&program, &self.opts, out, None, &mut slots)
            .map_err(|e| Failure::Runtime(e.into_diagnostic()))?;
        for (slot, v) in slots.vals.into_iter().enumerate() {
            if let Some(v) = v {
                self.vars.insert(program.main_vars.name(slot as u32).to_string(), v);
            }
        }
        // Keep the definitions of this input for the next ones.
        if let Ok(ast) = crate::syntax::parse_program(input, crate::syntax::ast::FileId(u32::MAX))
            && ast.body.iter().any(|s| {
                matches!(s.kind, StmtKind::FunctionDef(_) | StmtKind::Source { .. } | StmtKind::SetWd { .. })
            })
        {
            for s in &ast.body {
                if matches!(
                    s.kind,
                    StmtKind::FunctionDef(_) | StmtKind::Source { .. } | StmtKind::SetWd { .. }
                ) {
                    let text = input.get(s.span.start as usize..s.span.end as usize).unwrap_or("");
                    self.defs.push_str(text);
                    self.defs.push('\n');
                }
            }
        }
        Ok(())
    }

    /// The HOP DAGs an input would run, without running it.
    pub fn explain(&mut self, input: &str) -> Result<String, Vec<Diagnostic>> {
        self.inputs += 1;
        let name = format!("<input {}>", self.inputs);
        let src = self.source_for(input);
        let vars = self.var_types();
        let program = compiler::prepare_program(&mut self.map, &name, &src, &self.opts, &vars, true)?;
        let initial: Vec<(u32, TypeInfo)> =
            vars.iter().enumerate().map(|(i, (_, t))| (i as u32, *t)).collect();
        Ok(compiler::validate::validate_with(&program, &self.opts, true, &initial).explain)
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.vars.get(name)
    }

    pub fn set(&mut self, name: &str, v: Value) {
        self.vars.insert(name.to_string(), v);
    }

    /// Variables and a short description of each, in name order.
    pub fn describe_vars(&self) -> Vec<(String, String)> {
        self.vars.iter().map(|(n, v)| (n.clone(), TypeInfo::of_value(v).to_string())).collect()
    }
}

/// A script compiled once, run many times with new inputs bound from Rust.
///
/// ```
/// use dml::session::PreparedScript;
/// use ndarray::array;
/// let mut ps = PreparedScript::compile("Y = X %*% t(X) + s", &["X", "s"], &["Y"]).unwrap();
/// ps.set_matrix("X", array![[1.0, 2.0], [3.0, 4.0]]);
/// ps.set_scalar("s", 1.0);
/// let res = ps.execute().unwrap();
/// assert_eq!(res.matrix("Y").unwrap()[[0, 0]], 6.0);
/// ```
pub struct PreparedScript {
    program: Program,
    opts: Options,
    map: SourceMap,
    inputs: Vec<String>,
    outputs: Vec<String>,
    bound: BTreeMap<String, Value>,
    /// Whether bound inputs stay bound after a run (the default) or move into it.
    keep_inputs: bool,
    out: Output,
}

/// The outputs of one execution of a prepared script.
pub struct Results {
    values: BTreeMap<String, Value>,
    /// What the script printed.
    pub printed: String,
}

impl Results {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// A matrix output as an ndarray.
    pub fn matrix(&self, name: &str) -> Option<ndarray::Array2<f64>> {
        match self.values.get(name)? {
            Value::Matrix(m) => Some(m.to_dense()),
            _ => None,
        }
    }

    /// A numeric scalar output.
    pub fn scalar(&self, name: &str) -> Option<f64> {
        self.values.get(name).and_then(|v| v.as_f64().filter(|_| v.is_scalar()))
    }

    /// Takes an output out of the results (a matrix the script made is then the caller's alone,
    /// so it can be handed on without a copy).
    pub fn take(&mut self, name: &str) -> Option<Value> {
        self.values.remove(name)
    }
}

impl PreparedScript {
    /// Compiles `src`. `inputs` are the variables bound before each run (as matrices of any shape
    /// or scalars); `outputs` the variables read after it.
    pub fn compile(src: &str, inputs: &[&str], outputs: &[&str]) -> Result<PreparedScript, String> {
        Self::compile_with(src, inputs, outputs, Options::default())
    }

    pub fn compile_with(
        src: &str,
        inputs: &[&str],
        outputs: &[&str],
        opts: Options,
    ) -> Result<PreparedScript, String> {
        Self::compile_named("<prepared script>", src, inputs, outputs, opts)
    }

    /// [`Self::compile_with`] for a script read from the file `name`: `source` then also looks
    /// next to it, and diagnostics name it.
    pub fn compile_named(
        name: &str,
        src: &str,
        inputs: &[&str],
        outputs: &[&str],
        opts: Options,
    ) -> Result<PreparedScript, String> {
        let mut map = SourceMap::new();
        // Inputs are declared as matrices of unknown shape; scalar inputs are fine too because
        // every block is compiled again at run time with the bound values.
        let vars: Vec<(String, TypeInfo)> =
            inputs.iter().map(|n| (n.to_string(), TypeInfo::UNKNOWN)).collect();
        let program = compiler::prepare_program(&mut map, name, src, &opts, &vars, true)
            .map_err(|d| crate::diagnostics::render_to_string(&map, &d))?;
        Ok(PreparedScript {
            program,
            opts,
            map,
            inputs: inputs.iter().map(|s| s.to_string()).collect(),
            outputs: outputs.iter().map(|s| s.to_string()).collect(),
            bound: BTreeMap::new(),
            keep_inputs: true,
            out: Output::buffer(),
        })
    }

    /// Where the script's `print` output goes (by default a buffer, returned in
    /// [`Results::printed`]).
    pub fn set_output(&mut self, out: Output) {
        self.out = out;
    }

    /// Whether inputs stay bound after a run (`true`, the default) or move into it, so that the
    /// script may update a matrix in place instead of copying it first.
    pub fn keep_inputs(&mut self, keep: bool) {
        self.keep_inputs = keep;
    }

    /// Removes a bound input, returning it.
    pub fn unbind(&mut self, name: &str) -> Option<Value> {
        self.bound.remove(name)
    }

    /// The options the script was compiled with (and runs with).
    pub fn options(&self) -> &Options {
        &self.opts
    }

    pub fn set_matrix(&mut self, name: &str, m: ndarray::Array2<f64>) {
        let m = if m.is_standard_layout() { m } else { m.as_standard_layout().into_owned() };
        self.bound.insert(name.to_string(), Value::Matrix(Arc::new(Matrix::Dense(m))));
    }

    pub fn set_scalar(&mut self, name: &str, v: f64) {
        self.bound.insert(name.to_string(), Value::Double(v));
    }

    pub fn set_value(&mut self, name: &str, v: Value) {
        self.bound.insert(name.to_string(), v);
    }

    /// Runs the script with the bound inputs (they stay bound for the next run).
    pub fn execute(&mut self) -> Result<Results, String> {
        let mut slots = Slots::new(self.program.main_vars.len());
        if let Some(n) = self.inputs.iter().find(|n| !self.bound.contains_key(*n)) {
            return Err(format!("input `{n}` is not bound"));
        }
        for (i, n) in self.inputs.iter().enumerate() {
            slots.vals[i] = if self.keep_inputs { self.bound.get(n).cloned() } else { self.bound.remove(n) };
        }
        run_program(&self.program, &self.opts, &self.out, None, &mut slots)
            .map_err(|e| crate::diagnostics::render_to_string(&self.map, &[e.into_diagnostic()]))?;
        let mut values = BTreeMap::new();
        for n in &self.outputs {
            let v = self
                .program
                .main_vars
                .get(n)
                .and_then(|slot| slots.vals[slot as usize].clone())
                .ok_or_else(|| format!("output `{n}` was not assigned by the script"))?;
            values.insert(n.clone(), v);
        }
        Ok(Results { values, printed: self.out.take() })
    }
}
