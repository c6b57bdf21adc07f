//! The parser of `map`'s Java lambdas: tokens, expressions, and `compile` from source text.

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
        } else if "+().,[]{}!&|?:".contains(c) {
            out.push(Tok::Punct(c));
            i += 1;
        } else {
            return Err(format!("unexpected character '{c}'"));
        }
    }
    Ok(out)
}

#[derive(Clone, Debug)]
pub(super) enum Expr {
    /// The lambda's parameter number `i` (`(x, y) -> ...` has two).
    Var(usize),
    /// `new String[]{a, b}`: the row a row-wise (`margin=1`) lambda returns.
    Array(Vec<Expr>),
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

const CLASSES: &[&str] =
    &["UtilFunctions", "Integer", "Long", "Double", "String", "Boolean", "PorterStemmer"];

struct Parser {
    toks: Vec<Tok>,
    i: usize,
    vars: Vec<String>,
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
            Some(Tok::Ident(n)) if self.vars.contains(&n) => {
                self.i += 1;
                Ok(Expr::Var(self.vars.iter().position(|v| *v == n).unwrap_or(0)))
            }
            Some(Tok::Ident(n)) if n == "new" => {
                // new String[]{a, b, ...}
                self.i += 1;
                if self.peek() != Some(&Tok::Ident("String".into())) {
                    return Err("only `new String[]{...}` arrays are supported".into());
                }
                self.i += 1;
                self.expect('[')?;
                self.expect(']')?;
                self.expect('{')?;
                let mut items = Vec::new();
                if !self.eat('}') {
                    loop {
                        items.push(self.expr()?);
                        if self.eat('}') {
                            break;
                        }
                        self.expect(',')?;
                    }
                }
                Ok(Expr::Array(items))
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

/// Parses `x -> expr` or `(x, y) -> expr`; returns the parameter names and the body.
pub(super) fn compile(src: &str) -> Result<(Vec<String>, Expr), String> {
    let toks = lex(src)?;
    let arrow = toks.iter().position(|t| *t == Tok::Punct('→')).ok_or("expected `x -> expression`")?;
    let mut vars = Vec::new();
    let head = &toks[..arrow];
    let inner = match head {
        [Tok::Punct('('), rest @ .., Tok::Punct(')')] => rest,
        other => other,
    };
    for (k, t) in inner.iter().enumerate() {
        match (k % 2, t) {
            (0, Tok::Ident(v)) => vars.push(v.clone()),
            (1, Tok::Punct(',')) => {}
            _ => return Err("expected `x -> expression` or `(x, y) -> expression`".into()),
        }
    }
    if vars.is_empty() || vars.len() > 2 {
        return Err("a lambda takes one or two parameters".into());
    }
    let mut p = Parser { toks, i: arrow + 1, vars: vars.clone() };
    let e = p.expr()?;
    if p.i != p.toks.len() {
        return Err("unexpected text after the expression".into());
    }
    Ok((vars, e))
}
