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

/// A recursion as deep as the executor allows (user function calls nest up to 2,000 deep): the
/// command line runs it, and so do a prepared script and a REPL session, on the same large stack,
/// even when called from a thread with a small one (a test's, an embedder's).
const DEEP_RECURSION: &str = "f = function(int n) return (int r) {\n\
                                if (n == 0) { r = 0 } else { r = 1 + f(n - 1) }\n\
                              }\n\
                              y = f(1999)\n\
                              print(y)\n";

#[test]
fn deep_recursion_runs_from_the_command_line_a_prepared_script_and_a_session() {
    let dir = std::env::temp_dir().join(format!("dml_deep_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let script = dir.join("deep.dml");
    std::fs::write(&script, DEEP_RECURSION).expect("write script");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dml")).arg("run").arg(&script).output();
    let _ = std::fs::remove_dir_all(&dir);
    let out = out.expect("run dml");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1999\n");

    // Test threads have a 2 MiB stack; the script needs far more.
    let mut ps = PreparedScript::compile(DEEP_RECURSION, &[], &["y"]).expect("compiles");
    let r = ps.execute().expect("runs");
    assert_eq!(r.scalar("y"), Some(1999.0));
    assert_eq!(r.printed, "1999\n");

    let mut session = dml::session::Session::new(dml::compiler::Options::default());
    let printed = dml::runtime::output::Output::buffer();
    session.execute(DEEP_RECURSION, &printed).map_err(|f| format!("{f:?}")).expect("runs in a session");
    assert_eq!(session.get("y").and_then(|v| v.as_f64()), Some(1999.0));
    assert_eq!(printed.take(), "1999\n");
}

/// `Options::interrupt` stops a running program at the next block: an endless `while` loop, an
/// endless recursion-free loop of function calls, and a `for` loop, each within a short time.
#[test]
fn interrupt_flag_stops_a_running_script() {
    use dml::compiler::Options;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};
    let scripts = [
        "i = 0\nwhile (TRUE) { i = i + 1 }\nY = X",
        "f = function(double x) return (double y) { y = x + 1 }\ni = 0\nwhile (TRUE) { i = f(i) }\nY = X",
        "s = 0\nfor (i in 1:1e12) { s = s + i }\nY = X",
    ];
    for src in scripts {
        let flag = Arc::new(AtomicBool::new(false));
        let opts = Options { interrupt: Some(flag.clone()), ..Options::default() };
        let mut ps = PreparedScript::compile_with(src, &["X"], &["Y"], opts).expect("compiles");
        ps.set_matrix("X", array![[1.0]]);
        let setter = {
            let flag = flag.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                flag.store(true, Ordering::Relaxed);
                Instant::now()
            })
        };
        let e = ps.execute().err().expect("an interrupted run is an error");
        let set_at = setter.join().expect("setter");
        assert!(set_at.elapsed() < Duration::from_secs(2), "stopped late: {src}");
        assert!(e.contains(dml::compiler::options::INTERRUPTED), "{e}");
        // Cleared, the same prepared script runs again (a script that ends this time).
        flag.store(false, Ordering::Relaxed);
    }
    let flag = Arc::new(AtomicBool::new(false));
    let opts = Options { interrupt: Some(flag), ..Options::default() };
    let mut ps = PreparedScript::compile_with("Y = X + 1", &["X"], &["Y"], opts).expect("compiles");
    ps.set_matrix("X", array![[1.0]]);
    assert_eq!(ps.execute().expect("runs").matrix("Y").expect("Y"), array![[2.0]]);
}
