//! The implementation table against the builtin table: every builtin the compiler turns into a
//! call has exactly one implementation, and no implementation names a builtin the table lacks.

use super::LISTS;
use crate::builtins::{BUILTINS, Lower, lookup};

/// Builtins compiled by the HOP builder by name that still end in a call of their
/// implementation (`append` of lists and strings).
const SPECIALS_CALLED_AT_RUN_TIME: &[&str] = &["append"];

#[test]
fn every_library_builtin_has_exactly_one_implementation() {
    let mut count = vec![0usize; BUILTINS.len()];
    for (name, _) in LISTS.iter().copied().flatten() {
        if let Some(id) = lookup(name) {
            count[id.0 as usize] += 1;
        }
    }
    let mut wrong = Vec::new();
    for (spec, n) in BUILTINS.iter().zip(&count) {
        let wanted = spec.lower == Lower::Library || SPECIALS_CALLED_AT_RUN_TIME.contains(&spec.name);
        match (wanted, *n) {
            (true, 1) | (false, 0) => {}
            (true, 0) => wrong.push(format!("`{}` has no implementation", spec.name)),
            (true, n) => wrong.push(format!("`{}` has {n} implementations", spec.name)),
            (false, _) => {
                wrong.push(format!("`{}` is not called at run time, yet has an implementation", spec.name))
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_implementation_names_a_builtin_of_the_table() {
    for (name, _) in LISTS.iter().copied().flatten() {
        match lookup(name) {
            None => panic!("an implementation is listed for `{name}`, which is not in the builtin table"),
            Some(id) => {
                assert_eq!(id.name(), *name, "list `{}` by its name in the table, not an alias", id.name())
            }
        }
    }
}

#[test]
fn dispatch_finds_each_implementation_by_id() {
    for (i, spec) in BUILTINS.iter().enumerate() {
        let id = crate::builtins::BuiltinId(i as u16);
        let listed = LISTS.iter().copied().flatten().any(|(name, _)| *name == spec.name);
        assert_eq!(super::implementation(id).is_some(), listed, "{}", spec.name);
    }
}
