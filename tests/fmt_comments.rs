//! `dml fmt` keeps comments and blank lines: placement cases, a snapshot, the repository's DML
//! files as a corpus (same tree, same comments in the same order, a fixed point), random comment
//! insertion, and the `--check` / `--in-place` command line.
use dml::syntax::ast::{FileId, Program};
use dml::syntax::lexer::tokenize_with_comments;
use dml::syntax::{erase_spans, format_source, parse_program};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fmt(src: &str) -> String {
    match format_source(src, FileId(0)) {
        Ok(text) => text,
        Err(d) => panic!("does not parse: {d:?}\n{src}"),
    }
}

fn bare_tree(src: &str) -> Result<Program, String> {
    let mut p = parse_program(src, FileId(0)).map_err(|d| format!("{d:?}"))?;
    erase_spans(&mut p);
    Ok(p)
}

fn comment_texts(src: &str) -> Vec<String> {
    tokenize_with_comments(src, FileId(0)).1.into_iter().map(|c| c.text).collect()
}

/// The three promises of `dml fmt` for one source that parses; an error message otherwise.
fn check_properties(name: &str, src: &str) -> Result<(), String> {
    let once = format_source(src, FileId(0)).map_err(|d| format!("{name}: fmt failed: {d:?}"))?;
    let before = bare_tree(src)?;
    let after = bare_tree(&once).map_err(|e| format!("{name}: output does not parse: {e}\n{once}"))?;
    if before != after {
        return Err(format!("{name}: fmt changed the tree; output:\n{once}"));
    }
    if comment_texts(src) != comment_texts(&once) {
        return Err(format!(
            "{name}: comments changed:\n{:?}\n{:?}\noutput:\n{once}",
            comment_texts(src),
            comment_texts(&once)
        ));
    }
    let twice = fmt(&once);
    if twice != once {
        return Err(format!("{name}: not a fixed point; once:\n{once}\ntwice:\n{twice}"));
    }
    Ok(())
}

#[test]
fn the_example_of_the_issue() {
    let src = "# header\nx = 1   # trailing\n# block\nif (x > 0) {\n  print(\"a\")\n}\n";
    assert_eq!(fmt(src), "# header\nx = 1  # trailing\n# block\nif (x > 0) {\n  print(\"a\")\n}\n");
}

#[test]
fn leading_and_trailing_comments_in_blocks() {
    let src = "
f = function(int a) return (int b) {   # the function
    # first
    b = a   # copy
    while (b > 0) {
         b = b - 1  /* down */ # and down
         # end of loop
    }
    # end of function
}
";
    let want = "\
f = function(int a) return (int b) {  # the function
  # first
  b = a  # copy
  while (b > 0) {
    b = b - 1  /* down */ # and down
    # end of loop
  }
  # end of function
}
";
    assert_eq!(fmt(src), want);
}

#[test]
fn blank_lines_become_one_and_vanish_at_block_edges() {
    let src = "\n\nx = 1\n\n\n\ny = 2\n# c\n\nif (x) {\n\n  z = 3\n\n  # end\n\n}\n\n\n";
    assert_eq!(fmt(src), "x = 1\n\ny = 2\n# c\n\nif (x) {\n  z = 3\n\n  # end\n}\n");
}

#[test]
fn else_comments_and_chains() {
    let src = "
if (a) {
  x = 1
} # after then
else if (b) { # on the else-if line
  x = 2
}
else {
  # only a comment
}
";
    let want = "\
if (a) {
  x = 1
} else if (b) {
  # after then
  # on the else-if line
  x = 2
} else {
  # only a comment
}
";
    assert_eq!(fmt(src), want);
    // A comment inside `else { ... }` around a lone `if` keeps the braces.
    let nested = "if (a) {\n  x = 1\n} else {\n  # why\n  if (b) {\n    x = 2\n  }\n}\n";
    assert_eq!(fmt(nested), nested);
    let flat = "if (a) {\n  x = 1\n} else {\n  if (b) {\n    x = 2\n  }\n}\n";
    assert_eq!(fmt(flat), "if (a) {\n  x = 1\n} else if (b) {\n  x = 2\n}\n");
}

#[test]
fn comments_inside_statements_move_before_them() {
    let src = "x = f(1, # one\n      2)  # after\nfor (i in 1:3 /* range */) {\n  y = i\n}\n";
    assert_eq!(fmt(src), "# one\nx = f(1, 2)  # after\n/* range */\nfor (i in 1:3) {\n  y = i\n}\n");
}

#[test]
fn bodies_without_braces_keep_their_comments() {
    let src = "if (a) x = 1 # then\nelse y = 2 # else\nwhile (c) c = c - 1 # loop\nz = 3\n";
    let want = "if (a) {\n  x = 1  # then\n} else {\n  y = 2  # else\n}\nwhile (c) {\n  c = c - 1  # loop\n}\nz = 3\n";
    assert_eq!(fmt(src), want);
}

#[test]
fn block_comments_are_verbatim() {
    let src =
        "/* a\n   b\n*/ x = 1\nif (x) {\n      /** doc\n        * more */\n  y = 2 /* t1\nt2 */ z = 3\n}\n";
    let want =
        "/* a\n   b\n*/\nx = 1\nif (x) {\n  /** doc\n        * more */\n  y = 2  /* t1\nt2 */\n  z = 3\n}\n";
    assert_eq!(fmt(src), want);
}

#[test]
fn comments_only_and_empty() {
    assert_eq!(fmt(""), "");
    assert_eq!(fmt("\n\n"), "");
    assert_eq!(fmt("# a\n\n\n# b"), "# a\n\n# b\n");
    assert_eq!(fmt("x = 1 # a\r\n# b  \r\n"), "x = 1  # a\n# b\n");
    assert_eq!(fmt("f = function() { # todo\n}\n"), "f = function() {  # todo\n}\n");
    assert_eq!(fmt("f = function() {}\n"), "f = function() {}\n");
}

#[test]
fn snapshot_of_a_commented_script() {
    let src =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fmt_comments.dml"))
            .expect("sample script");
    let out = fmt(&src);
    check_properties("fmt_comments.dml", &src).unwrap();
    insta::assert_snapshot!(out);
}

fn dml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            dml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "dml") {
            out.push(p);
        }
    }
}

/// Every DML file of the repository that parses.
fn corpus() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![];
    for dir in ["stdlib-nn", "tests/conformance", "tests/parse_corpus", "tests/data", "examples"] {
        dml_files(&root.join(dir), &mut files);
    }
    files.sort();
    files
        .into_iter()
        .filter_map(|f| {
            let src = String::from_utf8_lossy(&std::fs::read(&f).ok()?).into_owned();
            parse_program(&src, FileId(0)).ok()?;
            Some((f.strip_prefix(root).unwrap_or(&f).display().to_string(), src))
        })
        .collect()
}

#[test]
fn repository_scripts_keep_tree_and_comments_and_are_fixed_points() {
    let corpus = corpus();
    assert!(corpus.len() > 500, "only {} scripts found", corpus.len());
    let failures: Vec<String> =
        corpus.iter().filter_map(|(name, src)| check_properties(name, src).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} scripts:\n{}",
        failures.len(),
        corpus.len(),
        failures.join("\n\n")
    );
}

const INSERTS: &[&str] =
    &["# c\n", " /* b */ ", "\n/* multi\n   line */\n", "\n\n# after a blank line\n\n", "/**/", " # t\n"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Comments inserted between any two tokens of a repository script: wherever they land,
    /// fmt keeps the tree and every comment in order, and formatting again changes nothing.
    #[test]
    fn comments_anywhere_are_kept(
        pick in any::<prop::sample::Index>(),
        spots in prop::collection::vec((any::<prop::sample::Index>(), 0..INSERTS.len()), 1..8),
    ) {
        thread_local! {
            static SMALL: Vec<(String, String)> =
                corpus().into_iter().filter(|(_, src)| src.len() < 4000).collect();
        }
        let (name, src) = SMALL.with(|c| c[pick.index(c.len())].clone());
        let tokens = dml::syntax::lexer::tokenize(&src, FileId(0)).0;
        prop_assume!(!tokens.is_empty());
        let mut at: Vec<(usize, &str)> =
            spots.iter().map(|(i, k)| (tokens[i.index(tokens.len())].2, INSERTS[*k])).collect();
        at.sort();
        let mut text = String::new();
        let mut from = 0;
        for (offset, insert) in at {
            text.push_str(&src[from..offset]);
            text.push_str(insert);
            from = offset;
        }
        text.push_str(&src[from..]);
        // A new line before `[` can change what it means; such inputs may not parse.
        prop_assume!(parse_program(&text, FileId(0)).is_ok());
        if let Err(e) = check_properties(&name, &text) {
            prop_assert!(false, "{}\ninput:\n{}", e, text);
        }
    }
}

fn temp_script(tag: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dml-fmt-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("s.dml");
    std::fs::write(&path, text).expect("write script");
    path
}

fn dml(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dml")).args(args).output().expect("run dml")
}

#[test]
fn check_flag_names_files_that_would_change() {
    let clean = temp_script("clean", "# ok\nx = 1  # one\n");
    let dirty = temp_script("dirty", "# ok\nx=1 # one\n");
    let out = dml(&["fmt", "--check", clean.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty());
    let out = dml(&["fmt", "--check", clean.to_str().unwrap(), dirty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(dirty.to_str().unwrap()) && !said.contains(clean.to_str().unwrap()), "{said}");
    assert!(said.contains("line 2"), "{said}");
    assert_eq!(std::fs::read_to_string(&dirty).unwrap(), "# ok\nx=1 # one\n", "--check writes nothing");
}

#[test]
fn in_place_rewrites_only_what_changes() {
    let path = temp_script("inplace", "if(a){x=1} # c\n");
    let out = dml(&["fmt", "-i", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "if (a) {\n  x = 1\n}  # c\n");
    let out = dml(&["fmt", "--in-place", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let leftovers = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
    assert_eq!(leftovers, 1, "no temporary file is left behind");
    // A syntax error leaves the file alone.
    let bad = temp_script("bad", "x = (1\n");
    let out = dml(&["fmt", "-i", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), "x = (1\n");
}

#[test]
fn printing_wants_exactly_one_file() {
    let path = temp_script("print", "x=1 # c\n");
    let out = dml(&["fmt", path.to_str().unwrap()]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "x = 1  # c\n");
    let out = dml(&["fmt", path.to_str().unwrap(), path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let out = dml(&["fmt", "--check", "-i", path.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0), "--check and --in-place conflict");
}
