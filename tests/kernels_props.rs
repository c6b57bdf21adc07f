//! Property tests: the dense and sparse paths of each kernel give the same values.

use dml::kernels::aggregate::aggregate;
use dml::kernels::elementwise::{binary_mm, binary_ms, unary};
use dml::kernels::index::slice;
use dml::kernels::matmul::{matmul, tsmm};
use dml::kernels::reorg::transpose;
use dml::types::matrix::Matrix;
use dml::types::ops::{AggDir, AggOp, BinOp, UnOp};
use proptest::prelude::*;

/// A random r x c matrix with about half its cells zero (small integers, so sums are exact).
fn mat(r: usize, c: usize) -> impl Strategy<Value = Matrix> {
    prop::collection::vec(prop_oneof![Just(0.0), Just(0.0), (-9i32..10).prop_map(|v| v as f64)], r * c)
        .prop_map(move |v| Matrix::from_vec(r, c, v))
}

fn dims() -> impl Strategy<Value = (usize, usize)> {
    (1usize..9, 1usize..9)
}

fn sp(m: &Matrix) -> Matrix {
    Matrix::Sparse(m.to_csr())
}

fn same(a: &Matrix, b: &Matrix) -> bool {
    a.rows() == b.rows()
        && a.cols() == b.cols()
        && a.dense_data().iter().zip(b.dense_data().iter()).all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
}

const BINOPS: [BinOp; 10] = [
    BinOp::Add,
    BinOp::Sub,
    BinOp::Mul,
    BinOp::Div,
    BinOp::Min,
    BinOp::Max,
    BinOp::Lt,
    BinOp::Eq,
    BinOp::And,
    BinOp::Mod,
];
const AGGS: [AggOp; 9] = [
    AggOp::Sum,
    AggOp::SumSq,
    AggOp::Mean,
    AggOp::Var,
    AggOp::Sd,
    AggOp::Min,
    AggOp::Max,
    AggOp::Prod,
    AggOp::IndexMax,
];

proptest! {
    #[test]
    fn elementwise_dense_sparse_agree((k, a, b, rv, cv) in (0usize..10, dims())
        .prop_flat_map(|(k, (r, c))| (Just(k), mat(r, c), mat(r, c), mat(1, c), mat(r, 1)))) {
        let op = BINOPS[k];
        let dense = binary_mm(op, &a, &b).unwrap();
        for (x, y) in [(sp(&a), b.clone()), (a.clone(), sp(&b)), (sp(&a), sp(&b))] {
            prop_assert!(same(&dense, &binary_mm(op, &x, &y).unwrap()), "{:?}", op);
        }
        prop_assert!(same(&binary_mm(op, &a, &rv).unwrap(), &binary_mm(op, &sp(&a), &rv).unwrap()));
        prop_assert!(same(&binary_mm(op, &a, &cv).unwrap(), &binary_mm(op, &sp(&a), &cv).unwrap()));
        prop_assert!(same(&binary_ms(op, &a, 2.0), &binary_ms(op, &sp(&a), 2.0)));
        for u in [UnOp::Abs, UnOp::Exp, UnOp::Neg, UnOp::Round, UnOp::Not, UnOp::Relu] {
            prop_assert!(same(&unary(u, &a), &unary(u, &sp(&a))));
        }
    }

    #[test]
    fn aggregates_dense_sparse_agree(a in dims().prop_flat_map(|(r, c)| mat(r, c))) {
        for op in AGGS {
            for dir in [AggDir::All, AggDir::Row, AggDir::Col] {
                let d = aggregate(op, dir, &a);
                let s = aggregate(op, dir, &sp(&a));
                match (d, s) {
                    (Ok(d), Ok(s)) => {
                        // Var/Sd may differ in the last bits between the two summation orders.
                        let close = d.dense_data().iter().zip(s.dense_data().iter())
                            .all(|(x, y)| x == y || (x - y).abs() <= 1e-12 * x.abs().max(1.0) || (x.is_nan() && y.is_nan()));
                        prop_assert!(close, "{:?} {:?}", op, dir);
                    }
                    (Err(_), Err(_)) => {}
                    _ => prop_assert!(false, "one path failed for {:?} {:?}", op, dir),
                }
            }
        }
    }

    #[test]
    fn transpose_and_slice_agree(a in dims().prop_flat_map(|(r, c)| mat(r, c)), r0 in 0usize..9, c0 in 0usize..9) {
        prop_assert!(same(&transpose(&a), &transpose(&sp(&a))));
        prop_assert!(same(&transpose(&transpose(&a)), &a));
        let (r0, c0) = (r0 % a.rows(), c0 % a.cols());
        let (rows, cols) = (r0..a.rows(), c0..a.cols());
        prop_assert!(same(&slice(&a, rows.clone(), cols.clone()).unwrap(), &slice(&sp(&a), rows, cols).unwrap()));
    }

    #[test]
    fn matmul_dense_sparse_agree((a, b) in (1usize..12, 1usize..12, 1usize..12)
                                 .prop_flat_map(|(m, k, n)| (mat(m, k), mat(k, n)))) {
        let d = matmul(&a, &b).unwrap();
        prop_assert!(same(&d, &matmul(&sp(&a), &b).unwrap()));
        prop_assert!(same(&d, &matmul(&a, &sp(&b)).unwrap()));
        prop_assert!(same(&d, &matmul(&sp(&a), &sp(&b)).unwrap()));
        let at = transpose(&a);
        prop_assert!(same(&tsmm(&a, true), &matmul(&at, &a).unwrap()));
        prop_assert!(same(&tsmm(&a, false), &matmul(&a, &at).unwrap()));
        prop_assert!(same(&tsmm(&sp(&a), true), &matmul(&at, &a).unwrap()));
        prop_assert!(same(&tsmm(&sp(&a), false), &matmul(&a, &at).unwrap()));
    }
}
