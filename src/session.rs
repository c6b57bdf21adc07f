//! Sessions that keep variables between inputs (the REPL), and prepared scripts that are compiled
//! once and run many times with new inputs (the embedding API, in the spirit of SystemDS's JMLC).

use crate::compiler::program::Program;
use crate::compiler::{self, Options};
use crate::diagnostics::{Diagnostic, SourceMap};
use crate::driver::Failure;
use crate::runtime::exec::{Slots, run_program};
use crate::runtime::output::Output;
use crate::runtime::stats::Stats;
use crate::syntax::ast::{ExprKind, StmtKind};
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
    /// The statements that ran without an error, in order (what [`Session::script`] returns).
    accepted: Vec<String>,
    /// The functions the last input could call: its own module's and each sourced namespace's.
    callable: Callable,
    /// How long the last input took to parse, load and validate (for `:stats`).
    last_compile: std::time::Duration,
}

/// A DML function the session knows, for completion and hints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionSig {
    pub name: String,
    pub params: Vec<String>,
}

/// The functions defined in the session (`functions`) and in each namespace it `source`d.
#[derive(Clone, Debug, Default)]
pub struct Callable {
    pub functions: Vec<FunctionSig>,
    pub namespaces: BTreeMap<String, Vec<FunctionSig>>,
}

impl Callable {
    fn of(program: &Program) -> Callable {
        let sigs = |module: &crate::compiler::program::Module| -> Vec<FunctionSig> {
            let mut v: Vec<FunctionSig> = module
                .functions
                .iter()
                .map(|(name, &id)| FunctionSig {
                    name: name.clone(),
                    params: program.functions[id as usize]
                        .params
                        .iter()
                        .map(|p| p.name.name.clone())
                        .collect(),
                })
                .collect();
            v.sort_by(|a, b| a.name.cmp(&b.name));
            v
        };
        let Some(main) = program.modules.first() else { return Callable::default() };
        Callable {
            functions: sigs(main),
            namespaces: main
                .namespaces
                .iter()
                .filter_map(|(ns, &m)| {
                    program.modules.get(m as usize).map(|module| (ns.clone(), sigs(module)))
                })
                .collect(),
        }
    }
}

/// The variable a bare expression's value is assigned to while it runs; removed afterwards.
/// DML names start with a letter, and no script is likely to use this one.
const VALUE_VAR: &str = "replValueOfInput__";

/// Whether `input` is one expression to show the value of: an expression that is no statement
/// (`X`, `1 + 2`, `X[1, ]`), or a call statement of a builtin or function that returns a value
/// (`sum(X)`, but not `print(X)` or `write(X, f)`). The second kind is only a candidate: a call
/// to a user function without results fails to compile as a value and then runs as a statement.
#[derive(Debug, PartialEq, Eq)]
pub enum InputKind {
    /// Statements to run.
    Statements,
    /// An expression whose value is shown.
    Expression,
    /// A call statement that may have a value.
    MaybeValue,
    /// Neither parses; running it reports the syntax error.
    Invalid,
}

/// Classifies one complete input (see [`InputKind`]).
pub fn classify(input: &str) -> InputKind {
    let file = crate::syntax::ast::FileId(u32::MAX);
    match crate::syntax::parse_program(input, file) {
        Ok(ast) => match ast.body.as_slice() {
            [stmt] => match &stmt.kind {
                StmtKind::Expr(e) => match &e.kind {
                    ExprKind::Call { namespace: None, name, .. } => match crate::builtins::lookup(&name.name)
                    {
                        Some(id) if id.spec().out == crate::builtins::Out::Nothing => InputKind::Statements,
                        _ => InputKind::MaybeValue,
                    },
                    _ => InputKind::MaybeValue,
                },
                _ => InputKind::Statements,
            },
            _ => InputKind::Statements,
        },
        Err(_) => {
            if crate::syntax::parse_program(&wrap_value(input), file).is_ok() {
                InputKind::Expression
            } else {
                InputKind::Invalid
            }
        }
    }
}

/// The statement that assigns the value of `expr` to [`VALUE_VAR`]; the expression keeps a line of
/// its own, without brackets around it, so that messages show only the user's text.
fn wrap_value(expr: &str) -> String {
    format!("{VALUE_VAR} =\n{}", expr.trim_end())
}

impl Session {
    pub fn new(opts: Options) -> Self {
        Session {
            opts,
            map: SourceMap::new(),
            vars: BTreeMap::new(),
            defs: String::new(),
            inputs: 0,
            accepted: Vec::new(),
            callable: Callable::default(),
            last_compile: std::time::Duration::ZERO,
        }
    }

    fn source_for(&self, input: &str) -> String {
        format!("{}{}\n", self.defs, input)
    }

    fn var_types(&self) -> Vec<(String, TypeInfo)> {
        self.vars.iter().map(|(n, v)| (n.clone(), TypeInfo::of_value(v))).collect()
    }

    /// Compiles one input against the session's variables and definitions.
    fn prepare(&mut self, input: &str, opts: &Options) -> Result<Program, Vec<Diagnostic>> {
        self.inputs += 1;
        let name = format!("<input {}>", self.inputs);
        let src = self.source_for(input);
        let vars = self.var_types();
        compiler::prepare_program(&mut self.map, &name, &src, opts, &vars, true)
    }

    /// Runs one input. On success its variables are kept; on failure nothing changes.
    pub fn execute(&mut self, input: &str, out: &Output) -> Result<(), Failure> {
        self.run(input, out, None, true)
    }

    /// [`Session::execute`] with the instruction counts and times recorded in `stats` (the
    /// `--stats` table of that one input: `stats.report(elapsed, compile_time)`).
    pub fn execute_with_stats(&mut self, input: &str, out: &Output, stats: &Stats) -> Result<(), Failure> {
        self.run(input, out, Some(stats), true)
    }

    /// Compiles and runs one input; `record`: keep it among the accepted statements.
    fn run(&mut self, input: &str, out: &Output, stats: Option<&Stats>, record: bool) -> Result<(), Failure> {
        let opts = self.opts.clone();
        let start = std::time::Instant::now();
        let program = self.prepare(input, &opts).map_err(Failure::Compile)?;
        self.last_compile = start.elapsed();
        let vars = self.var_types();
        let mut slots = Slots::new(program.main_vars.len());
        for (i, (n, _)) in vars.iter().enumerate() {
            slots.vals[i] = self.vars.get(n).cloned();
        }
        run_program(&program, &self.opts, out, stats, &mut slots)
            .map_err(|e| Failure::Runtime(e.into_diagnostic()))?;
        slots.to_host().map_err(|e| Failure::Runtime(e.into_diagnostic()))?;
        for (slot, v) in slots.vals.into_iter().enumerate() {
            if let Some(v) = v {
                self.vars.insert(program.main_vars.name(slot as u32).to_string(), v);
            }
        }
        self.callable = Callable::of(&program);
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
        if record {
            self.accepted.push(input.trim_end().to_string());
        }
        Ok(())
    }

    /// Runs one input as the REPL does: the value of a bare expression (`X`, `sum(X)`) is
    /// returned to be shown; statements run as [`Session::execute`] runs them and give `None`.
    pub fn evaluate(&mut self, input: &str, out: &Output) -> Result<Option<Value>, Failure> {
        self.evaluate_with_stats(input, out, None)
    }

    /// [`Session::evaluate`] with the run recorded in `stats` when given.
    pub fn evaluate_with_stats(
        &mut self,
        input: &str,
        out: &Output,
        stats: Option<&Stats>,
    ) -> Result<Option<Value>, Failure> {
        match classify(input) {
            InputKind::Expression => self.value_of(input, out, stats).map(Some),
            InputKind::MaybeValue => match self.value_of(input, out, stats) {
                Ok(v) => Ok(Some(v)),
                // Not a value (a function without results): run it as the statement it is.
                Err(Failure::Compile(_)) => self.run(input, out, stats, true).map(|_| None),
                Err(e) => Err(e),
            },
            InputKind::Statements | InputKind::Invalid => self.run(input, out, stats, true).map(|_| None),
        }
    }

    /// Evaluates one expression in the session and returns its value.
    fn value_of(&mut self, expr: &str, out: &Output, stats: Option<&Stats>) -> Result<Value, Failure> {
        let result = self.run(&wrap_value(expr), out, stats, false);
        let value = self.vars.remove(VALUE_VAR);
        result?;
        value.ok_or_else(|| {
            Failure::Runtime(Diagnostic::error("the expression gave no value (a function without results?)"))
        })
    }

    /// The optimized HOP DAGs an input would run, without running it: of the statements, or of
    /// computing the value of a bare expression.
    pub fn explain(&mut self, input: &str) -> Result<String, Vec<Diagnostic>> {
        let program = self.prepare_for_explain(input)?;
        let text =
            compiler::validate::validate_with(&program, &self.opts, true, &self.initial_types()).explain;
        Ok(text.replace(VALUE_VAR, "(value)"))
    }

    /// [`Session::explain`] as one Graphviz DOT graph.
    pub fn explain_dot(&mut self, input: &str) -> Result<String, Vec<Diagnostic>> {
        let program = self.prepare_for_explain(input)?;
        Ok(crate::driver::dot_of(&program, &self.opts, &self.initial_types()).replace(VALUE_VAR, "(value)"))
    }

    /// Compiles what `:explain` shows: an expression as the statement that computes its value.
    fn prepare_for_explain(&mut self, input: &str) -> Result<Program, Vec<Diagnostic>> {
        let opts = self.opts.clone();
        let text = match classify(input) {
            InputKind::Expression | InputKind::MaybeValue => {
                let wrapped = wrap_value(input);
                // A call without results cannot be a value: explain the statement instead.
                match self.prepare(&wrapped, &opts) {
                    Ok(p) => return Ok(p),
                    Err(e) if classify(input) == InputKind::Expression => return Err(e),
                    Err(_) => input.to_string(),
                }
            }
            _ => input.to_string(),
        };
        self.prepare(&text, &opts)
    }

    fn initial_types(&self) -> Vec<(u32, TypeInfo)> {
        self.var_types().into_iter().enumerate().map(|(i, (_, t))| (i as u32, t)).collect()
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

    /// How long the last input that compiled took to parse, load and validate.
    pub fn last_compile_time(&self) -> std::time::Duration {
        self.last_compile
    }

    /// The names of the session's variables, in order.
    pub fn var_names(&self) -> Vec<String> {
        self.vars.keys().cloned().collect()
    }

    /// The functions the session defined and the namespaces it sourced (as of the last input
    /// that ran).
    pub fn callable(&self) -> &Callable {
        &self.callable
    }

    /// A variable's type, shape, non-zeros and format, or `None` when it does not exist.
    pub fn describe_type(&self, name: &str) -> Option<String> {
        self.vars.get(name).map(describe_value)
    }

    /// The statements that ran without an error, one input after another: a script that
    /// rebuilds the session (bare expressions that only showed a value are left out).
    pub fn script(&self) -> String {
        let mut s = self.accepted.join("\n");
        if !s.is_empty() {
            s.push('\n');
        }
        s
    }

    /// Forgets every variable, function, sourced namespace and accepted statement.
    pub fn reset(&mut self) {
        self.vars.clear();
        self.defs.clear();
        self.accepted.clear();
        self.callable = Callable::default();
    }
}

/// `matrix 2x3, nnz=5, dense (48 B)`: what `:type` shows of a value.
pub fn describe_value(v: &Value) -> String {
    match v {
        Value::Matrix(m) => {
            let (format, bytes) = if m.is_sparse() {
                ("sparse (CSR)", m.nnz() * 12 + (m.rows() + 1) * 8)
            } else {
                ("dense", m.rows() * m.cols() * 8)
            };
            format!(
                "matrix {}x{}, nnz={}, {format} ({})",
                m.rows(),
                m.cols(),
                m.nnz(),
                crate::hops::explain::format_bytes(bytes as f64)
            )
        }
        Value::Frame(f) => {
            let schema: Vec<String> = f.schema().iter().map(|t| t.name().to_string()).collect();
            format!("frame {}x{}, schema [{}]", f.rows(), f.cols(), schema.join(", "))
        }
        Value::List(l) => {
            if l.is_named() {
                format!("list of {} ({})", l.items.len(), l.names.join(", "))
            } else {
                format!("list of {}", l.items.len())
            }
        }
        scalar => format!("{} scalar", TypeInfo::of_value(scalar).vt),
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
            let v = match self.program.main_vars.get(n) {
                Some(slot) => slots.host(slot as usize, false).map_err(|e| e.message)?,
                None => None,
            }
            .ok_or_else(|| format!("output `{n}` was not assigned by the script"))?;
            values.insert(n.clone(), v);
        }
        Ok(Results { values, printed: self.out.take() })
    }
}
