//! A fused body evaluated operator by operator with the unfused kernels: the fallback for inputs
//! the fast paths do not take (sparse storage, unexpected shapes). It computes exactly what the
//! unfused DAG would, errors included.

use std::borrow::Cow;

use super::{Arg, Out};
use crate::kernels::{KResult, KernelError, aggregate, elementwise, matmul, reorg, ternary};
use crate::types::fused::{FStep, FusedBody, FusedOut};
use crate::types::matrix::Matrix;
use crate::types::ops::AggDir;

enum V<'a> {
    S(f64),
    M(Cow<'a, Matrix>),
}

pub fn eval<'a>(body: &FusedBody, args: &[Arg<'a>]) -> KResult<Vec<Out>> {
    let mut vals: Vec<V<'a>> = Vec::with_capacity(body.steps.len());
    for step in &body.steps {
        let v = match *step {
            FStep::Input(k) => match args.get(k as usize) {
                Some(Arg::Scalar(s)) => V::S(*s),
                Some(Arg::Matrix(m)) => V::M(Cow::Borrowed(*m)),
                None => return Err(KernelError::new("internal error: a fused operator lacks an input")),
            },
            FStep::Const(c) => V::S(c),
            FStep::Unary(op, a) => match &vals[a as usize] {
                V::S(x) => V::S(op.apply(*x)),
                V::M(m) => V::M(Cow::Owned(elementwise::unary(op, m))),
            },
            FStep::Binary(op, a, b) => match (&vals[a as usize], &vals[b as usize]) {
                (V::S(x), V::S(y)) => V::S(op.apply(*x, *y)),
                (V::M(x), V::S(y)) => V::M(Cow::Owned(elementwise::binary_ms(op, x, *y))),
                (V::S(x), V::M(y)) => V::M(Cow::Owned(elementwise::binary_sm(op, *x, y))),
                (V::M(x), V::M(y)) => V::M(Cow::Owned(elementwise::binary_mm(op, x, y)?)),
            },
            FStep::Ternary(c, a, b) => {
                fn op<'v>(v: &'v V) -> ternary::Operand<'v> {
                    match v {
                        V::S(s) => ternary::Operand::Scalar(*s),
                        V::M(m) => ternary::Operand::Matrix(m),
                    }
                }
                let (c, a, b) = (&vals[c as usize], &vals[a as usize], &vals[b as usize]);
                V::M(Cow::Owned(ternary::ifelse(op(c), op(a), op(b))?))
            }
            FStep::RowAgg(op, a) => {
                V::M(Cow::Owned(aggregate::aggregate(op, AggDir::Row, matrix(&vals[a as usize])?)?))
            }
            FStep::Dot(u, v) => {
                let vt = reorg::transpose(matrix(&vals[v as usize])?);
                V::M(Cow::Owned(matmul::matmul(matrix(&vals[u as usize])?, &vt)?))
            }
        };
        vals.push(v);
    }
    body.outputs
        .iter()
        .map(|(s, o)| {
            let v = &vals[*s as usize];
            Ok(match (o, v) {
                (FusedOut::Cells, V::M(m)) => Out::Matrix(m.clone().into_owned()),
                (FusedOut::Cells, V::S(x)) => Out::Scalar(*x),
                (FusedOut::Agg(op, AggDir::All), v) => {
                    Out::Scalar(aggregate::aggregate_all(*op, matrix(v)?)?)
                }
                (FusedOut::Agg(op, dir), v) => Out::Matrix(aggregate::aggregate(*op, *dir, matrix(v)?)?),
            })
        })
        .collect()
}

fn matrix<'v>(v: &'v V) -> KResult<&'v Matrix> {
    match v {
        V::M(m) => Ok(m),
        V::S(_) => Err(KernelError::new("internal error: a fused operator aggregates a scalar")),
    }
}
