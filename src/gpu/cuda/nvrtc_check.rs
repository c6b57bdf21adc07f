//! Every generated CUDA C kernel compiled by NVRTC itself, with the options the device uses
//! (`Cuda::function`: no FMA contraction), where the NVRTC library is present. NVRTC needs no
//! GPU and no driver, so a machine without either can run this: install the NVRTC runtime
//! library (the CUDA toolkit's, or PyPI's `nvidia-cuda-nvrtc` wheel unpacked) and put its
//! `lib` folder on `LD_LIBRARY_PATH`, then `cargo test --features cuda --lib nvrtc`.
//! Without the library the test says on stderr that it skipped and why.
//!
//! The host check (`host_check`) runs the same sources as host C++ against the CPU kernels;
//! this one catches what only the device compiler rejects (a host-only function, a missing
//! device overload, a qualifier the stand-in header forgives).

use super::kernels::program::{Program, Step};
use super::kernels::{self, Fused, batch_norm, dnn, lstm};
use crate::types::ops::{AggOp, BinOp, UnOp};

/// A kernel's source given its entry point's name.
type Source = fn(&str) -> String;

/// Every kernel the device may compile: its entry point and source.
fn every_kernel() -> Vec<(String, String)> {
    use BinOp::*;
    use UnOp::*;
    let mut all: Vec<(String, String)> = Vec::new();
    let binaries =
        [Add, Sub, Mul, Div, Pow, IntDiv, Mod, Min, Max, Lt, Le, Gt, Ge, Eq, Ne, And, Or, Xor, BinOp::Log];
    for op in binaries {
        if let Some(expr) = kernels::binary_expr(op) {
            let name = format!("binary_{op:?}");
            all.push((name.clone(), kernels::binary(&name, expr)));
        }
    }
    let unaries = [
        Neg,
        Not,
        Abs,
        Sign,
        Sqrt,
        Exp,
        UnOp::Log,
        Floor,
        Ceil,
        Round,
        Sin,
        Cos,
        Tan,
        Asin,
        Acos,
        Atan,
        Sinh,
        Cosh,
        Tanh,
        Sigmoid,
        IsNa,
        IsNaN,
        IsInf,
        Relu,
    ];
    for op in unaries {
        if let Some(expr) = kernels::unary_expr(op) {
            let name = format!("unary_{op:?}");
            all.push((name.clone(), kernels::unary(&name, expr)));
        }
    }
    for op in [AggOp::Sum, AggOp::SumSq, AggOp::Mean, AggOp::Min, AggOp::Max] {
        let name = format!("aggregate_{op:?}");
        all.push((name.clone(), kernels::aggregate(&name, op).expect("an aggregate kernel")));
    }
    for kind in [Fused::Axpby, Fused::ReluBackward, Fused::BiasAdd, Fused::BiasMultiply] {
        let name = format!("fused_{kind:?}");
        all.push((name.clone(), kernels::fused(&name, kind)));
    }
    let named: [(&str, Source); 7] = [
        ("ifelse", kernels::ifelse),
        ("conv2d", kernels::conv2d),
        ("pool_forward", dnn::pool_forward),
        ("pool_backward", dnn::pool_backward),
        ("conv2d_backward_filter", dnn::conv2d_backward_filter),
        ("conv2d_backward_data", dnn::conv2d_backward_data),
        ("lstm_copy", lstm::copy),
    ];
    all.extend(named.iter().map(|(name, source)| (name.to_string(), source(name))));
    // The programs' kernels, from programs that use each of them.
    let dims = lstm::Dims { n: 2, t: 2, d: 3, m: 4 };
    let programs: [Program; 5] = [
        batch_norm::forward(2, 3, 4, true, 1e-5, 0.9),
        batch_norm::forward(2, 3, 4, false, 1e-5, 0.9),
        batch_norm::backward(2, 3, 4),
        lstm::forward(dims, false),
        lstm::backward(dims, true),
    ];
    for p in &programs {
        for step in &p.steps {
            if let Step::Kernel(k) = step
                && !all.iter().any(|(name, _)| name == k.name)
            {
                all.push((k.name.to_string(), (k.source)(k.name)));
            }
        }
    }
    all
}

#[test]
fn nvrtc_compiles_every_kernel() {
    use std::io::Write;
    // SAFETY: tries `dlopen` on the library's candidate names and closes what it opened.
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        let _ = writeln!(
            std::io::stderr(),
            "skipped the NVRTC compile check: libnvrtc not found (see src/gpu/cuda/nvrtc_check.rs)"
        );
        return;
    }
    let kernels = every_kernel();
    let failures: Vec<String> = kernels
        .iter()
        .filter_map(|(name, source)| {
            let opts = cudarc::nvrtc::CompileOptions {
                fmad: Some(false),
                name: Some(format!("{name}.cu")),
                ..Default::default()
            };
            let ptx = cudarc::nvrtc::compile_ptx_with_opts(source, opts);
            match ptx {
                Err(e) => Some(format!("{name}: {e:?}")),
                Ok(p) if !p.to_src().contains(&format!(".entry {name}(")) => {
                    Some(format!("{name}: the PTX has no entry point `{name}`"))
                }
                Ok(_) => None,
            }
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} kernels do not compile:\n{}",
        failures.len(),
        kernels.len(),
        failures.join("\n")
    );
}
