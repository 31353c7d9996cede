"""Raw columns of structured data as the arrays a feature's preprocessor takes.

A feature space reads a dict of columns (or a list of row dicts), one column
per feature, as Keras' FeatureSpace does: a rank-0 or rank-1 column becomes
``(batch, 1)``, floats become float32, integer columns may arrive as floats
holding whole numbers (as CSV and pandas readers give them), and missing
values are refused unless the feature's preprocessor has a ``missing=``
policy. Host-side NumPy.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import numpy as np

from prepro_core._src.host import missing as missing_values


def as_columns(batch: Any, where: str, argname: str) -> Mapping[str, Any]:
  """A dict of columns, from a dict of columns or a list of row dicts."""
  if isinstance(batch, Mapping):
    return batch
  if isinstance(batch, (list, tuple)) and batch and all(
      isinstance(row, Mapping) for row in batch):
    names = list(batch[0])
    for i, row in enumerate(batch):
      if list(row) != names and set(row) != set(names):
        raise ValueError(
            f"{where}: `{argname}`: every row must have the same columns; row 0 has "
            f"{sorted(names)}, row {i} has {sorted(row)}.")
    return {name: [row[name] for row in batch] for name in names}
  raise TypeError(
      f"{where}: `{argname}` must be a dict of columns (name -> array or "
      f"list) or a list of row dicts, got {type(batch).__name__}.")


def check_columns(columns: Mapping[str, Any], names, where: str,
                  argname: str) -> int:
  """Every feature's column is there, all of one length; returns it."""
  absent = [n for n in names if n not in columns]
  if absent:
    raise ValueError(
        f"{where}: `{argname}` has no column {absent[0]!r} (features: "
        f"{sorted(names)}; columns given: {sorted(columns)}).")
  lengths = {n: _length(columns[n]) for n in names}
  distinct = set(lengths.values())
  if len(distinct) > 1:
    raise ValueError(
        f"{where}: `{argname}`: the columns must all have one length (one "
        f"value per row), got {lengths}.")
  return distinct.pop()


def _length(column: Any) -> int:
  shape = np.shape(column) if not isinstance(column, (list, tuple)) else (
      len(column),)
  return shape[0] if shape else 0  # a scalar column: one unbatched row


def is_unbatched(columns: Mapping[str, Any], names) -> bool:
  """All columns are scalars: one row, as Keras' FeatureSpace allows."""
  return all(not isinstance(columns[n], (list, tuple)) and
             np.ndim(columns[n]) == 0 for n in names)


def as_feature_column(column: Any, where: str, argname: str) -> Any:
  """Rank 0 or 1 becomes ``(batch, 1)``; a list becomes a NumPy array."""
  arr = column
  try:
    if isinstance(column, (list, tuple)):
      arr = np.asarray(column,
                       dtype=object if _holds_objects(column) else None)
    elif not hasattr(column, "shape"):
      arr = np.asarray(column)
  except ValueError:  # NumPy's "inhomogeneous shape", or over 64 dimensions
    raise ValueError(
        f"{where}: `{argname}` must be a column (a list or array of one "
        f"value per row), got ragged or too deeply nested lists.") from None
  if getattr(arr, "dtype", None) == object and any(
      isinstance(v, (list, tuple)) for v in arr.reshape(-1)):
    raise ValueError(
        f"{where}: `{argname}` must be a column (a list or array of one "
        f"value per row), got ragged nested lists.")
  if arr.ndim == 0:
    return arr.reshape(1, 1)
  if arr.ndim == 1:
    return arr.reshape(-1, 1)
  if arr.ndim > 2:
    raise ValueError(
        f"{where}: `{argname}` must be a column of shape (batch,) or (batch, "
        f"1) (or (batch, n) for a custom feature), got shape {arr.shape}.")
  return arr


def _holds_objects(column) -> bool:
  # None, NaN among strings, or mixed kinds: keep the elements as they are
  # (NumPy would turn [1, None] into an object array anyway, and ["a", 1]
  # into strings).
  kinds = {type(v) for v in column}
  return len(kinds) > 1 or type(None) in kinds or list in kinds


def read_float(column: Any, argname: str, where: str) -> np.ndarray:
  """A float feature's column as float32 ``(batch, 1)``; NaN is refused."""
  arr = as_feature_column(column, where, argname)
  if np.asarray(arr).dtype.kind not in "biuf" and not (
      np.asarray(arr).dtype == object):
    raise TypeError(
        f"{where}: `{argname}` must hold numbers (a float feature), got "
        f"dtype {np.asarray(arr).dtype}.")
  try:
    arr = np.asarray(arr, np.float32)
  except (TypeError, ValueError):
    raise TypeError(
        f"{where}: `{argname}` must hold numbers (a float feature), got "
        f"{_first_non_number(arr)}.") from None
  bad = ~np.isfinite(arr)
  if bad.any():
    row = int(np.argwhere(bad)[0][0])
    raise ValueError(
        f"{where}: `{argname}` holds {arr[bad].reshape(-1)[0]} at row "
        f"{row}; a float feature needs finite values. Fill missing values in "
        f"(e.g. with the column's mean), or read the column as a "
        f"categorical feature with missing='oov'.")
  return arr


def _first_non_number(arr) -> str:
  for v in np.asarray(arr, dtype=object).reshape(-1):
    try:
      float(v)
    except (TypeError, ValueError):
      return f"{type(v).__name__} {v!r}"
  return f"dtype {np.asarray(arr).dtype}"


def read_integer(column: Any, argname: str, where: str,
                 missing: Optional[str]) -> np.ndarray:
  """An integer feature's column ``(batch, 1)``.

  Whole-valued floats are accepted (2.5 is refused). Without a ``missing``
  policy a None/NaN is refused and the result is int64; with one, the
  column is handed on as read, for the preprocessor to map its gaps.
  """
  arr = as_feature_column(column, where, argname)
  if missing is not None:  # the lookup reads (and checks) the gaps itself
    return arr
  values, gaps = missing_values.split_integers(arr, where, argname)
  missing_values.refuse_missing(gaps, where, argname, "None or NaN")
  return values.astype(np.int64)


def read_string(column: Any, argname: str, where: str,
                missing: Optional[str]) -> np.ndarray:
  """A string feature's column ``(batch, 1)``; without a ``missing`` policy
  a None or NaN is refused ("" is an ordinary string, as in Keras)."""
  arr = as_feature_column(column, where, argname)
  if arr.dtype.kind not in "USO":
    raise TypeError(
        f"{where}: `{argname}` must hold strings (a string feature), got "
        f"dtype {arr.dtype}.")
  if missing is None and arr.dtype == object:
    flat = arr.reshape(-1)
    gaps = np.fromiter((v is None or missing_values.is_missing_scalar(
        v, strings=False) for v in flat), bool, count=flat.size)
    missing_values.refuse_missing(gaps.reshape(arr.shape) if gaps.any() else
                                  None, where, argname, "None or NaN")
  return arr
