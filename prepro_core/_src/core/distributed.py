"""``pc.distributed.adapt``: one adapt over the data of every JAX process.

Each process adapts its own data with :func:`~prepro_core.adapt`, then the
processes exchange their states once: every state is pickled, padded to the
longest and all-gathered as ``uint8`` (``process_allgather``), and every
process merges the states in process order. So every process ends with the
identical state, whatever the transform: numeric (``(count, mean, m2)``
merged by Chan's formula, exact to float rounding; quantile summaries merged
as Keras merges them) or host-side (token count tables added, then the
vocabulary learned once from the total counts).

What a process could not adapt travels in the same exchange: a local error,
data of another dtype or feature shape than the others', or no data at all
(allowed, as long as some process has data). Every process then raises the
same error instead of waiting for a process that left.
"""

from __future__ import annotations

import functools
import itertools
import pickle
from typing import Any, Mapping, NamedTuple, Optional

import jax
from jax.experimental import multihost_utils
import numpy as np

from prepro_core._src.core import checks
from prepro_core._src.core.adapt import adapt as pc_adapt
from prepro_core._src.core.transform import State
from prepro_core._src.core.transform import Transform

_WHERE = "`pc.distributed.adapt`"


class Signature(NamedTuple):
  """What every process's data must share: its dtype and feature shape."""
  dtype: str      # a NumPy dtype name; "str"/"bytes" for any string data
  features: Optional[tuple]  # the shape after the batch axis, None where
                             # ragged (lists); None for a dict of columns

  def describe(self) -> str:
    if self.features is None:
      return self.dtype  # "columns {name: dtype of shape (n, ...); ...}"
    dims = ", ".join("?" if d is None else str(d) for d in self.features)
    return f"{self.dtype} of shape (n{', ' if dims else ''}{dims})"


class Contribution(NamedTuple):
  """One process's part of the exchange."""
  kind: str       # "state", "empty", "error" or "bad_arguments"
  signature: Optional[Signature]
  value: Any      # the adapted state; for an error, (exception class, message)


def adapt(transform: Transform,
          local_data: Any,
          batch_size: Optional[int] = None) -> State:
  """Adapts ``transform`` on the data of every JAX process together.

  Call it on every process (after ``jax.distributed.initialize``), each with
  its own ``local_data``; every process gets back the state that one
  :func:`~prepro_core.adapt` over all processes' data would give, identical
  on every process. With one process it is ``pc.adapt``.

  Normalization's statistics equal a single adapt's to float rounding;
  lookups' vocabularies and idf weights are exactly a single adapt's;
  discretization merges the processes' quantile summaries as Keras merges
  summaries, so its boundaries equal a single adapt's exactly while the
  data is smaller than ``1 / epsilon`` values, and are within the summary's
  ``epsilon`` otherwise.

  Args:
    transform: an adaptable :class:`~prepro_core.Transform` (the same on
      every process).
    local_data: this process's data, in any form ``pc.adapt`` takes. It may
      be empty on some processes (they contribute nothing), not on all.
    batch_size: as in ``pc.adapt``, for this process's data.

  Returns:
    A state ready for ``transform.apply``, the same on every process.

  Raises:
    TypeError: ``transform`` is not a Transform, or ``batch_size`` not an int.
    ValueError: ``transform`` learns nothing from data; the processes' data
      differ in dtype or feature shape; no process has data. When one
      process's arguments or adapt fail, every process raises that error
      (as a TypeError, ValueError or Exception, with its message) after the
      one exchange, so none is left waiting.

  Example:
    >>> import numpy as np, prepro_core as pc
    >>> t = pc.normalization(axis=None)
    >>> state = pc.distributed.adapt(t, np.array([1., 2., 3.], np.float32))
    >>> float(state.mean[0]), float(state.variance[0])  # one process here
    (2.0, 0.6666666...)
  """
  if jax.process_count() == 1:
    check_arguments(transform, batch_size)
    return pc_adapt(transform, local_data, batch_size)
  mine, local_error = adapt_locally(transform, local_data, batch_size)
  gathered = allgather_bytes(to_bytes(mine))
  # Peers are processes of the same job, as trusted as this one.
  parts = [pickle.loads(b) for b in gathered]
  try:
    return merge_in_process_order(transform, parts)
  except Exception as e:  # pylint: disable=broad-except
    if local_error is None:
      raise
    raise e from local_error  # where this process's own adapt failed


def check_arguments(transform: Any, batch_size: Any) -> None:
  """Raises unless ``transform`` learns from data and ``batch_size`` is ok."""
  if not isinstance(transform, Transform):
    raise TypeError(
        f"{_WHERE}: `transform` must be a prepro Transform (e.g. "
        f"pc.normalization()), got {type(transform).__name__}.")
  if not transform.adaptable:
    what = ("a random transform, which" if transform.is_random else
            "a transform that")
    raise ValueError(
        f"{_WHERE}: `transform` must learn from data (e.g. "
        f"pc.normalization(), pc.string_lookup()), got {transform.name}, "
        f"{what} learns nothing; use `transform.init(sample)` as its state "
        f"on every process.")
  if batch_size is not None:
    checks.check_positive_int(batch_size, "batch_size", _WHERE)


def adapt_locally(transform: Transform, data: Any, batch_size: Optional[int]):
  """``(contribution, error)``: this process's adapted state, "empty", or
  its error (also returned itself, to chain to what this process raises).

  Every failure, the argument checks' too, becomes a contribution, which
  every process raises after the exchange: none waits for one that left.
  """
  try:
    check_arguments(transform, batch_size)
  except (TypeError, ValueError) as e:
    return error_contribution(e, str(e), "bad_arguments"), e
  try:
    data, first = peek(data)
    if first is None:
      return Contribution("empty", None, None), None
    state = pc_adapt(transform, data, batch_size)
    return Contribution("state", signature(first), state), None
  except Exception as e:  # pylint: disable=broad-except
    return error_contribution(
        e, f"{_WHERE}: process {jax.process_index()} of "
        f"{jax.process_count()} could not adapt its `local_data`: {e}"), e


def error_contribution(error: Exception, message: str,
                       kind: str = "error") -> Contribution:
  """An error every process raises: its class (a builtin) and message."""
  cls = next(k for k in (TypeError, ValueError, Exception)
             if isinstance(error, k))
  return Contribution(kind, None, (cls, message))


def to_bytes(contribution: Contribution) -> bytes:
  """``contribution`` pickled, or an error contribution where it cannot be."""
  try:
    return pickle.dumps(contribution)
  except Exception as e:  # pylint: disable=broad-except
    return pickle.dumps(error_contribution(
        e, f"{_WHERE}: process {jax.process_index()} could not send its "
        f"adapted state, which must pickle to travel between processes: "
        f"{e}"))


def peek(data: Any):
  """``(data, first)``: ``first`` the first non-empty batch (None: no data).

  A one-pass iterable is returned as a new one that starts with ``first``;
  what ``pc.adapt`` cannot read (a scalar, None) comes back as ``first``, so
  that ``pc.adapt`` raises its own error for it.
  """
  if isinstance(data, (np.ndarray, jax.Array)):
    return data, data if np.ndim(data) == 0 or np.shape(data)[0] else None
  if isinstance(data, Mapping):  # one batch of columns
    return data, None if is_empty(data) else data
  if isinstance(data, (list, tuple)):
    if not data:
      return data, None
    if not (isinstance(data[0], (np.ndarray, jax.Array)) and
            np.ndim(data[0]) >= 1):
      return data, data  # one batch of examples
    return data, next((b for b in data if not is_empty(b)), None)
  if data is None or isinstance(data, (str, bytes)):
    return data, data
  try:
    batches = iter(data)
  except TypeError:
    return data, data
  first = next((b for b in batches if not is_empty(b)), None)
  return (itertools.chain([first], batches), first) if first is not None else (
      data, None)


def is_empty(batch: Any) -> bool:
  """A batch with no examples (``pc.adapt`` skips those)."""
  if isinstance(batch, Mapping):
    return all(is_empty(column) for column in batch.values())
  if isinstance(batch, (list, tuple)):
    return len(batch) == 0
  return np.ndim(batch) > 0 and np.shape(batch)[0] == 0


def signature(batch: Any) -> Signature:
  """The dtype and feature shape of a batch (arrays or nested lists); a
  dict of columns, column by column."""
  if isinstance(batch, Mapping):
    columns = sorted((str(k), signature(v).describe())
                     for k, v in batch.items())
    return Signature(
        "columns {" + "; ".join(f"{k}: {d}" for k, d in columns) + "}", None)
  if isinstance(batch, (list, tuple)):
    rank, leaf = 0, batch
    while isinstance(leaf, (list, tuple)):
      rank += 1
      leaf = next((r for r in leaf if not isinstance(r, (list, tuple)) or r),
                  leaf[0] if leaf else None)
    if isinstance(leaf, (str, bytes)):
      # Rows of strings may be ragged: only the rank is known.
      return Signature(_text_kind(leaf), (None,) * (rank - 1))
  arr = batch if hasattr(batch, "dtype") and hasattr(batch, "shape") else (
      np.asarray(batch))
  dtype = np.dtype(arr.dtype)
  if dtype.kind in "USO":
    # Any string array (whatever its width) is "str" or "bytes".
    name = _text_kind(np.ravel(arr)[0] if np.size(arr) else "")
  else:
    name = dtype.name
  return Signature(name, tuple(int(d) for d in np.shape(arr)[1:]))


def _text_kind(value: Any) -> str:
  if isinstance(value, str):  # np.str_ too
    return "str"
  return "bytes" if isinstance(value, bytes) else type(value).__name__


def signatures_agree(a: Signature, b: Signature) -> bool:
  """Same dtype and rank; dimensions equal where both are known."""
  if a.features is None or b.features is None:  # dicts of columns
    return a == b
  return a.dtype == b.dtype and len(a.features) == len(b.features) and all(
      x is None or y is None or x == y for x, y in zip(a.features, b.features))


def merge_in_process_order(transform: Transform, parts: list) -> State:
  """The state of all processes' contributions, or the error every one raises.

  Every process runs this on the same gathered contributions, so every
  process raises the same error or returns the identical state.
  """
  n = len(parts)
  for i, part in enumerate(parts):
    if part.kind in ("error", "bad_arguments"):
      cls, message = part.value
      if part.kind == "bad_arguments" and any(
          p.kind != part.kind or p.value != part.value for p in parts):
        message = (f"{message.rstrip('.')} (on process {i} of {n}; the "
                   f"processes passed different arguments).")
      raise cls(message)
  states = [(i, p) for i, p in enumerate(parts) if p.kind == "state"]
  if not states:
    raise ValueError(
        f"{_WHERE}: `local_data` is empty on all {n} processes; at least one "
        f"process must pass data to adapt on.")
  first = states[0][1].signature
  if not all(signatures_agree(first, p.signature) for _, p in states):
    got = ", ".join(f"process {i}: {p.signature.describe()}"
                    for i, p in states)
    raise ValueError(
        f"{_WHERE}: `local_data` must have one dtype and feature shape on "
        f"every process, got {got}; cast or reshape it the same way on each.")
  if len(states) == 1:
    return states[0][1].value  # already finalized by pc.adapt
  combined = functools.reduce(transform.combine, (p.value for _, p in states))
  return transform.finalize(combined)


def allgather_bytes(payload: bytes) -> list:
  """Every process's ``payload``, in process order (one all-gather of bytes).

  Lengths travel as 8 little-endian bytes (an int64 would be cut to int32
  with x64 off); payloads are padded to the longest.
  """
  length = np.frombuffer(np.int64(len(payload)).astype("<i8").tobytes(),
                         np.uint8)
  lengths = np.asarray(multihost_utils.process_allgather(length))
  sizes = [int(np.frombuffer(row.tobytes(), "<i8")[0]) for row in lengths]
  buffer = np.zeros((max(sizes),), np.uint8)
  buffer[:len(payload)] = np.frombuffer(payload, np.uint8)
  rows = np.asarray(multihost_utils.process_allgather(buffer))
  return [rows[i, :size].tobytes() for i, size in enumerate(sizes)]
