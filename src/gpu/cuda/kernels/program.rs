//! A device program: the launches of a builtin that takes several kernels and products in a row
//! (batch normalization, the LSTM and their backwards), described as data before anything runs.
//!
//! Why data: the same description is run by two interpreters. `super::super::ops_layers` runs
//! it on the device (kernels through NVRTC, products through cuBLAS), and the host check
//! (`super::super::host_check`) runs it as host C++ against the CPU kernels on machines without
//! an NVIDIA GPU. So the buffers, the order of the launches, their scalar arguments and the
//! products' cuBLAS parameters (transposes, leading dimensions) are checked without hardware;
//! only the interpreters' calls into cudarc are not.

use super::Scalar;

/// A buffer a program reads or writes: one of its inputs (by position) or one of the buffers it
/// allocates (by position in [`Program::temps`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buf {
    Input(usize),
    Temp(usize),
}

/// One kernel launch: a grid-stride loop over `cells` (a cell a thread), its buffers in the
/// order the kernel declares them, then its scalars.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// The kernel's entry point (and its cache name).
    pub name: &'static str,
    /// The kernel's CUDA C source, given its entry point's name.
    pub source: fn(&str) -> String,
    pub bufs: Vec<Buf>,
    pub scalars: Vec<Scalar>,
    pub cells: usize,
}

/// A row-major product `C = op(A) %*% op(B)` (`m x n`, inner dimension `k`) into `C`'s first
/// `m * n` cells, `A` and `B` read from their first cells with their stored columns `lda` and
/// `ldb` (so `B` may be the first rows of a taller matrix).
#[derive(Clone, Copy, Debug)]
pub struct Product {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub ta: bool,
    pub tb: bool,
    pub a: Buf,
    pub lda: usize,
    pub b: Buf,
    pub ldb: usize,
    pub c: Buf,
}

/// A column-major `dgemm` (`C = op(A) op(B)`, `C` being `m x n` with `beta = 0`) as cuBLAS takes
/// it: the parameters [`Product::gemm`] gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gemm {
    pub transa: bool,
    pub transb: bool,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: Buf,
    pub lda: usize,
    pub b: Buf,
    pub ldb: usize,
    pub c: Buf,
    pub ldc: usize,
}

impl Product {
    /// The column-major call: a row-major `r x c` buffer is the column-major `c x r` transpose,
    /// so `C = op(A) op(B)` is computed as `t(C) = t(op(B)) t(op(A))`, `B` first.
    pub fn gemm(&self) -> Gemm {
        Gemm {
            transa: self.tb,
            transb: self.ta,
            m: self.n,
            n: self.m,
            k: self.k,
            a: self.b,
            lda: self.ldb,
            b: self.a,
            ldb: self.lda,
            c: self.c,
            ldc: self.n,
        }
    }
}

/// One step of a program.
#[derive(Clone, Debug)]
pub enum Step {
    Kernel(Kernel),
    Product(Product),
}

/// A builtin's launches: the buffers it allocates (cells each, every one written before it is
/// read), the steps in order on one stream, and its outputs (a buffer and its shape).
#[derive(Clone, Debug, Default)]
pub struct Program {
    pub temps: Vec<usize>,
    pub steps: Vec<Step>,
    pub outputs: Vec<(Buf, usize, usize)>,
}

impl Program {
    /// A new buffer of `cells` cells (at least one, so every buffer can be bound).
    pub fn temp(&mut self, cells: usize) -> Buf {
        self.temps.push(cells.max(1));
        Buf::Temp(self.temps.len() - 1)
    }

    pub fn kernel(
        &mut self,
        name: &'static str,
        source: fn(&str) -> String,
        bufs: &[Buf],
        scalars: Vec<Scalar>,
        cells: usize,
    ) {
        self.steps.push(Step::Kernel(Kernel { name, source, bufs: bufs.to_vec(), scalars, cells }));
    }

    pub fn product(&mut self, p: Product) {
        self.steps.push(Step::Product(p));
    }

    pub fn output(&mut self, buf: Buf, rows: usize, cols: usize) {
        self.outputs.push((buf, rows, cols));
    }
}

/// Scalars of 64-bit sizes, in order.
pub fn sizes(v: &[usize]) -> Vec<Scalar> {
    v.iter().map(|&d| Scalar::I64(d as i64)).collect()
}
