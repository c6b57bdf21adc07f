//! The kernel against the unfused evaluation of the same body, on inputs that take the fallback
//! (sparse storage) and the fast paths.

use super::*;
use crate::types::ops::{BinOp, UnOp};

/// `sum(exp(a * b) - 1)` or its cells, over inputs a, b.
fn body(out: FusedOut) -> FusedBody {
    FusedBody {
        kind: FusedKind::Cell,
        steps: vec![
            FStep::Input(0),
            FStep::Input(1),
            FStep::Binary(BinOp::Mul, 0, 1),
            FStep::Unary(UnOp::Exp, 2),
            FStep::Const(1.0),
            FStep::Binary(BinOp::Sub, 3, 4),
        ],
        outputs: vec![(5, out)],
        ninputs: 2,
        driver: None,
    }
}

fn cells(m: &Out) -> Vec<u64> {
    match m {
        Out::Matrix(m) => m.dense_data().iter().map(|x| x.to_bits()).collect(),
        Out::Scalar(s) => vec![s.to_bits()],
    }
}

#[test]
fn fast_path_gives_the_unfused_bits() {
    for (r, c) in [(3, 5), (2, 2500), (300, 300)] {
        let a = Matrix::from_vec(r, c, (0..r * c).map(|i| ((i as f64) * 0.37).sin()).collect());
        let b = Matrix::from_vec(1, c, (0..c).map(|j| (j as f64) * 0.01 - 0.3).collect());
        for out in [
            FusedOut::Cells,
            FusedOut::Agg(AggOp::Sum, AggDir::All),
            FusedOut::Agg(AggOp::Max, AggDir::Row),
            FusedOut::Agg(AggOp::Mean, AggDir::Col),
            FusedOut::Agg(AggOp::SumSq, AggDir::Row),
        ] {
            let body = body(out);
            let args = [Arg::Matrix(&a), Arg::Matrix(&b)];
            let fast = Dense::new(&body, &args).expect("fast path").run();
            let slow = unfused::eval(&body, &args).expect("unfused");
            assert_eq!(cells(&fast[0]), cells(&slow[0]), "{r}x{c} {out:?}");
        }
    }
}

#[test]
fn sparse_inputs_take_the_unfused_operators() {
    let a = Matrix::from_vec(4, 6, (0..24).map(|i| if i % 5 == 0 { i as f64 } else { 0.0 }).collect())
        .examine_format();
    assert!(a.is_sparse());
    let b = Matrix::filled(4, 6, 0.5);
    let body = body(FusedOut::Agg(AggOp::Sum, AggDir::All));
    let args = [Arg::Matrix(&a), Arg::Matrix(&b)];
    assert!(Dense::new(&body, &args).is_none());
    let got = run(&body, &args).expect("runs");
    let want: f64 = (0..24).map(|i| if i % 5 == 0 { (i as f64 * 0.5).exp() - 1.0 } else { 0.0 }).sum();
    match got[0] {
        Out::Scalar(s) => assert!((s - want).abs() <= 1e-12 * want.abs()),
        _ => panic!("a scalar"),
    }
}

#[test]
fn registers_are_reused_after_their_last_read() {
    let (reg_of, nregs) = allocate_registers(&body(FusedOut::Cells));
    // Inputs, product, exp, difference: the product's register is free once exp has read it.
    assert!(nregs <= 4, "{reg_of:?}");
    assert_ne!(reg_of[3], reg_of[5]);
}

/// Written over a dying input (`run_over`), the result has the bits of a fresh output, whether
/// the donor is the left or right operand, in one band or in parallel row bands and pieces of
/// long rows; a body whose fast path declines writes nothing.
#[test]
fn result_over_the_donor_gives_the_fresh_bits() {
    for (r, c) in [(3, 5), (2, 2500), (700, 300)] {
        let a = Matrix::from_vec(r, c, (0..r * c).map(|i| ((i as f64) * 0.37).sin()).collect());
        let full_b = Matrix::from_vec(r, c, (0..r * c).map(|i| (i as f64) * 1e-4 - 0.2).collect());
        let row_b = Matrix::from_vec(1, c, (0..c).map(|j| (j as f64) * 0.01 - 0.3).collect());
        for b in [&full_b, &row_b] {
            let body = body(FusedOut::Cells);
            let args = [Arg::Matrix(&a), Arg::Matrix(b)];
            let want = cells(&run(&body, &args).expect("runs")[0]);
            for donor in [0, 1] {
                let d = if donor == 0 { &a } else { b };
                if (d.rows(), d.cols()) != (r, c) {
                    continue;
                }
                let mut over = d.dense_data().into_owned();
                let mut args = [Arg::Matrix(&a), Arg::Matrix(b)];
                args[donor] = Arg::Scalar(f64::NAN);
                assert!(run_over(&body, &args, donor, r, c, &mut over), "{r}x{c} donor {donor}");
                let got: Vec<u64> = over.iter().map(|x| x.to_bits()).collect();
                assert_eq!(got, want, "{r}x{c} donor {donor}");
            }
        }
    }
    // A sparse other input: the fast path declines and the donor is untouched.
    let a = Matrix::filled(4, 6, 0.25);
    let s = Matrix::from_vec(4, 6, (0..24).map(|i| if i % 5 == 0 { 1.0 } else { 0.0 }).collect())
        .examine_format();
    assert!(s.is_sparse());
    let mut over = a.dense_data().into_owned();
    let body = body(FusedOut::Cells);
    assert!(!run_over(&body, &[Arg::Scalar(0.0), Arg::Matrix(&s)], 0, 4, 6, &mut over));
    assert!(over.iter().all(|&x| x == 0.25));
}
