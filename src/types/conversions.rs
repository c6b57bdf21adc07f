//! Counts of storage-format changes (dense to sparse, sparse to dense) of matrices, for `--stats`.
//!
//! A change of format is a whole copy of a matrix, so it is worth seeing when a script makes many.
//! Only changes of a value's storage are counted (re-examining an output, left indexing that
//! crosses the turn point), not the dense or CSR views a kernel takes of an input for one
//! operation. The counters are process-wide; a run reports the difference between its start and
//! its end ([`snapshot`]).

use std::sync::atomic::{AtomicU64, Ordering};

static DENSE_TO_SPARSE: AtomicU64 = AtomicU64::new(0);
static SPARSE_TO_DENSE: AtomicU64 = AtomicU64::new(0);

/// Notes one conversion of a dense matrix into sparse storage.
pub fn note_dense_to_sparse() {
    DENSE_TO_SPARSE.fetch_add(1, Ordering::Relaxed);
}

/// Notes one conversion of a sparse matrix into dense storage.
pub fn note_sparse_to_dense() {
    SPARSE_TO_DENSE.fetch_add(1, Ordering::Relaxed);
}

/// The counts so far in this process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Conversions {
    pub dense_to_sparse: u64,
    pub sparse_to_dense: u64,
}

impl Conversions {
    /// The conversions made since `earlier`.
    pub fn since(self, earlier: Conversions) -> Conversions {
        Conversions {
            dense_to_sparse: self.dense_to_sparse.saturating_sub(earlier.dense_to_sparse),
            sparse_to_dense: self.sparse_to_dense.saturating_sub(earlier.sparse_to_dense),
        }
    }
}

pub fn snapshot() -> Conversions {
    Conversions {
        dense_to_sparse: DENSE_TO_SPARSE.load(Ordering::Relaxed),
        sparse_to_dense: SPARSE_TO_DENSE.load(Ordering::Relaxed),
    }
}
