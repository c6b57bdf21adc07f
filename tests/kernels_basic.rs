//! Unit tests of the kernels against hand-derived values and against what SystemDS 3.4.0
//! printed for the same inputs (the DML is quoted in the comments).

use dml::kernels::aggregate::{aggregate, aggregate_all, trace};
use dml::kernels::cumulative::{cumsumprod, cumulative, rowcumsum};
use dml::kernels::datagen::{Pdf, RandSpec, rand, sample, seq};
use dml::kernels::elementwise::{binary_mm, binary_ms, binary_sm, unary};
use dml::kernels::index::{left_index, left_index_fill, slice};
use dml::kernels::matmul::{matmul, tsmm};
use dml::kernels::reorg::{cbind, diag, rbind, reshape, rev, transpose};
use dml::kernels::ternary::{Operand, ifelse, outer};
use dml::types::matrix::Matrix;
use dml::types::ops::{AggDir, AggOp, BinOp, CumOp, UnOp};

fn m(rows: usize, cols: usize, v: &[f64]) -> Matrix {
    Matrix::from_vec(rows, cols, v.to_vec())
}

fn vals(x: &Matrix) -> Vec<f64> {
    x.dense_data().into_owned()
}

fn sparse(x: &Matrix) -> Matrix {
    Matrix::Sparse(x.to_csr())
}

/// Equality that treats NaN as equal to NaN.
fn same(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
}

const NAN: f64 = f64::NAN;

#[test]
fn scalar_ops_follow_systemds() {
    // print(-7 %/% 2); print(-7 %% 2); print(7 %% -2); 7.0 %/% 0.0; -7.0 %/% 0.0; 0.0 %/% 0.0;
    // 7.0 %% 0.0; 5.5 %% 2; -5.5 %/% 2; 0.3 %/% 0.1; 1.0 %% 0.1; 0.3 %% 0.1
    assert_eq!(BinOp::IntDiv.apply(-7.0, 2.0), -3.0);
    assert_eq!(BinOp::Mod.apply(-7.0, 2.0), -1.0);
    assert_eq!(BinOp::Mod.apply(7.0, -2.0), 1.0);
    assert_eq!(BinOp::IntDiv.apply(7.0, 0.0), f64::INFINITY);
    assert_eq!(BinOp::IntDiv.apply(-7.0, 0.0), f64::NEG_INFINITY);
    assert!(BinOp::IntDiv.apply(0.0, 0.0).is_nan());
    assert!(BinOp::Mod.apply(7.0, 0.0).is_nan());
    assert_eq!(BinOp::Mod.apply(5.5, 2.0), 1.5);
    assert_eq!(BinOp::IntDiv.apply(-5.5, 2.0), -2.0);
    assert_eq!(BinOp::IntDiv.apply(0.3, 0.1), 2.0);
    assert_eq!(BinOp::Mod.apply(1.0, 0.1), 0.0);
    assert_eq!(BinOp::Mod.apply(0.3, 0.1), 0.09999999999999998);
    // 0/0 = NaN, (-4)^0.5 = NaN, log(0) = -Infinity
    assert!(BinOp::Div.apply(0.0, 0.0).is_nan());
    assert!(BinOp::Pow.apply(-4.0, 0.5).is_nan());
    assert_eq!(UnOp::Log.apply(0.0), f64::NEG_INFINITY);
    // round(-2.5) = -2.0, round(2.5) = 3.0, round(NaN) = 0 (in a matrix), sign(NaN) = NaN
    assert_eq!(UnOp::Round.apply(-2.5), -2.0);
    assert_eq!(UnOp::Round.apply(2.5), 3.0);
    assert_eq!(UnOp::Round.apply(0.3), 0.0);
    assert_eq!(UnOp::Round.apply(NAN), 0.0);
    assert!(UnOp::Sign.apply(NAN).is_nan());
    // NaN < 1 FALSE, NaN == NaN FALSE, NaN != NaN TRUE, min(NaN, 1) NaN, max(1, NaN) NaN
    assert_eq!(BinOp::Lt.apply(NAN, 1.0), 0.0);
    assert_eq!(BinOp::Eq.apply(NAN, NAN), 0.0);
    assert_eq!(BinOp::Ne.apply(NAN, NAN), 1.0);
    assert!(BinOp::Min.apply(NAN, 1.0).is_nan());
    assert!(BinOp::Max.apply(1.0, NAN).is_nan());
    // bitwShiftR(-8, 1) = -4; bitwAnd(12.7, 10) = 8; bitwShiftL(1, 65) = 2; xor(NaN, 0) = 1; !NaN = 0
    assert_eq!(BinOp::BitwShiftR.apply(-8.0, 1.0), -4.0);
    assert_eq!(BinOp::BitwAnd.apply(12.7, 10.0), 8.0);
    assert_eq!(BinOp::BitwShiftL.apply(1.0, 65.0), 2.0);
    assert_eq!(BinOp::Xor.apply(NAN, 0.0), 1.0);
    assert_eq!(UnOp::Not.apply(NAN), 0.0);
    // log(2.5, 2) printed as 1.322
    assert!((BinOp::Log.apply(2.5, 2.0) - 1.321928094887362).abs() < 1e-15);
    assert_eq!(UnOp::Relu.apply(-3.0), 0.0);
    assert_eq!(UnOp::Sigmoid.apply(0.0), 0.5);
}

#[test]
fn binary_broadcasts_like_systemds() {
    let x = m(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    // X - matrix("10 20 30", 1, 3) = [-9 -18 -27; -6 -15 -24]
    let r = m(1, 3, &[10.0, 20.0, 30.0]);
    assert_eq!(vals(&binary_mm(BinOp::Sub, &x, &r).unwrap()), [-9.0, -18.0, -27.0, -6.0, -15.0, -24.0]);
    // X - matrix("10 20", 2, 1) = [-9 -8 -7; -16 -15 -14]
    let c = m(2, 1, &[10.0, 20.0]);
    assert_eq!(vals(&binary_mm(BinOp::Sub, &x, &c).unwrap()), [-9.0, -8.0, -7.0, -16.0, -15.0, -14.0]);
    // X - matrix(7, 1, 1) = [-6 -5 -4; -3 -2 -1]
    let s = m(1, 1, &[7.0]);
    assert_eq!(vals(&binary_mm(BinOp::Sub, &x, &s).unwrap()), [-6.0, -5.0, -4.0, -3.0, -2.0, -1.0]);
    // Vectors and 1x1 on the left, and 2x3 + 3x2, are errors in SystemDS.
    assert!(binary_mm(BinOp::Add, &r, &x).is_err());
    assert!(binary_mm(BinOp::Add, &c, &x).is_err());
    assert!(binary_mm(BinOp::Add, &s, &x).is_err());
    assert!(binary_mm(BinOp::Add, &c, &r).is_err());
    let e = binary_mm(BinOp::Add, &x, &m(3, 2, &[0.0; 6])).unwrap_err();
    assert!(e.0.contains("2x3") && e.0.contains("3x2"), "{}", e.0);
    // min(X, 2) with X[1,2] = NaN gives [1 NaN 2; 2 2 2]
    let xn = m(2, 3, &[1.0, NAN, 3.0, 4.0, 5.0, 6.0]);
    assert!(same(&vals(&binary_ms(BinOp::Min, &xn, 2.0)), &[1.0, NAN, 2.0, 2.0, 2.0, 2.0]));
    assert_eq!(vals(&binary_sm(BinOp::Sub, 10.0, &x)), [9.0, 8.0, 7.0, 6.0, 5.0, 4.0]);
}

#[test]
fn sparse_inputs_stay_sparse_and_agree() {
    let mut d = vec![0.0; 100];
    d[3] = 2.0;
    d[57] = -1.5;
    d[99] = 4.0;
    let a = m(10, 10, &d);
    let sa = sparse(&a);
    let b = Matrix::from_vec(10, 10, (0..100).map(|v| v as f64).collect());
    let p = binary_mm(BinOp::Mul, &sa, &b).unwrap();
    assert!(p.is_sparse());
    assert_eq!(vals(&p), vals(&binary_mm(BinOp::Mul, &a, &b).unwrap()));
    let q = binary_mm(BinOp::Add, &sa, &sa).unwrap();
    assert!(q.is_sparse());
    assert_eq!(vals(&q), vals(&binary_ms(BinOp::Mul, &a, 2.0)));
    let u = unary(UnOp::Abs, &sa);
    assert!(u.is_sparse());
    assert_eq!(vals(&u), vals(&unary(UnOp::Abs, &a)));
    let e = unary(UnOp::Exp, &sa);
    assert!(!e.is_sparse());
    assert_eq!(e.get(0, 0), 1.0);
}

#[test]
fn aggregates_follow_systemds() {
    // X = [1 NaN 3; 4 5 6]: max, min, sum NaN; rowMaxs = [NaN; 6]; colMins = [1 NaN 3]
    let x = m(2, 3, &[1.0, NAN, 3.0, 4.0, 5.0, 6.0]);
    assert!(aggregate_all(AggOp::Max, &x).unwrap().is_nan());
    assert!(aggregate_all(AggOp::Min, &x).unwrap().is_nan());
    assert!(aggregate_all(AggOp::Sum, &x).unwrap().is_nan());
    assert!(same(&vals(&aggregate(AggOp::Max, AggDir::Row, &x).unwrap()), &[NAN, 6.0]));
    assert!(same(&vals(&aggregate(AggOp::Min, AggDir::Col, &x).unwrap()), &[1.0, NAN, 3.0]));
    // 0x3 matrix: sum 0.0, mean NaN, prod 1.0, min Infinity, max -Infinity
    let e = Matrix::zeros(0, 3);
    assert_eq!(aggregate_all(AggOp::Sum, &e).unwrap(), 0.0);
    assert!(aggregate_all(AggOp::Mean, &e).unwrap().is_nan());
    assert_eq!(aggregate_all(AggOp::Prod, &e).unwrap(), 1.0);
    assert_eq!(aggregate_all(AggOp::Min, &e).unwrap(), f64::INFINITY);
    assert_eq!(aggregate_all(AggOp::Max, &e).unwrap(), f64::NEG_INFINITY);
    // Z = [1 2 3]: mean 2, var 1, sd 1, prod 6; colVars(Z) = [0 0 0]; var of 1x1 = 0
    let z = m(1, 3, &[1.0, 2.0, 3.0]);
    assert_eq!(aggregate_all(AggOp::Mean, &z).unwrap(), 2.0);
    assert_eq!(aggregate_all(AggOp::Var, &z).unwrap(), 1.0);
    assert_eq!(aggregate_all(AggOp::Sd, &z).unwrap(), 1.0);
    assert_eq!(aggregate_all(AggOp::Prod, &z).unwrap(), 6.0);
    assert_eq!(vals(&aggregate(AggOp::Var, AggDir::Col, &z).unwrap()), [0.0, 0.0, 0.0]);
    assert_eq!(aggregate_all(AggOp::Var, &m(1, 1, &[5.0])).unwrap(), 0.0);
    // Y = matrix("0.1 0.2 0.3 0.4 0.5 0.6 0.7", 7, 1): var 0.04666666666666667,
    // sd 0.21602468994692867, colVars the same; sum/mean of ten 0.1 cells 1.0 and 0.1
    let y = m(7, 1, &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]);
    assert_eq!(aggregate_all(AggOp::Var, &y).unwrap(), 0.04666666666666667);
    assert_eq!(aggregate_all(AggOp::Sd, &y).unwrap(), 0.21602468994692867);
    assert_eq!(vals(&aggregate(AggOp::Var, AggDir::Col, &y).unwrap()), [0.04666666666666667]);
    assert_eq!(aggregate_all(AggOp::Mean, &Matrix::filled(10, 1, 0.1)).unwrap(), 0.1);
    // var(matrix("1 2 3 4 5.5 7.25", 6, 1)) = 5.310416666666667; var, colVars and rowVars of
    // "0.3 1.7 2.2 9.1 4.4" = 11.832999999999998
    assert_eq!(
        aggregate_all(AggOp::Var, &m(6, 1, &[1.0, 2.0, 3.0, 4.0, 5.5, 7.25])).unwrap(),
        5.310416666666667
    );
    let w = [0.3, 1.7, 2.2, 9.1, 4.4];
    assert_eq!(aggregate_all(AggOp::Var, &m(5, 1, &w)).unwrap(), 11.832999999999998);
    assert_eq!(vals(&aggregate(AggOp::Var, AggDir::Col, &m(5, 1, &w)).unwrap()), [11.832999999999998]);
    assert_eq!(vals(&aggregate(AggOp::Var, AggDir::Row, &m(1, 5, &w)).unwrap()), [11.832999999999998]);
    // C = cumsum(matrix(0.1, 10, 1)); C[10, 1] = 1.0 (Kahan)
    assert_eq!(vals(&cumulative(CumOp::Sum, &Matrix::filled(10, 1, 0.1)))[9], 1.0);
    // Kahan summation: ten 0.1 cells sum to 1.0 exactly.
    assert_eq!(aggregate_all(AggOp::Sum, &Matrix::filled(10, 1, 0.1)).unwrap(), 1.0);
    // Sparse var counts implicit zeros: var([0 0 3 0]) = 2.25
    let s = sparse(&m(1, 4, &[0.0, 0.0, 3.0, 0.0]));
    assert_eq!(aggregate_all(AggOp::Var, &s).unwrap(), 2.25);
    assert_eq!(vals(&aggregate(AggOp::Mean, AggDir::Row, &s).unwrap()), [0.75]);
    assert_eq!(trace(&m(2, 2, &[1.0, 2.0, 3.0, 4.0])).unwrap(), 5.0);
    assert!(trace(&z).is_err());
}

#[test]
fn row_index_max_min_follow_systemds() {
    let idx = |op, x: &Matrix| vals(&aggregate(op, AggDir::Row, x).unwrap());
    // rowIndexMax([1 3 3; 2 2 2]) = [3; 3]; rowIndexMin([1 3 1; 2 2 2]) = [3; 3]
    assert_eq!(idx(AggOp::IndexMax, &m(2, 3, &[1.0, 3.0, 3.0, 2.0, 2.0, 2.0])), [3.0, 3.0]);
    assert_eq!(idx(AggOp::IndexMin, &m(2, 3, &[1.0, 3.0, 1.0, 2.0, 2.0, 2.0])), [3.0, 3.0]);
    // all-NaN rows give 1
    assert_eq!(idx(AggOp::IndexMax, &Matrix::filled(2, 3, NAN)), [1.0, 1.0]);
    assert_eq!(idx(AggOp::IndexMin, &Matrix::filled(2, 3, NAN)), [1.0, 1.0]);
    // [1 NaN 3; NaN 5 1]: max [3; 2], min [1; 3]
    let x = m(2, 3, &[1.0, NAN, 3.0, NAN, 5.0, 1.0]);
    assert_eq!(idx(AggOp::IndexMax, &x), [3.0, 2.0]);
    assert_eq!(idx(AggOp::IndexMin, &x), [1.0, 3.0]);
    // [-1 0 -2; 0 0 0; -3 -3 -5]: max [2; 3; 2], min [3; 3; 3], dense and sparse
    let s = m(3, 3, &[-1.0, 0.0, -2.0, 0.0, 0.0, 0.0, -3.0, -3.0, -5.0]);
    assert_eq!(idx(AggOp::IndexMax, &s), [2.0, 3.0, 2.0]);
    assert_eq!(idx(AggOp::IndexMin, &s), [3.0, 3.0, 3.0]);
    assert_eq!(idx(AggOp::IndexMax, &sparse(&s)), [2.0, 3.0, 2.0]);
    assert!(aggregate(AggOp::IndexMax, AggDir::Col, &s).is_err());
}

#[test]
fn cumulative_follow_systemds() {
    // cumprod(matrix("1 2 3 4 0 6 5 6 7", 3, 3)) = [1 2 3; 4 0 18; 20 0 126]
    let x = m(3, 3, &[1.0, 2.0, 3.0, 4.0, 0.0, 6.0, 5.0, 6.0, 7.0]);
    assert_eq!(vals(&cumulative(CumOp::Prod, &x)), [1.0, 2.0, 3.0, 4.0, 0.0, 18.0, 20.0, 0.0, 126.0]);
    // C = [3 NaN 2 4]': cummin, cummax, cumsum all [3 NaN NaN NaN]
    let c = m(4, 1, &[3.0, NAN, 2.0, 4.0]);
    for op in [CumOp::Min, CumOp::Max, CumOp::Sum] {
        assert!(same(&vals(&cumulative(op, &c)), &[3.0, NAN, NAN, NAN]), "{op:?}");
    }
    assert_eq!(vals(&cumulative(CumOp::Sum, &x)), [1.0, 2.0, 3.0, 5.0, 2.0, 9.0, 10.0, 8.0, 16.0]);
    // rowcumsum(matrix("1 2 3 4 5 6", 2, 3)) = [1 3 6; 4 9 15]
    assert_eq!(vals(&rowcumsum(&m(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))), [1.0, 3.0, 6.0, 4.0, 9.0, 15.0]);
    // cumsumprod(matrix("1 2 3 4 5 6", 3, 2)) = [1; 7; 47]
    assert_eq!(vals(&cumsumprod(&m(3, 2, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])).unwrap()), [1.0, 7.0, 47.0]);
    assert!(cumsumprod(&x).is_err());
}

#[test]
fn reorg_follow_systemds() {
    let x = m(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(vals(&transpose(&x)), [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    assert_eq!(vals(&transpose(&sparse(&x))), [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    // rev([1 2 3; 4 5 6]) = [4 5 6; 1 2 3]
    assert_eq!(vals(&rev(&x)), [4.0, 5.0, 6.0, 1.0, 2.0, 3.0]);
    assert_eq!(vals(&rev(&sparse(&x))), [4.0, 5.0, 6.0, 1.0, 2.0, 3.0]);
    // diag on 2x3 and on 1x3 is an error in SystemDS
    assert!(diag(&x).is_err());
    assert!(diag(&m(1, 3, &[1.0, 2.0, 3.0])).is_err());
    assert_eq!(vals(&diag(&m(2, 1, &[1.0, 2.0])).unwrap()), [1.0, 0.0, 0.0, 2.0]);
    assert_eq!(vals(&diag(&m(2, 2, &[1.0, 2.0, 3.0, 4.0])).unwrap()), [1.0, 4.0]);
    // matrix(X, rows=4, cols=2): "Reshape matrix requires consistent numbers of input/output cells (2:3, 4:2)."
    let e = reshape(&x, 4, 2, true).unwrap_err();
    assert!(e.0.contains("(2:3, 4:2)"), "{}", e.0);
    assert_eq!(vals(&reshape(&x, 3, 2, true).unwrap()), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    // matrix(X, rows=3, cols=2, byrow=FALSE) = [1 5; 4 3; 2 6]
    assert_eq!(vals(&reshape(&x, 3, 2, false).unwrap()), [1.0, 5.0, 4.0, 3.0, 2.0, 6.0]);
    assert_eq!(vals(&reshape(&sparse(&x), 3, 2, true).unwrap()), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    // cbind(X, 3x1) and rbind(X, 2x2) are errors
    assert!(cbind(&[&x, &Matrix::filled(3, 1, 1.0)]).unwrap_err().0.contains("input 2 rows: 3"));
    assert!(rbind(&[&x, &Matrix::filled(2, 2, 1.0)]).unwrap_err().0.contains("input 2 columns: 2"));
    let y = m(2, 1, &[7.0, 8.0]);
    assert_eq!(vals(&cbind(&[&x, &y]).unwrap()), [1.0, 2.0, 3.0, 7.0, 4.0, 5.0, 6.0, 8.0]);
    assert_eq!(vals(&cbind(&[&sparse(&x), &sparse(&y)]).unwrap()), [1.0, 2.0, 3.0, 7.0, 4.0, 5.0, 6.0, 8.0]);
    let r = rbind(&[&x, &m(1, 3, &[7.0, 8.0, 9.0])]).unwrap();
    assert_eq!(vals(&r), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
}

#[test]
fn matmul_small_and_errors() {
    let a = m(2, 2, &[1.0, 2.0, 3.0, 4.0]);
    let b = m(2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(vals(&matmul(&a, &b).unwrap()), [9.0, 12.0, 15.0, 19.0, 26.0, 33.0]);
    // SystemDS: "invalid dimensions for matrix multiplication (k1=3, k2=2)"
    assert!(matmul(&b, &a).unwrap_err().0.contains("(k1=3, k2=2)"));
    assert_eq!(vals(&matmul(&sparse(&a), &b).unwrap()), [9.0, 12.0, 15.0, 19.0, 26.0, 33.0]);
    assert_eq!(vals(&matmul(&a, &sparse(&b)).unwrap()), [9.0, 12.0, 15.0, 19.0, 26.0, 33.0]);
    assert_eq!(vals(&matmul(&sparse(&a), &sparse(&b)).unwrap()), [9.0, 12.0, 15.0, 19.0, 26.0, 33.0]);
    // t(B) %*% B and B %*% t(B)
    assert_eq!(vals(&tsmm(&b, true)), [17.0, 22.0, 27.0, 22.0, 29.0, 36.0, 27.0, 36.0, 45.0]);
    assert_eq!(vals(&tsmm(&b, false)), [14.0, 32.0, 32.0, 77.0]);
    assert_eq!(vals(&tsmm(&sparse(&b), true)), [17.0, 22.0, 27.0, 22.0, 29.0, 36.0, 27.0, 36.0, 45.0]);
    assert_eq!(vals(&tsmm(&sparse(&b), false)), [14.0, 32.0, 32.0, 77.0]);
}

#[test]
fn matmul_skips_zeros_like_systemds() {
    // matrix(0, 1, 1) %*% matrix(0/0, 1, 1) = 0.0
    let z = matmul(&m(1, 1, &[0.0]), &m(1, 1, &[NAN])).unwrap();
    assert_eq!(vals(&z), [0.0]);
    // A2 = [0 1 2; 3 0 5; 6 7 0], B2 = [1 2 3; 4 Inf 6; 7 8 9]: A2 %*% B2 =
    // [18 Inf 24; 38 46 54; 34 Inf 60]
    let a = m(3, 3, &[0.0, 1.0, 2.0, 3.0, 0.0, 5.0, 6.0, 7.0, 0.0]);
    let b = m(3, 3, &[1.0, 2.0, 3.0, 4.0, f64::INFINITY, 6.0, 7.0, 8.0, 9.0]);
    let inf = f64::INFINITY;
    assert_eq!(vals(&matmul(&a, &b).unwrap()), [18.0, inf, 24.0, 38.0, 46.0, 54.0, 34.0, inf, 60.0]);
}

#[test]
fn matmul_large_matches_naive() {
    let (n, k, p) = (70, 90, 50);
    let a = Matrix::from_vec(n, k, (0..n * k).map(|i| ((i * 7) % 13) as f64 - 6.0).collect());
    let b = Matrix::from_vec(k, p, (0..k * p).map(|i| ((i * 5) % 11) as f64 - 5.0).collect());
    let c = matmul(&a, &b).unwrap();
    for i in 0..n {
        for j in 0..p {
            let want: f64 = (0..k).map(|t| a.get(i, t) * b.get(t, j)).sum();
            assert_eq!(c.get(i, j), want);
        }
    }
    let v = Matrix::from_vec(k, 1, (0..k).map(|i| i as f64).collect());
    let mv = matmul(&a, &v).unwrap();
    for i in 0..n {
        assert_eq!(mv.get(i, 0), (0..k).map(|t| a.get(i, t) * t as f64).sum::<f64>());
    }
}

#[test]
fn indexing() {
    let x = m(3, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
    assert_eq!(vals(&slice(&x, 1..3, 0..2).unwrap()), [4.0, 5.0, 7.0, 8.0]);
    assert_eq!(vals(&slice(&sparse(&x), 1..3, 0..2).unwrap()), [4.0, 5.0, 7.0, 8.0]);
    assert!(slice(&x, 0..4, 0..1).is_err());
    let mut t = x.clone();
    left_index(&mut t, 1, 1, &m(2, 2, &[0.0, 0.0, 0.0, 0.0])).unwrap();
    assert_eq!(vals(&t), [1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 7.0, 0.0, 0.0]);
    assert!(left_index(&mut t, 2, 2, &m(2, 2, &[0.0; 4])).is_err());
    let mut s = Matrix::Sparse(Matrix::zeros(3, 3).to_csr());
    left_index_fill(&mut s, 0..1, 0..3, 5.0).unwrap();
    assert_eq!(vals(&s), [5.0, 5.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
}

#[test]
fn ternary_ops() {
    // ifelse(a > 1, a, 0/0) for a = [1 2 3]' gives [NaN 2 3]'
    let a = m(3, 1, &[1.0, 2.0, 3.0]);
    let c = binary_ms(BinOp::Gt, &a, 1.0);
    let r = ifelse(Operand::Matrix(&c), Operand::Matrix(&a), Operand::Scalar(NAN)).unwrap();
    assert!(same(&vals(&r), &[NAN, 2.0, 3.0]));
    assert!(ifelse(Operand::Scalar(1.0), Operand::Scalar(1.0), Operand::Scalar(2.0)).is_err());
    // outer([1 2 3]', [1 2], "-") = [0 -1; 1 0; 2 1]
    let o = outer(&a, &m(1, 2, &[1.0, 2.0]), BinOp::Sub).unwrap();
    assert_eq!(vals(&o), [0.0, -1.0, 1.0, 0.0, 2.0, 1.0]);
}

#[test]
fn seq_follows_systemds() {
    // seq(1, 2.5, 0.5) = 1 1.5 2 2.5; seq(1, 2.4, 0.5) = 1 1.5 2; seq(5, 1) = 5..1; seq(1, 1) = 1
    assert_eq!(vals(&seq(1.0, 2.5, 0.5).unwrap()), [1.0, 1.5, 2.0, 2.5]);
    assert_eq!(vals(&seq(1.0, 2.4, 0.5).unwrap()), [1.0, 1.5, 2.0]);
    assert_eq!(vals(&seq(5.0, 1.0, -1.0).unwrap()), [5.0, 4.0, 3.0, 2.0, 1.0]);
    assert_eq!(vals(&seq(1.0, 1.0, -1.0).unwrap()), [1.0]);
    assert_eq!(vals(&seq(1.0, 10.0, 3.0).unwrap()), [1.0, 4.0, 7.0, 10.0]);
    // seq(0, 1, 0.1): 11 cells, [4] = 0.30000000000000004, [8] = 0.7, [11] = 0.9999999999999999
    let s = vals(&seq(0.0, 1.0, 0.1).unwrap());
    assert_eq!(s.len(), 11);
    assert_eq!((s[3], s[7], s[10]), (0.30000000000000004, 0.7, 0.9999999999999999));
    assert_eq!(seq(0.0, 0.9999999999, 0.1).unwrap().rows(), 10);
    // seq(3, 1, 2): "Wrong sign for the increment in a call to seq()"
    assert!(seq(3.0, 1.0, 2.0).unwrap_err().0.contains("Wrong sign"));
    assert!(seq(1.0, 3.0, 0.0).is_err());
}

#[test]
fn rand_and_sample() {
    let spec = RandSpec {
        rows: 300,
        cols: 400,
        min: -2.0,
        max: 3.0,
        sparsity: 1.0,
        pdf: Pdf::Uniform,
        seed: Some(7),
        sparse: false,
    };
    let a = rand(&spec).unwrap();
    let b = rand(&spec).unwrap();
    assert_eq!(vals(&a), vals(&b));
    assert!(vals(&a).iter().all(|v| (-2.0..3.0).contains(v)));
    let mean = aggregate_all(AggOp::Mean, &a).unwrap();
    assert!((mean - 0.5).abs() < 0.05, "{mean}");
    let sp = rand(&RandSpec { sparsity: 0.05, min: 1.0, max: 2.0, sparse: true, ..spec.clone() }).unwrap();
    assert!(sp.is_sparse());
    let frac = sp.nnz() as f64 / sp.len() as f64;
    assert!((frac - 0.05).abs() < 0.01, "{frac}");
    let n = rand(&RandSpec { pdf: Pdf::Normal, ..spec.clone() }).unwrap();
    assert!(aggregate_all(AggOp::Mean, &n).unwrap().abs() < 0.02);
    assert!((aggregate_all(AggOp::Sd, &n).unwrap() - 1.0).abs() < 0.02);
    let p = rand(&RandSpec { pdf: Pdf::Poisson(45.0), ..spec.clone() }).unwrap();
    assert!((aggregate_all(AggOp::Mean, &p).unwrap() - 45.0).abs() < 0.2);
    assert!((aggregate_all(AggOp::Var, &p).unwrap() - 45.0).abs() < 2.0);
    assert!(rand(&RandSpec { sparsity: 1.5, ..spec.clone() }).is_err());

    let s = vals(&sample(10, 10, false, Some(3)).unwrap());
    let mut sorted = s.clone();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(sorted, (1..=10).map(|v| v as f64).collect::<Vec<_>>());
    let w = vals(&sample(1000, 20, false, Some(3)).unwrap());
    let mut w2 = w.clone();
    w2.sort_by(f64::total_cmp);
    w2.dedup();
    assert_eq!(w2.len(), 20);
    assert!(vals(&sample(3, 100, true, Some(1)).unwrap()).iter().all(|v| (1.0..=3.0).contains(v)));
    assert!(sample(3, 5, false, None).is_err());
}

#[test]
fn parallel_paths_match_cellwise_definition() {
    // 400 x 300 = 120K cells, above the parallel threshold.
    let spec = RandSpec {
        rows: 400,
        cols: 300,
        min: -1.0,
        max: 1.0,
        sparsity: 1.0,
        pdf: Pdf::Uniform,
        seed: Some(11),
        sparse: false,
    };
    let a = rand(&spec).unwrap();
    let b = rand(&RandSpec { seed: Some(12), ..spec }).unwrap();
    let s = binary_mm(BinOp::Add, &a, &b).unwrap();
    let e = unary(UnOp::Exp, &a);
    let r = binary_mm(BinOp::Mul, &a, &slice(&b, 0..1, 0..300).unwrap()).unwrap();
    for i in (0..400).step_by(37) {
        for j in (0..300).step_by(29) {
            assert_eq!(s.get(i, j), a.get(i, j) + b.get(i, j));
            assert_eq!(e.get(i, j), a.get(i, j).exp());
            assert_eq!(r.get(i, j), a.get(i, j) * b.get(0, j));
        }
    }
    let rs = aggregate(AggOp::Sum, AggDir::Row, &a).unwrap();
    let rv = aggregate(AggOp::Var, AggDir::Row, &a).unwrap();
    for i in (0..400).step_by(53) {
        let row = slice(&a, i..i + 1, 0..300).unwrap();
        assert_eq!(rs.get(i, 0), aggregate_all(AggOp::Sum, &row).unwrap());
        assert_eq!(rv.get(i, 0), aggregate_all(AggOp::Var, &row).unwrap());
    }
}
