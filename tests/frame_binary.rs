//! Binary frames against files SystemDS 3.4.0 wrote, and files we wrote that SystemDS read.
//!
//! tests/data/io/frame_binary/sysds_*.bin were written by SystemDS 3.4.0 (`write(F, path, format="binary")`):
//! - sysds_f1: `frame(["a","1.5","TRUE","x","2.25","FALSE"], rows=2, cols=3,
//!   schema=["STRING","FP64","BOOLEAN"])`;
//! - sysds_types: the same with schema STRING, FP64, FP32, INT64, INT32, BOOLEAN;
//! - sysds_ch: a csv read with schema CHARACTER, HASH64 (cells x ab / y cd);
//! - sysds_nulls: a csv with a header and empty fields, schema STRING, FP64, FP32, INT64,
//!   INT32, BOOLEAN, HASH32 (empty numeric cells became 0, the empty string cell null);
//! - sysds_uni: a csv with non-ASCII strings (2-, 3-, 4-byte UTF-8, and invalid UTF-8 that Java
//!   turned into U+FFFD) after `F[3,1] = ""`;
//! - sysds_empty: a csv with only a header (0 rows; the type bytes are negative);
//! - sysds_meta: the meta frame of `transformencode` with recode and impute (column metadata);
//! - sysds_opt: `applySchema` of an all-string frame with an empty row;
//! - sysds_multi: 2500 rows (BOOLEAN, STRING) from a csv with a header: three records, keys 1,
//!   1001 and 2001, booleans as bit sets.
//!
//! hand_optional_ragged.bin was built by hand (Python): an optional FP64 column (value 99.0
//! marked absent), a ragged STRING column (2 of 3 rows stored) and an optional INT64 column
//! with bit-set flags. SystemDS 3.4.0 read it and printed
//! `1.500 p 7 / null q null / 3.500 null 9`.
//!
//! tests/data/io/frame_binary/ours/*.bin are this writer's output (`writer_output_is_stable` checks it stays so), each read back by
//! SystemDS 3.4.0 in a separate run (`G = read(path, data_type="frame", format="binary")`):
//! - ours_all: printed `4 x 9`, names str f64 f32 i64 i32 bool chr h64 h32, schema STRING FP64
//!   FP32 INT64 INT32 BOOLEAN CHARACTER HASH64 HASH32, rows
//!   `plain 1.500 2.5 -9223372036854775808 -2147483648 TRUE x ab ff`,
//!   `null -0.000 -3.25 -1 -1 FALSE é 0 0`,
//!   `null 1000...000.000 0.1 0 0 TRUE € ffffffffffffffff ffffffff`,
//!   `é€😀 a<NUL>b NaN 1.0E30 9223372036854775807 2147483647 TRUE <NUL> 123456789abcdef0 12345678`;
//! - ours_plain: `a 1.500 TRUE / x 2.250 FALSE`, names C1 C2 C3 (byte-identical to sysds_f1 but
//!   for the sync marker and the string size estimate);
//! - ours_empty: `0 x 2` (byte-identical to sysds_empty but for the sync marker);
//! - ours_meta: printed `x·1 null / y·2 null` with names c n, and transformapply accepted it;
//! - the 2500-row frame of `big_frame()` (names id half odd label, nulls every 7th row): SystemDS
//!   printed rows 998..1003 and 2495..2500 correctly (`1001 500.500 TRUE null`, ...);
//! - the directory of two part files of `parts_dir_is_read()`: `1500 x 2`, rows 999..1002 and
//!   1499..1500 correct.

use dml::runtime::io::frame_binary::*;
use std::path::{Path, PathBuf};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/io/frame_binary").join(name)
}

fn read(name: &str) -> BinFrame {
    read_frame_binary(&data(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn strs(v: &[Option<&str>]) -> Col {
    Col::Str(v.iter().map(|x| x.map(String::from)).collect())
}

fn names(v: &[&str]) -> Option<Vec<String>> {
    Some(v.iter().map(|s| s.to_string()).collect())
}

fn written(f: &BinFrame) -> Vec<u8> {
    let mut out = Vec::new();
    write_frame_binary(f, &mut out).expect("writing to memory");
    out
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("framebin-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The header length (through the sync marker) of files with our key and value classes.
const HEADER: usize = 4 + 1 + 33 + 1 + 46 + 2 + 4 + 16;

// ----------------------------------------------------------------------------------------------
// Files SystemDS wrote

#[test]
fn reads_systemds_basic_types() {
    let f = read("sysds_f1.bin");
    assert_eq!(f.names, None);
    assert_eq!(
        f.cols,
        vec![strs(&[Some("a"), Some("x")]), Col::F64(vec![1.5, 2.25]), Col::Bool(vec![true, false])]
    );

    let f = read("sysds_types.bin");
    assert_eq!(f.names, None);
    assert_eq!(
        f.cols,
        vec![
            strs(&[Some("a"), Some("b")]),
            Col::F64(vec![1.5, -0.25]),
            Col::F32(vec![2.5, 3.75]),
            Col::I64(vec![7, -9007199254740993]),
            Col::I32(vec![8, -2147483648]),
            Col::Bool(vec![true, false]),
        ]
    );

    let f = read("sysds_ch.bin");
    assert_eq!(f.cols, vec![Col::Char(vec!['x' as u16, 'y' as u16]), Col::Hash64(vec![0xab, 0xcd])]);
}

#[test]
fn reads_systemds_nulls_and_names() {
    let f = read("sysds_nulls.bin");
    assert_eq!(f.names, names(&["name", "val", "f32", "i64", "i32", "flag", "h32"]));
    assert_eq!(f.meta, None);
    assert_eq!(
        f.cols,
        vec![
            strs(&[None, Some("b"), Some("\"\"")]),
            Col::F64(vec![1.5, 0.0, 3.5]),
            Col::F32(vec![0.0, 2.5, 1.0]),
            Col::I64(vec![3, 0, 2]),
            Col::I32(vec![0, 4, 3]),
            Col::Bool(vec![true, false, false]),
            Col::Hash32(vec![0xff, 0, 1]),
        ]
    );
    let f = read("sysds_opt.bin");
    assert_eq!(f.names, names(&["a", "b", "c", "d"]));
    assert_eq!(
        f.cols,
        vec![
            Col::F64(vec![1.5, 0.0, 3.5]),
            Col::I64(vec![2, 0, 4]),
            Col::Bool(vec![true, false, false]),
            strs(&[Some("x"), None, Some("y")]),
        ]
    );
}

#[test]
fn reads_systemds_non_ascii() {
    let f = read("sysds_uni.bin");
    assert_eq!(f.names, names(&["name", "val"]));
    // "" was written as an empty string and reads back as null
    assert_eq!(
        f.cols,
        vec![strs(&[Some("ä€"), Some("😀"), None, Some("x\u{fffd}\u{fffd}y")]), Col::I64(vec![1, 2, 3, 4]),]
    );
}

#[test]
fn reads_systemds_empty_and_meta() {
    let f = read("sysds_empty.bin");
    assert_eq!(f.rows(), 0);
    // SystemDS itself drops the names of a frame without rows when reading; we keep them
    assert_eq!(f.names, names(&["a", "b"]));
    assert_eq!(f.cols, vec![Col::Str(vec![]), Col::F64(vec![])]);

    let f = read("sysds_meta.bin");
    assert_eq!(f.names, names(&["c", "n"]));
    assert_eq!(
        f.meta,
        Some(vec![
            ColMeta { num_distinct: 2, mv_value: None },
            ColMeta { num_distinct: -1, mv_value: Some("1.3333333333333335".into()) },
        ])
    );
    assert_eq!(f.cols, vec![strs(&[Some("x\u{b7}1"), Some("y\u{b7}2")]), strs(&[None, None])]);
}

#[test]
fn reads_systemds_multi_block() {
    let f = read("sysds_multi.bin");
    assert_eq!(f.rows(), 2500);
    assert_eq!(f.names, names(&["flag", "letter"]));
    let want_flags: Vec<bool> = (1..=2500).map(|i| i % 3 == 0).collect();
    let want_letters: Vec<Option<String>> = (1..=2500)
        .map(|i| if i % 7 == 0 { None } else { Some(((b'a' + (i % 26) as u8) as char).to_string()) })
        .collect();
    assert_eq!(f.cols, vec![Col::Bool(want_flags), Col::Str(want_letters)]);
}

#[test]
fn reads_optional_and_ragged_arrays() {
    let f = read("hand_optional_ragged.bin");
    // absent numeric cells (SystemDS prints null) become 0
    assert_eq!(
        f.cols,
        vec![Col::F64(vec![1.5, 0.0, 3.5]), strs(&[Some("p"), Some("q"), None]), Col::I64(vec![7, 0, 9])]
    );
}

/// Re-encoding a SystemDS file gives SystemDS's bytes, but for the sync marker and, where
/// SystemDS's string arrays had spare capacity (frame literals) or held "" rather than null,
/// the low byte of the string column's size estimate.
#[test]
fn writer_matches_systemds_bytes() {
    for name in [
        "sysds_ch.bin",
        "sysds_nulls.bin",
        "sysds_empty.bin",
        "sysds_meta.bin",
        "sysds_opt.bin",
        "sysds_multi.bin",
    ] {
        let theirs = std::fs::read(data(name)).expect("test data");
        let ours = written(&read(name));
        assert_eq!(ours[..HEADER - 16], theirs[..HEADER - 16], "{name}: header");
        assert_eq!(ours[HEADER..], theirs[HEADER..], "{name}: records");
    }
    // record framing (8), key (8), rows, cols, flag (9), type byte, [name, meta], kind byte, then
    // the i64 estimate: its last byte
    for (name, at, theirs_est, ours_est) in [
        ("sysds_f1.bin", HEADER + 8 + 8 + 9 + 1 + 1 + 7, 212, 164), // capacity 4, not 2
        ("sysds_types.bin", HEADER + 8 + 8 + 9 + 1 + 1 + 7, 212, 164),
        ("sysds_uni.bin", HEADER + 8 + 8 + 9 + 1 + 6 + 10 + 1 + 7, 0x28, 0x04), // 296: "" not null
    ] {
        let theirs = std::fs::read(data(name)).expect("test data");
        let ours = written(&read(name));
        assert_eq!(ours.len(), theirs.len(), "{name}");
        let diff: Vec<usize> = (HEADER..ours.len()).filter(|&i| ours[i] != theirs[i]).collect();
        assert_eq!(diff, vec![at], "{name}");
        assert_eq!((theirs[at], ours[at]), (theirs_est, ours_est), "{name}");
    }
}

// ----------------------------------------------------------------------------------------------
// Files we wrote (SystemDS read them; see the top of this file)

fn all_types_frame() -> BinFrame {
    BinFrame {
        names: names(&["str", "f64", "f32", "i64", "i32", "bool", "chr", "h64", "h32"]),
        meta: None,
        cols: vec![
            strs(&[Some("plain"), None, Some(""), Some("é€😀 a\u{0}b")]),
            Col::F64(vec![1.5, -0.0, 1e300, f64::NAN]),
            Col::F32(vec![2.5, -3.25, 0.1, 1e30]),
            Col::I64(vec![i64::MIN, -1, 0, i64::MAX]),
            Col::I32(vec![i32::MIN as i64, -1, 0, i32::MAX as i64]),
            Col::Bool(vec![true, false, true, true]),
            Col::Char(vec!['x' as u16, 'é' as u16, '€' as u16, 0]),
            Col::Hash64(vec![0xab, 0, u64::MAX, 0x1234_5678_9abc_def0]),
            Col::Hash32(vec![0xff, 0, u32::MAX, 0x1234_5678]),
        ],
    }
}

fn big_frame() -> BinFrame {
    let n = 2500;
    BinFrame {
        names: names(&["id", "half", "odd", "label"]),
        meta: None,
        cols: vec![
            Col::I64((1..=n as i64).collect()),
            Col::F64((1..=n).map(|i| i as f64 * 0.5).collect()),
            Col::Bool((1..=n).map(|i| i % 2 == 1).collect()),
            Col::Str((1..=n).map(|i| if i % 7 == 0 { None } else { Some(format!("r{i}")) }).collect()),
        ],
    }
}

#[test]
fn writer_output_is_stable() {
    let meta = BinFrame {
        names: names(&["c", "n"]),
        meta: Some(vec![
            ColMeta { num_distinct: 2, mv_value: None },
            ColMeta { num_distinct: -1, mv_value: Some("1.5".into()) },
        ]),
        cols: vec![strs(&[Some("x\u{b7}1"), Some("y\u{b7}2")]), strs(&[None, None])],
    };
    let plain = BinFrame {
        names: None,
        meta: None,
        cols: vec![strs(&[Some("a"), Some("x")]), Col::F64(vec![1.5, 2.25]), Col::Bool(vec![true, false])],
    };
    let empty =
        BinFrame { names: names(&["a", "b"]), meta: None, cols: vec![Col::Str(vec![]), Col::F64(vec![])] };
    for (name, f) in [
        ("ours_all.bin", all_types_frame()),
        ("ours_plain.bin", plain),
        ("ours_empty.bin", empty),
        ("ours_meta.bin", meta),
    ] {
        let golden = std::fs::read(data(&format!("ours/{name}"))).expect("test data");
        assert_eq!(written(&f), golden, "{name}");
    }
    // ours_empty is SystemDS's sysds_empty but for the sync marker
    let theirs = std::fs::read(data("sysds_empty.bin")).expect("test data");
    let ours = std::fs::read(data("ours/ours_empty.bin")).expect("test data");
    assert_eq!(ours[HEADER..], theirs[HEADER..]);
}

#[test]
fn round_trips() {
    let all = all_types_frame();
    let back = read_frame_bytes(Path::new("mem"), &written(&all)).expect("read back");
    assert_eq!(back.names, all.names);
    // "" comes back as null, NaN as NaN, FP32 values rounded to f32
    let Col::Str(s) = &back.cols[0] else { panic!() };
    assert_eq!(s, &[Some("plain".to_string()), None, None, Some("é€😀 a\u{0}b".to_string())]);
    let Col::F64(d) = &back.cols[1] else { panic!() };
    assert_eq!(d[..3], [1.5, -0.0, 1e300]);
    assert!(d[2].is_sign_positive() && d[1].is_sign_negative() && d[3].is_nan());
    assert_eq!(back.cols[2], Col::F32(vec![2.5, -3.25, 0.1f32 as f64, 1e30f32 as f64]));
    assert_eq!(back.cols[3..], all.cols[3..]);

    let big = big_frame();
    let bytes = written(&big);
    let back = read_frame_bytes(Path::new("mem"), &bytes).expect("read back");
    assert_eq!(back, big);

    // one record per 1000 rows, keyed by first row; bit sets above 64 rows
    let mut keys = Vec::new();
    let mut p = HEADER;
    while p < bytes.len() {
        let len = i32::from_be_bytes(bytes[p..p + 4].try_into().unwrap()) as usize;
        keys.push(i64::from_be_bytes(bytes[p + 8..p + 16].try_into().unwrap()));
        p += 8 + len;
    }
    assert_eq!(keys, vec![1, 1001, 2001]);

    for rows in [0, 1, 64, 65, 999, 1000, 1001, 2000] {
        let f = BinFrame {
            names: None,
            meta: None,
            cols: vec![
                Col::Bool((0..rows).map(|i| i % 3 == 0).collect()),
                Col::I32((0..rows as i64).collect()),
                Col::Str((0..rows).map(|i| (i % 2 == 0).then(|| format!("s{i}"))).collect()),
            ],
        };
        let back = read_frame_bytes(Path::new("mem"), &written(&f)).expect("read back");
        assert_eq!(back, f, "{rows} rows");
    }
}

#[test]
fn parts_dir_is_read() {
    let dir = temp_dir("parts");
    let m = 1500;
    let whole = BinFrame {
        names: None,
        meta: None,
        cols: vec![Col::I64((1..=m as i64).collect()), Col::Str(vec![Some("v".to_string()); m])],
    };
    let bytes = written(&whole);
    let rec1 = 8 + i32::from_be_bytes(bytes[HEADER..HEADER + 4].try_into().unwrap()) as usize;
    let (head, rest) = bytes.split_at(HEADER);
    let (r1, r2) = rest.split_at(rec1);
    let parts = dir.join("f.bin");
    std::fs::create_dir_all(&parts).expect("dir");
    // the second block in the first file: blocks are put in row order whatever the file order
    std::fs::write(parts.join("0-m-00000"), [head, r2].concat()).expect("part");
    std::fs::write(parts.join("0-m-00001"), [head, r1].concat()).expect("part");
    std::fs::write(parts.join("_SUCCESS"), b"").expect("marker");
    std::fs::write(parts.join(".0-m-00000.crc"), b"junk").expect("crc");
    assert_eq!(read_frame_binary(&parts).expect("read parts"), whole);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sync_escapes_are_skipped() {
    let f = big_frame();
    let bytes = written(&f);
    let rec1 = 8 + i32::from_be_bytes(bytes[HEADER..HEADER + 4].try_into().unwrap()) as usize;
    let sync = &bytes[HEADER - 16..HEADER];
    let at = HEADER + rec1;
    let with_sync = [&bytes[..at], &(-1i32).to_be_bytes(), sync, &bytes[at..]].concat();
    assert_eq!(read_frame_bytes(Path::new("mem"), &with_sync).expect("read"), f);
    let mut bad = with_sync.clone();
    bad[at + 4] ^= 1;
    let e = read_frame_bytes(Path::new("mem"), &bad).unwrap_err();
    assert!(e.contains("sync"), "{e}");
}

// ----------------------------------------------------------------------------------------------
// Malformed input: errors, never panics

#[test]
fn every_truncation_is_an_error() {
    for name in [
        "sysds_nulls.bin",
        "sysds_multi.bin",
        "ours/ours_all.bin",
        "sysds_empty.bin",
        "hand_optional_ragged.bin",
    ] {
        let bytes = std::fs::read(data(name)).expect("test data");
        for n in 0..bytes.len() {
            let r = read_frame_bytes(Path::new(name), &bytes[..n]);
            // cutting exactly between records leaves a valid (shorter) file
            if let Ok(f) = r {
                assert!(name == "sysds_multi.bin" && f.rows() % 1000 == 0, "{name} cut at {n} was accepted");
            }
        }
    }
    let bytes = std::fs::read(data("sysds_nulls.bin")).expect("test data");
    let e = read_frame_bytes(Path::new("x.bin"), &bytes[..bytes.len() - 3]).unwrap_err();
    assert!(e.starts_with("x.bin: byte "), "{e}");
}

#[test]
fn corrupted_bytes_never_panic() {
    let mut seed: u64 = 0x2545F4914F6CDD1D;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for name in [
        "sysds_nulls.bin",
        "sysds_multi.bin",
        "ours/ours_all.bin",
        "hand_optional_ragged.bin",
        "sysds_meta.bin",
    ] {
        let bytes = std::fs::read(data(name)).expect("test data");
        for _ in 0..3000 {
            let mut b = bytes.clone();
            for _ in 0..1 + next() % 4 {
                let i = HEADER - 16 + (next() as usize) % (b.len() - HEADER + 16);
                b[i] = match next() % 4 {
                    0 => 0xff,
                    1 => 0x7f,
                    2 => 0,
                    _ => next() as u8,
                };
            }
            let _ = read_frame_bytes(Path::new(name), &b);
        }
    }
}

#[test]
fn wrong_files_are_errors() {
    let good = written(&all_types_frame());
    let check = |bytes: &[u8], want: &str| {
        let e = read_frame_bytes(Path::new("f.bin"), bytes).unwrap_err();
        assert!(e.contains(want), "{e} (wanted {want})");
    };
    check(b"", "not a binary");
    check(b"1,2,3\n", "not a binary");
    let mut b = good.clone();
    b[3] = 5;
    check(&b, "version 5");
    // a matrix file's classes
    let mut m = b"SEQ\x06".to_vec();
    for c in [
        "org.apache.sysds.runtime.matrix.data.MatrixIndexes",
        "org.apache.sysds.runtime.matrix.data.MatrixBlock",
    ] {
        m.push(c.len() as u8);
        m.extend_from_slice(c.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    m.extend_from_slice(&[7; 16]);
    check(&m, "a matrix, not a frame");
    // a different value class name of the same length
    let mut b = good.clone();
    b[HEADER - 30] = b'X';
    check(&b, "expected org.apache.hadoop.io.LongWritable/");
    // compressed flag
    let mut b = good.clone();
    b[HEADER - 22] = 1;
    check(&b, "compressed");
    // record length that does not match
    let mut b = good.clone();
    b[HEADER + 3] = b[HEADER + 3].wrapping_add(1);
    check(&b, "record length");
    // a huge row count must not allocate
    let mut b = good.clone();
    b[HEADER + 16..HEADER + 20].copy_from_slice(&i32::MAX.to_be_bytes());
    check(&b, "cannot fit");
    let mut b = good.clone();
    b[HEADER + 16..HEADER + 20].copy_from_slice(&(-1i32).to_be_bytes());
    check(&b, "negative row count");
    // unknown type byte and array kind
    let mut b = good.clone();
    b[HEADER + 25] = 0;
    check(&b, "unknown value type byte 0");
    let mut b = good.clone();
    let kind_at = HEADER + 25 + 1 + 2 + 3 + 8 + 2; // type, name "str", meta
    assert_eq!(b[kind_at], 0);
    b[kind_at] = 13;
    check(&b, "unknown column array kind 13");
    b[kind_at] = 10;
    check(&b, "DDC");
    // a string column holding doubles
    b[kind_at] = 6;
    check(&b, "holds FP64 data");
    // malformed modified UTF-8 in a name
    let mut b = good.clone();
    b[HEADER + 25 + 3] = 0xff;
    check(&b, "malformed modified UTF-8");
}

#[test]
fn block_gaps_overlaps_and_schema_mismatches_are_errors() {
    let f = big_frame();
    let bytes = written(&f);
    let rec = |i: usize| {
        let mut p = HEADER;
        for _ in 0..i {
            p += 8 + i32::from_be_bytes(bytes[p..p + 4].try_into().unwrap()) as usize;
        }
        let len = 8 + i32::from_be_bytes(bytes[p..p + 4].try_into().unwrap()) as usize;
        bytes[p..p + len].to_vec()
    };
    let head = &bytes[..HEADER];
    let gap = [head, &rec(0), &rec(2)].concat();
    let e = read_frame_bytes(Path::new("g"), &gap).unwrap_err();
    assert!(e.contains("gap"), "{e}");
    let overlap = [head, &rec(0), &rec(0)].concat();
    let e = read_frame_bytes(Path::new("o"), &overlap).unwrap_err();
    assert!(e.contains("overlaps"), "{e}");
    let other = written(&BinFrame { names: None, meta: None, cols: vec![Col::F64(vec![1.0; 1500])] });
    let mut second = other[HEADER..].to_vec();
    let len = 8 + i32::from_be_bytes(second[..4].try_into().unwrap()) as usize;
    second = second[len..].to_vec();
    let mixed = [head, &rec(0), &second].concat();
    let e = read_frame_bytes(Path::new("m"), &mixed).unwrap_err();
    assert!(e.contains("schema"), "{e}");
    // a bad key
    let mut b = bytes.clone();
    b[HEADER + 8..HEADER + 16].copy_from_slice(&0i64.to_be_bytes());
    let e = read_frame_bytes(Path::new("k"), &b).unwrap_err();
    assert!(e.contains("bad block row index 0"), "{e}");
    // only the header
    let e = read_frame_bytes(Path::new("h"), head).unwrap_err();
    assert!(e.contains("no frame blocks"), "{e}");
}

#[test]
fn writer_rejects_what_systemds_cannot_hold() {
    let mut sink = Vec::new();
    let f = BinFrame { names: None, meta: None, cols: vec![Col::I32(vec![1 << 31])] };
    assert!(write_frame_binary(&f, &mut sink).unwrap_err().to_string().contains("INT32"));
    let f = BinFrame { names: None, meta: None, cols: vec![Col::Str(vec![Some("é".repeat(40000))])] };
    assert!(write_frame_binary(&f, &mut sink).unwrap_err().to_string().contains("65535"));
    let f = BinFrame { names: None, meta: None, cols: vec![Col::Str(vec![Some("x".repeat(65535))])] };
    write_frame_binary(&f, &mut Vec::new()).expect("65535 bytes fit");
    let f = BinFrame { names: None, meta: None, cols: vec![Col::F64(vec![1.0]), Col::F64(vec![])] };
    assert!(write_frame_binary(&f, &mut sink).is_err());
    let f =
        BinFrame { names: names(&["a"]), meta: None, cols: vec![Col::F64(vec![1.0]), Col::F64(vec![2.0])] };
    assert!(write_frame_binary(&f, &mut sink).is_err());
}

#[test]
fn default_names_are_not_written() {
    // names C1..Cn are the defaults: the default-metadata flag is set and none are stored
    let f = BinFrame {
        names: names(&["C1", "C2"]),
        meta: Some(vec![ColMeta::default(), ColMeta::default()]),
        cols: vec![Col::F64(vec![1.0]), Col::Bool(vec![true])],
    };
    let bytes = written(&f);
    assert_eq!(bytes[HEADER + 24], 1);
    let back = read_frame_bytes(Path::new("mem"), &bytes).expect("read");
    assert_eq!((back.names, back.meta), (None, None));
}

#[test]
fn small_files_cannot_claim_huge_frames() {
    // a block of i32::MAX rows whose columns hold no data, or a ragged array storing none
    let head = &written(&BinFrame { names: None, meta: None, cols: vec![Col::F64(vec![1.0])] })[..HEADER];
    let rec = |value: &[u8]| {
        let mut r = ((8 + value.len()) as i32).to_be_bytes().to_vec();
        r.extend_from_slice(&8i32.to_be_bytes());
        r.extend_from_slice(&1i64.to_be_bytes());
        r.extend_from_slice(value);
        [head, &r].concat()
    };
    let mut v = i32::MAX.to_be_bytes().to_vec();
    v.extend_from_slice(&1i32.to_be_bytes());
    v.push(1);
    v.push((-4i8) as u8); // FP64, unallocated
    let e = read_frame_bytes(Path::new("u"), &rec(&v)).unwrap_err();
    assert!(e.contains("holds no data"), "{e}");
    let mut v = i32::MAX.to_be_bytes().to_vec();
    v.extend_from_slice(&1i32.to_be_bytes());
    v.push(1);
    v.extend_from_slice(&[4, 8]); // FP64, ragged
    v.extend_from_slice(&i32::MAX.to_be_bytes());
    v.extend_from_slice(&0i32.to_be_bytes());
    v.push(6);
    let e = read_frame_bytes(Path::new("r"), &rec(&v)).unwrap_err();
    assert!(e.contains("too many rows without data"), "{e}");
    // a modest ragged array is fine: 10 rows, 1 stored
    let mut v = 10i32.to_be_bytes().to_vec();
    v.extend_from_slice(&1i32.to_be_bytes());
    v.push(1);
    v.extend_from_slice(&[4, 8]);
    v.extend_from_slice(&10i32.to_be_bytes());
    v.extend_from_slice(&1i32.to_be_bytes());
    v.push(6);
    v.extend_from_slice(&2.5f64.to_be_bytes());
    let f = read_frame_bytes(Path::new("r"), &rec(&v)).expect("ragged");
    let mut want = vec![0.0; 10];
    want[0] = 2.5;
    assert_eq!(f.cols, vec![Col::F64(want)]);
}
