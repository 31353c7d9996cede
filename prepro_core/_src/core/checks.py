"""Argument checks shared by every transform, each defined once.

Every error names where it was raised and the argument, says what was
expected and what was given: "`where`: `arg` must ..., got ...".
"""

from __future__ import annotations

from typing import Any, Iterable

import jax
import numpy as np

Array = Any


def is_concrete(x: Any) -> bool:
  """True when ``x`` holds values (eager), False inside a jax trace."""
  return not isinstance(x, jax.core.Tracer)


def check_choice(value: Any, argname: str, choices: Iterable[Any],
                 where: str) -> None:
  choices = tuple(choices)
  if value not in choices:
    raise ValueError(
        f"{where}: `{argname}` must be one of {choices}, got {value!r}.")


def check_positive_int(value: Any, argname: str, where: str,
                       minimum: int = 1) -> int:
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
    raise TypeError(
        f"{where}: `{argname}` must be an int >= {minimum}, got {value!r}.")
  if value < minimum:
    raise ValueError(
        f"{where}: `{argname}` must be an int >= {minimum}, got {value!r}.")
  return int(value)


def real_constant(value: Any, argname: str, where: str) -> np.ndarray:
  """A constructor constant (a real number or an array of them) as float32.

  Raises:
    TypeError: ``value`` is not real numbers (strings, complex...).
    ValueError: ``value`` holds NaN or inf.
  """
  try:
    arr = np.asarray(value)
  except Exception:  # pylint: disable=broad-except
    arr = None
  if arr is None or not (np.issubdtype(arr.dtype, np.number) or
                         arr.dtype == np.bool_) or np.issubdtype(
                             arr.dtype, np.complexfloating):
    raise TypeError(
        f"{where}: `{argname}` must be a real number or an array of them, "
        f"got {value!r}.")
  arr = arr.astype(np.float32)
  if not np.all(np.isfinite(arr)):
    raise ValueError(f"{where}: `{argname}` must be finite, got {value!r}.")
  return arr


def check_finite(batch: Array, argname: str, where: str) -> None:
  """Raises on NaN/inf in eager data; a no-op on traced values."""
  if not is_concrete(batch):
    return
  arr = np.asarray(batch)
  # jnp.issubdtype also knows bfloat16 (NumPy files it under void).
  if jax.numpy.issubdtype(arr.dtype, jax.numpy.inexact) and not np.all(
      np.isfinite(arr)):
    bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
    raise ValueError(
        f"{where}: `{argname}` contains {bad} NaN or infinite value(s); "
        f"adapt statistics would be NaN. Drop or impute them first.")


def check_rank(x: Array, argname: str, where: str, ranks: Iterable[int]) -> None:
  ranks = tuple(ranks)
  if np.ndim(x) not in ranks:
    raise ValueError(
        f"{where}: `{argname}` must have rank in {ranks}, got shape "
        f"{np.shape(x)}.")
