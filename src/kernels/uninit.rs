//! Output buffers that a kernel overwrites completely, allocated without zeroing them first.
//!
//! `vec![0.0; n]` asks the allocator for zeroed memory. For memory it reuses (the CLI tells it to
//! keep freed memory, see `main.rs`) that is a `memset` of the whole buffer on the calling thread:
//! one core writes 12 MB while the others wait, and then the kernel writes it all again. In
//! LeNet's training loop those memsets were 8% of all CPU time. The helpers here hand the kernel
//! uninitialised cells instead, and the kernel writes each one (or zeroes its own part, in
//! parallel, just before accumulating into it, when the part is still in its cache).

use rayon::prelude::*;
use std::mem::MaybeUninit;

/// A vector of `n` cells filled by `fill(first cell index, cells)` over consecutive chunks of
/// `chunk` cells (the last may be shorter), in parallel when `parallel`.
///
/// # Safety
/// `fill` must write every cell of every chunk it is given.
pub unsafe fn new_filled<F>(n: usize, chunk: usize, parallel: bool, fill: F) -> Vec<f64>
where
    F: Fn(usize, &mut [MaybeUninit<f64>]) + Sync,
{
    let chunk = chunk.max(1);
    let mut v: Vec<f64> = Vec::with_capacity(n);
    let cells = &mut v.spare_capacity_mut()[..n];
    if parallel {
        cells.par_chunks_mut(chunk).enumerate().for_each(|(i, c)| fill(i * chunk, c));
    } else {
        cells.chunks_mut(chunk).enumerate().for_each(|(i, c)| fill(i * chunk, c));
    }
    // SAFETY: the capacity is at least n, and the caller guarantees that `fill` wrote all n cells.
    unsafe { v.set_len(n) };
    v
}

/// Writes zeros into `cells` and returns them as initialised cells.
pub fn zeroed(cells: &mut [MaybeUninit<f64>]) -> &mut [f64] {
    cells.fill(MaybeUninit::new(0.0));
    // SAFETY: every cell was just written, and `MaybeUninit<f64>` has the layout of `f64`.
    unsafe { &mut *(cells as *mut [MaybeUninit<f64>] as *mut [f64]) }
}

/// `out[i] = f(a[i])`, in parallel chunks of `chunk` cells when `parallel`.
pub fn map<F: Fn(f64) -> f64 + Sync>(a: &[f64], chunk: usize, parallel: bool, f: F) -> Vec<f64> {
    let fill = |start: usize, out: &mut [MaybeUninit<f64>]| super::simd::map_into(&a[start..], out, &f);
    // SAFETY: each chunk of `out` is zipped with an at least as long tail of `a`, so every cell is written.
    unsafe { new_filled(a.len(), chunk, parallel, fill) }
}

/// `out[i] = f(a[i], b[i])` (the slices have the same length), in parallel chunks when `parallel`.
pub fn zip<F: Fn(f64, f64) -> f64 + Sync>(
    a: &[f64],
    b: &[f64],
    chunk: usize,
    parallel: bool,
    f: F,
) -> Vec<f64> {
    assert_eq!(a.len(), b.len(), "uninit::zip: slices of different lengths");
    let fill =
        |start: usize, out: &mut [MaybeUninit<f64>]| super::simd::zip_into(&a[start..], &b[start..], out, &f);
    // SAFETY: both inputs are as long as the output, so each chunk's zip covers all its cells.
    unsafe { new_filled(a.len(), chunk, parallel, fill) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_and_zip_write_every_cell_in_order() {
        let a: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        let b: Vec<f64> = (0..1000).map(|i| 2.0 * i as f64).collect();
        for parallel in [false, true] {
            assert_eq!(map(&a, 7, parallel, |x| x + 1.0), (1..=1000).map(|i| i as f64).collect::<Vec<_>>());
            assert_eq!(zip(&a, &b, 64, parallel, |x, y| y - x), a);
        }
        assert!(map(&[], 16, true, |x| x).is_empty());
    }

    #[test]
    fn zeroed_clears_cells() {
        let mut cells = [MaybeUninit::new(3.0); 5];
        assert_eq!(zeroed(&mut cells), &[0.0; 5]);
    }
}
