//! `--stats`: time and count per instruction kind, and compile time against execution time.
//!
//! Each kind gets its wall time and the CPU time of the whole process (all threads) during its
//! instructions: on a busy machine the wall time also counts the time other programs held the
//! cores, the CPU time does not, so kernels can be compared even there.

use crate::hops::HopOp;
use crate::types::conversions::{self, Conversions};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

pub struct Stats {
    per_op: Mutex<HashMap<String, (u64, Duration, Duration)>>,
    compile: Mutex<(u64, Duration)>,
    /// The process's format-conversion counts when this run started.
    conversions_at_start: Conversions,
    /// The process's GPU counters when this run started.
    gpu_at_start: crate::gpu::Counters,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            per_op: Mutex::default(),
            compile: Mutex::default(),
            conversions_at_start: conversions::snapshot(),
            gpu_at_start: crate::gpu::counters(),
        }
    }
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
    /// Adds one instruction of `op`'s kind that took `t` of wall time and `cpu` of CPU time.
    pub fn record(&self, op: &HopOp, t: Duration, cpu: Duration) {
        if let Ok(mut m) = self.per_op.lock() {
            let e = m.entry(kind(op)).or_insert((0, Duration::ZERO, Duration::ZERO));
            e.0 += 1;
            e.1 += t;
            e.2 += cpu;
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
        let mut rows: Vec<(String, u64, Duration, Duration)> = self
            .per_op
            .lock()
            .map(|m| m.iter().map(|(k, (n, t, c))| (k.clone(), *n, *t, *c)).collect())
            .unwrap_or_default();
        let exec: Duration = rows.iter().map(|r| r.2).sum();
        out.push_str(&format!("Execution time:\t\t{:.3} sec. (in instructions)\n", exec.as_secs_f64()));
        let conv = conversions::snapshot().since(self.conversions_at_start);
        out.push_str(&format!(
            "Format conversions:\tdense->sparse {}, sparse->dense {}\n",
            conv.dense_to_sparse, conv.sparse_to_dense
        ));
        out.push_str(&crate::gpu::counters().since(self.gpu_at_start).report());
        rows.sort_by_key(|r| std::cmp::Reverse(r.2));
        out.push_str(
            "Heavy hitter instructions:\n  #  Instruction              Time(s)    CPU(s)     Count\n",
        );
        for (i, (k, n, t, c)) in rows.iter().take(20).enumerate() {
            out.push_str(&format!(
                "{:>3}  {:<24} {:>9.4} {:>9.4} {:>9}\n",
                i + 1,
                k,
                t.as_secs_f64(),
                c.as_secs_f64(),
                n
            ));
        }
        out
    }
}

/// CPU time used so far by the whole process, all threads together (zero where the platform
/// does not report it).
pub fn process_cpu_time() -> Duration {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant libc defines.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
        if rc == 0 {
            return Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32);
        }
    }
    Duration::ZERO
}
