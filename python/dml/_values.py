"""Python values to what the native module takes, and its results back.

What copies (see also ``src/values.rs``):

- a C-contiguous, aligned, native float64 2-D array: **no copy** (the engine reads its buffer);
- a 1-D array: a column vector (a view, so no copy either when it is contiguous float64);
- a Fortran-ordered float64 array: one copy (a parallel transposing copy to row-major order);
- other arrays (strided views, int, bool, float32, ...): one conversion copy to C-ordered float64
  (``numpy.ascontiguousarray``), since the engine's matrices are row-major doubles; matrices always
  come back as float64;
- pandas DataFrames: one copy per column; scipy sparse matrices: one copy (kept sparse);
- results: a matrix comes back with the engine's buffer handed to NumPy (no copy); an input passed
  through unchanged comes back as the very same array object.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from ._dml import CsrData, FrameData

# Frame column types and the NumPy dtype each comes back as.
_OUT_DTYPES = {
    "FP64": np.float64,
    "FP32": np.float32,
    "INT64": np.int64,
    "INT32": np.int32,
    "BOOLEAN": np.bool_,
}


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        return None
    return pandas


def _is_dataframe(v: Any) -> bool:
    pd = _pandas() if type(v).__module__.startswith("pandas") else None
    return pd is not None and isinstance(v, pd.DataFrame)


def _is_series(v: Any) -> bool:
    pd = _pandas() if type(v).__module__.startswith("pandas") else None
    return pd is not None and isinstance(v, pd.Series)


def _is_scipy_sparse(v: Any) -> bool:
    return type(v).__module__.startswith("scipy.sparse") and hasattr(v, "tocsr")


def arg(v: Any) -> Any:
    """A script argument (``$name``): int, float, bool or str."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        return float(v)
    if isinstance(v, str):
        return v
    raise TypeError(f"a script argument must be an int, float, bool or str, not {type(v).__name__}")


def matrix(a: Any, name: str = "value") -> Any:
    """A NumPy array (or anything ``numpy.asarray`` takes) as a 2-D float64 matrix; no copy when
    it already is a C-ordered float64 matrix."""
    a = np.asarray(a)
    if a.ndim == 0:
        return scalar(a.item(), name)
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    elif a.ndim != 2:
        raise ValueError(
            f"{name}: DML matrices are 2-D, this array is {a.ndim}-D {a.shape}; "
            "reshape it first (e.g. x.reshape(len(x), -1))"
        )
    if a.dtype.kind not in "biuf":
        if a.dtype.kind == "c":
            raise TypeError(f"{name}: DML has no complex matrices")
        if a.dtype.kind == "O":
            try:
                a = a.astype(np.float64)
            except (TypeError, ValueError):
                raise TypeError(
                    f"{name}: an object array that is not numeric; strings go in a pandas DataFrame (a frame)"
                ) from None
        else:
            raise TypeError(f"{name}: a {a.dtype} array is not numeric; strings go in a pandas DataFrame (a frame)")
    if a.dtype != np.float64 or not a.flags.aligned or not (a.flags.c_contiguous or a.flags.f_contiguous):
        a = np.ascontiguousarray(a, dtype=np.float64)
    # A Fortran-ordered float64 array goes as it is: the native side copies it to row-major order
    # in parallel (faster than NumPy's strided copy).
    return a


def scalar(v: Any, name: str = "value") -> Any:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        return float(v)
    if isinstance(v, str):
        return v
    raise TypeError(f"{name}: a {type(v).__name__} is not a DML scalar")


def _is_missing(x: Any) -> bool:
    if x is None:
        return True
    if isinstance(x, float) and math.isnan(x):
        return True
    pd = _pandas()
    return pd is not None and (x is pd.NA or x is pd.NaT)


def frame(df: Any, name: str = "value") -> FrameData:
    """A pandas DataFrame as a DML frame, column by column with its schema."""
    pd = _pandas()
    api = pd.api.types
    names, types, columns = [], [], []
    for i, col_name in enumerate(df.columns):
        s = df.iloc[:, i]
        dt = s.dtype
        names.append(str(col_name))
        has_na = bool(s.isna().any())
        if api.is_bool_dtype(dt) and not has_na:
            types.append("BOOLEAN")
            columns.append(s.to_numpy(dtype=np.bool_))
        elif api.is_integer_dtype(dt) and not has_na:
            narrow = getattr(dt, "itemsize", 8) <= 4 and api.is_signed_integer_dtype(dt)
            types.append("INT32" if narrow else "INT64")
            columns.append(np.ascontiguousarray(s.to_numpy(dtype=np.int64)))
        elif api.is_float_dtype(dt) or api.is_integer_dtype(dt) or (api.is_bool_dtype(dt) and has_na):
            # Floats (NaN kept), and nullable integers or booleans with missing cells (as NaN).
            narrow = str(dt).lower() in ("float32",)
            types.append("FP32" if narrow else "FP64")
            columns.append(np.ascontiguousarray(s.to_numpy(dtype=np.float64, na_value=np.nan)))
        else:
            types.append("STRING")
            columns.append([None if _is_missing(x) else str(x) for x in s.tolist()])
    return FrameData(names, types, columns)


def to_engine(v: Any, name: str = "value") -> Any:
    """Normalizes one input for the native module."""
    if v is None:
        raise TypeError(f"{name}: None cannot be passed to DML")
    if isinstance(v, (bool, np.bool_, numbers.Number, str)) and not isinstance(v, np.ndarray):
        return scalar(v, name)
    if _is_dataframe(v):
        return frame(v, name)
    if _is_series(v):
        return matrix(v.to_numpy(), name)
    if _is_scipy_sparse(v):
        c = v.tocsr(copy=True)
        c.sum_duplicates()
        c.sort_indices()
        return CsrData(
            c.shape[0],
            c.shape[1],
            np.ascontiguousarray(c.indptr, dtype=np.int64),
            np.ascontiguousarray(c.indices, dtype=np.int64),
            np.ascontiguousarray(c.data, dtype=np.float64),
        )
    if isinstance(v, FrameData):
        return v
    if isinstance(v, np.ndarray) or hasattr(v, "__array__"):
        return matrix(v, name)
    if isinstance(v, dict):
        return {str(k): to_engine(x, f"{name}[{k!r}]") for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_engine(x, f"{name}[{i}]") for i, x in enumerate(v)]
    raise TypeError(
        f"{name}: cannot pass a {type(v).__name__} to DML (matrices are NumPy arrays, frames pandas "
        "DataFrames; scalars are int, float, bool and str; lists and dicts become DML lists)"
    )


def frame_out(fd: FrameData) -> Any:
    """A frame result as a pandas DataFrame (a dict of columns when pandas is not installed)."""
    cols = []
    for t, c in zip(fd.types, fd.columns):
        if t in _OUT_DTYPES:
            cols.append(np.asarray(c).astype(_OUT_DTYPES[t], copy=False))
        else:
            cols.append(c)
    pd = _pandas()
    if pd is None:
        return dict(zip(fd.names, cols))
    df = pd.DataFrame({i: (pd.Series(c) if isinstance(c, list) else c) for i, c in enumerate(cols)})
    if not cols:
        df = pd.DataFrame()
    df.columns = list(fd.names)
    return df


def from_engine(v: Any) -> Any:
    """A result of the native module as the user gets it."""
    if isinstance(v, FrameData):
        return frame_out(v)
    if isinstance(v, dict):
        return {k: from_engine(x) for k, x in v.items()}
    if isinstance(v, list):
        return [from_engine(x) for x in v]
    return v
