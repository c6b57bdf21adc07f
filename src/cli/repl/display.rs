//! How the REPL shows the value of a bare expression, in the spirit of R's console: scalars and
//! strings exactly as `print` shows them; matrices and frames with a line giving their shape, then
//! their cells as `toString` writes them, only the first and last rows (and the first columns)
//! when they are large; lists element by element with their names.

use dml::kernels::format::{ToStringOpts, format_decimal};
use dml::runtime::builtins::frame::ops as frame_ops;
use dml::runtime::builtins::print_string;
use dml::types::matrix::Matrix;
use dml::types::value::{ListValue, Value};

/// How much of a large matrix or frame a preview shows.
#[derive(Clone, Copy, Debug)]
pub struct Preview {
    /// Values with at most this many rows are shown whole.
    pub max_rows: usize,
    /// Rows shown from the start and from the end of a larger value.
    pub head: usize,
    pub tail: usize,
    /// Columns shown; a wider value ends each row with `...`.
    pub max_cols: usize,
}

impl Preview {
    /// Everything (`:show`).
    pub const ALL: Preview = Preview { max_rows: usize::MAX, head: 0, tail: 0, max_cols: usize::MAX };
}

impl Default for Preview {
    fn default() -> Self {
        Preview { max_rows: 20, head: 6, tail: 3, max_cols: 12 }
    }
}

/// The text shown for `v`; `name` is the variable's name when the input was one (it goes into
/// the hint that says how to see a truncated value whole).
pub fn show(v: &Value, name: Option<&str>, preview: Preview) -> String {
    match v {
        Value::Matrix(m) => show_matrix(m, name, preview),
        Value::Frame(f) => show_frame(f, name, preview),
        Value::List(l) => show_list(l, preview),
        scalar => print_string(scalar).unwrap_or_default() + "\n",
    }
}

/// The rows a preview of `n` rows shows: all of them, or a head and a tail with the number
/// of rows left out between them.
fn shown_rows(n: usize, p: Preview) -> (std::ops::Range<usize>, Option<(usize, std::ops::Range<usize>)>) {
    if n <= p.max_rows { (0..n, None) } else { (0..p.head, Some((n - p.head - p.tail, n - p.tail..n))) }
}

fn truncation_hint(name: Option<&str>) -> String {
    match name {
        Some(n) => format!("(:show {n} prints it all)\n"),
        None => "(assign it to a variable and use :show NAME to print it all)\n".into(),
    }
}

fn show_matrix(m: &Matrix, name: Option<&str>, p: Preview) -> String {
    let (rows, cols) = (m.rows(), m.cols());
    let format = if m.is_sparse() { format!(", nnz={}, sparse", m.nnz()) } else { String::new() };
    let mut out = format!("matrix {rows}x{cols}{format}\n");
    let shown_cols = cols.min(p.max_cols);
    let row = |i: usize| -> String {
        let mut line: Vec<String> = (0..shown_cols).map(|j| format_decimal(m.get(i, j), 3)).collect();
        if shown_cols < cols {
            line.push("...".into());
        }
        line.join(" ") + "\n"
    };
    let (head, rest) = shown_rows(rows, p);
    for i in head {
        out.push_str(&row(i));
    }
    if let Some((skipped, tail)) = &rest {
        out.push_str(&format!("... {skipped} more rows ...\n"));
        for i in tail.clone() {
            out.push_str(&row(i));
        }
    }
    if rest.is_some() || shown_cols < cols {
        out.push_str(&truncation_hint(name));
    }
    out
}

fn show_frame(f: &dml::types::frame::Frame, name: Option<&str>, p: Preview) -> String {
    let (rows, cols) = (f.rows(), f.cols());
    let shown_cols = cols.min(p.max_cols);
    let opts = ToStringOpts { rows: usize::MAX, cols: shown_cols, ..ToStringOpts::default() };
    let mut out = format!("frame {rows}x{cols}\n");
    let (head, rest) = shown_rows(rows, p);
    // `toString` of a slice starts with its own `# FRAME` line (of the slice's size): drop it;
    // the names and types lines stay for the head and are dropped for the tail.
    let body = frame_ops::to_string(&frame_ops::slice(f, head, 0..cols), &opts);
    for line in body.lines().skip(1) {
        out.push_str(line);
        out.push_str(if shown_cols < cols && !line.starts_with('#') { " ...\n" } else { "\n" });
    }
    if let Some((skipped, tail)) = &rest {
        out.push_str(&format!("... {skipped} more rows ...\n"));
        let body = frame_ops::to_string(&frame_ops::slice(f, tail.clone(), 0..cols), &opts);
        for line in body.lines().skip(3) {
            out.push_str(line);
            out.push_str(if shown_cols < cols { " ...\n" } else { "\n" });
        }
    }
    if rest.is_some() || shown_cols < cols {
        out.push_str(&truncation_hint(name));
    }
    out
}

/// R's form: `$name` (or `[[i]]` for an unnamed element) above each element's own display.
fn show_list(l: &ListValue, p: Preview) -> String {
    if l.items.is_empty() {
        return "list()\n".into();
    }
    let mut out = String::new();
    for (i, item) in l.items.iter().enumerate() {
        match l.names.get(i) {
            Some(n) if !n.is_empty() => out.push_str(&format!("${n}\n")),
            _ => out.push_str(&format!("[[{}]]\n", i + 1)),
        }
        out.push_str(&show(item, None, p));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use std::sync::Arc;

    fn matrix(rows: usize, cols: usize) -> Value {
        let m = Array2::from_shape_fn((rows, cols), |(i, j)| (i * cols + j) as f64 + 0.5);
        Value::Matrix(Arc::new(Matrix::Dense(m)))
    }

    #[test]
    fn scalars_and_strings_show_as_print_does() {
        assert_eq!(show(&Value::Double(3.0), None, Preview::default()), "3.0\n");
        assert_eq!(show(&Value::Int(42), None, Preview::default()), "42\n");
        assert_eq!(show(&Value::Bool(true), None, Preview::default()), "TRUE\n");
        assert_eq!(show(&Value::str("a b".to_string()), None, Preview::default()), "a b\n");
    }

    #[test]
    fn a_small_matrix_shows_whole_as_to_string_does() {
        let v = matrix(2, 3);
        let Value::Matrix(m) = &v else { unreachable!() };
        let expected = dml::kernels::format::matrix_to_string(m, &ToStringOpts::default());
        assert_eq!(show(&v, Some("X"), Preview::default()), format!("matrix 2x3\n{expected}"));
    }

    #[test]
    fn a_large_matrix_shows_head_and_tail_rows_and_the_first_columns() {
        let text = show(&matrix(100, 30), Some("X"), Preview::default());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "matrix 100x30");
        // Row 1 (0-based 0) starts with 0.5; the last row's first cell is 99*30 + 0.5.
        assert!(lines[1].starts_with("0.500 1.500 "), "{text}");
        assert!(lines[1].ends_with(" ..."), "{text}");
        assert_eq!(lines[1].split(' ').count(), 13, "12 cells and the ellipsis: {text}");
        assert_eq!(lines[7], "... 91 more rows ...");
        assert!(lines[10].starts_with("2970.500 "), "{text}");
        assert_eq!(lines[11], "(:show X prints it all)");
        assert_eq!(lines.len(), 12);
        let all = show(&matrix(100, 30), Some("X"), Preview::ALL);
        assert_eq!(all.lines().count(), 101);
    }

    #[test]
    fn frames_show_names_and_types_then_head_and_tail_rows() {
        use dml::types::frame::{Frame, FrameColumn};
        let f = |rows: usize| {
            Value::Frame(Arc::new(Frame::new(vec![
                FrameColumn::Int((1..=rows as i64).collect()),
                FrameColumn::Str((1..=rows).map(|i| Some(format!("s{i}"))).collect()),
            ])))
        };
        let small = show(&f(2), Some("F"), Preview::default());
        let Value::Frame(two) = f(2) else { unreachable!() };
        // The same lines as toString, after our shape line instead of its `# FRAME` line.
        let to_string = frame_ops::to_string(&two, &ToStringOpts::default());
        assert_eq!(small, format!("frame 2x2\n{}", to_string.split_once('\n').unwrap().1));
        let large = show(&f(50), Some("F"), Preview::default());
        let lines: Vec<&str> = large.lines().collect();
        assert_eq!(lines[0], "frame 50x2");
        assert_eq!(lines[3], "1 s1", "{large}");
        assert_eq!(lines[9], "... 41 more rows ...", "{large}");
        assert_eq!(lines[12], "50 s50", "{large}");
        assert_eq!(lines[13], "(:show F prints it all)");
    }

    #[test]
    fn lists_show_their_names() {
        let l = ListValue {
            items: vec![Value::Int(1), Value::str("b".to_string())],
            names: vec!["a".into(), "s".into()],
        };
        assert_eq!(show(&Value::List(Arc::new(l)), None, Preview::default()), "$a\n1\n\n$s\nb\n\n");
        let unnamed = ListValue { items: vec![Value::Double(2.5)], names: vec![] };
        assert_eq!(show(&Value::List(Arc::new(unnamed)), None, Preview::default()), "[[1]]\n2.5\n\n");
    }
}
