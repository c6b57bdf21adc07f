//! Discrete Fourier transforms of real or complex matrices with `rustfft`: `fft`/`ifft` are
//! two-dimensional (rows, then columns; both sizes powers of two), the `_linearized` forms
//! transform each row on its own (the row length a power of two). Inverses are scaled by 1/N.

use super::{KResult, KernelError};
use crate::types::matrix::Matrix;
use rustfft::{FftPlanner, num_complex::Complex};

fn power_of_two(n: usize) -> bool {
    n > 0 && n.is_power_of_two()
}

/// The imaginary part, when given, must have the real part's shape.
fn check_parts(name: &str, re: &Matrix, im: Option<&Matrix>) -> KResult<()> {
    match im {
        Some(im) if im.rows() != re.rows() || im.cols() != re.cols() => Err(KernelError::new(format!(
            "{name}: the real part is {}x{} but the imaginary part is {}x{}",
            re.rows(),
            re.cols(),
            im.rows(),
            im.cols()
        ))),
        _ => Ok(()),
    }
}

/// Transforms `n` contiguous sequences of length `len` in place.
fn transform_rows(data: &mut [Complex<f64>], len: usize, inverse: bool, planner: &mut FftPlanner<f64>) {
    if len == 0 {
        return;
    }
    let f = if inverse { planner.plan_fft_inverse(len) } else { planner.plan_fft_forward(len) };
    f.process(data);
}

/// Returns (re, im) of the transform of `re + i*im`.
pub fn fft(re: &Matrix, im: Option<&Matrix>, inverse: bool, linearized: bool) -> KResult<(Matrix, Matrix)> {
    let name = match (inverse, linearized) {
        (false, false) => "fft",
        (true, false) => "ifft",
        (false, true) => "fft_linearized",
        (true, true) => "ifft_linearized",
    };
    let (rows, cols) = (re.rows(), re.cols());
    check_parts(name, re, im)?;
    if !power_of_two(cols) || (!linearized && !power_of_two(rows)) {
        return Err(KernelError::new(format!(
            "{name}: only defined for matrices whose dimensions are powers of two, got {rows}x{cols}"
        )));
    }
    let r = re.dense_data();
    let mut data: Vec<Complex<f64>> = match im {
        Some(im) => r.iter().zip(im.dense_data().iter()).map(|(&a, &b)| Complex::new(a, b)).collect(),
        None => r.iter().map(|&a| Complex::new(a, 0.0)).collect(),
    };
    let mut planner = FftPlanner::new();
    transform_rows(&mut data, cols, inverse, &mut planner);
    let mut scale = cols as f64;
    if !linearized && rows > 1 {
        // columns: transpose, transform the rows of the transpose, transpose back
        let mut t = vec![Complex::new(0.0, 0.0); rows * cols];
        for i in 0..rows {
            for j in 0..cols {
                t[j * rows + i] = data[i * cols + j];
            }
        }
        transform_rows(&mut t, rows, inverse, &mut planner);
        for i in 0..rows {
            for j in 0..cols {
                data[i * cols + j] = t[j * rows + i];
            }
        }
        scale *= rows as f64;
    }
    if inverse {
        data.iter_mut().for_each(|c| *c /= scale);
    }
    let out_re = data.iter().map(|c| c.re).collect();
    let out_im = data.iter().map(|c| c.im).collect();
    Ok((Matrix::from_vec(rows, cols, out_re), Matrix::from_vec(rows, cols, out_im)))
}

/// Short-time Fourier transform of each row of `re + i*im`: frames of `window` cells that start
/// every `window - overlap` cells (the last ones zero-padded past the row's end), each
/// transformed on its own and laid side by side, so a row of `n` cells gives
/// `ceil((n - overlap) / step)` frames, `frames * window` cells (SystemDS 3.4.0's layout; its
/// runner fails on `stft`, so the results are checked against direct DFTs).
pub fn stft(re: &Matrix, im: Option<&Matrix>, window: usize, overlap: usize) -> KResult<(Matrix, Matrix)> {
    let (rows, cols) = (re.rows(), re.cols());
    check_parts("stft", re, im)?;
    if !power_of_two(window) {
        return Err(KernelError::new(format!("stft: the window size must be a power of two, got {window}")));
    }
    if overlap >= window {
        return Err(KernelError::new(format!(
            "stft: the overlap ({overlap}) must be smaller than the window size ({window})"
        )));
    }
    let step = window - overlap;
    let frames = if cols > overlap { (cols - overlap).div_ceil(step) } else { 0 };
    let row_len = frames * window;
    let r = re.dense_data();
    let i_data = im.map(|m| m.dense_data());
    let mut data = vec![Complex::new(0.0, 0.0); rows * row_len];
    for h in 0..rows {
        for f in 0..frames {
            for j in 0..window {
                let src = f * step + j;
                if src < cols {
                    let imv = i_data.as_ref().map_or(0.0, |d| d[h * cols + src]);
                    data[h * row_len + f * window + j] = Complex::new(r[h * cols + src], imv);
                }
            }
        }
    }
    let mut planner = FftPlanner::new();
    transform_rows(&mut data, window, false, &mut planner);
    let out_re = data.iter().map(|c| c.re).collect();
    let out_im = data.iter().map(|c| c.im).collect();
    Ok((Matrix::from_vec(rows, row_len, out_re), Matrix::from_vec(rows, row_len, out_im)))
}
