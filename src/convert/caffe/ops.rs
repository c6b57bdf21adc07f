//! Caffe's layers whose semantics the shared ops lack, as one [`Op::Caffe`] family: shapes,
//! layouts (they compute on nn's channels-first rows, which is Caffe's own NCHW order) and the
//! emitters in [`super::emit`].
//!
//! Logical shapes follow the graph's convention: a Caffe blob `(C, H, W)` is `[H, W, C]` held
//! channels-first, so its DML row is exactly Caffe's NCHW flattening; a vector `(D)` is `[D]`.
//!
//! [`Op::Caffe`]: crate::convert::ir::Op::Caffe

use crate::convert::ir::Layout;

#[derive(Debug, Clone, PartialEq)]
pub enum CaffeOp {
    /// Convolution with groups and dilation (the plain case is the shared `Conv2D`). Params:
    /// W `(F, (C/group)*kh*kw)` (Caffe's blob as is), b `(F, 1)` if `bias`.
    Conv {
        filters: usize,
        kernel: [usize; 2],
        strides: [usize; 2],
        pads: [usize; 2],
        dilation: [usize; 2],
        group: usize,
        bias: bool,
    },
    /// Average pooling as Caffe computes it: windows start at `-pad`, the divisor counts the
    /// window's cells inside the padded frame (`H + 2*pad`), not those past it that ceil mode adds.
    AvePool { kernel: [usize; 2], strides: [usize; 2], pads: [usize; 2], out: [usize; 2] },
    /// Caffe's BatchNorm (no scale and shift: a Scale layer follows). Params: the running sums of
    /// the mean `(C, 1)` and of the unbiased variance `(C, 1)`, and their scale factor `(1, 1)`:
    /// the statistics are the sums divided by the factor (Caffe's three blobs).
    BatchNorm { eps: f64, moving_average_fraction: f64, use_global_stats: Option<bool> },
    /// Per-channel scale (and shift with `bias`). Params: gamma `(C, 1)`, beta `(C, 1)`.
    Scale { bias: bool },
    /// Local response normalization across channels:
    /// `x / (k + alpha/size * sum of x^2 over the size channels around)^beta`.
    Lrn { size: usize, alpha: f64, beta: f64, k: f64 },
    /// Eltwise SUM with coefficients.
    WeightedSum { coeffs: Vec<f64> },
    /// Reshape in Caffe's (NCHW) order: the data do not move.
    Reshape { target: Vec<usize> },
}

impl CaffeOp {
    pub fn infer(&self, inputs: &[&[usize]]) -> Result<Vec<Vec<usize>>, String> {
        let x = inputs.first().copied().ok_or("the layer has no input")?;
        let image = || -> Result<[usize; 3], String> {
            match x {
                [h, w, c] => Ok([*h, *w, *c]),
                s => Err(format!("needs an image input (C, H, W), got {} axes", s.len())),
            }
        };
        match self {
            CaffeOp::Conv { filters, kernel, strides, pads, dilation, group, .. } => {
                let [h, w, c] = image()?;
                if c % group != 0 || filters % group != 0 {
                    return Err(format!(
                        "group {group} divides neither the {c} input channels nor the {filters} outputs"
                    ));
                }
                let mut out = [0; 2];
                for (a, n) in [h, w].into_iter().enumerate() {
                    let ke = dilation[a] * (kernel[a] - 1) + 1;
                    if n + 2 * pads[a] < ke {
                        return Err(format!(
                            "the dilated kernel ({ke}) is larger than the padded input ({})",
                            n + 2 * pads[a]
                        ));
                    }
                    out[a] = (n + 2 * pads[a] - ke) / strides[a] + 1;
                }
                Ok(vec![vec![out[0], out[1], *filters]])
            }
            CaffeOp::AvePool { out, .. } => {
                let [_, _, c] = image()?;
                Ok(vec![vec![out[0], out[1], c]])
            }
            CaffeOp::BatchNorm { .. } | CaffeOp::Scale { .. } => Ok(vec![x.to_vec()]),
            CaffeOp::Lrn { .. } => {
                image()?;
                Ok(vec![x.to_vec()])
            }
            CaffeOp::WeightedSum { coeffs } => {
                if coeffs.len() != inputs.len() {
                    return Err(format!("{} coefficients for {} inputs", coeffs.len(), inputs.len()));
                }
                if inputs.iter().any(|s| *s != x) {
                    return Err(format!("inputs of different shapes: {inputs:?}"));
                }
                Ok(vec![x.to_vec()])
            }
            CaffeOp::Reshape { target } => {
                let (have, want) = (x.iter().product::<usize>(), target.iter().product::<usize>());
                if have != want {
                    return Err(format!("cannot reshape {have} values into {want}"));
                }
                Ok(vec![target.clone()])
            }
        }
    }

    /// The layout the op wants its input in: Caffe's order (channels first) for images; vectors
    /// row-major (the same order).
    pub fn required(&self, shape: &[usize]) -> Layout {
        if shape.len() >= 2 { Layout::ChannelsFirst } else { Layout::RowMajor }
    }

    pub fn produced(&self, input: &Layout) -> Layout {
        match self {
            CaffeOp::Reshape { target } if target.len() >= 2 => Layout::ChannelsFirst,
            CaffeOp::Reshape { .. } => Layout::RowMajor,
            CaffeOp::Conv { .. } | CaffeOp::AvePool { .. } | CaffeOp::Lrn { .. } => Layout::ChannelsFirst,
            _ => input.clone(),
        }
    }
}

/// A Caffe blob shape without its batch axis, `(C, H, W)` or `(D)` or `(C, H)`, as a logical shape.
pub fn logical(caffe: &[usize]) -> Vec<usize> {
    match caffe.split_first() {
        Some((c, rest)) if !rest.is_empty() => {
            let mut s = rest.to_vec();
            s.push(*c);
            s
        }
        _ => caffe.to_vec(),
    }
}

/// The Caffe shape (without batch) of a logical shape.
pub fn caffe_shape(logical: &[usize]) -> Vec<usize> {
    match logical.split_last() {
        Some((c, rest)) if !rest.is_empty() => {
            let mut s = vec![*c];
            s.extend_from_slice(rest);
            s
        }
        _ => logical.to_vec(),
    }
}

/// Caffe's pooling output size along one axis: ceil mode (the default) rounds up, then drops a
/// last window that would start in the padding; floor mode rounds down.
pub fn pool_out(n: usize, k: usize, s: usize, p: usize, ceil: bool) -> Result<usize, String> {
    if n + 2 * p < k {
        return Err(format!("the pooling window ({k}) is larger than the padded input ({})", n + 2 * p));
    }
    let span = n + 2 * p - k;
    let mut out = if ceil { span.div_ceil(s) + 1 } else { span / s + 1 };
    if p > 0 && (out - 1) * s >= n + p {
        out -= 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_sizes_follow_caffe() {
        // LeNet: 24 -> 12 with 2x2 stride 2; AlexNet: 55 -> 27 with 3x3 stride 2 (ceil).
        assert_eq!(pool_out(24, 2, 2, 0, true).unwrap(), 12);
        assert_eq!(pool_out(55, 3, 2, 0, true).unwrap(), 27);
        // Ceil mode adds the partial window that floor mode drops: 6 with 3x3 stride 2.
        assert_eq!(pool_out(6, 3, 2, 0, true).unwrap(), 3);
        assert_eq!(pool_out(6, 3, 2, 0, false).unwrap(), 2);
        // A window that would start inside the padding is dropped: 5, k 2, s 2, pad 1.
        assert_eq!(pool_out(5, 2, 2, 1, true).unwrap(), 3);
    }

    #[test]
    fn shapes_go_between_caffe_and_logical_order() {
        assert_eq!(logical(&[3, 4, 5]), vec![4, 5, 3]);
        assert_eq!(caffe_shape(&[4, 5, 3]), vec![3, 4, 5]);
        assert_eq!(logical(&[7]), vec![7]);
    }
}
