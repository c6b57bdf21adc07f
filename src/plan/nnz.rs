//! Non-zero estimates: how many non-zeros every matrix operator of a DAG will produce, from the
//! counts of its inputs, with SystemDS's rules as the floor (`OptimizerUtils.getBinaryOpSparsity`,
//! `getMatMultSparsity`, the `refreshSizeInformation` of each HOP kind).
//!
//! The counts are upper bounds where SystemDS uses its worst case (cellwise operators, indexing,
//! binding) so a memory estimate never undercounts, and the average case for matrix products
//! (`1 - (1 - sp1*sp2)^k`), as SystemDS does, since the worst case of a product of two sparse
//! matrices is almost always dense. Exact counts come from literals (`rand`'s sparsity,
//! `matrix(0, ...)`, `seq`), from `read`'s `.mtd` file or Matrix Market header, and at dynamic
//! recompilation from the live values (`TypeInfo::of_value`), which also reach the blocks of
//! called functions since those are compiled with their actual arguments.
//!
//! Estimates never change a value: they pick the storage format and size the memory budget.

use crate::builtins::BuiltinId;
use crate::hops::{Dag, HopId, HopOp, Lit};
use crate::types::ops::{AggDir, AggOp, BinOp, DataGenOp, NaryOp, ReorgOp, UnOp};
use crate::types::type_info::{DType, TypeInfo};

/// Sets `ty.nnz` of every reachable matrix operator whose count can be estimated; a count already
/// known (a live input, a literal-built matrix) is kept when no rule applies.
pub fn estimate(dag: &mut Dag) {
    for id in dag.topo_order() {
        if let Some(((rows, cols), nnz)) = read_metadata(dag, id) {
            dag.get_mut(id).ty = TypeInfo::matrix_nnz(rows, cols, nnz);
            continue;
        }
        let ty = dag.get(id).ty;
        if ty.dt != DType::Matrix {
            continue;
        }
        if let Some(n) = estimate_one(dag, id) {
            let cells = ty.cells();
            let n = match cells {
                Some(c) => n.clamp(0.0, c),
                None => n.max(0.0),
            };
            dag.get_mut(id).ty.nnz = n.round() as i64;
        }
    }
}

/// The known non-zeros of an operand: a matrix's estimate, a numeric literal as one cell (zero
/// or not); `None` when unknown.
fn nnz_of(dag: &Dag, id: HopId) -> Option<f64> {
    let h = dag.get(id);
    match h.ty.dt {
        DType::Matrix if h.ty.nnz >= 0 => Some(h.ty.nnz as f64),
        DType::Matrix if h.ty.rows == 0 || h.ty.cols == 0 => Some(0.0),
        DType::Scalar => h.literal().and_then(Lit::as_f64).map(|v| if v == 0.0 { 0.0 } else { 1.0 }),
        _ => None,
    }
}

/// The fraction of non-zeros of a matrix operand, when its shape and count are known.
fn sparsity_of(dag: &Dag, id: HopId) -> Option<f64> {
    let h = dag.get(id);
    let cells = h.ty.cells()?;
    if h.ty.dt != DType::Matrix {
        return None;
    }
    let n = nnz_of(dag, id)?;
    Some(if cells > 0.0 { n / cells } else { 0.0 })
}

fn lit(dag: &Dag, id: HopId) -> Option<f64> {
    dag.get(id).literal().and_then(Lit::as_f64)
}

fn estimate_one(dag: &Dag, id: HopId) -> Option<f64> {
    let hop = dag.get(id);
    let cells = hop.ty.cells()?;
    let input = |i: usize| hop.inputs.get(i).copied();
    let nnz_in = |i: usize| input(i).and_then(|h| nnz_of(dag, h));
    match &hop.op {
        // A live value or a literal-built matrix: already exact.
        HopOp::Read(_) | HopOp::Literal(_) => None,
        HopOp::Write(_) => nnz_in(0),
        HopOp::DataGen(op) => datagen(dag, *op, &hop.inputs, cells),
        HopOp::Unary(op) => {
            let x = nnz_in(0)?;
            Some(match op {
                // !0 = 1 and !x = 0 for x != 0: exactly the complement.
                UnOp::Not => cells - x,
                op if op.zero_preserving() => x,
                _ => cells,
            })
        }
        HopOp::Binary(op) => binary(dag, *op, hop.inputs[0], hop.inputs[1], cells),
        // ifelse(c, a, b): at most a's non-zeros where c holds plus b's elsewhere.
        HopOp::Ternary => {
            let (a, b) = (nnz_in(1)?, nnz_in(2)?);
            let (ca, cb) = (cells_or_one(dag, hop.inputs[1]), cells_or_one(dag, hop.inputs[2]));
            Some(a / ca * cells + b / cb * cells)
        }
        HopOp::AggUnary(op, dir) => aggregate(*op, *dir, nnz_in(0)?, cells),
        HopOp::MatMul => {
            let (a, b) = (hop.inputs[0], hop.inputs[1]);
            let k = dag.get(a).ty.cols;
            product(sparsity_of(dag, a)?, sparsity_of(dag, b)?, k, cells)
        }
        HopOp::Tsmm { left } => {
            let x = dag.get(hop.inputs[0]);
            let k = if *left { x.ty.rows } else { x.ty.cols };
            let s = sparsity_of(dag, hop.inputs[0])?;
            product(s, s, k, cells)
        }
        HopOp::Reorg(ReorgOp::Transpose | ReorgOp::Rev) | HopOp::Reshape { .. } => nnz_in(0),
        HopOp::Reorg(ReorgOp::Diag) => {
            let x = nnz_in(0)?;
            // A vector becomes a diagonal matrix with its non-zeros; a matrix gives at most one
            // non-zero per row of its diagonal.
            Some(x.min(hop.ty.rows as f64))
        }
        // Right indexing: at most the input's non-zeros and the output's cells.
        HopOp::Index => nnz_in(0).map(|x| x.min(cells)),
        // Left indexing: the target's non-zeros plus the inserted ones, at most.
        HopOp::LeftIndex => Some(nnz_in(0)? + nnz_in(1).unwrap_or(cells)),
        HopOp::Nary(NaryOp::Cbind | NaryOp::Rbind) => {
            hop.inputs.iter().map(|&i| nnz_of(dag, i)).sum::<Option<f64>>()
        }
        HopOp::Nary(NaryOp::Min | NaryOp::Max) => Some(cells),
        HopOp::Cast(_) => Some(cells),
        HopOp::Builtin { id, .. } => builtin(dag, *id, &hop.inputs, &hop.ty, cells),
        _ => None,
    }
}

fn cells_or_one(dag: &Dag, id: HopId) -> f64 {
    dag.get(id).ty.cells().filter(|c| *c > 0.0).unwrap_or(1.0)
}

fn datagen(dag: &Dag, op: DataGenOp, inputs: &[HopId], cells: f64) -> Option<f64> {
    match op {
        // rand(rows, cols, min, max, sparsity, ...): SystemDS's `sparsity * rows * cols`, and
        // none when min = max = 0.
        DataGenOp::Rand => {
            if lit(dag, inputs[2]) == Some(0.0) && lit(dag, inputs[3]) == Some(0.0) {
                return Some(0.0);
            }
            lit(dag, inputs[4]).map(|sp| (sp.clamp(0.0, 1.0) * cells).floor())
        }
        // matrix(v, rows, cols): none or every cell.
        DataGenOp::Fill => lit(dag, inputs[0]).map(|v| if v == 0.0 { 0.0 } else { cells }),
        // seq(from, to, incr): every cell but the one that is exactly zero, if any.
        DataGenOp::Seq => {
            let from = lit(dag, inputs[0])?;
            let to = lit(dag, inputs[1]).unwrap_or(from);
            let incr = lit(dag, inputs[2]).unwrap_or(if from <= to { 1.0 } else { -1.0 });
            let steps = if incr != 0.0 { -from / incr } else { -1.0 };
            let hits_zero = from == 0.0 || (steps.fract() == 0.0 && steps >= 0.0 && steps < cells);
            Some(if hits_zero { cells - 1.0 } else { cells })
        }
    }
}

/// Cellwise binary operators, with a scalar or broadcast vector on either side.
fn binary(dag: &Dag, op: BinOp, a: HopId, b: HopId, cells: f64) -> Option<f64> {
    let (ta, tb) = (dag.get(a).ty, dag.get(b).ty);
    match (ta.dt, tb.dt) {
        (DType::Matrix, DType::Scalar) => scalar_side(op, nnz_of(dag, a)?, lit(dag, b), false, cells),
        (DType::Scalar, DType::Matrix) => scalar_side(op, nnz_of(dag, b)?, lit(dag, a), true, cells),
        (DType::Matrix, DType::Matrix) => {
            let (sa, sb) = (sparsity_of(dag, a)?, sparsity_of(dag, b)?);
            let sp = match op {
                // Zero wherever either side is zero.
                BinOp::Mul | BinOp::And | BinOp::BitwAnd => sa.min(sb),
                // Zero wherever both sides are zero (SystemDS's worst case: the sum).
                BinOp::Add
                | BinOp::Sub
                | BinOp::Or
                | BinOp::Xor
                | BinOp::Ne
                | BinOp::Min
                | BinOp::Max
                | BinOp::Lt
                | BinOp::Gt
                | BinOp::BitwOr
                | BinOp::BitwXor => (sa + sb).min(1.0),
                // 0 / 0 is NaN, 0 == 0 is 1, 0 ^ 0 is 1: dense.
                _ => 1.0,
            };
            Some(sp * cells)
        }
        _ => None,
    }
}

/// `X op s` (or `s op X` when `scalar_left`): the matrix's non-zeros when `0 op s` is exactly 0
/// for the known scalar, and every cell otherwise.
fn scalar_side(op: BinOp, x: f64, s: Option<f64>, scalar_left: bool, cells: f64) -> Option<f64> {
    let Some(s) = s else {
        // An unknown scalar: only product-like operators keep zeros whatever it is.
        return Some(if matches!(op, BinOp::Mul | BinOp::And) { x } else { cells });
    };
    let at_zero = if scalar_left { op.apply(s, 0.0) } else { op.apply(0.0, s) };
    Some(if at_zero == 0.0 {
        // Multiplying by zero (or and-ing with it) leaves nothing.
        if s == 0.0 && matches!(op, BinOp::Mul | BinOp::And | BinOp::BitwAnd) { 0.0 } else { x }
    } else {
        cells
    })
}

fn aggregate(op: AggOp, dir: AggDir, x: f64, cells: f64) -> Option<f64> {
    if dir == AggDir::All {
        return None;
    }
    Some(match op {
        // An all-zero row or column sums to zero; at most one non-zero per input non-zero.
        AggOp::Sum | AggOp::SumSq | AggOp::Mean => x.min(cells),
        _ => cells,
    })
}

/// SystemDS's average-case product estimate: a cell of the m x n output is zero when all `k`
/// products along the inner dimension are, `1 - (1 - sa*sb)^k`.
fn product(sa: f64, sb: f64, k: i64, cells: f64) -> Option<f64> {
    if k < 0 {
        return None;
    }
    if sa == 0.0 || sb == 0.0 {
        return Some(0.0);
    }
    let sp = 1.0 - (1.0 - sa * sb).powf(k as f64);
    Some((sp * cells).ceil())
}

fn builtin(dag: &Dag, id: BuiltinId, inputs: &[HopId], ty: &TypeInfo, cells: f64) -> Option<f64> {
    let nnz_in = |i: usize| inputs.get(i).and_then(|&h| nnz_of(dag, h));
    let rows_in = |i: usize| inputs.get(i).map(|&h| dag.get(h).ty).filter(|t| t.dims_known());
    match id.name() {
        // One increment per input row: at most as many non-zeros as rows of A (or B).
        "table" => {
            let a = rows_in(0).or_else(|| rows_in(1))?;
            Some((a.rows.max(a.cols) as f64).min(cells))
        }
        // Removing empty rows or columns keeps every non-zero.
        "removeEmpty" if ty.dt == DType::Matrix => nnz_in(0),
        // The triangle of the values (values=TRUE) keeps at most their non-zeros; the 0/1 mask
        // of the triangle is taken as dense.
        "lower.tri" | "upper.tri" => match inputs.get(2).and_then(|&h| dag.get(h).literal()) {
            Some(Lit::Bool(true)) => nnz_in(0),
            _ => Some(cells),
        },
        "bias_multiply" | "relu_backward" => nnz_in(0),
        "replace" => {
            // Replacing a non-zero pattern by zero can only remove non-zeros; replacing zero
            // fills every zero cell.
            let pattern = lit(dag, *inputs.get(1)?)?;
            let replacement = lit(dag, *inputs.get(2)?)?;
            if pattern != 0.0 && !pattern.is_nan() {
                let x = nnz_in(0)?;
                Some(if replacement == 0.0 { x } else { x.min(cells) })
            } else if replacement != 0.0 {
                Some(cells)
            } else {
                nnz_in(0)
            }
        }
        // Convolutions, pooling and the like: dense outputs, as SystemDS assumes.
        _ if ty.dt == DType::Matrix && ty.dims_known() => Some(cells),
        _ => None,
    }
}

/// Shape and non-zeros of `read(path)` of a matrix, from its `.mtd` file or its Matrix Market
/// header, when the path is a literal and the read's type is not otherwise known:
/// `Some(((rows, cols), nnz))`.
fn read_metadata(dag: &Dag, id: HopId) -> Option<((i64, i64), i64)> {
    let hop = dag.get(id);
    let HopOp::Builtin { id: b, .. } = hop.op else { return None };
    if b.name() != "read" || hop.ty.dt == DType::Frame || hop.ty.dims_known() {
        return None;
    }
    let arg = |i: usize| hop.inputs.get(i).map(|&h| dag.get(h).literal());
    if let Some(Some(Lit::Str(dt))) = arg(10)
        && !dt.eq_ignore_ascii_case("matrix")
    {
        return None;
    }
    let Some(Some(Lit::Str(path))) = arg(0) else { return None };
    let num = |i: usize| match arg(i) {
        Some(Some(l)) => l.as_f64().map(|v| v as i64),
        _ => None,
    };
    let (rows, cols, nnz) = match (num(7), num(8)) {
        (Some(r), Some(c)) => (r, c, num(9).unwrap_or(-1)),
        _ => metadata_of_file(path)?,
    };
    (rows >= 0 && cols >= 0).then_some(((rows, cols), nnz))
}

/// `(rows, cols, nnz)` from `path.mtd` (SystemDS's JSON metadata) or a Matrix Market header.
pub fn metadata_of_file(path: &str) -> Option<(i64, i64, i64)> {
    if let Ok(text) = std::fs::read_to_string(format!("{path}.mtd")) {
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        if json.get("data_type").and_then(|d| d.as_str()).is_some_and(|d| d != "matrix") {
            return None;
        }
        let field = |k: &str| json.get(k).and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)));
        return Some((field("rows")?, field("cols")?, field("nnz").unwrap_or(-1)));
    }
    mm_header(path)
}

/// The size line of a Matrix Market file: `rows cols nnz` for coordinate files (each entry may
/// mirror into two cells when the matrix is symmetric), `rows cols` for array files.
fn mm_header(path: &str) -> Option<(i64, i64, i64)> {
    use std::io::{BufRead, BufReader};
    let file = std::fs::File::open(path).ok()?;
    let mut lines = BufReader::new(file).lines();
    let banner = lines.next()?.ok()?;
    if !banner.starts_with("%%MatrixMarket") {
        return None;
    }
    let lower = banner.to_lowercase();
    let symmetric = !lower.contains("general");
    for line in lines {
        let line = line.ok()?;
        let t = line.trim();
        if t.is_empty() || t.starts_with('%') {
            continue;
        }
        let nums: Vec<i64> = t.split_whitespace().filter_map(|w| w.parse().ok()).collect();
        return match (lower.contains("coordinate"), nums.as_slice()) {
            (true, [r, c, n, ..]) => Some((*r, *c, if symmetric { (2 * n).min(r * c) } else { *n })),
            (false, [r, c, ..]) => Some((*r, *c, -1)),
            _ => None,
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_case_product_matches_systemds_formula() {
        // 1000 x 1000 at 1% times 1000 x 1000 at 1%: 1 - (1 - 1e-4)^1000 = 0.0951671 of the
        // million cells, rounded up.
        let n = product(0.01, 0.01, 1000, 1e6).expect("known");
        assert_eq!(n, 95_168.0);
        assert_eq!(product(0.0, 0.5, 10, 100.0), Some(0.0));
    }

    #[test]
    fn scalar_operands_keep_zeros_only_when_the_operator_does() {
        // X * 2, X / 2, X > 0 keep the 10 non-zeros; X + 1, X / 0 (NaN at zeros), X < 1 fill.
        assert_eq!(scalar_side(BinOp::Mul, 10.0, Some(2.0), false, 100.0), Some(10.0));
        assert_eq!(scalar_side(BinOp::Mul, 10.0, Some(0.0), false, 100.0), Some(0.0));
        assert_eq!(scalar_side(BinOp::Div, 10.0, Some(2.0), false, 100.0), Some(10.0));
        assert_eq!(scalar_side(BinOp::Div, 10.0, Some(0.0), false, 100.0), Some(100.0));
        assert_eq!(scalar_side(BinOp::Gt, 10.0, Some(0.0), false, 100.0), Some(10.0));
        assert_eq!(scalar_side(BinOp::Lt, 10.0, Some(1.0), false, 100.0), Some(100.0));
        assert_eq!(scalar_side(BinOp::Add, 10.0, Some(1.0), false, 100.0), Some(100.0));
        // 2 / X is infinite at zeros; 0 - X keeps them.
        assert_eq!(scalar_side(BinOp::Div, 10.0, Some(2.0), true, 100.0), Some(100.0));
        assert_eq!(scalar_side(BinOp::Sub, 10.0, Some(0.0), true, 100.0), Some(10.0));
        assert_eq!(scalar_side(BinOp::Mul, 10.0, None, false, 100.0), Some(10.0));
        assert_eq!(scalar_side(BinOp::Add, 10.0, None, false, 100.0), Some(100.0));
    }
}
