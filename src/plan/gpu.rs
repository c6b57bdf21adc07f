//! The CPU-or-GPU choice per operator, made after the memory estimates ([`super::assign`]).
//!
//! Under `--gpu force` every operator with a device kernel ([`crate::gpu::supports`]) whose
//! matrices fit the device goes to the GPU. Under `--gpu` an operator goes there only when a
//! simple cost model says it is faster, counting the transfers: the CPU time is its work at the
//! host's rate; the GPU time is its work at the device's rate plus the upload of every input not
//! produced on the device (those stay resident), the download of its output when an operator
//! without a device kernel reads it (device results otherwise stay on the device,
//! `gpu::DeviceMatrix`, and so do variables written from them and function arguments), and a
//! launch cost. So a cellwise operator pays on the
//! device inside a chain of device operators, and seldom on its own; large products do.

use crate::gpu::{DeviceInfo, GpuMode};
use crate::hops::{Dag, Hop, HopOp, VarId};
use crate::types::Backend;
use crate::types::type_info::DType;

/// Sustained f64 rate of the host's product kernel per core (AVX2/AVX-512 gemm), flop/s.
const CPU_FLOPS_PER_CORE: f64 = 20e9;
/// Host memory bandwidth a cellwise pass reaches, bytes/s.
const CPU_BYTES_PER_SEC: f64 = 10e9;
/// Sustained f64 rate assumed where the device's own is unknown ([`crate::gpu::rates`]: CUDA's
/// from its compute capability, a wgpu adapter's measured): a modest figure, as consumer cards
/// run f64 at 1/32..1/64 of f32; data-centre cards (H100: ~60 TFLOP/s) do better.
const GPU_FLOPS: f64 = 500e9;
/// Device memory bandwidth where the device does not report it, bytes/s.
const GPU_BYTES_PER_SEC: f64 = 300e9;
/// One device thread's time for a dependent f64 addition and its load, as a segment of an
/// aggregate is folded (sequentially, in the CPU's order), seconds.
const GPU_SECONDS_PER_SEQUENTIAL_CELL: f64 = 5e-9;
/// Host-device transfer rate (PCIe), bytes/s.
const TRANSFER_BYTES_PER_SEC: f64 = 10e9;
/// Submission, wait and read-back of one operator, seconds.
const LAUNCH_SECONDS: f64 = 50e-6;

/// Sets `Backend::Gpu` on the operators `mode` sends to the device. `on_device`: whether a
/// variable's value is a matrix only on the device as the block starts (its readers upload
/// nothing).
pub fn choose(dag: &mut Dag, mode: GpuMode, on_device: &dyn Fn(VarId) -> bool) {
    if mode == GpuMode::Off {
        return;
    }
    let Ok(device) = crate::gpu::probe(mode) else { return };
    // Only `--gpu` weighs costs (and only then is a wgpu adapter's rate measured).
    let rates = match mode {
        GpuMode::Auto => crate::gpu::rates(mode),
        _ => None,
    }
    .unwrap_or(crate::gpu::Rates { gemm_flops: GPU_FLOPS, bytes_per_sec: GPU_BYTES_PER_SEC });
    place(dag, mode, &device, &rates, on_device);
}

/// [`choose`] for a known device and its rates.
fn place(
    dag: &mut Dag,
    mode: GpuMode,
    device: &DeviceInfo,
    rates: &crate::gpu::Rates,
    on_device: &dyn Fn(VarId) -> bool,
) {
    let order = dag.topo_order();
    // Whether some reader of each operator has no device kernel, so its result must come back.
    let mut read_on_host = vec![false; dag.hops.len()];
    // A variable write or a function call passes a device matrix on as it is (`Slots`), so
    // only operators that read cells count.
    for &id in &order {
        let op = &dag.get(id).op;
        if !crate::gpu::supports(op) && !matches!(op, HopOp::Write(_) | HopOp::Call { .. }) {
            for &i in &dag.get(id).inputs {
                read_on_host[i.index()] = true;
            }
        }
    }
    // Results of device operators, and variables already on the device.
    let mut produced_on_device: Vec<bool> =
        dag.hops.iter().map(|h| matches!(h.op, HopOp::Read(v) if on_device(v))).collect();
    for id in order {
        let hop = dag.get(id);
        if !crate::gpu::supports(&hop.op) || !fits(dag, hop, device) {
            continue;
        }
        let on_gpu = match mode {
            GpuMode::Force => true,
            _ => pays(dag, hop, rates, read_on_host[id.index()], &produced_on_device),
        };
        produced_on_device[id.index()] |= on_gpu;
        if on_gpu {
            dag.get_mut(id).backend = Backend::Gpu;
        }
    }
}

/// Whether each matrix the operator reads or writes fits one device buffer and all of them fit
/// the device budget. Unknown shapes pass: the executor checks the actual sizes and runs the CPU
/// kernel for what does not fit.
fn fits(dag: &Dag, hop: &Hop, device: &DeviceInfo) -> bool {
    let mut total = 0.0;
    for ty in hop.inputs.iter().map(|&i| &dag.get(i).ty).chain(std::iter::once(&hop.ty)) {
        if ty.dt != DType::Matrix {
            continue;
        }
        let Some(cells) = ty.cells() else { continue };
        let bytes = cells * 8.0;
        if bytes > device.max_buffer_bytes as f64 {
            return false;
        }
        total += bytes;
    }
    total <= device.budget_bytes as f64
}

/// The cost model of the module doc: whether the GPU is estimated faster than the CPU;
/// `downloaded`: a reader without a device kernel needs the result on the host; `on_device`:
/// by hop, whether its value is on the device (no upload).
fn pays(dag: &Dag, hop: &Hop, rates: &crate::gpu::Rates, downloaded: bool, on_device: &[bool]) -> bool {
    let cells = |id: crate::hops::HopId| {
        let ty = &dag.get(id).ty;
        if ty.dt == DType::Matrix { ty.cells() } else { Some(1.0) }
    };
    let Some(out) = (if hop.ty.dt == DType::Matrix { hop.ty.cells() } else { Some(1.0) }) else {
        return false;
    };
    let mut in_cells = 0.0;
    let mut upload = 0.0;
    for &i in &hop.inputs {
        let Some(c) = cells(i) else { return false };
        in_cells += c;
        if !on_device[i.index()] {
            upload += c * 8.0;
        }
    }
    let threads = rayon::current_num_threads() as f64;
    let (cpu, gpu_work) = match &hop.op {
        HopOp::Builtin { id, .. } if *id == crate::builtins::ids::MATMUL_T => {
            let a = &dag.get(hop.inputs[0]).ty;
            let ta = matches!(
                hop.inputs.get(2).and_then(|&i| dag.get(i).literal()),
                Some(crate::hops::Lit::Bool(true))
            );
            let flops = 2.0 * out * if ta { a.rows } else { a.cols } as f64;
            (flops / (CPU_FLOPS_PER_CORE * threads), flops / rates.gemm_flops)
        }
        HopOp::MatMul | HopOp::Tsmm { .. } => {
            let (a, b) =
                (&dag.get(hop.inputs[0]).ty, &dag.get(*hop.inputs.last().unwrap_or(&hop.inputs[0])).ty);
            let k = match hop.op {
                HopOp::Tsmm { left: true } => a.rows,
                HopOp::Tsmm { left: false } => a.cols,
                _ => a.cols.max(b.rows),
            } as f64;
            let flops = 2.0 * out * k;
            (flops / (CPU_FLOPS_PER_CORE * threads), flops / rates.gemm_flops)
        }
        HopOp::AggUnary(_, dir) => {
            // One device thread folds each segment in the CPU's order (its exact bits): the
            // time of the longest segment, at a dependent addition per cell.
            let a = &dag.get(hop.inputs[0]).ty;
            let segment = match dir {
                crate::types::ops::AggDir::All => in_cells,
                crate::types::ops::AggDir::Row => a.cols as f64,
                crate::types::ops::AggDir::Col => a.rows as f64,
            };
            let bytes = (in_cells + out) * 8.0;
            (
                bytes / (CPU_BYTES_PER_SEC * threads.min(4.0)),
                (bytes / rates.bytes_per_sec).max(segment * GPU_SECONDS_PER_SEQUENTIAL_CELL),
            )
        }
        _ => {
            let bytes = (in_cells + out) * 8.0;
            (bytes / (CPU_BYTES_PER_SEC * threads.min(4.0)), bytes / rates.bytes_per_sec)
        }
    };
    let download = if downloaded || hop.ty.dt != DType::Matrix { out * 8.0 } else { 0.0 };
    let gpu = gpu_work + (upload + download) / TRANSFER_BYTES_PER_SEC + LAUNCH_SECONDS;
    gpu < cpu
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hops::HopId;
    use crate::types::ops::UnOp;
    use crate::types::type_info::TypeInfo;

    /// `exp` of a 2000x2000 matrix read from `input`.
    fn exp_dag(input: HopOp) -> (Dag, HopId) {
        let mut dag = Dag::default();
        let hop = |op, inputs| Hop {
            op,
            inputs,
            ty: TypeInfo::matrix(2000, 2000),
            mem: 32e6,
            backend: Backend::CpuDense,
            span: Default::default(),
        };
        let x = dag.add(hop(input, vec![]));
        let e = dag.add(hop(HopOp::Unary(UnOp::Exp), vec![x]));
        (dag, e)
    }

    #[test]
    fn a_cellwise_operator_pays_only_inside_a_chain_of_device_operators() {
        let rates = crate::gpu::Rates { gemm_flops: GPU_FLOPS, bytes_per_sec: GPU_BYTES_PER_SEC };
        let (dag, e) = exp_dag(HopOp::Unary(UnOp::Abs));
        // Alone: its input goes up and its result comes back, 64 MB over PCIe.
        assert!(!pays(&dag, dag.get(e), &rates, true, &[false, false]));
        // Between device operators: nothing moves.
        assert!(pays(&dag, dag.get(e), &rates, false, &[true, false]));
        // Its input is on the device but a CPU operator reads the result.
        assert!(!pays(&dag, dag.get(e), &rates, true, &[true, false]));
    }

    /// A variable whose value a device operator of an earlier block left on the device costs
    /// its reader no upload; the same variable on the host does.
    #[test]
    fn a_variable_on_the_device_is_read_without_an_upload() {
        let rates = crate::gpu::Rates { gemm_flops: GPU_FLOPS, bytes_per_sec: GPU_BYTES_PER_SEC };
        let gpu = DeviceInfo {
            name: "test".into(),
            api: "none".into(),
            software: false,
            max_buffer_bytes: 1 << 30,
            budget_bytes: 1 << 31,
        };
        let choose_with = |device: bool| {
            let (mut dag, e) = exp_dag(HopOp::Read(3));
            let w = dag.add(Hop {
                op: HopOp::Write(4),
                inputs: vec![e],
                ty: TypeInfo::matrix(2000, 2000),
                mem: 32e6,
                backend: Backend::CpuDense,
                span: Default::default(),
            });
            dag.roots.push(w);
            place(&mut dag, GpuMode::Auto, &gpu, &rates, &|v| device && v == 3);
            dag.get(e).backend
        };
        // The CPU's side of the model counts the threads: two, as on the CI machine.
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("a pool");
        pool.install(|| {
            assert_eq!(choose_with(false), Backend::CpuDense);
            assert_eq!(choose_with(true), Backend::Gpu);
        });
    }
}
