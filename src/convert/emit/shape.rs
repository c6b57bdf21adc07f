//! Emitters of the shape ops (Reshape, Permute, RepeatVector, StepSlices).
//!
//! A Reshape moves no data: Keras reshapes row-major, and the layout pass hands it a row-major
//! tensor, or a channels-first one whose channels stay the last axis (the same cell order), or
//! flattens one as Flatten does. Permute and RepeatVector are products with 0/1 matrices
//! (`stdlib-nn/keras/shape.dml`), exact and sparse.

use super::{Cx, int};
use crate::convert::error::ConvertError;
use crate::convert::ir::{Layout, Node, Op};

pub fn forward(cx: &mut Cx, node: &Node) -> Result<(), ConvertError> {
    let (x, out) = (cx.input(node, 0), cx.output(node, 0));
    match &node.op {
        Op::Reshape { .. } => {
            cx.comment("The cells keep their order.");
            cx.line(format!("{out} = {x}"));
        }
        Op::Permute { dims } => match permutation(cx, node, dims) {
            None => {
                cx.comment(format!("Permute{dims:?} leaves the cells of the input's rows in place."));
                cx.line(format!("{out} = {x}"));
            }
            Some((from, perm)) => {
                let alias = cx.src("keras/shape.dml", "keras_shape");
                let p = cx.cache(node, "perm");
                cx.line(format!(
                    "{p} = {alias}::permutation({}, {})",
                    dims_literal(&from),
                    dims_literal(&perm)
                ));
                cx.line(format!("{out} = {x} %*% {p}"));
            }
        },
        Op::RepeatVector { n } => {
            let alias = cx.src("keras/shape.dml", "keras_shape");
            let e = cx.cache(node, "rep");
            let d = cx.g.tensors[node.inputs[0]].width();
            cx.line(format!("{e} = {alias}::repetition({}, {})", int(d), int(*n)));
            cx.line(format!("{out} = {x} %*% {e}"));
        }
        Op::StepSlices { steps, blocks } => {
            let k = cx.g.tensors[node.inputs[0]].width() / steps;
            if is_reversal(*steps, k, blocks) {
                let seq = cx.src("keras/sequence.dml", "keras_seq");
                cx.comment("The steps in reverse order.");
                cx.line(format!("{out} = {seq}::reverse_steps({x}, {})", int(*steps)));
            } else {
                let parts: Vec<String> = blocks
                    .iter()
                    .map(|&[t, first, width]| {
                        let lo = t * k + first + 1;
                        format!("{x}[, {}:{}]", int(lo), int(lo + width - 1))
                    })
                    .collect();
                cx.comment(format!("Cells of single steps ([step, first, width], 0-based): {blocks:?}."));
                cx.line(format!("{out} = {}", cbind_all(&parts)));
            }
        }
        _ => unreachable!("dispatched by emit::forward"),
    }
    Ok(())
}

pub fn backward(cx: &mut Cx, node: &Node) -> Result<(), ConvertError> {
    let dout = cx.dout(node, 0);
    match &node.op {
        Op::Reshape { .. } => cx.add_input_grad(node, 0, &dout),
        Op::Permute { dims } => match permutation(cx, node, dims) {
            None => cx.add_input_grad(node, 0, &dout),
            Some(_) => {
                let p = cx.cache(node, "perm");
                cx.add_input_grad(node, 0, &format!("{dout} %*% t({p})"));
            }
        },
        Op::RepeatVector { .. } => {
            // Each input cell feeds n outputs: their gradients add up.
            let e = cx.cache(node, "rep");
            cx.add_input_grad(node, 0, &format!("{dout} %*% t({e})"));
        }
        Op::StepSlices { steps, blocks } => {
            let width = cx.g.tensors[node.inputs[0]].width();
            let k = width / steps;
            if is_reversal(*steps, k, blocks) {
                let seq = cx.src("keras/sequence.dml", "keras_seq");
                cx.add_input_grad(node, 0, &format!("{seq}::reverse_steps({dout}, {})", int(*steps)));
            } else {
                // Zeros but where the blocks were read (a cell read twice gets both gradients).
                let dx = cx.cache(node, "dx");
                cx.line(format!("{dx} = matrix(0, rows=nrow({dout}), cols={})", int(width)));
                let mut at = 0;
                for &[t, first, w] in blocks {
                    let lo = t * k + first + 1;
                    let hi = lo + w - 1;
                    cx.line(format!(
                        "{dx}[, {lo}:{hi}] = {dx}[, {lo}:{hi}] + {dout}[, {}:{}]",
                        int(at + 1),
                        int(at + w)
                    ));
                    at += w;
                }
                cx.add_input_grad(node, 0, &dx);
            }
        }
        _ => unreachable!("dispatched by emit::backward"),
    }
    Ok(())
}

/// The permutation Keras's `Permute(dims)` makes of the cells as the input's DML matrix holds
/// them: the shape in that order and, for each output axis, the axis of that shape it takes
/// (1-based); `None` when it leaves the cells in place. A channels-first input holds its last
/// logical axis first, so `Permute((3, 1, 2))` of such an image moves nothing.
fn permutation(cx: &Cx, node: &Node, dims: &[usize]) -> Option<(Vec<usize>, Vec<usize>)> {
    let shape = cx.in_shape(node, 0);
    let k = shape.len();
    // The layout pass gives a row-major tensor whose first axis moves last the channels-first
    // layout: the cells stay where they are.
    if cx.g.tensors[node.inputs[0]].layout == Layout::RowMajor
        && cx.g.tensors[node.outputs[0]].layout == Layout::ChannelsFirst
        && crate::convert::layout::moves_first_last(dims)
    {
        return None;
    }
    let (from, perm): (Vec<usize>, Vec<usize>) =
        if cx.g.tensors[node.inputs[0]].layout == Layout::ChannelsFirst {
            let mut from = vec![shape[k - 1]];
            from.extend_from_slice(&shape[..k - 1]);
            (from, dims.iter().map(|&a| if a == k { 1 } else { a + 1 }).collect())
        } else {
            (shape.to_vec(), dims.to_vec())
        };
    // Axes of size 1 move no cells; the rest must keep their order.
    let moved: Vec<usize> = perm.iter().copied().filter(|&a| from[a - 1] > 1).collect();
    if moved.windows(2).all(|w| w[0] < w[1]) { None } else { Some((from, perm)) }
}

/// Whether the blocks are every step whole, last to first.
fn is_reversal(steps: usize, k: usize, blocks: &[[usize; 3]]) -> bool {
    steps > 1 && blocks.len() == steps && blocks.iter().enumerate().all(|(i, b)| *b == [steps - 1 - i, 0, k])
}

/// The parts side by side (`cbind` takes any number of matrices).
fn cbind_all(parts: &[String]) -> String {
    match parts {
        [one] => one.clone(),
        _ => format!("cbind({})", parts.join(", ")),
    }
}

/// A `1 x k` DML matrix literal of integers.
pub(crate) fn dims_literal(dims: &[usize]) -> String {
    let v: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    format!("matrix(\"{}\", rows=1, cols={})", v.join(" "), dims.len())
}
