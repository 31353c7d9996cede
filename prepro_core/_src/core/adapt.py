"""``pc.adapt``: initialise and adapt a transform over data, batch by batch.

Numeric transforms accumulate in one compiled program per transform that also
reports whether the batch was finite; host transforms accumulate in NumPy.
"""

from __future__ import annotations

import functools
import sys
import time
from typing import Any, Mapping, Optional

import jax
import numpy as np

from prepro_core._src.core import checks
from prepro_core._src.core import device_transfer
from prepro_core._src.core.transform import State
from prepro_core._src.core.transform import Transform


@functools.lru_cache(maxsize=256)
def _jitted_accumulate_checking_finite(accumulate):
  """``accumulate`` jitted, also returning whether the batch was all finite.

  ``sum(batch * 0)`` is NaN exactly when the batch holds a NaN or an inf: one
  cheap reduction in the same program, instead of a separate host pass.
  Cached per transform, so repeated ``pc.adapt`` calls compile once.
  """
  def wrapped(state, batch):
    batch = jax.numpy.asarray(batch)
    if jax.numpy.issubdtype(batch.dtype, jax.numpy.inexact):
      finite = jax.numpy.isfinite(jax.numpy.sum(batch * 0, dtype=jax.numpy.float32))
    else:
      finite = jax.numpy.bool_(True)
    return accumulate(state, batch), finite
  return jax.jit(wrapped)


def _iter_batches(data: Any, batch_size: Optional[int]):
  """Yields batches: arrays (and StringBatches) are split along axis 0, lists
  of arrays and other iterables are taken as batches, other lists are one
  array of examples.
  A dict of columns (``pc.feature_space``) is split by rows, as is a list of
  row dicts; a list of dicts of columns is a list of batches."""
  if isinstance(data, Mapping):
    yield from _column_batches(data, batch_size)
    return
  if _slices_like_an_array(data):
    step = len(data) if batch_size is None else batch_size
    for start in range(0, len(data), step):
      yield data[start:start + step]
    return
  if isinstance(data, (list, tuple)) and data and _is_row(data[0]):
    step = len(data) if batch_size is None else batch_size
    for start in range(0, len(data), step):
      yield list(data[start:start + step])
    return
  if isinstance(data, (list, tuple)):
    if data and (isinstance(data[0], Mapping) or
                 _slices_like_an_array(data[0]) or
                 isinstance(data[0], (np.ndarray, jax.Array)) and
                 np.ndim(data[0]) >= 1):
      yield from data
      return
    if data and _holds_strings(data):
      # Strings stay a list (ragged rows allowed): the host-side string code
      # packs lists faster than a fixed-width NumPy array, which also costs
      # memory.
      step = len(data) if batch_size is None else batch_size
      for start in range(0, len(data), step):
        yield list(data[start:start + step])
      return
    try:
      data = np.asarray(data)
    except ValueError:  # NumPy's "inhomogeneous shape"
      raise ValueError(
          "adapt: `data` must be rectangular (an array, or a list of "
          "equal-length rows), got ragged nested lists; pad the rows to one "
          "length, or pass a list of batches.") from None
  if isinstance(data, (np.ndarray, jax.Array)):
    n = np.shape(data)[0] if np.ndim(data) else 0
    step = n if batch_size is None else batch_size
    for start in range(0, n, max(step, 1)):
      yield data[start:start + step]
    return
  yield from data  # any other iterable: a stream of batches


def _slices_like_an_array(data) -> bool:
  """A batch type of another package module that adapt splits as it splits
  an array, by slicing (the host's StringBatch, a packed text column): it
  says so with this class attribute, so core imports nothing of it."""
  return getattr(type(data), "slices_like_an_array", False)


def _is_row(item) -> bool:
  """A dict whose values are scalars: one row of columns."""
  return isinstance(item, Mapping) and bool(item) and all(
      not isinstance(v, (list, tuple)) and np.ndim(v) == 0
      for v in item.values())


def _column_batches(columns: Mapping, batch_size: Optional[int]):
  """A dict of equal-length columns, split by rows into dicts."""
  lengths = {len(v) if isinstance(v, (list, tuple)) else
             (np.shape(v)[0] if np.ndim(v) else 1) for v in columns.values()}
  n = max(lengths) if lengths else 0
  step = n if batch_size is None else batch_size
  if step >= n or len(lengths) > 1:  # one batch; the transform checks lengths
    yield columns
    return
  for start in range(0, n, step):
    yield {k: v[start:start + step] for k, v in columns.items()}


def _holds_batches(data) -> bool:
  """False for what adapt cannot split into batches: None, scalars, a str."""
  if isinstance(data, (np.ndarray, jax.Array)):
    return data.ndim > 0
  if data is None or isinstance(data, (str, bytes)):
    return False
  try:
    iter(data)
  except TypeError:
    return False
  return True


def _holds_strings(data) -> bool:
  # The first leaf, however deep: ragged lists of strings of any rank stay
  # lists, so that the string input path (host/inputs.py) judges them.
  first = data
  while isinstance(first, (list, tuple)):
    first = next((r for r in first if not isinstance(r, (list, tuple)) or r),
                 None)
  return isinstance(first, (str, bytes))


def _is_empty(batch) -> bool:
  if _slices_like_an_array(batch):
    return len(batch) == 0
  if isinstance(batch, Mapping):
    return all(len(v) == 0 if isinstance(v, (list, tuple)) else
               np.ndim(v) > 0 and np.shape(v)[0] == 0 for v in batch.values())
  if isinstance(batch, (list, tuple)):
    return len(batch) == 0
  return np.ndim(batch) > 0 and np.shape(batch)[0] == 0


def _check_device_dtype(batch: Any, where: str) -> None:
  # Caught here, before jit sees a batch it cannot trace (strings, objects).
  dtype = getattr(batch, "dtype", None)
  if dtype is None:
    dtype = np.asarray(batch).dtype
  if np.dtype(dtype).kind not in "biuf" and dtype != jax.numpy.bfloat16:
    raise TypeError(
        f"{where}: `data` must hold numbers (bool, int or float), got dtype "
        f"{dtype}; strings go through a host-side transform first.")


def accumulate_batch(transform: Transform, state: Optional[State], batch: Any,
                     where: Optional[str] = None) -> State:
  """One step of :func:`adapt`: folds a non-empty ``batch`` into ``state``.

  ``state=None`` initialises it from ``batch`` first. Numeric batches are
  checked (numbers, all finite) in the same compiled program that
  accumulates them. The result is not finalized: accumulate every batch
  (merging partial states with ``transform.combine``), then call
  ``transform.finalize`` once. Shared by :func:`adapt` and the Beam
  analyzers (``prepro_core.beam``), so both fold a batch alike.
  """
  where = where or f"adapt({transform.name})"
  if not transform.on_host:
    _check_device_dtype(batch, where)
  if state is None:
    state = transform.init(batch)
  if transform.on_host:
    return transform.accumulate(state, batch)
  batch = device_transfer.to_device(batch)
  new_state, finite = _jitted_accumulate_checking_finite(
      transform.accumulate)(state, batch)
  if not finite:
    checks.check_finite(batch, "data", where)  # raises
  return new_state


def adapt(transform: Transform,
          data: Any,
          batch_size: Optional[int] = None,
          *,
          state: Optional[State] = None,
          progress: bool = False) -> State:
  """Initialises (unless ``state`` is given) and adapts ``transform`` on data.

  Args:
    transform: a :class:`Transform`.
    data: a NumPy/JAX array (split along axis 0 into batches of
      ``batch_size``), a list of examples or of batches, or any iterable of
      batches.
    batch_size: batch length when ``data`` is an array; ``None`` means one
      batch.
    state: continue adapting this state instead of a fresh ``init``.
    progress: print a one-line progress report to stderr while streaming.

  Returns:
    A state ready for ``transform.apply``.

  Raises:
    ValueError: when ``data`` holds no examples.
    TypeError: ``state`` is not a state of ``transform`` (its
      ``state_type``).
  """
  if not isinstance(transform, Transform):
    raise TypeError(
        f"adapt: `transform` must be a prepro Transform (e.g. "
        f"pc.normalization()), got {type(transform).__name__}.")
  if not _holds_batches(data):
    raise TypeError(
        f"adapt({transform.name}): `data` must be an array, a list of "
        f"examples or batches, or an iterable of batches; got "
        f"{type(data).__name__}.")
  if batch_size is not None:
    checks.check_positive_int(batch_size, "batch_size", f"adapt({transform.name})")
  if state is not None:
    # Before any batch is read: a state of another transform would otherwise
    # fail deep inside accumulate (or be returned as is, when not adaptable).
    checks.check_state(state, transform.state_type, f"adapt({transform.name})")
  if not transform.adaptable:
    if state is None:
      first = next(iter(_iter_batches(data, batch_size)), None)
      if first is None:
        raise ValueError(f"adapt({transform.name}): `data` is empty.")
      state = transform.init(first)
    return transform.finalize(state)  # checks a given state (identity otherwise)
  seen = 0
  started = time.monotonic()
  for batch in _iter_batches(data, batch_size):
    if _is_empty(batch):
      continue
    state = accumulate_batch(transform, state, batch)
    seen += 1
    if progress:
      rate = seen / max(time.monotonic() - started, 1e-9)
      print(f"\radapt({transform.name}): {seen} batches, {rate:.1f}/s",
            end="", file=sys.stderr, flush=True)
  if progress and seen:
    print(file=sys.stderr)
  if seen == 0:
    raise ValueError(
        f"adapt({transform.name}): `data` is empty; adapt needs at least one "
        f"example.")
  return transform.finalize(state)
