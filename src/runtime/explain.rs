//! `--explain runtime`: the instruction programs compiled for each block during the run.

use crate::compiler::program::{Block, Program};
use crate::lower::{Operand, Plan};

fn operand(o: &Operand) -> String {
    match o {
        Operand::Reg(r) => format!("r{r}"),
        Operand::Const(v) => crate::kernels::scalar::scalar_to_string(v),
        Operand::Absent => "_".into(),
    }
}

fn plan_text(p: &Plan, out: &mut String) {
    for ins in &p.instrs {
        let label = crate::hops::explain::op_label(&ins.op, &|v| format!("v{v}"), &|f| format!("f{f}"));
        let args: Vec<String> = ins.args.iter().map(operand).collect();
        out.push_str(&format!("  r{} = {} {} [{}]\n", ins.out, label, args.join(" "), ins.backend));
    }
}

fn blocks(program: &Program, bs: &[Block], out: &mut String) {
    for b in bs {
        match b {
            Block::Basic(bb) => {
                for p in bb.cache.plans() {
                    out.push_str(&format!("--- block ({})\n", program.describe_span(bb.span)));
                    // The HOPs as planned with the live sizes and non-zeros, then the instructions.
                    for line in p.explain.lines() {
                        out.push_str(&format!("  # {line}\n"));
                    }
                    plan_text(&p, out);
                }
            }
            Block::If { then_body, else_body, .. } => {
                blocks(program, then_body, out);
                blocks(program, else_body, out);
            }
            Block::While { body, .. } => blocks(program, body, out),
            Block::For(f) => {
                blocks(program, &f.preheader, out);
                blocks(program, &f.body, out);
            }
        }
    }
}

pub fn explain_runtime(program: &Program) -> String {
    let mut out = String::new();
    blocks(program, &program.main, &mut out);
    for f in &program.functions {
        out.push_str(&format!("=== function {}\n", f.name));
        blocks(program, &f.body, &mut out);
    }
    out
}
