//! SystemDS's binary frame format: a Hadoop SequenceFile (one file, or a directory of part
//! files) of (LongWritable, FrameBlock) records, one per block of up to 1000 rows.
//!
//! Layout, all integers big-endian (Java's DataOutput):
//! - header: `SEQ`, version byte 6, the key class `org.apache.hadoop.io.LongWritable` and the
//!   value class `org.apache.sysds.runtime.frame.data.FrameBlock` (each a Hadoop VInt length and
//!   the bytes), a compressed flag and a block-compressed flag (both 0), the number of metadata
//!   entries (i32, with that many pairs of VInt-prefixed strings) and a 16-byte sync marker;
//! - records: the record length (i32, key and value), the key length (i32, 8), the key (i64:
//!   the 1-based index of the block's first row), then the value, a FrameBlock:
//!   rows (i32), columns (i32), a "default metadata" flag (1 byte: 1 when the names are
//!   `C1..Cn` and no column has metadata); then per column: a type byte (1 + the ordinal of
//!   SystemDS's ValueType: 3 FP32, 4 FP64, 5 INT32, 6 INT64, 7 BOOLEAN, 8 STRING, 10 HASH64,
//!   11 HASH32, 12 CHARACTER; negated when the column holds no data), unless the flag is set the
//!   column name (Java writeUTF) and its metadata (number of distinct values i64, -1 when
//!   unknown; the missing-value replacement as writeUTF, "" for none), and, when the type is
//!   positive and rows > 0, the column data: an array-kind byte, then
//!   - 0 strings: i64 in-memory size estimate, then per row writeUTF (null is written as "",
//!     and "" reads back as null),
//!   - 1 booleans: one byte per row; 2 bit set: i32 size, i32 word count, that many i64 words
//!     (row i is bit i % 64 of word i / 64),
//!   - 3 INT32: i32 per row; 4 INT64: i64 per row; 5 FP32: f32 per row; 6 FP64: f64 per row;
//!     7 CHARACTER: u16 (Java char) per row; 11 HASH64: i64 per row; 12 HASH32: i32 per row,
//!   - 8 ragged: i32 size, i32 stored count m, then an array of m rows (rows past m are null),
//!   - 9 optional: an array of all rows, then a boolean array (1 or 2): which rows hold a value,
//!   - 10 DDC (dictionary-compressed; not supported here).
//!
//!   A record length of -1 is a sync escape: 16 sync bytes follow.
//!
//! SystemDS writes the whole frame as one record (key 1) when it has at most 1000 rows, even 0
//! (then with negative type bytes), and otherwise one record per 1000 rows (keys 1, 1001, 2001,
//! ...), each with the names; column metadata only in the first. Whether it sets the
//! default-metadata flag depends on its internal state (a frame literal: set; `as.frame` of a
//! matrix: clear, with names C1..Cn), and booleans are a bit set above 64 rows. Hadoop inserts a
//! sync escape about every 100 KB. The `.mtd` SystemDS writes beside it holds `data_type`
//! "frame", `schema` ("STRING,FP64,BOOLEAN," with a trailing comma), `rows`, `cols`, `format`
//! "binary" and, oddly, `"description": "1000"`; SystemDS needs it (or rows/cols) to read.
//! Java's writeUTF is modified UTF-8 of UTF-16 code units: U+0000 is `C0 80`, characters above
//! U+FFFF are two 3-byte surrogates, and one string holds at most 65535 bytes.

use crate::types::frame::{Frame, FrameColumn};
use std::io::Write;
use std::path::{Path, PathBuf};

/// SystemDS's default block size (rows per record).
pub const BLOCK: usize = 1000;

const KEY_CLASS: &str = "org.apache.hadoop.io.LongWritable";
const VALUE_CLASS: &str = "org.apache.sysds.runtime.frame.data.FrameBlock";

/// One column of a frame. FP32 and INT32 columns are kept in 64 bits; the writer narrows them
/// (INT32 values must fit). CHARACTER holds Java chars (UTF-16 code units), HASH64/HASH32 the
/// raw hash bits (SystemDS prints them in hexadecimal).
#[derive(Clone, Debug, PartialEq)]
pub enum Col {
    Str(Vec<Option<String>>),
    F64(Vec<f64>),
    F32(Vec<f64>),
    I64(Vec<i64>),
    I32(Vec<i64>),
    Bool(Vec<bool>),
    Char(Vec<u16>),
    Hash64(Vec<u64>),
    Hash32(Vec<u32>),
}

impl Col {
    pub fn len(&self) -> usize {
        match self {
            Col::Str(v) => v.len(),
            Col::F64(v) | Col::F32(v) => v.len(),
            Col::I64(v) | Col::I32(v) => v.len(),
            Col::Bool(v) => v.len(),
            Col::Char(v) => v.len(),
            Col::Hash64(v) => v.len(),
            Col::Hash32(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The type's name in SystemDS schemas.
    pub fn type_name(&self) -> &'static str {
        match self {
            Col::Str(_) => "STRING",
            Col::F64(_) => "FP64",
            Col::F32(_) => "FP32",
            Col::I64(_) => "INT64",
            Col::I32(_) => "INT32",
            Col::Bool(_) => "BOOLEAN",
            Col::Char(_) => "CHARACTER",
            Col::Hash64(_) => "HASH64",
            Col::Hash32(_) => "HASH32",
        }
    }

    /// The type byte SystemDS writes: 1 + the ordinal of its ValueType.
    fn type_byte(&self) -> u8 {
        match self {
            Col::F32(_) => 3,
            Col::F64(_) => 4,
            Col::I32(_) => 5,
            Col::I64(_) => 6,
            Col::Bool(_) => 7,
            Col::Str(_) => 8,
            Col::Hash64(_) => 10,
            Col::Hash32(_) => 11,
            Col::Char(_) => 12,
        }
    }
}

/// Per-column metadata of a FrameBlock (transform meta frames use it): the number of distinct
/// values (-1 when unknown) and the value that replaces missing cells.
#[derive(Clone, Debug, PartialEq)]
pub struct ColMeta {
    pub num_distinct: i64,
    pub mv_value: Option<String>,
}

impl Default for ColMeta {
    fn default() -> Self {
        ColMeta { num_distinct: -1, mv_value: None }
    }
}

impl ColMeta {
    pub fn is_default(&self) -> bool {
        self.num_distinct == -1 && self.mv_value.is_none()
    }
}

/// A frame as the binary format holds it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct BinFrame {
    /// Column names; `None` means the defaults `C1..Cn`.
    pub names: Option<Vec<String>>,
    /// Column metadata; `None` means all default.
    pub meta: Option<Vec<ColMeta>>,
    pub cols: Vec<Col>,
}

impl BinFrame {
    pub fn rows(&self) -> usize {
        self.cols.first().map(Col::len).unwrap_or(0)
    }
}

// ---------------------------------------------------------------------------------------------
// Java's modified UTF-8 (DataOutput.writeUTF / DataInput.readUTF)

/// The modified UTF-8 bytes of `s` (without the length prefix).
fn java_utf(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for u in s.encode_utf16() {
        match u {
            0x0001..=0x007F => out.push(u as u8),
            0x0000 | 0x0080..=0x07FF => {
                out.push(0xC0 | (u >> 6) as u8);
                out.push(0x80 | (u & 0x3F) as u8);
            }
            _ => {
                out.push(0xE0 | (u >> 12) as u8);
                out.push(0x80 | ((u >> 6) & 0x3F) as u8);
                out.push(0x80 | (u & 0x3F) as u8);
            }
        }
    }
    out
}

/// Decodes modified UTF-8; `Err(i)` gives the offset of the first malformed byte. Lone
/// surrogates (legal in Java strings, not in Rust ones) become U+FFFD.
fn from_java_utf(b: &[u8]) -> Result<String, usize> {
    let mut units: Vec<u16> = Vec::with_capacity(b.len());
    let mut i = 0;
    let cont = |i: usize| b.get(i).copied().filter(|c| c & 0xC0 == 0x80).ok_or(i);
    while i < b.len() {
        let c = b[i];
        if c < 0x80 {
            units.push(c as u16);
            i += 1;
        } else if c & 0xE0 == 0xC0 {
            let c2 = cont(i + 1)?;
            units.push(((c as u16 & 0x1F) << 6) | (c2 as u16 & 0x3F));
            i += 2;
        } else if c & 0xF0 == 0xE0 {
            let c2 = cont(i + 1)?;
            let c3 = cont(i + 2)?;
            units.push(((c as u16 & 0x0F) << 12) | ((c2 as u16 & 0x3F) << 6) | (c3 as u16 & 0x3F));
            i += 3;
        } else {
            return Err(i);
        }
    }
    Ok(String::from_utf16_lossy(&units))
}

// ---------------------------------------------------------------------------------------------
// Reading

/// A bounds-checked big-endian reader over one part file.
struct Cursor<'a> {
    path: &'a Path,
    data: &'a [u8],
    pos: usize,
    /// How many more cells may be made up without bytes behind them (the padding of ragged
    /// arrays), so that a small corrupt file cannot claim gigabytes.
    padding_left: usize,
}

/// The most padded cells one part file may hold.
const MAX_PADDING: usize = 1 << 24;

impl<'a> Cursor<'a> {
    fn fail_at(&self, pos: usize, msg: impl AsRef<str>) -> String {
        format!("{}: byte {}: {}", self.path.display(), pos, msg.as_ref())
    }

    fn fail(&self, msg: impl AsRef<str>) -> String {
        self.fail_at(self.pos, msg)
    }

    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.left() < n {
            return Err(self.fail(format!(
                "the file ends in the middle of a record (needs {n} more bytes, has {})",
                self.left()
            )));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn arr<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn bool(&mut self) -> Result<bool, String> {
        // Java's readBoolean: any non-zero byte is true
        Ok(self.u8()? != 0)
    }

    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_be_bytes(self.arr()?))
    }

    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_be_bytes(self.arr()?))
    }

    fn count(&mut self, what: &str) -> Result<usize, String> {
        let at = self.pos;
        let v = self.i32()?;
        usize::try_from(v).map_err(|_| self.fail_at(at, format!("negative {what} {v}")))
    }

    /// Hadoop's variable-length integer (WritableUtils.readVInt).
    fn vint(&mut self) -> Result<i64, String> {
        super::seqfile::read_vint(|| self.u8())
    }

    /// A Hadoop Text (VInt length, UTF-8 bytes).
    fn text(&mut self) -> Result<String, String> {
        let at = self.pos;
        let n = self.vint()?;
        let n = usize::try_from(n).map_err(|_| self.fail_at(at, format!("negative string length {n}")))?;
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }

    /// Java's readUTF (u16 length, modified UTF-8).
    fn utf(&mut self) -> Result<String, String> {
        let n = u16::from_be_bytes(self.arr()?) as usize;
        let start = self.pos;
        let bytes = self.take(n)?;
        from_java_utf(bytes).map_err(|i| self.fail_at(start + i, "malformed modified UTF-8 string"))
    }

    /// Fails unless `n` items of at least `each` bytes can still follow (guards allocations).
    fn room(&self, n: usize, each: usize, what: &str) -> Result<(), String> {
        if n.checked_mul(each).is_none_or(|b| b > self.left()) {
            return Err(
                self.fail(format!("{n} {what} cannot fit in the {} bytes left in the file", self.left()))
            );
        }
        Ok(())
    }
}

/// Column data as stored, before it is matched with the column's type.
enum Raw {
    Str(Vec<Option<String>>),
    Bool(Vec<bool>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Char(Vec<u16>),
    H64(Vec<i64>),
    H32(Vec<i32>),
}

impl Raw {
    fn kind(&self) -> &'static str {
        match self {
            Raw::Str(_) => "string",
            Raw::Bool(_) => "boolean",
            Raw::I32(_) => "INT32",
            Raw::I64(_) => "INT64",
            Raw::F32(_) => "FP32",
            Raw::F64(_) => "FP64",
            Raw::Char(_) => "CHARACTER",
            Raw::H64(_) => "HASH64",
            Raw::H32(_) => "HASH32",
        }
    }
}

/// Reads `n` fixed-size values.
fn fixed<T>(
    c: &mut Cursor,
    n: usize,
    size: usize,
    what: &str,
    f: impl Fn(&[u8]) -> T,
) -> Result<Vec<T>, String> {
    c.room(n, size, what)?;
    let bytes = c.take(n * size)?;
    Ok(bytes.chunks_exact(size).map(f).collect())
}

fn be<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(b);
    a
}

/// A boolean array (kind byte 1 or 2) of `n` rows; other kinds are an error.
fn read_flags(c: &mut Cursor, n: usize) -> Result<Vec<bool>, String> {
    let at = c.pos;
    let (raw, nulls) = read_array(c, n, 1)?;
    match (raw, nulls) {
        (Raw::Bool(v), None) => Ok(v),
        (r, _) => Err(c.fail_at(at, format!("expected a boolean array, found {} data", r.kind()))),
    }
}

/// Reads one column array of `n` rows: the data and, for optional and ragged arrays, which rows
/// hold a value (`None`: all). `depth` bounds nesting.
fn read_array(c: &mut Cursor, n: usize, depth: u32) -> Result<(Raw, Option<Vec<bool>>), String> {
    let at = c.pos;
    if depth > 4 {
        return Err(c.fail("column arrays nested too deeply"));
    }
    let kind = c.u8()?;
    let raw = match kind {
        0 => {
            let _size_estimate = c.i64()?;
            c.room(n, 2, "strings")?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let s = c.utf()?;
                v.push(if s.is_empty() { None } else { Some(s) });
            }
            Raw::Str(v)
        }
        1 => Raw::Bool(fixed(c, n, 1, "booleans", |b| b[0] != 0)?),
        2 => {
            let size = c.count("bit set size")?;
            let words = c.count("bit set word count")?;
            if size < n || words.saturating_mul(64) < n {
                return Err(
                    c.fail_at(at, format!("a bit set of {size} bits in {words} words cannot hold {n} rows"))
                );
            }
            let w = fixed(c, words, 8, "bit set words", |b| u64::from_be_bytes(be(b)))?;
            Raw::Bool((0..n).map(|i| w[i / 64] >> (i % 64) & 1 == 1).collect())
        }
        3 => Raw::I32(fixed(c, n, 4, "INT32 values", |b| i32::from_be_bytes(be(b)))?),
        4 => Raw::I64(fixed(c, n, 8, "INT64 values", |b| i64::from_be_bytes(be(b)))?),
        5 => Raw::F32(fixed(c, n, 4, "FP32 values", |b| f32::from_be_bytes(be(b)))?),
        6 => Raw::F64(fixed(c, n, 8, "FP64 values", |b| f64::from_be_bytes(be(b)))?),
        7 => Raw::Char(fixed(c, n, 2, "characters", |b| u16::from_be_bytes(be(b)))?),
        8 => {
            let size = c.count("ragged array size")?;
            let m = c.count("ragged array stored count")?;
            if size != n || m > n {
                return Err(
                    c.fail_at(at, format!("a ragged array of {size} rows ({m} stored) in a {n}-row block"))
                );
            }
            if n - m > c.padding_left {
                return Err(c.fail_at(
                    at,
                    format!("a ragged array of {n} rows stores only {m}: too many rows without data"),
                ));
            }
            c.padding_left -= n - m;
            let (raw, inner) = read_array(c, m, depth + 1)?;
            let mut present = inner.unwrap_or_else(|| vec![true; m]);
            present.resize(n, false);
            let raw = pad(raw, n);
            return Ok((raw, Some(present)));
        }
        9 => {
            let (raw, inner) = read_array(c, n, depth + 1)?;
            let present = read_flags(c, n)?;
            let present = match inner {
                Some(i) => present.iter().zip(i).map(|(a, b)| *a && b).collect(),
                None => present,
            };
            return Ok((raw, Some(present)));
        }
        10 => return Err(c.fail_at(at, "dictionary-compressed (DDC) frame columns are not supported")),
        11 => Raw::H64(fixed(c, n, 8, "HASH64 values", |b| i64::from_be_bytes(be(b)))?),
        12 => Raw::H32(fixed(c, n, 4, "HASH32 values", |b| i32::from_be_bytes(be(b)))?),
        k => return Err(c.fail_at(at, format!("unknown column array kind {k} (expected 0 to 12)"))),
    };
    Ok((raw, None))
}

/// Extends `raw` with default values to `n` rows.
fn pad(raw: Raw, n: usize) -> Raw {
    match raw {
        Raw::Str(mut v) => {
            v.resize(n, None);
            Raw::Str(v)
        }
        Raw::Bool(mut v) => {
            v.resize(n, false);
            Raw::Bool(v)
        }
        Raw::I32(mut v) => {
            v.resize(n, 0);
            Raw::I32(v)
        }
        Raw::I64(mut v) => {
            v.resize(n, 0);
            Raw::I64(v)
        }
        Raw::F32(mut v) => {
            v.resize(n, 0.0);
            Raw::F32(v)
        }
        Raw::F64(mut v) => {
            v.resize(n, 0.0);
            Raw::F64(v)
        }
        Raw::Char(mut v) => {
            v.resize(n, 0);
            Raw::Char(v)
        }
        Raw::H64(mut v) => {
            v.resize(n, 0);
            Raw::H64(v)
        }
        Raw::H32(mut v) => {
            v.resize(n, 0);
            Raw::H32(v)
        }
    }
}

/// A column type, from the type byte (its absolute value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Str,
    F64,
    F32,
    I64,
    I32,
    Bool,
    Char,
    H64,
    H32,
}

impl Ty {
    fn from_byte(b: u8) -> Option<Ty> {
        Some(match b {
            1 | 2 | 5 => Ty::I32, // UINT4, UINT8 (not in DML) are stored as int arrays
            3 => Ty::F32,
            4 => Ty::F64,
            6 => Ty::I64,
            7 => Ty::Bool,
            8 => Ty::Str,
            10 => Ty::H64,
            11 => Ty::H32,
            12 => Ty::Char,
            _ => return None,
        })
    }

    fn empty(self, n: usize) -> Col {
        match self {
            Ty::Str => Col::Str(vec![None; n]),
            Ty::F64 => Col::F64(vec![0.0; n]),
            Ty::F32 => Col::F32(vec![0.0; n]),
            Ty::I64 => Col::I64(vec![0; n]),
            Ty::I32 => Col::I32(vec![0; n]),
            Ty::Bool => Col::Bool(vec![false; n]),
            Ty::Char => Col::Char(vec![0; n]),
            Ty::H64 => Col::Hash64(vec![0; n]),
            Ty::H32 => Col::Hash32(vec![0; n]),
        }
    }
}

/// Turns stored data into a column of type `ty`. Rows without a value (optional and ragged
/// arrays) are null in string columns and the type's zero elsewhere.
fn to_col(ty: Ty, raw: Raw, present: Option<Vec<bool>>) -> Result<Col, Raw> {
    let col = match (ty, raw) {
        (Ty::Str, Raw::Str(mut v)) => {
            if let Some(p) = &present {
                for (x, ok) in v.iter_mut().zip(p) {
                    if !ok {
                        *x = None;
                    }
                }
            }
            return Ok(Col::Str(v));
        }
        (Ty::F64, Raw::F64(v)) => Col::F64(v),
        (Ty::F32, Raw::F32(v)) => Col::F32(v.into_iter().map(f64::from).collect()),
        (Ty::I64, Raw::I64(v)) => Col::I64(v),
        (Ty::I32, Raw::I32(v)) => Col::I32(v.into_iter().map(i64::from).collect()),
        (Ty::Bool, Raw::Bool(v)) => Col::Bool(v),
        (Ty::Char, Raw::Char(v)) => Col::Char(v),
        (Ty::H64, Raw::H64(v)) => Col::Hash64(v.into_iter().map(|x| x as u64).collect()),
        (Ty::H32, Raw::H32(v)) => Col::Hash32(v.into_iter().map(|x| x as u32).collect()),
        (_, raw) => return Err(raw),
    };
    Ok(match present {
        None => col,
        Some(p) => zero_missing(col, &p),
    })
}

fn zero_missing(mut col: Col, p: &[bool]) -> Col {
    fn z<T: Default>(v: &mut [T], p: &[bool]) {
        for (x, ok) in v.iter_mut().zip(p) {
            if !ok {
                *x = T::default();
            }
        }
    }
    match &mut col {
        Col::Str(v) => z(v, p),
        Col::F64(v) | Col::F32(v) => z(v, p),
        Col::I64(v) | Col::I32(v) => z(v, p),
        Col::Bool(v) => z(v, p),
        Col::Char(v) => z(v, p),
        Col::Hash64(v) => z(v, p),
        Col::Hash32(v) => z(v, p),
    }
    col
}

/// Whether `names` are SystemDS's defaults `C1..Cn`.
fn is_default_names(names: &[String]) -> bool {
    names.iter().enumerate().all(|(j, s)| s.strip_prefix('C') == Some(&(j + 1).to_string()))
}

/// One decoded record.
struct Block {
    file: PathBuf,
    /// 0-based first row.
    row0: usize,
    rows: usize,
    types: Vec<Ty>,
    names: Option<Vec<String>>,
    meta: Option<Vec<ColMeta>>,
    cols: Vec<Col>,
}

/// Decodes one FrameBlock value.
fn read_value(c: &mut Cursor, row0: usize) -> Result<Block, String> {
    let rows = c.count("row count")?;
    let ncols = c.count("column count")?;
    let default_meta = c.bool()?;
    c.room(ncols, 1, "columns")?;
    let mut types = Vec::with_capacity(ncols);
    let mut names = Vec::new();
    let mut meta = Vec::new();
    let mut cols = Vec::with_capacity(ncols);
    for j in 0..ncols {
        let at = c.pos;
        let tb = c.u8()? as i8;
        let ty = Ty::from_byte(tb.unsigned_abs())
            .ok_or_else(|| c.fail_at(at, format!("column {}: unknown value type byte {tb}", j + 1)))?;
        types.push(ty);
        if !default_meta {
            names.push(c.utf()?);
            let num_distinct = c.i64()?;
            let mv = c.utf()?;
            meta.push(ColMeta { num_distinct, mv_value: (!mv.is_empty()).then_some(mv) });
        }
        if tb > 0 && rows > 0 {
            let at = c.pos;
            let (raw, present) = read_array(c, rows, 0)?;
            let col = to_col(ty, raw, present).map_err(|raw| {
                c.fail_at(at, format!("column {}: a {:?} column holds {} data", j + 1, ty, raw.kind()))
            })?;
            cols.push(col);
        } else if rows == 0 {
            cols.push(ty.empty(0));
        } else {
            return Err(c.fail_at(at, format!("column {} holds no data in a block of {rows} rows", j + 1)));
        }
    }
    let meta = (!default_meta && meta.iter().any(|m| !m.is_default())).then_some(meta);
    // names C1..Cn mean the same as none
    let names = (!default_meta && !is_default_names(&names)).then_some(names);
    Ok(Block { file: c.path.to_path_buf(), row0, rows, types, names, meta, cols })
}

/// Decodes all records of one part file.
fn read_part(path: &Path, data: &[u8], out: &mut Vec<Block>) -> Result<(), String> {
    let mut c = Cursor { path, data, pos: 0, padding_left: MAX_PADDING };
    if c.take(3).ok() != Some(b"SEQ".as_slice()) {
        return Err(format!("{}: not a binary (SequenceFile) frame file", path.display()));
    }
    let version = c.u8()?;
    if version != 6 {
        return Err(c.fail_at(3, format!("unsupported SequenceFile version {version}")));
    }
    let at = c.pos;
    let (key, value) = (c.text()?, c.text()?);
    if key != KEY_CLASS || value != VALUE_CLASS {
        let what = if value.ends_with(".MatrixBlock") { " (a matrix, not a frame)" } else { "" };
        return Err(
            c.fail_at(at, format!("records of {key}/{value}{what}, expected {KEY_CLASS}/{VALUE_CLASS}"))
        );
    }
    if c.u8()? != 0 || c.u8()? != 0 {
        return Err(c.fail("compressed SequenceFiles are not supported"));
    }
    let nmeta = c.count("metadata count")?;
    for _ in 0..nmeta {
        c.text()?;
        c.text()?;
    }
    let sync = c.take(16)?;
    while c.pos < data.len() {
        let at = c.pos;
        let len = c.i32()?;
        if len == -1 {
            if c.take(16)? != sync {
                return Err(c.fail_at(at + 4, "corrupt sync marker"));
            }
            continue;
        }
        let start = c.pos;
        let klen = c.i32()?;
        if klen != 8 {
            return Err(c.fail_at(start, format!("unexpected key length {klen} (expected 8)")));
        }
        let key = c.i64()?;
        let row0 = key
            .checked_sub(1)
            .and_then(|k| usize::try_from(k).ok())
            .filter(|k| *k <= i32::MAX as usize)
            .ok_or_else(|| c.fail_at(start + 4, format!("bad block row index {key}")))?;
        let block = read_value(&mut c, row0)?;
        let used = c.pos - start;
        if len < 8 || used != len as usize + 4 {
            return Err(c.fail_at(
                at,
                format!("record length {len} does not match its content ({} bytes)", used - 4),
            ));
        }
        out.push(block);
    }
    Ok(())
}

/// The part files of `path`: the file itself, or the directory's files in name order (skipping
/// hidden, `_SUCCESS`-like, `.crc` and `.mtd` files).
fn part_paths(path: &Path) -> Result<Vec<PathBuf>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut names = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))? {
        let entry = entry.map_err(|e| format!("{}: {e}", path.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let skip = name.starts_with('.')
            || name.starts_with('_')
            || name.ends_with(".crc")
            || name.ends_with(".mtd");
        if !skip && entry.path().is_file() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names.into_iter().map(|n| path.join(n)).collect())
}

/// Reads a binary frame: a file, or a directory of part files. Every malformed input is an
/// error naming the file and byte offset. Names and metadata come from the block of row 1.
pub fn read_frame_binary(path: &Path) -> Result<BinFrame, String> {
    let mut blocks = Vec::new();
    for file in part_paths(path)? {
        let data = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        read_part(&file, &data, &mut blocks)?;
    }
    assemble(path, blocks)
}

/// Decodes a single file already in memory (`path` only names it in errors).
pub fn read_frame_bytes(path: &Path, data: &[u8]) -> Result<BinFrame, String> {
    let mut blocks = Vec::new();
    read_part(path, data, &mut blocks)?;
    assemble(path, blocks)
}

/// Puts the blocks together; they must cover the rows without gaps or overlaps and agree on
/// the schema. Blocks with no rows only contribute the schema (SystemDS skips them too).
fn assemble(path: &Path, mut blocks: Vec<Block>) -> Result<BinFrame, String> {
    if blocks.is_empty() {
        return Err(format!("{}: holds no frame blocks", path.display()));
    }
    blocks.sort_by_key(|b| (b.row0, b.rows == 0));
    let with_rows: Vec<&Block> = blocks.iter().filter(|b| b.rows > 0 && !b.types.is_empty()).collect();
    if with_rows.is_empty() {
        // a frame without rows (or columns): schema, names and metadata of the first block
        let b = blocks.swap_remove(0);
        return Ok(BinFrame {
            names: b.names,
            meta: b.meta,
            cols: b.types.iter().map(|t| t.empty(0)).collect(),
        });
    }
    let first = with_rows[0];
    let mut end = 0usize;
    for b in &with_rows {
        let file = b.file.display();
        if b.types != first.types {
            return Err(format!(
                "{file}: the block of rows {}..{} has schema {:?}, the block of row {} {:?}",
                b.row0 + 1,
                b.row0 + b.rows,
                b.types,
                first.row0 + 1,
                first.types
            ));
        }
        if b.row0 != end {
            let what = if b.row0 < end {
                "overlaps the previous block"
            } else {
                "leaves a gap after the previous block"
            };
            return Err(format!(
                "{file}: the block of rows {}..{} {what} (which ends at row {end})",
                b.row0 + 1,
                b.row0 + b.rows
            ));
        }
        end = b.row0 + b.rows;
    }
    if end > i32::MAX as usize {
        return Err(format!("{}: {end} rows are more than a frame can hold", path.display()));
    }
    let names = first.names.clone();
    let meta = first.meta.clone();
    let types = first.types.clone();
    let mut blocks: Vec<Block> = blocks.into_iter().filter(|b| b.rows > 0 && !b.types.is_empty()).collect();
    if blocks.len() == 1
        && let Some(b) = blocks.pop()
    {
        return Ok(BinFrame { names, meta, cols: b.cols });
    }
    let mut cols: Vec<Col> = types.iter().map(|t| t.empty(0)).collect();
    for b in blocks {
        for (dst, src) in cols.iter_mut().zip(b.cols) {
            append(dst, src);
        }
    }
    Ok(BinFrame { names, meta, cols })
}

fn append(dst: &mut Col, src: Col) {
    match (dst, src) {
        (Col::Str(a), Col::Str(b)) => a.extend(b),
        (Col::F64(a), Col::F64(b)) | (Col::F32(a), Col::F32(b)) => a.extend(b),
        (Col::I64(a), Col::I64(b)) | (Col::I32(a), Col::I32(b)) => a.extend(b),
        (Col::Bool(a), Col::Bool(b)) => a.extend(b),
        (Col::Char(a), Col::Char(b)) => a.extend(b),
        (Col::Hash64(a), Col::Hash64(b)) => a.extend(b),
        (Col::Hash32(a), Col::Hash32(b)) => a.extend(b),
        _ => unreachable!("blocks were checked to share the schema"),
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

fn invalid(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, msg)
}

/// Appends Java's writeUTF of `s`.
fn put_utf(out: &mut Vec<u8>, s: &str) -> std::io::Result<()> {
    let b = java_utf(s);
    let n = u16::try_from(b.len()).map_err(|_| {
        invalid(format!("a string of {} bytes is longer than SystemDS can store (65535)", b.len()))
    })?;
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(&b);
    Ok(())
}

/// SystemDS's in-memory size estimate of a string column, stored with the column (it only
/// informs memory planning): 40 bytes plus 24 per null and 60 + 2 per UTF-16 unit per string.
fn string_size_estimate(v: &[Option<String>]) -> i64 {
    let cells: i64 =
        v.iter().map(|s| s.as_ref().map_or(24, |s| 60 + 2 * s.encode_utf16().count() as i64)).sum();
    32 + 8 + cells
}

/// Rows at or above which SystemDS stores booleans as a bit set rather than one byte each.
const BITSET_ROWS: usize = 64;

/// Appends the data of rows `r0..r1` of `col`.
fn put_column(out: &mut Vec<u8>, col: &Col, r0: usize, r1: usize, j: usize) -> std::io::Result<()> {
    match col {
        Col::Str(v) => {
            let v = &v[r0..r1];
            out.push(0);
            out.extend_from_slice(&string_size_estimate(v).to_be_bytes());
            for s in v {
                put_utf(out, s.as_deref().unwrap_or(""))?;
            }
        }
        Col::Bool(v) => {
            let v = &v[r0..r1];
            if v.len() > BITSET_ROWS {
                out.push(2);
                let words = v.len().div_ceil(64);
                out.extend_from_slice(&(v.len() as i32).to_be_bytes());
                out.extend_from_slice(&(words as i32).to_be_bytes());
                for chunk in v.chunks(64) {
                    let w = chunk.iter().enumerate().fold(0u64, |w, (i, b)| w | (*b as u64) << i);
                    out.extend_from_slice(&w.to_be_bytes());
                }
            } else {
                out.push(1);
                out.extend(v.iter().map(|b| *b as u8));
            }
        }
        Col::I32(v) => {
            out.push(3);
            for (i, x) in v[r0..r1].iter().enumerate() {
                let x = i32::try_from(*x).map_err(|_| {
                    invalid(format!("column {}, row {}: {x} does not fit an INT32 column", j + 1, r0 + i + 1))
                })?;
                out.extend_from_slice(&x.to_be_bytes());
            }
        }
        Col::I64(v) => {
            out.push(4);
            v[r0..r1].iter().for_each(|x| out.extend_from_slice(&x.to_be_bytes()));
        }
        Col::F32(v) => {
            out.push(5);
            v[r0..r1].iter().for_each(|x| out.extend_from_slice(&(*x as f32).to_be_bytes()));
        }
        Col::F64(v) => {
            out.push(6);
            v[r0..r1].iter().for_each(|x| out.extend_from_slice(&x.to_be_bytes()));
        }
        Col::Char(v) => {
            out.push(7);
            v[r0..r1].iter().for_each(|x| out.extend_from_slice(&x.to_be_bytes()));
        }
        Col::Hash64(v) => {
            out.push(11);
            v[r0..r1].iter().for_each(|x| out.extend_from_slice(&x.to_be_bytes()));
        }
        Col::Hash32(v) => {
            out.push(12);
            v[r0..r1].iter().for_each(|x| out.extend_from_slice(&x.to_be_bytes()));
        }
    }
    Ok(())
}

/// Writes `f` as one SequenceFile, as SystemDS does: the whole frame as one record (key 1) when
/// it has at most `BLOCK` rows, else one record per `BLOCK` rows (keys 1, 1001, ...). Names and
/// metadata go into every record unless they are all default (then the default-metadata flag
/// is set). Errors (`InvalidInput`) for columns of different lengths, names or metadata of the
/// wrong count, INT32 values out of range and strings over 65535 bytes of modified UTF-8.
pub fn write_frame_binary(f: &BinFrame, w: &mut dyn Write) -> std::io::Result<()> {
    let rows = f.rows();
    let ncols = f.cols.len();
    if let Some(j) = f.cols.iter().position(|c| c.len() != rows) {
        return Err(invalid(format!("column {} has {} rows, column 1 has {rows}", j + 1, f.cols[j].len())));
    }
    if rows > i32::MAX as usize || ncols > i32::MAX as usize {
        return Err(invalid(format!("a {rows}x{ncols} frame is too large for the binary format")));
    }
    if let Some(n) = &f.names
        && n.len() != ncols
    {
        return Err(invalid(format!("{} column names for {ncols} columns", n.len())));
    }
    if let Some(m) = &f.meta
        && m.len() != ncols
    {
        return Err(invalid(format!("{} column metadata entries for {ncols} columns", m.len())));
    }
    let default_names = f.names.as_deref().is_none_or(is_default_names);
    let default_meta = f.meta.as_ref().is_none_or(|m| m.iter().all(ColMeta::is_default));
    let default = default_names && default_meta;

    w.write_all(&super::seqfile::header(KEY_CLASS, VALUE_CLASS))?;

    let no_meta = ColMeta::default();
    let mut value = Vec::new();
    let mut r0 = 0;
    loop {
        let r1 = if rows <= BLOCK { rows } else { (r0 + BLOCK).min(rows) };
        let n = r1 - r0;
        value.clear();
        value.extend_from_slice(&(n as i32).to_be_bytes());
        value.extend_from_slice(&(ncols as i32).to_be_bytes());
        value.push(default as u8);
        for (j, col) in f.cols.iter().enumerate() {
            // a frame without rows has no column data: SystemDS marks such columns by negating
            // the type byte
            let ty = col.type_byte() as i8;
            value.push(if rows == 0 { -ty } else { ty } as u8);
            if !default {
                let name = f.names.as_ref().map_or_else(|| format!("C{}", j + 1), |n| n[j].clone());
                put_utf(&mut value, &name)?;
                // SystemDS keeps the column metadata in the first block only
                let m = if r0 == 0 { f.meta.as_ref().map_or(&no_meta, |m| &m[j]) } else { &no_meta };
                value.extend_from_slice(&m.num_distinct.to_be_bytes());
                put_utf(&mut value, m.mv_value.as_deref().unwrap_or(""))?;
            }
            if n > 0 {
                put_column(&mut value, col, r0, r1, j)?;
            }
        }
        let record_len = i32::try_from(8 + value.len())
            .map_err(|_| invalid(format!("the block of rows {}..{r1} is larger than 2 GiB", r0 + 1)))?;
        w.write_all(&record_len.to_be_bytes())?;
        w.write_all(&8i32.to_be_bytes())?;
        w.write_all(&((r0 + 1) as i64).to_be_bytes())?;
        w.write_all(&value)?;
        r0 = r1;
        if r0 >= rows {
            break;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Conversion to and from the engine's frames

/// The engine's frame of a decoded binary frame. CHARACTER columns become one-character
/// strings and HASH64/HASH32 columns their hexadecimal text (as SystemDS prints them); the
/// missing-value replacements of the column metadata become the frame's impute values.
pub fn to_frame(b: BinFrame) -> Frame {
    let mut narrow = Vec::with_capacity(b.cols.len());
    let columns: Vec<FrameColumn> = b
        .cols
        .into_iter()
        .map(|c| {
            narrow.push(matches!(c, Col::F32(_) | Col::I32(_)));
            match c {
                Col::Str(v) => FrameColumn::Str(v),
                Col::F64(v) | Col::F32(v) => FrameColumn::Double(v),
                Col::I64(v) | Col::I32(v) => FrameColumn::Int(v),
                Col::Bool(v) => FrameColumn::Bool(v),
                Col::Char(v) => FrameColumn::Str(
                    v.into_iter()
                        .map(|u| Some(char::from_u32(u32::from(u)).unwrap_or('\u{fffd}').to_string()))
                        .collect(),
                ),
                Col::Hash64(v) => FrameColumn::Str(v.into_iter().map(|h| Some(format!("{h:x}"))).collect()),
                Col::Hash32(v) => FrameColumn::Str(v.into_iter().map(|h| Some(format!("{h:x}"))).collect()),
            }
        })
        .collect();
    let impute = match b.meta {
        Some(m) if m.iter().any(|c| c.mv_value.is_some()) => m.into_iter().map(|c| c.mv_value).collect(),
        _ => vec![],
    };
    Frame {
        names: b.names.unwrap_or_default(),
        columns,
        narrow: if narrow.iter().any(|n| *n) { narrow } else { vec![] },
        impute,
    }
}

/// The binary-format model of one of the engine's frames (FP32/INT32 columns stay narrow).
pub fn from_frame(f: &Frame) -> BinFrame {
    let cols = f
        .columns
        .iter()
        .enumerate()
        .map(|(c, col)| match col {
            FrameColumn::Str(v) => Col::Str(v.clone()),
            FrameColumn::Double(v) if f.is_narrow(c) => Col::F32(v.clone()),
            FrameColumn::Double(v) => Col::F64(v.clone()),
            FrameColumn::Int(v) if f.is_narrow(c) => Col::I32(v.clone()),
            FrameColumn::Int(v) => Col::I64(v.clone()),
            FrameColumn::Bool(v) => Col::Bool(v.clone()),
        })
        .collect();
    let names = (!f.names.is_empty() && !is_default_names(&f.names)).then(|| f.names.clone());
    let meta = (f.impute.iter().any(Option::is_some)).then(|| {
        (0..f.cols())
            .map(|c| ColMeta { num_distinct: -1, mv_value: f.impute.get(c).cloned().flatten() })
            .collect()
    });
    BinFrame { names, meta, cols }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modified_utf8() {
        assert_eq!(java_utf("a"), b"a");
        assert_eq!(java_utf("\u{0}"), [0xC0, 0x80]);
        assert_eq!(java_utf("é"), [0xC3, 0xA9]);
        assert_eq!(java_utf("€"), [0xE2, 0x82, 0xAC]);
        // U+1F600 as two 3-byte surrogates (what SystemDS wrote for 😀)
        assert_eq!(java_utf("😀"), [0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80]);
        for s in ["", "plain", "a\u{0}b", "é€😀", "\u{7f}\u{80}\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}"]
        {
            assert_eq!(from_java_utf(&java_utf(s)).as_deref(), Ok(s));
        }
        // standard 4-byte UTF-8 is not modified UTF-8
        assert_eq!(from_java_utf("😀".as_bytes()), Err(0));
        assert_eq!(from_java_utf(&[b'a', 0xC3]), Err(2));
        assert_eq!(from_java_utf(&[0xE2, 0x82, b'x']), Err(2));
        // a raw NUL byte is accepted (Java does), a lone surrogate becomes U+FFFD
        assert_eq!(from_java_utf(&[0]).as_deref(), Ok("\u{0}"));
        assert_eq!(from_java_utf(&[0xED, 0xA0, 0xBD]).as_deref(), Ok("\u{fffd}"));
    }

    #[test]
    fn string_size_estimate_matches_systemds() {
        // values SystemDS wrote: "", "b", "\"\"" as null, "b", "\"\"" -> 190; "ä€", "😀", "",
        // "x\u{fffd}\u{fffd}y" -> 296
        let v = |xs: &[Option<&str>]| xs.iter().map(|x| x.map(String::from)).collect::<Vec<_>>();
        assert_eq!(string_size_estimate(&v(&[None, Some("b"), Some("\"\"")])), 190);
        assert_eq!(
            string_size_estimate(&v(&[Some("ä€"), Some("😀"), Some(""), Some("x\u{fffd}\u{fffd}y")])),
            296
        );
    }
}
