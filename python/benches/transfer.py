"""How long a large float64 array takes into a DML script and back (a benchmark, not a test).

    python python/benches/transfer.py            # 1 GiB: 16384 x 8192 float64
    python python/benches/transfer.py 256        # MiB

A C-ordered float64 array goes in without a copy (the engine reads NumPy's buffer) and a result
comes back with the engine's buffer handed to NumPy, so passing a matrix through a script costs
microseconds whatever its size; one that the script computes costs what the computation costs.
Also shown for comparison: a Fortran-ordered array (one conversion copy on the way in).
"""

import sys
import time

import numpy as np

import dml


def timed(label, fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    print(f"{label:<58} {best * 1000:9.1f} ms")
    return out


def main():
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    cols = 8192
    rows = mib * 1024 * 1024 // (8 * cols)
    X = np.random.default_rng(0).standard_normal((rows, cols))
    print(f"X: {rows} x {cols} float64 = {X.nbytes / 2**30:.2f} GiB")

    passthrough = dml.Script("Y = X", inputs=["X"], outputs=["Y"])
    summed = dml.Script("s = sum(X)", inputs=["X"], outputs=["s"])
    made = dml.Script("Y = matrix(1, rows=r, cols=c)", inputs=["r", "c"], outputs=["Y"])

    Y = timed("in and back out (Y = X): no copy either way", lambda: passthrough.execute(X=X)["Y"])
    assert Y is X
    s = timed("in, read by the script (s = sum(X))", lambda: summed.execute(X=X)["s"])
    assert np.isclose(s, X.sum())
    M = timed("made by the script and handed out (matrix(1, ...))", lambda: made.execute(r=rows, c=cols)["Y"])
    assert M.shape == X.shape
    del M
    F = np.asfortranarray(X)
    timed("Fortran order in (one conversion copy), back out", lambda: passthrough.execute(X=F)["Y"], repeat=1)
    Z = timed("dml.run('Y = X') (compile + run)", lambda: dml.run("Y = X", {"X": X}, ["Y"])["Y"], repeat=1)
    assert Z is X


if __name__ == "__main__":
    main()
