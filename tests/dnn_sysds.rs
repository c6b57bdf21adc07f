//! DNN kernels against values produced by Apache SystemDS 3.4.0.
//!
//! `tests/dnn_data/sysds_expected.txt` was produced once by running
//! `tests/dnn_data/gen_sysds_expected.dml` with the real SystemDS 3.4.0 (`sysds -q`); it holds the
//! inputs as well as the outputs, so the inputs need not be recomputed bit for bit here. Cases where
//! SystemDS is wrong (overlapping max-pool gradients, the running variance of batch norm) are not
//! taken from it: see `dnn_naive.rs`.

use dml::kernels::dnn::*;
use dml::types::matrix::Matrix;
use std::collections::HashMap;

fn load() -> HashMap<String, Matrix> {
    let text = include_str!("dnn_data/sysds_expected.txt");
    let mut out = HashMap::new();
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    while let Some(header) = lines.next() {
        let parts: Vec<&str> = header.split_whitespace().collect();
        if parts.is_empty() {
            continue;
        }
        let (rows, cols): (usize, usize) = (parts[1].parse().unwrap(), parts[2].parse().unwrap());
        let mut vals = Vec::with_capacity(rows * cols);
        while vals.len() < rows * cols {
            let line = lines.next().expect("truncated data");
            vals.extend(line.split_whitespace().map(|t| t.parse::<f64>().unwrap()));
        }
        out.insert(parts[0].to_string(), Matrix::from_vec(rows, cols, vals));
    }
    out
}

#[track_caller]
fn assert_close(name: &str, got: &Matrix, want: &Matrix) {
    assert_eq!((got.rows(), got.cols()), (want.rows(), want.cols()), "{name}: shape");
    for r in 0..want.rows() {
        for c in 0..want.cols() {
            let (g, w) = (got.get(r, c), want.get(r, c));
            // The file has 15 decimals.
            assert!((g - w).abs() <= 2e-12 + 1e-12 * w.abs(), "{name}[{r},{c}]: got {g}, want {w}");
        }
    }
}

fn conv_a() -> ConvShape {
    ConvShape { n: 2, c: 2, h: 5, w: 4, f: 3, hf: 3, wf: 2, stride_h: 2, stride_w: 2, pad_h: 1, pad_w: 1 }
}

fn conv_b() -> ConvShape {
    ConvShape { n: 3, c: 1, h: 6, w: 7, f: 2, hf: 3, wf: 3, stride_h: 1, stride_w: 2, pad_h: 2, pad_w: 0 }
}

#[test]
fn conv2d_matches_systemds() {
    let d = load();
    for (p, s) in [("convA", conv_a()), ("convB", conv_b())] {
        let x = &d[&format!("{p}_x")];
        let w = &d[&format!("{p}_w")];
        let dout = &d[&format!("{p}_dout")];
        assert_close(p, &conv2d(x, w, &s).unwrap(), &d[&format!("{p}_out")]);
        assert_close(p, &conv2d_backward_filter(x, dout, &s).unwrap(), &d[&format!("{p}_dw")]);
        assert_close(p, &conv2d_backward_data(w, dout, &s).unwrap(), &d[&format!("{p}_dx")]);
        // Sparse storage of the same input gives the same values.
        let xs = Matrix::Sparse(x.to_csr());
        assert_close(p, &conv2d(&xs, w, &s).unwrap(), &d[&format!("{p}_out")]);
        assert_close(p, &conv2d_backward_filter(&xs, dout, &s).unwrap(), &d[&format!("{p}_dw")]);
    }
    let got = conv2d_bias_add(&d["convA_x"], &d["convA_w"], &d["convA_b"], &conv_a()).unwrap();
    assert_close("convA bias", &got, &d["convA_outb"]);
}

#[test]
fn pooling_matches_systemds() {
    let d = load();
    let (x, dp) = (&d["poolA_x"], &d["poolA_dout"]);
    let a = PoolShape { n: 2, c: 2, h: 5, w: 5, ph: 3, pw: 3, stride_h: 2, stride_w: 2, pad_h: 1, pad_w: 1 };
    assert_close("poolA max", &max_pool(x, &a).unwrap(), &d["poolA_max"]);
    assert_close("poolA avg", &avg_pool(x, &a).unwrap(), &d["poolA_avg"]);
    assert_close("poolA avg bwd", &avg_pool_backward(x, dp, &a).unwrap(), &d["poolA_avg_bwd"]);
    let b = PoolShape { ph: 2, pw: 2, ..a };
    assert_close("poolB max", &max_pool(x, &b).unwrap(), &d["poolB_max"]);
    assert_close("poolB max bwd", &max_pool_backward(x, dp, &b).unwrap(), &d["poolB_max_bwd"]);
    let c = PoolShape { ph: 2, pw: 3, stride_h: 2, stride_w: 3, pad_h: 0, pad_w: 0, ..a };
    let dc = &d["poolC_dout"];
    assert_close("poolC max", &max_pool(x, &c).unwrap(), &d["poolC_max"]);
    assert_close("poolC max bwd", &max_pool_backward(x, dc, &c).unwrap(), &d["poolC_max_bwd"]);
    assert_close("poolC avg", &avg_pool(x, &c).unwrap(), &d["poolC_avg"]);
}

#[test]
fn bias_ops_match_systemds() {
    let d = load();
    let (x, b) = (&d["bias_x"], &d["bias_b"]);
    assert_close("bias_add", &bias_add(x, b, 3).unwrap(), &d["bias_add"]);
    assert_close("bias_multiply", &bias_multiply(x, b, 3).unwrap(), &d["bias_mul"]);
    let xs = Matrix::Sparse(x.to_csr());
    assert_close("bias_multiply sparse", &bias_multiply(&xs, b, 3).unwrap(), &d["bias_mul"]);
}

#[test]
fn lstm_matches_systemds() {
    let d = load();
    let (x, w, b, o0, c0) = (&d["lstm_x"], &d["lstm_w"], &d["lstm_b"], &d["lstm_out0"], &d["lstm_c0"]);
    let dc = &d["lstm_dc"];
    for (seq, p, dout) in [(true, "lstm_seq", &d["lstm_dout"]), (false, "lstm_last", &d["lstm_last_dout"])] {
        let f = lstm(x, w, b, o0, c0, seq).unwrap();
        assert_close(p, &f.out, &d[&format!("{p}_out")]);
        assert_close(p, &f.c, &d[&format!("{p}_c")]);
        if seq {
            assert_close(p, &f.cache_out, &d["lstm_seq_cache_out"]);
            assert_close(p, &f.cache_c, &d["lstm_seq_cache_c"]);
            assert_close(p, &f.cache_ifog, &d["lstm_seq_cache_ifog"]);
        }
        let g =
            lstm_backward(x, w, b, o0, c0, seq, dout, dc, &f.cache_out, &f.cache_c, &f.cache_ifog).unwrap();
        assert_close(p, &g.dx, &d[&format!("{p}_dx")]);
        assert_close(p, &g.dw, &d[&format!("{p}_dw")]);
        assert_close(p, &g.db, &d[&format!("{p}_db")]);
        assert_close(p, &g.dout0, &d[&format!("{p}_dout0")]);
        assert_close(p, &g.dc0, &d[&format!("{p}_dc0")]);
    }
}

#[test]
fn batch_norm_matches_systemds() {
    let d = load();
    let (x, g, b) = (&d["bn_x"], &d["bn_gamma"], &d["bn_beta"]);
    let (em, ev) = (&d["bn_ema_mean"], &d["bn_ema_var"]);
    let t = batch_norm2d(x, g, b, em, ev, true, 1e-5, 0.9, 2).unwrap();
    assert_close("bn out", &t.out, &d["bn_train_out"]);
    assert_close("bn ema_mean", &t.ema_mean, &d["bn_train_ema_mean"]);
    assert_close("bn cache_mean", &t.cache_mean, &d["bn_train_cache_mean"]);
    assert_close("bn cache_inv_var", &t.cache_inv_var, &d["bn_train_cache_inv_var"]);
    // SystemDS's ema_var is mu*ema_var + (1-mu)*mean (a bug); ours uses the batch variance.
    for ch in 0..2 {
        let inv = t.cache_inv_var.get(ch, 0);
        let var = 1.0 / (inv * inv) - 1e-5;
        let want = 0.9 * ev.get(ch, 0) + 0.1 * var;
        assert!((t.ema_var.get(ch, 0) - want).abs() < 1e-12);
    }
    let e = batch_norm2d(x, g, b, em, ev, false, 1e-5, 0.9, 2).unwrap();
    assert_close("bn test out", &e.out, &d["bn_test_out"]);
    assert_close("bn test ema_mean", &e.ema_mean, &d["bn_test_ema_mean"]);
    assert_close("bn test ema_var", &e.ema_var, &d["bn_test_ema_var"]);
    assert_close("bn test cache_mean", &e.cache_mean, &d["bn_test_cache_mean"]);
    assert_close("bn test cache_inv_var", &e.cache_inv_var, &d["bn_test_cache_inv_var"]);
    let (dx, dg, db) =
        batch_norm2d_backward(x, &d["bn_dout"], g, 1e-5, &t.cache_mean, &t.cache_inv_var, 2).unwrap();
    assert_close("bn dx", &dx, &d["bn_dx"]);
    assert_close("bn dgamma", &dg, &d["bn_dgamma"]);
    assert_close("bn dbeta", &db, &d["bn_dbeta"]);
}
