//! Selection and reorganization kernels with SystemDS-specific semantics: `table` (ctable),
//! `order`, `removeEmpty`, `replace`, `lower.tri`/`upper.tri`.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::{KResult, KernelError};
use crate::kernels::build::from_cells;
use crate::types::matrix::Matrix;

/// An operand of `table`: a scalar broadcast to every cell, or a matrix read cell by cell.
#[derive(Clone, Copy, Debug)]
pub enum TableArg<'a> {
    Scalar(f64),
    Vector(&'a Matrix),
}

impl TableArg<'_> {
    fn len(&self) -> Option<usize> {
        match self {
            TableArg::Scalar(_) => None,
            TableArg::Vector(m) => Some(m.len()),
        }
    }

    /// The `i`-th cell in row-major order.
    fn at(&self, i: usize) -> f64 {
        match self {
            TableArg::Scalar(v) => *v,
            TableArg::Vector(m) => {
                let c = m.cols();
                m.get(i / c, i % c)
            }
        }
    }
}

/// Converts a category value to a 1-based index as SystemDS does: truncation toward zero,
/// and anything below 1 is an error (checked with sysds: 0, -1 and 0.5 are all rejected).
fn category(a: f64, b: f64) -> KResult<(usize, usize)> {
    let (ia, ib) = (a.trunc(), b.trunc());
    if ia < 1.0 || ib < 1.0 {
        return Err(KernelError::new(format!(
            "Erroneous input while computing the contingency table (one of the value <= zero): {a} {b}"
        )));
    }
    Ok((ia as usize, ib as usize))
}

/// Contingency table: `F[i, j] = sum of w over cells where a = i and b = j`.
///
/// Semantics checked with sysds 3.4.0: categories are truncated to integers; a NaN category skips
/// the cell; a category below 1 is an error; the output is `max(a) x max(b)` unless `dims` is
/// given, in which case cells beyond `dims` are dropped; zero weights still widen the output.
pub fn table(a: TableArg, b: TableArg, w: TableArg, dims: Option<(usize, usize)>) -> KResult<Matrix> {
    let lens: Vec<usize> = [a.len(), b.len(), w.len()].into_iter().flatten().collect();
    let n = lens.first().copied().unwrap_or(1);
    if lens.iter().any(|l| *l != n) {
        return Err(KernelError::new(format!(
            "table: inputs must have the same number of cells, found {lens:?}"
        )));
    }
    let mut sums: HashMap<(usize, usize), f64> = HashMap::new();
    let (mut max_a, mut max_b) = (0usize, 0usize);
    for i in 0..n {
        let (va, vb) = (a.at(i), b.at(i));
        if va.is_nan() || vb.is_nan() {
            continue;
        }
        let (ia, ib) = category(va, vb)?;
        if let Some((r, c)) = dims
            && (ia > r || ib > c)
        {
            continue;
        }
        max_a = max_a.max(ia);
        max_b = max_b.max(ib);
        *sums.entry((ia - 1, ib - 1)).or_insert(0.0) += w.at(i);
    }
    let (rows, cols) = dims.unwrap_or((max_a, max_b));
    let cells = sums.into_iter().map(|((r, c), v)| (r, c, v)).collect();
    Ok(from_cells(rows, cols, cells))
}

/// Compares two sort keys with NaN after every number (R's `na.last = TRUE`).
///
/// SystemDS 3.4.0 has no consistent NaN order (its sort gives position-dependent results, seen
/// with sysds), so we follow R.
fn cmp_nan_last(x: f64, y: f64) -> Ordering {
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
    }
}

/// Stable sort of the rows of `x` by the 1-based columns `by` (the first is the primary key).
///
/// Ties keep their input order in both directions (checked with sysds for `decreasing=TRUE`);
/// NaN sorts last in both directions. Returns the sorted rows, or the 1-based row indexes as a
/// column vector when `index_return`.
pub fn order(x: &Matrix, by: &[usize], decreasing: bool, index_return: bool) -> KResult<Matrix> {
    if by.is_empty() {
        return Err(KernelError::new("order: `by` must name at least one column"));
    }
    if let Some(bad) = by.iter().find(|c| **c == 0 || **c > x.cols()) {
        return Err(KernelError::new(format!("order: column {bad} is outside 1..{}", x.cols())));
    }
    let keys: Vec<Vec<f64>> = by.iter().map(|c| (0..x.rows()).map(|r| x.get(r, c - 1)).collect()).collect();
    let mut idx: Vec<usize> = (0..x.rows()).collect();
    idx.sort_by(|&i, &j| {
        for k in &keys {
            let (a, b) = (k[i], k[j]);
            let o = match (a.is_nan() || b.is_nan(), decreasing) {
                (false, true) => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
                _ => cmp_nan_last(a, b),
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    if index_return {
        return Ok(Matrix::from_vec(idx.len(), 1, idx.iter().map(|i| (*i + 1) as f64).collect()));
    }
    Ok(gather_rows(x, &idx))
}

/// The rows of `x` at `idx`, in that order. A sparse `x` gives a CSR result built from its
/// stored cells (no dense buffer of the output's size), dense a dense one.
fn gather_rows(x: &Matrix, idx: &[usize]) -> Matrix {
    let cols = x.cols();
    if x.is_sparse() {
        let csr = x.csr();
        let mut indptr = Vec::with_capacity(idx.len() + 1);
        indptr.push(0);
        let (mut indices, mut data) = (Vec::new(), Vec::new());
        for &r in idx {
            if let Some(row) = csr.outer_view(r) {
                indices.extend_from_slice(row.indices());
                data.extend_from_slice(row.data());
            }
            indptr.push(indices.len());
        }
        return Matrix::from_csr_parts(idx.len(), cols, indptr, indices, data).examine_format();
    }
    let mut data = Vec::with_capacity(idx.len() * cols);
    for &r in idx {
        data.extend((0..cols).map(|c| x.get(r, c)));
    }
    Matrix::from_vec(idx.len(), cols, data).examine_format()
}

/// The columns of `x` at `idx`, in that order; CSR from the stored cells for a sparse `x`.
fn gather_cols(x: &Matrix, idx: &[usize]) -> Matrix {
    let rows = x.rows();
    if x.is_sparse() {
        // New position of every kept column (each kept once, as removeEmpty keeps them).
        let mut pos = vec![usize::MAX; x.cols()];
        for (k, &c) in idx.iter().enumerate() {
            pos[c] = k;
        }
        let csr = x.csr();
        let mut indptr = Vec::with_capacity(rows + 1);
        indptr.push(0);
        let (mut indices, mut data) = (Vec::new(), Vec::new());
        let mut row_cells: Vec<(usize, f64)> = Vec::new();
        for row in csr.outer_iterator() {
            row_cells.clear();
            row_cells.extend(row.iter().filter(|(c, _)| pos[*c] != usize::MAX).map(|(c, v)| (pos[c], *v)));
            row_cells.sort_unstable_by_key(|e| e.0);
            indices.extend(row_cells.iter().map(|e| e.0));
            data.extend(row_cells.iter().map(|e| e.1));
            indptr.push(indices.len());
        }
        return Matrix::from_csr_parts(rows, idx.len(), indptr, indices, data).examine_format();
    }
    let mut data = Vec::with_capacity(idx.len() * rows);
    for r in 0..rows {
        data.extend(idx.iter().map(|&c| x.get(r, c)));
    }
    Matrix::from_vec(rows, idx.len(), data).examine_format()
}

/// The positions (of `n`) that removeEmpty's `select` vector marks with a non-zero value.
pub fn selected(select: &Matrix, n: usize) -> KResult<Vec<usize>> {
    if select.len() != n || (select.rows() != 1 && select.cols() != 1) {
        return Err(KernelError::new(format!(
            "removeEmpty: select must be a vector of {n} cells, found {}x{}",
            select.rows(),
            select.cols()
        )));
    }
    let sc = select.cols();
    Ok((0..n).filter(|i| select.get(i / sc, i % sc) != 0.0).collect())
}

/// Drops empty rows (or columns), or keeps those where `select` is non-zero.
///
/// Checked with sysds: NaN makes a row non-empty; without `select`, an all-empty input gives one
/// zero row (column) when `empty_return`, else zero rows (columns); with a `select` that keeps
/// nothing the result has zero rows (columns) whatever `empty_return` says.
pub fn remove_empty(
    x: &Matrix,
    rows_margin: bool,
    select: Option<&Matrix>,
    empty_return: bool,
) -> KResult<Matrix> {
    let n = if rows_margin { x.rows() } else { x.cols() };
    let keep: Vec<usize> = match select {
        Some(s) => selected(s, n)?,
        None => {
            let mut nonempty = vec![false; n];
            crate::kernels::build::for_each_nonzero(x, |r, c, _| {
                nonempty[if rows_margin { r } else { c }] = true
            });
            let kept: Vec<usize> = (0..n).filter(|i| nonempty[*i]).collect();
            if kept.is_empty() && empty_return {
                return Ok(if rows_margin { Matrix::zeros(1, x.cols()) } else { Matrix::zeros(x.rows(), 1) });
            }
            kept
        }
    };
    Ok(if rows_margin { gather_rows(x, &keep) } else { gather_cols(x, &keep) })
}

/// Replaces every cell equal to `pattern` (NaN matches NaN) by `replacement`.
pub fn replace(x: &Matrix, pattern: f64, replacement: f64) -> Matrix {
    let hit = |v: f64| if pattern.is_nan() { v.is_nan() } else { v == pattern };
    match x {
        // Zeros are implicit, so a non-zero pattern only touches stored values.
        Matrix::Sparse(s) if pattern != 0.0 => {
            Matrix::Sparse(s.map(|v| if hit(*v) { replacement } else { *v })).examine_format()
        }
        _ => Matrix::Dense(x.to_dense().mapv(|v| if hit(v) { replacement } else { v })).examine_format(),
    }
}

/// Lower triangle: cells below the diagonal (and on it when `diag`), as values or as 1s.
pub fn lower_tri(x: &Matrix, diag: bool, values: bool) -> KResult<Matrix> {
    triangle(x, diag, values, |r, c| c < r || (diag && c == r))
}

/// Upper triangle: cells above the diagonal (and on it when `diag`), as values or as 1s.
pub fn upper_tri(x: &Matrix, diag: bool, values: bool) -> KResult<Matrix> {
    triangle(x, diag, values, |r, c| c > r || (diag && c == r))
}

fn triangle(x: &Matrix, _diag: bool, values: bool, inside: impl Fn(usize, usize) -> bool) -> KResult<Matrix> {
    let (rows, cols) = (x.rows(), x.cols());
    let mut data = vec![0.0; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            if inside(r, c) {
                data[r * cols + c] = if values { x.get(r, c) } else { 1.0 };
            }
        }
    }
    Ok(Matrix::from_vec(rows, cols, data).examine_format())
}
