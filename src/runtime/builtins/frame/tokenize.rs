//! `tokenize(target=F, spec=json, max_tokens=n)`: SystemDS's text tokenizer. A document is one
//! row: its id columns (`id_cols`) and the text of `tokenize_col`. Algorithms: `split` (on the
//! regex `algo_params.regex`, default whitespace) and `ngram` (`min_gram`..`max_gram` of the
//! words, or of each word's characters with `ngram_type: token`). Outputs: `count` (distinct
//! tokens in Java `HashMap` order, or sorted with `out_params.sort_alpha`), `position` (the
//! 1-based character position of each token; `format_wide` puts a document's tokens in one
//! row) and `hash` (token hash buckets modulo `out_params.num_features`, ascending, with their
//! counts). `apply_padding` fills every document up to `max_tokens`.

use super::ops::raw_cell;
use super::transform::hash::java_string_hash;
use super::transform::java_hashmap_order;
use super::transform::spec::parse_json;
use crate::runtime::builtins::{Args, err};
use crate::runtime::error::{RtError, RtResult};
use crate::types::frame::{ColType, Frame, FrameColumn};
use crate::types::value::Value;
use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, HashMap};

/// A token: one word, or an n-gram of words (printed as `"('w1', 'w2')"`), with the UTF-16
/// start offset of its first word.
#[derive(Clone, Debug)]
struct Token {
    words: Vec<String>,
    start: usize,
}

impl Token {
    fn text(&self) -> String {
        match self.words.len() {
            0 => String::new(),
            1 => self.words[0].clone(),
            _ => format!("\"('{}')\"", self.words.join("', '")),
        }
    }
}

enum Algo {
    Split,
    Ngram { min: usize, max: usize, per_token: bool },
}

enum Out {
    Count { sort_alpha: bool },
    Position,
    Hash { num_features: i64 },
}

struct Spec {
    algo: Algo,
    regex: regex::Regex,
    out: Out,
    id_cols: Vec<usize>,
    text_col: usize,
    wide: bool,
    padding: bool,
}

fn obj<'a>(m: &'a Map<String, Json>, key: &str) -> RtResult<Option<&'a Map<String, Json>>> {
    match m.get(key) {
        None => Ok(None),
        Some(Json::Object(o)) => Ok(Some(o)),
        Some(v) => err(format!("tokenize spec: {key} must be an object, not {v}")),
    }
}

fn int(m: &Map<String, Json>, key: &str) -> RtResult<Option<i64>> {
    match m.get(key) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) if x.fract() == 0.0 && x.abs() < 2147483648.0 => Ok(Some(x as i64)),
            _ => err(format!("tokenize spec: {key} must be an integer, not {v}")),
        },
    }
}

fn boolean(m: &Map<String, Json>, key: &str) -> RtResult<bool> {
    match m.get(key) {
        None => Ok(false),
        Some(Json::Bool(b)) => Ok(*b),
        Some(v) => err(format!("tokenize spec: {key} must be true or false, not {v}")),
    }
}

fn string<'a>(m: &'a Map<String, Json>, key: &str) -> RtResult<&'a str> {
    match m.get(key) {
        Some(Json::String(s)) => Ok(s),
        Some(v) => err(format!("tokenize spec: {key} must be a string, not {v}")),
        None => err(format!("tokenize spec: {key} is missing")),
    }
}

/// Java-like regex: `\s` and friends are ASCII as in `java.util.regex` when possible.
fn java_regex(pattern: &str) -> RtResult<regex::Regex> {
    regex::RegexBuilder::new(pattern)
        .unicode(false)
        .build()
        .or_else(|_| regex::Regex::new(pattern))
        .map_err(|e| RtError::new(format!("tokenize spec: bad regex \"{pattern}\": {e}")))
}

fn parse_spec(text: &str, cols: usize) -> RtResult<Spec> {
    let Json::Object(m) =
        parse_json(text).map_err(|e| RtError::new(e.replace("transform spec", "tokenize spec")))?
    else {
        return err("tokenize spec: expected a JSON object");
    };
    for key in m.keys() {
        if !matches!(
            key.as_str(),
            "algo"
                | "algo_params"
                | "out"
                | "out_params"
                | "id_cols"
                | "tokenize_col"
                | "format_wide"
                | "apply_padding"
        ) {
            return err(format!("tokenize spec: \"{key}\" is not supported"));
        }
    }
    let col = |v: i64, what: &str| -> RtResult<usize> {
        if v >= 1 && v as usize <= cols {
            Ok(v as usize - 1)
        } else {
            err(format!("tokenize spec: {what} {v} is not a column of the frame (1..{cols})"))
        }
    };
    let text_col = col(
        int(&m, "tokenize_col")?.ok_or_else(|| RtError::new("tokenize spec: tokenize_col is missing"))?,
        "tokenize_col",
    )?;
    let id_cols = match m.get("id_cols") {
        Some(Json::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|v| match v.as_f64() {
                Some(x) if x.fract() == 0.0 => col(x as i64, "id column"),
                _ => err(format!("tokenize spec: bad id column {v}")),
            })
            .collect::<RtResult<Vec<usize>>>()?,
        Some(Json::Array(_)) => return err("tokenize spec: id_cols needs at least one column"),
        Some(v) => return err(format!("tokenize spec: id_cols must be a list, not {v}")),
        None => return err("tokenize spec: id_cols is missing"),
    };
    let empty = Map::new();
    let ap = obj(&m, "algo_params")?.unwrap_or(&empty);
    let regex = java_regex(match ap.get("regex") {
        Some(Json::String(s)) => s,
        Some(v) => return err(format!("tokenize spec: regex must be a string, not {v}")),
        None => r"\s+",
    })?;
    let algo = match string(&m, "algo")? {
        "split" => Algo::Split,
        "ngram" => {
            let min = int(ap, "min_gram")?.unwrap_or(1);
            let max = int(ap, "max_gram")?.unwrap_or(2);
            if min < 1 || max < min {
                return err(format!("tokenize spec: bad n-gram range {min}..{max}"));
            }
            let per_token = match ap.get("ngram_type") {
                None => false,
                Some(Json::String(t)) => match t.to_lowercase().as_str() {
                    "document" => false,
                    "token" => true,
                    _ => return err("tokenize spec: ngram_type must be 'token' or 'document'"),
                },
                Some(v) => return err(format!("tokenize spec: bad ngram_type {v}")),
            };
            Algo::Ngram { min: min as usize, max: max as usize, per_token }
        }
        other => return err(format!("tokenize spec: algorithm \"{other}\" is not supported (split, ngram)")),
    };
    let op = obj(&m, "out_params")?.unwrap_or(&empty);
    let out = match string(&m, "out")? {
        "count" => Out::Count { sort_alpha: boolean(op, "sort_alpha")? },
        "position" => Out::Position,
        "hash" => {
            let n = int(op, "num_features")?.unwrap_or(1 << 20);
            if n < 1 {
                return err("tokenize spec: num_features must be positive");
            }
            Out::Hash { num_features: n }
        }
        other => {
            return err(format!(
                "tokenize spec: output \"{other}\" is not supported (count, position, hash)"
            ));
        }
    };
    let wide = boolean(&m, "format_wide")?;
    if wide && matches!(out, Out::Count { .. }) {
        return err("tokenize: the wide format is not supported for the count output");
    }
    Ok(Spec { algo, regex, out, id_cols, text_col, wide, padding: boolean(&m, "apply_padding")? })
}

/// Java `text.indexOf(needle, from)` in UTF-16 units.
fn index_of(hay: &[u16], needle: &[u16], from: usize) -> usize {
    if needle.is_empty() {
        return from.min(hay.len());
    }
    (from..=hay.len().saturating_sub(needle.len()))
        .find(|&i| hay[i..i + needle.len()] == *needle)
        .unwrap_or(0)
}

/// Splits a document; like SystemDS, each word is searched from the previous word's start.
fn split(text: &str, re: &regex::Regex) -> Vec<Token> {
    let hay: Vec<u16> = text.encode_utf16().collect();
    let mut cur = 0;
    let mut out = Vec::new();
    for w in re.split(text).filter(|w| !w.is_empty()) {
        let needle: Vec<u16> = w.encode_utf16().collect();
        let at = index_of(&hay, &needle, cur);
        cur = at;
        out.push(Token { words: vec![w.to_string()], start: at });
    }
    out
}

fn ngrams(tokens: Vec<Token>, algo: &Algo) -> Vec<Token> {
    let Algo::Ngram { min, max, per_token } = *algo else {
        return tokens;
    };
    let mut out = Vec::new();
    if per_token {
        for t in &tokens {
            let units: Vec<u16> = t.text().encode_utf16().collect();
            for n in min..=max {
                for i in 0..(units.len() + 1).saturating_sub(n) {
                    let s = String::from_utf16_lossy(&units[i..i + n]);
                    out.push(Token { words: vec![s], start: t.start + i });
                }
            }
        }
    } else {
        for n in min..=max {
            for i in 0..(tokens.len() + 1).saturating_sub(n) {
                let words = tokens[i..i + n].iter().flat_map(|t| t.words.iter().cloned()).collect();
                out.push(Token { words, start: tokens[i].start });
            }
        }
    }
    out
}

/// Output cells of one column.
enum Col {
    Str(Vec<Option<String>>),
    Int(Vec<i64>),
}

impl Col {
    fn push_str(&mut self, s: Option<String>) {
        if let Col::Str(v) = self {
            v.push(s)
        }
    }
    fn push_int(&mut self, x: i64) {
        if let Col::Int(v) = self {
            v.push(x)
        }
    }
}

/// Compares as Java's `String.compareTo` (UTF-16 code units).
fn java_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// `tokenize(target=F, spec=, max_tokens=)`.
pub fn tokenize_builtin(a: Args) -> RtResult<Vec<Value>> {
    let f = a.frame("target")?;
    let spec = parse_spec(&a.text("spec")?, f.cols())?;
    let max_tokens = match a.get("max_tokens")? {
        None => return err("tokenize needs max_tokens"),
        Some(v) => match v.as_f64() {
            Some(x) if x >= 0.0 && x.fract() == 0.0 && x < 1e8 => x as usize,
            _ => return err("tokenize: max_tokens must be a non-negative integer"),
        },
    };
    let nid = spec.id_cols.len();
    let ncols = if spec.wide { nid + max_tokens } else { nid + 2 };
    let value_is_int = |j: usize| -> bool {
        match (&spec.out, spec.wide) {
            (Out::Hash { .. }, true) => j >= nid,
            (Out::Hash { .. }, false) => j >= nid,
            (Out::Position, false) => j == nid,
            (Out::Count { .. }, _) => j == nid + 1,
            (Out::Position, true) => false,
        }
    };
    let mut cols: Vec<Col> =
        (0..ncols).map(|j| if value_is_int(j) { Col::Int(vec![]) } else { Col::Str(vec![]) }).collect();
    for r in 0..f.rows() {
        let keys: Vec<Option<String>> = spec.id_cols.iter().map(|&c| raw_cell(f, r, c)).collect();
        let tokens = match raw_cell(f, r, spec.text_col) {
            Some(t) => ngrams(split(&t, &spec.regex), &spec.algo),
            None => vec![],
        };
        let put_keys = |cols: &mut Vec<Col>| {
            for (j, k) in keys.iter().enumerate() {
                cols[j].push_str(k.clone());
            }
        };
        match &spec.out {
            Out::Count { sort_alpha } => {
                let mut order: Vec<String> = Vec::new();
                let mut counts: HashMap<String, i64> = HashMap::new();
                for t in &tokens {
                    let s = t.text();
                    match counts.get_mut(&s) {
                        Some(c) => *c += 1,
                        None => {
                            counts.insert(s.clone(), 1);
                            order.push(s);
                        }
                    }
                }
                let mut distinct: Vec<String> = if *sort_alpha {
                    let mut d = order.clone();
                    d.sort_by(|a, b| java_cmp(a, b));
                    d
                } else {
                    java_hashmap_order(&order).into_iter().map(|i| order[i].clone()).collect()
                };
                distinct.truncate(max_tokens);
                let n = distinct.len();
                for s in distinct {
                    put_keys(&mut cols);
                    let c = counts[&s];
                    cols[nid].push_str(Some(s));
                    cols[nid + 1].push_int(c);
                }
                if spec.padding {
                    for _ in n..max_tokens {
                        put_keys(&mut cols);
                        cols[nid].push_str(Some(String::new()));
                        cols[nid + 1].push_int(-1);
                    }
                }
            }
            Out::Position if spec.wide => {
                put_keys(&mut cols);
                for j in 0..max_tokens {
                    let cell = match tokens.get(j) {
                        Some(t) => Some(t.text()),
                        None if spec.padding => Some(String::new()),
                        None => None,
                    };
                    cols[nid + j].push_str(cell);
                }
            }
            Out::Position => {
                let n = tokens.len().min(max_tokens);
                for t in tokens.iter().take(max_tokens) {
                    put_keys(&mut cols);
                    cols[nid].push_int(t.start as i64 + 1);
                    cols[nid + 1].push_str(Some(t.text()));
                }
                if spec.padding {
                    for _ in n..max_tokens {
                        put_keys(&mut cols);
                        cols[nid].push_int(-1);
                        cols[nid + 1].push_str(Some(String::new()));
                    }
                }
            }
            Out::Hash { num_features } => {
                let mut buckets: BTreeMap<i64, i64> = BTreeMap::new();
                for t in &tokens {
                    let h = java_string_hash(&t.text()) as i64;
                    let m = h.rem_euclid(*num_features);
                    *buckets.entry(m).or_insert(0) += 1;
                }
                if spec.wide {
                    put_keys(&mut cols);
                    for j in 0..max_tokens {
                        cols[nid + j].push_int(buckets.get(&(j as i64)).copied().unwrap_or(0));
                    }
                } else {
                    let n = buckets.len().min(max_tokens);
                    for (b, c) in buckets.iter().take(max_tokens) {
                        put_keys(&mut cols);
                        cols[nid].push_int(b + 1);
                        cols[nid + 1].push_int(*c);
                    }
                    if spec.padding {
                        for _ in n..max_tokens {
                            put_keys(&mut cols);
                            cols[nid].push_int(0);
                            cols[nid + 1].push_int(0);
                        }
                    }
                }
            }
        }
    }
    let typed = cols
        .into_iter()
        .map(|c| match c {
            Col::Str(v) => (ColType::String, FrameColumn::Str(v)),
            Col::Int(v) => (ColType::Int64, FrameColumn::Int(v)),
        })
        .collect();
    Ok(vec![Value::Frame(std::sync::Arc::new(Frame::from_typed(vec![], typed)))])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(ts: &[Token]) -> Vec<(String, usize)> {
        ts.iter().map(|t| (t.text(), t.start)).collect()
    }

    #[test]
    fn split_positions_and_ngrams() {
        let re = java_regex(r"\s+").unwrap();
        // Each word is searched from the previous word's start, as SystemDS does.
        let t = split(" a  b a", &re);
        assert_eq!(words(&t), [("a".to_string(), 1), ("b".to_string(), 4), ("a".to_string(), 6)]);
        let g = ngrams(t.clone(), &Algo::Ngram { min: 2, max: 2, per_token: false });
        assert_eq!(words(&g), [("\"('a', 'b')\"".to_string(), 1), ("\"('b', 'a')\"".to_string(), 4)]);
        let c = ngrams(split("abc", &re), &Algo::Ngram { min: 2, max: 3, per_token: true });
        assert_eq!(words(&c), [("ab".to_string(), 0), ("bc".to_string(), 1), ("abc".to_string(), 0)]);
        assert!(ngrams(split("a", &re), &Algo::Ngram { min: 2, max: 3, per_token: true }).is_empty());
        assert_eq!(java_cmp("B", "a"), std::cmp::Ordering::Less);
    }

    #[test]
    fn bad_specs_are_errors() {
        let bad = [
            "{algo: split, out: count, id_cols: [1]}",
            "{algo: split, out: count, id_cols: [], tokenize_col: 2}",
            "{algo: split, out: count, id_cols: [3], tokenize_col: 2}",
            "{algo: whitespace, out: count, id_cols: [1], tokenize_col: 2}",
            "{algo: split, out: bow, id_cols: [1], tokenize_col: 2}",
            "{algo: ngram, algo_params: {min_gram: 3, max_gram: 2}, out: count, id_cols: [1], tokenize_col: 2}",
            "{algo: split, out: count, id_cols: [1], tokenize_col: 2, format_wide: true}",
            "{algo: split, out: count, id_cols: [1], tokenize_col: 2, extra: 1}",
        ];
        for s in bad {
            assert!(parse_spec(s, 2).is_err(), "{s}");
        }
        assert!(parse_spec("{algo: ngram, out: hash, id_cols: [1], tokenize_col: 2}", 2).is_ok());
    }
}
