//! Transform specifications: SystemDS accepts JSON with unquoted keys and values
//! (`{ids: true, recode: [1, 2], bin: [{id: 3, method: equi-width, numbins: 4}]}`), so this is
//! a small lenient JSON reader, then the resolution of column references.

use serde_json::{Map, Number, Value};

struct Reader<'a> {
    s: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn fail<T>(&self, msg: &str) -> Result<T, String> {
        Err(format!("transform spec: {msg} at character {}", self.i + 1))
    }

    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        match self.s.get(self.i) {
            None => self.fail("unexpected end"),
            Some(b'{') => {
                self.i += 1;
                let mut map = Map::new();
                loop {
                    self.ws();
                    if self.s.get(self.i) == Some(&b'}') {
                        self.i += 1;
                        return Ok(Value::Object(map));
                    }
                    let key = match self.value()? {
                        Value::String(k) => k,
                        other => other.to_string(),
                    };
                    self.ws();
                    if self.s.get(self.i) != Some(&b':') {
                        return self.fail("expected ':'");
                    }
                    self.i += 1;
                    let v = self.value()?;
                    map.insert(key, v);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {}
                        _ => return self.fail("expected ',' or '}'"),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.s.get(self.i) == Some(&b']') {
                        self.i += 1;
                        return Ok(Value::Array(items));
                    }
                    items.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {}
                        _ => return self.fail("expected ',' or ']'"),
                    }
                }
            }
            Some(q @ (b'"' | b'\'')) => {
                let q = *q;
                self.i += 1;
                let start = self.i;
                while self.i < self.s.len() && self.s[self.i] != q {
                    self.i += 1;
                }
                if self.i >= self.s.len() {
                    return self.fail("unterminated string");
                }
                let t = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                self.i += 1;
                Ok(Value::String(t))
            }
            Some(_) => {
                let start = self.i;
                while self.i < self.s.len() && !matches!(self.s[self.i], b',' | b']' | b'}' | b':') {
                    self.i += 1;
                }
                let t = String::from_utf8_lossy(&self.s[start..self.i]).trim().to_string();
                if t.is_empty() {
                    return self.fail("expected a value");
                }
                Ok(match t.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    _ => match t.parse::<i64>() {
                        Ok(i) => Value::Number(i.into()),
                        Err(_) => match t.parse::<f64>().ok().and_then(Number::from_f64) {
                            Some(n) => Value::Number(n),
                            None => Value::String(t),
                        },
                    },
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_json_and_resolution() {
        let v = parse_json("{ids: true, bin: [{id: 2, method: equi-width, numbins: 3}], recode: ['a b']}")
            .unwrap();
        assert_eq!(v["bin"][0]["method"], "equi-width");
        assert_eq!(v["recode"][0], "a b");
        let names: Vec<String> = ["x", "y"].iter().map(|s| s.to_string()).collect();
        let s = resolve("{recode: [y], impute: [{name: x, method: constant, value: 0}]}", &names).unwrap();
        assert!(s[1].recode && !s[0].recode);
        assert_eq!(s[0].impute, Some(Impute::Constant("0".into())));
        assert!(resolve("{ids: true, recode: [3]}", &names).unwrap_err().contains("3"));
        assert!(resolve("{hash: [1]}", &names).unwrap_err().contains("hash"));
        assert!(parse_json("{recode: [1}").is_err());
    }
}

/// Parses a (lenient) JSON spec.
pub fn parse_json(text: &str) -> Result<Value, String> {
    let mut r = Reader { s: text.as_bytes(), i: 0 };
    let v = r.value()?;
    r.ws();
    if r.i != r.s.len() {
        return r.fail("unexpected text after the spec");
    }
    Ok(v)
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BinMethod {
    EquiWidth,
    EquiHeight,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Impute {
    Mean,
    Mode,
    Constant(String),
}

/// What happens to one input column.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ColSpec {
    pub recode: bool,
    pub dummy: bool,
    pub bin: Option<(BinMethod, usize)>,
    pub impute: Option<Impute>,
    /// Feature hashing into this many buckets.
    pub hash: Option<u64>,
}

/// The resolved spec: one entry per input column.
pub fn resolve(spec: &str, names: &[String]) -> Result<Vec<ColSpec>, String> {
    let v = parse_json(spec)?;
    let Value::Object(map) = v else {
        return Err("transform spec: expected a JSON object".into());
    };
    let ids = matches!(map.get("ids"), Some(Value::Bool(true)));
    let n = names.len();
    let col_of = |v: &Value| -> Result<usize, String> {
        if ids {
            match v.as_f64() {
                Some(x) if x >= 1.0 && x as usize <= n && x.fract() == 0.0 => Ok(x as usize - 1),
                _ => Err(format!("transform spec: column id {v} is not in 1..{n}")),
            }
        } else {
            let name = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            names.iter().position(|x| *x == name).ok_or_else(|| {
                format!("transform spec: no column named \"{name}\" (use ids: true for numbers)")
            })
        }
    };
    let entry_col = |o: &Map<String, Value>| -> Result<usize, String> {
        match (o.get("id"), o.get("name")) {
            (Some(id), _) => {
                let x = id.as_f64().ok_or_else(|| format!("transform spec: bad id {id}"))?;
                if x >= 1.0 && x as usize <= n {
                    Ok(x as usize - 1)
                } else {
                    Err(format!("transform spec: column id {id} is not in 1..{n}"))
                }
            }
            (None, Some(nm)) => col_of(nm).or_else(|_| {
                let s = nm.as_str().unwrap_or_default();
                names
                    .iter()
                    .position(|x| x == s)
                    .ok_or_else(|| format!("transform spec: no column named \"{s}\""))
            }),
            _ => Err("transform spec: an entry needs an id or a name".into()),
        }
    };
    let mut out = vec![ColSpec::default(); n];
    for (key, val) in &map {
        match key.as_str() {
            "ids" | "K" => {}
            "hash" => {
                let Value::Array(items) = val else {
                    return Err("transform spec: hash must be a list".into());
                };
                let k = match map.get("K") {
                    None => return Err("transform spec: hash needs the number of buckets K".into()),
                    Some(k) => match k.as_f64() {
                        Some(x) if x >= 1.0 && x.fract() == 0.0 && x < 9.0e15 => x as u64,
                        _ => return Err(format!("transform spec: hash needs a positive integer K, not {k}")),
                    },
                };
                for it in items {
                    let c = col_of(it)?;
                    out[c].hash = Some(k);
                }
            }
            "recode" | "dummycode" => {
                let Value::Array(items) = val else {
                    return Err(format!("transform spec: {key} must be a list"));
                };
                for it in items {
                    let c = col_of(it)?;
                    if key == "recode" {
                        out[c].recode = true;
                    } else {
                        out[c].dummy = true;
                    }
                }
            }
            "bin" | "impute" => {
                let Value::Array(items) = val else {
                    return Err(format!("transform spec: {key} must be a list"));
                };
                for it in items {
                    let Value::Object(o) = it else {
                        return Err(format!("transform spec: {key} entries must be objects"));
                    };
                    let c = entry_col(o)?;
                    let method = o.get("method").and_then(|m| m.as_str()).unwrap_or("").to_ascii_lowercase();
                    if key == "bin" {
                        let m = match method.as_str() {
                            "equi-width" | "equiwidth" | "" => BinMethod::EquiWidth,
                            "equi-height" | "equiheight" => BinMethod::EquiHeight,
                            other => return Err(format!("transform spec: unknown bin method \"{other}\"")),
                        };
                        let k = o.get("numbins").and_then(|x| x.as_f64()).unwrap_or(10.0);
                        if !(1.0..=1e6).contains(&k) {
                            return Err("transform spec: numbins must be between 1 and 1000000".into());
                        }
                        out[c].bin = Some((m, k as usize));
                    } else {
                        out[c].impute = Some(match method.as_str() {
                            "global_mean" => Impute::Mean,
                            "global_mode" => Impute::Mode,
                            "constant" => Impute::Constant(match o.get("value") {
                                Some(Value::String(s)) => s.clone(),
                                Some(v) => v.to_string(),
                                None => return Err("transform spec: constant impute needs a value".into()),
                            }),
                            other => {
                                return Err(format!("transform spec: unknown impute method \"{other}\""));
                            }
                        });
                    }
                }
            }
            other => return Err(format!("transform spec: \"{other}\" is not supported")),
        }
    }
    for (c, s) in out.iter().enumerate() {
        if s.hash.is_some() && (s.recode || s.bin.is_some()) {
            return Err(format!(
                "transform spec: column {} has more than one of recode, bin and hash",
                c + 1
            ));
        }
    }
    Ok(out)
}
