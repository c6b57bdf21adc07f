//! The loops a fused body's steps run over one chunk of cells: one tight loop per step, with the
//! operator known inside the loop (so it vectorizes) and compiled for the widest vector
//! instructions the CPU has (`kernels::simd`). Each cell gets exactly `BinOp::apply` /
//! `UnOp::apply` of its operands, the functions the unfused kernels use.

use std::mem::MaybeUninit;

use crate::kernels::simd;
use crate::types::ops::{BinOp, UnOp};

// The operator-specialized closures of `kernels::elementwise`, so the cells are the same bits.
use crate::kernels::elementwise::{with_binop, with_unop};

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
