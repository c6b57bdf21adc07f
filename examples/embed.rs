//! Embedding `dml` in a Rust program: compile a script once, bind inputs from ndarray, run it
//! many times, read its outputs. Run with `cargo run --release --example embed`.

use dml::session::PreparedScript;
use ndarray::Array2;

fn main() -> Result<(), String> {
    // One step of gradient descent for least squares, w <- w - lr * t(X) %*% (X %*% w - y) / n.
    let script = "
        n = nrow(X)
        r = X %*% w - y
        w = w - lr * (t(X) %*% r) / n
        loss = sum(r^2) / n
    ";
    let mut step = PreparedScript::compile(script, &["X", "y", "w", "lr"], &["w", "loss"])?;

    // y = 2*x1 - 3*x2 exactly, so the weights should approach (2, -3).
    let n = 50;
    let x = Array2::from_shape_fn((n, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f64 / 10.0 - 0.5);
    let y = Array2::from_shape_fn((n, 1), |(i, _)| 2.0 * x[[i, 0]] - 3.0 * x[[i, 1]]);
    step.set_matrix("X", x);
    step.set_matrix("y", y);
    step.set_scalar("lr", 0.5);
    let mut w = Array2::zeros((2, 1));
    let mut last = f64::INFINITY;
    for iter in 0..200 {
        step.set_matrix("w", w.clone());
        let out = step.execute()?;
        w = out.matrix("w").ok_or("no output w")?;
        last = out.scalar("loss").ok_or("no output loss")?;
        if iter % 50 == 0 {
            println!("iteration {iter}: loss {last:.6}");
        }
    }
    println!("weights after 200 steps: {:.4} {:.4} (loss {last:.2e})", w[[0, 0]], w[[1, 0]]);
    Ok(())
}
