//! Lineage tracing: the record of the operations that produced a value, for `lineage(X)` and
//! `autoDiff`.
//!
//! Tracing is on only for programs that call `lineage` or `autoDiff` (the loader sets
//! [`Program::traces_lineage`](crate::compiler::program::Program)), so other scripts pay nothing.
//! While it is on, the executor keeps one [`LinRef`] beside every register and variable; each
//! executed instruction gets an item whose inputs are the items of its operands. The
//! executor's traced interpreter, which does this, is in `trace.rs`.
//!
//! The text form follows SystemDS 3.4.0's `lineage()` output, one item a line:
//! `(id) (L) 2·SCALAR·INT64·true` for a literal, `(id) (I) ba+* (3) (5)` for an instruction,
//! `(id) (C) CP°rand°...` for a data generator or a read. Ids count items in creation order over
//! the whole run (literals are created once per distinct text, as SystemDS caches them), and
//! items that are structurally equal print once, under the smallest id. The instructions are
//! those of our own plan after rewrites, with SystemDS's opcodes, so a trace equals SystemDS's
//! when both engines run the same instructions (straight-line code without competing rewrites).

mod trace;

use crate::hops::HopOp;
use crate::kernels::format::format_double;
use crate::types::ops::{AggDir, AggOp, BinOp, UnOp};
use crate::types::ops::{CastOp, DataGenOp, NaryOp, ReorgOp};
use crate::types::value::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub type LinRef = Arc<LinItem>;

/// What an item stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinKind {
    /// A literal scalar (`L`).
    Literal,
    /// An instruction over other items (`I`).
    Instr,
    /// A value created from nothing traced: a data generator, a read, an input (`C`).
    Creation,
}

/// How to compute an item again from its inputs (used by `autoDiff`).
#[derive(Clone, Debug)]
pub enum Replay {
    /// Run `op` with argument `i` taken from `inputs[slots[i]]` (`None`: not given). `out` is the
    /// output index for multi-output operators.
    Op { op: HopOp, slots: Vec<Option<u16>>, out: u8 },
    /// Run `op` on these constant arguments.
    Const { op: HopOp, args: Vec<Option<Value>> },
    /// The value itself (literals, and inputs that arrived without lineage).
    Value(Value),
    /// Cannot be recomputed.
    None,
}

/// One node of a lineage DAG.
#[derive(Debug)]
pub struct LinItem {
    pub id: u64,
    pub kind: LinKind,
    /// The literal's text, the instruction's opcode, or the creation instruction.
    pub text: String,
    pub inputs: Vec<LinRef>,
    pub replay: Replay,
    /// Output index of a multi-output instruction (distinguishes the outputs' items).
    pub out: u8,
}

impl Drop for LinItem {
    /// Long traces (one item per loop iteration) are chains thousands deep; drop them with an
    /// explicit stack instead of recursion.
    fn drop(&mut self) {
        let mut stack = std::mem::take(&mut self.inputs);
        while let Some(item) = stack.pop() {
            if let Ok(mut inner) = Arc::try_unwrap(item) {
                stack.append(&mut inner.inputs);
            }
        }
    }
}

/// Creates items with run-wide ids; shared by every thread of one run.
#[derive(Debug, Default)]
pub struct Tracer {
    next: AtomicU64,
    literals: Mutex<HashMap<String, LinRef>>,
}

impl Tracer {
    /// A tracer when the program asks for lineage, else `None`.
    pub fn for_program(p: &crate::compiler::program::Program) -> Option<Tracer> {
        p.traces_lineage.then(Tracer::default)
    }

    fn fresh_id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// The item of a literal scalar (one per distinct text); `None` for non-scalars.
    pub fn literal(&self, v: &Value) -> Option<LinRef> {
        let text = literal_text(v)?;
        let mut cache = self.literals.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(item) = cache.get(&text) {
            return Some(item.clone());
        }
        let item = Arc::new(LinItem {
            id: self.fresh_id(),
            kind: LinKind::Literal,
            text: text.clone(),
            inputs: vec![],
            replay: Replay::Value(v.clone()),
            out: 0,
        });
        cache.insert(text, item.clone());
        Some(item)
    }

    pub fn instr(&self, opcode: String, inputs: Vec<LinRef>, replay: Replay, out: u8) -> LinRef {
        Arc::new(LinItem { id: self.fresh_id(), kind: LinKind::Instr, text: opcode, inputs, replay, out })
    }

    pub fn creation(&self, text: String, replay: Replay) -> LinRef {
        Arc::new(LinItem {
            id: self.fresh_id(),
            kind: LinKind::Creation,
            text,
            inputs: vec![],
            replay,
            out: 0,
        })
    }

    /// The item of a value that arrived without lineage (a bound input, a parfor result).
    pub fn untraced(&self, v: &Value) -> LinRef {
        if let Some(l) = self.literal(v) {
            return l;
        }
        let kind = match v {
            Value::Matrix(_) => "MATRIX·FP64",
            Value::Frame(_) => "FRAME·STRING",
            _ => "LIST·UNKNOWN",
        };
        self.creation(format!("CP°input°xxx·{kind}"), Replay::Value(v.clone()))
    }
}

/// SystemDS's literal text: `value·SCALAR·TYPE·true`.
pub fn literal_text(v: &Value) -> Option<String> {
    Some(match v {
        Value::Int(i) => format!("{i}·SCALAR·INT64·true"),
        Value::Double(d) => format!("{}·SCALAR·FP64·true", format_double(*d)),
        Value::Bool(b) => format!("{b}·SCALAR·BOOLEAN·true"),
        Value::Str(s) => format!("{s}·SCALAR·STRING·true"),
        _ => return None,
    })
}

/// SystemDS's CP opcode for an operator (`None` for operators that leave no item of their own).
pub fn opcode(op: &HopOp) -> Option<String> {
    Some(
        match op {
            HopOp::Unary(u) => unary_opcode(*u),
            HopOp::Binary(b) => binary_opcode(*b),
            HopOp::Ternary => "ifelse",
            HopOp::AggUnary(a, d) => return Some(agg_opcode(*a, *d)),
            HopOp::MatMul => "ba+*",
            HopOp::Tsmm { .. } => "tsmm",
            HopOp::Reorg(ReorgOp::Transpose) => "r'",
            HopOp::Reorg(ReorgOp::Rev) => "rev",
            HopOp::Reorg(ReorgOp::Diag) => "rdiag",
            HopOp::Reshape { .. } => "rshape",
            HopOp::Index | HopOp::ListIndex => "rightIndex",
            HopOp::LeftIndex => "leftIndex",
            HopOp::Nary(NaryOp::Cbind) => "cbind",
            HopOp::Nary(NaryOp::Rbind) => "rbind",
            HopOp::Nary(NaryOp::Min) => "nmin",
            HopOp::Nary(NaryOp::Max) => "nmax",
            HopOp::Cast(c) => match c {
                CastOp::AsScalar => "castdts",
                CastOp::AsMatrix => "castsdm",
                CastOp::AsDouble => "castvtd",
                CastOp::AsInt => "castvti",
                CastOp::AsBool => "castvtb",
                CastOp::Nrow => "nrow",
                CastOp::Ncol => "ncol",
                CastOp::Length => "length",
            },
            HopOp::MakeList(_) => "list",
            HopOp::Builtin { id, .. } => return Some(id.name().trim_start_matches('_').to_string()),
            HopOp::DataGen(DataGenOp::Seq) => "seq",
            HopOp::DataGen(DataGenOp::Rand) => "rand",
            HopOp::DataGen(DataGenOp::Fill) => "rand",
            HopOp::Literal(_)
            | HopOp::Read(_)
            | HopOp::Write(_)
            | HopOp::Extract(_)
            | HopOp::Call { .. }
            | HopOp::Fused(_)
            | HopOp::Effect(_) => return None,
        }
        .to_string(),
    )
}

/// SystemDS's opcode where it differs from the DML spelling (`UnOp::name`).
fn unary_opcode(u: UnOp) -> &'static str {
    match u {
        // SystemDS compiles -x as 0 - x and relu as max(x, 0); the executor adds the literal.
        UnOp::Relu => "max",
        UnOp::IsNa => "isna",
        UnOp::IsNaN => "isnan",
        UnOp::IsInf => "isinf",
        other => other.name(),
    }
}

/// SystemDS's opcode where it differs from the DML spelling (`BinOp::name`).
fn binary_opcode(b: BinOp) -> &'static str {
    match b {
        BinOp::And => "&&",
        BinOp::Or => "||",
        other => other.name(),
    }
}

fn agg_opcode(a: AggOp, d: AggDir) -> String {
    let dir = match d {
        AggDir::All => "",
        AggDir::Row => "r",
        AggDir::Col => "c",
    };
    let f = match a {
        AggOp::Sum => "k+",
        AggOp::SumSq => "sqk+",
        AggOp::Mean => "mean",
        AggOp::Var => "var",
        AggOp::Sd => "sd",
        AggOp::Min => "min",
        AggOp::Max => "max",
        AggOp::Prod => "*",
        AggOp::IndexMax => "imax",
        AggOp::IndexMin => "imin",
    };
    format!("ua{dir}{f}")
}

/// The text of a creation item for a data generator, from its argument values.
pub fn creation_text(op: DataGenOp, args: &[Option<Value>], value: &Value, threads: usize) -> String {
    let lit = |i: usize| args.get(i).and_then(|a| a.as_ref()).and_then(literal_text).unwrap_or_default();
    let num = |i: usize, dflt: f64| {
        format_double(args.get(i).and_then(|a| a.as_ref()).and_then(|v| v.as_f64()).unwrap_or(dflt))
    };
    let int = |i: usize, dflt: i64| {
        args.get(i).and_then(|a| a.as_ref()).and_then(|v| v.as_f64()).map(|v| v as i64).unwrap_or(dflt)
    };
    match op {
        DataGenOp::Rand => {
            let pdf = match args.get(5).and_then(|a| a.as_ref()) {
                Some(Value::Str(s)) => s.to_string(),
                _ => "uniform".into(),
            };
            format!(
                "CP°rand°{}°{}°1000°{}°{}°{}°{}°{pdf}°{}°{threads}°xxx·MATRIX·FP64",
                lit(0),
                lit(1),
                num(2, 0.0),
                num(3, 1.0),
                num(4, 1.0),
                int(7, -1),
                num(6, 1.0)
            )
        }
        DataGenOp::Fill => {
            let v = num(0, 0.0);
            format!("CP°rand°{}°{}°1000°{v}°{v}°1.0°-1°uniform°1.0°{threads}°xxx·MATRIX·FP64", lit(1), lit(2))
        }
        DataGenOp::Seq => {
            let rows = match value {
                Value::Matrix(m) => m.rows(),
                _ => 0,
            };
            let incr = match args.get(2).and_then(|a| a.as_ref()) {
                Some(v) => literal_text(v).unwrap_or_default(),
                None => "1.0·SCALAR·FP64·true".into(),
            };
            format!("CP°seq°{rows}°1°1000°{}°{}°{incr}°xxx·MATRIX·FP64", lit(0), lit(1))
        }
    }
}

/// The trace of `root` in SystemDS's text form, one item a line (each line ends with `\n`):
/// depth-first, every item after its inputs (in argument order), an item that is structurally
/// equal to one already printed not again.
pub fn explain(root: &LinRef) -> String {
    // Post-order walk with an explicit stack: traces of long loops are thousands deep.
    let mut canon: HashMap<*const LinItem, u64> = HashMap::new();
    let mut by_key: HashMap<(LinKind, &str, u8, Vec<u64>), u64> = HashMap::new();
    let mut s = String::new();
    let mut stack: Vec<(&LinItem, usize)> = vec![(root.as_ref(), 0)];
    while let Some((item, next)) = stack.pop() {
        if let Some(input) = item.inputs.get(next) {
            stack.push((item, next + 1));
            if !canon.contains_key(&Arc::as_ptr(input)) {
                stack.push((input.as_ref(), 0));
            }
            continue;
        }
        if canon.contains_key(&(item as *const LinItem)) {
            continue;
        }
        let ins: Vec<u64> = item.inputs.iter().map(|i| canon[&Arc::as_ptr(i)]).collect();
        let key = (item.kind, item.text.as_str(), item.out, ins);
        let id = match by_key.get(&key) {
            Some(&id) => id,
            None => {
                let tag = match item.kind {
                    LinKind::Literal => "L",
                    LinKind::Instr => "I",
                    LinKind::Creation => "C",
                };
                s.push_str(&format!("({}) ({tag}) {}", item.id, item.text));
                for i in &key.3 {
                    s.push_str(&format!(" ({i})"));
                }
                s.push('\n');
                by_key.insert(key, item.id);
                item.id
            }
        };
        canon.insert(item as *const LinItem, id);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_cached_and_twins_print_once() {
        let t = Tracer::default();
        let two = t.literal(&Value::Int(2)).unwrap();
        let again = t.literal(&Value::Int(2)).unwrap();
        assert!(Arc::ptr_eq(&two, &again));
        let s = t.literal(&Value::str("1 2 3 4")).unwrap();
        let x = t.instr("sinit".into(), vec![two.clone(), two.clone(), s], Replay::None, 0);
        let a = t.instr("tsmm".into(), vec![x.clone()], Replay::None, 0);
        let b = t.instr("tsmm".into(), vec![x], Replay::None, 0);
        let sum = t.instr("+".into(), vec![a, b], Replay::None, 0);
        assert_eq!(
            explain(&sum),
            "(0) (L) 2·SCALAR·INT64·true\n(1) (L) 1 2 3 4·SCALAR·STRING·true\n\
             (2) (I) sinit (0) (0) (1)\n(3) (I) tsmm (2)\n(5) (I) + (3) (3)\n"
        );
    }

    #[test]
    fn a_long_chain_drops_and_prints_without_recursion() {
        let t = Tracer::default();
        let mut x = t.literal(&Value::Double(1.0)).unwrap();
        let one = x.clone();
        for _ in 0..200_000 {
            x = t.instr("*".into(), vec![x, one.clone()], Replay::None, 0);
        }
        assert_eq!(explain(&x).lines().count(), 200_001);
        drop(x);
    }
}
