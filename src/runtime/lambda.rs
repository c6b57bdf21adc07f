//! `map(F, "x -> expr")`: SystemDS compiles the Java lambda; this is a small interpreter for
//! the common Java `String` forms (`x.toUpperCase()`, `x.substring(0, 3)`, `x.split(",")[1]`,
//! concatenation with `+`, ...). Anything else is a clear "unsupported lambda" error.

use crate::runtime::exec::{RtError, RtResult};
use crate::runtime::frame::{Frame, FrameColumn};
use crate::runtime::library_frame::{cell_string, frame_arg, text};
use crate::runtime::value::Value;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Char(char),
    Int(i64),
    Punct(char),
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let cs: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_alphabetic() || c == '_' {
            let st = i;
            while i < cs.len() && (cs[i].is_alphanumeric() || cs[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(cs[st..i].iter().collect()));
        } else if c.is_ascii_digit() {
            let st = i;
            while i < cs.len() && cs[i].is_ascii_digit() {
                i += 1;
            }
            let t: String = cs[st..i].iter().collect();
            out.push(Tok::Int(t.parse().map_err(|_| format!("bad number {t}"))?));
        } else if c == '"' || c == '\'' {
            i += 1;
            let mut t = String::new();
            while i < cs.len() && cs[i] != c {
                if cs[i] == '\\' && i + 1 < cs.len() {
                    i += 1;
                    match cs[i] {
                        'n' => t.push('\n'),
                        't' => t.push('\t'),
                        q @ ('"' | '\'' | '\\') => t.push(q),
                        // Not a Java escape (e.g. `\p` after the DML string already lost
                        // one backslash): keep it for the regular expression.
                        other => {
                            t.push('\\');
                            t.push(other);
                        }
                    }
                } else {
                    t.push(cs[i]);
                }
                i += 1;
            }
            if i >= cs.len() {
                return Err("unterminated string".into());
            }
            i += 1;
            if c == '\'' {
                let mut it = t.chars();
                match (it.next(), it.next()) {
                    (Some(ch), None) => out.push(Tok::Char(ch)),
                    _ => out.push(Tok::Str(t)),
                }
            } else {
                out.push(Tok::Str(t));
            }
        } else if c == '-' && cs.get(i + 1) == Some(&'>') {
            out.push(Tok::Punct('→'));
            i += 2;
        } else if (c == '&' || c == '|') && cs.get(i + 1) == Some(&c) {
            out.push(Tok::Punct(c));
            i += 2;
        } else if c == '=' && cs.get(i + 1) == Some(&'=') {
            out.push(Tok::Punct('='));
            i += 2;
        } else if c == '!' && cs.get(i + 1) == Some(&'=') {
            out.push(Tok::Punct('≠'));
            i += 2;
        } else if "+().,[]!&|?:".contains(c) {
            out.push(Tok::Punct(c));
            i += 1;
        } else {
            return Err(format!("unexpected character '{c}'"));
        }
    }
    Ok(out)
}

#[derive(Clone, Debug)]
enum Expr {
    Var,
    Str(String),
    Int(i64),
    Concat(Box<Expr>, Box<Expr>),
    Method(Box<Expr>, String, Vec<Expr>),
    /// `Class.method(args)`: a few static helpers (`Integer.valueOf`, `UtilFunctions...`).
    Static(String, String, Vec<Expr>),
    Index(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Eq(Box<Expr>, Box<Expr>, bool),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
}

const CLASSES: &[&str] = &["UtilFunctions", "Integer", "Long", "Double", "String", "Boolean"];

struct Parser {
    toks: Vec<Tok>,
    i: usize,
    var: String,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i)
    }

    fn eat(&mut self, p: char) -> bool {
        if self.peek() == Some(&Tok::Punct(p)) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, p: char) -> Result<(), String> {
        if self.eat(p) { Ok(()) } else { Err(format!("expected '{p}'")) }
    }

    fn expr(&mut self) -> Result<Expr, String> {
        let c = self.or()?;
        if self.eat('?') {
            let a = self.expr()?;
            self.expect(':')?;
            let b = self.expr()?;
            return Ok(Expr::Cond(Box::new(c), Box::new(a), Box::new(b)));
        }
        Ok(c)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut e = self.and()?;
        while self.eat('|') {
            let r = self.and()?;
            e = Expr::Or(Box::new(e), Box::new(r));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut e = self.eq()?;
        while self.eat('&') {
            let r = self.eq()?;
            e = Expr::And(Box::new(e), Box::new(r));
        }
        Ok(e)
    }

    fn eq(&mut self) -> Result<Expr, String> {
        let e = self.unary()?;
        if self.eat('=') {
            return Ok(Expr::Eq(Box::new(e), Box::new(self.unary()?), true));
        }
        if self.eat('≠') {
            return Ok(Expr::Eq(Box::new(e), Box::new(self.unary()?), false));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat('!') {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.concat()
    }

    fn concat(&mut self) -> Result<Expr, String> {
        let mut e = self.postfix()?;
        while self.eat('+') {
            let r = self.postfix()?;
            e = Expr::Concat(Box::new(e), Box::new(r));
        }
        Ok(e)
    }

    fn args(&mut self) -> Result<Vec<Expr>, String> {
        self.expect('(')?;
        let mut args = Vec::new();
        if !self.eat(')') {
            loop {
                args.push(self.expr()?);
                if self.eat(')') {
                    break;
                }
                self.expect(',')?;
            }
        }
        Ok(args)
    }

    fn postfix(&mut self) -> Result<Expr, String> {
        let mut e = self.primary()?;
        loop {
            if self.eat('.') {
                let Some(Tok::Ident(m)) = self.peek().cloned() else {
                    return Err("expected a method name after '.'".into());
                };
                self.i += 1;
                let args = self.args()?;
                e = Expr::Method(Box::new(e), m, args);
            } else if self.eat('[') {
                let ix = self.expr()?;
                self.expect(']')?;
                e = Expr::Index(Box::new(e), Box::new(ix));
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.peek().cloned() {
            Some(Tok::Ident(n)) if n == self.var => {
                self.i += 1;
                Ok(Expr::Var)
            }
            Some(Tok::Str(s)) => {
                self.i += 1;
                Ok(Expr::Str(s))
            }
            Some(Tok::Char(c)) => {
                self.i += 1;
                Ok(Expr::Str(c.to_string()))
            }
            Some(Tok::Int(v)) => {
                self.i += 1;
                Ok(Expr::Int(v))
            }
            Some(Tok::Punct('(')) => {
                self.i += 1;
                let e = self.expr()?;
                self.expect(')')?;
                Ok(e)
            }
            Some(Tok::Ident(n)) if CLASSES.contains(&n.as_str()) => {
                self.i += 1;
                self.expect('.')?;
                let Some(Tok::Ident(m)) = self.peek().cloned() else {
                    return Err(format!("expected a method of {n}"));
                };
                self.i += 1;
                let args = self.args()?;
                Ok(Expr::Static(n, m, args))
            }
            Some(Tok::Ident(n)) => Err(format!("unknown name `{n}`")),
            _ => Err("expected an expression".into()),
        }
    }
}

#[derive(Clone, Debug)]
enum Val {
    Str(String),
    Int(i64),
    Bool(bool),
    Arr(Vec<String>),
}

impl Val {
    fn text(&self) -> String {
        match self {
            Val::Str(s) => s.clone(),
            Val::Int(i) => i.to_string(),
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

fn eval(e: &Expr, x: &str) -> Result<Val, String> {
    Ok(match e {
        Expr::Var => Val::Str(x.to_string()),
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
                    Val::Str(crate::runtime::format::format_double(d))
                }
                ("String", "valueOf", [a]) => Val::Str(a.text()),
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

/// Parses `x -> expr`.
fn compile(src: &str) -> Result<(String, Expr), String> {
    let toks = lex(src)?;
    let (var, start) = match toks.as_slice() {
        [Tok::Ident(v), Tok::Punct('→'), ..] => (v.clone(), 2),
        [Tok::Punct('('), Tok::Ident(v), Tok::Punct(')'), Tok::Punct('→'), ..] => (v.clone(), 4),
        _ => return Err("expected `x -> expression`".into()),
    };
    let mut p = Parser { toks, i: start, var: var.clone() };
    let e = p.expr()?;
    if p.i != p.toks.len() {
        return Err("unexpected text after the expression".into());
    }
    Ok((var, e))
}

/// `map(F, "x -> expr"[, margin])`: applies the lambda to every non-null cell; the result
/// is a frame of strings.
pub fn map_builtin(args: &[Option<Value>]) -> RtResult<Value> {
    let f = frame_arg(&args[0], "map")?;
    let src = text(&args[1], "the lambda of map")?;
    if let Some(m) = &args[2]
        && m.as_f64() != Some(0.0)
    {
        return Err(RtError::new("map: only margin=0 (cell-wise) is supported"));
    }
    let unsupported = |msg: String| RtError::new(format!("unsupported lambda \"{src}\": {msg}"));
    let (_, e) = compile(&src).map_err(unsupported)?;
    let mut cols = Vec::with_capacity(f.cols());
    for c in 0..f.cols() {
        let mut cells = Vec::with_capacity(f.rows());
        for r in 0..f.rows() {
            cells.push(match cell_string(f, r, c) {
                None => None,
                Some(s) => {
                    Some(eval(&e, &s).map_err(|m| RtError::new(format!("map \"{src}\": {m}")))?.text())
                }
            });
        }
        cols.push(FrameColumn::Str(cells));
    }
    Ok(Value::Frame(Arc::new(Frame {
        names: f.names.clone(),
        columns: cols,
        narrow: vec![],
        impute: vec![],
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str, x: &str) -> Result<String, String> {
        let (_, e) = compile(src)?;
        eval(&e, x).map(|v| v.text())
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
