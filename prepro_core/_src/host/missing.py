"""Missing values in categorical columns: the opt-in ``missing=`` policy.

Structured data has gaps: ``None`` or NaN in a string column, NaN in an
integer column read as floats (pandas, CSV readers), ``""`` for "not
given". Keras' lookups have no notion of missing values; prepro's take an
opt-in ``missing=`` argument:

* ``None`` (the default, Keras' behaviour): no value is missing. ``None``
  and NaN are refused with an error saying how to opt in; ``""`` is an
  ordinary token.
* ``"oov"``: missing values take the (first) OOV index.
* ``"mask"``: missing values take the mask index, 0 (needs a mask token).

Either way a missing value is never counted by ``adapt``. Host-side and
NumPy only, like the rest of ``host/``.
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from prepro_core._src.host.packed import StringBatch, empty_strings

POLICIES = ("oov", "mask")


def is_missing_scalar(value: Any, strings: bool) -> bool:
  """Whether one element stands for a missing value."""
  if value is None:
    return True
  if isinstance(value, (float, np.floating)) and math.isnan(value):
    return True
  return strings and isinstance(value, (str, bytes)) and len(value) == 0


def _object_array(x: Any, where: str, argname: str) -> np.ndarray:
  try:
    arr = np.asarray(x, dtype=object)
  except ValueError:
    arr = None
  if arr is None or (arr.ndim and arr.dtype == object and any(
      isinstance(v, (list, tuple)) for v in arr.reshape(-1))):
    raise ValueError(
        f"{where}: with `missing=` set, `{argname}` must be rectangular (an "
        f"array, or equal-length rows), got ragged nested lists; pad the "
        f"rows to one length first.")
  return arr


def split_strings(x: Any, where: str,
                  argname: str) -> tuple[Any, Optional[np.ndarray]]:
  """``(strings, missing)``: ``x`` with its missing elements replaced by
  ``""`` (a NumPy array), and a bool mask of them; ``missing`` is None when
  nothing is missing (``x`` is then returned as given)."""
  if isinstance(x, (str, bytes)):
    return (x, None) if x else ("", np.ones((), bool))
  if isinstance(x, np.ndarray) and x.dtype.kind in "US":
    missing = x == x.dtype.type()
    return (x, missing) if missing.any() else (x, None)
  if isinstance(x, StringBatch):  # no None in it: "" is what is missing
    missing = empty_strings(x)
    return (x, missing) if missing.any() else (x, None)
  arr = _object_array(x, where, argname)
  flat = arr.reshape(-1)
  missing = np.fromiter((is_missing_scalar(v, True) for v in flat), bool,
                        count=flat.size).reshape(arr.shape)
  if not missing.any():
    return x, None
  filled = arr.copy()
  filled[missing] = ""
  return filled, missing


def split_integers(x: Any, where: str,
                   argname: str) -> tuple[np.ndarray, Optional[np.ndarray]]:
  """``(ints, missing)``: integer values (whole-valued floats accepted) with
  missing elements (None, NaN) replaced by 0, and a bool mask of them (None
  when nothing is missing).

  Raises:
    ValueError: a float that is not a whole number (2.5), or an inf.
    TypeError: an element that is not a number.
  """
  arr = np.asarray(x) if not isinstance(x, (list, tuple)) else _object_array(
      x, where, argname)
  if arr.dtype.kind in "iub":
    return arr, None
  if arr.dtype.kind == "f":
    missing = np.isnan(arr)
    values = np.where(missing, 0, arr)
  elif arr.dtype == object:
    flat = arr.reshape(-1)
    missing = np.fromiter((is_missing_scalar(v, False) for v in flat), bool,
                          count=flat.size).reshape(arr.shape)
    present = flat[~missing.reshape(-1)]
    bad = next((v for v in present if isinstance(v, (bool, np.bool_)) or
                not isinstance(v, (int, float, np.integer, np.floating))),
               None)
    if bad is not None:
      raise TypeError(
          f"{where}: `{argname}` must hold integers (or None/NaN for a "
          f"missing value), got {type(bad).__name__} {bad!r}.")
    values = np.zeros(arr.shape, np.float64)
    values[~missing] = np.asarray(present.tolist(), np.float64) if present.size else 0
  else:
    raise TypeError(f"{where}: `{argname}` must hold integers, got dtype "
                    f"{arr.dtype}.")
  whole = np.isfinite(values) & (values == np.round(values))
  if not whole.all():
    bad = float(values[~whole].reshape(-1)[0])
    raise ValueError(
        f"{where}: `{argname}` must hold whole numbers (integers, or floats "
        f"such as 3.0), got {bad!r}; an integer category cannot be "
        f"fractional.")
  return values.astype(np.int64), (missing if missing.any() else None)


def refuse_missing(missing: Optional[np.ndarray], where: str, argname: str,
                   what: str) -> None:
  """The error for a missing value when no ``missing=`` policy is set."""
  if missing is not None:
    position = tuple(int(i) for i in np.argwhere(missing)[0])
    raise TypeError(
        f"{where}: `{argname}` holds a missing value ({what}) at index "
        f"{position[0] if missing.shape[1:] in ((), (1,)) else position}; pass "
        f"missing='oov' (or 'mask', with a mask token) to map missing values "
        f"to that index, or fill them in first.")


def fill_ids(ids: Any, missing: Optional[np.ndarray], missing_id: int) -> Any:
  """``ids`` with the missing positions set to ``missing_id``."""
  if missing is None:
    return ids
  return np.where(missing, np.asarray(missing_id, np.asarray(ids).dtype), ids)


def split_values(x: Any, where: str,
                 argname: str) -> tuple[Any, Optional[np.ndarray]]:
  """``(values, missing)`` for an input of strings or of numbers (hashing
  takes both): :func:`split_strings` for strings; for numbers, None and NaN
  replaced by 0 (floats, as hashing truncates them). ``missing`` is None
  when nothing is missing."""
  if isinstance(x, (str, bytes, StringBatch)) or (
      isinstance(x, np.ndarray) and x.dtype.kind in "US"):
    return split_strings(x, where, argname)
  arr = np.asarray(x) if not isinstance(x, (list, tuple)) else _object_array(
      x, where, argname)
  if arr.dtype.kind == "f":
    missing = np.isnan(arr)
    return (x, None) if not missing.any() else (np.where(missing, 0, arr),
                                                missing)
  if arr.dtype != object:
    return x, None
  flat = arr.reshape(-1)
  if any(isinstance(v, (str, bytes)) for v in flat):
    return split_strings(arr, where, argname)
  missing = np.fromiter((is_missing_scalar(v, False) for v in flat), bool,
                        count=flat.size).reshape(arr.shape)
  if not missing.any():
    return x, None
  filled = arr.copy()
  filled[missing] = 0
  return filled.astype(np.float64), missing


def without_missing(batch: Any, strings: bool, where: str,
                    argname: str) -> Any:
  """An adapt batch without its missing values (flattened when it had
  some: adapt counts values, so their layout does not matter), or None
  when nothing is left."""
  split = split_strings if strings else split_integers
  values, gaps = split(batch, where, argname)
  if gaps is None:
    return values
  present = np.asarray(values, dtype=object if strings else None)[~gaps]
  if present.size == 0:
    return None
  return present.tolist() if strings else present
