//! The ONNX importer against onnx.reference: each fixture of tests/data/onnx (built by its
//! gen_fixtures.py with onnx.helper, expected outputs computed by onnx.reference in float64)
//! converts, and its prediction agrees to 1e-9 relative. An MLP and a CNN fine-tune from their
//! exported weights and their loss falls. Bad files are clear errors.

use std::path::{Path, PathBuf};

use dml::convert::npz::{NpyArray, read_npz};
use dml::convert::script::TrainOptions;
use ndarray::Array2;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/onnx").join(name)
}

fn matrix(a: &NpyArray) -> Array2<f64> {
    let rows = a.shape.first().copied().unwrap_or(1);
    Array2::from_shape_vec((rows, a.data.len() / rows.max(1)), a.data.clone()).unwrap()
}

fn oracle(case: &str) -> (Array2<f64>, Array2<f64>, Option<Array2<f64>>) {
    let npz = read_npz(&data(&format!("{case}.npz"))).unwrap();
    (matrix(&npz["x"]), matrix(&npz["pred"]), npz.get("y").map(matrix))
}

fn check_prediction(case: &str) {
    let model =
        dml::convert::load_onnx(&data(&format!("{case}.onnx"))).unwrap_or_else(|e| panic!("{case}: {e}"));
    let (x, want, _) = oracle(case);
    let got = model.predict(&x, 3).unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_eq!(got.dim(), want.dim(), "{case}: output shape");
    for ((r, c), w) in want.indexed_iter() {
        let g = got[[r, c]];
        assert!(
            (g - w).abs() <= 1e-9 * w.abs() + 1e-12,
            "{case}: row {r} column {c}: ours {g}, onnx.reference {w}"
        );
    }
}

#[test]
fn gemm_mlp_agrees_with_the_reference() {
    check_prediction("mlp");
}

#[test]
fn matmul_add_and_activations_agree_with_the_reference() {
    check_prediction("matmul");
}

#[test]
fn broadcasting_arithmetic_agrees_with_the_reference() {
    check_prediction("arith");
}

#[test]
fn convolutions_and_pooling_agree_with_the_reference() {
    check_prediction("cnn");
}

#[test]
fn depthwise_transposed_conv_and_batch_norm_agree_with_the_reference() {
    check_prediction("conv_more");
}

#[test]
fn shape_ops_and_normalizations_agree_with_the_reference() {
    check_prediction("shapes");
}

#[test]
fn lstm_sequence_major_agrees_with_the_reference() {
    check_prediction("lstm_seq");
}

#[test]
fn lstm_last_state_after_a_batch_first_transpose_agrees_with_the_reference() {
    check_prediction("lstm_last");
}

#[test]
fn gru_both_reset_variants_agree_with_the_reference() {
    check_prediction("gru_lbr0");
    check_prediction("gru_lbr1");
}

#[test]
fn gather_embedding_agrees_with_the_reference() {
    check_prediction("embedding");
}

#[test]
fn float32_weights_agree_with_the_reference() {
    check_prediction("mlp_f32");
}

/// Fine-tunes `case` from its exported weights; the epoch loss must fall.
fn fine_tune(case: &str, optimizer: &str, lr: f64) {
    let mut model = dml::convert::load_onnx(&data(&format!("{case}.onnx"))).unwrap();
    let t = dml::convert::onnx::training_config("categorical_crossentropy", optimizer, Some(lr)).unwrap();
    model.set_training(t);
    let (x, _, y) = oracle(case);
    let y = y.expect("the fixture has targets");
    let opts = TrainOptions { epochs: 8, batch_size: 4, shuffle: false, ..TrainOptions::default() };
    let before = model.predict(&x, 4).unwrap();
    let hist = model.fit(&x, &y, &opts).unwrap_or_else(|e| panic!("{case}: {e}"));
    let loss = &hist["loss"];
    assert_eq!(loss.len(), 8);
    assert!(loss.iter().all(|l| l.is_finite()), "{case}: {loss:?}");
    assert!(loss[7] < 0.9 * loss[0], "{case}: the loss did not fall: {loss:?}");
    // The first epoch's loss starts from the exported model's own predictions.
    let ce0: f64 = -(0..x.nrows())
        .map(|r| (0..y.ncols()).map(|c| y[[r, c]] * before[[r, c]].clamp(1e-7, 1.0 - 1e-7).ln()).sum::<f64>())
        .sum::<f64>()
        / x.nrows() as f64;
    assert!(loss[0] < ce0 * 1.5 + 1e-9, "{case}: first epoch loss {} vs initial {ce0}", loss[0]);
}

#[test]
fn an_exported_mlp_fine_tunes() {
    fine_tune("mlp", "sgd", 0.1);
}

#[test]
fn an_exported_cnn_fine_tunes() {
    fine_tune("cnn", "adam", 0.01);
}

#[test]
fn an_unsupported_op_names_the_node_and_the_supported_list() {
    let e = dml::convert::load_onnx(&data("unsupported.onnx")).unwrap_err().to_string();
    assert!(e.contains("cosine") && e.contains("Cos"), "{e}");
    assert!(e.contains("supported: Add") && e.contains("LSTM"), "{e}");
}

#[test]
fn corrupt_protobuf_is_a_clear_error() {
    let bytes = std::fs::read(data("mlp.onnx")).unwrap();
    let e = dml::convert::onnx_from_bytes(&bytes[..bytes.len() / 2], "cut.onnx").unwrap_err().to_string();
    assert!(e.contains("cut.onnx") && e.contains("protobuf"), "{e}");
    let e = dml::convert::onnx_from_bytes(b"\xff\xff\xff\xff", "junk.onnx").unwrap_err().to_string();
    assert!(e.contains("junk.onnx"), "{e}");
}

#[test]
fn grouped_and_dilated_convolutions_agree_with_the_reference() {
    check_prediction("conv_groups");
}

/// The backward pass of `case` against central finite differences of the loss (mean squared
/// error against fixed targets), on a sample of each trainable parameter's cells.
fn gradients_match_finite_differences(case: &str, min_params: usize) {
    let mut model = dml::convert::load_onnx(&data(&format!("{case}.onnx"))).unwrap();
    model.set_training(dml::convert::onnx::training_config("mse", "sgd", None).unwrap());
    let (x, want, _) = oracle(case);
    let y = want.mapv(|v| (v * 3.0).sin());
    let g = model.gradients(&x, &y).unwrap();
    assert!(g.grads.len() >= min_params, "{case}: {} gradients", g.grads.len());
    let h = 1e-5;
    for (&p, grad) in &g.grads {
        let var = model.graph.params[p].var.clone();
        let cells = grad.len();
        for k in (0..cells).step_by(cells.div_ceil(7).max(1)) {
            let (r, c) = (k / grad.ncols(), k % grad.ncols());
            let orig = model.graph.params[p].value[[r, c]];
            model.graph.params[p].value[[r, c]] = orig + h;
            let up = model.gradients(&x, &y).unwrap().loss;
            model.graph.params[p].value[[r, c]] = orig - h;
            let down = model.gradients(&x, &y).unwrap().loss;
            model.graph.params[p].value[[r, c]] = orig;
            let fd = (up - down) / (2.0 * h);
            let ours = grad[[r, c]];
            assert!(
                (ours - fd).abs() <= 1e-6 * fd.abs().max(1e-3),
                "{case}: {var}[{r}, {c}]: ours {ours}, finite differences {fd}"
            );
        }
    }
}

#[test]
fn grouped_and_dilated_convolution_gradients_match_finite_differences() {
    gradients_match_finite_differences("conv_groups", 4);
}

#[test]
fn broadcast_arithmetic_gradients_match_finite_differences() {
    gradients_match_finite_differences("arith", 3);
}

#[test]
fn lstm_bidirectional_with_y_y_h_and_y_c_agrees_with_the_reference() {
    check_prediction("lstm_bidir");
}

#[test]
fn lstm_reverse_directions_agree_with_the_reference() {
    // Y back in time order with Y_h (batch-first), and Y_h with Y_c without a bias (sequence-major).
    check_prediction("lstm_reverse");
    check_prediction("lstm_reverse_last");
}

#[test]
fn lstm_last_cell_state_alone_agrees_with_the_reference() {
    check_prediction("lstm_cell");
}

#[test]
fn gru_bidirectional_and_reverse_agree_with_the_reference() {
    check_prediction("gru_bidir");
    check_prediction("gru_bidir_last");
    check_prediction("gru_reverse");
}

#[test]
fn recurrent_direction_gradients_match_finite_differences() {
    // Bidirectional LSTM through Y, Y_h and Y_c; reverse LSTM; the cell state alone; GRUs.
    gradients_match_finite_differences("lstm_bidir", 6);
    gradients_match_finite_differences("lstm_reverse", 3);
    gradients_match_finite_differences("lstm_cell", 3);
    gradients_match_finite_differences("gru_bidir", 6);
    gradients_match_finite_differences("gru_reverse", 3);
}

#[test]
fn conv_transpose_groups_dilations_output_shape_and_auto_pad_agree_with_the_reference() {
    check_prediction("conv_transpose");
}

#[test]
fn conv_transpose_gradients_match_finite_differences() {
    gradients_match_finite_differences("conv_transpose", 8);
}

#[test]
fn pytorch_dynamic_batch_flatten_chains_fold_and_agree_with_the_reference() {
    // Shape -> Gather -> Unsqueeze -> Concat(-1) -> Reshape; C*H*W from Gather/Mul; Slice/Cast.
    check_prediction("torch_flatten");
    gradients_match_finite_differences("torch_flatten", 4);
}

#[test]
fn a_shape_holding_the_batch_used_as_data_is_a_clear_error() {
    let bytes = std::fs::read(data("torch_flatten.onnx")).unwrap();
    let mut m = <dml::convert::onnx::proto::ModelProto as prost::Message>::decode(bytes.as_slice()).unwrap();
    let g = m.graph.as_mut().unwrap();
    // The batch-holding target (`target`) fed to an Add as if it were data.
    let add = dml::convert::onnx::proto::NodeProto {
        name: "misuse".into(),
        op_type: "Add".into(),
        input: vec!["target".into(), "target".into()],
        output: vec!["bad".into()],
        ..Default::default()
    };
    g.node.insert(7, add);
    let bytes = prost::Message::encode_to_vec(&m);
    let e = dml::convert::onnx_from_bytes(&bytes, "misuse.onnx").unwrap_err().to_string();
    assert!(e.contains("misuse") && e.contains("batch size"), "{e}");
}

#[test]
fn a_graph_with_two_outputs_predicts_both_side_by_side() {
    check_prediction("two_outputs");
    // Training needs one output: a clear error, not a wrong script.
    let mut model = dml::convert::load_onnx(&data("two_outputs.onnx")).unwrap();
    model.set_training(dml::convert::onnx::training_config("mse", "sgd", None).unwrap());
    let (x, want, _) = oracle("two_outputs");
    let e = model.gradients(&x, &want).unwrap_err().to_string();
    assert!(e.contains("2 outputs"), "{e}");
}
