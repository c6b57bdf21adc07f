//! Output shapes of each op from its input shapes (logical, channels last, without the batch
//! dimension). The importers call this for every node they add, so a model whose config does not
//! fit together is an error that names the layer, before any DML is written.

use crate::convert::ir::{BiMerge, MergeKind, Op, Pads};

/// The output shapes of `op` applied to inputs of `inputs` shapes.
pub fn infer(op: &Op, inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>, String> {
    let one = |s: Vec<usize>| Ok(vec![s]);
    let x = || inputs.first().copied().ok_or_else(|| "the layer has no input".to_string());
    match op {
        Op::Dense { units, .. } => {
            let s = x()?;
            let mut out = s.to_vec();
            match out.last_mut() {
                Some(last) => *last = *units,
                None => return Err("Dense needs an input of rank 1 or more".into()),
            }
            one(out)
        }
        Op::Activation(_)
        | Op::PRelu { .. }
        | Op::Dropout { .. }
        | Op::SpatialDropout { .. }
        | Op::GaussianNoise { .. }
        | Op::GaussianDropout { .. }
        | Op::BatchNorm { .. }
        | Op::LayerNorm { .. }
        | Op::Relayout { .. } => one(x()?.to_vec()),
        Op::Flatten => one(vec![x()?.iter().product()]),
        Op::Reshape { target } => {
            let s = x()?;
            let (have, want) = (s.iter().product::<usize>(), target.iter().product::<usize>());
            if have != want {
                return Err(format!("cannot reshape {s:?} ({have} cells) to {target:?} ({want} cells)"));
            }
            one(target.clone())
        }
        Op::Permute { dims } => {
            let s = x()?;
            let mut sorted = dims.clone();
            sorted.sort_unstable();
            if sorted != (1..=s.len()).collect::<Vec<_>>() {
                return Err(format!("Permute dims {dims:?} are not a permutation of 1..{}", s.len()));
            }
            one(dims.iter().map(|&d| s[d - 1]).collect())
        }
        Op::RepeatVector { n } => match x()? {
            [d] => one(vec![*n, *d]),
            s => Err(format!("RepeatVector needs a vector input, got {s:?}")),
        },
        Op::Conv2D { filters, kernel, strides, pads, .. } => {
            let [h, w, _c] = image(x()?)?;
            let (p, q) = conv_out([h, w], *kernel, *strides, pads)?;
            one(vec![p, q, *filters])
        }
        Op::GroupedConv2D { filters, kernel, strides, dilations, pads, .. } => {
            let [h, w, _c] = image(x()?)?;
            let k = [(kernel[0] - 1) * dilations[0] + 1, (kernel[1] - 1) * dilations[1] + 1];
            let (p, q) = conv_out([h, w], k, *strides, pads)?;
            one(vec![p, q, *filters])
        }
        Op::Conv1D { filters, kernel, stride, pads, .. } => {
            let [t, _c] = seq(x()?)?;
            let (_, q) = conv_out([1, t], [1, *kernel], [1, *stride], pads)?;
            one(vec![q, *filters])
        }
        Op::Conv2DTranspose { filters, out_hw, groups, .. } => {
            let [_, _, c] = image(x()?)?;
            if *groups == 0 || c % groups != 0 || filters % groups != 0 {
                return Err(format!(
                    "{groups} groups do not divide {c} input channels and {filters} filters"
                ));
            }
            one(vec![out_hw[0], out_hw[1], *filters])
        }
        Op::DepthwiseConv2D { depth_multiplier, kernel, strides, pads, .. } => {
            let [h, w, c] = image(x()?)?;
            let (p, q) = conv_out([h, w], *kernel, *strides, pads)?;
            one(vec![p, q, c * depth_multiplier])
        }
        Op::SeparableConv2D { filters, kernel, strides, pads, .. } => {
            let [h, w, _] = image(x()?)?;
            let (p, q) = conv_out([h, w], *kernel, *strides, pads)?;
            one(vec![p, q, *filters])
        }
        Op::Pool2D { pool, strides, pads, .. } => {
            let [h, w, c] = image(x()?)?;
            let (p, q) = conv_out([h, w], *pool, *strides, pads)?;
            one(vec![p, q, c])
        }
        Op::Pool1D { pool, stride, pads, .. } => {
            let [t, c] = seq(x()?)?;
            let (_, q) = conv_out([1, t], [1, *pool], [1, *stride], pads)?;
            one(vec![q, c])
        }
        Op::GlobalPool { rank, .. } => {
            let s = x()?;
            if s.len() != rank + 1 {
                return Err(format!(
                    "global pooling over {rank} axes needs a rank-{} input, got {s:?}",
                    rank + 1
                ));
            }
            one(vec![s[s.len() - 1]])
        }
        Op::ZeroPadding2D { pads } => {
            let [h, w, c] = image(x()?)?;
            one(vec![h + pads[0] + pads[1], w + pads[2] + pads[3], c])
        }
        Op::Cropping2D { crops } => {
            let [h, w, c] = image(x()?)?;
            if crops[0] + crops[1] >= h || crops[2] + crops[3] >= w {
                return Err(format!("cropping {crops:?} leaves nothing of a {h}x{w} image"));
            }
            one(vec![h - crops[0] - crops[1], w - crops[2] - crops[3], c])
        }
        Op::UpSampling2D { size } => {
            let [h, w, c] = image(x()?)?;
            one(vec![h * size[0], w * size[1], c])
        }
        Op::Embedding { output_dim, .. } => {
            let s = x()?;
            let mut out = s.to_vec();
            out.push(*output_dim);
            one(out)
        }
        Op::SimpleRnn { units, return_sequences, .. }
        | Op::Lstm { units, return_sequences, .. }
        | Op::Gru { units, return_sequences, .. } => {
            let [t, _d] = seq(x()?)?;
            one(if *return_sequences { vec![t, *units] } else { vec![*units] })
        }
        Op::Bidirectional { inner, merge } => {
            let mut s = infer(inner, inputs)?.remove(0);
            if *merge == BiMerge::Concat
                && let Some(last) = s.last_mut()
            {
                *last *= 2;
            }
            one(s)
        }
        Op::TimeDistributed { inner } => {
            let s = x()?;
            let Some((&t, step)) = s.split_first() else {
                return Err("TimeDistributed needs an input with a time axis".into());
            };
            let mut out = vec![t];
            out.extend(infer(inner, &[step])?.remove(0));
            one(out)
        }
        Op::StepSlices { steps, blocks } => {
            let cells: usize = x()?.iter().product();
            if *steps == 0 || !cells.is_multiple_of(*steps) {
                return Err(format!("{cells} cells are not {steps} steps"));
            }
            let k = cells / steps;
            if let Some(b) = blocks.iter().find(|[t, first, width]| t >= steps || first + width > k) {
                return Err(format!("block {b:?} is outside {steps} steps of {k} cells"));
            }
            one(vec![blocks.iter().map(|b| b[2]).sum()])
        }
        Op::Merge(kind) => merge_shape(*kind, inputs).map(|s| vec![s]),
        Op::Arith { shape, .. } => one(shape.clone()),
        Op::Caffe(op) => op.infer(inputs),
    }
}

fn image(s: &[usize]) -> Result<[usize; 3], String> {
    match s {
        [h, w, c] => Ok([*h, *w, *c]),
        _ => Err(format!("needs an image input (height, width, channels), got shape {s:?}")),
    }
}

fn seq(s: &[usize]) -> Result<[usize; 2], String> {
    match s {
        [t, d] => Ok([*t, *d]),
        _ => Err(format!("needs a sequence input (steps, features), got shape {s:?}")),
    }
}

/// Output size of a window op with resolved pads (`floor((H + pads - k) / s) + 1`).
pub fn conv_out(hw: [usize; 2], k: [usize; 2], s: [usize; 2], pads: &Pads) -> Result<(usize, usize), String> {
    let dim = |n: usize, lo: usize, hi: usize, k: usize, s: usize| -> Result<usize, String> {
        let padded = n + lo + hi;
        if padded < k || s == 0 {
            return Err(format!(
                "a window of {k} with stride {s} does not fit an input of {n} (padded {padded})"
            ));
        }
        Ok((padded - k) / s + 1)
    };
    Ok((dim(hw[0], pads[0], pads[1], k[0], s[0])?, dim(hw[1], pads[2], pads[3], k[1], s[1])?))
}

/// Keras's padding for one axis: `'valid'` is none; `'same'` gives `ceil(n / s)` outputs and puts
/// the odd cell after (bottom/right), as TensorFlow and JAX do.
pub fn same_pads(n: usize, k: usize, s: usize) -> (usize, usize) {
    let out = n.div_ceil(s.max(1));
    let total = ((out.saturating_sub(1)) * s + k).saturating_sub(n);
    (total / 2, total - total / 2)
}

fn merge_shape(kind: MergeKind, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
    let first = inputs.first().ok_or("a merge layer needs inputs")?;
    if inputs.len() < 2 && !matches!(kind, MergeKind::Concatenate(_)) {
        return Err("a merge layer needs at least two inputs".into());
    }
    match kind {
        MergeKind::Concatenate(axis) => {
            let rank = first.len() as i64;
            let a = if axis < 0 { rank + axis } else { axis - 1 };
            if a < 0 || a >= rank {
                return Err(format!("concatenation axis {axis} is out of range for rank {}", rank + 1));
            }
            let a = a as usize;
            let mut out = first.to_vec();
            out[a] = 0;
            for s in inputs {
                if s.len() != first.len() || s.iter().enumerate().any(|(i, d)| i != a && *d != first[i]) {
                    return Err(format!("cannot concatenate shapes {inputs:?} along axis {axis}"));
                }
                out[a] += s[a];
            }
            Ok(out)
        }
        _ => {
            if inputs.iter().any(|s| s != first) {
                return Err(format!("merged inputs must have the same shape, got {inputs:?}"));
            }
            Ok(first.to_vec())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_puts_the_odd_cell_after() {
        // k=3 s=2 on 8: 4 outputs, 1 cell of padding, at the end.
        assert_eq!(same_pads(8, 3, 2), (0, 1));
        assert_eq!(same_pads(8, 3, 1), (1, 1));
        assert_eq!(same_pads(5, 2, 1), (0, 1));
        assert_eq!(same_pads(7, 3, 3), (1, 1));
    }

    #[test]
    fn conv_shapes_follow_keras() {
        let op = Op::Conv2D { filters: 4, kernel: [5, 5], strides: [1, 1], pads: [0; 4], use_bias: true };
        assert_eq!(infer(&op, &[&[28, 28, 1]]).unwrap(), vec![vec![24, 24, 4]]);
        assert!(infer(&op, &[&[3, 3, 1]]).is_err());
    }
}
