//! Text form of a DAG for `--explain hops` and the rewrite snapshot tests: one operator per line,
//! inputs before users, each with its output type, shape, memory estimate and backend.

pub mod dot;

use super::{Dag, HopOp};
use crate::types::type_info::DType;

/// Short operator name, in the spirit of SystemDS's explain output.
pub fn op_label(op: &HopOp, var_name: &dyn Fn(u32) -> String, func_name: &dyn Fn(u32) -> String) -> String {
    match op {
        HopOp::Literal(l) => format!("lit {l}"),
        HopOp::Read(v) => format!("read {}", var_name(*v)),
        HopOp::Write(v) => format!("write {}", var_name(*v)),
        HopOp::Unary(u) => format!("u({})", u.name()),
        HopOp::Binary(b) => format!("b({})", b.name()),
        HopOp::Ternary => "t(ifelse)".into(),
        HopOp::AggUnary(op, dir) => format!("ua({:?}{:?})", dir, op).to_lowercase(),
        HopOp::MatMul => "ba(%*%)".into(),
        HopOp::Tsmm { left } => {
            if *left {
                "tsmm(t(X)%*%X)".into()
            } else {
                "tsmm(X%*%t(X))".into()
            }
        }
        HopOp::Reorg(r) => format!("r({r:?})").to_lowercase(),
        HopOp::Reshape { byrow } => format!("r(reshape, byrow={byrow})"),
        HopOp::Index => "rix".into(),
        HopOp::ListIndex => "lix".into(),
        HopOp::LeftIndex => "lix=".into(),
        HopOp::Nary(n) => format!("n({n:?})").to_lowercase(),
        HopOp::Cast(c) => format!("cast({c:?})").to_lowercase(),
        HopOp::DataGen(d) => format!("dg({d:?})").to_lowercase(),
        HopOp::Builtin { id, .. } => format!("f({})", id.name()),
        HopOp::MakeList(_) => "list".into(),
        HopOp::Call { func, .. } => format!("call {}", func_name(*func)),
        HopOp::Extract(i) => format!("out[{i}]"),
        HopOp::Effect(e) => format!("{e:?}").to_lowercase(),
        HopOp::Fused(body) => body.to_string(),
    }
}

fn dim(d: i64) -> String {
    if d < 0 { "?".into() } else { d.to_string() }
}

/// Renders every reachable operator of `dag`. Ids are renumbered densely in topological order so
/// that the text does not depend on how many nodes rewrites left unreachable in the arena.
/// Literal inputs are shown inline by value rather than as nodes of their own.
pub fn explain_dag(dag: &Dag, var_name: &dyn Fn(u32) -> String, func_name: &dyn Fn(u32) -> String) -> String {
    let order: Vec<_> =
        dag.topo_order().into_iter().filter(|&id| !matches!(dag.get(id).op, HopOp::Literal(_))).collect();
    let mut number = vec![0usize; dag.hops.len()];
    for (i, id) in order.iter().enumerate() {
        number[id.index()] = i + 1;
    }
    let mut out = String::new();
    for id in order {
        let h = dag.get(id);
        let inputs: Vec<String> = h
            .inputs
            .iter()
            .map(|&i| match &dag.get(i).op {
                HopOp::Literal(l) => l.to_string(),
                _ => format!("#{}", number[i.index()]),
            })
            .collect();
        let shape = match h.ty.dt {
            DType::Matrix | DType::Frame => {
                let nnz = if h.ty.nnz >= 0 { format!(", nnz={}", h.ty.nnz) } else { String::new() };
                format!(
                    " [{}x{}{nnz}, {}, {}]",
                    dim(h.ty.rows),
                    dim(h.ty.cols),
                    format_bytes(h.mem),
                    h.backend
                )
            }
            // Scalars name their backend only when it is the GPU (an aggregate run there).
            DType::Scalar if h.backend == crate::types::Backend::Gpu => format!(" [{} scalar, GPU]", h.ty.vt),
            DType::Scalar => format!(" [{} scalar]", h.ty.vt),
            DType::List => " [list]".into(),
            DType::Unknown => String::new(),
        };
        let ins = if inputs.is_empty() { String::new() } else { format!(" ({})", inputs.join(",")) };
        out.push_str(&format!(
            "({}) {}{}{}\n",
            number[id.index()],
            op_label(&h.op, var_name, func_name),
            ins,
            shape
        ));
    }
    out
}

/// Human form of a byte count for messages.
pub fn format_bytes(b: f64) -> String {
    if !b.is_finite() {
        return "unknown".into();
    }
    const UNITS: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut v = b;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{v:.0} {}", UNITS[u]) } else { format!("{v:.1} {}", UNITS[u]) }
}
