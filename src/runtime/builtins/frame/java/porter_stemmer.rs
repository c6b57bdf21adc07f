//! Porter-style stemmer matching the behaviour of SystemDS 3.4.0's
//! `PorterStemmer.stem(x)` (as reachable from DML via
//! `map(F, "x -> PorterStemmer.stem(x)")`).
//!
//! Behaviour notes (all verified against SystemDS output, see tests):
//! * No case folding: only lower-case `a e i o u` count as vowels, so upper-case
//!   letters, digits and punctuation all behave like consonants and only
//!   lower-case suffixes are recognised (`"RUNNING"` stays as is).
//! * Words shorter than 3 UTF-16 code units (including `""`) are returned unchanged.
//! * The rule set deviates from the textbook algorithm in several places
//!   (e.g. `-eed` tests the measure of the whole word, `-log` becomes `-logi`,
//!   step 4 uses `m > 1` of the remaining stem, the first matching suffix of a
//!   step stops that step even when its condition fails); we reproduce it.
//! * Steps 2 and 3 try their suffixes in the iteration order of a Java `HashMap`
//!   holding them; that fixed order is spelled out in the tables below.
//!
//! The word is handled as UTF-16 code units like Java strings are.

/// Step 2 suffix table, in the order SystemDS tries them.
const STEP2: &[(&str, &str)] = &[
    ("alize", "al"),
    ("alli", "al"),
    ("log", "logi"),
    ("ative", ""),
    ("ational", "ate"),
    ("biliti", "ble"),
    ("ization", "ize"),
    ("icate", "ic"),
    ("tional", "tion"),
    ("ousli", "ous"),
    ("aliti", "al"),
    ("fulness", "ful"),
    ("bli", "ble"),
    ("enci", "ence"),
    ("eli", "e"),
    ("iveness", "ive"),
    ("ousness", "ous"),
    ("entli", "ent"),
    ("izer", "ize"),
    ("iviti", "ive"),
    ("alism", "al"),
    ("iciti", "ic"),
    ("ical", "ic"),
    ("ation", "ate"),
    ("ator", "ate"),
    ("anci", "ance"),
];

/// Step 3 suffix table, in the order SystemDS tries them.
const STEP3: &[(&str, &str)] = &[
    ("alize", "al"),
    ("iciti", "ic"),
    ("ical", "ic"),
    ("ness", ""),
    ("ative", ""),
    ("ful", ""),
    ("icate", "ic"),
];

const STEP4_MAIN: &[&str] =
    &["al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent"];
const STEP4_LATE: &[&str] = &["ou", "ism", "ate", "iti", "ous", "ive", "ize"];

type W = Vec<u16>;

fn u(s: &str) -> W {
    s.encode_utf16().collect()
}

fn ends_with(w: &[u16], suf: &str) -> bool {
    let s = u(suf);
    w.len() >= s.len() && w[w.len() - s.len()..] == s[..]
}

fn chop(w: &[u16], n: usize) -> W {
    w[..w.len() - n].to_vec()
}

fn append(w: &[u16], s: &str) -> W {
    let mut r = w.to_vec();
    r.extend(s.encode_utf16());
    r
}

fn is_vowel_unit(c: u16) -> bool {
    matches!(c, 0x61 | 0x65 | 0x69 | 0x6f | 0x75) // a e i o u
}

/// Consonant test: anything but a lower-case vowel; a `y` is a consonant at the
/// start or after a vowel, and a vowel after a consonant.
fn consonant(w: &[u16], i: usize) -> bool {
    let c = w[i];
    if is_vowel_unit(c) {
        return false;
    }
    if c == 0x79 {
        // 'y'
        return i == 0 || !consonant(w, i - 1);
    }
    true
}

/// Number of vowel-to-consonant transitions (a consonant run that is not at
/// position 0 and follows a vowel run).
fn measure(w: &[u16]) -> usize {
    let mut count = 0;
    let mut in_cons = false;
    for i in 0..w.len() {
        if consonant(w, i) {
            if !in_cons && i != 0 {
                count += 1;
            }
            in_cons = true;
        } else {
            in_cons = false;
        }
    }
    count
}

fn double_consonant(w: &[u16]) -> bool {
    if w.len() < 2 {
        return false;
    }
    let l = w.len() - 1;
    w[l] == w[l - 1] && consonant(w, l)
}

fn cvc(w: &[u16]) -> bool {
    let n = w.len();
    if n < 3 {
        return false;
    }
    let l = n - 1;
    if !consonant(w, l) || consonant(w, l - 1) || !consonant(w, l - 2) {
        return false;
    }
    !matches!(w[l], 0x77..=0x79) // w, x or y
}

/// True when the part of `w` before a suffix of length `suf_len` holds a vowel.
fn vowel_before(w: &[u16], suf_len: usize) -> bool {
    let n = w.len().saturating_sub(suf_len);
    (0..n).any(|i| !consonant(w, i))
}

/// Outcome of trying one suffix: not present, or present (word possibly changed).
fn try_suffix(w: &[u16], suffix: &str, repl: &str, min_m: usize) -> Option<W> {
    if !ends_with(w, suffix) {
        return None;
    }
    let stem = chop(w, suffix.encode_utf16().count());
    if measure(&stem) > min_m { Some(append(&stem, repl)) } else { Some(w.to_vec()) }
}

fn step1(mut w: W) -> W {
    if ends_with(&w, "s") {
        if ends_with(&w, "sses") {
            w = chop(&w, 2);
        } else if ends_with(&w, "ies") {
            w = append(&chop(&w, 3), "i");
        } else if !ends_with(&w, "ss") {
            w = chop(&w, 1);
        }
    }
    let mut stripped = false;
    if ends_with(&w, "eed") {
        if measure(&w) > 1 {
            w = chop(&w, 1);
        }
    } else if ends_with(&w, "ed") && vowel_before(&w, 2) {
        w = chop(&w, 2);
        stripped = true;
    } else if ends_with(&w, "ing") && vowel_before(&w, 3) {
        w = chop(&w, 3);
        stripped = true;
    }
    if stripped {
        if ends_with(&w, "at") || ends_with(&w, "bl") || ends_with(&w, "iz") {
            w = append(&w, "e");
        }
        let m = measure(&w);
        // (the stem keeps the vowel found before the suffix, so it is never empty)
        let last = w.last().copied().unwrap_or(0);
        if double_consonant(&w) && !matches!(last, 0x6c | 0x73 | 0x7a) {
            // not l, s, z
            w.pop();
        } else if m == 1 && cvc(&w) {
            w = append(&w, "e");
        }
    }
    if ends_with(&w, "y") && vowel_before(&w, 1) {
        w = append(&chop(&w, 1), "i");
    }
    w
}

fn table_step(w: W, table: &[(&str, &str)]) -> W {
    if w.is_empty() {
        return w;
    }
    for (suf, repl) in table {
        if let Some(r) = try_suffix(&w, suf, repl, 0) {
            return r;
        }
    }
    w
}

fn step4(w: W) -> W {
    for suf in STEP4_MAIN {
        if let Some(r) = try_suffix(&w, suf, "", 1) {
            return r;
        }
    }
    if w.len() > 4 {
        let c = w[w.len() - 4];
        if c == 0x73 || c == 0x74 {
            // 's' or 't' four from the end
            if let Some(r) = try_suffix(&w, "ion", "", 1) {
                return r;
            }
        }
    }
    for suf in STEP4_LATE {
        if let Some(r) = try_suffix(&w, suf, "", 1) {
            return r;
        }
    }
    w
}

fn step5(mut w: W) -> W {
    let without_e = if ends_with(&w, "e") { chop(&w, 1) } else { w.clone() };
    if ends_with(&w, "e") && measure(&w) > 1 {
        w = without_e.clone();
    }
    if ends_with(&w, "e") && measure(&w) == 1 && !cvc(&without_e) {
        w = without_e.clone();
    }
    if ends_with(&w, "l") && double_consonant(&w) && measure(&w) > 1 {
        w.pop();
    }
    w
}

/// Stem one word the way SystemDS's `PorterStemmer.stem` does.
pub fn stem(word: &str) -> String {
    let mut w = u(word);
    if w.len() >= 3 {
        w = step1(w);
        w = table_step(w, STEP2);
        w = table_step(w, STEP3);
        w = step4(w);
        if !w.is_empty() {
            w = step5(w);
        }
    }
    String::from_utf16_lossy(&w)
}

#[cfg(test)]
mod tests {
    use super::stem;

    #[test]
    fn brief_example() {
        let cases = [
            ("running", "run"),
            ("flies", "fli"),
            ("Happily", "Happili"),
            ("caresses", "caress"),
            ("a1b", "a1b"),
            ("", ""),
            ("ponies", "poni"),
        ];
        for (i, o) in cases {
            assert_eq!(stem(i), o, "stem({i:?})");
        }
    }
    /// Expected values printed by SystemDS 3.4.0 for
    /// `map(F, "x -> PorterStemmer.stem(x)")` over a one-column frame of these words.
    #[test]
    fn systemds_word_list() {
        let cases: &[(&str, &str)] = &[
            ("caresses", "caress"),
            ("ponies", "poni"),
            ("ties", "ti"),
            ("caress", "caress"),
            ("cats", "cat"),
            ("feed", "feed"),
            ("agreed", "agre"),
            ("plastered", "plaster"),
            ("bled", "bled"),
            ("motoring", "motor"),
            ("sing", "sing"),
            ("conflated", "conflat"),
            ("troubled", "troubl"),
            ("sized", "size"),
            ("hopping", "hop"),
            ("tanned", "tan"),
            ("falling", "fall"),
            ("hissing", "hiss"),
            ("fizzed", "fizz"),
            ("failing", "fail"),
            ("filing", "file"),
            ("happy", "happi"),
            ("sky", "sky"),
            ("relational", "relat"),
            ("conditional", "condit"),
            ("rational", "ration"),
            ("valenci", "valenc"),
            ("hesitanci", "hesit"),
            ("digitizer", "digit"),
            ("conformabli", "conform"),
            ("radicalli", "radic"),
            ("differentli", "differ"),
            ("vileli", "vile"),
            ("analogousli", "analog"),
            ("vietnamization", "vietnam"),
            ("predication", "predic"),
            ("operator", "oper"),
            ("feudalism", "feudal"),
            ("decisiveness", "decis"),
            ("hopefulness", "hope"),
            ("callousness", "callous"),
            ("formaliti", "formal"),
            ("sensitiviti", "sensit"),
            ("sensibiliti", "sensibl"),
            ("triplicate", "triplic"),
            ("formative", "form"),
            ("formalize", "formal"),
            ("electriciti", "electr"),
            ("electrical", "electr"),
            ("hopeful", "hope"),
            ("goodness", "good"),
            ("revival", "reviv"),
            ("allowance", "allow"),
            ("inference", "infer"),
            ("airliner", "airlin"),
            ("gyroscopic", "gyroscop"),
            ("adjustable", "adjust"),
            ("defensible", "defens"),
            ("irritant", "irrit"),
            ("replacement", "replac"),
            ("adjustment", "adjust"),
            ("dependent", "depend"),
            ("adoption", "adopt"),
            ("homologou", "homolog"),
            ("communism", "commun"),
            ("activate", "activ"),
            ("angulariti", "angular"),
            ("homologous", "homolog"),
            ("effective", "effect"),
            ("bowdlerize", "bowdler"),
            ("probate", "probat"),
            ("rate", "rate"),
            ("cease", "ceas"),
            ("controll", "control"),
            ("roll", "roll"),
            ("catalog", "catalogi"),
            ("RUNNING", "RUNNING"),
            ("Running", "Run"),
            ("don't", "don't"),
            ("123", "123"),
            ("12ing", "12ing"),
            ("x.y", "x.y"),
            ("ab", "ab"),
            ("a", "a"),
            ("eed", "eed"),
            ("ing", "ing"),
            ("yes", "ye"),
            ("sying", "sy"),
            ("played", "plai"),
            ("bleed", "bleed"),
            ("feeds", "feed"),
            ("generalization", "gener"),
            ("generalizations", "gener"),
            ("oscillators", "oscil"),
            ("national", "nation"),
            ("tional", "tional"),
            ("ational", "ation"),
            ("abate", "abat"),
            ("size", "size"),
            ("hoped", "hope"),
            ("toy", "toi"),
            ("syzygy", "syzygi"),
            ("running-shoes", "running-sho"),
            ("café", "café"),
            ("naïve", "naïv"),
            ("CATS", "CATS"),
            ("cats.", "cats."),
            ("ies", "i"),
            ("sses", "ss"),
            ("ed", "ed"),
        ];
        let mut bad = Vec::new();
        for (i, o) in cases {
            let got = stem(i);
            if got != *o {
                bad.push(format!("{i:?}: got {got:?}, want {o:?}"));
            }
        }
        assert!(bad.is_empty(), "mismatches:\n{}", bad.join("\n"));
    }
}
