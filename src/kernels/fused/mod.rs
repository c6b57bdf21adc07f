//! Generated fused operators: runs a [`FusedBody`] over its inputs in one pass.
//!
//! The body is not interpreted cell by cell: the cells are cut into chunks (a band of whole rows
//! of about [`CHUNK`] cells, or a piece of one long row), and each step of the body runs as one
//! tight loop over the chunk into a small register (`loops.rs`), so the working set stays in the
//! first-level cache and no full-size temporary is written. Row and column vectors are broadcast
//! into the chunk; row aggregates (Row template) are computed per row of the band and broadcast
//! back. Bands run in parallel (rayon) when the result is a matrix or one value per row; full and
//! column aggregates are fed sequentially in row-major order, as the unfused aggregate kernels
//! sum, so their results are the same bits.
//!
//! Whenever the fast path does not apply (a sparse input, a shape the unfused operators would
//! broadcast differently or reject, a non-finite value under a sparse-driven product) the body is
//! evaluated operator by operator with the unfused kernels (`unfused.rs`), which gives exactly
//! the unfused values and errors.

mod agg;
mod loops;
mod outer;
mod unfused;

use std::borrow::Cow;

use rayon::prelude::*;

use super::KResult;
use super::elementwise::PAR_CELLS;
use crate::types::fused::{FStep, FusedBody, FusedKind, FusedOut};
use crate::types::matrix::Matrix;
use crate::types::ops::{AggDir, AggOp};
use agg::{Columns, Running};

/// Target number of cells in a chunk: 8 KB a register, a handful of registers in L1.
pub const CHUNK: usize = 1024;

/// An argument of a fused operator.
#[derive(Clone, Copy, Debug)]
pub enum Arg<'a> {
    Matrix(&'a Matrix),
    Scalar(f64),
}

/// A result of a fused operator.
#[derive(Clone, Debug)]
pub enum Out {
    Matrix(Matrix),
    Scalar(f64),
}

/// Runs `body` over `args`; one result per output of the body.
pub fn run(body: &FusedBody, args: &[Arg]) -> KResult<Vec<Out>> {
    let fast = match body.kind {
        FusedKind::Outer => outer::run(body, args)?,
        _ => Dense::new(body, args).map(|d| d.run()),
    };
    match fast {
        Some(out) => Ok(out),
        None => unfused::eval(body, args),
    }
}

/// As [`run`] for a body with one matrix result (`FusedOut::Cells`), written over `cells`: the
/// dense row-major cells of input `donor`, a `rows x cols` matrix of the result's shape that the
/// caller owns and will not read again (its register died here). `args[donor]` is ignored. A chunk
/// reads the donor only at its own cells, and every step runs before the chunk's result is
/// written, so overwriting as it goes is safe. Returns `false`, having written nothing, when the
/// dense fast path does not apply; the caller then runs [`run`] on the intact input.
pub fn run_over(
    body: &FusedBody,
    args: &[Arg],
    donor: usize,
    rows: usize,
    cols: usize,
    cells: &mut [f64],
) -> bool {
    let single_cells = matches!(body.outputs.as_slice(), [(_, FusedOut::Cells)]);
    if body.kind == FusedKind::Outer || !single_cells || cells.len() != rows * cols || donor >= args.len() {
        return false;
    }
    let raw = RawCells { ptr: cells.as_mut_ptr(), len: cells.len() };
    let Some(d) = Dense::with_donor(body, args, Some((donor, rows, cols, raw))) else { return false };
    if d.rows != rows || d.cols != cols {
        return false;
    }
    let (step, _) = body.outputs[0];
    let parallel = rows * cols > PAR_CELLS && rows > 1;
    d.cells_over(step as usize, parallel, raw);
    true
}

/// The cells of a donor input (see [`run_over`]), shared by its view and the output. All access
/// goes through this pointer, derived from the caller's exclusive borrow.
#[derive(Clone, Copy)]
struct RawCells {
    ptr: *mut f64,
    len: usize,
}

// SAFETY: the pointer comes from an exclusive borrow held for the whole run; parallel tasks read
// and write disjoint row ranges of it.
unsafe impl Send for RawCells {}
// SAFETY: as above.
unsafe impl Sync for RawCells {}

impl RawCells {
    /// The cell at `i` (a method, so that closures capture the whole `Sync` struct).
    fn at(self, i: usize) -> *mut f64 {
        debug_assert!(i <= self.len);
        self.ptr.wrapping_add(i)
    }
}

/// How a step's value covers the template's shape.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Class {
    /// A scalar (or a 1x1 matrix input on the right of a binary operator).
    Scalar,
    /// A matrix input of shape 1x1, which the unfused operators broadcast only on the right.
    One,
    Full,
    /// `1 x cols`.
    RowVec,
    /// `rows x 1` (an input, or a row aggregate).
    ColVec,
}

/// An input as the chunks read it.
enum View<'a> {
    Scalar(f64),
    Cells(Cow<'a, [f64]>),
    /// The donor input of [`run_over`], which the result overwrites chunk by chunk.
    Donor(RawCells),
}

/// A step's value in the current chunk.
#[derive(Clone, Copy)]
enum Val {
    S(f64),
    /// Cells of input `k` at the chunk's range (full inputs), or of its tiled copy (row vectors).
    In(usize),
    Tile(usize),
    /// A piece of row vector `k` starting at the chunk's column.
    RowSeg(usize),
    Reg(usize),
}

/// Where a chunk lies: `nrows` whole rows from `row0`, or (`nrows == 1`) `len` cells of row
/// `row0` from column `col0`.
#[derive(Clone, Copy)]
struct Chunk {
    row0: usize,
    nrows: usize,
    col0: usize,
    len: usize,
}

/// The dense fast path of a Cell, Row or MultiAgg body.
struct Dense<'a> {
    body: &'a FusedBody,
    rows: usize,
    cols: usize,
    class: Vec<Class>,
    views: Vec<View<'a>>,
    /// Register of each step (steps that never need one share register 0, unused).
    reg_of: Vec<usize>,
    nregs: usize,
    /// Rows per chunk (bands), or 0 when rows are cut into pieces of [`CHUNK`] cells.
    band_rows: usize,
    /// Row vectors repeated `band_rows` times, per input.
    tiles: Vec<Vec<f64>>,
}

impl<'a> Dense<'a> {
    /// Classifies the inputs and steps; `None` when the fast path does not apply.
    fn new(body: &'a FusedBody, args: &[Arg<'a>]) -> Option<Dense<'a>> {
        Self::with_donor(body, args, None)
    }

    /// As [`Dense::new`], with input `donor.0` (a dense `rows x cols` matrix) read from `donor.3`.
    fn with_donor(
        body: &'a FusedBody,
        args: &[Arg<'a>],
        donor: Option<(usize, usize, usize, RawCells)>,
    ) -> Option<Dense<'a>> {
        let (mut rows, mut cols) = donor.map_or((0, 0), |(_, r, c, _)| (r, c));
        for (k, a) in args.iter().enumerate() {
            if donor.is_some_and(|d| d.0 == k) {
                continue;
            }
            if let Arg::Matrix(m) = a {
                if m.is_sparse() {
                    return None;
                }
                rows = rows.max(m.rows());
                cols = cols.max(m.cols());
            }
        }
        if rows == 0 || cols == 0 || args.len() != body.ninputs as usize {
            return None;
        }
        let mut in_class = Vec::with_capacity(args.len());
        let mut views = Vec::with_capacity(args.len());
        for (k, a) in args.iter().enumerate() {
            let (c, v) = match *a {
                _ if donor.is_some_and(|d| d.0 == k) => {
                    let (_, r, c, raw) = donor.expect("checked");
                    if r != rows || c != cols {
                        return None;
                    }
                    (Class::Full, View::Donor(raw))
                }
                Arg::Scalar(s) => (Class::Scalar, View::Scalar(s)),
                Arg::Matrix(m) => {
                    let (r, c) = (m.rows(), m.cols());
                    let class = if r == rows && c == cols {
                        Class::Full
                    } else if r == 1 && c == 1 {
                        Class::One
                    } else if r == 1 && c == cols {
                        Class::RowVec
                    } else if c == 1 && r == rows {
                        Class::ColVec
                    } else {
                        return None;
                    };
                    if class == Class::One {
                        (class, View::Scalar(m.get(0, 0)))
                    } else {
                        (class, View::Cells(m.dense_data()))
                    }
                }
            };
            in_class.push(c);
            views.push(v);
        }
        let has_row_agg = body.steps.iter().any(|s| matches!(s, FStep::RowAgg(..)));
        let mut class = Vec::with_capacity(body.steps.len());
        for step in &body.steps {
            let c = match *step {
                FStep::Input(k) => in_class[k as usize],
                FStep::Const(_) => Class::Scalar,
                FStep::Unary(_, a) => match class[a as usize] {
                    Class::Scalar => Class::Scalar,
                    Class::Full => Class::Full,
                    _ => return None,
                },
                FStep::Binary(_, a, b) => {
                    match (class[a as usize], class[b as usize]) {
                        (Class::Scalar, Class::Scalar) => Class::Scalar,
                        (Class::Scalar, Class::Full) => Class::Full,
                        // The unfused operator broadcasts only its right operand.
                        (Class::Full, _) => Class::Full,
                        _ => return None,
                    }
                }
                FStep::Ternary(x, y, z) => {
                    let cs = [class[x as usize], class[y as usize], class[z as usize]];
                    if cs.iter().any(|c| !matches!(c, Class::Scalar | Class::One | Class::Full))
                        || !cs.contains(&Class::Full)
                    {
                        return None;
                    }
                    Class::Full
                }
                FStep::RowAgg(op, a) => {
                    if class[a as usize] != Class::Full || !crate::types::fused::fusable_agg(op) {
                        return None;
                    }
                    Class::ColVec
                }
                FStep::Dot(..) => return None,
            };
            class.push(c);
        }
        if body.outputs.iter().any(|(s, o)| {
            class[*s as usize] != Class::Full
                || matches!(o, FusedOut::Agg(op, _) if !crate::types::fused::fusable_agg(*op))
        }) {
            return None;
        }
        let band_rows = if has_row_agg || cols < CHUNK { (CHUNK / cols).max(1) } else { 0 };
        let (reg_of, nregs) = allocate_registers(body);
        let mut d = Dense { body, rows, cols, class, views, reg_of, nregs, band_rows, tiles: Vec::new() };
        d.tiles = (0..args.len())
            .map(|k| match (&d.views[k], in_class[k], band_rows) {
                (View::Cells(v), Class::RowVec, b) if b > 0 => v.repeat(b.min(rows)),
                _ => Vec::new(),
            })
            .collect();
        Some(d)
    }

    /// Cells of the largest chunk.
    fn chunk_cap(&self) -> usize {
        if self.band_rows > 0 { self.band_rows.min(self.rows) * self.cols } else { CHUNK }
    }

    /// The chunks of rows `r0..r1`, in row-major order.
    fn chunks(&self, r0: usize, r1: usize) -> impl Iterator<Item = Chunk> + '_ {
        let (band, cols) = (self.band_rows, self.cols);
        let mut row = r0;
        let mut col = 0;
        std::iter::from_fn(move || {
            if row >= r1 {
                return None;
            }
            if band > 0 {
                let n = band.min(r1 - row);
                let ch = Chunk { row0: row, nrows: n, col0: 0, len: n * cols };
                row += n;
                Some(ch)
            } else {
                let len = CHUNK.min(cols - col);
                let ch = Chunk { row0: row, nrows: 1, col0: col, len };
                col += len;
                if col == cols {
                    col = 0;
                    row += 1;
                }
                Some(ch)
            }
        })
    }

    fn slice<'s>(&'s self, v: Val, ch: &Chunk, regs: &'s [Vec<f64>]) -> Result<&'s [f64], f64> {
        let start = ch.row0 * self.cols + ch.col0;
        match v {
            Val::S(s) => Err(s),
            Val::In(k) => match &self.views[k] {
                View::Cells(c) => Ok(&c[start..start + ch.len]),
                View::Scalar(s) => Err(*s),
                // SAFETY: the range lies within the donor (its shape is the chunk grid's), and
                // its cells are written only after the chunk's steps have read them.
                View::Donor(raw) => {
                    debug_assert!(start + ch.len <= raw.len);
                    Ok(unsafe { std::slice::from_raw_parts(raw.at(start), ch.len) })
                }
            },
            Val::Tile(k) => Ok(&self.tiles[k][..ch.len]),
            Val::RowSeg(k) => match &self.views[k] {
                View::Cells(c) => Ok(&c[ch.col0..ch.col0 + ch.len]),
                View::Scalar(s) => Err(*s),
                View::Donor(_) => unreachable!("a donor is a full input, never a row vector"),
            },
            Val::Reg(r) => Ok(&regs[r][..ch.len]),
        }
    }

    /// Runs every step over one chunk; returns the value of each step.
    fn eval_chunk(&self, ch: &Chunk, regs: &mut [Vec<f64>], vals: &mut Vec<Val>) {
        vals.clear();
        let n = ch.len;
        for (i, step) in self.body.steps.iter().enumerate() {
            let reg = self.reg_of[i];
            let v = match *step {
                FStep::Input(k) => {
                    let k = k as usize;
                    match (&self.views[k], self.class[i]) {
                        (View::Scalar(s), _) => Val::S(*s),
                        (_, Class::Full) => Val::In(k),
                        (_, Class::RowVec) if self.band_rows > 0 => Val::Tile(k),
                        (_, Class::RowVec) => Val::RowSeg(k),
                        (View::Donor(_), _) => unreachable!("a donor is a full input"),
                        (View::Cells(c), _) => {
                            // A column vector: one value per row of the chunk.
                            if ch.nrows == 1 {
                                Val::S(c[ch.row0])
                            } else {
                                let out = &mut regs[reg][..n];
                                for (r, seg) in out.chunks_mut(self.cols).enumerate() {
                                    seg.fill(c[ch.row0 + r]);
                                }
                                Val::Reg(reg)
                            }
                        }
                    }
                }
                FStep::Const(c) => Val::S(c),
                FStep::Unary(op, a) => match vals[a as usize] {
                    Val::S(x) => Val::S(op.apply(x)),
                    va => {
                        let mut out = std::mem::take(&mut regs[reg]);
                        let a = self.slice(va, ch, regs).unwrap_or(&[]);
                        loops::unary(op, a, &mut out[..n]);
                        regs[reg] = out;
                        Val::Reg(reg)
                    }
                },
                FStep::Binary(op, a, b) => {
                    let (va, vb) = (vals[a as usize], vals[b as usize]);
                    if let (Val::S(x), Val::S(y)) = (va, vb) {
                        Val::S(op.apply(x, y))
                    } else {
                        let mut out = std::mem::take(&mut regs[reg]);
                        match (self.slice(va, ch, regs), self.slice(vb, ch, regs)) {
                            (Ok(x), Ok(y)) => loops::binary_vv(op, x, y, &mut out[..n]),
                            (Ok(x), Err(s)) => loops::binary_vs(op, x, s, &mut out[..n]),
                            (Err(s), Ok(y)) => loops::binary_sv(op, s, y, &mut out[..n]),
                            (Err(_), Err(_)) => unreachable!("two scalars are folded above"),
                        }
                        regs[reg] = out;
                        Val::Reg(reg)
                    }
                }
                FStep::Ternary(c, a, b) => {
                    let mut out = std::mem::take(&mut regs[reg]);
                    let get = |v: Val| self.slice(v, ch, regs);
                    let (c, a, b) = (get(vals[c as usize]), get(vals[a as usize]), get(vals[b as usize]));
                    let at = |v: &Result<&[f64], f64>, j: usize| match v {
                        Ok(s) => s[j],
                        Err(x) => *x,
                    };
                    for (j, o) in out[..n].iter_mut().enumerate() {
                        *o = if at(&c, j) != 0.0 { at(&a, j) } else { at(&b, j) };
                    }
                    regs[reg] = out;
                    Val::Reg(reg)
                }
                FStep::RowAgg(op, a) => {
                    let mut out = std::mem::take(&mut regs[reg]);
                    let src = self.slice(vals[a as usize], ch, regs);
                    for (r, seg) in out[..n].chunks_mut(self.cols).enumerate() {
                        let mut acc = Running::new(op);
                        match &src {
                            Ok(s) => acc.push_all(op, &s[r * self.cols..(r + 1) * self.cols]),
                            Err(x) => acc.push_repeated(op, *x, self.cols),
                        }
                        seg.fill(acc.finish(op, self.cols));
                    }
                    regs[reg] = out;
                    Val::Reg(reg)
                }
                FStep::Dot(..) => unreachable!("Dot steps take the outer-product path"),
            };
            vals.push(v);
        }
    }

    fn new_regs(&self) -> Vec<Vec<f64>> {
        vec![vec![0.0; self.chunk_cap()]; self.nregs]
    }

    fn run(self) -> Vec<Out> {
        let (rows, cols) = (self.rows, self.cols);
        let single = self.body.outputs.len() == 1;
        let parallel_ok = single
            && matches!(self.body.outputs[0].1, FusedOut::Cells | FusedOut::Agg(_, AggDir::Row))
            && rows * cols > PAR_CELLS
            && rows > 1;
        if single && let (step, FusedOut::Cells) = self.body.outputs[0] {
            return vec![Out::Matrix(Matrix::from_vec(rows, cols, self.cells(step as usize, parallel_ok)))];
        }
        if single && let (step, FusedOut::Agg(op, AggDir::Row)) = self.body.outputs[0] {
            return vec![Out::Matrix(Matrix::from_vec(
                rows,
                1,
                self.row_aggs(step as usize, op, parallel_ok),
            ))];
        }
        self.sequential_aggs()
    }

    /// Rows per parallel task: whole chunks, at least 16K cells.
    fn task_rows(&self) -> usize {
        let min_rows = (16384 / self.cols).max(1);
        match self.band_rows {
            0 => min_rows,
            b => min_rows.div_ceil(b) * b,
        }
    }

    /// The cells of output step `step`, as a row-major vector.
    fn cells(&self, step: usize, parallel: bool) -> Vec<f64> {
        let cols = self.cols;
        let task_rows = if parallel { self.task_rows() } else { self.rows };
        let fill = |r0: usize, out: &mut [std::mem::MaybeUninit<f64>]| {
            let r1 = r0 + out.len() / cols;
            let mut regs = self.new_regs();
            let mut vals = Vec::with_capacity(self.body.steps.len());
            for ch in self.chunks(r0, r1) {
                self.eval_chunk(&ch, &mut regs, &mut vals);
                let at = (ch.row0 - r0) * cols + ch.col0;
                let dst = &mut out[at..at + ch.len];
                match self.slice(vals[step], &ch, &regs) {
                    Ok(s) => {
                        for (d, v) in dst.iter_mut().zip(s) {
                            d.write(*v);
                        }
                    }
                    Err(x) => dst.fill(std::mem::MaybeUninit::new(x)),
                }
            }
        };
        let n = self.rows * cols;
        let mut v: Vec<f64> = Vec::with_capacity(n);
        let cells = &mut v.spare_capacity_mut()[..n];
        if parallel {
            cells.par_chunks_mut(task_rows * cols).enumerate().for_each(|(t, c)| fill(t * task_rows, c));
        } else {
            fill(0, cells);
        }
        // SAFETY: the chunks of each task cover its rows, and each chunk's cells were written.
        unsafe { v.set_len(n) };
        v
    }

    /// As [`Dense::cells`], written over the donor's cells (`run_over`).
    fn cells_over(&self, step: usize, parallel: bool, raw: RawCells) {
        let cols = self.cols;
        let task_rows = if parallel { self.task_rows() } else { self.rows };
        let fill = |r0: usize, r1: usize| {
            let mut regs = self.new_regs();
            let mut vals = Vec::with_capacity(self.body.steps.len());
            for ch in self.chunks(r0, r1) {
                self.eval_chunk(&ch, &mut regs, &mut vals);
                let at = ch.row0 * cols + ch.col0;
                let value = vals[step];
                if matches!(value, Val::In(k) if matches!(self.views[k], View::Donor(_))) {
                    continue; // the result is the donor itself
                }
                let src = self.slice(value, &ch, &regs);
                // SAFETY: `at..at + len` is this chunk's range of the donor; no slice of it is
                // alive here (the source is a register, a tile or another input).
                let dst = unsafe { std::slice::from_raw_parts_mut(raw.at(at), ch.len) };
                match src {
                    Ok(s) => dst.copy_from_slice(s),
                    Err(x) => dst.fill(x),
                }
            }
        };
        if parallel {
            let tasks = self.rows.div_ceil(task_rows);
            (0..tasks)
                .into_par_iter()
                .for_each(|t| fill(t * task_rows, ((t + 1) * task_rows).min(self.rows)));
        } else {
            fill(0, self.rows);
        }
    }

    /// One aggregate per row of output step `step`.
    fn row_aggs(&self, step: usize, op: AggOp, parallel: bool) -> Vec<f64> {
        let cols = self.cols;
        let task_rows = if parallel { self.task_rows() } else { self.rows };
        let fill = |r0: usize, out: &mut [f64]| {
            let r1 = r0 + out.len();
            let mut regs = self.new_regs();
            let mut vals = Vec::with_capacity(self.body.steps.len());
            let mut acc = Running::new(op);
            for ch in self.chunks(r0, r1) {
                self.eval_chunk(&ch, &mut regs, &mut vals);
                let src = self.slice(vals[step], &ch, &regs);
                if self.band_rows > 0 {
                    for r in 0..ch.nrows {
                        let mut a = Running::new(op);
                        match &src {
                            Ok(s) => a.push_all(op, &s[r * cols..(r + 1) * cols]),
                            Err(x) => a.push_repeated(op, *x, cols),
                        }
                        out[ch.row0 + r - r0] = a.finish(op, cols);
                    }
                } else {
                    match &src {
                        Ok(s) => acc.push_all(op, s),
                        Err(x) => acc.push_repeated(op, *x, ch.len),
                    }
                    if ch.col0 + ch.len == cols {
                        out[ch.row0 - r0] = acc.finish(op, cols);
                        acc = Running::new(op);
                    }
                }
            }
        };
        let mut out = vec![0.0; self.rows];
        if parallel {
            out.par_chunks_mut(task_rows).enumerate().for_each(|(t, o)| fill(t * task_rows, o));
        } else {
            fill(0, &mut out);
        }
        out
    }

    /// Full and column aggregates (and row aggregates beside them), all outputs in one pass.
    fn sequential_aggs(&self) -> Vec<Out> {
        let (rows, cols) = (self.rows, self.cols);
        enum Sink {
            All(AggOp, Running),
            Col(Columns),
            Row(AggOp, Vec<f64>, Running),
            Cells(Vec<f64>),
        }
        let mut sinks: Vec<Sink> = self
            .body
            .outputs
            .iter()
            .map(|(_, o)| match *o {
                FusedOut::Cells => Sink::Cells(Vec::with_capacity(rows * cols)),
                FusedOut::Agg(op, AggDir::All) => Sink::All(op, Running::new(op)),
                FusedOut::Agg(op, AggDir::Col) => Sink::Col(Columns::new(op, cols)),
                FusedOut::Agg(op, AggDir::Row) => Sink::Row(op, Vec::with_capacity(rows), Running::new(op)),
            })
            .collect();
        let mut regs = self.new_regs();
        let mut vals = Vec::with_capacity(self.body.steps.len());
        for ch in self.chunks(0, rows) {
            self.eval_chunk(&ch, &mut regs, &mut vals);
            for ((step, _), sink) in self.body.outputs.iter().zip(&mut sinks) {
                let src = self.slice(vals[*step as usize], &ch, &regs);
                // The chunk's rows as (first column, cells) pieces.
                let pieces = ch.nrows;
                let piece_len = ch.len / pieces;
                for p in 0..pieces {
                    let part = match &src {
                        Ok(s) => Ok(&s[p * piece_len..(p + 1) * piece_len]),
                        Err(x) => Err(*x),
                    };
                    match sink {
                        Sink::All(op, acc) => match part {
                            Ok(s) => acc.push_all(*op, s),
                            Err(x) => acc.push_repeated(*op, x, piece_len),
                        },
                        Sink::Col(c) => match part {
                            Ok(s) => c.push_row(ch.col0, s),
                            Err(x) => c.push_row_repeated(ch.col0, x, piece_len),
                        },
                        Sink::Row(op, out, acc) => {
                            match part {
                                Ok(s) => acc.push_all(*op, s),
                                Err(x) => acc.push_repeated(*op, x, piece_len),
                            }
                            if ch.col0 + piece_len == cols {
                                out.push(acc.finish(*op, cols));
                                *acc = Running::new(*op);
                            }
                        }
                        Sink::Cells(out) => match part {
                            Ok(s) => out.extend_from_slice(s),
                            Err(x) => out.extend(std::iter::repeat_n(x, piece_len)),
                        },
                    }
                }
            }
        }
        sinks
            .into_iter()
            .map(|s| match s {
                Sink::All(op, acc) => Out::Scalar(acc.finish(op, rows * cols)),
                Sink::Col(c) => Out::Matrix(Matrix::from_vec(1, cols, c.finish(rows))),
                Sink::Row(_, out, _) => Out::Matrix(Matrix::from_vec(rows, 1, out)),
                Sink::Cells(out) => Out::Matrix(Matrix::from_vec(rows, cols, out)),
            })
            .collect()
    }
}

/// A register for every step that may write one, reusing a register once its last reader ran.
/// Output steps keep theirs to the end.
fn allocate_registers(body: &FusedBody) -> (Vec<usize>, usize) {
    let n = body.steps.len();
    let mut last_use = vec![0usize; n];
    for (i, step) in body.steps.iter().enumerate() {
        for a in operands(step) {
            last_use[a as usize] = i;
        }
    }
    for (s, _) in &body.outputs {
        last_use[*s as usize] = usize::MAX;
    }
    let mut free: Vec<usize> = Vec::new();
    let mut nregs = 0;
    let mut reg_of = vec![0usize; n];
    for (i, step) in body.steps.iter().enumerate() {
        if !matches!(step, FStep::Const(_)) {
            reg_of[i] = free.pop().unwrap_or_else(|| {
                nregs += 1;
                nregs - 1
            });
        }
        for a in operands(step) {
            if last_use[a as usize] == i && !matches!(body.steps[a as usize], FStep::Const(_)) {
                let r = reg_of[a as usize];
                if !free.contains(&r) && r != reg_of[i] {
                    free.push(r);
                }
            }
        }
        if last_use[i] == 0 && !matches!(step, FStep::Const(_)) && !free.contains(&reg_of[i]) {
            // Never read: its register is free again at once.
            free.push(reg_of[i]);
        }
    }
    (reg_of, nregs.max(1))
}

/// The steps a step reads.
pub(crate) fn operands(step: &FStep) -> Vec<u16> {
    match *step {
        FStep::Input(_) | FStep::Const(_) => vec![],
        FStep::Unary(_, a) | FStep::RowAgg(_, a) => vec![a],
        FStep::Binary(_, a, b) | FStep::Dot(a, b) => vec![a, b],
        FStep::Ternary(a, b, c) => vec![a, b, c],
    }
}

#[cfg(test)]
mod tests;
