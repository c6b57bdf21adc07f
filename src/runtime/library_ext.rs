//! Library builtins for statistics, selection, linear algebra and I/O.

use crate::kernels::scalar::scalar_to_string;
use crate::kernels::{self, select::TableArg};
use crate::runtime::error::{RtError, RtResult};
use crate::runtime::exec::Runtime;
use crate::runtime::io;
use crate::types::matrix::Matrix;
use crate::types::ops::BinOp;
use crate::types::value::Value;
use std::path::Path;
use std::sync::Arc;

fn err<T>(msg: impl Into<String>) -> RtResult<T> {
    Err(RtError::new(msg))
}

fn mat(v: &Option<Value>, what: &str) -> RtResult<Arc<Matrix>> {
    match v {
        Some(Value::Matrix(m)) => Ok(m.clone()),
        Some(x) => err(format!("{what} must be a matrix, but got a {}", x.kind())),
        None => err(format!("{what} is missing")),
    }
}

fn num(v: &Option<Value>, what: &str) -> RtResult<f64> {
    match v {
        Some(x) if x.is_scalar() => {
            x.as_f64().ok_or_else(|| RtError::new(format!("{what} must be a number")))
        }
        Some(x) => err(format!("{what} must be a scalar, but got a {}", x.kind())),
        None => err(format!("{what} is missing")),
    }
}

fn text(v: &Option<Value>, what: &str) -> RtResult<String> {
    match v {
        Some(Value::Str(s)) => Ok(s.to_string()),
        Some(x) if x.is_scalar() => Ok(scalar_to_string(x)),
        _ => err(format!("{what} must be a string")),
    }
}

fn flag(v: &Option<Value>, what: &str) -> RtResult<bool> {
    match v {
        Some(x) => x.as_bool().ok_or_else(|| RtError::new(format!("{what} must be TRUE or FALSE"))),
        None => err(format!("{what} is missing")),
    }
}

fn opt_mat(v: &Option<Value>) -> Option<Arc<Matrix>> {
    match v {
        Some(Value::Matrix(m)) => Some(m.clone()),
        _ => None,
    }
}

fn m(x: Matrix) -> Value {
    Value::matrix(x)
}

fn table_arg(v: &Option<Value>) -> RtResult<Option<TableArgOwned>> {
    Ok(match v {
        None => None,
        Some(Value::Matrix(m)) => Some(TableArgOwned::Vector(m.clone())),
        Some(s) if s.is_scalar() => Some(TableArgOwned::Scalar(s.as_f64().unwrap_or(f64::NAN))),
        Some(x) => return err(format!("table() cannot use a {}", x.kind())),
    })
}

enum TableArgOwned {
    Scalar(f64),
    Vector(Arc<Matrix>),
}

impl TableArgOwned {
    fn as_arg(&self) -> TableArg<'_> {
        match self {
            TableArgOwned::Scalar(s) => TableArg::Scalar(*s),
            TableArgOwned::Vector(m) => TableArg::Vector(m),
        }
    }
}

pub fn call(rt: &Runtime, name: &str, args: Vec<Option<Value>>) -> RtResult<Vec<Value>> {
    let one = |v: Value| Ok(vec![v]);
    match name {
        "table" => {
            let a = table_arg(&args[0])?.ok_or_else(|| RtError::new("table needs A"))?;
            let b = table_arg(&args[1])?.ok_or_else(|| RtError::new("table needs B"))?;
            // table(A, B, odim1, odim2): with four arguments the third and fourth are the dims.
            let (w, d1, d2) = match (&args[2], &args[3], &args[4]) {
                (Some(w), Some(d1), None) if w.is_scalar() => (None, Some(w.clone()), Some(d1.clone())),
                // table(A, B, 3, cols=4): SystemDS takes the scalar third argument as the rows.
                (Some(w), None, Some(d2)) if w.is_scalar() => (None, Some(w.clone()), Some(d2.clone())),
                (w, d1, d2) => (w.clone(), d1.clone(), d2.clone()),
            };
            let w = table_arg(&w)?.unwrap_or(TableArgOwned::Scalar(1.0));
            let dims = match (d1, d2) {
                (Some(r), Some(c)) => {
                    Some((num(&Some(r), "odim1")? as usize, num(&Some(c), "odim2")? as usize))
                }
                _ => None,
            };
            one(m(kernels::select::table(a.as_arg(), b.as_arg(), w.as_arg(), dims)?))
        }
        "order" => {
            let x = mat(&args[0], "target")?;
            let by: Vec<usize> = match &args[1] {
                Some(Value::Matrix(b)) => {
                    (0..b.rows() * b.cols()).map(|i| b.get(i / b.cols(), i % b.cols()) as usize).collect()
                }
                other => vec![num(other, "by")? as usize],
            };
            one(m(kernels::select::order(
                &x,
                &by,
                flag(&args[2], "decreasing")?,
                flag(&args[3], "index.return")?,
            )?))
        }
        "removeEmpty" => {
            let margin = text(&args[1], "margin")?;
            let rows = match margin.as_str() {
                "rows" => true,
                "cols" => false,
                other => {
                    return err(format!("removeEmpty: margin must be \"rows\" or \"cols\", got \"{other}\""));
                }
            };
            let select = opt_mat(&args[2]);
            if let Some(Value::Frame(f)) = &args[0] {
                let out = crate::runtime::frame_ops::remove_empty(f, rows, select.as_deref())?;
                return one(Value::Frame(std::sync::Arc::new(out)));
            }
            let x = mat(&args[0], "target")?;
            one(m(kernels::select::remove_empty(
                &x,
                rows,
                select.as_deref(),
                flag(&args[3], "empty.return")?,
            )?))
        }
        "replace" => {
            let x = mat(&args[0], "target")?;
            one(m(kernels::select::replace(&x, num(&args[1], "pattern")?, num(&args[2], "replacement")?)))
        }
        "outer" => {
            let a = mat(&args[0], "the first argument of outer")?;
            let b = mat(&args[1], "the second argument of outer")?;
            let op = match text(&args[2], "op")?.as_str() {
                "*" => BinOp::Mul,
                "+" => BinOp::Add,
                "-" => BinOp::Sub,
                "/" => BinOp::Div,
                "^" => BinOp::Pow,
                "%%" => BinOp::Mod,
                "%/%" => BinOp::IntDiv,
                "<" => BinOp::Lt,
                "<=" => BinOp::Le,
                ">" => BinOp::Gt,
                ">=" => BinOp::Ge,
                "==" => BinOp::Eq,
                "!=" => BinOp::Ne,
                "min" => BinOp::Min,
                "max" => BinOp::Max,
                other => return err(format!("outer: unknown operator \"{other}\"")),
            };
            // SystemDS checks the vector shapes only when they are known at compile time; at
            // run time two matrices of one shape combine cell by cell (mdedup relies on it).
            if (a.cols() != 1 || b.rows() != 1) && a.rows() == b.rows() && a.cols() == b.cols() {
                return one(m(kernels::elementwise::binary_mm(op, &a, &b)?));
            }
            one(m(kernels::ternary::outer(&a, &b, op)?))
        }
        "lower.tri" | "upper.tri" => {
            let x = mat(&args[0], "target")?;
            let (d, v) = (flag(&args[1], "diag")?, flag(&args[2], "values")?);
            one(m(if name == "lower.tri" {
                kernels::select::lower_tri(&x, d, v)?
            } else {
                kernels::select::upper_tri(&x, d, v)?
            }))
        }
        "quantile" => {
            let x = mat(&args[0], "the data of quantile")?;
            // quantile(X, p) or quantile(X, W, p): the probabilities come last.
            let (w, p) = match &args[2] {
                Some(_) => (opt_mat(&args[1]), args[2].clone()),
                None => (None, args[1].clone()),
            };
            match &p {
                Some(Value::Matrix(pm)) => {
                    let ps: Vec<f64> = (0..pm.rows()).map(|i| pm.get(i, 0)).collect();
                    let q = kernels::stats::quantile(&x, w.as_deref(), &ps)?;
                    one(m(Matrix::from_vec(q.len(), 1, q)))
                }
                other => {
                    let pv = num(other, "p")?;
                    one(Value::Double(kernels::stats::quantile_scalar(&x, w.as_deref(), pv)?))
                }
            }
        }
        "median" => {
            let x = mat(&args[0], "median")?;
            one(Value::Double(kernels::stats::median(&x, opt_mat(&args[1]).as_deref())?))
        }
        "interQuartileMean" => {
            let x = mat(&args[0], "interQuartileMean")?;
            one(Value::Double(kernels::stats::interquartile_mean(&x, opt_mat(&args[1]).as_deref())?))
        }
        "moment" => {
            let x = mat(&args[0], "moment")?;
            let (w, k) = match &args[2] {
                Some(_) => (opt_mat(&args[1]), num(&args[2], "order")?),
                None => (None, num(&args[1], "order")?),
            };
            one(Value::Double(kernels::stats::moment(&x, w.as_deref(), k as u32)?))
        }
        "cov" => {
            let x = mat(&args[0], "cov")?;
            let y = mat(&args[1], "cov")?;
            one(Value::Double(kernels::stats::cov(&x, &y, opt_mat(&args[2]).as_deref())?))
        }
        "aggregate" => {
            let t = mat(&args[0], "target")?;
            let g = mat(&args[1], "groups")?;
            let f = text(&args[2], "fn")?;
            let w = opt_mat(&args[3]);
            let ng = match &args[4] {
                None => None,
                some => Some(num(some, "ngroups")? as usize),
            };
            let order = match &args[5] {
                None => None,
                some => Some(num(some, "order")? as u32),
            };
            one(m(kernels::stats::grouped_aggregate(&t, &g, w.as_deref(), &f, ng, order)?))
        }
        "unique" => one(m(kernels::stats::unique(&*mat(&args[0], "data")?, &text(&args[1], "dir")?)?)),
        "countDistinct" => {
            let dir = text(&args[1], "dir")?;
            let r = kernels::stats::count_distinct(&*mat(&args[0], "data")?, &dir)?;
            // The whole-matrix count is a number; per row or column it is a vector.
            if dir == "rc" { one(Value::Int(r.get(0, 0) as i64)) } else { one(m(r)) }
        }
        "colCountDistinct" => one(m(kernels::stats::count_distinct(&*mat(&args[0], "data")?, "c")?)),
        "rowCountDistinct" => one(m(kernels::stats::count_distinct(&*mat(&args[0], "data")?, "r")?)),
        "contains" => {
            let x = mat(&args[0], "target")?;
            let p = num(&args[1], "pattern")?;
            let d = x.dense_data();
            let found = if p.is_nan() { d.iter().any(|v| v.is_nan()) } else { d.contains(&p) };
            one(Value::Bool(found))
        }
        "_matmul_t" => {
            let (a, b) = (mat(&args[0], "A")?, mat(&args[1], "B")?);
            one(m(kernels::matmul::matmul_t(&a, &b, flag(&args[2], "ta")?, flag(&args[3], "tb")?)?))
        }
        "solve" => one(m(kernels::linalg::solve(&*mat(&args[0], "A")?, &*mat(&args[1], "b")?)?)),
        "inv" => one(m(kernels::linalg::inverse(&*mat(&args[0], "inv")?)?)),
        "cholesky" => one(m(kernels::linalg::cholesky(&*mat(&args[0], "cholesky")?)?)),
        "det" => one(Value::Double(kernels::linalg::det(&*mat(&args[0], "det")?)?)),
        "eigen" => {
            let (w, v) = kernels::linalg::eigen(&*mat(&args[0], "eigen")?)?;
            Ok(vec![m(w), m(v)])
        }
        "svd" => {
            let (u, s, v) = kernels::linalg::svd(&*mat(&args[0], "svd")?)?;
            Ok(vec![m(u), m(s), m(v)])
        }
        "qr" => {
            let (h, r) = kernels::linalg::qr(&*mat(&args[0], "qr")?)?;
            Ok(vec![m(h), m(r)])
        }
        "lu" => {
            let (p, l, u) = kernels::linalg::lu(&*mat(&args[0], "lu")?)?;
            Ok(vec![m(p), m(l), m(u)])
        }
        "write" if matches!(args[0], Some(Value::Frame(_))) => {
            crate::runtime::library_frame::write_frame(&args)
        }
        "write" => {
            let value = args[0].clone().ok_or_else(|| RtError::new("write needs a value"))?;
            let file = text(&args[1], "file")?;
            let opts = io::WriteOptions {
                format: text(&args[2], "format")?,
                sep: text(&args[3], "sep")?,
                header: flag(&args[4], "header")?,
                sparse: flag(&args[5], "sparse")?,
                description: match &args[6] {
                    None => None,
                    some => Some(text(some, "description")?),
                },
            };
            match &value {
                Value::Matrix(x) => {
                    io::write_matrix(x, Path::new(&file), &opts).map_err(|e| RtError::new(e.to_string()))?
                }
                s if s.is_scalar() => {
                    let sv = match s {
                        Value::Int(i) => io::ScalarValue::Int(*i),
                        Value::Bool(b) => io::ScalarValue::Boolean(*b),
                        Value::Str(t) => io::ScalarValue::String(t.to_string()),
                        other => io::ScalarValue::Double(other.as_f64().unwrap_or(f64::NAN)),
                    };
                    io::write_scalar(&sv, Path::new(&file), opts.description.as_deref())
                        .map_err(|e| RtError::new(e.to_string()))?
                }
                other => return err(format!("write of a {} is not supported yet", other.kind())),
            }
            Ok(vec![])
        }
        "read" => {
            if let Some(r) = crate::runtime::library_frame::read_hook(&args) {
                return r;
            }
            let file = text(&args[0], "file")?;
            let opt_text = |i: usize, what: &str| -> RtResult<Option<String>> {
                match &args[i] {
                    None => Ok(None),
                    some => text(some, what).map(Some),
                }
            };
            let opt_num = |i: usize, what: &str| -> RtResult<Option<f64>> {
                match &args[i] {
                    None => Ok(None),
                    some => num(some, what).map(Some),
                }
            };
            let data_type = opt_text(10, "data_type")?;
            let opts = io::ReadOptions {
                format: opt_text(1, "format")?,
                header: match &args[2] {
                    None => None,
                    some => Some(flag(some, "header")?),
                },
                sep: opt_text(3, "sep")?,
                fill: match &args[4] {
                    None => None,
                    some => Some(flag(some, "fill")?),
                },
                default_value: opt_num(5, "default")?,
                na_strings: match opt_text(6, "naStrings")? {
                    Some(s) => s.split(',').map(|t| t.to_string()).collect(),
                    None => vec![],
                },
                rows: opt_num(7, "rows")?.map(|v| v as usize),
                cols: opt_num(8, "cols")?.map(|v| v as usize),
            };
            let path = Path::new(&file);
            if data_type.as_deref() == Some("scalar") {
                let vt = opt_text(11, "value_type")?;
                let sv = io::read_scalar(path, vt.as_deref()).map_err(|e| RtError::new(e.to_string()))?;
                return one(match sv {
                    io::ScalarValue::Double(d) => Value::Double(d),
                    io::ScalarValue::Int(i) => Value::Int(i),
                    io::ScalarValue::Boolean(b) => Value::Bool(b),
                    io::ScalarValue::String(t) => Value::str(t.as_str()),
                });
            }
            one(m(io::read_matrix(path, &opts).map_err(|e| RtError::new(e.to_string()))?))
        }
        "conv2d"
        | "conv2d_backward_filter"
        | "conv2d_backward_data"
        | "max_pool"
        | "avg_pool"
        | "max_pool_backward"
        | "avg_pool_backward"
        | "bias_add"
        | "bias_multiply"
        | "lstm"
        | "lstm_backward"
        | "batch_norm2d"
        | "batch_norm2d_backward"
        | "_conv2d_bias_add"
        | "_relu_max_pool"
        | "_relu_max_pool_backward"
        | "_relu_backward" => crate::runtime::library_dnn::call(name, args),
        other => {
            if let Some(r) = crate::runtime::library_stats::call(rt, other, &args) {
                return r;
            }
            if let Some(r) = crate::runtime::library_frame2::call(rt, other, &args) {
                return r;
            }
            if let Some(r) = crate::runtime::library_pserv::call(rt, other, &args) {
                return r;
            }
            if let Some(r) = crate::runtime::library_frame::call(rt, other, args) {
                return r;
            }
            err(format!("the builtin `{other}` is not available in this build"))
        }
    }
}
