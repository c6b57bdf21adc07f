//! Left indexing updates in place (rows, columns, blocks and cells of dense and sparse targets,
//! in loops and in `parfor` bodies with their result merge): the values must be those of a
//! copy-based reference computed here cell by cell, and a target another variable (or the caller)
//! still holds must keep its values.

use std::sync::Arc;

use dml::session::PreparedScript;
use dml::types::matrix::Matrix;
use dml::types::value::Value;

/// A `rows x cols` matrix with a non-zero every `every` cells, stored as SystemDS would.
fn patterned(rows: usize, cols: usize, every: usize) -> Matrix {
    let cells = (0..rows * cols).map(|k| if k % every == 0 { (k % 97) as f64 + 0.25 } else { 0.0 }).collect();
    Matrix::from_vec(rows, cols, cells).examine_format()
}

fn cells(m: &Matrix) -> Vec<f64> {
    m.dense_data().into_owned()
}

/// Runs `script` with `X` bound to `x` and returns the named outputs.
fn run(script: &str, x: &Arc<Matrix>, outputs: &[&str]) -> Vec<Matrix> {
    let mut ps = PreparedScript::compile(script, &["X"], outputs).expect("compiles");
    ps.set_value("X", Value::Matrix(x.clone()));
    let r = ps.execute().expect("runs");
    outputs
        .iter()
        .map(|n| match r.get(n) {
            Some(Value::Matrix(m)) => (**m).clone(),
            other => panic!("{n} is not a matrix: {other:?}"),
        })
        .collect()
}

/// Cell `(i, j)` (0-based) of a `rows x cols` row-major copy.
fn set(c: &mut [f64], cols: usize, i: usize, j: usize, v: f64) {
    c[i * cols + j] = v;
}

#[test]
fn rows_columns_blocks_and_cells_into_dense_and_sparse_targets() {
    // The value of the i-th (1-based) update's cell (r, c) is i * 1000 + r * 10 + c, zero where
    // (r + c) % 3 == 0, so the sources hold zeros too.
    let script = "Y = X\n\
        Y[3, ] = matrix(7, rows=1, cols=ncol(X))\n\
        Y[, 5] = matrix(0, rows=nrow(X), cols=1)\n\
        B = matrix(0, rows=4, cols=6)\n\
        for (r in 1:4) { for (c in 1:6) { if ((r + c) %% 3 != 0) { B[r, c] = 3000 + r * 10 + c } } }\n\
        Y[10:13, 20:25] = B\n\
        Y[40, 60] = -1\n\
        Y[41:42, ] = 0\n\
        Z = X\n\
        Z[2:5, 2:3] = 9\n";
    for every in [1, 2, 7, 50] {
        let x = Arc::new(patterned(50, 60, every));
        let before = cells(&x);
        let out = run(script, &x, &["Y", "Z"]);
        let mut want = before.clone();
        for j in 0..60 {
            set(&mut want, 60, 2, j, 7.0);
        }
        for i in 0..50 {
            set(&mut want, 60, i, 4, 0.0);
        }
        for r in 1..=4 {
            for c in 1..=6 {
                let v = if (r + c) % 3 != 0 { 3000.0 + r as f64 * 10.0 + c as f64 } else { 0.0 };
                set(&mut want, 60, 9 + r - 1, 19 + c - 1, v);
            }
        }
        set(&mut want, 60, 39, 59, -1.0);
        for i in 40..42 {
            for j in 0..60 {
                set(&mut want, 60, i, j, 0.0);
            }
        }
        assert_eq!(cells(&out[0]), want, "Y with a non-zero every {every} cells");
        let mut want_z = before.clone();
        for i in 1..5 {
            for j in 1..3 {
                set(&mut want_z, 60, i, j, 9.0);
            }
        }
        assert_eq!(cells(&out[1]), want_z, "Z with a non-zero every {every} cells");
        // The bound input, shared with the caller, is untouched.
        assert_eq!(cells(&x), before);
    }
}

#[test]
fn a_loop_updates_a_large_sparse_target_row_by_row() {
    // 2000 x 5000 with 1 in 100 cells: the loop rewrites every 10th row with a sparse row.
    let x = Arc::new(patterned(2000, 5000, 100));
    assert!(x.is_sparse());
    let before = cells(&x);
    let script = "Y = X\n\
        for (i in seq(1, nrow(Y), 10)) {\n\
          R = matrix(0, rows=1, cols=ncol(Y))\n\
          R[1, i] = i\n\
          Y[i, ] = R\n\
        }\n";
    let out = run(script, &x, &["Y"]);
    let mut want = before.clone();
    for i in (0..2000).step_by(10) {
        for j in 0..5000 {
            set(&mut want, 5000, i, j, if j == i { (i + 1) as f64 } else { 0.0 });
        }
    }
    assert!(out[0].is_sparse(), "a sparse target stays sparse below the turn point");
    assert_eq!(cells(&out[0]), want);
    assert_eq!(cells(&x), before);
}

#[test]
fn a_shared_matrix_is_copied_before_it_is_updated() {
    let x = Arc::new(patterned(30, 40, 3));
    let before = cells(&x);
    // Y and W share X's value; updating W changes neither, inside a function neither.
    let script = "f = function(matrix[double] M) return (matrix[double] M) { M[1, 1] = 555 }\n\
        Y = X\n\
        W = Y\n\
        W[2, ] = matrix(1, rows=1, cols=ncol(W))\n\
        V = f(Y)\n";
    let out = run(script, &x, &["Y", "W", "V"]);
    assert_eq!(cells(&out[0]), before);
    let mut want_w = before.clone();
    (0..40).for_each(|j| set(&mut want_w, 40, 1, j, 1.0));
    assert_eq!(cells(&out[1]), want_w);
    let mut want_v = before.clone();
    set(&mut want_v, 40, 0, 0, 555.0);
    assert_eq!(cells(&out[2]), want_v);
    assert_eq!(cells(&x), before);
}

#[test]
fn parfor_merges_rows_columns_and_cells_of_dense_and_sparse_results() {
    // A: large enough to start sparse (all zero); B: dense; C: the input (sparse or dense).
    let script = "A = matrix(0, rows=4, cols=1500000)\n\
        B = matrix(1, rows=8, cols=8)\n\
        C = X\n\
        parfor (j in 1:4) {\n\
          A[j, ] = matrix(j, rows=1, cols=1500000)\n\
          B[, 2 * j] = matrix(-j, rows=8, cols=1)\n\
          C[j, j] = 100 + j\n\
          C[10 + j, ] = matrix(0, rows=1, cols=ncol(C))\n\
        }\n\
        s = sum(A)\n";
    for every in [1, 9] {
        let x = Arc::new(patterned(20, 12, every));
        let before = cells(&x);
        let out = run(script, &x, &["A", "B", "C"]);
        let a = &out[0];
        assert_eq!((a.rows(), a.cols()), (4, 1_500_000));
        for j in 0..4 {
            assert_eq!(a.get(j, 0), (j + 1) as f64);
            assert_eq!(a.get(j, 1_499_999), (j + 1) as f64);
        }
        let sum: f64 = cells(a).iter().sum();
        assert_eq!(sum, 1_500_000.0 * 10.0);
        let mut want_b = vec![1.0; 64];
        for j in 1..=4 {
            (0..8).for_each(|i| set(&mut want_b, 8, i, 2 * j - 1, -(j as f64)));
        }
        assert_eq!(cells(&out[1]), want_b);
        let mut want_c = before.clone();
        for j in 1..=4 {
            set(&mut want_c, 12, j - 1, j - 1, 100.0 + j as f64);
            (0..12).for_each(|c| set(&mut want_c, 12, 10 + j - 1, c, 0.0));
        }
        assert_eq!(cells(&out[2]), want_c, "C with a non-zero every {every} cells");
        assert_eq!(cells(&x), before);
    }
}

#[test]
fn parfor_result_equals_the_sequential_loop() {
    // Each iteration writes a block; values depend on the iteration only, so the parallel merge
    // must give exactly the for loop's matrix.
    let script = "P = X\n\
        S = X\n\
        parfor (j in 1:6) {\n\
          r0 = (j - 1) * 5 + 1\n\
          r1 = j * 5\n\
          c0 = (j %% 3) + 1\n\
          c1 = c0 + 3\n\
          P[r0:r1, c0:c1] = matrix(j, rows=5, cols=4) * (X[1:5, 1:4] + 1)\n\
        }\n\
        for (j in 1:6) {\n\
          r0 = (j - 1) * 5 + 1\n\
          r1 = j * 5\n\
          c0 = (j %% 3) + 1\n\
          c1 = c0 + 3\n\
          S[r0:r1, c0:c1] = matrix(j, rows=5, cols=4) * (X[1:5, 1:4] + 1)\n\
        }\n";
    for every in [1, 4, 31] {
        let x = Arc::new(patterned(30, 10, every));
        let out = run(script, &x, &["P", "S"]);
        assert_eq!(cells(&out[0]), cells(&out[1]), "non-zero every {every} cells");
    }
}
