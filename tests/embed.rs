//! The embedding API: compile once, bind inputs from ndarray, run many times, read outputs.

use dml::session::PreparedScript;
use ndarray::array;

#[test]
fn prepared_script_runs_with_new_inputs() {
    let mut ps = PreparedScript::compile("Y = X %*% t(X) + s\nn = sum(Y)", &["X", "s"], &["Y", "n"])
        .expect("compiles");
    ps.set_matrix("X", array![[1.0, 2.0], [3.0, 4.0]]);
    ps.set_scalar("s", 1.0);
    let r = ps.execute().expect("runs");
    // [[1,2],[3,4]] times its transpose is [[5,11],[11,25]]; plus 1 everywhere.
    assert_eq!(r.matrix("Y").expect("Y"), array![[6.0, 12.0], [12.0, 26.0]]);
    assert_eq!(r.scalar("n"), Some(56.0));
    ps.set_matrix("X", array![[1.0, 0.0, 2.0]]);
    ps.set_scalar("s", 0.5);
    let r = ps.execute().expect("runs again with another shape");
    assert_eq!(r.matrix("Y").expect("Y"), array![[5.5]]);
}

#[test]
fn unbound_input_and_bad_script_are_errors() {
    assert!(PreparedScript::compile("Y = X +", &["X"], &["Y"]).is_err());
    let mut ps = PreparedScript::compile("Y = X * 2", &["X"], &["Y"]).expect("compiles");
    let e = ps.execute().err().expect("unbound input is an error");
    assert!(e.contains("`X` is not bound"), "{e}");
}
