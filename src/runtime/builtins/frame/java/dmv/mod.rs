//! Disguised-missing-value detection as done by SystemDS 3.4.0's
//! `DMVUtils.syntacticalPatternDiscovery(frame, threshold, disguised)`, reached from
//! DML through `map(X, "UtilFunctions.syntacticalPatternDiscovery(<threshold>,<value>)")`
//! (the `dmv` builtin).
//!
//! For every column independently:
//! 1. Each value (a null counts as the text `"NULL"`) is turned into a pattern of
//!    character classes with run lengths: `d` digit, `l` lower case, `u` upper case,
//!    `s` space character, `t` dot, `-` minus, `y` anything else; each run of one
//!    class becomes the class letter followed by the run length in decimal
//!    (`"ab12"` -> `"l2d2"`).
//! 2. Up to six levels of abstraction are tried in turn, each applied to the
//!    previous level's patterns:
//!    1. the raw class/run-length pattern;
//!    2. every decimal digit of the pattern becomes `+` (run lengths forgotten);
//!    3. runs of `u`/`l` letters (ignoring `+` in between) merge into one `a`;
//!    4. inside a run that starts with `d`, further `d`s and `t`s are dropped
//!       (decimal numbers look like integers);
//!    5. the same for `a` with `s` (words separated by spaces look like one word);
//!    6. a `-` directly before a `d` is dropped (negative numbers look like numbers).
//!       (Levels 4-6 also squeeze repeated `+`; see the helper functions for the
//!       exact, slightly irregular, rules.)
//!
//!    At each level the share of rows per pattern is computed (count / number of
//!    rows); the first pattern met whose share is strictly greater than
//!    `threshold` is dominant. Patterns are met in the iteration order of the
//!    Java `HashMap`s SystemDS uses, which we simulate; it only matters when
//!    `threshold < 0.5`, because otherwise at most one pattern can pass.
//! 3. With a dominant pattern, every row whose pattern at that level differs is
//!    replaced by `disguised_value`; rows that match keep their value (a null that
//!    matches stays null). Later levels are not tried. Without a dominant pattern
//!    at any level the column is left unchanged.
//!
//! Text is processed as UTF-16 code units like Java does; code points outside the
//! Basic Multilingual Plane count as two "other" characters.

const DIGIT: u16 = b'd' as u16;
const LOWER: u16 = b'l' as u16;
const UPPER: u16 = b'u' as u16;
const ALPHA: u16 = b'a' as u16;
const SPACE: u16 = b's' as u16;
const DOT: u16 = b't' as u16;
const OTHER: u16 = b'y' as u16;
const ANY_LEN: u16 = b'+' as u16;
const MINUS: u16 = b'-' as u16;

// ---------------------------------------------------------------------------
// A minimal model of java.util.HashMap<String, V> iteration order.
// ---------------------------------------------------------------------------

fn java_string_hash(s: &[u16]) -> i32 {
    s.iter().fold(0i32, |h, &c| h.wrapping_mul(31).wrapping_add(c as i32))
}

fn spread(h: i32) -> u32 {
    let h = h as u32;
    h ^ (h >> 16)
}

/// Insertion/iteration behaviour of a Java `HashMap` with string keys:
/// power-of-two table (16 at first, doubling past 3/4 load, or when one bucket
/// grows beyond 8 entries while the table is smaller than 64), entries iterated
/// bucket by bucket in insertion order within a bucket. Tree bins (only reached
/// with 9+ colliding keys in a table of 64+ buckets) are treated as lists.
struct JavaHashMap<V> {
    buckets: Vec<Vec<(u32, Vec<u16>, V)>>,
    size: usize,
}

impl<V> JavaHashMap<V> {
    fn new() -> Self {
        JavaHashMap { buckets: Vec::new(), size: 0 }
    }

    fn resize(&mut self) {
        let old_cap = self.buckets.len();
        if old_cap == 0 {
            self.buckets = (0..16).map(|_| Vec::new()).collect();
            return;
        }
        let new_cap = old_cap * 2;
        let mut nb: Vec<Vec<(u32, Vec<u16>, V)>> = (0..new_cap).map(|_| Vec::new()).collect();
        for (j, bucket) in std::mem::take(&mut self.buckets).into_iter().enumerate() {
            for e in bucket {
                let idx = if e.0 as usize & old_cap == 0 { j } else { j + old_cap };
                nb[idx].push(e);
            }
        }
        self.buckets = nb;
    }

    fn get_mut(&mut self, key: &[u16]) -> Option<&mut V> {
        if self.buckets.is_empty() {
            return None;
        }
        let h = spread(java_string_hash(key));
        let idx = h as usize & (self.buckets.len() - 1);
        self.buckets[idx].iter_mut().find(|e| e.0 == h && e.1 == key).map(|e| &mut e.2)
    }

    /// Insert a key known to be absent.
    fn insert_new(&mut self, key: Vec<u16>, value: V) {
        if self.buckets.is_empty() {
            self.resize();
        }
        let h = spread(java_string_hash(&key));
        let idx = h as usize & (self.buckets.len() - 1);
        let existing = self.buckets[idx].len();
        self.buckets[idx].push((h, key, value));
        // Java converts a bucket that already held 8 entries into a tree, or
        // doubles the table instead while it has fewer than 64 buckets.
        if existing >= 8 && self.buckets.len() < 64 {
            self.resize();
        }
        self.size += 1;
        if self.size > self.buckets.len() * 3 / 4 {
            self.resize();
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&Vec<u16>, &V)> {
        self.buckets.iter().flat_map(|b| b.iter().map(|e| (&e.1, &e.2)))
    }
}

fn add_count(map: &mut JavaHashMap<usize>, key: Vec<u16>, n: usize) {
    if let Some(v) = map.get_mut(&key) {
        *v += n;
    } else {
        map.insert_new(key, n);
    }
}

// ---------------------------------------------------------------------------
// Character classes and pattern levels.
// ---------------------------------------------------------------------------

/// Java `Character.isDigit` (category Nd), approximated for non-ASCII characters.
fn java_is_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    if !c.is_numeric() {
        return false;
    }
    // Exclude well-known letter numbers (Nl) and other numbers (No).
    let u = c as u32;
    !matches!(u,
        0x00B2 | 0x00B3 | 0x00B9 | 0x00BC..=0x00BE
        | 0x09F4..=0x09F9 | 0x0BF0..=0x0BF2 | 0x0F2A..=0x0F33
        | 0x1369..=0x137C | 0x16EE..=0x16F0 | 0x17F0..=0x17F9
        | 0x2070..=0x209F | 0x2150..=0x218F | 0x2460..=0x24FF
        | 0x2776..=0x2793 | 0x2CFD | 0x3007 | 0x3021..=0x3029
        | 0x3038..=0x303A | 0x3192..=0x3195 | 0x3220..=0x3229
        | 0x3248..=0x324F | 0x3251..=0x325F | 0x3280..=0x3289
        | 0x32B1..=0x32BF | 0xA830..=0xA835)
}

/// Java `Character.isSpaceChar` (categories Zs, Zl, Zp): tabs and newlines are not spaces.
fn java_is_space_char(c: char) -> bool {
    matches!(
        c as u32,
        0x0020 | 0x00A0 | 0x1680 | 0x2000..=0x200A | 0x2028 | 0x2029 | 0x202F | 0x205F | 0x3000
    )
}

fn char_class(unit: u16) -> u16 {
    let c = match char::from_u32(unit as u32) {
        Some(c) => c, // surrogate halves fall through to OTHER
        None => return OTHER,
    };
    if java_is_digit(c) {
        DIGIT
    } else if c.is_lowercase() {
        LOWER
    } else if c.is_uppercase() {
        UPPER
    } else if java_is_space_char(c) {
        SPACE
    } else if c == '.' {
        DOT
    } else if c == '-' {
        MINUS
    } else {
        OTHER
    }
}

/// Level 1: class letters with run lengths.
fn encode_raw(value: &[u16]) -> Vec<u16> {
    let classes: Vec<u16> = value.iter().map(|&c| char_class(c)).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < classes.len() {
        let mut j = i + 1;
        while j < classes.len() && classes[j] == classes[i] {
            j += 1;
        }
        out.push(classes[i]);
        out.extend((j - i).to_string().encode_utf16());
        i = j;
    }
    out
}

/// Level 2: every decimal digit becomes `+`.
fn digits_to_any_len(p: &[u16]) -> Vec<u16> {
    p.iter()
        .map(|&c| match char::from_u32(c as u32) {
            Some(ch) if java_is_digit(ch) => ANY_LEN,
            _ => c,
        })
        .collect()
}

/// Level 3: a stretch of `u`/`l` letters (with any `+` between them) becomes one `a`;
/// a `+` is never written twice in a row.
fn merge_letter_case(p: &[u16]) -> Vec<u16> {
    let mut out: Vec<u16> = Vec::new();
    let mut in_letters = false;
    for &c in p {
        if c == UPPER || c == LOWER {
            if !in_letters {
                in_letters = true;
                out.push(ALPHA);
            }
        } else if c == ANY_LEN {
            if out.last() != Some(&ANY_LEN) {
                out.push(c);
            }
        } else {
            out.push(c);
            in_letters = false;
        }
    }
    out
}

/// Levels 4 and 5: once `outer` has been written, further `outer`/`inner` symbols
/// are swallowed until some other symbol (not `+`) appears; `inner` or `+` seen
/// outside such a stretch are written only when the output is non-empty and does
/// not already end in `+`.
fn absorb_inner(p: &[u16], outer: u16, inner: u16) -> Vec<u16> {
    let mut out: Vec<u16> = Vec::new();
    let mut in_outer = false;
    for &c in p {
        if c == outer && !in_outer {
            in_outer = true;
            out.push(c);
        } else if in_outer && (c == outer || c == inner) {
            continue;
        } else if c != inner && c != ANY_LEN {
            in_outer = false;
            out.push(c);
        } else if matches!(out.last(), Some(&last) if last != ANY_LEN) {
            out.push(c);
        }
    }
    out
}

/// Level 6: a `-` immediately followed by `d` disappears.
fn minus_digit_to_digit(p: &[u16]) -> Vec<u16> {
    let mut out = Vec::new();
    let mut pending_minus = false;
    for &c in p {
        if c == MINUS && !pending_minus {
            pending_minus = true;
        } else if c == DIGIT && pending_minus {
            out.push(c);
            pending_minus = false;
        } else if pending_minus {
            out.push(MINUS);
            out.push(c);
            pending_minus = false;
        } else {
            out.push(c);
        }
    }
    // A trailing lone '-' is dropped, as in SystemDS.
    out
}

/// Apply abstraction level `level` (1..=6) to the pattern of the previous level
/// (for level 1, to the raw value).
fn apply_level(prev: &[u16], level: usize) -> Vec<u16> {
    match level {
        1 => encode_raw(prev),
        2 => digits_to_any_len(prev),
        3 => merge_letter_case(prev),
        4 => absorb_inner(prev, DIGIT, DOT),
        5 => absorb_inner(prev, ALPHA, SPACE),
        6 => minus_digit_to_digit(prev),
        _ => unreachable!("levels run from 1 to 6"),
    }
}

fn pattern_at_level(value: &[u16], level: usize) -> Vec<u16> {
    let mut p = value.to_vec();
    for l in 1..=level {
        p = apply_level(&p, l);
    }
    p
}

fn cell_units(v: &Option<String>) -> Vec<u16> {
    match v {
        Some(s) => s.encode_utf16().collect(),
        None => "NULL".encode_utf16().collect(),
    }
}

/// Detect disguised missing values column by column, returning the new columns.
///
/// `columns[c][r]` is row `r` of column `c` (`None` = null); all columns must have
/// the same length. Cells that do not follow their column's dominant pattern are
/// replaced by `Some(disguised_value)`; all other cells are returned unchanged.
pub fn syntactical_pattern_discovery(
    columns: &[Vec<Option<String>>],
    threshold: f64,
    disguised_value: &str,
) -> Vec<Vec<Option<String>>> {
    let mut result: Vec<Vec<Option<String>>> = columns.to_vec();
    for col in result.iter_mut() {
        let num_rows = col.len();
        if num_rows == 0 {
            continue;
        }
        let values: Vec<Vec<u16>> = col.iter().map(cell_units).collect();

        // Distinct values with their frequencies, in Java HashMap order.
        let mut hist: JavaHashMap<usize> = JavaHashMap::new();
        for v in &values {
            add_count(&mut hist, v.clone(), 1);
        }

        for level in 1..=6 {
            let mut next: JavaHashMap<usize> = JavaHashMap::new();
            for (p, &n) in hist.iter() {
                add_count(&mut next, apply_level(p, level), n);
            }
            // SystemDS copies the histogram into a second HashMap of ratios and
            // scans that one; keep its order too.
            let mut ratios: JavaHashMap<f64> = JavaHashMap::new();
            for (p, &n) in next.iter() {
                ratios.insert_new(p.clone(), n as f64 / num_rows as f64);
            }
            let dominant = ratios.iter().find(|&(_, &r)| r > threshold).map(|(p, _)| p.clone());
            if let Some(dom) = dominant {
                for (cell, v) in col.iter_mut().zip(&values) {
                    if pattern_at_level(v, level) != dom {
                        *cell = Some(disguised_value.to_string());
                    }
                }
                break;
            }
            hist = next;
        }
    }
    result
}

#[cfg(test)]
mod tests;
