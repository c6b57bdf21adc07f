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
mod tests {
    use super::*;

    fn col(v: &[&str]) -> Vec<Option<String>> {
        v.iter().map(|s| Some(s.to_string())).collect()
    }

    #[test]
    fn brief_example() {
        let x = vec![col(&["1", "2", "3", "abc", "5", "7"])];
        let y = syntactical_pattern_discovery(&x, 0.6, "NA");
        assert_eq!(y, vec![col(&["1", "2", "3", "NA", "5", "7"])]);
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    struct Case {
        name: &'static str,
        threshold: f64,
        disguised: &'static str,
        input: Vec<Vec<Option<String>>>,
        expected: Vec<Vec<Option<String>>>,
    }

    /// Frames run through SystemDS 3.4.0 as
    /// `map(X, "UtilFunctions.syntacticalPatternDiscovery(<threshold>,<disguised>)")`
    /// (read from and written to CSV; `None` is an empty CSV field, i.e. null).
    #[test]
    fn systemds_frames() {
        let cases = vec![
            Case {
                name: "ints_words",
                threshold: 0.6,
                disguised: "NA",
                input: vec![vec![s("12"), s("345"), s("6"), s("abc"), s("78"), s("9"), s("N/A"), s("1000")]],
                expected: vec![vec![s("12"), s("345"), s("6"), s("NA"), s("78"), s("9"), s("NA"), s("1000")]],
            },
            Case {
                name: "decimals",
                threshold: 0.6,
                disguised: "NA",
                input: vec![vec![
                    s("1.5"),
                    s("2.25"),
                    s("-3.0"),
                    s("4"),
                    s("abc"),
                    s("5.5"),
                    s("0.1"),
                    s("?"),
                ]],
                expected: vec![vec![
                    s("1.5"),
                    s("2.25"),
                    s("NA"),
                    s("4"),
                    s("NA"),
                    s("5.5"),
                    s("0.1"),
                    s("NA"),
                ]],
            },
            Case {
                name: "names",
                threshold: 0.7,
                disguised: "NA",
                input: vec![vec![
                    s("John Smith"),
                    s("Mary Jane"),
                    s("Bob"),
                    s("alice"),
                    s("X Y"),
                    s("---"),
                    s("Tom Hanks"),
                    s("Ann Lee"),
                ]],
                expected: vec![vec![
                    s("John Smith"),
                    s("Mary Jane"),
                    s("Bob"),
                    s("alice"),
                    s("X Y"),
                    s("NA"),
                    s("Tom Hanks"),
                    s("Ann Lee"),
                ]],
            },
            Case {
                name: "case_mix",
                threshold: 0.8,
                disguised: "NaN",
                input: vec![vec![
                    s("ABC"),
                    s("abc"),
                    s("AbC"),
                    s("aBc"),
                    s("123"),
                    s("Abc"),
                    s("xyz"),
                    s("QQ"),
                ]],
                expected: vec![vec![
                    s("ABC"),
                    s("abc"),
                    s("AbC"),
                    s("aBc"),
                    s("NaN"),
                    s("Abc"),
                    s("xyz"),
                    s("QQ"),
                ]],
            },
            Case {
                name: "negatives",
                threshold: 0.6,
                disguised: "NA",
                input: vec![vec![s("-1"), s("-22"), s("3"), s("-4.5"), s("x"), s("-"), s("7"), s("-8")]],
                expected: vec![vec![s("-1"), s("-22"), s("3"), s("-4.5"), s("x"), s("-"), s("7"), s("-8")]],
            },
            Case {
                name: "phones",
                threshold: 0.6,
                disguised: "NA",
                input: vec![vec![
                    s("555-1234"),
                    s("555-9876"),
                    s("123-4567"),
                    s("unknown"),
                    s("5551234"),
                    s("555-0000"),
                ]],
                expected: vec![vec![
                    s("555-1234"),
                    s("555-9876"),
                    s("123-4567"),
                    s("NA"),
                    s("NA"),
                    s("555-0000"),
                ]],
            },
            Case {
                name: "dates",
                threshold: 0.6,
                disguised: "?",
                input: vec![vec![
                    s("2020-01-01"),
                    s("2021-12-31"),
                    s("1999-05-05"),
                    s("00/00/0000"),
                    s("2000-02-29"),
                    s("n/a"),
                ]],
                expected: vec![vec![
                    s("2020-01-01"),
                    s("2021-12-31"),
                    s("1999-05-05"),
                    s("?"),
                    s("2000-02-29"),
                    s("?"),
                ]],
            },
            Case {
                name: "nulls_few",
                threshold: 0.6,
                disguised: "NA",
                input: vec![
                    vec![s("a"), None, s("b"), s("c"), None, s("d")],
                    vec![s("k"), s("k"), s("k"), s("k"), s("k"), s("k")],
                ],
                expected: vec![
                    vec![s("a"), s("NA"), s("b"), s("c"), s("NA"), s("d")],
                    vec![s("k"), s("k"), s("k"), s("k"), s("k"), s("k")],
                ],
            },
            Case {
                name: "nulls_most",
                threshold: 0.7,
                disguised: "NA",
                input: vec![vec![None, None, None, s("x"), None], vec![s("k"), None, s("k"), s("k"), s("k")]],
                expected: vec![
                    vec![None, None, None, s("NA"), None],
                    vec![s("k"), s("NA"), s("k"), s("k"), s("k")],
                ],
            },
            Case {
                name: "spaces",
                threshold: 0.6,
                disguised: "NA",
                input: vec![vec![
                    s("new york"),
                    s("los angeles"),
                    s("san francisco"),
                    s("boston"),
                    None,
                    s("chicago il"),
                ]],
                expected: vec![vec![
                    s("new york"),
                    s("los angeles"),
                    s("san francisco"),
                    s("NA"),
                    s("NA"),
                    s("chicago il"),
                ]],
            },
            Case {
                name: "emails",
                threshold: 0.6,
                disguised: "NA",
                input: vec![vec![
                    s("a@b.com"),
                    s("foo@bar.org"),
                    s("x.y@z.de"),
                    s("none"),
                    s("test@test.com"),
                ]],
                expected: vec![vec![
                    s("a@b.com"),
                    s("foo@bar.org"),
                    s("x.y@z.de"),
                    s("NA"),
                    s("test@test.com"),
                ]],
            },
            Case {
                name: "low_threshold",
                threshold: 0.2,
                disguised: "NA",
                input: vec![vec![s("1"), s("a"), s("A"), s("1"), s("a"), s("A"), s("."), s("22")]],
                expected: vec![vec![s("NA"), s("a"), s("NA"), s("NA"), s("a"), s("NA"), s("NA"), s("NA")]],
            },
            Case {
                name: "low_threshold2",
                threshold: 0.1,
                disguised: "D",
                input: vec![vec![
                    s("x1"),
                    s("Y"),
                    s("zz"),
                    s("1.0"),
                    s("x1"),
                    s("Y"),
                    s("zz"),
                    s("1.0"),
                    s("-"),
                ]],
                expected: vec![vec![
                    s("x1"),
                    s("D"),
                    s("D"),
                    s("D"),
                    s("x1"),
                    s("D"),
                    s("D"),
                    s("D"),
                    s("D"),
                ]],
            },
            Case {
                name: "no_dominant",
                threshold: 0.9,
                disguised: "NA",
                input: vec![vec![s("1"), s("a"), s("B"), s("."), s("-"), s("a b"), s("1.5"), s("x-y")]],
                expected: vec![vec![s("1"), s("a"), s("B"), s("."), s("-"), s("a b"), s("1.5"), s("x-y")]],
            },
            Case {
                name: "multi_col",
                threshold: 0.8,
                disguised: "NaN",
                input: vec![
                    vec![s("1"), s("2"), s("3"), s("4"), s("5"), s("six"), s("7"), s("8"), s("9"), s("10")],
                    vec![s("a"), s("b"), s("c"), s("d"), s("e"), s("f"), s("g"), s("h"), s("i"), s("9")],
                    vec![
                        s("1.0"),
                        s("2.5"),
                        s("-3"),
                        s("abc"),
                        s("4.25"),
                        s("5"),
                        s("6.0"),
                        s("7.75"),
                        s("8.5"),
                        s("9.0"),
                    ],
                    vec![
                        s("Mr X"),
                        s("Ms Y"),
                        s("Dr Z"),
                        s("??"),
                        s("Mr A"),
                        s("Ms B"),
                        s("Dr C"),
                        s("Mr D"),
                        s("Ms E"),
                        s("Dr F"),
                    ],
                ],
                expected: vec![
                    vec![s("1"), s("2"), s("3"), s("4"), s("5"), s("NaN"), s("7"), s("8"), s("9"), s("10")],
                    vec![s("a"), s("b"), s("c"), s("d"), s("e"), s("f"), s("g"), s("h"), s("i"), s("NaN")],
                    vec![
                        s("1.0"),
                        s("2.5"),
                        s("-3"),
                        s("abc"),
                        s("4.25"),
                        s("5"),
                        s("6.0"),
                        s("7.75"),
                        s("8.5"),
                        s("9.0"),
                    ],
                    vec![
                        s("Mr X"),
                        s("Ms Y"),
                        s("Dr Z"),
                        s("NaN"),
                        s("Mr A"),
                        s("Ms B"),
                        s("Dr C"),
                        s("Mr D"),
                        s("Ms E"),
                        s("Dr F"),
                    ],
                ],
            },
            Case {
                name: "multi_col_06",
                threshold: 0.6,
                disguised: "NA",
                input: vec![
                    vec![s("10"), s("20"), s("30"), s("x"), s("50")],
                    vec![s("aa"), s("bb"), s("CC"), s("dd"), s("1")],
                    vec![s("1.1"), s("2.2"), s("3.3"), s("4.4"), s("5")],
                ],
                expected: vec![
                    vec![s("10"), s("20"), s("30"), s("NA"), s("50")],
                    vec![s("aa"), s("bb"), s("CC"), s("dd"), s("NA")],
                    vec![s("1.1"), s("2.2"), s("3.3"), s("4.4"), s("NA")],
                ],
            },
            Case {
                name: "level6",
                threshold: 0.85,
                disguised: "NA",
                input: vec![vec![
                    s("-1.5"),
                    s("2.0"),
                    s("-3"),
                    s("4.25"),
                    s("-5.5"),
                    s("abc"),
                    s("-7.0"),
                    s("8"),
                ]],
                expected: vec![vec![
                    s("-1.5"),
                    s("2.0"),
                    s("-3"),
                    s("4.25"),
                    s("-5.5"),
                    s("abc"),
                    s("-7.0"),
                    s("8"),
                ]],
            },
            Case {
                name: "level5_words",
                threshold: 0.8,
                disguised: "NA",
                input: vec![vec![
                    s("hello world"),
                    s("foo bar baz"),
                    s("one"),
                    s("Two Words"),
                    s("x y z"),
                    s("123"),
                    s("Hi There"),
                    s("a b"),
                ]],
                expected: vec![vec![
                    s("hello world"),
                    s("foo bar baz"),
                    s("one"),
                    s("Two Words"),
                    s("x y z"),
                    s("NA"),
                    s("Hi There"),
                    s("a b"),
                ]],
            },
            Case {
                name: "thresh_09",
                threshold: 0.9,
                disguised: "NA",
                input: vec![vec![
                    s("100"),
                    s("200"),
                    s("300"),
                    s("400"),
                    s("500"),
                    s("600"),
                    s("700"),
                    s("800"),
                    s("900"),
                    s("x"),
                ]],
                expected: vec![vec![
                    s("100"),
                    s("200"),
                    s("300"),
                    s("400"),
                    s("500"),
                    s("600"),
                    s("700"),
                    s("800"),
                    s("900"),
                    s("x"),
                ]],
            },
            Case {
                name: "thresh_089",
                threshold: 0.89,
                disguised: "NA",
                input: vec![vec![
                    s("100"),
                    s("200"),
                    s("300"),
                    s("400"),
                    s("500"),
                    s("600"),
                    s("700"),
                    s("800"),
                    s("900"),
                    s("x"),
                ]],
                expected: vec![vec![
                    s("100"),
                    s("200"),
                    s("300"),
                    s("400"),
                    s("500"),
                    s("600"),
                    s("700"),
                    s("800"),
                    s("900"),
                    s("NA"),
                ]],
            },
            Case {
                name: "punct",
                threshold: 0.6,
                disguised: "NA",
                input: vec![vec![s("a_b"), s("c_d"), s("e_f"), s("g-h"), s("i_j"), s("k.l")]],
                expected: vec![vec![s("a_b"), s("c_d"), s("e_f"), s("NA"), s("i_j"), s("NA")]],
            },
            Case {
                name: "big_low",
                threshold: 0.3,
                disguised: "NA",
                input: vec![vec![
                    s("0"),
                    s("w1"),
                    s("Q.2"),
                    s("3"),
                    s("w4"),
                    s("Q.5"),
                    s("6"),
                    s("w7"),
                    s("Q.8"),
                    s("9"),
                    s("w10"),
                    s("Q.11"),
                    s("12"),
                    s("w13"),
                    s("Q.14"),
                    s("15"),
                    s("w16"),
                    s("Q.17"),
                    s("18"),
                    s("w19"),
                    s("Q.20"),
                    s("21"),
                    s("w22"),
                    s("Q.23"),
                    s("24"),
                    s("w25"),
                    s("Q.26"),
                    s("27"),
                    s("w28"),
                    s("Q.29"),
                    s("30"),
                    s("w31"),
                    s("Q.32"),
                    s("33"),
                    s("w34"),
                    s("Q.35"),
                    s("36"),
                    s("w37"),
                    s("Q.38"),
                    s("39"),
                ]],
                expected: vec![vec![
                    s("NA"),
                    s("w1"),
                    s("NA"),
                    s("NA"),
                    s("w4"),
                    s("NA"),
                    s("NA"),
                    s("w7"),
                    s("NA"),
                    s("NA"),
                    s("w10"),
                    s("NA"),
                    s("NA"),
                    s("w13"),
                    s("NA"),
                    s("NA"),
                    s("w16"),
                    s("NA"),
                    s("NA"),
                    s("w19"),
                    s("NA"),
                    s("NA"),
                    s("w22"),
                    s("NA"),
                    s("NA"),
                    s("w25"),
                    s("NA"),
                    s("NA"),
                    s("w28"),
                    s("NA"),
                    s("NA"),
                    s("w31"),
                    s("NA"),
                    s("NA"),
                    s("w34"),
                    s("NA"),
                    s("NA"),
                    s("w37"),
                    s("NA"),
                    s("NA"),
                ]],
            },
            Case {
                name: "many_distinct",
                threshold: 0.25,
                disguised: "NA",
                input: vec![vec![
                    s("0.0"),
                    s("v1a7b"),
                    s("v2a1b"),
                    s("v3a8b"),
                    s("4.4"),
                    s("v5a9b"),
                    s("v6a3b"),
                    s("v7a10b"),
                    s("8.8"),
                    s("v9a11b"),
                    s("v10a5b"),
                    s("v11a12b"),
                    s("12.12"),
                    s("v13a0b"),
                    s("v14a7b"),
                    s("v15a1b"),
                    s("16.16"),
                    s("v17a2b"),
                    s("v18a9b"),
                    s("v19a3b"),
                    s("20.20"),
                    s("v21a4b"),
                    s("v22a11b"),
                    s("v23a5b"),
                    s("24.24"),
                    s("v25a6b"),
                    s("v26a0b"),
                    s("v27a7b"),
                    s("28.28"),
                    s("v29a8b"),
                    s("v30a2b"),
                    s("v31a9b"),
                    s("32.32"),
                    s("v33a10b"),
                    s("v34a4b"),
                    s("v35a11b"),
                    s("36.36"),
                    s("v37a12b"),
                    s("v38a6b"),
                    s("v39a0b"),
                    s("40.40"),
                    s("v41a1b"),
                    s("v42a8b"),
                    s("v43a2b"),
                    s("44.44"),
                    s("v45a3b"),
                    s("v46a10b"),
                    s("v47a4b"),
                    s("48.48"),
                    s("v49a5b"),
                    s("v50a12b"),
                    s("v51a6b"),
                    s("52.52"),
                    s("v53a7b"),
                    s("v54a1b"),
                    s("v55a8b"),
                    s("56.56"),
                    s("v57a9b"),
                    s("v58a3b"),
                    s("v59a10b"),
                ]],
                expected: vec![vec![
                    s("NA"),
                    s("NA"),
                    s("NA"),
                    s("NA"),
                    s("NA"),
                    s("NA"),
                    s("NA"),
                    s("NA"),
                    s("NA"),
                    s("NA"),
                    s("v10a5b"),
                    s("NA"),
                    s("NA"),
                    s("v13a0b"),
                    s("v14a7b"),
                    s("v15a1b"),
                    s("NA"),
                    s("v17a2b"),
                    s("v18a9b"),
                    s("v19a3b"),
                    s("NA"),
                    s("v21a4b"),
                    s("NA"),
                    s("v23a5b"),
                    s("NA"),
                    s("v25a6b"),
                    s("v26a0b"),
                    s("v27a7b"),
                    s("NA"),
                    s("v29a8b"),
                    s("v30a2b"),
                    s("v31a9b"),
                    s("NA"),
                    s("NA"),
                    s("v34a4b"),
                    s("NA"),
                    s("NA"),
                    s("NA"),
                    s("v38a6b"),
                    s("v39a0b"),
                    s("NA"),
                    s("v41a1b"),
                    s("v42a8b"),
                    s("v43a2b"),
                    s("NA"),
                    s("v45a3b"),
                    s("NA"),
                    s("v47a4b"),
                    s("NA"),
                    s("v49a5b"),
                    s("NA"),
                    s("v51a6b"),
                    s("NA"),
                    s("v53a7b"),
                    s("v54a1b"),
                    s("v55a8b"),
                    s("NA"),
                    s("v57a9b"),
                    s("v58a3b"),
                    s("NA"),
                ]],
            },
            Case {
                name: "mixed_digits_letters",
                threshold: 0.6,
                disguised: "NA",
                input: vec![vec![s("a1"), s("b2"), s("c3"), s("d4"), s("e5"), s("ab12"), s("x"), s("1a")]],
                expected: vec![vec![s("a1"), s("b2"), s("c3"), s("d4"), s("e5"), s("NA"), s("NA"), s("NA")]],
            },
            Case {
                name: "leading_dot",
                threshold: 0.6,
                disguised: "NA",
                input: vec![vec![s(".5"), s(".25"), s("0.5"), s("1."), s("abc"), s(".75")]],
                expected: vec![vec![s(".5"), s(".25"), s("0.5"), s("1."), s("NA"), s(".75")]],
            },
        ];
        let mut bad = Vec::new();
        for c in &cases {
            let got = syntactical_pattern_discovery(&c.input, c.threshold, c.disguised);
            if got != c.expected {
                bad.push(format!("{}: got {:?}\n  want {:?}", c.name, got, c.expected));
            }
        }
        assert!(bad.is_empty(), "mismatches:\n{}", bad.join("\n"));
    }
}
