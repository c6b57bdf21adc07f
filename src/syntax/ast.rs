//! The abstract syntax tree of a DML script.
//!
//! Every node carries a [`Span`] so that the validator, the compiler and the runtime can point at
//! the user's code. The tree is what the parser produces and what the pretty-printer prints back;
//! it keeps the distinctions a reader of the script sees (`X[i]` versus `X[i,]`, `=` versus `<-`)
//! so that printing and re-parsing gives the same tree. Semantic questions (is `pi` a variable or
//! the constant, is `f` a builtin or a user function) are left to the validator.

use std::fmt;

pub use crate::diagnostics::{FileId, Span};

/// A name as written in the script, with its place.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A parsed script: top-level statements and function definitions, in source order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Program {
    pub body: Vec<Stmt>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `x = e`, `x <- e`, `x += e`, `X[i, j] = e`, `L[i] = e`.
    Assign {
        target: AssignTarget,
        op: AssignOp,
        value: Expr,
    },
    /// `[a, b, c] = f(...)`: the value is a call (user function or multi-return builtin).
    MultiAssign {
        targets: Vec<Ident>,
        value: Expr,
    },
    /// A call used as a statement: `print(x)`, `write(X, "f")`, `stop("m")`, `f(x)`.
    Expr(Expr),
    If {
        cond: Expr,
        then_body: Vec<Stmt>,
        else_body: Option<Vec<Stmt>>,
    },
    For {
        var: Ident,
        iter: Iterable,
        params: Vec<Arg>,
        body: Vec<Stmt>,
    },
    ParFor {
        var: Ident,
        iter: Iterable,
        params: Vec<Arg>,
        body: Vec<Stmt>,
    },
    While {
        cond: Expr,
        body: Vec<Stmt>,
    },
    /// `name = function(...) return (...) { body }` or an `externalFunction` (top level only).
    FunctionDef(FunctionDef),
    /// `source("path") as ns`.
    Source {
        path: String,
        path_span: Span,
        namespace: Ident,
    },
    /// `setwd("dir")`.
    SetWd {
        path: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignOp {
    /// `=`
    Eq,
    /// `<-`
    Arrow,
    /// `+=`
    PlusEq,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AssignTarget {
    Var(Ident),
    /// `X[rows, cols] = ...`; `cols` is `None` when the brackets hold no comma (`L[i] = ...`).
    Indexed {
        name: Ident,
        rows: IndexSpec,
        cols: Option<IndexSpec>,
    },
}

/// The iteration space of `for` and `parfor`.
#[derive(Clone, Debug, PartialEq)]
pub enum Iterable {
    /// `from:to`
    Range { from: Expr, to: Expr },
    /// `seq(from, to)` or `seq(from, to, incr)`.
    Seq { from: Expr, to: Expr, incr: Option<Expr> },
}

/// One dimension of an index expression.
#[derive(Clone, Debug, PartialEq)]
pub enum IndexSpec {
    /// Left blank: every row (or column).
    All,
    /// `i`: one row, or for lists one element (the expression may also be a string key).
    Single(Expr),
    /// `lo:hi`, inclusive and 1-based.
    Range(Expr, Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub struct FunctionDef {
    pub name: Ident,
    pub params: Vec<Param>,
    pub returns: Vec<Param>,
    pub body: Vec<Stmt>,
    /// `Some` for `externalFunction(...) ... implemented in (k=v, ...)`: the `implemented in` list.
    pub external: Option<Vec<Arg>>,
}

/// A typed formal parameter or return value: `matrix[double] X`, `int seed = -1`.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub ty: TypeSpec,
    pub name: Ident,
    pub default: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeSpec {
    pub data: DataType,
    pub value: ValueType,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataType {
    Scalar,
    Matrix,
    Frame,
    List,
    Tensor,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    Double,
    Int,
    Boolean,
    String,
    Unknown,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Int(i64),
    Double(f64),
    Bool(bool),
    Str(String),
    /// A variable, or a builtin constant such as `pi`, `Inf`, `NaN` (decided by the validator).
    Ident(String),
    /// `$name` or `$1` (the text after `$`).
    CmdArg(String),
    /// `ifdef($name, default)`.
    IfDef {
        param: String,
        default: Box<Expr>,
    },
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `f(args)` or `ns::f(args)`.
    Call {
        namespace: Option<Ident>,
        name: Ident,
        args: Vec<Arg>,
    },
    /// `X[rows, cols]`; `cols` is `None` when the brackets hold no comma (`X[i]`, `L["key"]`).
    Index {
        name: Ident,
        rows: Box<IndexSpec>,
        cols: Option<Box<IndexSpec>>,
    },
    /// `[e1, e2, ...]`, valid as an argument (DNN shapes such as `input_shape=[N,C,H,W]`).
    List(Vec<Expr>),
}

/// A call argument, positional (`name == None`) or named.
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Pos,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Pow,
    MatMul,
    IntDiv,
    Mod,
    Mul,
    Div,
    Add,
    Sub,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    /// `&&`: parses, rejected by the validator as SystemDS does.
    AndAnd,
    Or,
    /// `||`: parses, rejected by the validator as SystemDS does.
    OrOr,
}

impl BinaryOp {
    /// The operator as written in DML.
    pub fn symbol(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Pow => "^",
            MatMul => "%*%",
            IntDiv => "%/%",
            Mod => "%%",
            Mul => "*",
            Div => "/",
            Add => "+",
            Sub => "-",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Eq => "==",
            Ne => "!=",
            And => "&",
            AndAnd => "&&",
            Or => "|",
            OrOr => "||",
        }
    }

    /// Binding strength, higher binds tighter (unary minus sits at 9, `!` at 3).
    pub fn precedence(self) -> u8 {
        use BinaryOp::*;
        match self {
            Pow => 10,
            MatMul => 8,
            IntDiv | Mod => 7,
            Mul | Div => 6,
            Add | Sub => 5,
            Lt | Le | Gt | Ge | Eq | Ne => 4,
            And | AndAnd => 2,
            Or | OrOr => 1,
        }
    }
}

impl UnaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-",
            UnaryOp::Pos => "+",
            UnaryOp::Not => "!",
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DataType::Scalar => "scalar",
            DataType::Matrix => "matrix",
            DataType::Frame => "frame",
            DataType::List => "list",
            DataType::Tensor => "tensor",
        })
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueType::Double => "double",
            ValueType::Int => "int",
            ValueType::Boolean => "boolean",
            ValueType::String => "string",
            ValueType::Unknown => "unknown",
        })
    }
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Self {
        Expr { kind, span }
    }
}
