//! The runtime side of the deep-learning builtins: shape arguments (`input_shape=[N,C,H,W]`,
//! `stride=[sh,sw]`, ...) are checked against the actual matrices, then the kernels run.

use crate::kernels::dnn::{self, ConvShape, PoolShape};
use crate::runtime::error::{RtError, RtResult};
use crate::types::matrix::Matrix;
use crate::types::value::Value;

fn err<T>(msg: impl Into<String>) -> RtResult<T> {
    Err(RtError::new(msg))
}

fn mat<'a>(v: &'a Option<Value>, what: &str) -> RtResult<&'a Matrix> {
    match v {
        Some(Value::Matrix(m)) => Ok(m),
        Some(x) => err(format!("{what} must be a matrix, but got a {}", x.kind())),
        None => err(format!("{what} is missing")),
    }
}

/// A shape list such as `[N, C, H, W]` (or a single number for a square stride or pool).
fn shape(v: &Option<Value>, what: &str, len: usize, default: Option<usize>) -> RtResult<Vec<usize>> {
    let nums: Vec<f64> = match v {
        None => match default {
            Some(d) => return Ok(vec![d; len]),
            None => return err(format!("{what} is missing")),
        },
        Some(Value::List(l)) => l
            .items
            .iter()
            .map(|x| {
                x.as_f64()
                    .filter(|_| x.is_scalar())
                    .ok_or_else(|| RtError::new(format!("{what} must hold numbers")))
            })
            .collect::<RtResult<_>>()?,
        Some(Value::Matrix(m)) => {
            (0..m.rows() * m.cols()).map(|i| m.get(i / m.cols(), i % m.cols())).collect()
        }
        Some(x) if x.is_scalar() => vec![x.as_f64().unwrap_or(f64::NAN); len],
        Some(x) => return err(format!("{what} must be a list like [a, b], got a {}", x.kind())),
    };
    if nums.len() != len {
        return err(format!("{what} must have {len} entries, got {}", nums.len()));
    }
    nums.iter()
        .map(|&x| {
            if x >= 0.0 && x.fract() == 0.0 && x.is_finite() {
                Ok(x as usize)
            } else {
                err(format!("{what} must hold non-negative integers, got {x}"))
            }
        })
        .collect()
}

fn conv_shape(
    input: &Option<Value>,
    filter: &Option<Value>,
    stride: &Option<Value>,
    padding: &Option<Value>,
) -> RtResult<ConvShape> {
    let i = shape(input, "input_shape", 4, None)?;
    let f = shape(filter, "filter_shape", 4, None)?;
    let s = shape(stride, "stride", 2, Some(1))?;
    let p = shape(padding, "padding", 2, Some(0))?;
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

fn pool_shape(
    input: &Option<Value>,
    pool: &Option<Value>,
    stride: &Option<Value>,
    padding: &Option<Value>,
) -> RtResult<PoolShape> {
    let i = shape(input, "input_shape", 4, None)?;
    let k = shape(pool, "pool_size", 2, None)?;
    let s = shape(stride, "stride", 2, Some(1))?;
    let p = shape(padding, "padding", 2, Some(0))?;
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
fn check_input(x: &Matrix, n: usize, chw: usize, what: &str) -> RtResult<()> {
    if x.rows() != n || x.cols() != chw {
        return err(format!("{what} is {}x{}, but the shape arguments say {n}x{chw}", x.rows(), x.cols()));
    }
    Ok(())
}

fn flag(v: &Option<Value>, what: &str) -> RtResult<bool> {
    v.as_ref().and_then(|x| x.as_bool()).ok_or_else(|| RtError::new(format!("{what} must be TRUE or FALSE")))
}

fn num(v: &Option<Value>, what: &str) -> RtResult<f64> {
    v.as_ref()
        .filter(|x| x.is_scalar())
        .and_then(|x| x.as_f64())
        .ok_or_else(|| RtError::new(format!("{what} must be a number")))
}

fn m(x: Matrix) -> Value {
    Value::matrix(x)
}

pub fn call(name: &str, a: Vec<Option<Value>>) -> RtResult<Vec<Value>> {
    let one = |v: Matrix| Ok(vec![m(v)]);
    match name {
        "conv2d" => {
            let (x, w) = (mat(&a[0], "input")?, mat(&a[1], "filter")?);
            let s = conv_shape(&a[2], &a[3], &a[4], &a[5])?;
            check_input(x, s.n, s.c * s.h * s.w, "the input")?;
            one(dnn::conv2d(x, w, &s)?)
        }
        "_conv2d_bias_add" => {
            let (x, w, b) = (mat(&a[0], "input")?, mat(&a[1], "filter")?, mat(&a[2], "bias")?);
            let s = conv_shape(&a[3], &a[4], &a[5], &a[6])?;
            check_input(x, s.n, s.c * s.h * s.w, "the input")?;
            one(dnn::conv2d_bias_add(x, w, b, &s)?)
        }
        "conv2d_backward_filter" => {
            let (x, dout) = (mat(&a[0], "input")?, mat(&a[1], "dout")?);
            let s = conv_shape(&a[4], &a[5], &a[2], &a[3])?;
            check_input(x, s.n, s.c * s.h * s.w, "the input")?;
            one(dnn::conv2d_backward_filter(x, dout, &s)?)
        }
        "conv2d_backward_data" => {
            let (w, dout) = (mat(&a[0], "filter")?, mat(&a[1], "dout")?);
            let s = conv_shape(&a[4], &a[5], &a[2], &a[3])?;
            one(dnn::conv2d_backward_data(w, dout, &s)?)
        }
        "max_pool" | "avg_pool" | "_relu_max_pool" => {
            let x = mat(&a[0], "input")?;
            let s = pool_shape(&a[1], &a[2], &a[3], &a[4])?;
            check_input(x, s.n, s.c * s.h * s.w, "the input")?;
            one(match name {
                "max_pool" => dnn::max_pool(x, &s)?,
                "avg_pool" => dnn::avg_pool(x, &s)?,
                _ => dnn::relu_max_pool(x, &s)?,
            })
        }
        "max_pool_backward" | "avg_pool_backward" | "_relu_max_pool_backward" => {
            let (x, dout) = (mat(&a[0], "input")?, mat(&a[1], "dout")?);
            let s = pool_shape(&a[2], &a[3], &a[4], &a[5])?;
            check_input(x, s.n, s.c * s.h * s.w, "the input")?;
            one(match name {
                "max_pool_backward" => dnn::max_pool_backward(x, dout, &s)?,
                "avg_pool_backward" => dnn::avg_pool_backward(x, dout, &s)?,
                _ => dnn::relu_max_pool_backward(x, dout, &s)?,
            })
        }
        "_relu_backward" => {
            let (x, dout) = (mat(&a[0], "input")?, mat(&a[1], "dout")?);
            if x.rows() != dout.rows() || x.cols() != dout.cols() {
                // A broadcast: compute the expression the rewrite replaced, `(X > 0) * dout`.
                use crate::kernels::elementwise;
                use crate::types::ops::BinOp;
                let mask = elementwise::binary_ms(BinOp::Gt, x, 0.0);
                return one(elementwise::binary_mm(BinOp::Mul, &mask, dout)?);
            }
            one(dnn::relu_backward(x, dout)?)
        }
        "bias_add" | "bias_multiply" => {
            let (x, b) = (mat(&a[0], "input")?, mat(&a[1], "bias")?);
            let c = b.rows();
            one(if name == "bias_add" { dnn::bias_add(x, b, c)? } else { dnn::bias_multiply(x, b, c)? })
        }
        "lstm" => {
            let r = dnn::lstm(
                mat(&a[0], "input")?,
                mat(&a[1], "W")?,
                mat(&a[2], "bias")?,
                mat(&a[3], "out0")?,
                mat(&a[4], "c0")?,
                flag(&a[5], "return_sequences")?,
            )?;
            Ok(vec![m(r.out), m(r.c), m(r.cache_out), m(r.cache_c), m(r.cache_ifog)])
        }
        "lstm_backward" => {
            let cache = |i: usize, what: &str| mat(&a[i], what);
            let g = dnn::lstm_backward(
                mat(&a[0], "input")?,
                mat(&a[1], "W")?,
                mat(&a[2], "bias")?,
                mat(&a[3], "out0")?,
                mat(&a[4], "c0")?,
                flag(&a[5], "given_sequences")?,
                mat(&a[6], "dout")?,
                mat(&a[7], "dc")?,
                cache(8, "cache_out")?,
                cache(9, "cache_c")?,
                cache(10, "cache_ifog")?,
            )?;
            Ok(vec![m(g.dx), m(g.dw), m(g.db), m(g.dout0), m(g.dc0)])
        }
        "batch_norm2d" => {
            let gamma = mat(&a[1], "gamma")?;
            let mode = match &a[5] {
                Some(Value::Str(s)) => s.to_string(),
                _ => return err("mode must be \"train\" or \"test\""),
            };
            let train = match mode.as_str() {
                "train" => true,
                "test" => false,
                other => return err(format!("mode must be \"train\" or \"test\", got \"{other}\"")),
            };
            let c = gamma.rows();
            let r = dnn::batch_norm2d(
                mat(&a[0], "input")?,
                gamma,
                mat(&a[2], "beta")?,
                mat(&a[3], "ema_mean")?,
                mat(&a[4], "ema_var")?,
                train,
                num(&a[6], "epsilon")?,
                num(&a[7], "momentum")?,
                c,
            )?;
            Ok(vec![m(r.out), m(r.ema_mean), m(r.ema_var), m(r.cache_mean), m(r.cache_inv_var)])
        }
        "batch_norm2d_backward" => {
            let gamma = mat(&a[2], "gamma")?;
            let c = gamma.rows();
            let (dx, dg, db) = dnn::batch_norm2d_backward(
                mat(&a[0], "input")?,
                mat(&a[1], "dout")?,
                gamma,
                num(&a[3], "epsilon")?,
                mat(&a[4], "cache_mean")?,
                mat(&a[5], "cache_inv_var")?,
                c,
            )?;
            Ok(vec![m(dx), m(dg), m(db)])
        }
        other => err(format!("`{other}` is not a deep-learning builtin")),
    }
}
