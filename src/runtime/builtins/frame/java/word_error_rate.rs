//! Word error rate as computed by SystemDS 3.4.0's
//! `UtilFunctions.getWordErrorRate(r, h)` (used by the `wer` builtin).
//!
//! Both strings are cut into words at every single space character, with the
//! quirks of Java's `String.split(" ")`: runs of spaces give empty words, an
//! empty word at the front is kept, empty words at the end are dropped, and a
//! string without any space (including `""`) is one word.
//! The result is the word-level Levenshtein distance (insert, delete and
//! substitute all cost 1) divided by the larger of the two word counts.
//! When one side has no words at all (e.g. `" "`), the result is the other
//! side's word count (not a ratio), as in SystemDS.
//!
//! The caller prints the value with Java's `Double.toString`.

/// Split like Java's `s.split(" ")`.
fn java_split_space(s: &str) -> Vec<&str> {
    if !s.contains(' ') {
        return vec![s];
    }
    let mut parts: Vec<&str> = s.split(' ').collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts
}

/// Word error rate between reference `a` and hypothesis `b`, as SystemDS computes it.
pub fn word_error_rate(a: &str, b: &str) -> f64 {
    let mut s = java_split_space(a);
    let mut t = java_split_space(b);
    if s.is_empty() || t.is_empty() {
        return s.len().max(t.len()) as f64;
    }
    // Keep the shorter sequence in the row buffer (the distance is symmetric).
    if s.len() > t.len() {
        std::mem::swap(&mut s, &mut t);
    }
    let n = s.len();
    let m = t.len();
    let mut row: Vec<usize> = (0..=n).collect();
    for j in 1..=m {
        let mut diag = row[0];
        row[0] = j;
        for i in 1..=n {
            let above = row[i];
            let subst = diag + usize::from(s[i - 1] != t[j - 1]);
            row[i] = (row[i - 1] + 1).min(above + 1).min(subst);
            diag = above;
        }
    }
    row[n] as f64 / n.max(m) as f64
}

#[cfg(test)]
mod tests {
    use super::word_error_rate;

    /// Expected values printed by SystemDS 3.4.0 for
    /// `map(F, "x -> new String[]{String.valueOf(UtilFunctions.getWordErrorRate(x[0], x[1])),\"\"}", margin=1)`
    /// (and identical through the `wer` builtin).
    #[test]
    fn systemds_cases() {
        let cases: &[(&str, &str, f64)] = &[
            ("a b c", "a x c", 0.3333333333333333),
            ("hello world", "hello", 0.5),
            ("the cat sat on the mat", "the cat sat on mat", 0.16666666666666666),
            ("the cat sat", "a dog stood up", 1.0),
            ("", "", 0.0),
            ("", "a b", 1.0),
            ("a b", "", 1.0),
            (" ", "a b", 2.0),
            ("a b", " ", 2.0),
            ("   ", "   ", 0.0),
            ("a  b", "a b", 0.3333333333333333),
            (" a b", "a b", 0.3333333333333333),
            ("a b ", "a b", 0.0),
            ("a b   ", "a b", 0.0),
            ("same words here", "same words here", 0.0),
            ("one", "two", 1.0),
            ("a b c d e f g", "g f e d c b a", 0.8571428571428571),
            ("A B", "a b", 1.0),
            ("x y z", "x y z w v", 0.4),
            ("first second third fourth", "first third fourth fifth sixth", 0.6),
            ("a\tb", "a b", 1.0),
            ("kitten sitting", "sitting kitten", 1.0),
            ("a b c", "c", 0.6666666666666666),
            ("the the the", "the", 0.6666666666666666),
            ("this is a test", "this is test a", 0.5),
            ("1 2 3", "1 2 4", 0.3333333333333333),
            ("a", "a a a a a a a", 0.8571428571428571),
            ("a b c d e f g h i j", "a c e g i", 0.5),
            // A null cell reaches the row lambda as the text "null".
            ("a null", "null", 0.5),
        ];
        for (a, b, want) in cases {
            let got = word_error_rate(a, b);
            assert_eq!(got.to_bits(), want.to_bits(), "wer({a:?}, {b:?}) = {got}, want {want}");
        }
    }
}
