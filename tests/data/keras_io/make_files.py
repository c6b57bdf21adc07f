"""Makes the Keras fixtures read by tests/convert_keras_files.rs, and expected.json beside them.

Run it from anywhere with the venv of README.md:

    KERAS_BACKEND=jax /work/venvs/kio/bin/python tests/data/keras_io/make_files.py

Every expected value in expected.json comes from Keras's own objects (the model's layers and the
optimizer's variables), not from reading the files back, so the Rust reader is checked against
Keras and not against a second reader of the same bytes. Files are not byte-reproducible
(metadata.json holds the save date), but the weights are: the seed is fixed.
"""

import io
import json
import os
import zipfile

os.environ.setdefault("KERAS_BACKEND", "jax")
# float64 models need 64-bit types in JAX; float32 models keep their float32 and int32 variables.
os.environ.setdefault("JAX_ENABLE_X64", "1")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers as L  # noqa: E402

OUT = os.path.dirname(os.path.abspath(__file__))
EXPECTED = {}


def path(name):
    return os.path.join(OUT, name)


def exact(x):
    """A float as its shortest round-trip decimal string: JSON numbers may be parsed with a
    last-bit error (serde_json's default parser is not correctly rounded), strings are parsed by
    Rust's exact str::parse."""
    return repr(float(x))


def stats(value):
    """What the Rust test compares per variable: exact first/last values and float64 sums."""
    a = np.asarray(value)
    f = a.astype(np.float64).ravel()
    return {
        "shape": list(a.shape),
        "dtype": str(a.dtype),
        "sum": exact(f.sum()),
        "abs_sum": exact(np.abs(f).sum()),
        "first": exact(f[0]) if f.size else None,
        "last": exact(f[-1]) if f.size else None,
    }


def is_model(layer):
    return isinstance(layer, keras.Model)


def keras3_layers(model, prefix=""):
    """Layer path -> variables in saved order, nested models flattened as "outer/inner"."""
    out = {}
    for layer in model.layers:
        if is_model(layer):
            out.update(keras3_layers(layer, prefix + layer.name + "/"))
        elif layer.weights:
            out[prefix + layer.name] = [stats(v.numpy()) for v in layer.weights]
    return out


def legacy_layers(model):
    """What a legacy .h5 holds: one entry per top-level layer, in the order of its weight_names."""
    out = {}
    for layer in model.layers:
        ws = layer.trainable_weights + layer.non_trainable_weights
        if is_model(layer):
            ws = layer.weights
        if ws:
            out[layer.name] = [stats(v.numpy()) for v in ws]
    return out


def optimizer_vars(model):
    opt = getattr(model, "optimizer", None)
    if opt is None or not getattr(opt, "built", False):
        return []
    return [stats(v.numpy()) for v in opt.variables]


def record(name, model, fmt, layers=None, **extra):
    EXPECTED[name] = {
        "format": fmt,
        "keras_version": keras.__version__,
        "model_class": model.__class__.__name__,
        "layers": layers if layers is not None else keras3_layers(model),
        "optimizer": optimizer_vars(model),
        **extra,
    }


def randomize(model, rng):
    """Non-trivial values everywhere, so that a swapped or misplaced variable shows."""
    for layer in model.layers:
        if is_model(layer):
            randomize(layer, rng)
            continue
        for v in layer.weights:
            shape = tuple(v.shape)
            if "variance" in v.path:
                val = rng.uniform(0.5, 1.5, shape)
            else:
                val = rng.normal(0.0, 0.5, shape)
            v.assign(val.astype(v.dtype))


def rezip(src, dst, compression, edit_h5=None):
    """Copies a .keras archive member by member, optionally editing model.weights.h5 with h5py."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression=compression) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "model.weights.h5" and edit_h5 is not None:
                buf = io.BytesIO(data)
                with h5py.File(buf, "a") as h:
                    edit_h5(h)
                data = buf.getvalue()
            zout.writestr(info.filename, data)


def check_loads_same(file_name, model):
    """Keras must load the file and give back the same weights (a sanity check of synthetic files)."""
    loaded = keras.saving.load_model(path(file_name), compile=False)
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        assert a.shape == b.shape and np.array_equal(a, b), file_name


def group_btree_levels(raw):
    """Levels of the group v1 B-tree nodes ("TREE", node type 0) in an HDF5 file image."""
    levels = []
    at = raw.find(b"TREE")
    while at >= 0:
        if raw[at + 4] == 0:
            levels.append(raw[at + 5])
        at = raw.find(b"TREE", at + 1)
    return levels


def seq_cnn(rng):
    m = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            L.Conv2D(4, 3, name="conv"),
            L.BatchNormalization(name="bn"),
            L.MaxPooling2D(2),
            L.DepthwiseConv2D(3, padding="same"),
            L.SeparableConv2D(4, 3, padding="same", name="sep"),
            L.Flatten(),
            L.Dropout(0.5),
            L.Dense(3, activation="softmax", name="out"),
        ],
        name="seqcnn",
    )
    randomize(m, rng)
    return m


def fun_text(rng):
    inp = keras.Input((6,), dtype="int32", name="tokens")
    e = L.Embedding(20, 4, name="emb")(inp)
    l1 = L.LSTM(3, return_sequences=True, name="lstm1")(e)
    l2 = L.LSTM(3, return_sequences=True, name="lstm2")(l1)
    g = L.GRU(3, return_sequences=True, name="gru")(e)
    a = L.Add(name="add")([l2, g])
    b = L.Bidirectional(L.LSTM(2), name="bi")(a)
    c = L.Concatenate(name="cat")([b, L.Flatten(name="flat")(a)])
    out = L.Dense(2, name="head")(c)
    m = keras.Model(inp, out, name="text")
    randomize(m, rng)
    return m


def nested(rng):
    block = keras.Sequential(
        [keras.Input((4,)), L.Dense(3, name="dense"), L.BatchNormalization(name="bn")], name="block"
    )
    block2 = keras.Sequential([keras.Input((3,)), L.Dense(3, name="dense")], name="block2")
    hi = keras.Input((3,))
    head = keras.Model(hi, L.Dense(2, name="dense")(hi), name="head")
    inp = keras.Input((4,), name="x")
    out = L.Dense(1, name="dense")(head(block2(block(inp))))
    m = keras.Model(inp, out, name="outer")
    randomize(m, rng)
    return m


def deep(rng, n=200):
    """200 layers: the `layers` group gets 200 children, which needs a level-1 group B-tree."""
    ls = [keras.Input((2,))]
    for i in range(n):
        ls.append(L.Dense(2) if i % 4 == 0 else L.Activation("linear"))
    m = keras.Sequential(ls, name="deep")
    randomize(m, rng)
    return m


def seq_f64(rng):
    # floatx alone does not reach the layers: their dtype comes from the global dtype policy.
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        m = keras.Sequential(
            [keras.Input((5,)), L.Dense(4, activation="relu"), L.BatchNormalization(), L.Dense(2)],
            name="f64",
        )
        randomize(m, rng)
        m.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="mse")
        x = rng.normal(size=(16, 5))
        y = rng.normal(size=(16, 2))
        m.fit(x, y, epochs=2, batch_size=8, verbose=0)
        m.save(path("seq_f64.keras"))
        record("seq_f64.keras", m, "keras3", compiled=True)
    finally:
        keras.config.set_floatx("float32")
        keras.config.set_dtype_policy("float32")


def halfs(rng):
    """bfloat16 and float16 layers: h5py stores bfloat16 as a 2-byte opaque type with the dataset
    attribute dtype="bfloat16" (saving_lib.py H5IOStore.__setitem__), float16 as IEEE half."""
    m = keras.Sequential(
        [keras.Input((4,)), L.Dense(3, dtype="bfloat16", name="bf"), L.Dense(2, dtype="float16", name="hf")],
        name="halfs",
    )
    randomize(m, rng)
    m.save(path("halfs.keras"))
    record("halfs.keras", m, "keras3", compiled=False)


def keras2_style_h5():
    """A tf.keras 2 style .h5 written with h5py alone: fixed-length byte strings everywhere,
    `kernel:0` weight names, a Keras 2 model_config, and an empty float64 weight_names."""
    rng = np.random.default_rng(7)
    k = rng.normal(size=(4, 3)).astype(np.float32)
    b = rng.normal(size=(3,)).astype(np.float32)
    k2 = rng.normal(size=(3, 2)).astype(np.float32)
    b2 = rng.normal(size=(2,)).astype(np.float32)
    dense = lambda name, units, act: {  # noqa: E731
        "class_name": "Dense",
        "config": {
            "name": name,
            "trainable": True,
            "dtype": "float32",
            "units": units,
            "activation": act,
            "use_bias": True,
            "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
            "bias_initializer": {"class_name": "Zeros", "config": {}},
            "kernel_regularizer": None,
            "bias_regularizer": None,
            "activity_regularizer": None,
            "kernel_constraint": None,
            "bias_constraint": None,
        },
    }
    config = {
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [
                {
                    "class_name": "InputLayer",
                    "config": {
                        "batch_input_shape": [None, 4],
                        "dtype": "float32",
                        "sparse": False,
                        "ragged": False,
                        "name": "dense_input",
                    },
                },
                dense("dense", 3, "relu"),
                {
                    "class_name": "Dropout",
                    "config": {"name": "dropout", "trainable": True, "dtype": "float32", "rate": 0.5},
                },
                dense("dense_1", 2, "linear"),
            ],
        },
    }
    training = {
        "loss": "mse",
        "metrics": None,
        "optimizer_config": {"class_name": "SGD", "config": {"name": "SGD", "learning_rate": 0.01}},
    }
    with h5py.File(path("keras2_style.h5"), "w") as f:
        f.attrs["keras_version"] = np.bytes_(b"2.15.0")
        f.attrs["backend"] = np.bytes_(b"tensorflow")
        f.attrs["model_config"] = np.bytes_(json.dumps(config).encode("utf8"))
        f.attrs["training_config"] = np.bytes_(json.dumps(training).encode("utf8"))
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = np.array([b"dense", b"dropout", b"dense_1"])
        g.attrs["backend"] = np.bytes_(b"tensorflow")
        g.attrs["keras_version"] = np.bytes_(b"2.15.0")
        for name, ws in (("dense", (k, b)), ("dense_1", (k2, b2))):
            lg = g.create_group(name)
            lg.attrs["weight_names"] = np.array([f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()])
            lg[f"{name}/kernel:0"] = ws[0]
            lg[f"{name}/bias:0"] = ws[1]
        g.create_group("dropout").attrs["weight_names"] = np.array([], dtype=np.float64)
    EXPECTED["keras2_style.h5"] = {
        "format": "legacy_h5",
        "keras_version": "2.15.0",
        "model_class": "Sequential",
        "layers": {"dense": [stats(k), stats(b)], "dense_1": [stats(k2), stats(b2)]},
        "optimizer": [],
        "weight_paths": {
            "dense": ["model_weights/dense/dense/kernel:0", "model_weights/dense/dense/bias:0"],
        },
    }
    # Keras 3 itself must read the synthetic file and get the same weights.
    loaded = keras.saving.load_model(path("keras2_style.h5"), compile=False)
    for a, ref in zip(loaded.get_weights(), [k, b, k2, b2], strict=True):
        assert np.array_equal(a, ref)


def split_names_h5():
    """layer_names and one weight_names split into `name0, name1, ...` as Keras does above 64512
    bytes (save_attributes_to_hdf5_group). Keras writes each chunk as a fixed-length `S` array
    (np.array_split of np.asarray(list of bytes)); the chunks here are small to keep the file
    small, since the reader's job is only to find and join them."""
    rng = np.random.default_rng(11)
    names = [f"dense_{i}" for i in range(5)]
    vals = {n: (rng.normal(size=(2, 2)).astype(np.float32), rng.normal(size=(2,)).astype(np.float32)) for n in names}
    layers = [{"class_name": "InputLayer", "config": {"batch_input_shape": [None, 2], "dtype": "float32", "name": "in"}}]
    for n in names:
        layers.append({"class_name": "Dense", "config": {"name": n, "units": 2, "dtype": "float32"}})
    config = {"class_name": "Sequential", "config": {"name": "split", "layers": layers}}
    with h5py.File(path("split_names.h5"), "w") as f:
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["model_config"] = json.dumps(config)
        g = f.create_group("model_weights")
        chunks = np.array_split(np.asarray([n.encode() for n in names]), 3)
        for i, c in enumerate(chunks):
            g.attrs[f"layer_names{i}"] = c
        for n in names:
            lg = g.create_group(n)
            wn = np.asarray([f"{n}/kernel:0".encode(), f"{n}/bias:0".encode()])
            if n == "dense_2":
                lg.attrs["weight_names0"] = wn[:1]
                lg.attrs["weight_names1"] = wn[1:]
            else:
                lg.attrs["weight_names"] = wn
            lg[f"{n}/kernel:0"] = vals[n][0]
            lg[f"{n}/bias:0"] = vals[n][1]
    EXPECTED["split_names.h5"] = {
        "format": "legacy_h5",
        "keras_version": "2.15.0",
        "model_class": "Sequential",
        "layers": {n: [stats(vals[n][0]), stats(vals[n][1])] for n in names},
        "optimizer": [],
        "layer_order": names,
    }


def real_split_check():
    """Not committed (about 70 KB of names): shows that real Keras splits layer_names into
    fixed-length chunks. Returns what h5py sees, recorded in expected.json for the README."""
    ls = [keras.Input((2,))] + [L.Activation("linear", name=("a" * 2200 if i == 0 else f"act{i}")) for i in range(30)]
    m = keras.Sequential(ls, name="bigsplit")
    tmp = path("_tmp_split.h5")
    m.save(tmp)
    try:
        with h5py.File(tmp) as f:
            keys = sorted(k for k in f["model_weights"].attrs if k.startswith("layer_names"))
            dt = str(f["model_weights"].attrs[keys[0]].dtype)
    finally:
        os.remove(tmp)
    return {"attrs": keys, "dtype": dt}


def npz_files():
    """Oracle-style arrays for the .npz reader: every dtype it takes, both memory orders, a 0-d
    array, and both np.savez (stored) and np.savez_compressed (deflate)."""
    rng = np.random.default_rng(5)
    arrays = {
        "f8": rng.normal(size=(2, 3)),
        "f4": rng.normal(size=(3, 2)).astype(np.float32),
        "i8": np.arange(-3, 3, dtype=np.int64).reshape(2, 3),
        "i4": np.array([[-7, 8]], dtype=np.int32),
        "b": np.array([True, False, True]),
        "fortran": np.asfortranarray(rng.normal(size=(2, 3, 4))),
        "scalar": np.float64(2.5),
        "u1": np.array([0, 255], dtype=np.uint8),
        "f2": np.array([0.5, -1.25], dtype=np.float16),
        "big": np.array([1.5, -2.0], dtype=">f8"),
    }
    np.savez(path("arrays.npz"), **arrays)
    np.savez_compressed(path("arrays_compressed.npz"), **arrays)
    assert np.isfortran(arrays["fortran"])
    EXPECTED["npz"] = {
        k: {"shape": list(np.shape(v)), "data": [exact(x) for x in np.asarray(v, dtype=np.float64).ravel(order="C")]}
        for k, v in arrays.items()
    }


def main():
    rng = np.random.default_rng(1234)
    keras.utils.set_random_seed(1234)

    m = seq_cnn(rng)
    m.save(path("seq_cnn.keras"))
    record("seq_cnn.keras", m, "keras3", compiled=False)
    m.save(path("legacy_cnn.h5"))
    record("legacy_cnn.h5", m, "legacy_h5", layers=legacy_layers(m), compiled=False)
    # Written by Keras before 3.6: no `name` attribute on the vars groups.
    rezip(
        path("seq_cnn.keras"),
        path("no_name_attr.keras"),
        zipfile.ZIP_STORED,
        lambda h: h.visititems(lambda n, o: o.attrs.__delitem__("name") if "name" in o.attrs else None),
    )
    record("no_name_attr.keras", m, "keras3", compiled=False)
    check_loads_same("no_name_attr.keras", m)
    # A `name` attribute that does not match the config: the reader must say so.
    rezip(
        path("seq_cnn.keras"),
        path("name_mismatch.keras"),
        zipfile.ZIP_STORED,
        lambda h: h["layers/dense/vars"].attrs.__setitem__("name", "not_out"),
    )
    # tf.keras 2.13-2.15 wrote `_layer_checkpoint_dependencies` where Keras 3 writes `layers`;
    # Keras 3 still loads that (H5IOStore.get, "2.13 compatibility").
    rezip(
        path("seq_cnn.keras"),
        path("ckpt_deps.keras"),
        zipfile.ZIP_STORED,
        lambda h: h.move("layers", "_layer_checkpoint_dependencies"),
    )
    record("ckpt_deps.keras", m, "keras3", compiled=False)
    check_loads_same("ckpt_deps.keras", m)

    m = fun_text(rng)
    m.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    x = rng.integers(0, 20, size=(16, 6)).astype("int32")
    y = rng.normal(size=(16, 2)).astype("float32")
    m.fit(x, y, epochs=2, batch_size=8, verbose=0)
    m.save(path("fun_text.keras"))
    record("fun_text.keras", m, "keras3", compiled=True)
    m.save(path("legacy_text.h5"))
    record("legacy_text.h5", m, "legacy_h5", layers=legacy_layers(m), compiled=True)

    m = nested(rng)
    m.save(path("nested.keras"))
    record("nested.keras", m, "keras3", compiled=False)

    m = deep(rng)
    m.save(path("_deep_stored.keras"))
    # Re-zipped with deflate: Keras stores members uncompressed, which would make this file
    # 530 KB; the reader must take deflate anyway (a re-zipped archive), and Keras loads it.
    rezip(path("_deep_stored.keras"), path("deep200.keras"), zipfile.ZIP_DEFLATED)
    os.remove(path("_deep_stored.keras"))
    with zipfile.ZipFile(path("deep200.keras")) as z:
        levels = group_btree_levels(z.read("model.weights.h5"))
    assert max(levels) >= 1, levels
    record("deep200.keras", m, "keras3", compiled=False, group_btree_levels=sorted(set(levels)))
    check_loads_same("deep200.keras", m)

    seq_f64(rng)
    halfs(rng)
    keras2_style_h5()
    split_names_h5()
    EXPECTED["_real_keras_split"] = real_split_check()
    npz_files()

    with open(path("expected.json"), "w") as f:
        json.dump(EXPECTED, f, indent=1, sort_keys=True)
        f.write("\n")
    for name in sorted(os.listdir(OUT)):
        print(f"{os.path.getsize(path(name)):8d} {name}")


if __name__ == "__main__":
    main()
