"""dml.run and dml.Script: values in and out, errors, print, reuse, Ctrl-C, the lock released."""

import _thread
import os
import signal
import threading
import time

import numpy as np
import pytest

import dml


def test_matrix_round_trip_keeps_values_and_dtype():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((50, 7))
    out = dml.run("Y = X + 0\nZ = X", inputs={"X": X}, outputs=["Y", "Z"])
    assert out["Y"].dtype == np.float64 and out["Y"].shape == (50, 7)
    np.testing.assert_array_equal(out["Y"], X)
    # An input passed through unchanged is the same array (it was never copied).
    assert out["Z"] is X


def test_fortran_order_views_and_other_dtypes_are_converted():
    rng = np.random.default_rng(2)
    C = rng.standard_normal((6, 4))
    cases = {
        "F": np.asfortranarray(C),
        "view": C[:, ::2],
        "int": np.arange(24, dtype=np.int32).reshape(6, 4),
        "int64": np.arange(24, dtype=np.int64).reshape(6, 4) - 12,
        "uint8": np.arange(24, dtype=np.uint8).reshape(6, 4),
        "bool": (C > 0),
        "float32": C.astype(np.float32),
        "bigendian": C.astype(">f8"),
    }
    for name, a in cases.items():
        Y = dml.run("Y = X * 1", inputs={"X": a}, outputs=["Y"])["Y"]
        assert Y.dtype == np.float64, name
        assert Y.flags.c_contiguous, name
        np.testing.assert_array_equal(Y, a.astype(np.float64), err_msg=name)
    # Fortran order: the values, not the memory order, survive (t(X) reads them as DML sees them).
    T = dml.run("T = t(X)", inputs={"X": np.asfortranarray(C)}, outputs=["T"])["T"]
    np.testing.assert_array_equal(T, C.T)


def test_vectors_scalars_strings_lists():
    out = dml.run(
        "n = nrow(v); m = ncol(v); i = k + 1; d = x * 2; b = !flag; s = name + \"!\"\n"
        "L = list(1, \"a\", TRUE); N = list(a=1.5, b=v)",
        inputs={"v": np.arange(5.0), "k": 41, "x": 1.25, "flag": False, "name": "dml"},
        outputs=["n", "m", "i", "d", "b", "s", "L", "N"],
    )
    assert (out["n"], out["m"]) == (5, 1)
    assert out["i"] == 42 and isinstance(out["i"], int)
    assert out["d"] == 2.5 and isinstance(out["d"], float)
    assert out["b"] is True
    assert out["s"] == "dml!"
    assert out["L"] == [1, "a", True]
    assert out["N"]["a"] == 1.5
    np.testing.assert_array_equal(out["N"]["b"], np.arange(5.0).reshape(-1, 1))


def test_lists_and_numpy_scalars_in():
    out = dml.run(
        "a = as.scalar(L[1]); b = as.scalar(D[\"w\"]); c = n",
        inputs={"L": [np.float64(3.5), 2], "D": {"w": 7}, "n": np.int64(9)},
        outputs=["a", "b", "c"],
    )
    assert out == {"a": 3.5, "b": 7, "c": 9}


def test_sparse_input():
    sp = pytest.importorskip("scipy.sparse")
    S = sp.random(40, 30, density=0.05, format="coo", random_state=3)
    out = dml.run("s = sum(S); Y = S %*% matrix(1, rows=ncol(S), cols=1)", inputs={"S": S}, outputs=["s", "Y"])
    assert out["s"] == pytest.approx(S.sum())
    np.testing.assert_allclose(out["Y"][:, 0], np.asarray(S.sum(axis=1)).ravel())


def test_frames_round_trip_with_schema():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(
        {
            "f64": [1.5, np.nan, -2.0],
            "f32": np.array([0.5, 1.0, 2.0], dtype=np.float32),
            "i64": np.array([1, 2, 3], dtype=np.int64),
            "i32": np.array([-1, 0, 1], dtype=np.int32),
            "ok": [True, False, True],
            "name": ["a", None, "c"],
        }
    )
    out = dml.run("G = F\nn = nrow(F)\nT = toString(F)", inputs={"F": df}, outputs=["G", "n", "T"])
    pd.testing.assert_frame_equal(out["G"], df)
    assert out["n"] == 3
    assert "FP64 FP32 INT64 INT32 BOOLEAN STRING" in out["T"]  # the schema, as DML sees it
    # A frame made in DML comes back with its schema and default names.
    made = dml.run(
        'F = as.frame(matrix("1 2 3 4", rows=2, cols=2))\nS = cbind(F, as.frame(matrix(1, rows=2, cols=1)))',
        outputs=["F", "S"],
    )
    assert list(made["F"].columns) == ["C1", "C2"]
    # SystemDS types as.frame of whole numbers INT32 (checked with SystemDS 3.4.0), and so do we.
    assert made["F"]["C1"].dtype == np.int32
    np.testing.assert_array_equal(made["F"].to_numpy(), [[1.0, 2.0], [3.0, 4.0]])


def test_frame_transform_with_strings():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"city": ["berlin", "paris", "berlin"], "n": [1, 2, 3]})
    out = dml.run(
        'jspec = "{ids: true, recode: [1]}"\n[X, M] = transformencode(target=F, spec=jspec)',
        inputs={"F": df},
        outputs=["X", "M"],
    )
    np.testing.assert_array_equal(out["X"][:, 1], [1, 2, 3])
    assert sorted(set(out["X"][:, 0])) == [1.0, 2.0]
    assert isinstance(out["M"], pd.DataFrame)


def test_errors_raise_dmlerror_with_the_diagnostic():
    assert issubclass(dml.DMLError, Exception)
    with pytest.raises(dml.DMLError) as e:
        dml.run("x = 1 +\ny = 2")
    assert "<script>:2:3" in str(e.value) and "y = 2" in str(e.value)
    with pytest.raises(dml.DMLError, match="boom"):
        dml.run('stop("boom")')
    with pytest.raises(dml.DMLError, match="undefined|unknown|not defined"):
        dml.run("y = x_undefined + 1", outputs=["y"])
    with pytest.raises(dml.DMLError):
        dml.run("Y = X %*% X", inputs={"X": np.ones((2, 3))}, outputs=["Y"])
    with pytest.raises(TypeError):
        dml.run("Y = X", inputs={"X": None}, outputs=["Y"])
    with pytest.raises(ValueError):
        dml.run("Y = X", inputs={"X": np.ones((2, 2, 2))}, outputs=["Y"])


def test_print_goes_to_python_stdout(capsys):
    dml.run('print("hello from dml")\nfor (i in 1:3) { print("i=" + i) }')
    assert capsys.readouterr().out == "hello from dml\ni=1\ni=2\ni=3\n"


def test_script_compiled_once_run_many_times():
    s = dml.Script("Y = X %*% t(X) + a\nn = sum(Y)", inputs=["X", "a"], outputs=["Y", "n"])
    assert s.inputs == ["X", "a"] and s.outputs == ["Y", "n"]
    for k in range(1, 5):
        X = np.arange(float(k * 3)).reshape(k, 3)
        out = s.execute(X=X, a=k)
        np.testing.assert_allclose(out["Y"], X @ X.T + k)
        assert out["n"] == pytest.approx((X @ X.T + k).sum())
    with pytest.raises(TypeError, match="missing input"):
        s.execute(X=np.ones((1, 1)))
    with pytest.raises(TypeError, match="not an input"):
        s.execute(X=np.ones((1, 1)), a=1, b=2)
    # A compile error surfaces at construction.
    with pytest.raises(dml.DMLError):
        dml.Script("Y = (", inputs=[], outputs=["Y"])


def test_script_files_args_and_source_next_to_it(tmp_path):
    (tmp_path / "lib.dml").write_text("twice = function(matrix[double] X) return (matrix[double] Y) { Y = 2 * X }\n")
    main = tmp_path / "main.dml"
    main.write_text('source("lib.dml") as lib\nY = lib::twice(X) + $1 + $k\n')
    old = os.getcwd()
    os.chdir("/")
    try:
        out = dml.run(str(main), inputs={"X": np.ones((2, 2))}, outputs=["Y"], args=[1], nvargs={"k": 0.5})
        np.testing.assert_array_equal(out["Y"], np.full((2, 2), 3.5))
        out = dml.run(main, inputs={"X": np.zeros((1, 1))}, outputs="Y", args=["2"], nvargs={"k": 1})
        assert out["Y"][0, 0] == 3.0
    finally:
        os.chdir(old)
    with pytest.raises(FileNotFoundError):
        dml.run("no_such_script.dml")


def test_csv_written_by_dml_reads_back_with_numpy_and_pandas(tmp_path):
    X = np.array([[1.0, 0.0, 2.5], [0.0, 0.0, -1.0]])
    f = str(tmp_path / "x.csv")
    dml.run('write(X, f, format="csv")', inputs={"X": X, "f": f})
    with open(f) as fh:
        assert fh.read().splitlines() == ["1.0,0,2.5", "0,0,-1.0"]
    np.testing.assert_array_equal(np.loadtxt(f, delimiter=","), X)
    pd = pytest.importorskip("pandas")
    np.testing.assert_array_equal(pd.read_csv(f, header=None).to_numpy(), X)
    # sparse=TRUE still leaves zeros empty, as SystemDS does.
    g = str(tmp_path / "s.csv")
    dml.run('write(X, g, format="csv", sparse=TRUE)', inputs={"X": X, "g": g})
    with open(g) as fh:
        assert fh.read().splitlines() == ["1.0,,2.5", ",,-1.0"]


def test_ctrl_c_stops_a_running_script():
    timer = threading.Timer(0.5, _thread.interrupt_main)
    start = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        dml.run("i = 0\nwhile (TRUE) { i = i + 1 }")
    assert time.monotonic() - start < 10
    timer.join()
    # The engine is fine afterwards.
    assert dml.run("x = 1 + 1", outputs=["x"])["x"] == 2


def test_a_real_sigint_stops_a_script_and_a_prepared_script_runs_again():
    # What Ctrl-C in a terminal sends: SIGINT to the process, handled by Python's default handler.
    script = dml.Script("s = 0\nfor (i in 1:n) { s = s + i }", inputs=["n"], outputs=["s"])
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        script.execute(n=10**12)
    assert time.monotonic() - start < 10
    timer.join()
    assert script.execute(n=100)["s"] == 5050


def test_the_interpreter_lock_is_released_while_a_script_runs():
    ticks = []
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks.append(1)
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    try:
        before = len(ticks)
        dml.run("s = 0\nfor (i in 1:300000) { s = s + i }", outputs=["s"])
        during = len(ticks) - before
    finally:
        done.set()
        t.join()
    assert during > 10


def test_results_own_their_buffers():
    Y = dml.run("Y = matrix(1, rows=3, cols=2)", outputs=["Y"])["Y"]
    Y[0, 0] = 5.0  # writable, and nobody else sees it
    assert Y.sum() == 10.0
    big = dml.run("Y = rand(rows=2000, cols=100, seed=1)", outputs=["Y"])["Y"]
    assert big.shape == (2000, 100) and big.flags.writeable
