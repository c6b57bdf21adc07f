//! The table of native builtin functions: names, parameters with defaults, and how each is
//! compiled (a dedicated HOP such as an aggregate, or a library call evaluated by the runtime).
//!
//! Argument matching follows R and DML: positional arguments fill parameters in order, named
//! ones go to their parameter, missing ones take their default. The table is data so that the
//! validator, the compiler and `--explain` agree on every builtin.

mod table;

use crate::types::ops::{AggDir, AggOp, UnOp};
use crate::types::ops::{CastOp, NaryOp, ReorgOp};
pub use table::BUILTINS;

/// Index into [`BUILTINS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BuiltinId(pub u16);

impl BuiltinId {
    pub fn spec(self) -> &'static BuiltinSpec {
        &BUILTINS[self.0 as usize]
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }
}

/// A parameter's default value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Def {
    /// Must be given.
    Req,
    /// May be left out; the implementation sees it as absent.
    Opt,
    I(i64),
    F(f64),
    B(bool),
    S(&'static str),
}

#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub name: &'static str,
    pub default: Def,
}

/// How a builtin is compiled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Lower {
    /// Cellwise unary operator (scalar or matrix).
    Unary(UnOp),
    /// Aggregate of a matrix.
    Agg(AggOp, AggDir),
    /// `min`/`max`: an aggregate with one argument, cellwise n-ary with more.
    MinMax(NaryOp),
    Reorg(ReorgOp),
    Cast(CastOp),
    Nary(NaryOp),
    /// Compiled by the HOP builder by name (matrix, rand, seq, ifelse, print, ...).
    Special,
    /// Evaluated by its implementation in `runtime/builtins/`, found by [`BuiltinId`].
    Library,
}

/// Output type rule of a library builtin.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Out {
    DoubleScalar,
    IntScalar,
    BoolScalar,
    StrScalar,
    /// A matrix whose shape is known only at run time.
    Matrix,
    /// Same type and shape as argument `i`.
    SameAs(usize),
    /// A matrix of the shape of argument `i`.
    MatrixLike(usize),
    /// A column vector with as many rows as argument `i`.
    ColumnOf(usize),
    /// A matrix, or a frame when argument `i` is one, of a shape known only at run time
    /// (`removeEmpty` takes both).
    KindOf(usize),
    /// A 1x1 matrix.
    OneByOne,
    Frame,
    List,
    /// Several outputs, all matrices of unknown shape.
    Matrices,
    /// No output (statements such as `write`).
    Nothing,
    /// Not known until run time.
    Unknown,
}

#[derive(Debug)]
pub struct BuiltinSpec {
    pub name: &'static str,
    pub params: &'static [Param],
    /// Extra positional arguments beyond `params` are allowed (cbind, list, print format args).
    pub variadic: bool,
    pub lower: Lower,
    pub out: Out,
    /// Number of outputs (multi-assignment targets).
    pub nout: u8,
    /// Has an effect beyond its result (I/O, randomness): never folded, merged or removed.
    pub side_effect: bool,
}

/// The id of the builtin named `name`, resolved when the program is compiled: code that names a
/// builtin (a rewrite emitting a fused operator, the executor's special cases) uses these
/// constants, so a misspelt or removed name is a build error rather than a rule that silently
/// stops firing. Aliases are not resolved here; use the table's own name.
pub const fn id(name: &str) -> BuiltinId {
    let mut i = 0;
    while i < table::TABLE.len() {
        if str_eq(table::TABLE[i].name, name) {
            return BuiltinId(i as u16);
        }
        i += 1;
    }
    panic!("builtins::id: no builtin of that name in the table")
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Ids of the builtins that the compiler and the runtime name in code.
pub mod ids {
    use super::{BuiltinId, id};

    pub const BIAS_ADD: BuiltinId = id("bias_add");
    pub const BIAS_MULTIPLY: BuiltinId = id("bias_multiply");
    pub const CONV2D: BuiltinId = id("conv2d");
    pub const CONV2D_BIAS_ADD: BuiltinId = id("_conv2d_bias_add");
    pub const MAX_POOL: BuiltinId = id("max_pool");
    pub const MAX_POOL_BACKWARD: BuiltinId = id("max_pool_backward");
    pub const AVG_POOL: BuiltinId = id("avg_pool");
    pub const AVG_POOL_BACKWARD: BuiltinId = id("avg_pool_backward");
    pub const CONV2D_BACKWARD_FILTER: BuiltinId = id("conv2d_backward_filter");
    pub const CONV2D_BACKWARD_DATA: BuiltinId = id("conv2d_backward_data");
    pub const RELU_MAX_POOL: BuiltinId = id("_relu_max_pool");
    pub const RELU_BACKWARD: BuiltinId = id("_relu_backward");
    pub const RELU_MAX_POOL_BACKWARD: BuiltinId = id("_relu_max_pool_backward");
    pub const RELU_MAX_POOL_ARGMAX: BuiltinId = id("_relu_max_pool_argmax");
    pub const MAX_POOL_BACKWARD_AT: BuiltinId = id("_max_pool_backward_at");
    pub const MATMUL_T: BuiltinId = id("_matmul_t");
    pub const AXPBY: BuiltinId = id("_axpby");
    pub const LSTM: BuiltinId = id("lstm");
    pub const LSTM_BACKWARD: BuiltinId = id("lstm_backward");
    pub const BATCH_NORM2D: BuiltinId = id("batch_norm2d");
    pub const BATCH_NORM2D_BACKWARD: BuiltinId = id("batch_norm2d_backward");
    pub const TRACE: BuiltinId = id("trace");
    pub const LINEAGE: BuiltinId = id("lineage");
    pub const AUTO_DIFF: BuiltinId = id("autoDiff");
    pub const READ: BuiltinId = id("read");
    pub const READ_MM: BuiltinId = id("readMM");
    pub const READ_CSV: BuiltinId = id("read.csv");
}

/// Finds a builtin by name (including aliases listed in the table).
pub fn lookup(name: &str) -> Option<BuiltinId> {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static INDEX: OnceLock<HashMap<&'static str, BuiltinId>> = OnceLock::new();
    let index = INDEX.get_or_init(|| {
        let mut m = HashMap::new();
        for (i, b) in BUILTINS.iter().enumerate() {
            m.insert(b.name, BuiltinId(i as u16));
        }
        for (alias, target) in table::ALIASES {
            if let Some(id) = m.get(target).copied() {
                m.insert(*alias, id);
            }
        }
        m
    });
    index.get(name).copied()
}
