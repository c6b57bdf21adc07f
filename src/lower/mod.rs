//! Lowering: a rewritten, planned HOP DAG becomes a flat instruction program over registers.
//!
//! Every operator that computes something gets a register; literals become constant operands;
//! `Extract` of a multi-output operator names one of its consecutive output registers. Roots are
//! emitted in statement order with their inputs first (depth-first), so prints and writes happen
//! in the order the script says. For every register the last instruction that reads it is marked,
//! so the executor moves the value out instead of cloning it: a matrix updated by left indexing in
//! a loop then has a single owner and is updated in place.

use crate::hops::{Dag, HopId, HopOp, Lit, VarId};
use crate::syntax::ast::Span;
use crate::types::Backend;
use crate::types::backend::Format;
use crate::types::type_info::TypeKey;
use crate::types::value::Value;

/// Set in `Instr::moves` of a `Read`: the block overwrites the variable, so its value is moved out
/// of the frame rather than shared (the write at the end of the block puts the new value back).
pub const TAKE_FROM_FRAME: u64 = 1 << 63;

/// Where an instruction finds an argument.
#[derive(Clone, Debug)]
pub enum Operand {
    Reg(u32),
    Const(Value),
    /// An optional argument that was not given.
    Absent,
}

#[derive(Clone, Debug)]
pub struct Instr {
    pub op: HopOp,
    pub args: Vec<Operand>,
    /// First output register (outputs of multi-output operators are consecutive).
    pub out: u32,
    /// Bit `i` set: this is the last read of argument `i`'s register, so it may be moved out.
    pub moves: u64,
    pub span: Span,
    pub backend: Backend,
    /// The output format the planner picked (`crate::plan::planned_format`); kernels that build
    /// a new matrix build it in this format, and decide from the data only when it is `None`.
    pub format: Option<Format>,
}

/// A compiled block.
#[derive(Debug)]
pub struct Plan {
    pub instrs: Vec<Instr>,
    pub nregs: u32,
    /// Variables read by the block and the key of their types when it was compiled.
    pub inputs: Vec<VarId>,
    pub key: Vec<TypeKey>,
    /// For predicates: the register (or constant) holding the value.
    pub result: Option<Operand>,
    /// Text of the DAG after rewrites, for `--explain`.
    pub explain: String,
}

fn lit_value(l: &Lit) -> Operand {
    match l {
        Lit::Int(i) => Operand::Const(Value::Int(*i)),
        Lit::Double(d) => Operand::Const(Value::Double(*d)),
        Lit::Bool(b) => Operand::Const(Value::Bool(*b)),
        Lit::Str(s) => Operand::Const(Value::str(s.as_str())),
        Lit::Absent => Operand::Absent,
    }
}

struct Lowerer<'a> {
    dag: &'a Dag,
    reg: Vec<Option<u32>>,
    nregs: u32,
    instrs: Vec<Instr>,
    written: Vec<VarId>,
}

impl Lowerer<'_> {
    fn operand(&mut self, id: HopId) -> Operand {
        let hop = self.dag.get(id);
        match &hop.op {
            HopOp::Literal(l) => lit_value(l),
            HopOp::Extract(i) => {
                let base = self.emit(hop.inputs[0]);
                Operand::Reg(base + *i as u32)
            }
            _ => Operand::Reg(self.emit(id)),
        }
    }

    /// Emits the instruction of `id` (after its inputs) once; returns its output register.
    fn emit(&mut self, id: HopId) -> u32 {
        if let Some(r) = self.reg[id.index()] {
            return r;
        }
        let hop = self.dag.get(id);
        let args: Vec<Operand> = hop.inputs.clone().into_iter().map(|i| self.operand(i)).collect();
        let nout = match hop.op {
            HopOp::Call { nout, .. } | HopOp::Builtin { nout, .. } => (nout as u32).max(1),
            HopOp::Fused(ref body) => (body.outputs.len() as u32).max(1),
            _ => 1,
        };
        let out = self.nregs;
        self.nregs += nout;
        self.reg[id.index()] = Some(out);
        let op = hop.op.clone();
        let format = crate::plan::planned_format(hop);
        self.instrs.push(Instr { op, args, out, moves: 0, span: hop.span, backend: hop.backend, format });
        out
    }
}

/// Lowers a DAG to a plan. `result` is the root whose value a predicate returns.
pub fn lower(
    dag: &Dag,
    inputs: Vec<VarId>,
    key: Vec<TypeKey>,
    result: Option<HopId>,
    explain: String,
) -> Plan {
    let mut l =
        Lowerer { dag, reg: vec![None; dag.hops.len()], nregs: 0, instrs: Vec::new(), written: Vec::new() };
    for &root in &dag.roots {
        if let HopOp::Write(v) = dag.get(root).op {
            l.written.push(v);
        }
    }
    // Reads of variables that the block overwrites come first, before any write can clobber them.
    for id in dag.topo_order() {
        if let HopOp::Read(v) = dag.get(id).op
            && l.written.contains(&v)
        {
            l.emit(id);
        }
    }
    let mut result_operand = None;
    for &root in &dag.roots {
        if Some(root) == result {
            result_operand = Some(l.operand(root));
        } else {
            l.emit(root);
        }
    }
    if result_operand.is_none()
        && let Some(r) = result
    {
        result_operand = Some(l.operand(r));
    }
    let Lowerer { mut instrs, nregs, written, .. } = l;
    mark_last_uses(&mut instrs, nregs, result_operand.as_ref());
    for ins in &mut instrs {
        if let HopOp::Read(v) = ins.op
            && written.contains(&v)
        {
            ins.moves |= TAKE_FROM_FRAME;
        }
    }
    Plan { instrs, nregs, inputs, key, result: result_operand, explain }
}

fn mark_last_uses(instrs: &mut [Instr], nregs: u32, keep: Option<&Operand>) {
    let mut last: Vec<Option<(usize, usize)>> = vec![None; nregs as usize];
    for (i, ins) in instrs.iter().enumerate() {
        for (a, arg) in ins.args.iter().enumerate() {
            if let Operand::Reg(r) = arg {
                last[*r as usize] = Some((i, a));
            }
        }
    }
    if let Some(Operand::Reg(r)) = keep {
        last[*r as usize] = None;
    }
    for (i, ins) in instrs.iter_mut().enumerate() {
        for (a, arg) in ins.args.iter().enumerate() {
            if let Operand::Reg(r) = arg {
                // Only the single last read may move, and only if the register is read once by
                // that instruction (`X * X` reads it twice).
                let reads_here = ins.args.iter().filter(|o| matches!(o, Operand::Reg(x) if x == r)).count();
                if last[*r as usize] == Some((i, a)) && reads_here == 1 && a < 63 {
                    ins.moves |= 1 << a;
                }
            }
        }
    }
}
