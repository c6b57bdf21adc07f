//! Constant folding: an operator whose inputs are all scalar literals is evaluated now, with the
//! runtime's own scalar functions, so the folded value is exactly what execution would give.
//! Also folds `nrow`/`ncol`/`length` of matrices whose shape is known.

use super::HopRewrite;
use crate::hops::{Dag, HopId, HopOp, Lit};
use crate::kernels::scalar::{binary_scalar, unary_scalar};
use crate::types::ops::CastOp;
use crate::types::value::Value;

pub struct ConstantFolding;

fn to_value(l: &Lit) -> Option<Value> {
    Some(match l {
        Lit::Int(i) => Value::Int(*i),
        Lit::Double(d) => Value::Double(*d),
        Lit::Bool(b) => Value::Bool(*b),
        Lit::Str(s) => Value::str(s.as_str()),
        Lit::Absent => return None,
    })
}

fn to_lit(v: Value) -> Option<Lit> {
    Some(match v {
        Value::Int(i) => Lit::Int(i),
        Value::Double(d) => Lit::Double(d),
        Value::Bool(b) => Lit::Bool(b),
        Value::Str(s) => Lit::Str(s.to_string()),
        _ => return None,
    })
}

impl HopRewrite for ConstantFolding {
    fn name(&self) -> &'static str {
        "constant_folding"
    }

    fn rewrite(&self, dag: &mut Dag, id: HopId) -> Option<HopId> {
        let hop = dag.get(id);
        let lit_input = |i: usize| dag.get(hop.inputs[i]).literal().and_then(to_value);
        let folded = match &hop.op {
            HopOp::Binary(op) => binary_scalar(*op, &lit_input(0)?, &lit_input(1)?).ok()?,
            HopOp::Unary(op) => unary_scalar(*op, &lit_input(0)?).ok()?,
            HopOp::Cast(CastOp::Nrow | CastOp::Ncol | CastOp::Length) => {
                let t = dag.get(hop.inputs[0]).ty;
                if !t.is_matrix() || !t.dims_known() {
                    return None;
                }
                Value::Int(match hop.op {
                    HopOp::Cast(CastOp::Nrow) => t.rows,
                    HopOp::Cast(CastOp::Ncol) => t.cols,
                    _ => t.rows * t.cols,
                })
            }
            HopOp::Cast(op @ (CastOp::AsDouble | CastOp::AsInt | CastOp::AsBool)) => {
                let v = lit_input(0)?;
                let x = v.as_f64()?;
                match op {
                    CastOp::AsDouble => Value::Double(x),
                    CastOp::AsInt => Value::Int(x as i64),
                    _ => Value::Bool(x != 0.0),
                }
            }
            _ => return None,
        };
        let lit = to_lit(folded)?;
        let span = hop.span;
        Some(dag.add(crate::hops::Hop {
            op: HopOp::Literal(lit.clone()),
            inputs: vec![],
            ty: literal_type(&lit),
            mem: 8.0,
            backend: crate::types::Backend::CpuDense,
            span,
        }))
    }
}

fn literal_type(l: &Lit) -> crate::types::type_info::TypeInfo {
    use crate::syntax::ast::ValueType;
    use crate::types::type_info::TypeInfo;
    match l {
        Lit::Int(_) => TypeInfo::scalar(ValueType::Int),
        Lit::Double(_) => TypeInfo::scalar(ValueType::Double),
        Lit::Bool(_) => TypeInfo::scalar(ValueType::Boolean),
        Lit::Str(_) => TypeInfo::scalar(ValueType::String),
        Lit::Absent => TypeInfo::UNKNOWN,
    }
}
