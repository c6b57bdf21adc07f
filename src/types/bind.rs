//! Binding a call's arguments to a function's parameters, as R does and SystemDS follows: named
//! arguments go to the parameter of that name, positional ones fill the free parameters left to
//! right, and a variadic function keeps the positional ones that are left. One rule for the HOP
//! builder (calls written in the script) and for `eval` (calls made at run time), so the two
//! cannot drift apart.

/// Why an argument cannot be bound; `arg` is its position in the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindError {
    /// A named argument whose name no parameter has.
    UnknownName { arg: usize },
    /// A parameter given twice (by name, or by name after a position filled it).
    GivenTwice { arg: usize, param: usize },
    /// More positional arguments than parameters, for a function that is not variadic.
    TooMany { arg: usize },
}

/// The bound arguments: one slot per parameter (`None` where none was given), then the
/// positional arguments a variadic function received beyond its parameters.
pub type Bound<T> = (Vec<Option<T>>, Vec<T>);

/// Binds `args` (each with its name, if named) to the parameters `params` (their names, in
/// order).
pub fn bind_args<'a, T>(
    params: &[&str],
    args: impl IntoIterator<Item = (Option<&'a str>, T)>,
    variadic: bool,
) -> Result<Bound<T>, BindError> {
    let mut slots: Vec<Option<T>> = params.iter().map(|_| None).collect();
    let mut extra = Vec::new();
    let mut next = 0;
    for (arg, (name, value)) in args.into_iter().enumerate() {
        match name {
            Some(n) => {
                let Some(param) = params.iter().position(|p| *p == n) else {
                    return Err(BindError::UnknownName { arg });
                };
                if slots[param].is_some() {
                    return Err(BindError::GivenTwice { arg, param });
                }
                slots[param] = Some(value);
            }
            None => {
                while next < params.len() && slots[next].is_some() {
                    next += 1;
                }
                if next < params.len() {
                    slots[next] = Some(value);
                    next += 1;
                } else if variadic {
                    extra.push(value);
                } else {
                    return Err(BindError::TooMany { arg });
                }
            }
        }
    }
    Ok((slots, extra))
}

#[cfg(test)]
mod tests {
    use super::{BindError, bind_args};

    #[test]
    fn named_then_positional_fill_the_free_parameters() {
        // f(b=2, 1, 3) with parameters a, b, c: a=1, b=2, c=3.
        let (slots, extra) =
            bind_args(&["a", "b", "c"], [(Some("b"), 2), (None, 1), (None, 3)], false).unwrap();
        assert_eq!(slots, vec![Some(1), Some(2), Some(3)]);
        assert!(extra.is_empty());
        let (slots, extra) = bind_args(&["a"], [(None, 1), (None, 2)], true).unwrap();
        assert_eq!((slots, extra), (vec![Some(1)], vec![2]));
    }

    #[test]
    fn errors_name_the_argument() {
        assert_eq!(bind_args(&["a"], [(Some("z"), 1)], false), Err(BindError::UnknownName { arg: 0 }));
        assert_eq!(
            bind_args(&["a"], [(None, 1), (Some("a"), 2)], false),
            Err(BindError::GivenTwice { arg: 1, param: 0 })
        );
        assert_eq!(bind_args(&["a"], [(None, 1), (None, 2)], false), Err(BindError::TooMany { arg: 1 }));
    }
}
