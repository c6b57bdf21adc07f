//! Tests of the stats, linalg and select kernels. Expected values were printed by the reference
//! SystemDS 3.4.0 (`/work/shared/reference/sysds`, scripts quoted beside each test) unless a
//! comment says they were derived by hand.

use dml::kernels::linalg;
use dml::kernels::select::{self, TableArg};
use dml::kernels::stats;
use dml::types::matrix::Matrix;

fn m(rows: usize, cols: usize, v: &[f64]) -> Matrix {
    Matrix::from_vec(rows, cols, v.to_vec())
}

fn col(v: &[f64]) -> Matrix {
    m(v.len(), 1, v)
}

fn cells(x: &Matrix) -> Vec<f64> {
    (0..x.rows()).flat_map(|r| (0..x.cols()).map(move |c| x.get(r, c))).collect()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= tol * (1.0 + b.abs())
}

#[track_caller]
fn assert_cells(x: &Matrix, rows: usize, cols: usize, want: &[f64], tol: f64) {
    assert_eq!((x.rows(), x.cols()), (rows, cols), "shape");
    let got = cells(x);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(close(*g, *w, tol), "cell {i}: got {g}, want {w}; all: {got:?}");
    }
}

const NAN: f64 = f64::NAN;

// ---- table -------------------------------------------------------------------------------
// A = 1 2 2 3 1, B = 1 1 2 3 3; print(toString(table(A, B))) etc.

#[test]
fn table_counts_weights_dims() {
    let a = col(&[1.0, 2.0, 2.0, 3.0, 1.0]);
    let b = col(&[1.0, 1.0, 2.0, 3.0, 3.0]);
    let t = select::table(TableArg::Vector(&a), TableArg::Vector(&b), TableArg::Scalar(1.0), None).unwrap();
    assert_cells(&t, 3, 3, &[1., 0., 1., 1., 1., 0., 0., 0., 1.], 0.0);
    let t = select::table(TableArg::Vector(&a), TableArg::Vector(&b), TableArg::Scalar(1.0), Some((2, 2)))
        .unwrap();
    assert_cells(&t, 2, 2, &[1., 0., 1., 1.], 0.0);
    let t = select::table(TableArg::Vector(&a), TableArg::Scalar(1.0), TableArg::Scalar(1.0), None).unwrap();
    assert_cells(&t, 3, 1, &[2., 2., 1.], 0.0);
    let w = col(&[0.5, 1.0, 2.0, 3.0, 4.0]);
    let t = select::table(TableArg::Vector(&a), TableArg::Vector(&b), TableArg::Vector(&w), None).unwrap();
    assert_cells(&t, 3, 3, &[0.5, 0., 4., 1., 2., 0., 0., 0., 3.], 0.0);
    let t = select::table(TableArg::Vector(&a), TableArg::Vector(&b), TableArg::Scalar(1.0), Some((5, 4)))
        .unwrap();
    assert_cells(
        &t,
        5,
        4,
        &[1., 0., 1., 0., 1., 1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 0., 0., 0., 0., 0.],
        0.0,
    );
}

#[test]
fn table_truncates_skips_nan_and_rejects_small() {
    let b = col(&[1.0, 1.0, 2.0, 3.0, 3.0]);
    // sysds: 1.7 2.2 2 3 1 gives the same table as 1 2 2 3 1.
    let a = col(&[1.7, 2.2, 2.0, 3.0, 1.0]);
    let t = select::table(TableArg::Vector(&a), TableArg::Vector(&b), TableArg::Scalar(1.0), None).unwrap();
    assert_cells(&t, 3, 3, &[1., 0., 1., 1., 1., 0., 0., 0., 1.], 0.0);
    // sysds: NaN in A drops that cell.
    let a = col(&[1.0, 2.0, NAN, 3.0, 1.0]);
    let t = select::table(TableArg::Vector(&a), TableArg::Vector(&b), TableArg::Scalar(1.0), None).unwrap();
    assert_cells(&t, 3, 3, &[1., 0., 1., 1., 0., 0., 0., 0., 1.], 0.0);
    // sysds: 0, -1 and 0.5 are errors ("one of the value <= zero").
    for bad in [0.0, -1.0, 0.5] {
        let a = col(&[bad, 2.0, 2.0, 3.0, 1.0]);
        let e = select::table(TableArg::Vector(&a), TableArg::Vector(&b), TableArg::Scalar(1.0), None)
            .unwrap_err();
        assert!(e.0.contains("<= zero"), "{e}");
    }
    // sysds: weights 1 1 0 1 -1 give [1 0 -1; 1 0 0; 0 0 1], still 3x3.
    let a = col(&[1.0, 2.0, 2.0, 3.0, 1.0]);
    let w = col(&[1.0, 1.0, 0.0, 1.0, -1.0]);
    let t = select::table(TableArg::Vector(&a), TableArg::Vector(&b), TableArg::Vector(&w), None).unwrap();
    assert_cells(&t, 3, 3, &[1., 0., -1., 1., 0., 0., 0., 0., 1.], 0.0);
}

// ---- order -------------------------------------------------------------------------------

#[test]
fn order_is_stable_both_ways() {
    // sysds: X = [3 1; 1 2; 2 3; 2 4; 3 5; 1 6]
    let x = m(6, 2, &[3., 1., 1., 2., 2., 3., 2., 4., 3., 5., 1., 6.]);
    let i = select::order(&x, &[1], true, true).unwrap();
    assert_cells(&i, 6, 1, &[1., 5., 3., 4., 2., 6.], 0.0);
    let i = select::order(&x, &[1], false, true).unwrap();
    assert_cells(&i, 6, 1, &[2., 6., 3., 4., 1., 5.], 0.0);
    let s = select::order(&col(&[3., 1., 2., 2., 3., 1.]), &[1], true, false).unwrap();
    assert_cells(&s, 6, 1, &[3., 3., 2., 2., 1., 1.], 0.0);
    // sysds: multi-column keys Y = [2 1; 1 5; 2 0; 1 5; 2 3], by = (1, 2).
    let y = m(5, 2, &[2., 1., 1., 5., 2., 0., 1., 5., 2., 3.]);
    assert_cells(&select::order(&y, &[1, 2], true, true).unwrap(), 5, 1, &[5., 1., 3., 2., 4.], 0.0);
    assert_cells(&select::order(&y, &[1, 2], false, true).unwrap(), 5, 1, &[2., 4., 3., 1., 5.], 0.0);
    let rows = select::order(&y, &[1, 2], false, false).unwrap();
    assert_cells(&rows, 5, 2, &[1., 5., 1., 5., 2., 0., 2., 1., 2., 3.], 0.0);
}

#[test]
fn order_puts_nan_last() {
    // Our choice (R's na.last): sysds 3.4.0 places NaN inconsistently.
    let x = col(&[3., NAN, 1., 2.]);
    assert_cells(&select::order(&x, &[1], false, true).unwrap(), 4, 1, &[3., 4., 1., 2.], 0.0);
    assert_cells(&select::order(&x, &[1], true, true).unwrap(), 4, 1, &[1., 4., 3., 2.], 0.0);
    assert!(select::order(&x, &[2], false, true).is_err());
}

// ---- removeEmpty, replace, triangles -----------------------------------------------------

#[test]
fn remove_empty_cases() {
    // sysds: M = [0 0 0; 1 0 2; 0 0 0; 0 0 3]
    let x = m(4, 3, &[0., 0., 0., 1., 0., 2., 0., 0., 0., 0., 0., 3.]);
    assert_cells(&select::remove_empty(&x, true, None, true).unwrap(), 2, 3, &[1., 0., 2., 0., 0., 3.], 0.0);
    assert_cells(
        &select::remove_empty(&x, false, None, true).unwrap(),
        4,
        2,
        &[0., 0., 1., 2., 0., 0., 0., 3.],
        0.0,
    );
    let s = col(&[1., 0., 0., 1.]);
    assert_cells(
        &select::remove_empty(&x, true, Some(&s), true).unwrap(),
        2,
        3,
        &[0., 0., 0., 0., 0., 3.],
        0.0,
    );
    let s2 = m(1, 3, &[0., 1., 1.]);
    assert_cells(
        &select::remove_empty(&x, false, Some(&s2), true).unwrap(),
        4,
        2,
        &[0., 0., 0., 2., 0., 0., 0., 3.],
        0.0,
    );
    // sysds: negative select values select too; an all-zero select gives 0 rows.
    let s4 = col(&[2., 0., -1., 0.]);
    assert_cells(&select::remove_empty(&x, true, Some(&s4), true).unwrap(), 2, 3, &[0.; 6], 0.0);
    let none = select::remove_empty(&x, true, Some(&col(&[0.; 4])), true).unwrap();
    assert_eq!((none.rows(), none.cols()), (0, 3));
    // sysds: all-zero 3x2 input: rows → 1x2, cols → 3x1; empty.return=FALSE → 0x2, 3x0.
    let z = Matrix::zeros(3, 2);
    assert_cells(&select::remove_empty(&z, true, None, true).unwrap(), 1, 2, &[0., 0.], 0.0);
    assert_cells(&select::remove_empty(&z, false, None, true).unwrap(), 3, 1, &[0., 0., 0.], 0.0);
    let r = select::remove_empty(&z, true, None, false).unwrap();
    assert_eq!((r.rows(), r.cols()), (0, 2));
    let r = select::remove_empty(&z, false, None, false).unwrap();
    assert_eq!((r.rows(), r.cols()), (3, 0));
    // sysds: a NaN row is not empty.
    let n = m(2, 2, &[NAN, 0., 0., 0.]);
    assert_cells(&select::remove_empty(&n, true, None, true).unwrap(), 1, 2, &[NAN, 0.], 0.0);
    // Sparse input gives the same result.
    let sp = Matrix::Sparse(x.to_csr());
    assert_cells(&select::remove_empty(&sp, true, None, true).unwrap(), 2, 3, &[1., 0., 2., 0., 0., 3.], 0.0);
}

#[test]
fn replace_and_triangles() {
    // sysds: replace(matrix("1 NaN 0 2"), NaN, 9) and pattern 0.
    let x = m(2, 2, &[1., NAN, 0., 2.]);
    assert_cells(&select::replace(&x, NAN, 9.0), 2, 2, &[1., 9., 0., 2.], 0.0);
    assert_cells(&select::replace(&x, 0.0, 9.0), 2, 2, &[1., NAN, 9., 2.], 0.0);
    let sp = Matrix::Sparse(m(2, 3, &[0., 5., 0., 0., 0., 5.]).to_csr());
    assert_cells(&select::replace(&sp, 5.0, 1.0), 2, 3, &[0., 1., 0., 0., 0., 1.], 0.0);
    // sysds: X = [3 1 2; 4 5 6; 7 8 9]
    let x = m(3, 3, &[3., 1., 2., 4., 5., 6., 7., 8., 9.]);
    assert_cells(
        &select::lower_tri(&x, false, false).unwrap(),
        3,
        3,
        &[0., 0., 0., 1., 0., 0., 1., 1., 0.],
        0.0,
    );
    assert_cells(
        &select::lower_tri(&x, true, true).unwrap(),
        3,
        3,
        &[3., 0., 0., 4., 5., 0., 7., 8., 9.],
        0.0,
    );
    assert_cells(
        &select::upper_tri(&x, false, true).unwrap(),
        3,
        3,
        &[0., 1., 2., 0., 0., 6., 0., 0., 0.],
        0.0,
    );
}

// ---- stats -------------------------------------------------------------------------------

#[test]
fn quantiles_and_median() {
    let p = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0];
    // sysds: X = 5 1 4 2 3 8 7 → 1 1 2 4 7 8 8, median 4.0
    let x = col(&[5., 1., 4., 2., 3., 8., 7.]);
    assert_eq!(stats::quantile(&x, None, &p).unwrap(), vec![1., 1., 2., 4., 7., 8., 8.]);
    assert_eq!(stats::median(&x, None).unwrap(), 4.0);
    // sysds: Y = 5 1 4 2 3 8 → 1 1 2 3 5 8 8, median 3.5
    let y = col(&[5., 1., 4., 2., 3., 8.]);
    assert_eq!(stats::quantile(&y, None, &p).unwrap(), vec![1., 1., 2., 3., 5., 8., 8.]);
    assert_eq!(stats::median(&y, None).unwrap(), 3.5);
    // sysds: weights 1 2 1 3 1 2 → 1 1 2 2 5 8 8, median 2.5
    let w = col(&[1., 2., 1., 3., 1., 2.]);
    assert_eq!(stats::quantile(&y, Some(&w), &p).unwrap(), vec![1., 1., 2., 2., 5., 8., 8.]);
    assert_eq!(stats::median(&y, Some(&w)).unwrap(), 2.5);
    assert!(stats::quantile(&y, None, &[1.5]).is_err());
}

#[test]
fn interquartile_mean_matches_sysds() {
    let x = col(&[5., 1., 4., 2., 3., 8., 7.]);
    assert!(close(stats::interquartile_mean(&x, None).unwrap(), 4.071428571428571, 1e-15));
    let y = col(&[5., 1., 4., 2., 3., 8.]);
    assert!(close(stats::interquartile_mean(&y, None).unwrap(), 3.5, 1e-15));
    let w = col(&[1., 2., 1., 3., 1., 2.]);
    assert!(close(stats::interquartile_mean(&y, Some(&w)).unwrap(), 2.9, 1e-15));
    let z = col(&[1., 2., 3., 4., 5., 6., 7., 8.]);
    assert!(close(stats::interquartile_mean(&z, None).unwrap(), 4.5, 1e-15));
}

#[test]
fn moments_and_cov() {
    let y = col(&[5., 1., 4., 2., 3., 8.]);
    let w = col(&[1., 2., 1., 3., 1., 2.]);
    // sysds prints 5.138888888888889, 7.407407407407409, 63.2476851851852 (its incremental
    // algorithm rounds differently in the last digits, hence the tolerance).
    assert!(close(stats::moment(&y, None, 2).unwrap(), 5.138888888888889, 1e-13));
    assert!(close(stats::moment(&y, None, 3).unwrap(), 7.407407407407409, 1e-13));
    assert!(close(stats::moment(&y, None, 4).unwrap(), 63.2476851851852, 1e-13));
    assert!(close(stats::moment(&y, Some(&w), 2).unwrap(), 6.24, 1e-13));
    assert!(close(stats::moment(&y, Some(&w), 3).unwrap(), 12.552000000000007, 1e-13));
    assert!(stats::moment(&y, None, 5).is_err());
    assert!(close(stats::cov(&y, &w, None).unwrap(), -0.4666666666666667, 1e-13));
    assert!(close(stats::cov(&y, &w, Some(&w)).unwrap(), -0.6666666666666665, 1e-13));
}

#[test]
fn grouped_aggregates() {
    let x = col(&[5., 1., 4., 2., 3., 8., 7.]);
    let g = col(&[1., 2., 1., 3., 2., 1., 3.]);
    let w = col(&[1., 2., 1., 3., 1., 2., 1.]);
    let agg = |f: &str, w: Option<&Matrix>, k: Option<usize>, o: Option<u32>| {
        cells(&stats::grouped_aggregate(&x, &g, w, f, k, o).unwrap())
    };
    let approx = |got: Vec<f64>, want: &[f64]| {
        assert!(
            got.iter().zip(want).all(|(a, b)| close(*a, *b, 1e-9)) && got.len() == want.len(),
            "{got:?} vs {want:?}"
        );
    };
    approx(agg("sum", None, None, None), &[17., 4., 9.]);
    approx(agg("count", None, None, None), &[3., 2., 2.]);
    approx(agg("mean", None, None, None), &[5.6666666667, 2.0, 4.5]);
    approx(agg("variance", None, None, None), &[4.3333333333, 2.0, 12.5]);
    approx(agg("centralmoment", None, None, Some(3)), &[2.5925925926, 0.0, 0.0]);
    approx(agg("min", None, None, None), &[4., 1., 2.]);
    approx(agg("max", None, None, None), &[8., 3., 7.]);
    approx(agg("sum", Some(&w), None, None), &[25., 5., 13.]);
    approx(agg("mean", Some(&w), None, None), &[6.25, 1.6666666667, 3.25]);
    approx(agg("variance", Some(&w), None, None), &[4.25, 1.3333333333, 6.25]);
    approx(agg("count", Some(&w), None, None), &[4., 3., 4.]);
    approx(agg("sum", None, Some(5), None), &[17., 4., 9., 0., 0.]);
    approx(agg("sum", None, Some(2), None), &[17., 4.]);
    // sysds: empty groups are 0 for mean and min.
    let g2 = col(&[1., 4., 1., 4., 1., 1., 1.]);
    approx(cells(&stats::grouped_aggregate(&x, &g2, None, "mean", None, None).unwrap()), &[5.4, 0., 0., 1.5]);
    approx(cells(&stats::grouped_aggregate(&x, &g2, None, "min", None, None).unwrap()), &[3., 0., 0., 1.]);
    // sysds: a matrix target (7x2) with ngroups=3.
    let x2 = m(7, 2, &[5., 1., 4., 2., 3., 8., 7., 1., 1., 1., 1., 1., 1., 1.]);
    approx(
        cells(&stats::grouped_aggregate(&x2, &g, None, "sum", Some(3), None).unwrap()),
        &[9., 10., 5., 3., 8., 2.],
    );
    // sysds: X = 3 -1 2.5 7 0.5 3 -1 with weights: min takes w*x; weighted centralmoment.
    let x3 = col(&[3., -1., 2.5, 7., 0.5, 3., -1.]);
    approx(cells(&stats::grouped_aggregate(&x3, &g, Some(&w), "min", None, None).unwrap()), &[2.5, -2., -1.]);
    approx(
        cells(&stats::grouped_aggregate(&x3, &g, Some(&w), "centralmoment", None, Some(2)).unwrap()),
        &[0.046875, 0.5, 12.0],
    );
    // sysds: variance of a one-member group is 0.
    let v = col(&[1., 2., 2., 3., 3.]);
    let gv = col(&[1., 1., 2., 2., 3.]);
    approx(
        cells(&stats::grouped_aggregate(&v, &gv, None, "variance", None, None).unwrap()),
        &[0.5, 0.5, 0.0],
    );
}

/// The one-pass sums of an unweighted dense target give the bits of the general per-column
/// path (forced here by weights of ones), empty and dropped groups included.
#[test]
fn grouped_sums_fast_path_matches_the_general_path() {
    let (rows, cols) = (301, 7);
    let x = m(rows, cols, &(0..rows * cols).map(|k| ((k * k) as f64 * 0.37).sin() * 1e3).collect::<Vec<_>>());
    let g = col(&(0..rows).map(|r| ((r * 7) % 5 + 1) as f64).collect::<Vec<_>>());
    let ones = col(&vec![1.0; rows]);
    for f in ["sum", "count", "mean"] {
        for k in [None, Some(3), Some(7)] {
            let fast = cells(&stats::grouped_aggregate(&x, &g, None, f, k, None).unwrap());
            let general = cells(&stats::grouped_aggregate(&x, &g, Some(&ones), f, k, None).unwrap());
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&general), "{f} ngroups={k:?}");
        }
    }
}

#[test]
fn distinct_counts_and_unique_order() {
    // sysds: X = [1 2 2; 1 NaN 3; 1 2 2; 0 0 NaN]
    let x = m(4, 3, &[1., 2., 2., 1., NAN, 3., 1., 2., 2., 0., 0., NAN]);
    assert_cells(&stats::count_distinct(&x, "rc").unwrap(), 1, 1, &[5.], 0.0);
    assert_cells(&stats::count_distinct(&x, "r").unwrap(), 4, 1, &[2., 3., 2., 2.], 0.0);
    assert_cells(&stats::count_distinct(&x, "c").unwrap(), 1, 3, &[2., 3., 3.], 0.0);
    assert_cells(&stats::unique(&x, "rc").unwrap(), 5, 1, &[1., 2., 0., NAN, 3.], 0.0);
    assert_cells(
        &stats::unique(&x, "r").unwrap(),
        4,
        3,
        &[1., 2., 0., 1., NAN, 3., 1., 2., 0., 0., NAN, 0.],
        0.0,
    );
    assert_cells(&stats::unique(&x, "c").unwrap(), 3, 3, &[1., 2., 2., 0., 0., 3., 0., NAN, NAN], 0.0);
    let u = col(&[3., -1., 2.5, 7., 0.5, 3., -1.]);
    assert_cells(&stats::unique(&u, "rc").unwrap(), 5, 1, &[-1., 0.5, 2.5, 3., 7.], 0.0);
    let v: Vec<f64> = [5, -3, 8, 1, 12, -7, 4, 9, 2, -2, 6, 10, -5, 3, 7, 0, 11, -1, -4, 13]
        .iter()
        .map(|x| f64::from(*x))
        .collect();
    let want: Vec<f64> = [8, 2, -2, 0, 9, 10, 11, -3, 12, 3, 13, 1, 4, -1, -4, 5, -5, 6, -7, 7]
        .iter()
        .map(|x| f64::from(*x))
        .collect();
    assert_cells(&stats::unique(&col(&v), "rc").unwrap(), 20, 1, &want, 0.0);
    assert!(stats::unique(&x, "x").is_err());
}

// ---- linalg ------------------------------------------------------------------------------

fn a3() -> Matrix {
    m(3, 3, &[4., 1., 2., 1., 3., 0., 2., 0., 5.])
}

#[test]
fn solve_inverse_det_lu_cholesky() {
    let y = col(&[1., 2., 3.]);
    let x = linalg::solve(&a3(), &y).unwrap();
    assert_cells(&x, 3, 1, &[-0.302325581395, 0.767441860465, 0.720930232558], 1e-11);
    let inv = linalg::inverse(&a3()).unwrap();
    let want = [
        0.348837209302,
        -0.116279069767,
        -0.139534883721,
        -0.116279069767,
        0.372093023256,
        0.046511627907,
        -0.139534883721,
        0.046511627907,
        0.255813953488,
    ];
    assert_cells(&inv, 3, 3, &want, 1e-11);
    assert!(close(linalg::det(&a3()).unwrap(), 43.0, 1e-14));
    let s = m(2, 2, &[1., 2., 2., 4.]);
    assert_eq!(linalg::det(&s).unwrap(), 0.0);
    // sysds solves the singular system [1 2; 2 4] x = [1; 2] to [0; 0.5] (QR, no rank check).
    assert_cells(&linalg::solve(&s, &col(&[1., 2.])).unwrap(), 2, 1, &[0.0, 0.5], 1e-12);
    // sysds: non-square A is an error.
    assert!(linalg::solve(&m(3, 2, &[1., 2., 3., 4., 5., 6.]), &y).is_err());
    let (p, l, u) = linalg::lu(&a3()).unwrap();
    assert_cells(&p, 3, 3, &[1., 0., 0., 0., 1., 0., 0., 0., 1.], 0.0);
    assert_cells(&l, 3, 3, &[1., 0., 0., 0.25, 1., 0., 0.5, -0.181818181818, 1.], 1e-11);
    assert_cells(&u, 3, 3, &[4., 1., 2., 0., 2.75, -0.5, 0., 0., 3.909090909091], 1e-11);
    let c = linalg::cholesky(&a3()).unwrap();
    assert_cells(
        &c,
        3,
        3,
        &[2., 0., 0., 0.5, 1.658312395178, 0., 1., -0.301511344578, 1.977142106448],
        1e-11,
    );
    // sysds: cholesky([1 2; 2 1]) fails (not positive definite).
    assert!(linalg::cholesky(&m(2, 2, &[1., 2., 2., 1.])).is_err());
}

#[test]
fn lu_pivots_so_that_pa_is_lu() {
    // Hand check: the first pivot is row 2 (|3| > |1|), so P swaps the rows.
    let a = m(2, 2, &[1., 2., 3., 4.]);
    let (p, l, u) = linalg::lu(&a).unwrap();
    assert_cells(&p, 2, 2, &[0., 1., 1., 0.], 0.0);
    assert_cells(&l, 2, 2, &[1., 0., 1.0 / 3.0, 1.], 1e-15);
    assert_cells(&u, 2, 2, &[3., 4., 0., 2.0 - 4.0 / 3.0], 1e-15);
    assert!(close(linalg::det(&a).unwrap(), -2.0, 1e-15));
}

#[test]
fn qr_returns_householder_vectors_and_r() {
    let b = m(3, 2, &[1., 2., 3., 4., 5., 6.]);
    let (h, r) = linalg::qr(&b).unwrap();
    assert_cells(
        &h,
        3,
        2,
        &[1.169030850946, 0., 0.507092552837, 1.113104001165, 0.845154254729, 0.993583154507],
        1e-11,
    );
    assert_cells(&r, 3, 2, &[-5.916079783100, -7.437357441611, 0., 0.828078671211, 0., 0.], 1e-11);
}

/// Compares eigen/singular vectors column by column up to sign (our signs may differ).
#[track_caller]
fn assert_columns_up_to_sign(x: &Matrix, rows: usize, cols: usize, want: &[f64]) {
    assert_eq!((x.rows(), x.cols()), (rows, cols));
    for c in 0..cols {
        let got: Vec<f64> = (0..rows).map(|r| x.get(r, c)).collect();
        let exp: Vec<f64> = (0..rows).map(|r| want[r * cols + c]).collect();
        let same = got.iter().zip(&exp).all(|(g, e)| close(*g, *e, 1e-10));
        let flipped = got.iter().zip(&exp).all(|(g, e)| close(*g, -*e, 1e-10));
        assert!(same || flipped, "column {c}: {got:?} vs {exp:?}");
    }
}

#[test]
fn eigen_ascending() {
    let (w, v) = linalg::eigen(&a3()).unwrap();
    assert_cells(&w, 3, 1, &[1.854897308800, 3.476023602918, 6.669079088282], 1e-11);
    let want = [
        -0.679313061986,
        0.374361954783,
        -0.631178968776,
        0.593233311917,
        0.786435698751,
        -0.172026536793,
        0.431981482759,
        -0.491296263512,
        -0.756320024866,
    ];
    assert_columns_up_to_sign(&v, 3, 3, &want);
    assert!(linalg::eigen(&m(2, 2, &[1., 2., 3., 4.])).is_err());
}

#[test]
fn svd_shapes_and_values() {
    let b = m(3, 2, &[1., 2., 3., 4., 5., 6.]);
    let (u, s, v) = linalg::svd(&b).unwrap();
    assert_columns_up_to_sign(
        &u,
        3,
        2,
        &[0.229847696400, -0.883461017699, 0.524744818760, -0.240782492133, 0.819641941121, 0.401896033433],
    );
    assert_cells(&s, 2, 2, &[9.525518091565, 0., 0., 0.514300580659], 1e-11);
    assert_columns_up_to_sign(&v, 2, 2, &[0.619629483829, 0.784894453267, 0.784894453267, -0.619629483829]);
    // sysds: svd(t(B)) gives U 2x2, S 2x2, V 3x2.
    let bt = m(2, 3, &[1., 3., 5., 2., 4., 6.]);
    let (u, s, v) = linalg::svd(&bt).unwrap();
    assert_eq!((u.rows(), u.cols(), s.rows(), s.cols(), v.rows(), v.cols()), (2, 2, 2, 2, 3, 2));
}
