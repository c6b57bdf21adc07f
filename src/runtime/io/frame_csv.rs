//! Frames in files: CSV (optionally with a header of column names) and text (`i j value`
//! cells), with the `.mtd` metadata SystemDS writes (`"data_type": "frame"` and a `schema`).

use std::io::Write;
use std::path::Path;

use super::source::{Part, numbered_lines, read_parts};
use super::{IoError, Mtd, atomic, merge, mtd_path, sidecar};
use crate::runtime::builtins::frame::ops::{CellValue, ColBuilder, parse_typed, raw_cell};
use crate::types::frame::{ColType, Frame};

/// Arguments of `read(..., data_type="frame")`; unset ones come from the `.mtd` file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameReadOptions {
    pub format: Option<String>,
    pub header: Option<bool>,
    pub sep: Option<String>,
    pub na_strings: Vec<String>,
    /// Comma-separated value types (`STRING,FP64,...`); `*` or a missing entry means STRING.
    pub schema: Option<String>,
    pub rows: Option<usize>,
    pub cols: Option<usize>,
}

/// Whether the `.mtd` beside `path` says the file holds a frame.
pub fn is_frame_file(path: &Path) -> bool {
    matches!(sidecar(path), Ok(Some(m)) if m.data_type == "frame")
}

/// Parses a schema string; `cols` entries (missing or `*` entries are STRING).
fn parse_schema(path: &Path, schema: Option<&str>, cols: usize) -> Result<Vec<ColType>, IoError> {
    let mut out = vec![ColType::String; cols];
    if let Some(s) = schema {
        let items: Vec<&str> = s.split(',').collect();
        // SystemDS writes a trailing comma; an empty last entry is no column.
        let items: Vec<&str> = match items.last() {
            Some(l) if l.trim().is_empty() => items[..items.len() - 1].to_vec(),
            _ => items,
        };
        if items.len() > 1 && items.len() != cols {
            return Err(IoError::meta(
                path,
                "schema",
                format!("the schema has {} entries but the frame has {cols} columns", items.len()),
            ));
        }
        for (c, slot) in out.iter_mut().enumerate() {
            let it = if items.len() == 1 { items[0] } else { items[c] };
            let it = it.trim();
            if it == "*" || it.is_empty() {
                continue;
            }
            *slot = ColType::parse(it)
                .ok_or_else(|| IoError::meta(path, "schema", format!("unknown value type \"{it}\"")))?;
        }
    }
    Ok(out)
}

/// Splits a CSV line at `sep` outside double quotes; fields keep their quotes, as SystemDS's
/// frame reader does. Returns each field with its 1-based character column.
fn split_fields<'a>(line: &'a str, sep: &str) -> Vec<(usize, &'a str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut skip_to = 0;
    for (i, ch) in line.char_indices() {
        if i < skip_to {
            continue;
        }
        if ch == '"' {
            in_quotes = !in_quotes;
        } else if !in_quotes && line[i..].starts_with(sep) {
            out.push((start, &line[start..i]));
            skip_to = i + sep.len();
            start = skip_to;
        }
    }
    out.push((start, &line[start..]));
    out.into_iter().map(|(s, f)| (line[..s].chars().count() + 1, f)).collect()
}

/// Reads a frame (CSV or text) with its schema from the arguments or the `.mtd` file.
pub fn read_frame(path: &Path, opts: &FrameReadOptions) -> Result<Frame, IoError> {
    let meta = sidecar(path)?;
    if let Some(m) = &meta
        && m.data_type != "frame"
    {
        return Err(IoError::meta(
            &mtd_path(path),
            "data_type",
            format!("expected a frame, found {}", m.data_type),
        ));
    }
    let empty = Mtd { data_type: "frame".into(), format: "csv".into(), ..Mtd::default() };
    let m = meta.as_ref().unwrap_or(&empty);
    let format = match &opts.format {
        Some(f) => f.to_ascii_lowercase(),
        None => m.format.clone(),
    };
    let schema = opts.schema.clone().or_else(|| m.schema.clone());
    let rows = merge(path, "rows", opts.rows, m.rows)?;
    let cols = merge(path, "cols", opts.cols, m.cols)?;
    let frame = if format == "binary" {
        // The binary format carries its own schema and names.
        super::frame_binary::read_frame_binary(path)
            .map(super::frame_binary::to_frame)
            .map_err(IoError::Located)?
    } else {
        read_text_frame(path, opts, m, &format, schema.as_deref(), rows, cols)?
    };
    if rows.is_some_and(|x| x != frame.rows()) || cols.is_some_and(|x| x != frame.cols()) {
        return Err(IoError::invalid(
            path,
            format!(
                "the file holds a {}x{} frame but its metadata or read arguments say {}x{}",
                frame.rows(),
                frame.cols(),
                rows.map_or("?".into(), |x| x.to_string()),
                cols.map_or("?".into(), |x| x.to_string())
            ),
        ));
    }
    Ok(frame)
}

/// Reads the csv or text cells of a frame (one file or a directory of parts).
fn read_text_frame(
    path: &Path,
    opts: &FrameReadOptions,
    m: &Mtd,
    format: &str,
    schema: Option<&str>,
    rows: Option<usize>,
    cols: Option<usize>,
) -> Result<Frame, IoError> {
    let parts = read_parts(path)?;
    if parts.is_empty() {
        return Err(IoError::invalid(path, "the directory holds no part files"));
    }
    Ok(match format {
        "csv" => {
            let sep = merge(path, "sep", opts.sep.clone(), m.sep.clone())?.unwrap_or_else(|| ",".into());
            if sep.is_empty() {
                return Err(IoError::meta(path, "sep", "the separator must not be empty"));
            }
            let header = merge(path, "header", opts.header, m.header)?.unwrap_or(false);
            let na = if opts.na_strings.is_empty() { m.na_strings.clone() } else { opts.na_strings.clone() };
            read_csv(&parts, path, &sep, header, &na, schema, cols)?
        }
        "text" => {
            let (Some(r), Some(c)) = (rows, cols) else {
                return Err(IoError::invalid(
                    path,
                    "a text frame needs its dimensions (rows and cols) from the .mtd file or read()",
                ));
            };
            read_text(&parts, path, r, c, schema)?
        }
        other => {
            return Err(IoError::meta(
                path,
                "format",
                format!("unsupported frame format \"{other}\" (expected csv, text or binary)"),
            ));
        }
    })
}

fn read_csv(
    parts: &[Part],
    path: &Path,
    sep: &str,
    header: bool,
    na: &[String],
    schema: Option<&str>,
    cols_hint: Option<usize>,
) -> Result<Frame, IoError> {
    let mut names: Option<Vec<String>> = None;
    let mut builders: Option<Vec<ColBuilder>> = None;
    let mut ncols = cols_hint;
    let mut impute: Vec<Option<String>> = Vec::new();
    for (pi, part) in parts.iter().enumerate() {
        let mut lines = numbered_lines(&part.text);
        if header && pi == 0 {
            for (_, line) in lines.by_ref() {
                if line.trim().is_empty() {
                    continue;
                }
                let n: Vec<String> =
                    split_fields(line, sep).into_iter().map(|(_, f)| f.to_string()).collect();
                ncols = Some(n.len());
                names = Some(n);
                break;
            }
        }
        for (ln, line) in lines {
            if line.is_empty() {
                continue;
            }
            // SystemDS writes a frame's column metadata as `#Meta·MV` (the values imputed for
            // missing cells) and `#Meta·ND` (distinct counts) lines; they are not data rows.
            if let Some(rest) = line.strip_prefix("#Meta\u{b7}MV") {
                let vals = split_fields(rest, sep).into_iter().skip(1);
                impute = vals.map(|(_, v)| (!v.is_empty() && v != "null").then(|| v.to_string())).collect();
                continue;
            }
            if line.starts_with("#Meta\u{b7}ND") {
                continue;
            }
            let fields = split_fields(line, sep);
            let b = match &mut builders {
                Some(b) => b,
                None => {
                    let n = ncols.unwrap_or(fields.len());
                    let types = parse_schema(path, schema, n)?;
                    builders.insert(types.into_iter().map(ColBuilder::new).collect())
                }
            };
            if fields.len() != b.len() {
                return Err(IoError::parse(
                    &part.path,
                    ln,
                    1,
                    format!("expected {} fields, found {}", b.len(), fields.len()),
                ));
            }
            for ((col, field), builder) in fields.into_iter().zip(b.iter_mut()) {
                if field.is_empty() || na.iter().any(|s| s == field) {
                    builder.push_null();
                    continue;
                }
                let v =
                    parse_typed(field, builder.ty).map_err(|msg| IoError::parse(&part.path, ln, col, msg))?;
                builder.push(v);
            }
        }
    }
    let builders = match builders {
        Some(b) => b,
        None => {
            let n = ncols.unwrap_or(0);
            parse_schema(path, schema, n)?.into_iter().map(ColBuilder::new).collect()
        }
    };
    let n = builders.len();
    let _ = n;
    let names = names.unwrap_or_default();
    let mut frame = Frame::from_typed(names, builders.into_iter().map(|b| (b.ty, b.col)).collect());
    if impute.iter().any(|v| v.is_some()) {
        impute.resize(frame.cols(), None);
        frame.impute = impute;
    }
    Ok(frame)
}

fn read_text(
    parts: &[Part],
    path: &Path,
    rows: usize,
    cols: usize,
    schema: Option<&str>,
) -> Result<Frame, IoError> {
    let types = parse_schema(path, schema, cols)?;
    let mut cells: Vec<Vec<Option<CellValue>>> = vec![vec![None; rows]; cols];
    for part in parts {
        for (ln, line) in numbered_lines(&part.text) {
            if line.trim().is_empty() {
                continue;
            }
            let mut it = line.splitn(3, ' ');
            let (Some(i), Some(j), Some(v)) = (it.next(), it.next(), it.next()) else {
                return Err(IoError::parse(&part.path, ln, 1, "expected `row col value`"));
            };
            let idx = |s: &str, n: usize, col: usize| -> Result<usize, IoError> {
                match s.trim().parse::<usize>() {
                    Ok(x) if x >= 1 && x <= n => Ok(x - 1),
                    _ => Err(IoError::parse(&part.path, ln, col, format!("index \"{s}\" is not in 1..{n}"))),
                }
            };
            let r = idx(i, rows, 1)?;
            let c = idx(j, cols, i.len() + 2)?;
            let vcol = line[..i.len() + j.len() + 2].chars().count() + 1;
            let val = parse_typed(v, types[c]).map_err(|msg| IoError::parse(&part.path, ln, vcol, msg))?;
            cells[c][r] = Some(val);
        }
    }
    let mut typed = Vec::with_capacity(cols);
    for (c, col) in cells.into_iter().enumerate() {
        let mut b = ColBuilder::new(types[c]);
        for v in col {
            match v {
                Some(v) => b.push(v),
                None => b.push_null(),
            }
        }
        typed.push((b.ty, b.col));
    }
    Ok(Frame::from_typed(vec![], typed))
}

/// Writes a frame as CSV or text, and its `.mtd`, both atomically.
pub fn write_frame(
    f: &Frame,
    path: &Path,
    format: &str,
    header: bool,
    sep: &str,
    description: Option<String>,
) -> Result<(), IoError> {
    let format = format.to_ascii_lowercase();
    match format.as_str() {
        "csv" => atomic::write_atomic_with(path, |w| write_csv(f, w, header, sep))?,
        "text" => atomic::write_atomic_with(path, |w| write_text(f, w))?,
        "binary" => atomic::write_atomic_with(path, |w| {
            super::frame_binary::write_frame_binary(&super::frame_binary::from_frame(f), w)
        })?,
        other => {
            return Err(IoError::meta(
                path,
                "format",
                format!("unsupported frame format \"{other}\" (expected csv, text or binary)"),
            ));
        }
    }
    let schema: String = f.schema().iter().map(|t| format!("{},", t.name())).collect();
    let meta = Mtd {
        data_type: "frame".into(),
        schema: Some(schema),
        rows: Some(f.rows()),
        cols: Some(f.cols()),
        format: format.clone(),
        description,
        header: (format == "csv").then_some(header),
        sep: (format == "csv").then(|| sep.to_string()),
        ..Mtd::default()
    };
    meta.write_beside(path)
}

fn write_csv(f: &Frame, w: &mut dyn Write, header: bool, sep: &str) -> std::io::Result<()> {
    if header {
        let names: Vec<String> = (0..f.cols()).map(|c| f.name(c)).collect();
        writeln!(w, "{}", names.join(sep))?;
    }
    let mut line = String::new();
    for r in 0..f.rows() {
        line.clear();
        for c in 0..f.cols() {
            if c > 0 {
                line.push_str(sep);
            }
            if let Some(s) = raw_cell(f, r, c) {
                line.push_str(&s);
            }
        }
        line.push('\n');
        w.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// Text cells `i j value`, skipping nulls, zeros and false as SystemDS does.
fn write_text(f: &Frame, w: &mut dyn Write) -> std::io::Result<()> {
    use crate::types::frame::FrameColumn;
    for r in 0..f.rows() {
        for c in 0..f.cols() {
            let skip = match &f.columns[c] {
                FrameColumn::Double(v) => v[r] == 0.0,
                FrameColumn::Int(v) => v[r] == 0,
                FrameColumn::Bool(v) => !v[r],
                FrameColumn::Str(v) => v[r].is_none(),
            };
            if skip {
                continue;
            }
            if let Some(s) = raw_cell(f, r, c) {
                writeln!(w, "{} {} {}", r + 1, c + 1, s)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("dml-frame-csv-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn malformed_typed_cell_names_file_line_and_column() {
        let p = tmp("bad.csv", "a,b\nx,1\nyy,zz\n");
        let opts = FrameReadOptions {
            header: Some(true),
            schema: Some("STRING,INT64".into()),
            ..Default::default()
        };
        let e = read_frame(&p, &opts).unwrap_err().to_string();
        assert!(e.contains("bad.csv:3:4:"), "{e}");
        assert!(e.contains("\"zz\""), "{e}");
    }

    #[test]
    fn wrong_field_count_is_an_error() {
        let p = tmp("short.csv", "1,2\n3\n");
        let e = read_frame(&p, &FrameReadOptions::default()).unwrap_err().to_string();
        assert!(e.contains("short.csv:2:1:"), "{e}");
    }

    #[test]
    fn bad_boolean_and_double() {
        let p = tmp("b.csv", "true,1.5\nmaybe,2\n");
        let opts = FrameReadOptions { schema: Some("BOOLEAN,FP64".into()), ..Default::default() };
        let e = read_frame(&p, &opts).unwrap_err().to_string();
        assert!(e.contains("b.csv:2:1:"), "{e}");
        let p = tmp("d.csv", "true,1.5\nfalse,x2\n");
        let e = read_frame(&p, &opts).unwrap_err().to_string();
        assert!(e.contains("d.csv:2:7:"), "{e}");
    }

    #[test]
    fn quoted_fields_keep_separators() {
        let p = tmp("q.csv", "\"a,b\",3\n");
        let f = read_frame(&p, &FrameReadOptions::default()).unwrap();
        assert_eq!(f.cols(), 2);
        assert_eq!(raw_cell(&f, 0, 0).as_deref(), Some("\"a,b\""));
    }

    #[test]
    fn multibyte_cells() {
        let p = tmp("m.csv", "A\u{b7}2,\u{e9}t\u{e9}\nB\u{b7}1,x\n");
        let f = read_frame(&p, &FrameReadOptions::default()).unwrap();
        assert_eq!(raw_cell(&f, 0, 0).as_deref(), Some("A\u{b7}2"));
        assert_eq!(raw_cell(&f, 0, 1).as_deref(), Some("\u{e9}t\u{e9}"));
        let p = tmp("m2.csv", "\u{e9}\u{b7}\u{e9}x\u{b7}\u{b7}y\n");
        let opts = FrameReadOptions { sep: Some("\u{b7}\u{b7}".into()), ..Default::default() };
        let f = read_frame(&p, &opts).unwrap();
        assert_eq!(f.cols(), 2);
        assert_eq!(raw_cell(&f, 0, 1).as_deref(), Some("y"));
    }

    #[test]
    fn text_cell_errors() {
        let p = tmp("t.txt", "1 1 x\n3 1 y\n");
        let opts = FrameReadOptions {
            format: Some("text".into()),
            rows: Some(2),
            cols: Some(1),
            ..Default::default()
        };
        let e = read_frame(&p, &opts).unwrap_err().to_string();
        assert!(e.contains("t.txt:2:1:"), "{e}");
    }
}
