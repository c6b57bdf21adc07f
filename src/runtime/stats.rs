//! `--stats`: time and count per instruction kind, and compile time against execution time.

use crate::hops::HopOp;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Default)]
pub struct Stats {
    per_op: Mutex<HashMap<String, (u64, Duration)>>,
    compile: Mutex<(u64, Duration)>,
}

fn kind(op: &HopOp) -> String {
    match op {
        HopOp::Read(_) => "read".into(),
        HopOp::Write(_) => "write".into(),
        HopOp::Call { .. } => "fcall".into(),
        HopOp::Literal(_) => "literal".into(),
        other => crate::hops::explain::op_label(other, &|_| String::new(), &|_| String::new()),
    }
}

impl Stats {
    pub fn record(&self, op: &HopOp, t: Duration) {
        if let Ok(mut m) = self.per_op.lock() {
            let e = m.entry(kind(op)).or_insert((0, Duration::ZERO));
            e.0 += 1;
            e.1 += t;
        }
    }

    pub fn record_compile(&self, t: Duration) {
        if let Ok(mut c) = self.compile.lock() {
            c.0 += 1;
            c.1 += t;
        }
    }

    /// The report printed after the run, heaviest instruction kinds first.
    pub fn report(&self, total: Duration, initial_compile: Duration) -> String {
        let mut out = String::from("dml statistics:\n");
        let (n, c) = self.compile.lock().map(|c| *c).unwrap_or((0, Duration::ZERO));
        out.push_str(&format!("Total elapsed time:\t{:.3} sec.\n", total.as_secs_f64()));
        out.push_str(&format!(
            "Compilation time:\t{:.3} sec. (parse and validate {:.3} sec., {} block plans {:.3} sec.)\n",
            initial_compile.as_secs_f64() + c.as_secs_f64(),
            initial_compile.as_secs_f64(),
            n,
            c.as_secs_f64()
        ));
        let mut rows: Vec<(String, u64, Duration)> = self
            .per_op
            .lock()
            .map(|m| m.iter().map(|(k, (n, t))| (k.clone(), *n, *t)).collect())
            .unwrap_or_default();
        let exec: Duration = rows.iter().map(|r| r.2).sum();
        out.push_str(&format!("Execution time:\t\t{:.3} sec. (in instructions)\n", exec.as_secs_f64()));
        rows.sort_by_key(|r| std::cmp::Reverse(r.2));
        out.push_str("Heavy hitter instructions:\n  #  Instruction              Time(s)     Count\n");
        for (i, (k, n, t)) in rows.iter().take(20).enumerate() {
            out.push_str(&format!("{:>3}  {:<24} {:>9.4} {:>9}\n", i + 1, k, t.as_secs_f64(), n));
        }
        out
    }
}
