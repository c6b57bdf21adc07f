//! The loops a fused body's steps run over one chunk of cells: one tight loop per step, with the
//! operator known inside the loop (so it vectorizes) and compiled for the widest vector
//! instructions the CPU has (`kernels::simd`). Each cell gets exactly `BinOp::apply` /
//! `UnOp::apply` of its operands, the functions the unfused kernels use.

use std::mem::MaybeUninit;

use crate::kernels::simd;
use crate::types::ops::{BinOp, UnOp};

/// Expands `$body` with `$f` bound to a closure specialized for the operator (the same closures
/// as `kernels::elementwise`, so the cells are the same bits).
macro_rules! with_binop {
    ($op:expr, $f:ident => $body:expr) => {
        match $op {
            BinOp::Add => {
                let $f = |x: f64, y: f64| x + y;
                $body
            }
            BinOp::Sub => {
                let $f = |x: f64, y: f64| x - y;
                $body
            }
            BinOp::Mul => {
                let $f = |x: f64, y: f64| x * y;
                $body
            }
            BinOp::Div => {
                let $f = |x: f64, y: f64| x / y;
                $body
            }
            BinOp::Min => {
                let $f = |x: f64, y: f64| BinOp::Min.apply(x, y);
                $body
            }
            BinOp::Max => {
                let $f = |x: f64, y: f64| BinOp::Max.apply(x, y);
                $body
            }
            BinOp::Gt => {
                let $f = |x: f64, y: f64| BinOp::Gt.apply(x, y);
                $body
            }
            BinOp::Lt => {
                let $f = |x: f64, y: f64| BinOp::Lt.apply(x, y);
                $body
            }
            other => {
                let $f = move |x: f64, y: f64| other.apply(x, y);
                $body
            }
        }
    };
}

macro_rules! with_unop {
    ($op:expr, $f:ident => $body:expr) => {
        match $op {
            UnOp::Neg => {
                let $f = |x: f64| -x;
                $body
            }
            UnOp::Abs => {
                let $f = |x: f64| x.abs();
                $body
            }
            UnOp::Exp => {
                let $f = |x: f64| x.exp();
                $body
            }
            UnOp::Sqrt => {
                let $f = |x: f64| x.sqrt();
                $body
            }
            UnOp::Log => {
                let $f = |x: f64| x.ln();
                $body
            }
            UnOp::Relu => {
                let $f = |x: f64| UnOp::Relu.apply(x);
                $body
            }
            UnOp::Sigmoid => {
                let $f = |x: f64| crate::kernels::dnn::activation::sigmoid_accurate(x);
                $body
            }
            UnOp::Tanh => {
                let $f = |x: f64| crate::kernels::dnn::activation::tanh_accurate(x);
                $body
            }
            other => {
                let $f = move |x: f64| other.apply(x);
                $body
            }
        }
    };
}

/// Views initialized cells as cells to be overwritten.
fn as_out(out: &mut [f64]) -> &mut [MaybeUninit<f64>] {
    // SAFETY: `MaybeUninit<f64>` has the layout of `f64`, and the loops only write initialized
    // values into it, so the cells stay initialized.
    unsafe { &mut *(out as *mut [f64] as *mut [MaybeUninit<f64>]) }
}

/// `out[i] = op(a[i])`.
pub fn unary(op: UnOp, a: &[f64], out: &mut [f64]) {
    with_unop!(op, f => simd::map_into(a, as_out(out), &f))
}

/// `out[i] = op(a[i], b[i])`.
pub fn binary_vv(op: BinOp, a: &[f64], b: &[f64], out: &mut [f64]) {
    with_binop!(op, f => simd::zip_into(a, b, as_out(out), &f))
}

/// `out[i] = op(a[i], s)`.
pub fn binary_vs(op: BinOp, a: &[f64], s: f64, out: &mut [f64]) {
    with_binop!(op, f => simd::map_into(a, as_out(out), &|x| f(x, s)))
}

/// `out[i] = op(s, b[i])`.
pub fn binary_sv(op: BinOp, s: f64, b: &[f64], out: &mut [f64]) {
    with_binop!(op, f => simd::map_into(b, as_out(out), &|y| f(s, y)))
}
