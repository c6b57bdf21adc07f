"""The ``%%dml`` cell magic for IPython and Jupyter (``%load_ext dml``).

::

    %%dml -i X y -o W loss
    W = solve(t(X) %*% X, t(X) %*% y)
    loss = sum((X %*% W - y)^2)

``-i NAME ...`` binds variables of the notebook as the script's inputs (NumPy arrays, DataFrames,
scalars, lists), ``-o NAME ...`` assigns the script's results back to notebook variables of the
same names; ``--nvargs name=value ...`` and ``--args value ...`` give ``$name`` and ``$1 ...``.
The script's ``print`` output appears under the cell as it runs; an error shows the diagnostic.
"""

from __future__ import annotations

from typing import Any

from IPython.core import magic_arguments
from IPython.core.magic import Magics, cell_magic, magics_class


def _split(names: list[str]) -> list[str]:
    """`-i X y` and `-i X,y` alike."""
    return [n for name in names for n in name.split(",") if n]


@magics_class
class DMLMagics(Magics):
    """Magics of the ``dml`` package."""

    @magic_arguments.magic_arguments()
    @magic_arguments.argument(
        "-i", "--input", nargs="*", default=[], metavar="NAME", help="notebook variables bound as the script's inputs"
    )
    @magic_arguments.argument(
        "-o", "--output", nargs="*", default=[], metavar="NAME", help="script variables assigned back to the notebook"
    )
    @magic_arguments.argument("--args", nargs="*", default=[], metavar="VALUE", help="the script's $1, $2, ...")
    @magic_arguments.argument("--nvargs", nargs="*", default=[], metavar="NAME=VALUE", help="the script's $NAME")
    @cell_magic
    def dml(self, line: str, cell: str) -> None:
        """Runs the cell as a DML script (see ``dml.magic``)."""
        from . import DMLError, run

        opts = magic_arguments.parse_argstring(self.dml, line)
        ns = self.shell.user_ns
        inputs: dict[str, Any] = {}
        for name in _split(opts.input):
            if name not in ns:
                raise NameError(f"%%dml -i {name}: no variable `{name}` in the notebook")
            inputs[name] = ns[name]
        nvargs = {}
        for pair in opts.nvargs:
            key, sep, value = pair.partition("=")
            if not sep:
                raise ValueError(f"%%dml --nvargs expects name=value, got {pair!r}")
            nvargs[key] = value
        try:
            results = run(cell, inputs=inputs, outputs=_split(opts.output), args=list(opts.args), nvargs=nvargs)
        except DMLError as e:
            # The diagnostic is the message; a Python traceback into this module would add nothing.
            raise DMLError(str(e)) from None
        ns.update(results)


def load_ipython_extension(ipython: Any) -> None:
    """Registers ``%%dml`` (called by ``%load_ext dml``)."""
    ipython.register_magics(DMLMagics)
