//! What the Keras oracle (`tests/convert_keras.rs`) cannot compare: the training mode of the
//! noise layers (Keras's random numbers cannot be reproduced, so the fixtures check only their
//! inference, the identity), and the converter's erfc over its whole range (the `dense_gelu`
//! fixture covers only moderate arguments).

use std::path::{Path, PathBuf};

use dml::convert::ir::Op;
use dml::convert::keras::{self, lower::lower};
use dml::convert::npz::{NpyArray, read_npz};
use dml::convert::script::TrainOptions;
use dml::convert::{Model, load_keras};
use dml::session::PreparedScript;
use ndarray::Array2;

fn case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/keras/cases").join(name)
}

fn matrix(a: &NpyArray) -> Array2<f64> {
    let rows = a.shape[0];
    Array2::from_shape_vec((rows, a.data.len() / rows), a.data.clone()).unwrap()
}

fn data(name: &str) -> (Array2<f64>, Array2<f64>, Vec<f64>) {
    let npz = read_npz(&case(name).join("oracle.npz")).unwrap();
    (matrix(&npz["x"]), matrix(&npz["y"]), npz["pred"].data.clone())
}

/// The noise is drawn in training only: two training-mode passes differ, training runs, and
/// prediction is Keras's (the identity).
fn check_noisy(model: &Model, name: &str) {
    let (x, y, pred) = data(name);
    let (a, b) = (model.gradients(&x, &y).unwrap(), model.gradients(&x, &y).unwrap());
    assert!(a.loss.is_finite() && b.loss.is_finite());
    assert_ne!(a.loss, b.loss, "{name}: no noise in training mode");
    assert!(a.grads.values().all(|g| g.iter().all(|v| v.is_finite())));
    let p = model.predict(&x, 4).unwrap();
    assert!(
        p.iter().zip(&pred).all(|(u, v)| (u - v).abs() <= 1e-12),
        "{name}: inference is not the identity"
    );
    let mut trained = model.clone();
    let opts =
        TrainOptions { epochs: 2, batch_size: 4, shuffle: false, verbose: false, ..Default::default() };
    let history = trained.fit(&x, &y, &opts).unwrap();
    assert!(history["loss"].iter().all(|l| l.is_finite()));
}

#[test]
fn gaussian_noise_trains_with_noise() {
    check_noisy(&load_keras(&case("gaussian_noise").join("model.keras")).unwrap(), "gaussian_noise");
}

#[test]
fn dropout_trains_with_noise() {
    check_noisy(
        &load_keras(&case("mlp_bn_dropout_pred").join("model.keras")).unwrap(),
        "mlp_bn_dropout_pred",
    );
}

/// GaussianDropout has no fixture: the `gaussian_noise` model with its GaussianNoise layer made a
/// GaussianDropout(0.3) (the same identity at inference).
#[test]
fn gaussian_dropout_trains_with_noise() {
    let mut file = keras::open(&case("gaussian_noise").join("model.keras")).unwrap();
    let layers = file.config["config"]["layers"].as_array_mut().unwrap();
    let layer = layers.iter_mut().find(|l| l["class_name"] == "GaussianNoise").unwrap();
    layer["class_name"] = "GaussianDropout".into();
    layer["config"]["rate"] = 0.3.into();
    let graph = lower(&file).unwrap();
    assert!(graph.nodes.iter().any(|n| n.op == Op::GaussianDropout { rate: 0.3 }));
    let model = dml::convert::model::from_keras_file(file).unwrap();
    check_noisy(&model, "gaussian_noise");
}

/// erfc of `keras/activations.dml` on a column of arguments.
fn dml_erfc(xs: &[f64]) -> Vec<f64> {
    let x = Array2::from_shape_vec((xs.len(), 1), xs.to_vec()).unwrap();
    let src = "source(\"keras/activations.dml\") as keras_act\nY = keras_act::erfc(X)\n";
    let mut ps = PreparedScript::compile(src, &["X"], &["Y"]).unwrap();
    ps.set_matrix("X", x);
    ps.execute().unwrap().matrix("Y").unwrap().iter().copied().collect()
}

/// Against erfc of the same doubles computed to 800 digits (Python's decimal, Taylor series),
/// rounded: within 1e-15, in each of Cody's three ranges, at their ends, and on a grid over
/// [-26.4, 25.9].
#[test]
fn erfc_matches_high_precision_values() {
    let want = [
        (-5.5, 1.9999999999999927),
        (-2.85, 1.9999443437200386),
        (-2.71, 1.9998731620733716),
        (-1.0, 1.8427007929497148),
        (-0.46875, 1.492613473217938),
        (-0.3, 1.3286267594591274),
        (1e-10, 0.999999999887162),
        (0.2, 0.7772974107895215),
        (0.46875, 0.507386526782062),
        (0.5, 0.4795001221869535),
        (1.7, 0.01620954140922544),
        (3.99, 1.6739211364520814e-08),
        (4.0, 1.541725790028002e-08),
        (4.01, 1.4196939421371052e-08),
        (6.3, 5.124221687395715e-19),
        (10.0, 2.088487583762545e-45),
        (15.25, 3.6865151492308134e-103),
        (20.0, 5.395865611607901e-176),
        (26.5, 2.2109076642637343e-307),
        (-26.4, 2.0),
        (-25.57, 2.0),
        (-24.74, 2.0),
        (-23.91, 2.0),
        (-23.08, 2.0),
        (-22.25, 2.0),
        (-21.42, 2.0),
        (-20.59, 2.0),
        (-19.76, 2.0),
        (-18.93, 2.0),
        (-18.1, 2.0),
        (-17.27, 2.0),
        (-16.44, 2.0),
        (-15.61, 2.0),
        (-14.78, 2.0),
        (-13.95, 2.0),
        (-13.12, 2.0),
        (-12.29, 2.0),
        (-11.46, 2.0),
        (-10.63, 2.0),
        (-9.8, 2.0),
        (-8.97, 2.0),
        (-8.14, 2.0),
        (-7.31, 2.0),
        (-6.48, 2.0),
        (-5.65, 1.9999999999999987),
        (-4.82, 1.9999999999906721),
        (-3.99, 1.9999999832607886),
        (-3.16, 1.999992138258581),
        (-2.33, 1.9990161950065497),
        (-1.5, 1.9661051464753108),
        (-0.67, 1.656627702300305),
        (0.16, 0.8209881868018943),
        (0.99, 0.1614919304446302),
        (1.82, 0.01005684350259235),
        (2.65, 0.000178487752024001),
        (3.48, 8.589955721283365e-07),
        (4.31, 1.092594113408273e-09),
        (5.14, 3.620037348791025e-13),
        (5.97, 3.096792461445326e-17),
        (6.8, 6.80086056533125e-22),
        (7.63, 3.819170269345283e-27),
        (8.46, 5.4691649483055416e-33),
        (9.29, 1.9931240264336408e-39),
        (10.12, 1.8456135057886803e-46),
        (10.95, 4.337348307835688e-54),
        (11.78, 2.584511234347451e-62),
        (12.61, 3.901911019737901e-71),
        (13.44, 1.4916129119377747e-80),
        (14.27, 1.443099872579081e-90),
        (15.1, 3.53196266856349e-101),
        (15.93, 2.1860595551513407e-112),
        (16.76, 3.420611504512719e-124),
        (17.59, 1.352787980813669e-136),
        (18.42, 1.3518967880743267e-149),
        (19.25, 3.413196955966576e-163),
        (20.08, 2.176756627882272e-177),
        (20.91, 3.5061027105177456e-192),
        (21.74, 1.4260955042170907e-207),
        (22.57, 1.4646408566923212e-223),
        (23.4, 3.797755698448243e-240),
        (24.23, 2.4859691249920736e-257),
        (25.06, 4.107719817936055e-275),
        (25.89, 1.713205116218247e-293),
    ];
    let xs: Vec<f64> = want.iter().map(|w| w.0).collect();
    for ((x, w), got) in want.iter().zip(dml_erfc(&xs)) {
        assert!((got - w).abs() <= 1e-15 * w.abs(), "erfc({x}) = {got:e}, expected {w:e}");
    }
}

/// Past 26.543 erfc is subnormal or 0 (Cody's cut-off returns 0), and the infinities.
#[test]
fn erfc_limits() {
    let got = dml_erfc(&[27.0, -27.0, 1e300, f64::INFINITY, f64::NEG_INFINITY]);
    assert_eq!(got, vec![0.0, 2.0, 0.0, 0.0, 2.0]);
}
