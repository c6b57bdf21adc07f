//! [`Args`]: the arguments of one builtin call, read by parameter name.
//!
//! The compiler passes a library builtin its arguments in the order of its parameters in
//! `builtins/table.rs` (defaults filled in, extra positional ones after them for the variadic
//! builtins). The readers find a parameter by its name in the builtin's [`BuiltinSpec`], so an
//! implementation never depends on that order, and check its kind with a message that names the
//! builtin and the parameter (`order: \`by\` must be a scalar, but got a frame`). A name the
//! builtin does not have is a bug of the implementation: it fails a debug assertion, and in a
//! release build the call fails with an internal error, whether or not the argument was given.
//!
//! [`BuiltinSpec`]: crate::builtins::BuiltinSpec

use crate::builtins::BuiltinId;
use crate::kernels::format::format_double;
use crate::kernels::scalar::scalar_to_string;
use crate::runtime::error::{RtError, RtResult};
use crate::types::frame::Frame;
use crate::types::matrix::Matrix;
use crate::types::value::{ListValue, Value};
use std::borrow::Cow;
use std::sync::Arc;

/// The arguments of one call of a builtin.
pub struct Args {
    id: BuiltinId,
    vals: Vec<Option<Value>>,
}

/// Why a value does not fit a reader, completing "`{builtin}: \`{param}\` ...`".
type Why = String;

impl Args {
    /// The arguments `vals` of a call of `id`, in its parameter order.
    #[inline]
    pub fn new(id: BuiltinId, vals: Vec<Option<Value>>) -> Args {
        Args { id, vals }
    }

    pub fn id(&self) -> BuiltinId {
        self.id
    }

    /// The builtin's name in the table (an alias such as `rcm` reads as `rowClassMeet`).
    pub fn name(&self) -> &'static str {
        self.id.name()
    }

    /// An error whose message starts with the builtin's name: `"{name}: {msg}"`.
    pub fn error(&self, msg: impl std::fmt::Display) -> RtError {
        RtError::new(format!("{}: {msg}", self.name()))
    }

    /// The position of `param` among the builtin's parameters.
    #[inline]
    fn slot(&self, param: &str) -> RtResult<usize> {
        match self.id.spec().params.iter().position(|p| same_name(p.name, param)) {
            Some(i) => Ok(i),
            None => Err(self.unknown(param)),
        }
    }

    /// A parameter name the builtin does not have: a bug of its implementation.
    #[cold]
    fn unknown(&self, param: &str) -> RtError {
        debug_assert!(false, "the builtin `{}` has no parameter `{param}`", self.name());
        RtError::new(format!("internal error: the builtin `{}` has no parameter `{param}`", self.name()))
    }

    /// The value given for `param`, `None` when it was left out (an optional parameter).
    #[inline]
    pub fn get(&self, param: &str) -> RtResult<Option<&Value>> {
        let i = self.slot(param)?;
        Ok(self.vals.get(i).and_then(Option::as_ref))
    }

    /// Whether `param` was given.
    pub fn has(&self, param: &str) -> RtResult<bool> {
        Ok(self.get(param)?.is_some())
    }

    /// Moves the value of `param` out (so that a builtin may reuse its storage); it must be given.
    #[inline]
    pub fn take(&mut self, param: &str) -> RtResult<Value> {
        let i = self.slot(param)?;
        match self.vals.get_mut(i).and_then(Option::take) {
            Some(v) => Ok(v),
            None => Err(self.missing(param)),
        }
    }

    /// All arguments, in parameter order (the extra ones of a variadic builtin after them).
    pub fn into_values(self) -> Vec<Option<Value>> {
        self.vals
    }

    /// The extra positional arguments of a variadic builtin, after its parameters.
    pub fn rest(&self) -> &[Option<Value>] {
        let n = self.id.spec().params.len().min(self.vals.len());
        &self.vals[n..]
    }

    #[cold]
    fn missing(&self, param: &str) -> RtError {
        self.error(format!("`{param}` is missing"))
    }

    /// The error of a value that does not fit a reader: `"{name}: \`{param}\` {why}"`.
    #[cold]
    fn unfit(&self, param: &str, why: Why) -> RtError {
        self.error(format!("`{param}` {why}"))
    }

    /// Reads the required `param` with `conv`.
    #[inline(always)]
    fn read<'a, T>(&'a self, param: &str, conv: impl FnOnce(&'a Value) -> Result<T, Why>) -> RtResult<T> {
        match self.get(param)? {
            Some(v) => match conv(v) {
                Ok(x) => Ok(x),
                Err(why) => Err(self.unfit(param, why)),
            },
            None => Err(self.missing(param)),
        }
    }

    /// Reads the optional `param` with `conv`; `None` when it was left out.
    #[inline(always)]
    fn read_opt<'a, T>(
        &'a self,
        param: &str,
        conv: impl FnOnce(&'a Value) -> Result<T, Why>,
    ) -> RtResult<Option<T>> {
        match self.get(param)? {
            Some(v) => match conv(v) {
                Ok(x) => Ok(Some(x)),
                Err(why) => Err(self.unfit(param, why)),
            },
            None => Ok(None),
        }
    }

    /// Any value; it must be given.
    #[inline]
    pub fn value(&self, param: &str) -> RtResult<&Value> {
        self.read(param, Ok)
    }
}

/// The typed readers, each in two forms: `name` for a parameter that must be given, `opt_name`
/// for one that may be left out (`None`). Each checks the value with its conversion below.
macro_rules! readers {
    ($($(#[$doc:meta])* $req:ident, $opt:ident -> $t:ty = $conv:ident;)*) => {
        impl Args {
            $(
                $(#[$doc])*
                #[inline]
                pub fn $req(&self, param: &str) -> RtResult<$t> {
                    self.read(param, $conv)
                }

                $(#[$doc])*
                #[inline]
                pub fn $opt(&self, param: &str) -> RtResult<Option<$t>> {
                    self.read_opt(param, $conv)
                }
            )*
        }
    };
}

readers! {
    matrix, opt_matrix -> &Arc<Matrix> = to_matrix;
    frame, opt_frame -> &Arc<Frame> = to_frame;
    list, opt_list -> &Arc<ListValue> = to_list;
    /// A scalar read as a number (`TRUE` is 1, a string must hold a number).
    num, opt_num -> f64 = to_num;
    /// An integer or a double (booleans and strings are refused).
    real, opt_real -> f64 = to_real;
    /// A whole number: an integer, or a double without a fraction.
    int, opt_int -> i64 = to_int;
    /// A non-negative number (a size or a count; a fraction is truncated).
    count, opt_count -> usize = to_count;
    /// `TRUE` or `FALSE` (numbers are true when non-zero, strings `TRUE`/`true`/`FALSE`/`false`).
    flag, opt_flag -> bool = to_flag;
    /// A scalar as text: a string as it is, a number or boolean as `print` shows it.
    text, opt_text -> Cow<'_, str> = to_text;
    /// A string value (other scalars are refused).
    str, opt_str -> &str = to_str;
}

/// Why `v` does not fit: it must be `what`.
#[cold]
fn must_be(what: &str, v: &Value) -> Why {
    format!("must be {what}, but got a {}", v.kind())
}

#[inline]
fn to_matrix(v: &Value) -> Result<&Arc<Matrix>, Why> {
    if let Value::Matrix(m) = v { Ok(m) } else { Err(must_be("a matrix", v)) }
}

#[inline]
fn to_frame(v: &Value) -> Result<&Arc<Frame>, Why> {
    if let Value::Frame(f) = v { Ok(f) } else { Err(must_be("a frame", v)) }
}

#[inline]
fn to_list(v: &Value) -> Result<&Arc<ListValue>, Why> {
    if let Value::List(l) = v { Ok(l) } else { Err(must_be("a list", v)) }
}

#[inline]
fn to_num(v: &Value) -> Result<f64, Why> {
    if !v.is_scalar() {
        return Err(must_be("a scalar", v));
    }
    v.as_f64().ok_or_else(|| "must be a number".to_string())
}

#[inline]
fn to_real(v: &Value) -> Result<f64, Why> {
    match v {
        Value::Int(i) => Ok(*i as f64),
        Value::Double(d) => Ok(*d),
        other => Err(must_be("a number", other)),
    }
}

#[inline]
fn to_int(v: &Value) -> Result<i64, Why> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Double(d) if d.fract() == 0.0 && d.is_finite() => Ok(*d as i64),
        other => Err(format!("must be an integer, but got {}", scalar_or_kind(other))),
    }
}

#[inline]
fn to_count(v: &Value) -> Result<usize, Why> {
    let x = to_num(v)?;
    if x.is_nan() || x < 0.0 || !x.is_finite() {
        return Err(format!("must be a non-negative number, got {}", format_double(x)));
    }
    Ok(x as usize)
}

#[inline]
fn to_flag(v: &Value) -> Result<bool, Why> {
    v.as_bool().ok_or_else(|| "must be TRUE or FALSE".to_string())
}

#[inline]
fn to_text(v: &Value) -> Result<Cow<'_, str>, Why> {
    match v {
        Value::Str(s) => Ok(Cow::Borrowed(s)),
        x if x.is_scalar() => Ok(Cow::Owned(scalar_to_string(x))),
        other => Err(must_be("a string", other)),
    }
}

#[inline]
fn to_str(v: &Value) -> Result<&str, Why> {
    if let Value::Str(s) = v { Ok(s) } else { Err(must_be("a string", v)) }
}

/// A scalar as `print` shows it, anything else by its kind (`a matrix`).
fn scalar_or_kind(v: &Value) -> String {
    if v.is_scalar() { scalar_to_string(v) } else { format!("a {}", v.kind()) }
}

/// Whether two parameter names are equal: a byte loop, which for names of a few letters is
/// cheaper than the `memcmp` call of `==` (the readers compare names on every call).
#[inline]
pub(super) fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// An operand of an executor operator (an index bound) read as a number, as [`Args::num`]
/// reads an argument.
pub fn num_operand(v: &Value, what: &str) -> RtResult<f64> {
    to_num(v).map_err(|why| RtError::new(format!("{what} {why}")))
}

/// An operand of an operator that must be a matrix (`%*%`, aggregates, reorganisations).
pub fn matrix_arg<'a>(v: &'a Value, what: &str) -> RtResult<&'a Matrix> {
    match v {
        Value::Matrix(m) => Ok(m),
        other => Err(RtError::new(format!("{what} needs a matrix, but got a {}", other.kind()))),
    }
}
