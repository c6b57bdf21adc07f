"""The %%dml cell magic (IPython)."""

import numpy as np
import pytest

IPython = pytest.importorskip("IPython")

import dml  # noqa: E402


@pytest.fixture(scope="module")
def shell():
    from IPython.testing.globalipapp import get_ipython

    ip = get_ipython()
    ip.run_line_magic("load_ext", "dml")
    return ip


def test_cell_magic_binds_inputs_and_assigns_outputs(shell, capsys):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    y = X @ np.array([[1.0], [-2.0], [0.5]])
    shell.user_ns.update({"X": X, "y": y})
    shell.run_cell_magic(
        "dml",
        "-i X y -o W loss",
        'W = solve(t(X) %*% X, t(X) %*% y)\nloss = sum((X %*% W - y)^2)\nprint("fitted")',
    )
    np.testing.assert_allclose(shell.user_ns["W"], [[1.0], [-2.0], [0.5]], atol=1e-12)
    assert shell.user_ns["loss"] < 1e-20
    assert "fitted" in capsys.readouterr().out


def test_cell_magic_comma_lists_and_nvargs(shell):
    shell.user_ns["a"] = 2
    shell.run_cell_magic("dml", "-i a -o b,c --nvargs k=5", "b = a * $k\nc = b + 1")
    assert (shell.user_ns["b"], shell.user_ns["c"]) == (10, 11)


def test_cell_magic_errors(shell):
    with pytest.raises(NameError):
        shell.run_cell_magic("dml", "-i nowhere_defined", "x = 1")
    with pytest.raises(dml.DMLError, match="boom"):
        shell.run_cell_magic("dml", "", 'stop("boom")')
