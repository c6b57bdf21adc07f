//! The Python package (`python/`): builds it into a virtual environment with `pip install
//! ./python` (maturin), with what its tests need (NumPy, pandas, pytest, IPython, scikit-learn,
//! and Keras on JAX pinned as the Keras fixtures are), then runs its pytest suite
//! (`python/tests`).
//!
//! The environment is kept in `target/tmp/python-venv` and rebuilt only when the requirement files
//! or the Python change; the package itself is rebuilt each run (cargo makes that quick when the
//! engine did not change: it reuses the library this `cargo test` built). It needs Python 3.10+
//! with `venv` and `pip` (`DML_PYTHON` names one, else `python3.11`, `python3`, `python` on the
//! PATH) and access to PyPI the first time. Without one the test fails and says what is missing
//! (a missing Python must not pass as a green suite); `DML_SKIP_PYTHON=1` skips it on purpose.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Whether `exe` is a Python 3.10+ that can make a virtual environment with pip in it
/// (`ensurepip` is a separate package on some Linux distributions).
fn python_ok(exe: &Path) -> bool {
    Command::new(exe)
        .args(["-c", "import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 10) else 1)"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn find_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("DML_PYTHON") {
        let p = PathBuf::from(p);
        return python_ok(&p).then_some(p);
    }
    ["python3.11", "python3", "python"].iter().map(PathBuf::from).find(|p| python_ok(p))
}

fn run(what: &str, cmd: &mut Command) {
    let start = Instant::now();
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("python_package: {what}: {:.1} s", start.elapsed().as_secs_f64());
    if !out.status.success() {
        panic!("{what} failed ({}):\n{text}", out.status);
    }
    if what.starts_with("pytest") {
        // The summary line ("N passed in ...") shows under --nocapture and on failure.
        eprintln!("{}", text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(""));
    }
}

/// A fingerprint of what the environment was built from: the requirement files and the Python.
fn stamp_of(python: &Path, root: &Path) -> String {
    let version = Command::new(python)
        .args(["-c", "import sys; print(sys.version)"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let mut s = format!("{}\n{version}", python.display());
    for f in ["python/tests/requirements.txt", "tests/data/keras/requirements.txt"] {
        s.push_str(&std::fs::read_to_string(root.join(f)).unwrap_or_default());
    }
    s
}

#[test]
fn python_package() {
    if std::env::var_os("DML_SKIP_PYTHON").is_some_and(|v| !v.is_empty() && v != "0") {
        eprintln!("python_package: skipped (DML_SKIP_PYTHON is set)");
        return;
    }
    let Some(python) = find_python() else {
        panic!(
            "python_package: no Python 3.10+ with venv and pip found (tried $DML_PYTHON, else python3.11, \
             python3, python on the PATH). The Python package's tests need one: install Python 3.10+ with \
             its venv module (Debian/Ubuntu: apt-get install python3-venv), or set DML_PYTHON to it; \
             DML_SKIP_PYTHON=1 skips these tests on purpose."
        );
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-venv");
    let vpy = venv.join("bin").join("python");
    let stamp_file = venv.join("dml-requirements.stamp");
    let stamp = stamp_of(&python, root);
    if std::fs::read_to_string(&stamp_file).ok().as_deref() != Some(stamp.as_str()) || !vpy.exists() {
        let _ = std::fs::remove_dir_all(&venv);
        run("create the virtual environment", Command::new(&python).arg("-m").arg("venv").arg(&venv));
        run(
            "install the test requirements",
            Command::new(&vpy)
                .args(["-m", "pip", "install", "--disable-pip-version-check", "-q", "-r"])
                .arg(root.join("python/tests/requirements.txt")),
        );
        std::fs::write(&stamp_file, &stamp).expect("write the stamp");
    }
    // `pip install ./python`, with the maturin the requirements pinned (no download each run);
    // the venv's bin first on the PATH, as when it is activated (the build backend runs `maturin`).
    // The extension builds into this test's target folder, so it reuses the engine library
    // `cargo test --release` has just built.
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("target/tmp has a parent");
    let bin = venv.join("bin");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path =
        std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(&path))).expect("PATH");
    run(
        "pip install ./python",
        Command::new(&vpy)
            .env("PATH", &path)
            .env("VIRTUAL_ENV", &venv)
            .env("CARGO_TARGET_DIR", target_dir)
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "-q",
                "--no-build-isolation",
                "--no-deps",
                "--force-reinstall",
                "./python",
            ])
            .current_dir(root),
    );
    run(
        "pytest python/tests",
        Command::new(&vpy)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "python/tests"])
            .current_dir(root)
            .env("KERAS_BACKEND", "jax")
            .env("PYTHONDONTWRITEBYTECODE", "1"),
    );
}
