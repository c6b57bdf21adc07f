//! `map(F, "x -> expr")`: SystemDS compiles the Java lambda; this is a small interpreter for
//! the common Java `String` forms (`x.toUpperCase()`, `x.substring(0, 3)`, `x.split(",")[1]`,
//! concatenation with `+`, ...). Anything else is a clear "unsupported lambda" error.

use super::ops::raw_cell;
use crate::runtime::builtins::Args;
use crate::runtime::error::{RtError, RtResult};
use crate::types::frame::{Frame, FrameColumn};
use crate::types::value::Value;
use std::sync::Arc;

mod parse;
use parse::{Expr, compile};

#[derive(Clone, Debug)]
enum Val {
    Str(String),
    Int(i64),
    /// A Java `double` (printed as `Double.toString` does).
    Double(f64),
    Bool(bool),
    Arr(Vec<String>),
}

impl Val {
    fn text(&self) -> String {
        match self {
            Val::Str(s) => s.clone(),
            Val::Int(i) => i.to_string(),
            Val::Double(d) => crate::kernels::format::format_double(*d),
            Val::Bool(b) => b.to_string(),
            Val::Arr(a) => format!("{a:?}"),
        }
    }
}

fn as_int(v: &Val) -> Result<i64, String> {
    match v {
        Val::Int(i) => Ok(*i),
        _ => Err("expected an integer argument".into()),
    }
}

fn truth(v: &Val) -> Result<bool, String> {
    match v {
        Val::Bool(b) => Ok(*b),
        _ => Err("expected a boolean".into()),
    }
}

/// A Java regular expression in the syntax of the `regex` crate (POSIX-like `\p{Alnum}`
/// classes become `[[:alnum:]]`).
fn java_regex(re: &str) -> Result<regex::Regex, String> {
    let mut r = re.to_string();
    for (java, posix) in [
        ("\\p{Alnum}", "[[:alnum:]]"),
        ("\\p{Alpha}", "[[:alpha:]]"),
        ("\\p{Digit}", "[[:digit:]]"),
        ("\\p{Punct}", "[[:punct:]]"),
        ("\\p{Lower}", "[[:lower:]]"),
        ("\\p{Upper}", "[[:upper:]]"),
        ("\\p{Space}", "[[:space:]]"),
    ] {
        r = r.replace(java, posix);
    }
    regex::Regex::new(&r).map_err(|e| format!("regular expression \"{re}\": {e}"))
}

fn as_str(v: &Val) -> Result<String, String> {
    match v {
        Val::Str(s) => Ok(s.clone()),
        _ => Err("expected a string argument".into()),
    }
}

/// Java's `String.split(regex)`, dropping trailing empty strings as Java does.
fn java_split(s: &str, sep: &str) -> Result<Vec<String>, String> {
    let mut parts: Vec<String> = if sep.is_empty() {
        s.chars().map(|c| c.to_string()).collect()
    } else {
        java_regex(sep)?.split(s).map(str::to_string).collect()
    };
    while parts.len() > 1 && parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    Ok(parts)
}

fn chars_range(s: &str, a: i64, b: i64) -> Result<String, String> {
    let cs: Vec<char> = s.chars().collect();
    if a < 0 || b < a || b as usize > cs.len() {
        return Err(format!("substring({a}, {b}) out of range for \"{s}\""));
    }
    Ok(cs[a as usize..b as usize].iter().collect())
}

fn eval(e: &Expr, x: &[Val]) -> Result<Val, String> {
    Ok(match e {
        Expr::Var(i) => x.get(*i).cloned().ok_or("the lambda has fewer parameters than it uses")?,
        Expr::Array(items) => {
            Val::Arr(items.iter().map(|e| eval(e, x).map(|v| v.text())).collect::<Result<_, _>>()?)
        }
        Expr::Str(s) => Val::Str(s.clone()),
        Expr::Int(i) => Val::Int(*i),
        Expr::Concat(a, b) => {
            let (a, b) = (eval(a, x)?, eval(b, x)?);
            match (&a, &b) {
                (Val::Int(p), Val::Int(q)) => Val::Int(p.checked_add(*q).ok_or("integer overflow in +")?),
                _ => Val::Str(a.text() + &b.text()),
            }
        }
        Expr::Not(a) => Val::Bool(!truth(&eval(a, x)?)?),
        Expr::And(a, b) => {
            let (a, b) = (truth(&eval(a, x)?)?, truth(&eval(b, x)?)?);
            Val::Bool(a && b)
        }
        Expr::Or(a, b) => {
            let (a, b) = (truth(&eval(a, x)?)?, truth(&eval(b, x)?)?);
            Val::Bool(a || b)
        }
        Expr::Eq(a, b, want) => {
            let (a, b) = (eval(a, x)?, eval(b, x)?);
            let same = match (&a, &b) {
                (Val::Int(p), Val::Int(q)) => p == q,
                (Val::Bool(p), Val::Bool(q)) => p == q,
                _ => return Err("== compares numbers or booleans only (use equals for strings)".into()),
            };
            Val::Bool(same == *want)
        }
        Expr::Cond(c, a, b) => {
            if truth(&eval(c, x)?)? {
                eval(a, x)?
            } else {
                eval(b, x)?
            }
        }
        Expr::Static(class, m, args) => {
            let args: Vec<Val> = args.iter().map(|a| eval(a, x)).collect::<Result<_, _>>()?;
            match (class.as_str(), m.as_str(), args.as_slice()) {
                ("UtilFunctions", "splitRecodeEntry", [a]) => {
                    let s = as_str(a)?;
                    match s.rsplit_once('\u{b7}') {
                        Some((tok, code)) => Val::Arr(vec![tok.to_string(), code.to_string()]),
                        None => Val::Arr(vec![s]),
                    }
                }
                ("Integer" | "Long", "valueOf" | "parseInt" | "parseLong", [a]) => match a {
                    Val::Int(i) => Val::Int(*i),
                    other => {
                        let t = other.text();
                        Val::Int(t.trim().parse().map_err(|_| format!("\"{t}\" is not an integer"))?)
                    }
                },
                ("Double", "valueOf" | "parseDouble", [a]) => {
                    let t = a.text();
                    let d = crate::runtime::io::parse_java_double(&t)
                        .ok_or_else(|| format!("\"{t}\" is not a number"))?;
                    Val::Str(crate::kernels::format::format_double(d))
                }
                ("String", "valueOf", [a]) => Val::Str(a.text()),
                ("UtilFunctions", "toStringArray", [a @ Val::Arr(_)]) => a.clone(),
                // The character code at a 1-based position, 0 outside the string.
                ("UtilFunctions", "getAsciiAtIdx", [s, i]) => {
                    let (s, i) = (as_str(s)?, as_int(i)?);
                    let units: Vec<u16> = s.encode_utf16().collect();
                    Val::Int(if i >= 1 && (i as usize) <= units.len() {
                        units[i as usize - 1] as i64
                    } else {
                        0
                    })
                }
                ("PorterStemmer", "stem", [w]) => {
                    Val::Str(crate::runtime::builtins::frame::java::porter_stemmer::stem(&as_str(w)?))
                }
                ("UtilFunctions", "getWordErrorRate", [a, b]) => {
                    Val::Double(crate::runtime::builtins::frame::java::word_error_rate::word_error_rate(
                        &as_str(a)?,
                        &as_str(b)?,
                    ))
                }
                ("UtilFunctions", "jaccardSim", [a, b]) => {
                    Val::Double(jaccard_chars(&as_str(a)?, &as_str(b)?))
                }
                ("Boolean", "parseBoolean" | "valueOf", [a]) => {
                    Val::Bool(a.text().eq_ignore_ascii_case("true"))
                }
                _ => return Err(format!("{class}.{m} with {} arguments is not supported", args.len())),
            }
        }
        Expr::Index(a, i) => {
            let a = eval(a, x)?;
            let i = as_int(&eval(i, x)?)?;
            match a {
                Val::Arr(v) => Val::Str(
                    v.get(i as usize)
                        .cloned()
                        .ok_or_else(|| format!("index {i} out of bounds for length {}", v.len()))?,
                ),
                _ => return Err("only arrays (split results) can be indexed".into()),
            }
        }
        Expr::Method(recv, m, args) => {
            let r = eval(recv, x)?;
            let args: Vec<Val> = args.iter().map(|a| eval(a, x)).collect::<Result<_, _>>()?;
            let s = match &r {
                Val::Str(s) => s.clone(),
                other => return Err(format!("method {m} on a non-string value {}", other.text())),
            };
            let n = args.len();
            match (m.as_str(), n) {
                ("toUpperCase", 0) => Val::Str(s.to_uppercase()),
                ("toLowerCase", 0) => Val::Str(s.to_lowercase()),
                ("trim" | "strip", 0) => Val::Str(s.trim().to_string()),
                ("length", 0) => Val::Int(s.chars().count() as i64),
                ("isEmpty", 0) => Val::Bool(s.is_empty()),
                ("substring", 1) => {
                    let a = as_int(&args[0])?;
                    Val::Str(chars_range(&s, a, s.chars().count() as i64)?)
                }
                ("substring", 2) => Val::Str(chars_range(&s, as_int(&args[0])?, as_int(&args[1])?)?),
                ("charAt", 1) => {
                    let i = as_int(&args[0])?;
                    Val::Str(chars_range(&s, i, i + 1)?)
                }
                ("replace", 2) => Val::Str(s.replace(&as_str(&args[0])?, &as_str(&args[1])?)),
                ("concat", 1) => Val::Str(s + &as_str(&args[0])?),
                ("split", 1) => Val::Arr(java_split(&s, &as_str(&args[0])?)?),
                ("startsWith", 1) => Val::Bool(s.starts_with(&as_str(&args[0])?)),
                ("endsWith", 1) => Val::Bool(s.ends_with(&as_str(&args[0])?)),
                ("contains", 1) => Val::Bool(s.contains(&as_str(&args[0])?)),
                ("equals", 1) => Val::Bool(s == as_str(&args[0])?),
                ("equalsIgnoreCase", 1) => Val::Bool(s.to_lowercase() == as_str(&args[0])?.to_lowercase()),
                ("replaceAll", 2) => Val::Str(
                    java_regex(&as_str(&args[0])?)?.replace_all(&s, as_str(&args[1])?.as_str()).into_owned(),
                ),
                ("replaceFirst", 2) => Val::Str(
                    java_regex(&as_str(&args[0])?)?.replace(&s, as_str(&args[1])?.as_str()).into_owned(),
                ),
                ("matches", 1) => {
                    let re = java_regex(&format!("^(?:{})$", as_str(&args[0])?))?;
                    Val::Bool(re.is_match(&s))
                }
                ("indexOf", 1) => {
                    let p = as_str(&args[0])?;
                    Val::Int(s.find(&p).map_or(-1, |b| s[..b].chars().count() as i64))
                }
                _ => return Err(format!("the method {m} with {n} arguments is not supported")),
            }
        }
    })
}

/// SystemDS's `UtilFunctions.jaccardSim`: the Jaccard similarity of the two strings' sets of
/// characters (UTF-16 code units, case-sensitive).
fn jaccard_chars(a: &str, b: &str) -> f64 {
    use std::collections::HashSet;
    // Java splits "" into one empty string: a set of one element.
    let set = |s: &str| -> HashSet<u32> {
        if s.is_empty() { HashSet::from([u32::MAX]) } else { s.encode_utf16().map(u32::from).collect() }
    };
    let (sa, sb) = (set(a), set(b));
    let common = sa.intersection(&sb).count();
    1.0 / (sa.len() + sb.len() - common) as f64 * common as f64
}

/// `map(F, lambda[, margin])`. `margin=0` (the default) applies `x -> expr` to every non-null
/// cell; `margin=1` passes each row as a `String[]` (a null cell as `"null"`) and takes back an
/// array per row; `margin=2` does the same per column. A two-parameter lambda calling
/// `jaccardSim` gives SystemDS's pairwise form: an n x n frame whose cell (i, j), j > i, is
/// the lambda of rows i and j of the first column, and `"0.0"` elsewhere. The result is a frame
/// of strings.
pub fn map_builtin(a: Args) -> RtResult<Vec<Value>> {
    let f = a.frame("target")?;
    let src = a.text("lambda")?;
    let margin = match a.get("margin")? {
        None => 0,
        Some(m) => match m.as_f64() {
            Some(v) if v == 0.0 || v == 1.0 || v == 2.0 => v as i64,
            _ => return Err(RtError::new("map: margin must be 0 (cells), 1 (rows) or 2 (columns)")),
        },
    };
    Ok(vec![map_frame(f, &src, margin)?])
}

/// `map` of the lambda (or Java helper) `src` over the cells, rows or columns of `f`.
fn map_frame(f: &Frame, src: &str, margin: i64) -> RtResult<Value> {
    let unsupported = |msg: String| RtError::new(format!("unsupported lambda \"{src}\": {msg}"));
    if !src.contains("->") {
        return call_frame_helper(f, src).map_err(unsupported);
    }
    let (vars, e) = compile(src).map_err(unsupported)?;
    let run = |x: &[Val]| eval(&e, x).map_err(|m| RtError::new(format!("map \"{src}\": {m}")));
    let (rows, cols) = (f.rows(), f.cols());
    let mut out: Vec<Vec<Option<String>>> = vec![vec![None; rows]; cols];
    if vars.len() == 2 {
        if margin != 0 || !src.contains("jaccardSim") {
            return Err(unsupported(
                "two-parameter lambdas are supported for jaccardSim distances only".into(),
            ));
        }
        let first: Vec<Option<String>> = (0..rows).map(|r| raw_cell(f, r, 0)).collect();
        let mut dist = vec![vec![Some("0.0".to_string()); rows]; rows];
        for j in 0..rows {
            for i in j + 1..rows {
                if let (Some(a), Some(b)) = (&first[j], &first[i]) {
                    dist[i][j] = Some(run(&[Val::Str(a.clone()), Val::Str(b.clone())])?.text());
                }
            }
        }
        return Ok(Value::Frame(Arc::new(Frame::new(dist.into_iter().map(FrameColumn::Str).collect()))));
    }
    let as_array = |v: Val| match v {
        Val::Arr(a) => Ok(a),
        other => Err(RtError::new(format!(
            "map \"{src}\": a lambda with margin={margin} must return an array, but gave {}",
            other.text()
        ))),
    };
    let java_text = |c: Option<String>| c.unwrap_or_else(|| "null".to_string());
    match margin {
        1 => {
            for r in 0..rows {
                let row = (0..cols).map(|c| java_text(raw_cell(f, r, c))).collect();
                let got = as_array(run(&[Val::Arr(row)])?)?;
                for (col, v) in out.iter_mut().zip(got) {
                    col[r] = Some(v);
                }
            }
        }
        2 => {
            for (c, col) in out.iter_mut().enumerate() {
                let column = (0..rows).map(|r| java_text(raw_cell(f, r, c))).collect();
                let got = as_array(run(&[Val::Arr(column)])?)?;
                for (r, v) in got.into_iter().take(rows).enumerate() {
                    col[r] = Some(v);
                }
            }
        }
        _ => {
            for (c, col) in out.iter_mut().enumerate() {
                for (r, cell) in col.iter_mut().enumerate() {
                    if let Some(s) = raw_cell(f, r, c) {
                        *cell = Some(run(&[Val::Str(s)])?.text());
                    }
                }
            }
        }
    }
    Ok(Value::Frame(Arc::new(Frame {
        names: f.names.clone(),
        columns: out.into_iter().map(FrameColumn::Str).collect(),
        narrow: vec![],
        impute: vec![],
    })))
}

/// `map(F, "UtilFunctions.syntacticalPatternDiscovery(THRESHOLD,VALUE)")`: not a lambda but a
/// whole-frame helper (the `dmv` builtin); the arguments are the text between the parentheses.
fn call_frame_helper(f: &Frame, src: &str) -> Result<Value, String> {
    let (Some(open), Some(close)) = (src.find('('), src.find(')')) else {
        return Err("expected `x -> expression`".into());
    };
    let args = &src[open + 1..close.max(open + 1)];
    if !src.contains("syntacticalPatternDiscovery") {
        return Err("expected `x -> expression` (of the Java helpers without a lambda, only \
             UtilFunctions.syntacticalPatternDiscovery is supported)"
            .into());
    }
    let Some((threshold, disguised)) = args.split_once(',') else {
        return Err("syntacticalPatternDiscovery takes a threshold and a replacement value".into());
    };
    let threshold: f64 =
        threshold.trim().parse().map_err(|_| format!("the threshold \"{threshold}\" is not a number"))?;
    let columns: Vec<Vec<Option<String>>> =
        (0..f.cols()).map(|c| (0..f.rows()).map(|r| raw_cell(f, r, c)).collect()).collect();
    let out = crate::runtime::builtins::frame::java::dmv::syntactical_pattern_discovery(
        &columns, threshold, disguised,
    );
    Ok(Value::Frame(Arc::new(Frame {
        names: f.names.clone(),
        columns: out.into_iter().map(FrameColumn::Str).collect(),
        narrow: vec![],
        impute: vec![],
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str, x: &str) -> Result<String, String> {
        let (_, e) = compile(src)?;
        eval(&e, &[Val::Str(x.to_string())]).map(|v| v.text())
    }

    #[test]
    fn string_lambdas() {
        assert_eq!(run("x -> x.toUpperCase()", "abc").unwrap(), "ABC");
        assert_eq!(run("x -> x.substring(1, 3)", "abcd").unwrap(), "bc");
        assert_eq!(run("x -> x.split(\",\")[1]", "a,b,c").unwrap(), "b");
        assert_eq!(run("x -> x + \"!\" + x.length()", "ab").unwrap(), "ab!2");
        assert_eq!(run("x -> x.charAt(0)", "xyz").unwrap(), "x");
        assert_eq!(run("x -> x.trim().replace(\"a\", \"b\")", " aa ").unwrap(), "bb");
        assert!(run("x -> Math.abs(x)", "1").is_err());
        assert_eq!(run("s -> s.equals(\"a\") ? \"A!\" : s", "a").unwrap(), "A!");
        assert_eq!(run("x -> (!x.equals(\"a\") & !x.equals(\"b\"))", "c").unwrap(), "true");
        assert_eq!(run("x -> x.replaceAll(\"[^\\\\p{Alnum}]+\", \" \")", "a, b!").unwrap(), "a b ");
        assert_eq!(
            run("s -> Integer.valueOf(UtilFunctions.splitRecodeEntry(s)[1])", "x\u{b7}12").unwrap(),
            "12"
        );
        assert!(run("x -> x.substring(5)", "ab").is_err());
    }
}
