//! Where an operator runs. The GPU variant exists in every build (candle's pattern): code that
//! names it compiles everywhere, and the planner picks it only where a GPU backend is compiled in.

use std::fmt;

/// Where an operator runs and in which format it produces its output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    CpuDense,
    CpuSparse,
    /// Runs on a GPU. Never chosen in a build without GPU support.
    Gpu,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::CpuDense => "CPU dense",
            Backend::CpuSparse => "CPU sparse",
            Backend::Gpu => "GPU",
        })
    }
}

/// The storage format of a matrix the planner picked for an operator's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Dense,
    Sparse,
}
