//! Physical planning: a memory estimate for every operator, the backend that runs it, and the
//! memory budget that refuses an operator before it starts rather than letting the process be
//! killed for running out of memory.
//!
//! As in SystemDS, an output is estimated sparse (about 12 bytes per non-zero plus row pointers)
//! when its sparsity is below 0.4 and that is smaller than dense (8 bytes a cell); an operator's
//! estimate is its inputs plus its output. The GPU backend exists in the types in every build but
//! is chosen only once a GPU backend is compiled in and its budget fits.
//!
//! The non-zero counts behind the estimates come from [`nnz`]; the format picked here travels
//! with the lowered instruction ([`planned_format`]) so the kernels that build a new matrix build
//! it directly in that format, and an operator is refused only when it does not fit in its best
//! format.

pub mod gpu;
pub mod nnz;

use crate::diagnostics::Diagnostic;
use crate::hops::explain::format_bytes;
use crate::hops::{Dag, Hop, HopOp};
use crate::types::Backend;
use crate::types::backend::Format;
use crate::types::matrix::{SPARSITY_TURN_POINT, estimate_dense_bytes, estimate_sparse_bytes};
use crate::types::ops::DataGenOp;
use crate::types::type_info::{DType, TypeInfo};

/// Whether this build can run operators on a GPU (the `gpu` feature); whether a device is
/// there is [`crate::gpu::probe`]'s answer.
pub fn gpu_available() -> bool {
    crate::gpu::compiled()
}

/// Memory available to one operator.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub bytes: f64,
}

impl Budget {
    /// 70% of physical memory, as SystemDS uses 70% of the JVM heap; `DML_MEMORY_BUDGET`
    /// (bytes, or with a K/M/G suffix) overrides it.
    pub fn from_env() -> Budget {
        if let Ok(v) = std::env::var("DML_MEMORY_BUDGET")
            && let Some(b) = parse_bytes(&v)
        {
            return Budget { bytes: b };
        }
        Budget { bytes: 0.7 * physical_memory() }
    }
}

pub fn parse_bytes(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1024.0),
        'm' | 'M' => (&s[..s.len() - 1], 1024.0 * 1024.0),
        'g' | 'G' => (&s[..s.len() - 1], 1024.0 * 1024.0 * 1024.0),
        _ => (s, 1.0),
    };
    num.trim().parse::<f64>().ok().map(|v| v * mult).filter(|v| *v > 0.0)
}

fn physical_memory() -> f64 {
    if let Ok(text) = std::fs::read_to_string("/proc/meminfo") {
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("MemTotal:")
                && let Some(kb) = rest.split_whitespace().next().and_then(|v| v.parse::<f64>().ok())
            {
                return kb * 1024.0;
            }
        }
    }
    8.0 * 1024.0 * 1024.0 * 1024.0
}

/// Bytes of a value of this type: sparse or dense as SystemDS would store it, 8 for a scalar,
/// infinity when the shape is unknown.
pub fn output_estimate(ty: &TypeInfo) -> f64 {
    match ty.dt {
        DType::Scalar => 8.0,
        DType::Matrix => match ty.cells() {
            None => f64::INFINITY,
            Some(cells) => {
                let dense = estimate_dense_bytes(ty.rows as usize, ty.cols as usize);
                if ty.nnz >= 0 && ty.cols > 1 && cells > 0.0 {
                    let sparsity = ty.nnz as f64 / cells;
                    let sparse = estimate_sparse_bytes(ty.rows as usize, ty.nnz as usize);
                    if sparsity < SPARSITY_TURN_POINT && sparse < dense {
                        return sparse;
                    }
                }
                dense
            }
        },
        DType::Frame => ty.cells().map(|c| 16.0 * c).unwrap_or(f64::INFINITY),
        _ => 64.0,
    }
}

/// Whether the output of an operator is best stored sparse.
fn prefers_sparse(ty: &TypeInfo) -> bool {
    match (ty.dt, ty.cells()) {
        (DType::Matrix, Some(cells)) if ty.nnz >= 0 && ty.cols > 1 && cells > 0.0 => {
            let sparsity = ty.nnz as f64 / cells;
            sparsity < SPARSITY_TURN_POINT
                && estimate_sparse_bytes(ty.rows as usize, ty.nnz as usize)
                    < estimate_dense_bytes(ty.rows as usize, ty.cols as usize)
        }
        _ => false,
    }
}

/// An all-zero `matrix(0, ...)` of at most this many cells is planned dense although sparse is
/// smaller: such matrices are almost always filled by left indexing next, which is fastest on
/// dense storage (the runtime made the same choice before the planner did).
const DENSE_ZEROS_MAX_CELLS: f64 = 4.0e6;

/// The output format the planner picked for an operator: `None` when it could not know (unknown
/// shape or non-zeros, or not a matrix), and the kernel decides from the data.
pub fn planned_format(hop: &Hop) -> Option<Format> {
    let ty = &hop.ty;
    if ty.dt != DType::Matrix || !ty.dims_known() || ty.nnz < 0 {
        return None;
    }
    if matches!(hop.op, HopOp::DataGen(DataGenOp::Fill)) && ty.nnz == 0 {
        let big = ty.cells().is_some_and(|c| c > DENSE_ZEROS_MAX_CELLS) && ty.cols > 1;
        return Some(if big { Format::Sparse } else { Format::Dense });
    }
    Some(if prefers_sparse(ty) { Format::Sparse } else { Format::Dense })
}

/// Bytes of an operator's output in the format the planner picked for it.
fn planned_estimate(hop: &Hop) -> f64 {
    match planned_format(hop) {
        Some(Format::Dense) => estimate_dense_bytes(hop.ty.rows as usize, hop.ty.cols as usize),
        _ => output_estimate(&hop.ty),
    }
}

/// Estimates the non-zeros of every operator, then sets its memory estimate and backend; refuses
/// an operator whose known estimate, in its best format, exceeds the budget.
pub fn assign(dag: &mut Dag, budget: Budget) -> Result<(), Diagnostic> {
    nnz::estimate(dag);
    assign_estimated(dag, budget)
}

/// [`assign`] for a DAG whose non-zeros [`nnz::estimate`] has already set (the block compiler
/// estimates before the fusion rules, which choose templates from the estimates; estimating
/// twice would lose the counts a `read` took from its metadata file).
pub fn assign_estimated(dag: &mut Dag, budget: Budget) -> Result<(), Diagnostic> {
    for id in dag.topo_order() {
        let out = planned_estimate(dag.get(id));
        let inputs: f64 = dag
            .get(id)
            .inputs
            .iter()
            .map(|&i| {
                let m = dag.get(i).mem;
                if m.is_finite() { m } else { 0.0 }
            })
            .sum();
        let is_data = matches!(
            dag.get(id).op,
            HopOp::Read(_) | HopOp::Write(_) | HopOp::Literal(_) | HopOp::Extract(_)
        );
        let total = if is_data { out } else { out + inputs };
        let hop = dag.get_mut(id);
        hop.mem = out;
        hop.backend = match planned_format(hop) {
            Some(Format::Sparse) => Backend::CpuSparse,
            _ => Backend::CpuDense,
        };
        if total.is_finite() && total > budget.bytes && !is_data {
            return Err(memory_error(total, budget, hop.span));
        }
    }
    Ok(())
}

pub fn memory_error(estimate: f64, budget: Budget, span: crate::syntax::ast::Span) -> Diagnostic {
    Diagnostic::error(format!(
        "this operation needs an estimated {} of memory, more than the budget of {}",
        format_bytes(estimate),
        format_bytes(budget.bytes)
    ))
    .with_primary(span, format!("needs about {}", format_bytes(estimate)))
    .with_note("the budget is 70% of physical memory; set DML_MEMORY_BUDGET (e.g. 64G) to change it")
}
