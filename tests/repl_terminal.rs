//! The REPL on a real terminal: tmux runs `dml repl` in a pane, the test types into it with
//! `send-keys` and reads the screen with `capture-pane`, polling until the expected text shows
//! (or a deadline passes). Needs tmux (`.ci/run` installs it when it is missing).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of this test alone (its own socket), with one pane running `dml repl`.
struct Pane {
    socket: String,
    home: PathBuf,
}

impl Pane {
    fn start(home: &Path) -> Pane {
        let socket = format!("dml-repl-test-{}", std::process::id());
        let pane = Pane { socket, home: home.to_path_buf() };
        let command = format!(
            "env HOME={h} XDG_DATA_HOME={h}/data TERM=xterm {bin} repl",
            h = home.display(),
            bin = env!("CARGO_BIN_EXE_dml")
        );
        pane.tmux(&["-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "160", "-y", "50", "-c"])
            .arg(home)
            .arg(command)
            .status()
            .map(|s| assert!(s.success(), "tmux new-session failed"))
            .expect("tmux is needed for this test (apt-get install tmux; .ci/run installs it)");
        pane
    }

    fn tmux(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]).args(args);
        c
    }

    /// Types `text` literally, then presses each of `keys` (tmux key names such as `Enter`).
    fn send(&self, text: &str, keys: &[&str]) {
        if !text.is_empty() {
            assert!(self.tmux(&["send-keys", "-t", "t", "-l", text]).status().unwrap().success());
        }
        for k in keys {
            assert!(self.tmux(&["send-keys", "-t", "t", k]).status().unwrap().success());
        }
    }

    /// The pane's text, scroll-back included, wrapped lines joined.
    fn screen(&self) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-J", "-S", "-500", "-t", "t"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the screen until `ready` holds; panics with the screen after 30 seconds.
    fn wait(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.screen();
            if ready(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; the screen:\n{s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends a line and waits for the next `dml> ` prompt after it.
    fn line(&self, text: &str) -> String {
        let prompts = self.screen().matches("dml> ").count();
        self.send(text, &["Enter"]);
        self.wait(&format!("the prompt after `{text}`"), |s| s.matches("dml> ").count() > prompts)
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        // The server is usually gone already (`:quit` ended its one session).
        let _ = self.tmux(&["kill-server"]).stderr(std::process::Stdio::null()).status();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// What `print(toString(X))` prints for `code` (a script defining X), run by `dml run`.
fn printed_by_run(code: &str, dir: &Path) -> String {
    let script = dir.join("expected.dml");
    std::fs::write(&script, format!("{code}\nprint(toString(X))\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dml")).arg("run").arg(&script).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn typed_session_shows_values_plans_recovers_and_completes() {
    let home = std::env::temp_dir().join(format!("dml-repl-tmux-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let rand = "X = rand(rows=2, cols=2, seed=3)";
    let expected = printed_by_run(rand, &home);
    let pane = Pane::start(&home);
    pane.wait("the first prompt", |s| s.contains("dml> "));

    pane.line(rand);
    let s = pane.line("X");
    assert!(s.contains("matrix 2x2"), "{s}");
    for row in expected.lines().filter(|l| !l.is_empty()) {
        assert!(s.contains(&format!("\n{row}\n")), "row `{row}` of toString(X) not shown:\n{s}");
    }

    let s = pane.line(":explain sum(X %*% X)");
    assert!(s.contains("read X [2x2, nnz=4"), "{s}");
    assert!(s.contains("ua(allsum)"), "{s}");

    // An unclosed call: the continuation prompt, then a statement at the start of the line
    // ends it with its error and runs.
    pane.send("foo(", &["Enter"]);
    pane.wait("the continuation prompt", |s| s.contains("...> "));
    let s = pane.line("Y = X * 2");
    assert!(s.contains("unclosed `(`"), "{s}");
    let s = pane.line(":type Y");
    assert!(s.contains("Y: matrix 2x2, nnz=4, dense"), "{s}");

    pane.line("source(\"nn/layers/relu.dml\") as relu");
    pane.send("relu::", &["Tab", "Tab"]);
    let s = pane.wait("the completion list", |s| s.contains("relu::forward"));
    assert!(s.contains("relu::backward"), "{s}");
    // Ctrl-C drops the line; wait for its fresh prompt before typing on (keys sent between two
    // prompts would meet the terminal outside rustyline's raw mode).
    let prompts = pane.screen().matches("dml> ").count();
    pane.send("", &["C-c"]);
    pane.wait("the prompt after Ctrl-C", |s| s.matches("dml> ").count() > prompts);
    let s = pane.line("print(\"done\")");
    assert!(s.contains("\ndone\n"), "{s}");
    pane.send(":quit", &["Enter"]);
    let history = home.join("data/dml/history");
    // The REPL writes its history as it exits: poll until the whole file is there.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let h = std::fs::read_to_string(&history).unwrap_or_default();
        if h.contains(rand) {
            break;
        }
        assert!(Instant::now() < deadline, "history at {} lacks the typed line: {h:?}", history.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}
