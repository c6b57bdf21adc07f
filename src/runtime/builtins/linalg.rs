//! Linear algebra: solving, inverses and decompositions, `trace`, `einsum`, the symmetric
//! square root, and the fused transposed product `_matmul_t`.

use super::{Args, BuiltinFn::Plain, Impl, err, matrices_out, matrix_out, one};
use crate::kernels;
use crate::runtime::error::{RtError, RtResult};
use crate::types::matrix::Matrix;
use crate::types::value::Value;

pub(super) const IMPLS: &[Impl] = &[
    ("trace", Plain(|a| one(Value::Double(kernels::aggregate::trace(a.matrix("x")?)?)))),
    ("solve", Plain(|a| matrix_out(kernels::linalg::solve(a.matrix("a")?, a.matrix("b")?)?))),
    ("inv", Plain(|a| matrix_out(kernels::linalg::inverse(a.matrix("x")?)?))),
    ("cholesky", Plain(|a| matrix_out(kernels::linalg::cholesky(a.matrix("x")?)?))),
    ("det", Plain(|a| one(Value::Double(kernels::linalg::det(a.matrix("x")?)?)))),
    ("eigen", Plain(eigen)),
    ("svd", Plain(svd)),
    ("qr", Plain(qr)),
    ("lu", Plain(lu)),
    ("sqrtMatrixJava", Plain(sqrt_matrix)),
    ("_matmul_t", Plain(matmul_t)),
    ("einsum", Plain(einsum)),
];

/// `[values, vectors] = eigen(X)`.
fn eigen(a: Args) -> RtResult<Vec<Value>> {
    Ok(kernels::linalg::eigen(a.matrix("x")?).map(|(w, v)| matrices_out([w, v]))?)
}

/// `[U, S, V] = svd(X)`.
fn svd(a: Args) -> RtResult<Vec<Value>> {
    Ok(kernels::linalg::svd(a.matrix("x")?).map(|(u, s, v)| matrices_out([u, s, v]))?)
}

/// `[H, R] = qr(X)`.
fn qr(a: Args) -> RtResult<Vec<Value>> {
    Ok(kernels::linalg::qr(a.matrix("x")?).map(|(h, r)| matrices_out([h, r]))?)
}

/// `[P, L, U] = lu(X)`.
fn lu(a: Args) -> RtResult<Vec<Value>> {
    Ok(kernels::linalg::lu(a.matrix("x")?).map(|(p, l, u)| matrices_out([p, l, u]))?)
}

/// `_matmul_t(A, B, ta, tb)`: `t(A) %*% B` and the other transposed products in one pass
/// (rewrite `matmul_transpose`).
fn matmul_t(a: Args) -> RtResult<Vec<Value>> {
    let (x, y) = (a.matrix("a")?, a.matrix("b")?);
    matrix_out(kernels::matmul::matmul_t(x, y, a.flag("ta")?, a.flag("tb")?)?)
}

/// `sqrtMatrixJava(X)`: the square root of a symmetric positive semi-definite matrix,
/// V diag(sqrt(w)) V^T from its eigen-decomposition (SystemDS also supports only symmetric
/// input).
fn sqrt_matrix(a: Args) -> RtResult<Vec<Value>> {
    let x = a.matrix("x")?;
    let (w, v) = kernels::linalg::eigen(x)
        .map_err(|e| RtError::new(format!("sqrtMatrixJava: {}", e.0.trim_start_matches("eigen: "))))?;
    let n = x.rows();
    let mut out = vec![0.0; n * n];
    for k in 0..n {
        let s = w.get(k, 0).sqrt();
        for i in 0..n {
            let vik = v.get(i, k) * s;
            for j in 0..n {
                out[i * n + j] += vik * v.get(j, k);
            }
        }
    }
    matrix_out(Matrix::from_vec(n, n, out))
}

/// `einsum(equation, X, Y, ...)`: a scalar for an equation without outputs, else a matrix.
fn einsum(a: Args) -> RtResult<Vec<Value>> {
    let Ok(spec) = a.str("equation") else {
        return err("einsum: the first argument must be the equation string, e.g. \"ij,jk->ik\"");
    };
    let ops: Vec<&Matrix> = a
        .rest()
        .iter()
        .flatten()
        .map(|v| match v {
            Value::Matrix(m) => Ok(&**m),
            other => err(format!("einsum: operands must be matrices, but got a {}", other.kind())),
        })
        .collect::<RtResult<_>>()?;
    let (out, shape) = kernels::einsum::einsum(spec, &ops)?;
    one(match shape {
        None => Value::Double(out.get(0, 0)),
        Some(_) => Value::matrix(out),
    })
}
