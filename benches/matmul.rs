//! Throughput of the dense matrix multiply at 2000x2000 (`cargo bench --bench matmul`): the best
//! of five runs after a warm-up, in ms and GFLOP/s (2 flops per multiply-add).

use std::time::Instant;

use dml::kernels::datagen::{Pdf, RandSpec, rand};
use dml::kernels::matmul::matmul;

fn main() {
    let n = 2000;
    let spec = RandSpec {
        rows: n,
        cols: n,
        min: -1.0,
        max: 1.0,
        sparsity: 1.0,
        pdf: Pdf::Uniform,
        seed: Some(1),
        sparse: false,
    };
    let a = rand(&spec).expect("rand");
    let b = rand(&RandSpec { seed: Some(2), ..spec }).expect("rand");
    let _ = matmul(&a, &b).expect("matmul");
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        let c = matmul(&a, &b).expect("matmul");
        best = best.min(t.elapsed().as_secs_f64());
        assert_eq!(c.rows(), n);
    }
    let gflops = 2.0 * (n as f64).powi(3) / best / 1e9;
    println!("matmul {n}x{n}: best {:.1} ms, {gflops:.1} GFLOP/s", best * 1e3);
}
