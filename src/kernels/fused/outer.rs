//! The outer-product template, driven by the non-zeros of a sparse matrix `W`:
//! `sum(W * f(X, U %*% t(V)))` and `W * f(U %*% t(V), ...)` compute `U[i,] . V[j,]` only where
//! `W[i, j]` is non-zero, in chunks of non-zeros: the inputs at those cells are gathered into
//! registers and the body's steps run over them as in the dense path.
//!
//! The unfused `W * M` with a sparse `W` also visits only `W`'s non-zeros, provided `M` is
//! finite (otherwise `0 * NaN` must give NaN): the fast path runs only when every input is
//! finite, and it sums the non-zero products in row-major order with the same Kahan
//! compensation. The dot products are summed in index order; the unfused product's blocked
//! kernel may round them differently in the last bits.

use super::agg::Running;
use super::{Arg, CHUNK, Out, loops};
use crate::kernels::KResult;
use crate::types::fused::{FStep, FusedBody, FusedOut};
use crate::types::matrix::Matrix;
use crate::types::ops::{AggDir, AggOp, BinOp};

/// `None` when the fast path does not apply (dense `W`, non-finite inputs, shapes).
pub fn run(body: &FusedBody, args: &[Arg]) -> KResult<Option<Vec<Out>>> {
    let Some(driver) = body.driver else { return Ok(None) };
    let Some(Arg::Matrix(w)) = args.get(driver as usize) else { return Ok(None) };
    let Matrix::Sparse(_) = w else { return Ok(None) };
    if body.outputs.len() != 1 || !sparse_safe(body, driver) {
        return Ok(None);
    }
    let (rows, cols) = (w.rows(), w.cols());
    // Dense views of the other inputs, all finite, of shapes the gathering understands.
    let mut dense: Vec<Option<std::borrow::Cow<[f64]>>> = Vec::with_capacity(args.len());
    let mut kdim = None;
    for (k, a) in args.iter().enumerate() {
        match a {
            Arg::Scalar(s) => {
                if !s.is_finite() {
                    return Ok(None);
                }
                dense.push(None);
            }
            Arg::Matrix(m) if k == driver as usize => {
                let _ = m;
                dense.push(None);
            }
            Arg::Matrix(m) => {
                let d = m.dense_data();
                if !crate::kernels::simd::all_finite(&d) {
                    return Ok(None);
                }
                dense.push(Some(d));
            }
        }
    }
    let s = w.csr();
    if !crate::kernels::simd::all_finite(s.data()) {
        return Ok(None);
    }
    // Shapes: full inputs rows x cols; Dot inputs rows x k and cols x k.
    let shape = |k: u16| match args[k as usize] {
        Arg::Matrix(m) => Some((m.rows(), m.cols())),
        Arg::Scalar(_) => None,
    };
    let mut dot_of = vec![None; body.steps.len()];
    for (i, step) in body.steps.iter().enumerate() {
        match *step {
            FStep::Dot(u, v) => {
                let (FStep::Input(ku), FStep::Input(kv)) = (&body.steps[u as usize], &body.steps[v as usize])
                else {
                    return Ok(None);
                };
                let (Some((ur, uc)), Some((vr, vc))) = (shape(*ku), shape(*kv)) else { return Ok(None) };
                if ur != rows || vr != cols || uc != vc || kdim.is_some_and(|k| k != uc) {
                    return Ok(None);
                }
                kdim = Some(uc);
                dot_of[i] = Some((*ku as usize, *kv as usize));
            }
            FStep::Input(k) if k != driver => {
                if let Some(sh) = shape(k)
                    && sh != (rows, cols)
                    && !is_dot_operand(body, i)
                {
                    return Ok(None);
                }
            }
            FStep::RowAgg(..) | FStep::Ternary(..) => return Ok(None),
            _ => {}
        }
    }
    let kd = kdim.unwrap_or(0);
    if !overflow_free(body, args, &dense, s.data(), driver, kd) {
        return Ok(None);
    }
    let (out_step, out) = body.outputs[0];
    let n_steps = body.steps.len();
    // Registers: one per step, CHUNK cells each (bodies are small).
    let mut regs = vec![vec![0.0f64; CHUNK]; n_steps];
    let mut scal: Vec<Option<f64>> = vec![None; n_steps];
    let (indptr, indices, data) = (s.indptr(), s.indices(), s.data());
    let nnz = data.len();
    let mut pos_i = vec![0usize; CHUNK];
    let mut row = 0usize;
    let mut acc = Running::new(AggOp::Sum);
    let mut out_data: Vec<f64> = Vec::new();
    let mut out_idx: Vec<usize> = Vec::new();
    let mut out_ptr: Vec<usize> = vec![0];
    let mut start = 0usize;
    let indptr = indptr.raw_storage();
    while start < nnz {
        let end = (start + CHUNK).min(nnz);
        let n = end - start;
        for (p, slot) in pos_i[..n].iter_mut().enumerate() {
            while indptr[row + 1] <= start + p {
                row += 1;
            }
            *slot = row;
        }
        let js = &indices[start..end];
        for (i, step) in body.steps.iter().enumerate() {
            let mut dst = std::mem::take(&mut regs[i]);
            scal[i] = None;
            match *step {
                FStep::Input(k) if k == driver => dst[..n].copy_from_slice(&data[start..end]),
                FStep::Input(k) => match (&args[k as usize], &dense[k as usize]) {
                    (Arg::Scalar(x), _) => scal[i] = Some(*x),
                    (_, Some(d)) if !is_dot_operand(body, i) => {
                        for p in 0..n {
                            dst[p] = d[pos_i[p] * cols + js[p]];
                        }
                    }
                    _ => {}
                },
                FStep::Const(c) => scal[i] = Some(c),
                FStep::Dot(..) => {
                    let (ku, kv) = dot_of[i].expect("checked above");
                    let (u, v) = (dense[ku].as_ref().expect("matrix"), dense[kv].as_ref().expect("matrix"));
                    for p in 0..n {
                        let (ur, vr) =
                            (&u[pos_i[p] * kd..(pos_i[p] + 1) * kd], &v[js[p] * kd..(js[p] + 1) * kd]);
                        let mut dot = 0.0;
                        for (a, b) in ur.iter().zip(vr) {
                            dot += a * b;
                        }
                        dst[p] = dot;
                    }
                }
                FStep::Unary(op, a) => match scal[a as usize] {
                    Some(x) => scal[i] = Some(op.apply(x)),
                    None => loops::unary(op, &regs[a as usize][..n], &mut dst[..n]),
                },
                FStep::Binary(op, a, b) => match (scal[a as usize], scal[b as usize]) {
                    (Some(x), Some(y)) => scal[i] = Some(op.apply(x, y)),
                    (None, Some(y)) => loops::binary_vs(op, &regs[a as usize][..n], y, &mut dst[..n]),
                    (Some(x), None) => loops::binary_sv(op, x, &regs[b as usize][..n], &mut dst[..n]),
                    (None, None) => {
                        loops::binary_vv(op, &regs[a as usize][..n], &regs[b as usize][..n], &mut dst[..n])
                    }
                },
                FStep::RowAgg(..) | FStep::Ternary(..) => unreachable!("refused above"),
            }
            regs[i] = dst;
        }
        let vals = &regs[out_step as usize][..n];
        match out {
            FusedOut::Agg(AggOp::Sum, AggDir::All) => {
                for &v in vals {
                    // The unfused product stores no zeros, and its sum visits only stored cells.
                    if v != 0.0 {
                        acc.push_all(AggOp::Sum, &[v]);
                    }
                }
            }
            _ => {
                for (p, &v) in vals.iter().enumerate() {
                    while out_ptr.len() <= pos_i[p] {
                        out_ptr.push(out_idx.len());
                    }
                    if v != 0.0 {
                        out_idx.push(js[p]);
                        out_data.push(v);
                    }
                }
            }
        }
        start = end;
    }
    Ok(Some(vec![match out {
        FusedOut::Agg(..) => Out::Scalar(acc.finish(AggOp::Sum, rows * cols)),
        FusedOut::Cells => {
            while out_ptr.len() <= rows {
                out_ptr.push(out_idx.len());
            }
            Out::Matrix(Matrix::from_csr_parts(rows, cols, out_ptr, out_idx, out_data).examine_format())
        }
    }]))
}

/// Whether no step of the body can overflow at any cell, `W`'s zeros included: a bound on each
/// step's magnitude from the inputs' largest magnitudes stays far below `f64::MAX`. The unfused
/// plan computes every cell of `f(X, U %*% t(V))`, and a cell that overflowed there would make
/// `0 * inf` a NaN that skipping `W`'s zeros cannot see; with finite inputs and this bound, no
/// cell is infinite or NaN, so skipping them keeps the unfused values.
fn overflow_free(
    body: &FusedBody,
    args: &[Arg],
    dense: &[Option<std::borrow::Cow<[f64]>>],
    w: &[f64],
    driver: u16,
    kd: usize,
) -> bool {
    use crate::types::ops::UnOp;
    let max_abs = |d: &[f64]| d.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut bound = vec![0.0f64; body.steps.len()];
    for (i, step) in body.steps.iter().enumerate() {
        let b = |k: u16| bound[k as usize];
        bound[i] = match *step {
            FStep::Input(k) if k == driver => max_abs(w),
            FStep::Input(k) => match (&args[k as usize], &dense[k as usize]) {
                (Arg::Scalar(x), _) => x.abs(),
                (_, Some(d)) => max_abs(d),
                _ => f64::INFINITY,
            },
            FStep::Const(c) => c.abs(),
            FStep::Dot(u, v) => kd as f64 * b(u) * b(v),
            FStep::Unary(UnOp::Neg | UnOp::Abs, a) => b(a),
            FStep::Unary(UnOp::Sign | UnOp::Sigmoid | UnOp::Tanh, _) => 1.0,
            FStep::Binary(BinOp::Add | BinOp::Sub, x, y) => b(x) + b(y),
            FStep::Binary(BinOp::Mul, x, y) => b(x) * b(y),
            FStep::Binary(BinOp::Min | BinOp::Max, x, y) => b(x).max(b(y)),
            FStep::Binary(op, _, _) if op.is_boolean_valued() => 1.0,
            FStep::Binary(BinOp::Pow, x, y) if body.steps[y as usize] == FStep::Const(2.0) => b(x) * b(x),
            _ => f64::INFINITY,
        };
        // A wide margin for the bound's own roundings.
        if bound[i].is_nan() || bound[i] > f64::MAX / 16.0 {
            return false;
        }
    }
    true
}

/// Whether the body's output is `W * e` (or `e * W`) for the driver `W`, and aggregated, if at
/// all, by a full sum: then it is zero wherever `W` is, for finite `e`.
fn sparse_safe(body: &FusedBody, driver: u16) -> bool {
    let (s, out) = body.outputs[0];
    if !matches!(out, FusedOut::Cells | FusedOut::Agg(AggOp::Sum, AggDir::All)) {
        return false;
    }
    let is_driver = |x: u16| body.steps[x as usize] == FStep::Input(driver);
    match body.steps[s as usize] {
        FStep::Binary(BinOp::Mul, a, b) => is_driver(a) || is_driver(b),
        _ => false,
    }
}

/// Whether step `i` is read only as an operand of `Dot` steps.
fn is_dot_operand(body: &FusedBody, i: usize) -> bool {
    let mut any = false;
    for step in &body.steps {
        let ops = super::operands(step);
        if ops.contains(&(i as u16)) {
            if !matches!(step, FStep::Dot(..)) {
                return false;
            }
            any = true;
        }
    }
    any
}
