//! The HOP IR: one DAG of high-level operators per basic block, kept in an arena.
//!
//! Nodes live in a `Vec<Hop>` and refer to their inputs by [`HopId`], so several parents can share
//! a node (common subexpressions) without reference counting, and rewrites replace a node by
//! redirecting its parents. Every node carries its output type and shape ([`TypeInfo`]), a memory
//! estimate and the backend chosen for it; `explain` prints all of that.

pub mod explain;
pub mod fused;

use crate::builtins::BuiltinId;
use crate::syntax::ast::Span;
use crate::types::Backend;
use crate::types::ops::{AggDir, AggOp, BinOp, CastOp, DataGenOp, EffectOp, NaryOp, ReorgOp, UnOp};
use crate::types::type_info::TypeInfo;
use std::fmt;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HopId(pub u32);

impl HopId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A variable slot in the frame of the program or function the block belongs to.
pub type VarId = u32;

/// A user function, by index into the program's function table.
pub type FuncId = u32;

/// A scalar constant.
#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    Int(i64),
    Double(f64),
    Bool(bool),
    Str(String),
    /// An optional argument that was not given.
    Absent,
}

impl Lit {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Lit::Int(i) => Some(*i as f64),
            Lit::Double(d) => Some(*d),
            Lit::Bool(b) => Some(*b as i64 as f64),
            _ => None,
        }
    }
}

impl fmt::Display for Lit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lit::Int(i) => write!(f, "{i}"),
            Lit::Double(d) => f.write_str(&crate::kernels::format::format_double(*d)),
            Lit::Bool(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
            Lit::Str(s) => write!(f, "{s:?}"),
            Lit::Absent => f.write_str("<absent>"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum HopOp {
    Literal(Lit),
    /// Transient read of a variable that is live into the block.
    Read(VarId),
    /// Transient write of a variable that is live out of the block (a root).
    Write(VarId),
    Unary(UnOp),
    Binary(BinOp),
    /// `ifelse(c, a, b)`
    Ternary,
    AggUnary(AggOp, AggDir),
    MatMul,
    /// `t(X) %*% X` (left) or `X %*% t(X)`, computed from one input.
    Tsmm {
        left: bool,
    },
    Reorg(ReorgOp),
    /// `matrix(X, rows, cols, byrow)`: inputs X, rows, cols.
    Reshape {
        byrow: bool,
    },
    /// Right indexing: inputs X, row_lo, row_hi, col_lo, col_hi (1-based, inclusive; `Absent` = open).
    Index,
    /// List element access by one position or name: inputs L, key.
    ListIndex,
    /// Left indexing: inputs X, Y, row_lo, row_hi, col_lo, col_hi.
    LeftIndex,
    Nary(NaryOp),
    Cast(CastOp),
    DataGen(DataGenOp),
    /// A library builtin evaluated by the runtime with its arguments in parameter order.
    Builtin {
        id: BuiltinId,
        nout: u8,
    },
    /// `list(a, b)` or `list(x=a, y=b)`: the names, empty for an unnamed list.
    MakeList(Vec<String>),
    /// A call of a user-defined function (several outputs, read with `Extract`).
    Call {
        func: FuncId,
        nout: u8,
    },
    /// Output `i` of a multi-output operator (its only input).
    Extract(u8),
    Effect(EffectOp),
    /// A generated fused operator (`rewrite/fuse_*.rs`): its body; several outputs (MultiAgg)
    /// are read with `Extract`.
    Fused(Arc<fused::FusedBody>),
}

/// One operator of the DAG.
#[derive(Clone, Debug)]
pub struct Hop {
    pub op: HopOp,
    pub inputs: Vec<HopId>,
    pub ty: TypeInfo,
    /// Output memory estimate in bytes (`f64::INFINITY` when the size is unknown).
    pub mem: f64,
    pub backend: Backend,
    pub span: Span,
}

impl Hop {
    pub fn literal(&self) -> Option<&Lit> {
        match &self.op {
            HopOp::Literal(l) => Some(l),
            _ => None,
        }
    }

    /// Whether the operator has an effect beyond its value (and so must not be removed or merged).
    pub fn has_side_effect(&self) -> bool {
        match &self.op {
            HopOp::Write(_) | HopOp::Effect(_) | HopOp::Call { .. } => true,
            HopOp::Builtin { id, .. } => id.spec().side_effect,
            HopOp::DataGen(DataGenOp::Rand) => true,
            _ => false,
        }
    }
}

/// The DAG of one basic block. `roots` are the side-effecting operators and transient writes, in
/// statement order; lowering emits them in this order.
#[derive(Clone, Debug, Default)]
pub struct Dag {
    pub hops: Vec<Hop>,
    pub roots: Vec<HopId>,
}

impl Dag {
    pub fn add(&mut self, hop: Hop) -> HopId {
        let id = HopId(self.hops.len() as u32);
        self.hops.push(hop);
        id
    }

    pub fn get(&self, id: HopId) -> &Hop {
        &self.hops[id.index()]
    }

    pub fn get_mut(&mut self, id: HopId) -> &mut Hop {
        &mut self.hops[id.index()]
    }

    pub fn input(&self, id: HopId, i: usize) -> &Hop {
        self.get(self.get(id).inputs[i])
    }

    /// Nodes reachable from the roots, inputs before their users.
    pub fn topo_order(&self) -> Vec<HopId> {
        let mut seen = vec![false; self.hops.len()];
        let mut order = Vec::with_capacity(self.hops.len());
        for &root in &self.roots {
            let mut stack: Vec<(HopId, usize)> = vec![(root, 0)];
            while let Some((id, next)) = stack.pop() {
                if seen[id.index()] && next == 0 {
                    continue;
                }
                let inputs = &self.hops[id.index()].inputs;
                if next < inputs.len() {
                    stack.push((id, next + 1));
                    let child = inputs[next];
                    if !seen[child.index()] {
                        stack.push((child, 0));
                    }
                } else if !seen[id.index()] {
                    seen[id.index()] = true;
                    order.push(id);
                }
            }
        }
        order
    }

    /// Number of users of every node among the reachable ones.
    pub fn use_counts(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.hops.len()];
        for id in self.topo_order() {
            for &i in &self.hops[id.index()].inputs {
                counts[i.index()] += 1;
            }
        }
        counts
    }

    /// Redirects every use of `old` (inputs and roots) to `new`.
    pub fn replace_uses(&mut self, old: HopId, new: HopId) {
        if old == new {
            return;
        }
        for hop in &mut self.hops {
            for input in &mut hop.inputs {
                if *input == old {
                    *input = new;
                }
            }
        }
        for root in &mut self.roots {
            if *root == old {
                *root = new;
            }
        }
    }
}
