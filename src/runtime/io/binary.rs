//! SystemDS's binary matrix format: a Hadoop SequenceFile (one file, or a directory of part
//! files) of (MatrixIndexes, MatrixBlock) records, one per block of `blen` x `blen` cells.
//!
//! Layout, all integers big-endian:
//! - header: `SEQ`, version byte 6, the key and value class names (each a Hadoop VInt length
//!   and the bytes), a compressed flag and a block-compressed flag (both 0 here), the number
//!   of metadata entries (i32, with that many pairs of VInt-prefixed strings) and a 16-byte
//!   sync marker;
//! - records: the record length (i32, counting key and value), the key length (i32, 16), the
//!   key (block row and block column as i64, 1-based), then the value: the block's rows and
//!   columns (i32 each) and a block-type byte: 0 empty; 1 ultra-sparse (i32 non-zero count,
//!   then per cell row i32, column i32 (absent when the block has one column) and value f64);
//!   2 sparse (i32 non-zero count, then per row an i32 count and that many (column i32, value
//!   f64) pairs); 3 dense (rows x cols f64, row-major). A record length of -1 is a sync escape:
//!   16 sync bytes follow.

use std::io::Write;
use std::path::Path;

use super::{IoError, Mtd};
use crate::types::matrix::Matrix;

/// SystemDS's default block size.
pub const BLOCK: usize = 1000;

const KEY_CLASS: &str = "org.apache.sysds.runtime.matrix.data.MatrixIndexes";
const VALUE_CLASS: &str = "org.apache.sysds.runtime.matrix.data.MatrixBlock";

/// A bounds-checked big-endian reader over one part file.
struct Cursor<'a> {
    path: &'a Path,
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn fail(&self, msg: impl Into<String>) -> IoError {
        IoError::invalid(self.path, format!("byte {}: {}", self.pos, msg.into()))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], IoError> {
        if self.data.len() - self.pos < n {
            return Err(self.fail("the file ends in the middle of a record"));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, IoError> {
        Ok(self.take(1)?[0])
    }

    fn i32(&mut self) -> Result<i32, IoError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i64(&mut self) -> Result<i64, IoError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    fn f64(&mut self) -> Result<f64, IoError> {
        Ok(f64::from_bits(self.i64()? as u64))
    }

    fn count(&mut self, what: &str) -> Result<usize, IoError> {
        let v = self.i32()?;
        usize::try_from(v).map_err(|_| self.fail(format!("negative {what} {v}")))
    }

    /// Hadoop's variable-length integer (WritableUtils.readVInt).
    fn vint(&mut self) -> Result<i64, IoError> {
        super::seqfile::read_vint(|| self.u8())
    }

    fn text(&mut self) -> Result<String, IoError> {
        let n = self.vint()?;
        let n = usize::try_from(n).map_err(|_| self.fail("negative string length"))?;
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
}

/// Where one block's cells go: `set(row, col, value)` with block-local indices.
fn read_block(
    c: &mut Cursor,
    rows: usize,
    cols: usize,
    set: &mut dyn FnMut(usize, usize, f64),
) -> Result<(), IoError> {
    let check = |c: &Cursor, r: usize, j: usize| {
        if r >= rows || j >= cols {
            Err(c.fail(format!("cell ({}, {}) lies outside its {rows}x{cols} block", r + 1, j + 1)))
        } else {
            Ok(())
        }
    };
    match c.u8()? {
        0 => {}
        1 => {
            let nnz = c.count("non-zero count")?;
            for _ in 0..nnz {
                let r = c.count("row index")?;
                let j = if cols == 1 { 0 } else { c.count("column index")? };
                let v = c.f64()?;
                check(c, r, j)?;
                set(r, j, v);
            }
        }
        2 => {
            let _nnz = c.count("non-zero count")?;
            for r in 0..rows {
                let n = c.count("row length")?;
                for _ in 0..n {
                    let j = c.count("column index")?;
                    let v = c.f64()?;
                    check(c, r, j)?;
                    set(r, j, v);
                }
            }
        }
        3 => {
            for r in 0..rows {
                for j in 0..cols {
                    let v = c.f64()?;
                    set(r, j, v);
                }
            }
        }
        t => return Err(c.fail(format!("unsupported block type {t} (expected 0 to 3)"))),
    }
    Ok(())
}

/// Reads a binary matrix; `meta` gives its dimensions and block size (SystemDS always writes
/// one), `rows`/`cols` are the read arguments.
pub fn read(
    path: &Path,
    meta: Option<&Mtd>,
    rows: Option<usize>,
    cols: Option<usize>,
) -> Result<Matrix, IoError> {
    let blen = meta.and_then(|m| m.rows_in_block).unwrap_or(BLOCK);
    if blen == 0 {
        return Err(IoError::meta(path, "rows_in_block", "must be positive"));
    }
    let files = super::source::part_paths(path)?;
    let mut cells: Vec<(usize, usize, f64)> = Vec::new();
    let (mut max_r, mut max_c) = (0usize, 0usize);
    for file in &files {
        let data = crate::runtime::progress::read_file(file).map_err(|e| IoError::os(file, e))?;
        let mut c = Cursor { path: file, data: &data, pos: 0 };
        if c.take(3).ok() != Some(b"SEQ".as_slice()) {
            return Err(IoError::invalid(file, "not a binary (SequenceFile) matrix file"));
        }
        let version = c.u8()?;
        if version != 6 {
            return Err(c.fail(format!("unsupported SequenceFile version {version}")));
        }
        let (key, value) = (c.text()?, c.text()?);
        if !key.ends_with(".MatrixIndexes") || !value.ends_with(".MatrixBlock") {
            return Err(c.fail(format!("records of {key}/{value}, not a matrix")));
        }
        if c.u8()? != 0 || c.u8()? != 0 {
            return Err(c.fail("compressed SequenceFiles are not supported"));
        }
        let nmeta = c.count("metadata count")?;
        for _ in 0..nmeta {
            c.text()?;
            c.text()?;
        }
        let sync = c.take(16)?.to_vec();
        while c.pos < data.len() {
            let len = c.i32()?;
            if len == -1 {
                if c.take(16)? != sync.as_slice() {
                    return Err(c.fail("corrupt sync marker"));
                }
                continue;
            }
            let start = c.pos;
            let klen = c.i32()?;
            if klen != 16 {
                return Err(c.fail(format!("unexpected key length {klen}")));
            }
            let (bi, bj) = (c.i64()?, c.i64()?);
            if bi < 1 || bj < 1 {
                return Err(c.fail(format!("bad block index ({bi}, {bj})")));
            }
            let (br, bc) = (c.count("block rows")?, c.count("block columns")?);
            if br > blen || bc > blen {
                return Err(c.fail(format!("a {br}x{bc} block is larger than the block size {blen}")));
            }
            let offset = |b: i64| usize::try_from(b - 1).ok().and_then(|b| b.checked_mul(blen));
            let (Some(r0), Some(c0)) = (offset(bi), offset(bj)) else {
                return Err(c.fail(format!("block index ({bi}, {bj}) is out of range")));
            };
            max_r = max_r.max(r0 + br);
            max_c = max_c.max(c0 + bc);
            read_block(&mut c, br, bc, &mut |r, j, v| {
                if v != 0.0 {
                    cells.push((r0 + r, c0 + j, v));
                }
            })?;
            let used = c.pos - start;
            if len < 16 || used != len as usize + 4 {
                return Err(c.fail(format!("record length {len} does not match its content ({used} bytes)")));
            }
        }
    }
    let m = meta.cloned().unwrap_or_default();
    let r = rows.or(m.rows).unwrap_or(max_r);
    let cc = cols.or(m.cols).unwrap_or(max_c);
    if max_r > r || max_c > cc {
        return Err(IoError::invalid(
            path,
            format!("the blocks cover {max_r}x{max_c} cells but the matrix is {r}x{cc}"),
        ));
    }
    Ok(crate::kernels::build::from_cells(r, cc, cells))
}

/// The non-zero cells of row `r` of `m` in columns `c0..c1`, as (column - c0, value).
fn row_entries(m: &Matrix, r: usize, c0: usize, c1: usize, out: &mut Vec<(usize, f64)>) {
    out.clear();
    match m {
        Matrix::Dense(a) => {
            for c in c0..c1 {
                let v = a[[r, c]];
                if v != 0.0 {
                    out.push((c - c0, v));
                }
            }
        }
        Matrix::Sparse(s) if s.is_csr() => {
            if let Some(row) = s.outer_view(r) {
                out.extend(
                    row.iter().filter(|(c, v)| (c0..c1).contains(c) && **v != 0.0).map(|(c, v)| (c - c0, *v)),
                );
            }
        }
        Matrix::Sparse(_) => {
            for c in c0..c1 {
                let v = m.get(r, c);
                if v != 0.0 {
                    out.push((c - c0, v));
                }
            }
        }
    }
}

/// Writes `m` as one SequenceFile (blocks of `BLOCK` x `BLOCK`, row-major block order), each
/// block dense or sparse, whichever is smaller; sparse matrices are never densified whole.
pub fn write(m: &Matrix, w: &mut dyn Write) -> std::io::Result<()> {
    w.write_all(&super::seqfile::header(KEY_CLASS, VALUE_CLASS))?;
    let (rows, cols) = (m.rows(), m.cols());
    let mut value = Vec::new();
    let mut entries: Vec<Vec<(usize, f64)>> = Vec::new();
    for bi in 0..rows.div_ceil(BLOCK).max(1) {
        for bj in 0..cols.div_ceil(BLOCK).max(1) {
            let (r0, c0) = (bi * BLOCK, bj * BLOCK);
            let br = (rows - r0.min(rows)).min(BLOCK);
            let bc = (cols - c0.min(cols)).min(BLOCK);
            entries.resize_with(br, Vec::new);
            for (r, e) in entries.iter_mut().enumerate() {
                row_entries(m, r0 + r, c0, c0 + bc, e);
            }
            let nnz: usize = entries.iter().map(Vec::len).sum();
            value.clear();
            value.extend_from_slice(&(br as i32).to_be_bytes());
            value.extend_from_slice(&(bc as i32).to_be_bytes());
            if nnz == 0 {
                value.push(0);
            } else if 4 + 4 * br + 12 * nnz < 8 * br * bc {
                value.push(2);
                value.extend_from_slice(&(nnz as i32).to_be_bytes());
                for e in &entries {
                    value.extend_from_slice(&(e.len() as i32).to_be_bytes());
                    for &(j, v) in e {
                        value.extend_from_slice(&(j as i32).to_be_bytes());
                        value.extend_from_slice(&v.to_be_bytes());
                    }
                }
            } else {
                value.push(3);
                let mut row = vec![0.0; bc];
                for e in &entries {
                    row.iter_mut().for_each(|x| *x = 0.0);
                    for &(j, v) in e {
                        row[j] = v;
                    }
                    for v in &row {
                        value.extend_from_slice(&v.to_be_bytes());
                    }
                }
            }
            let record_len = (16 + value.len()) as i32;
            w.write_all(&record_len.to_be_bytes())?;
            w.write_all(&16i32.to_be_bytes())?;
            w.write_all(&((bi + 1) as i64).to_be_bytes())?;
            w.write_all(&((bj + 1) as i64).to_be_bytes())?;
            w.write_all(&value)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn data(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/pserv/data").join(name)
    }

    fn written(m: &Matrix) -> Vec<u8> {
        let mut out = Vec::new();
        write(m, &mut out).expect("writing to memory");
        out
    }

    /// The header (up to the sync marker) and the records after it.
    fn split(bytes: &[u8]) -> (&[u8], &[u8]) {
        let sync_at = 4 + 1 + KEY_CLASS.len() + 1 + VALUE_CLASS.len() + 2 + 4;
        (&bytes[..sync_at], &bytes[sync_at + 16..])
    }

    /// Our writer emits SystemDS's bytes (files SystemDS 3.4.0 wrote), but for the sync marker.
    #[test]
    fn writer_matches_systemds_bytes() {
        for (name, m) in [
            ("bin_dense.bin", Matrix::from_vec(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])),
            ("bin_empty.bin", Matrix::zeros(3, 2)),
        ] {
            let theirs = std::fs::read(data(name)).expect("test data");
            let ours = written(&m);
            assert_eq!(split(&ours).0, split(&theirs).0, "{name}: header");
            assert_eq!(split(&ours).1, split(&theirs).1, "{name}: records");
        }
    }

    #[test]
    fn sparse_and_multi_block_round_trip() {
        let dir = std::env::temp_dir().join(format!("dml-binary-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (rows, cols) = (1003, 1002);
        let mut data = vec![0.0; rows * cols];
        for (k, v) in [(0, 1.5), (1001 * cols + 1001, -2.0), (5 * cols + 1000, 3.25), (rows * cols - 1, 7.0)]
        {
            data[k] = v;
        }
        let dense = Matrix::from_vec(rows, cols, data.clone());
        let sparse = dense.clone().examine_format();
        assert!(sparse.is_sparse());
        // both representations give the same bytes
        assert_eq!(written(&dense), written(&sparse));
        let path = dir.join("m.bin");
        std::fs::write(&path, written(&sparse)).expect("write");
        let back = read(&path, None, Some(rows), Some(cols)).expect("read back");
        assert_eq!((back.rows(), back.cols()), (rows, cols));
        assert_eq!(back.dense_data().as_ref(), data.as_slice());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn truncated_file_is_an_error() {
        let bytes = std::fs::read(data("bin_dense.bin")).expect("test data");
        let dir = std::env::temp_dir().join(format!("dml-binary-trunc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("t.bin");
        std::fs::write(&path, &bytes[..bytes.len() - 5]).expect("write");
        assert!(read(&path, None, None, None).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
