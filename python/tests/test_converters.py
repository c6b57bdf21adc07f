"""ONNX2DML and Caffe2DML: the ONNX and Caffe converters behind Keras2DML's estimator surface.

The ONNX fixtures (tests/data/onnx, written by gen_fixtures.py) hold the inputs, the reference
runtime's outputs and one-hot targets; the Caffe network is SystemML's LeNet with its solver.
"""

import pathlib

import numpy as np
import pytest

import dml

DATA = pathlib.Path(__file__).resolve().parents[2] / "tests" / "data"
ONNX = DATA / "onnx"
CAFFE = DATA / "caffe"


def fixture(case):
    d = np.load(ONNX / f"{case}.npz")
    return d["x"], d["pred"], d["y"]


@pytest.mark.parametrize("case", ["mlp", "cnn"])
def test_onnx2dml_predicts_the_reference_outputs(case):
    x, want, _ = fixture(case)
    est = dml.ONNX2DML(str(ONNX / f"{case}.onnx"), verbose=0)
    got = est.predict_proba(x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    # Without a loss it is a plain model: predict gives the outputs, fit says what is missing.
    np.testing.assert_allclose(est.predict(x), want, rtol=0, atol=1e-9)
    with pytest.raises(dml.DMLError, match="loss="):
        est.fit(x, np.argmax(want, axis=1))


def test_onnx2dml_takes_nchw_images():
    x, want, _ = fixture("cnn")
    est = dml.ONNX2DML(str(ONNX / "cnn.onnx"), input_shape=(2, 7, 7))
    np.testing.assert_allclose(est.predict_proba(x.reshape(-1, 2, 7, 7)), want, rtol=0, atol=1e-9)
    with pytest.raises(ValueError, match="does not match"):
        dml.ONNX2DML(str(ONNX / "cnn.onnx"), input_shape=(7, 7, 2))
    with pytest.raises(ValueError, match="does not fit"):
        est.predict(np.ones((2, 5)))


@pytest.mark.parametrize("case,optimizer,lr", [("mlp", "sgd", 0.1), ("cnn", "adam", 0.01)])
def test_onnx2dml_fine_tunes(case, optimizer, lr, tmp_path):
    x, before, y = fixture(case)
    est = dml.ONNX2DML(str(ONNX / f"{case}.onnx"), loss="categorical_crossentropy", optimizer=optimizer,
                       learning_rate=lr, verbose=0)
    first = est.evaluate(x, y)
    ce0 = -np.mean(np.sum(y * np.log(np.clip(before, 1e-7, 1 - 1e-7)), axis=1))
    assert first == pytest.approx(ce0, rel=1e-9)
    est.fit(x, y, epochs=8, batch_size=4, shuffle=False)
    loss = est.history_["loss"]
    assert len(loss) == 8 and all(np.isfinite(loss))
    assert loss[-1] < 0.9 * loss[0], loss
    assert est.evaluate(x, y) < first
    assert est.score(x, np.argmax(y, axis=1)) >= 0.5
    assert "ONNX model" in est.get_training_script()
    assert est.get_prediction_script()
    with pytest.raises(NotImplementedError, match="to_keras"):
        est.to_keras()
    est.save(tmp_path / "saved")
    again = dml.ONNX2DML.load(tmp_path / "saved")
    np.testing.assert_allclose(again.predict_proba(x), est.predict_proba(x), rtol=0, atol=1e-12)


def blocks(n, seed):
    """Ten classes of 28x28 images: a bright block whose place is the class, on noise."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 40, (n, 28, 28))
    y = (np.arange(n) * 7 + seed) % 10
    for r, k in enumerate(y):
        r0, c0 = (k // 5) * 14, (k % 5) * 5
        x[r, r0:r0 + 10, c0:c0 + 5] += 200
    return x.reshape(n, 1, 28, 28), y


def lenet(**kw):
    return dml.Caffe2DML(None, str(CAFFE / "lenet_solver.prototxt"), str(CAFFE / "lenet.prototxt"), (1, 28, 28), **kw)


def test_caffe2dml_trains_lenet_and_predicts(tmp_path):
    x, y = blocks(128, 1)
    est = lenet()
    assert est._info["caffe_max_iter"] == 2000
    before = est.evaluate(x, y, return_dict=True)
    assert before["loss"] == pytest.approx(np.log(10), rel=0.1)  # Caffe's fillers: near-uniform scores
    est.fit(x, y, max_iter=12)
    h = est.history_
    assert h["iteration"] == list(range(12))
    assert h["loss"][-1] < 0.5 * h["loss"][0], h["loss"]
    # lr_policy exp, gamma 0.95: base_lr * gamma^iter
    np.testing.assert_allclose(h["lr"], 0.01 * 0.95 ** np.arange(12), rtol=1e-6)
    proba = est.predict_proba(x)
    assert proba.shape == (128, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    # Flattened NCHW rows and (N, C, H, W) are the same input.
    np.testing.assert_array_equal(est.predict(x.reshape(128, -1)), est.predict(x))
    assert est.score(x, y) > 0.5
    after = est.evaluate(x, y, return_dict=True)
    assert after["loss"] < before["loss"]
    # The solver state carries on: a second fit continues the iteration count and lr schedule.
    est.fit(x, y, max_iter=2)
    np.testing.assert_allclose(est.history_["lr"], 0.01 * 0.95 ** np.arange(12, 14), rtol=1e-6)
    assert "Caffe" in est.get_training_script()
    assert est.get_prediction_script()
    with pytest.raises(NotImplementedError, match="to_keras"):
        est.to_keras()
    est.save(tmp_path / "lenet")
    again = dml.Caffe2DML.load(tmp_path / "lenet")
    np.testing.assert_allclose(again.predict_proba(x[:8]), est.predict_proba(x[:8]), rtol=0, atol=1e-12)


def test_caffe2dml_string_labels_and_errors():
    x, y = blocks(64, 2)
    names = np.array(list("abcdefghij"))
    est = lenet()
    est.fit(x, names[y], max_iter=2)
    assert set(est.predict(x[:4])) <= set(names)
    with pytest.raises(ValueError, match="does not fit"):
        est.predict(np.ones((2, 5)))
    est.set(train_algo="minibatch", test_algo="batch", debug=True)  # SystemML's usual settings
    assert est.predict_proba(x[:3]).shape == (3, 10)
    with pytest.warns(UserWarning, match="no effect"):
        est.set(train_algo="batch")
    with pytest.raises(dml.DMLError, match="missing.prototxt"):
        dml.Caffe2DML(str(CAFFE / "lenet_solver.prototxt"), str(CAFFE / "missing.prototxt"))
