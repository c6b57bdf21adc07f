//! File I/O tests: reading files SystemDS 3.4.0 wrote (tests/data/io/sysds_written, produced by
//! `write(X, ..., format=...)` in sysds), byte-for-byte agreement of our writer with them,
//! round trips, malformed input and atomic writes.
//!
//! Checked by hand on 2026-11-23: the files our writer produces for these matrices are identical
//! (data files byte for byte, .mtd except `author`/`created`) to the ones sysds wrote, and sysds
//! 3.4.0 reads our csv (with header, `;`, sparse), text, mm and scalar outputs back to the same
//! values (`read(f)` then `toString`, files from `write_samples_for_sysds`). Our libsvm output
//! reads back in sysds as 3x4 with the label last, exactly as sysds's own libsvm output does.

use std::path::{Path, PathBuf};

use dml::runtime::io::{self, IoError, Mtd, ReadOptions, ScalarValue, WriteOptions};
use dml::types::matrix::Matrix;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/io/sysds_written").join(name)
}

/// A fresh scratch directory per test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dml-io-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn cells(x: &Matrix) -> Vec<f64> {
    (0..x.rows()).flat_map(|r| (0..x.cols()).map(move |c| x.get(r, c))).collect()
}

/// The matrix sysds wrote: matrix("1 0 3 0 0 0 -2.5 4 1e-20", rows=3, cols=3).
fn x() -> Matrix {
    Matrix::from_vec(3, 3, vec![1., 0., 3., 0., 0., 0., -2.5, 4., 1e-20])
}

/// The 5x6 0/1 matrix sysds wrote as s.csv / s2.csv.
fn s() -> Matrix {
    let mut v = vec![0.0; 30];
    for (r, c) in [(0, 0), (1, 4), (2, 1), (2, 3), (3, 2), (4, 2), (4, 5)] {
        v[r * 6 + c] = 1.0;
    }
    Matrix::from_vec(5, 6, v)
}

fn read(name: &str) -> Matrix {
    io::read_matrix(&data(name), &ReadOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn reads_sysds_written_files() {
    for f in ["a.csv", "ah.csv", "a.txt", "a.mm", "desc.csv"] {
        assert_eq!(cells(&read(f)), cells(&x()), "{f}");
    }
    // sysds reads its own a.libsvm (.mtd: 3 columns) as 3x4: features 1..3, then the label.
    assert_eq!(cells(&read("a.libsvm")), vec![1., 0., 0., 3., 0., 0., 0., 0., -2.5, 4., 0., 1e-20]);
    for f in ["z.txt", "z.csv", "z.mm"] {
        let z = read(f);
        assert_eq!((z.rows(), z.cols(), z.nnz()), (2, 3, 0), "{f}");
    }
    let z = read("z.libsvm");
    assert_eq!((z.rows(), z.cols(), z.nnz()), (2, 4, 0));
    assert_eq!(cells(&read("s.csv")), cells(&s()));
    assert_eq!(cells(&read("s2.csv")), cells(&s()));
}

#[test]
fn reads_sysds_scalars() {
    let r = |f: &str| io::read_scalar(&data(f), None).unwrap();
    assert_eq!(r("sc.txt"), ScalarValue::Double(3.5));
    assert_eq!(r("sci.txt"), ScalarValue::Int(7));
    assert_eq!(r("scb.txt"), ScalarValue::Boolean(true));
    assert_eq!(r("scs.txt"), ScalarValue::String("hi".into()));
}

/// Drops the lines that depend on who wrote a file and when.
fn stable_mtd(text: &str) -> String {
    text.lines()
        .filter(|l| !l.contains("\"author\"") && !l.contains("\"created\""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn writer_output_equals_sysds_output() {
    let dir = scratch("same");
    let cases: Vec<(&str, Matrix, WriteOptions)> = vec![
        ("a.csv", x(), WriteOptions { format: "csv".into(), ..Default::default() }),
        (
            "ah.csv",
            x(),
            WriteOptions { format: "csv".into(), header: true, sep: ";".into(), ..Default::default() },
        ),
        (
            "desc.csv",
            x(),
            WriteOptions { format: "csv".into(), description: Some("my desc".into()), ..Default::default() },
        ),
        ("a.txt", x(), WriteOptions::default()),
        ("a.mm", x(), WriteOptions { format: "mm".into(), ..Default::default() }),
        ("a.libsvm", x(), WriteOptions { format: "libsvm".into(), ..Default::default() }),
        ("z.txt", Matrix::zeros(2, 3), WriteOptions::default()),
        ("z.csv", Matrix::zeros(2, 3), WriteOptions { format: "csv".into(), ..Default::default() }),
        ("z.mm", Matrix::zeros(2, 3), WriteOptions { format: "mm".into(), ..Default::default() }),
        ("z.libsvm", Matrix::zeros(2, 3), WriteOptions { format: "libsvm".into(), ..Default::default() }),
        (
            "s.csv",
            Matrix::Sparse(s().to_csr()),
            WriteOptions { format: "csv".into(), sparse: true, ..Default::default() },
        ),
        ("s2.csv", s(), WriteOptions { format: "csv".into(), ..Default::default() }),
    ];
    for (name, m, opts) in cases {
        let out = dir.join(name);
        io::write_matrix(&m, &out, &opts).unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            std::fs::read_to_string(data(name)).unwrap(),
            "{name}"
        );
        let theirs = io::mtd_path(&data(name));
        let ours = io::mtd_path(&out);
        assert_eq!(ours.exists(), theirs.exists(), "{name}: .mtd presence");
        if theirs.exists() {
            let (a, b) = (std::fs::read_to_string(&ours).unwrap(), std::fs::read_to_string(&theirs).unwrap());
            assert_eq!(stable_mtd(&a), stable_mtd(&b), "{name}.mtd");
            assert!(a.contains("\"created\": \"") && a.ends_with('}'), "{a}");
        }
    }
    for (name, v) in [
        ("sc.txt", ScalarValue::Double(3.5)),
        ("sci.txt", ScalarValue::Int(7)),
        ("scb.txt", ScalarValue::Boolean(true)),
        ("scs.txt", ScalarValue::String("hi".into())),
    ] {
        let out = dir.join(name);
        io::write_scalar(&v, &out, None).unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            std::fs::read_to_string(data(name)).unwrap(),
            "{name}"
        );
        let (a, b) = (
            std::fs::read_to_string(io::mtd_path(&out)).unwrap(),
            std::fs::read_to_string(io::mtd_path(&data(name))).unwrap(),
        );
        assert_eq!(stable_mtd(&a), stable_mtd(&b), "{name}.mtd");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn round_trips_every_format() {
    let dir = scratch("roundtrip");
    let mut v: Vec<f64> = (0..60).map(|i| if i % 7 == 0 { (i as f64) * -0.37 + 0.1 } else { 0.0 }).collect();
    v[5] = f64::NAN;
    v[11] = 1e300;
    v[13] = -1.5e-300;
    let dense = Matrix::from_vec(6, 10, v);
    let sparse = Matrix::Sparse(dense.to_csr());
    for (i, m) in [dense, sparse].iter().enumerate() {
        for fmt in ["text", "csv", "mm", "libsvm"] {
            for (header, sep, sp) in [(false, ",", false), (true, ";", true)] {
                if fmt != "csv" && header {
                    continue;
                }
                let out = dir.join(format!("m{i}.{fmt}.{header}"));
                let opts = WriteOptions {
                    format: fmt.into(),
                    header,
                    sep: sep.into(),
                    sparse: sp,
                    description: None,
                };
                io::write_matrix(m, &out, &opts).unwrap();
                let back =
                    io::read_matrix(&out, &ReadOptions::default()).unwrap_or_else(|e| panic!("{fmt}: {e}"));
                let (a, b) = (cells(&back), cells(&expected_after_read(m, fmt)));
                assert_eq!(a.len(), b.len(), "{fmt}");
                for (p, q) in a.iter().zip(&b) {
                    assert!(p == q || (p.is_nan() && q.is_nan()), "{fmt} {header}: {p} vs {q}");
                }
            }
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// What reading a written matrix gives: itself, except for LIBSVM, where (as in sysds) the
/// label comes back in an extra last column and the column it came from is empty.
fn expected_after_read(m: &Matrix, fmt: &str) -> Matrix {
    if fmt != "libsvm" {
        return m.clone();
    }
    let c = m.cols();
    let mut v = Vec::new();
    for r in 0..m.rows() {
        v.extend((0..c - 1).map(|j| m.get(r, j)));
        v.push(0.0);
        v.push(m.get(r, c - 1));
    }
    Matrix::from_vec(m.rows(), c + 1, v)
}

#[test]
fn csv_options_na_strings_fill_and_dims() {
    let dir = scratch("csvopts");
    let f = dir.join("in.csv");
    std::fs::write(&f, "a|b|c\n1|NA|3\n|5|-\n").unwrap();
    let opts = ReadOptions {
        format: Some("csv".into()),
        header: Some(true),
        sep: Some("|".into()),
        na_strings: vec!["NA".into(), "-".into()],
        default_value: Some(7.0),
        ..Default::default()
    };
    let m = io::read_matrix(&f, &opts).unwrap();
    let c = cells(&m);
    assert_eq!((m.rows(), m.cols()), (2, 3));
    assert_eq!((c[0], c[2], c[3], c[4]), (1.0, 3.0, 7.0, 5.0));
    assert!(c[1].is_nan() && c[5].is_nan());
    let no_fill = ReadOptions { fill: Some(false), ..opts.clone() };
    let e = io::read_matrix(&f, &no_fill).unwrap_err().to_string();
    assert!(e.contains("in.csv:3:1:") && e.contains("empty field"), "{e}");
    let wrong_dims = ReadOptions { rows: Some(3), ..opts };
    let e = io::read_matrix(&f, &wrong_dims).unwrap_err().to_string();
    assert!(e.contains("2x3"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn reads_directory_of_part_files() {
    let dir = scratch("parts");
    let d = dir.join("out.txt");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("0-m-00000"), "1 1 1.0\n2 2 2.0\n").unwrap();
    std::fs::write(d.join("0-m-00001"), "3 1 -4.0\n").unwrap();
    std::fs::write(d.join("_SUCCESS"), "").unwrap();
    std::fs::write(d.join(".0-m-00000.crc"), "junk").unwrap();
    std::fs::write(
        io::mtd_path(&d),
        "{\"data_type\": \"matrix\", \"rows\": 3, \"cols\": 2, \"format\": \"text\"}",
    )
    .unwrap();
    let m = io::read_matrix(&d, &ReadOptions::default()).unwrap();
    assert_eq!(cells(&m), vec![1., 0., 0., 2., -4., 0.]);
    let c = dir.join("out.csv");
    std::fs::create_dir(&c).unwrap();
    std::fs::write(c.join("part-00000"), "C1,C2\n1,2\n").unwrap();
    std::fs::write(c.join("part-00001"), "3,4\n").unwrap();
    let opts = ReadOptions { format: Some("csv".into()), header: Some(true), ..Default::default() };
    assert_eq!(cells(&io::read_matrix(&c, &opts).unwrap()), vec![1., 2., 3., 4.]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn matrix_market_symmetry_and_pattern() {
    let dir = scratch("mm");
    let f = dir.join("sym.mtx");
    std::fs::write(
        &f,
        "%%MatrixMarket matrix coordinate real symmetric\n% comment\n3 3 3\n1 1 2.0\n3 1 5\n2 3 -1\n",
    )
    .unwrap();
    assert_eq!(
        cells(&io::read_matrix(&f, &ReadOptions::default()).unwrap()),
        vec![2., 0., 5., 0., 0., -1., 5., -1., 0.]
    );
    std::fs::write(&f, "%%MatrixMarket matrix coordinate pattern skew-symmetric\n2 2 1\n2 1\n").unwrap();
    assert_eq!(cells(&io::read_matrix(&f, &ReadOptions::default()).unwrap()), vec![0., -1., 1., 0.]);
    std::fs::write(&f, "%%MatrixMarket matrix coordinate integer general\n2 2 1\n2 1 7\n").unwrap();
    assert_eq!(cells(&io::read_matrix(&f, &ReadOptions::default()).unwrap()), vec![0., 0., 7., 0.]);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Writes `text` to `name` (and the optional .mtd) and returns the read error's message.
fn read_error(dir: &Path, name: &str, text: &str, mtd: Option<&str>, opts: &ReadOptions) -> String {
    let f = dir.join(name);
    std::fs::write(&f, text).unwrap();
    if let Some(m) = mtd {
        std::fs::write(io::mtd_path(&f), m).unwrap();
    }
    match io::read_matrix(&f, opts) {
        Ok(m) => panic!("{name}: expected an error, read {}x{}", m.rows(), m.cols()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn malformed_files_name_file_line_and_column() {
    let dir = scratch("bad");
    let csv = ReadOptions { format: Some("csv".into()), ..Default::default() };
    let e = read_error(&dir, "a.csv", "1,2,3\n4,x5,6\n", None, &csv);
    assert!(e.contains("a.csv:2:3:") && e.contains("x5"), "{e}");
    let e = read_error(&dir, "b.csv", "1,2,3\n4,5\n", None, &csv);
    assert!(e.contains("b.csv:2:1:") && e.contains("expected 3 fields"), "{e}");
    let text_mtd = Some("{\"rows\": 2, \"cols\": 2, \"format\": \"text\"}");
    let e = read_error(&dir, "c.txt", "1 1 1.0\n2  3 4.0\n", text_mtd, &ReadOptions::default());
    assert!(e.contains("c.txt:2:4:") && e.contains("outside 1..2"), "{e}");
    let e = read_error(&dir, "d.txt", "1 1 1.0\n1 2 abc\n", text_mtd, &ReadOptions::default());
    assert!(e.contains("d.txt:2:5:") && e.contains("abc"), "{e}");
    let e = read_error(&dir, "e.txt", "1 1\n", text_mtd, &ReadOptions::default());
    assert!(e.contains("e.txt:1:4:"), "{e}");
    let e = read_error(
        &dir,
        "f.mm",
        "%%MatrixMarket matrix array real general\n2 2\n1\n",
        None,
        &ReadOptions::default(),
    );
    assert!(e.contains("f.mm:1:1:") && e.contains("array"), "{e}");
    let e = read_error(
        &dir,
        "g.mm",
        "%%MatrixMarket matrix coordinate real general\n2 2 1\n1 x 1.0\n",
        None,
        &ReadOptions::default(),
    );
    assert!(e.contains("g.mm:3:3:"), "{e}");
    let svm = ReadOptions { format: Some("libsvm".into()), ..Default::default() };
    let e = read_error(&dir, "h.libsvm", "1.0,1:2.0\n0.0,3-4\n", None, &svm);
    assert!(e.contains("h.libsvm:2:5:") && e.contains("3-4"), "{e}");
    let e =
        read_error(&dir, "i.csv", "1\n", Some("{\"format\": \"csv\", \"colz\": 3}"), &ReadOptions::default());
    assert!(e.contains("i.csv.mtd") && e.contains("\"colz\"") && e.contains("unknown"), "{e}");
    let e = read_error(
        &dir,
        "j.csv",
        "1\n",
        Some("{\"format\": \"csv\",\n \"rows\": }"),
        &ReadOptions::default(),
    );
    assert!(e.contains("j.csv.mtd:2:"), "{e}");
    let e = read_error(
        &dir,
        "k.csv",
        "1\n",
        Some("{\"format\": \"csv\", \"rows\": \"many\"}"),
        &ReadOptions::default(),
    );
    assert!(e.contains("k.csv.mtd") && e.contains("\"rows\""), "{e}");
    let e = read_error(
        &dir,
        "l.bin",
        "1\n",
        None,
        &ReadOptions { format: Some("binary".into()), ..Default::default() },
    );
    assert!(e.contains("l.bin") && e.contains("not a binary"), "{e}");
    let f = dir.join("m.txt");
    std::fs::write(&f, [b'1', b' ', b'1', b' ', 0xff, b'\n']).unwrap();
    let e = io::read_matrix(&f, &ReadOptions::default()).unwrap_err().to_string();
    assert!(e.contains("m.txt:1:5:") && e.contains("UTF-8"), "{e}");
    let e = io::read_scalar(&data("a.csv"), None).unwrap_err().to_string();
    assert!(e.contains("data_type"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn writes_are_atomic() {
    let dir = scratch("atomic");
    // The destination's folders do not exist: they are created, as SystemDS 3.4.0 creates them
    // (checked with `sysds`: write(X, "/tmp/new/a/b/x.csv") makes a/ and b/).
    let missing = dir.join("gone").join("deeper").join("x.csv");
    io::write_matrix(&x(), &missing, &WriteOptions::default()).unwrap();
    assert!(missing.exists());
    // A folder in the way of the destination's parent: an error, and nothing is created.
    let file_parent = dir.join("plain_file");
    std::fs::write(&file_parent, "x").unwrap();
    let e = io::write_matrix(&x(), &file_parent.join("x.csv"), &WriteOptions::default()).unwrap_err();
    assert!(matches!(e, IoError::Os { .. }), "{e}");
    // The destination is a directory: rejected, no temporary file is left behind.
    let blocker = dir.join("taken.csv");
    std::fs::create_dir(&blocker).unwrap();
    assert!(io::write_matrix(&x(), &blocker, &WriteOptions::default()).is_err());
    // The .mtd beside it cannot be written (a directory is in the way): the data file was
    // replaced whole, and no temporary files remain.
    let out = dir.join("ok.txt");
    std::fs::create_dir(io::mtd_path(&out)).unwrap();
    assert!(io::write_matrix(&x(), &out, &WriteOptions::default()).is_err());
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    // Overwriting an existing file replaces it whole.
    let f = dir.join("over.txt");
    std::fs::write(&f, "garbage that is longer than the new content ........................").unwrap();
    io::write_matrix(&Matrix::from_vec(1, 1, vec![2.0]), &f, &WriteOptions::default()).unwrap();
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "1 1 2.0\n");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn mtd_parse_and_print() {
    let p = Path::new("x.mtd");
    let m = Mtd::parse(p, "{\"data_type\": \"matrix\", \"rows\": -1, \"cols\": 4, \"nnz\": 3, \"format\": \"csv\", \"header\": true, \"sep\": \"\\t\", \"naStrings\": [\"NA\"], \"default\": 2.5}").unwrap();
    assert_eq!((m.rows, m.cols, m.nnz, m.header), (None, Some(4), Some(3), Some(true)));
    assert_eq!(
        (m.sep.as_deref(), m.na_strings.clone(), m.default_value),
        (Some("\t"), vec!["NA".to_string()], Some(2.5))
    );
    let text = Mtd {
        rows: Some(2),
        cols: Some(3),
        nnz: Some(1),
        author: Some("me".into()),
        created: Some("then".into()),
        ..Mtd::default()
    }
    .to_json();
    assert_eq!(
        text,
        "{\n    \"data_type\": \"matrix\",\n    \"value_type\": \"double\",\n    \"rows\": 2,\n    \"cols\": 3,\n    \"nnz\": 1,\n    \"format\": \"text\",\n    \"author\": \"me\",\n    \"created\": \"then\"\n}"
    );
    assert_eq!(Mtd::parse(p, &text).unwrap().rows, Some(2));
}

/// Writes samples for checking by hand that sysds reads our files:
/// `DML_IO_SAMPLES=/tmp/x cargo test --release --test io_files -- --ignored`.
#[test]
#[ignore]
fn write_samples_for_sysds() {
    let Ok(dir) = std::env::var("DML_IO_SAMPLES") else { return };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    for fmt in ["text", "csv", "mm", "libsvm"] {
        let opts = WriteOptions { format: fmt.into(), ..Default::default() };
        io::write_matrix(&x(), &dir.join(format!("x.{fmt}")), &opts).unwrap();
    }
    let opts =
        WriteOptions { format: "csv".into(), header: true, sep: ";".into(), sparse: true, description: None };
    io::write_matrix(&s(), &dir.join("s.csv"), &opts).unwrap();
    io::write_scalar(&ScalarValue::Double(0.1 + 0.2), &dir.join("sc.txt"), None).unwrap();
}

/// `write(X, f, format="csv")` from a script writes a zero as `0`, byte for byte as SystemDS 3.4.0
/// does for this call (a.csv is its output); only `sparse=TRUE` leaves zero cells empty (checked
/// with sysds: `1.0,,3.0`).
#[test]
fn write_builtin_csv_writes_zeros_unless_sparse() {
    use dml::driver::{Explain, RunConfig, run_script};
    let dir = scratch("write-builtin-csv");
    let (dense, sparse) = (dir.join("a.csv"), dir.join("s.csv"));
    let src = format!(
        "X = matrix(\"1 0 3 0 0 0 -2.5 4 1e-20\", rows=3, cols=3)\nwrite(X, \"{}\", format=\"csv\")\n\
         write(X, \"{}\", format=\"csv\", sparse=TRUE)\n",
        dense.display(),
        sparse.display()
    );
    let out = dml::runtime::output::Output::buffer();
    let cfg = RunConfig { explain: Explain::None, stats: false };
    let mut map = dml::diagnostics::SourceMap::new();
    run_script(&mut map, "w.dml", &src, &Default::default(), &cfg, &out).expect("runs");
    let text = |p: &Path| std::fs::read_to_string(p).unwrap();
    assert_eq!(text(&dense), text(&data("a.csv")));
    assert_eq!(text(&sparse), "1.0,,3.0\n,,\n-2.5,4.0,1.0E-20\n");
}
