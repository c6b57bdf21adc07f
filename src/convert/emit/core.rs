//! Emitters of the core ops: Dense, activations, Flatten, Dropout, layout moves and merges.

use super::{Cx, num};
use crate::convert::error::ConvertError;
use crate::convert::ir::{Activation, Layout, MergeKind, Node, Op};

pub fn forward(cx: &mut Cx, node: &Node) -> Result<(), ConvertError> {
    let (x, out) = (cx.input(node, 0), cx.output(node, 0));
    match &node.op {
        Op::Dense { units, use_bias } => {
            let w = cx.param(node, 0);
            let bias = if *use_bias { format!(" + {}", cx.param(node, 1)) } else { String::new() };
            let shape = cx.in_shape(node, 0);
            if shape.len() == 1 {
                cx.line(format!("{out} = {x} %*% {w}{bias}"));
            } else {
                // Applied to every position of the leading axes: one product over all of them.
                let d = shape[shape.len() - 1];
                let rest: usize = shape[..shape.len() - 1].iter().product();
                cx.line(format!(
                    "{out} = matrix(matrix({x}, rows=nrow({x})*{rest}, cols={d}) %*% {w}{bias}, rows=nrow({x}), cols={})",
                    rest * units
                ));
            }
        }
        Op::Activation(a) => activation_forward(cx, node, a)?,
        Op::Flatten => cx.line(format!("{out} = {x}")),
        Op::Dropout { rate } => {
            if cx.train() && *rate > 0.0 {
                let alias = cx.src("nn/layers/dropout.dml", "dropout");
                let mask = cx.cache(node, "mask");
                // nn's dropout takes the probability of keeping a unit; Keras's rate drops it.
                cx.line(format!("[{out}, {mask}] = {alias}::forward({x}, {}, -1)", num(1.0 - rate)));
            } else {
                cx.line(format!("{out} = {x}"));
            }
        }
        Op::Relayout { to } => {
            let from = &cx.g.tensors[node.inputs[0]].layout;
            let shape = cx.in_shape(node, 0);
            let expr = relayout_expr(cx, x, shape, from, to)?;
            cx.line(format!("{out} = {expr}"));
        }
        Op::Merge(kind) => {
            let ins: Vec<&str> = (0..node.inputs.len()).map(|i| cx.input(node, i)).collect();
            let expr = match kind {
                MergeKind::Add => ins.join(" + "),
                MergeKind::Subtract => format!("{} - {}", ins[0], ins[1]),
                MergeKind::Multiply => ins.join(" * "),
                MergeKind::Average => format!("({}) / {}", ins.join(" + "), ins.len()),
                MergeKind::Maximum => fold("max", &ins),
                MergeKind::Minimum => fold("min", &ins),
                MergeKind::Concatenate(_) => return concat_forward(cx, node, &ins),
            };
            cx.line(format!("{out} = {expr}"));
        }
        _ => unreachable!("dispatched by emit::forward"),
    }
    Ok(())
}

fn fold(f: &str, ins: &[&str]) -> String {
    let mut e = ins[0].to_string();
    for x in &ins[1..] {
        e = format!("{f}({e}, {x})");
    }
    e
}

pub fn backward(cx: &mut Cx, node: &Node) -> Result<(), ConvertError> {
    let (x, out) = (cx.input(node, 0), cx.output(node, 0));
    let dout = cx.dout(node, 0);
    match &node.op {
        Op::Dense { units, use_bias } => {
            let w = cx.param(node, 0);
            let shape = cx.in_shape(node, 0);
            let (x2, d2) = if shape.len() == 1 {
                (x.to_string(), dout.clone())
            } else {
                let d = shape[shape.len() - 1];
                let rest: usize = shape[..shape.len() - 1].iter().product();
                let x2 = cx.cache(node, "x2");
                let d2 = cx.cache(node, "dout2");
                cx.line(format!("{x2} = matrix({x}, rows=nrow({x})*{rest}, cols={d})"));
                cx.line(format!("{d2} = matrix({dout}, rows=nrow({dout})*{rest}, cols={units})"));
                (x2, d2)
            };
            if cx.param_trained(node, 0) {
                let dw = cx.param_grad(node, 0);
                cx.line(format!("{dw} = t({x2}) %*% {d2}"));
            }
            if *use_bias && cx.param_trained(node, 1) {
                let db = cx.param_grad(node, 1);
                cx.line(format!("{db} = colSums({d2})"));
            }
            if cx.needs_input_grad(node, 0) {
                let expr = if shape.len() == 1 {
                    format!("{d2} %*% t({w})")
                } else {
                    format!(
                        "matrix({d2} %*% t({w}), rows=nrow({x}), cols={})",
                        cx.g.tensors[node.inputs[0]].width()
                    )
                };
                cx.add_input_grad(node, 0, &expr);
            }
        }
        Op::Activation(a) => {
            let expr = activation_backward(cx, node, a, x, out, &dout)?;
            cx.add_input_grad(node, 0, &expr);
        }
        Op::Flatten => cx.add_input_grad(node, 0, &dout),
        Op::Dropout { rate } => {
            if cx.train() && *rate > 0.0 {
                let mask = cx.cache(node, "mask");
                cx.add_input_grad(node, 0, &format!("{mask} / {} * {dout}", num(1.0 - rate)));
            } else {
                cx.add_input_grad(node, 0, &dout);
            }
        }
        Op::Relayout { to } => {
            // The inverse permutation takes the gradient back.
            let from = cx.g.tensors[node.inputs[0]].layout.clone();
            let shape = cx.in_shape(node, 0);
            let expr = relayout_expr(cx, &dout, shape, to, &from)?;
            cx.add_input_grad(node, 0, &expr);
        }
        Op::Merge(kind) => {
            let n = node.inputs.len();
            let ins: Vec<&str> = (0..n).map(|i| cx.input(node, i)).collect();
            match kind {
                MergeKind::Add => (0..n).for_each(|i| cx.add_input_grad(node, i, &dout)),
                MergeKind::Subtract => {
                    cx.add_input_grad(node, 0, &dout);
                    cx.add_input_grad(node, 1, &format!("-{dout}"));
                }
                MergeKind::Average => {
                    let g = format!("{dout} / {n}");
                    (0..n).for_each(|i| cx.add_input_grad(node, i, &g));
                }
                MergeKind::Multiply => {
                    for i in 0..n {
                        let others: Vec<&str> = (0..n).filter(|&j| j != i).map(|j| ins[j]).collect();
                        cx.add_input_grad(node, i, &format!("{dout} * {}", others.join(" * ")));
                    }
                }
                MergeKind::Maximum | MergeKind::Minimum => {
                    // The gradient goes to the input that was chosen (the first one on ties).
                    let mut taken = String::new();
                    for (i, input) in ins.iter().enumerate() {
                        let sel = cx.cache(node, &format!("sel{}", i + 1));
                        let mut e = format!("({input} == {out})");
                        if !taken.is_empty() {
                            e = format!("{e} * (1 - {taken})");
                        }
                        cx.line(format!("{sel} = {e}"));
                        taken =
                            if taken.is_empty() { sel.clone() } else { format!("min({taken} + {sel}, 1)") };
                        cx.add_input_grad(node, i, &format!("{dout} * {sel}"));
                    }
                }
                MergeKind::Concatenate(_) => concat_backward(cx, node, &dout)?,
            }
        }
        _ => unreachable!("dispatched by emit::backward"),
    }
    Ok(())
}

/// The DML expression moving `x` (of logical `shape`) from layout `from` to layout `to`, with
/// the converter library's permutation functions (exact: a product with a 0/1 matrix).
fn relayout_expr(
    cx: &mut Cx,
    x: &str,
    shape: &[usize],
    from: &Layout,
    to: &Layout,
) -> Result<String, ConvertError> {
    let width: usize = shape.iter().product();
    let channels = |l: &Layout| match l {
        Layout::ChannelsFirst => shape.last().copied(),
        Layout::FlatChannelsFirst { channels } => Some(*channels),
        Layout::RowMajor => None,
    };
    let alias = cx.src("keras/layout.dml", "keras_layout");
    Ok(match (channels(from), channels(to)) {
        // One channel, or one position: both orders are the same.
        (Some(c), None) | (None, Some(c)) if c == 1 || c == width => x.to_string(),
        (Some(c), None) => format!("{alias}::channels_first_to_last({x}, {c}, {})", width / c.max(1)),
        (None, Some(c)) => format!("{alias}::channels_last_to_first({x}, {c}, {})", width / c.max(1)),
        (Some(a), Some(b)) if a == b => x.to_string(),
        _ => {
            return Err(ConvertError::Layer {
                layer: String::new(),
                class: "Relayout".into(),
                detail: format!("no conversion from {from:?} to {to:?}"),
            });
        }
    })
}

/// Concatenation along the last logical axis (cbind of the row blocks), or of channels-first
/// images along their channels (also cbind: channels are the outermost blocks of a row).
fn concat_forward(cx: &mut Cx, node: &Node, ins: &[&str]) -> Result<(), ConvertError> {
    let out = cx.output(node, 0);
    let Op::Merge(MergeKind::Concatenate(axis)) = node.op else { unreachable!() };
    let rank = cx.in_shape(node, 0).len() as i64;
    let layout = &cx.g.tensors[node.inputs[0]].layout;
    let last = axis == -1 || axis == rank;
    if last && (rank == 1 || *layout == Layout::ChannelsFirst) {
        cx.line(format!("{out} = cbind({})", ins.join(", ")));
        return Ok(());
    }
    if last {
        // Row-major with leading axes: interleave per position.
        let lead: usize = cx.in_shape(node, 0)[..rank as usize - 1].iter().product();
        let parts: Vec<String> = (0..ins.len())
            .map(|i| {
                let d = cx.in_shape(node, i)[rank as usize - 1];
                format!("matrix({}, rows=nrow({})*{lead}, cols={d})", ins[i], ins[i])
            })
            .collect();
        let total: usize = (0..ins.len()).map(|i| cx.g.tensors[node.inputs[i]].width()).sum();
        cx.line(format!("{out} = matrix(cbind({}), rows=nrow({}), cols={total})", parts.join(", "), ins[0]));
        return Ok(());
    }
    Err(ConvertError::Layer {
        layer: node.layer.clone(),
        class: node.class.clone(),
        detail: format!("concatenation along axis {axis} is not supported yet (only the last axis)"),
    })
}

fn concat_backward(cx: &mut Cx, node: &Node, dout: &str) -> Result<(), ConvertError> {
    let rank = cx.in_shape(node, 0).len();
    let layout = &cx.g.tensors[node.inputs[0]].layout;
    let plain = rank == 1 || *layout == Layout::ChannelsFirst;
    let lead: usize = cx.in_shape(node, 0)[..rank - 1].iter().product();
    let total_last: usize = (0..node.inputs.len()).map(|i| cx.in_shape(node, i)[rank - 1]).sum();
    let mut start = 1;
    for i in 0..node.inputs.len() {
        let (w, last) = (cx.g.tensors[node.inputs[i]].width(), cx.in_shape(node, i)[rank - 1]);
        let expr = if plain {
            format!("{dout}[, {start}:{}]", start + w - 1)
        } else {
            let s = start;
            format!(
                "matrix(matrix({dout}, rows=nrow({dout})*{lead}, cols={total_last})[, {s}:{}], rows=nrow({dout}), cols={w})",
                s + last - 1
            )
        };
        cx.add_input_grad(node, i, &expr);
        start += if plain { w } else { last };
    }
    Ok(())
}

/// A softmax-like op runs over the last logical axis: rows of `(N * lead, last)`.
fn last_axis(cx: &Cx, node: &Node) -> (usize, usize) {
    let shape = cx.in_shape(node, 0);
    let last = shape.last().copied().unwrap_or(1);
    (cx.g.tensors[node.inputs[0]].width() / last.max(1), last)
}

fn activation_forward(cx: &mut Cx, node: &Node, a: &Activation) -> Result<(), ConvertError> {
    let (x, out) = (cx.input(node, 0), cx.output(node, 0));
    let e = match a {
        Activation::Linear => x.to_string(),
        Activation::Relu { negative_slope, max_value, threshold } => {
            relu_expr(x, *negative_slope, *max_value, *threshold)
        }
        Activation::Sigmoid => format!("1 / (1 + exp(-{x}))"),
        Activation::Tanh => format!("tanh({x})"),
        Activation::Softmax | Activation::LogSoftmax => {
            let (lead, last) = last_axis(cx, node);
            let xs = if lead > 1 {
                format!("matrix({x}, rows=nrow({x})*{lead}, cols={last})")
            } else {
                x.to_string()
            };
            let shifted = cx.cache(node, "shifted");
            cx.line(format!("{shifted} = {xs} - rowMaxs({xs})"));
            let body = if *a == Activation::Softmax {
                let ex = cx.cache(node, "exp");
                cx.line(format!("{ex} = exp({shifted})"));
                format!("{ex} / rowSums({ex})")
            } else {
                format!("{shifted} - log(rowSums(exp({shifted})))")
            };
            if lead > 1 { format!("matrix({body}, rows=nrow({x}), cols={})", lead * last) } else { body }
        }
        Activation::Elu { alpha } => format!("max({x}, 0) + {} * (exp(min({x}, 0)) - 1)", num(*alpha)),
        Activation::Selu => {
            format!("{} * (max({x}, 0) + {} * (exp(min({x}, 0)) - 1))", num(SELU_SCALE), num(SELU_ALPHA))
        }
        Activation::Gelu { approximate: true } => {
            format!("0.5 * {x} * (1 + tanh({} * ({x} + 0.044715 * {x}^3)))", num((2.0 / PI).sqrt()))
        }
        Activation::Gelu { approximate: false } => {
            let alias = cx.src("keras/activations.dml", "keras_act");
            format!("{alias}::gelu({x})")
        }
        Activation::Softplus => format!("max({x}, 0) + log(1 + exp(-abs({x})))"),
        Activation::Softsign => format!("{x} / (1 + abs({x}))"),
        Activation::HardSigmoid => format!("min(max({x} + 3, 0), 6) / 6"),
        Activation::Silu => format!("{x} / (1 + exp(-{x}))"),
        Activation::HardSilu => format!("{x} * min(max({x} + 3, 0), 6) / 6"),
        Activation::Exponential => format!("exp({x})"),
        Activation::Mish => format!("{x} * tanh(max({x}, 0) + log(1 + exp(-abs({x}))))"),
    };
    cx.line(format!("{out} = {e}"));
    Ok(())
}

const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
const SELU_SCALE: f64 = 1.050_700_987_355_480_5;
const PI: f64 = std::f64::consts::PI;

/// Keras 3's relu with its options: `x` above the threshold (clipped at `max_value`), minus
/// `negative_slope * (threshold - x)` below it.
fn relu_expr(x: &str, slope: f64, max_value: Option<f64>, threshold: f64) -> String {
    let mut pos =
        if threshold != 0.0 { format!("{x} * ({x} > {})", num(threshold)) } else { format!("max({x}, 0)") };
    if let Some(m) = max_value {
        pos = format!("min(max({pos}, 0), {})", num(m));
    }
    if slope == 0.0 {
        return pos;
    }
    let neg =
        if threshold != 0.0 { format!("max({} - {x}, 0)", num(threshold)) } else { format!("max(-{x}, 0)") };
    format!("{pos} - {} * {neg}", num(slope))
}

fn activation_backward(
    cx: &mut Cx,
    node: &Node,
    a: &Activation,
    x: &str,
    out: &str,
    dout: &str,
) -> Result<String, ConvertError> {
    Ok(match a {
        Activation::Linear => dout.to_string(),
        Activation::Relu { negative_slope, max_value, threshold } => {
            let mut pos =
                if *threshold != 0.0 { format!("({x} > {})", num(*threshold)) } else { format!("({x} > 0)") };
            if let Some(m) = max_value {
                pos = format!("{pos} * ({x} < {})", num(*m));
            }
            if *negative_slope != 0.0 {
                pos = format!("({pos} + {} * ({x} < {}))", num(*negative_slope), num(*threshold));
            }
            format!("{dout} * {pos}")
        }
        Activation::Sigmoid => format!("{dout} * {out} * (1 - {out})"),
        Activation::Tanh => format!("{dout} * (1 - {out}^2)"),
        Activation::Softmax | Activation::LogSoftmax => {
            let (lead, last) = last_axis(cx, node);
            let reshape = |v: &str| {
                if lead > 1 {
                    format!("matrix({v}, rows=nrow({v})*{lead}, cols={last})")
                } else {
                    v.to_string()
                }
            };
            let (o, d) = (cx.cache(node, "out2"), cx.cache(node, "dout2"));
            cx.line(format!("{o} = {}", reshape(out)));
            cx.line(format!("{d} = {}", reshape(dout)));
            let g = if *a == Activation::Softmax {
                format!("{o} * ({d} - rowSums({d} * {o}))")
            } else {
                format!("{d} - exp({o}) * rowSums({d})")
            };
            if lead > 1 { format!("matrix({g}, rows=nrow({dout}), cols={})", lead * last) } else { g }
        }
        Activation::Elu { alpha } => {
            format!("{dout} * (({x} > 0) + ({x} <= 0) * {} * exp(min({x}, 0)))", num(*alpha))
        }
        Activation::Selu => {
            format!(
                "{dout} * {} * (({x} > 0) + ({x} <= 0) * {} * exp(min({x}, 0)))",
                num(SELU_SCALE),
                num(SELU_ALPHA)
            )
        }
        Activation::Gelu { approximate: true } => {
            let (u, th) = (cx.cache(node, "u"), cx.cache(node, "th"));
            let c = num((2.0 / PI).sqrt());
            cx.line(format!("{u} = {c} * ({x} + 0.044715 * {x}^3)"));
            cx.line(format!("{th} = tanh({u})"));
            format!(
                "{dout} * (0.5 * (1 + {th}) + 0.5 * {x} * (1 - {th}^2) * {c} * (1 + 3 * 0.044715 * {x}^2))"
            )
        }
        Activation::Gelu { approximate: false } => {
            let alias = cx.src("keras/activations.dml", "keras_act");
            format!("{alias}::gelu_backward({dout}, {x})")
        }
        Activation::Softplus => format!("{dout} / (1 + exp(-{x}))"),
        Activation::Softsign => format!("{dout} / (1 + abs({x}))^2"),
        Activation::HardSigmoid => format!("{dout} * ({x} > -3) * ({x} < 3) / 6"),
        Activation::Silu => {
            let s = cx.cache(node, "sig");
            cx.line(format!("{s} = 1 / (1 + exp(-{x}))"));
            format!("{dout} * ({s} + {x} * {s} * (1 - {s}))")
        }
        Activation::HardSilu => {
            format!("{dout} * (min(max({x} + 3, 0), 6) / 6 + {x} * ({x} > -3) * ({x} < 3) / 6)")
        }
        Activation::Exponential => format!("{dout} * {out}"),
        Activation::Mish => {
            let (sp, th) = (cx.cache(node, "sp"), cx.cache(node, "th"));
            cx.line(format!("{sp} = max({x}, 0) + log(1 + exp(-abs({x})))"));
            cx.line(format!("{th} = tanh({sp})"));
            format!("{dout} * ({th} + {x} * (1 - {th}^2) / (1 + exp(-{x})))")
        }
    })
}
