//! The deep-learning builtins: shape arguments (`input_shape=[N,C,H,W]`, `stride=[sh,sw]`, ...)
//! are checked against the actual matrices, then the kernels run. Images are N x C*H*W, NCHW
//! row-major. The fused forms chosen by rewrites (`_conv2d_bias_add`, `_relu_max_pool`, ...)
//! are here too.

use super::{Args, BuiltinFn::Plain, Impl, err, matrices_out, matrix_out};
use crate::kernels::KResult;
use crate::kernels::dnn::{self, ConvShape, PoolShape};
use crate::runtime::error::{RtError, RtResult};
use crate::types::matrix::Matrix;
use crate::types::value::Value;

pub(super) const IMPLS: &[Impl] = &[
    ("conv2d", Plain(conv2d)),
    ("_conv2d_bias_add", Plain(conv2d_bias_add)),
    ("conv2d_backward_filter", Plain(conv2d_backward_filter)),
    ("conv2d_backward_data", Plain(conv2d_backward_data)),
    ("max_pool", Plain(|a| pool(a, dnn::max_pool))),
    ("avg_pool", Plain(|a| pool(a, dnn::avg_pool))),
    ("_relu_max_pool", Plain(|a| pool(a, dnn::relu_max_pool))),
    ("max_pool_backward", Plain(|a| pool_backward(a, dnn::max_pool_backward))),
    ("avg_pool_backward", Plain(|a| pool_backward(a, dnn::avg_pool_backward))),
    ("_relu_max_pool_backward", Plain(|a| pool_backward(a, dnn::relu_max_pool_backward))),
    ("_relu_max_pool_argmax", Plain(relu_max_pool_argmax)),
    ("_max_pool_backward_at", Plain(max_pool_backward_at)),
    ("_relu_backward", Plain(relu_backward)),
    ("bias_add", Plain(|a| bias(a, dnn::bias_add))),
    ("bias_multiply", Plain(|a| bias(a, dnn::bias_multiply))),
    ("lstm", Plain(lstm)),
    ("lstm_backward", Plain(lstm_backward)),
    ("rnn", Plain(rnn)),
    ("rnn_backward", Plain(rnn_backward)),
    ("gru", Plain(gru)),
    ("gru_backward", Plain(gru_backward)),
    ("batch_norm2d", Plain(batch_norm2d)),
    ("batch_norm2d_backward", Plain(batch_norm2d_backward)),
];

/// The shape list `param` such as `[N, C, H, W]` (or a single number for a square stride or
/// pool), of `len` entries; `default` fills every entry when it is left out.
fn shape(a: &Args, param: &str, len: usize, default: Option<usize>) -> RtResult<Vec<usize>> {
    let nums: Vec<f64> = match a.get(param)? {
        None => match default {
            Some(d) => return Ok(vec![d; len]),
            None => return err(format!("{param} is missing")),
        },
        Some(Value::List(l)) => l
            .items
            .iter()
            .map(|x| {
                x.as_f64()
                    .filter(|_| x.is_scalar())
                    .ok_or_else(|| RtError::new(format!("{param} must hold numbers")))
            })
            .collect::<RtResult<_>>()?,
        Some(Value::Matrix(m)) => {
            (0..m.rows() * m.cols()).map(|i| m.get(i / m.cols(), i % m.cols())).collect()
        }
        Some(x) if x.is_scalar() => vec![x.as_f64().unwrap_or(f64::NAN); len],
        Some(x) => return err(format!("{param} must be a list like [a, b], got a {}", x.kind())),
    };
    if nums.len() != len {
        return err(format!("{param} must have {len} entries, got {}", nums.len()));
    }
    nums.iter()
        .map(|&x| {
            if x >= 0.0 && x.fract() == 0.0 && x.is_finite() {
                Ok(x as usize)
            } else {
                err(format!("{param} must hold non-negative integers, got {x}"))
            }
        })
        .collect()
}

/// The convolution from `input_shape`, `filter_shape`, `stride` and `padding`.
pub(crate) fn conv_shape(a: &Args) -> RtResult<ConvShape> {
    let i = shape(a, "input_shape", 4, None)?;
    let f = shape(a, "filter_shape", 4, None)?;
    let s = shape(a, "stride", 2, Some(1))?;
    let p = shape(a, "padding", 2, Some(0))?;
    if f[1] != i[1] {
        return err(format!("filter_shape has {} channels but input_shape has {}", f[1], i[1]));
    }
    let cs = ConvShape {
        n: i[0],
        c: i[1],
        h: i[2],
        w: i[3],
        f: f[0],
        hf: f[2],
        wf: f[3],
        stride_h: s[0],
        stride_w: s[1],
        pad_h: p[0],
        pad_w: p[1],
    };
    cs.validate()?;
    Ok(cs)
}

/// The pooling from `input_shape`, `pool_size`, `stride` and `padding`.
pub(crate) fn pool_shape(a: &Args) -> RtResult<PoolShape> {
    let i = shape(a, "input_shape", 4, None)?;
    let k = shape(a, "pool_size", 2, None)?;
    let s = shape(a, "stride", 2, Some(1))?;
    let p = shape(a, "padding", 2, Some(0))?;
    let ps = PoolShape {
        n: i[0],
        c: i[1],
        h: i[2],
        w: i[3],
        ph: k[0],
        pw: k[1],
        stride_h: s[0],
        stride_w: s[1],
        pad_h: p[0],
        pad_w: p[1],
    };
    ps.validate()?;
    Ok(ps)
}

/// The input matrix must hold N rows of C*H*W cells.
fn check_input(x: &Matrix, n: usize, chw: usize) -> RtResult<()> {
    if x.rows() != n || x.cols() != chw {
        return err(format!("the input is {}x{}, but the shape arguments say {n}x{chw}", x.rows(), x.cols()));
    }
    Ok(())
}

fn conv2d(a: Args) -> RtResult<Vec<Value>> {
    let (x, w) = (a.matrix("input")?, a.matrix("filter")?);
    let s = conv_shape(&a)?;
    check_input(x, s.n, s.c * s.h * s.w)?;
    matrix_out(dnn::conv2d(x, w, &s)?)
}

fn conv2d_bias_add(a: Args) -> RtResult<Vec<Value>> {
    let (x, w, b) = (a.matrix("input")?, a.matrix("filter")?, a.matrix("bias")?);
    let s = conv_shape(&a)?;
    check_input(x, s.n, s.c * s.h * s.w)?;
    matrix_out(dnn::conv2d_bias_add(x, w, b, &s)?)
}

fn conv2d_backward_filter(a: Args) -> RtResult<Vec<Value>> {
    let (x, dout) = (a.matrix("input")?, a.matrix("dout")?);
    let s = conv_shape(&a)?;
    check_input(x, s.n, s.c * s.h * s.w)?;
    matrix_out(dnn::conv2d_backward_filter(x, dout, &s)?)
}

fn conv2d_backward_data(a: Args) -> RtResult<Vec<Value>> {
    let (w, dout) = (a.matrix("filter")?, a.matrix("dout")?);
    let s = conv_shape(&a)?;
    matrix_out(dnn::conv2d_backward_data(w, dout, &s)?)
}

/// `max_pool`, `avg_pool` and `_relu_max_pool`, computed by `kernel`.
fn pool(a: Args, kernel: fn(&Matrix, &PoolShape) -> KResult<Matrix>) -> RtResult<Vec<Value>> {
    let x = a.matrix("input")?;
    let s = pool_shape(&a)?;
    check_input(x, s.n, s.c * s.h * s.w)?;
    matrix_out(kernel(x, &s)?)
}

/// The gradients of the pools, computed by `kernel`.
fn pool_backward(
    a: Args,
    kernel: fn(&Matrix, &Matrix, &PoolShape) -> KResult<Matrix>,
) -> RtResult<Vec<Value>> {
    let (x, dout) = (a.matrix("input")?, a.matrix("dout")?);
    let s = pool_shape(&a)?;
    check_input(x, s.n, s.c * s.h * s.w)?;
    matrix_out(kernel(x, dout, &s)?)
}

/// `_relu_max_pool_argmax`: `_relu_max_pool` and where each window's gradient goes (rewrite
/// `fuse_max_pool_argmax`).
fn relu_max_pool_argmax(a: Args) -> RtResult<Vec<Value>> {
    let x = a.matrix("input")?;
    let s = pool_shape(&a)?;
    check_input(x, s.n, s.c * s.h * s.w)?;
    let (pooled, codes) = dnn::relu_max_pool_argmax(x, &s)?;
    Ok(matrices_out([pooled, codes]))
}

/// `_max_pool_backward_at(codes, dout, ...)`: `_relu_max_pool_backward` from the codes of
/// `_relu_max_pool_argmax` instead of the pooled input.
fn max_pool_backward_at(a: Args) -> RtResult<Vec<Value>> {
    let (codes, dout) = (a.matrix("codes")?, a.matrix("dout")?);
    let s = pool_shape(&a)?;
    matrix_out(dnn::max_pool_backward_at(codes, dout, &s)?)
}

/// `_relu_backward(X, dout)`: `(X > 0) * dout` (rewrite `fuse_relu_backward`).
fn relu_backward(a: Args) -> RtResult<Vec<Value>> {
    let (x, dout) = (a.matrix("input")?, a.matrix("dout")?);
    if x.rows() != dout.rows() || x.cols() != dout.cols() {
        // A broadcast: compute the expression the rewrite replaced.
        use crate::kernels::elementwise;
        use crate::types::ops::BinOp;
        let mask = elementwise::binary_ms(BinOp::Gt, x, 0.0);
        return matrix_out(elementwise::binary_mm(BinOp::Mul, &mask, dout)?);
    }
    matrix_out(dnn::relu_backward(x, dout)?)
}

/// `bias_add(input, bias)` and `bias_multiply(input, bias)`, computed by `kernel`, with one
/// bias per channel.
fn bias(a: Args, kernel: fn(&Matrix, &Matrix, usize) -> KResult<Matrix>) -> RtResult<Vec<Value>> {
    let (x, b) = (a.matrix("input")?, a.matrix("bias")?);
    matrix_out(kernel(x, b, b.rows())?)
}

fn lstm(a: Args) -> RtResult<Vec<Value>> {
    let r = dnn::lstm(
        a.matrix("input")?,
        a.matrix("W")?,
        a.matrix("bias")?,
        a.matrix("out0")?,
        a.matrix("c0")?,
        a.flag("return_sequences")?,
    )?;
    Ok(matrices_out([r.out, r.c, r.cache_out, r.cache_c, r.cache_ifog]))
}

fn lstm_backward(a: Args) -> RtResult<Vec<Value>> {
    let g = dnn::lstm_backward(
        a.matrix("input")?,
        a.matrix("W")?,
        a.matrix("bias")?,
        a.matrix("out0")?,
        a.matrix("c0")?,
        a.flag("given_sequences")?,
        a.matrix("dout")?,
        a.matrix("dc")?,
        a.matrix("cache_out")?,
        a.matrix("cache_c")?,
        a.matrix("cache_ifog")?,
    )?;
    Ok(matrices_out([g.dx, g.dw, g.db, g.dout0, g.dc0]))
}

/// The `activation` argument of `rnn` / `rnn_backward` (tanh when left out).
fn rnn_activation(a: &Args) -> RtResult<dnn::RnnActivation> {
    match a.opt_str("activation")? {
        None => Ok(dnn::RnnActivation::Tanh),
        Some(name) => dnn::RnnActivation::parse(name).map_or_else(
            || {
                err(format!(
                    "activation must be \"tanh\", \"sigmoid\", \"relu\" or \"linear\", got \"{name}\""
                ))
            },
            Ok,
        ),
    }
}

fn rnn(a: Args) -> RtResult<Vec<Value>> {
    let r = dnn::rnn(
        a.matrix("input")?,
        a.matrix("W")?,
        a.matrix("bias")?,
        a.matrix("out0")?,
        a.flag("return_sequences")?,
        rnn_activation(&a)?,
    )?;
    Ok(matrices_out([r.out, r.cache_out]))
}

fn rnn_backward(a: Args) -> RtResult<Vec<Value>> {
    let g = dnn::rnn_backward(
        a.matrix("input")?,
        a.matrix("W")?,
        a.matrix("bias")?,
        a.matrix("out0")?,
        a.flag("given_sequences")?,
        a.matrix("dout")?,
        a.matrix("cache_out")?,
        rnn_activation(&a)?,
    )?;
    Ok(matrices_out([g.dx, g.dw, g.db, g.dout0]))
}

fn gru(a: Args) -> RtResult<Vec<Value>> {
    let r = dnn::gru(
        a.matrix("input")?,
        a.matrix("W")?,
        a.matrix("U")?,
        a.matrix("bias_x")?,
        a.matrix("bias_h")?,
        a.flag("reset_after")?,
        a.flag("return_sequences")?,
    )?;
    Ok(matrices_out([r.out, r.h, r.g]))
}

fn gru_backward(a: Args) -> RtResult<Vec<Value>> {
    let g = dnn::gru_backward(
        a.matrix("dout")?,
        a.matrix("input")?,
        a.matrix("W")?,
        a.matrix("U")?,
        a.flag("reset_after")?,
        a.flag("given_sequences")?,
        a.matrix("H")?,
        a.matrix("G")?,
        a.flag("need_dX")?,
    )?;
    Ok(matrices_out([g.dx, g.dw, g.du, g.dbx, g.dbh]))
}

fn batch_norm2d(a: Args) -> RtResult<Vec<Value>> {
    let gamma = a.matrix("gamma")?;
    let train = match a.get("mode")? {
        Some(Value::Str(s)) => match &**s {
            "train" => true,
            "test" => false,
            other => return err(format!("mode must be \"train\" or \"test\", got \"{other}\"")),
        },
        _ => return err("mode must be \"train\" or \"test\""),
    };
    let r = dnn::batch_norm2d(
        a.matrix("input")?,
        gamma,
        a.matrix("beta")?,
        a.matrix("ema_mean")?,
        a.matrix("ema_var")?,
        train,
        a.num("epsilon")?,
        a.num("momentum")?,
        gamma.rows(),
    )?;
    Ok(matrices_out([r.out, r.ema_mean, r.ema_var, r.cache_mean, r.cache_inv_var]))
}

fn batch_norm2d_backward(a: Args) -> RtResult<Vec<Value>> {
    let gamma = a.matrix("gamma")?;
    let (dx, dg, db) = dnn::batch_norm2d_backward(
        a.matrix("input")?,
        a.matrix("dout")?,
        gamma,
        a.num("epsilon")?,
        a.matrix("cache_mean")?,
        a.matrix("cache_inv_var")?,
        gamma.rows(),
    )?;
    Ok(matrices_out([dx, dg, db]))
}
