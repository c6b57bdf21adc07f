//! Emitter of [`Op::Arith`]: elementwise `+ - * /` with numpy broadcasting (ONNX's Add, Sub, Mul,
//! Div).
//!
//! An operand with the output's cells is used as it is (a parameter row broadcasts over the
//! batch's rows by DML's own rules); one that broadcasts is spread onto the output's cells by a
//! product with a 0/1 matrix `E` (operand cells x output cells, built once with `table`), whose
//! transpose sums the copies' gradients back.

use super::{Cx, int, num};
use crate::convert::error::ConvertError;
use crate::convert::ir::{ArithArg, ArithKind, ArithSource, Node, Op};

fn parts(node: &Node) -> (ArithKind, &[ArithArg], usize) {
    match &node.op {
        Op::Arith { kind, args, shape } => (*kind, args.as_slice(), shape.iter().product()),
        _ => unreachable!("dispatched by emit::forward"),
    }
}

/// The operand's own variable (or constant).
fn raw(cx: &Cx, node: &Node, arg: &ArithArg) -> String {
    match arg.source {
        ArithSource::Input(i) => cx.input(node, i).to_string(),
        ArithSource::Param(k) => cx.param(node, k).to_string(),
        ArithSource::Scalar(v) => num(v),
    }
}

/// The operand spread onto the output's cells (a variable, written in the forward pass).
fn spread(cx: &Cx, node: &Node, k: usize, arg: &ArithArg) -> String {
    if arg.broadcast.is_some() { cx.cache(node, &format!("arg{}", k + 1)) } else { raw(cx, node, arg) }
}

pub fn forward(cx: &mut Cx, node: &Node) -> Result<(), ConvertError> {
    let (kind, args, width) = parts(node);
    let out = cx.output(node, 0);
    for (k, arg) in args.iter().enumerate() {
        let Some((axes, cells)) = &arg.broadcast else { continue };
        let e = cx.cache(node, &format!("spread{}", k + 1));
        let terms: Vec<String> = axes
            .iter()
            .map(|[os, od, ps]| {
                format!("((j %/% {os}) %% {od}) * {ps}", os = int(*os), od = int(*od), ps = int(*ps))
            })
            .collect();
        let j = cx.cache(node, "j");
        cx.comment(format!(
            "operand {} broadcasts: output cell j reads its cell {}",
            k + 1,
            terms.join(" + ")
        ));
        cx.line(format!("{j} = seq(0, {})", int(width - 1)));
        let idx = if terms.is_empty() { "0".to_string() } else { terms.join(" + ").replace('j', &j) };
        cx.line(format!("{e} = table({idx} + 1, {j} + 1, {}, {})", int(*cells), int(width)));
        let v = spread(cx, node, k, arg);
        cx.line(format!("{v} = {} %*% {e}", raw(cx, node, arg)));
    }
    let mut a = spread(cx, node, 0, &args[0]);
    let b = spread(cx, node, 1, &args[1]);
    // DML broadcasts a row on the right only: a parameter row on the left is spread over the
    // batch's rows (an exact product with ones).
    if matches!(args[0].source, ArithSource::Param(_))
        && let Some(i) = args.iter().find_map(|x| match x.source {
            ArithSource::Input(i) => Some(i),
            _ => None,
        })
    {
        a = format!("(matrix(1, rows=nrow({}), cols=1) %*% {a})", cx.input(node, i));
    }
    let op = match kind {
        ArithKind::Add => "+",
        ArithKind::Sub => "-",
        ArithKind::Mul => "*",
        ArithKind::Div => "/",
    };
    cx.line(format!("{out} = {a} {op} {b}"));
    Ok(())
}

pub fn backward(cx: &mut Cx, node: &Node) -> Result<(), ConvertError> {
    let (kind, args, _) = parts(node);
    let dout = cx.dout(node, 0);
    let out = cx.output(node, 0);
    let (a, b) = (spread(cx, node, 0, &args[0]), spread(cx, node, 1, &args[1]));
    for (k, arg) in args.iter().enumerate() {
        let needed = match arg.source {
            ArithSource::Input(i) => cx.needs_input_grad(node, i),
            ArithSource::Param(p) => cx.param_trained(node, p),
            ArithSource::Scalar(_) => false,
        };
        if !needed {
            continue;
        }
        // The gradient with respect to the spread operand.
        let g = match (kind, k) {
            (ArithKind::Add, _) | (ArithKind::Sub, 0) => dout.clone(),
            (ArithKind::Sub, _) => format!("-{dout}"),
            (ArithKind::Mul, 0) => format!("{dout} * {b}"),
            (ArithKind::Mul, _) => format!("{dout} * {a}"),
            (ArithKind::Div, 0) => format!("{dout} / {b}"),
            (ArithKind::Div, _) => format!("-({dout} * {out}) / {b}"),
        };
        // Copies of a broadcast cell add their gradients.
        let g = if arg.broadcast.is_some() {
            format!("({g}) %*% t({})", cx.cache(node, &format!("spread{}", k + 1)))
        } else {
            g
        };
        match arg.source {
            ArithSource::Input(i) => cx.add_input_grad(node, i, &g),
            ArithSource::Param(p) => {
                let d = cx.param_grad(node, p);
                cx.line(format!("{d} = colSums({g})"));
            }
            ArithSource::Scalar(_) => {}
        }
    }
    Ok(())
}
