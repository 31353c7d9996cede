"""The one kernel that turns integer ids into one_hot/multi_hot/count/tf_idf.

Shared by category_encoding, discretization and the lookups (integer, string,
text), so that every layer that Keras builds on ``encode_categorical_inputs``
gives the same shapes and numbers. Runs on device under jit with static
shapes: ``depth`` is a Python int.

:func:`encode_ids_numpy` is its NumPy twin (same arguments, same results) for
the host transforms (string_lookup, text_vectorization): inside
:func:`host_outputs` ``("numpy")`` their encoded outputs are computed in NumPy,
so that an input-pipeline worker never creates a device array (nor starts a
JAX backend). :func:`encode_host_ids` is what they call; it picks the twin.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from typing import Iterator

import jax
import jax.numpy as jnp
import numpy as np

from prepro_core._src.core import checks

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")
HOST_OUTPUTS = ("jax", "numpy")

# What the host transforms' encoded outputs are: a context variable, so a
# setting never leaks out of its ``with`` block nor into other threads.
_HOST_OUTPUTS = contextvars.ContextVar("prepro_host_outputs", default="jax")


@contextlib.contextmanager
def host_outputs(kind: str) -> Iterator[str]:
  """Inside the block, host transforms return NumPy (``"numpy"``) or
  ``jax.Array`` (``"jax"``, the default) one_hot/multi_hot/count/tf_idf
  outputs. Their "int" outputs are NumPy either way.

  The input-pipeline adapters (``pc.grain.map``, ``pc.loader_fn``) apply
  transforms inside ``host_outputs("numpy")`` unless asked for JAX outputs.
  """
  if kind not in HOST_OUTPUTS:
    raise ValueError(
        f"host_outputs: `kind` must be one of {HOST_OUTPUTS}, got {kind!r}.")
  token = _HOST_OUTPUTS.set(kind)
  try:
    yield kind
  finally:
    _HOST_OUTPUTS.reset(token)


def encode_host_ids(ids, depth: int, output_mode: str, *, idf_weights=None):
  """:func:`encode_ids` for host transforms: NumPy inside
  ``host_outputs("numpy")``, else on device."""
  if _HOST_OUTPUTS.get() == "numpy":
    return encode_ids_numpy(ids, depth, output_mode, idf_weights=idf_weights)
  return encode_ids(jnp.asarray(ids), depth, output_mode,
                    idf_weights=idf_weights)


# Jitted so that an eager call is one compiled program (not one dispatch per
# operation); inside a caller's jit it is inlined.
@functools.partial(jax.jit, static_argnames=("depth", "output_mode", "dtype"))
def encode_ids(ids,
               depth: int,
               output_mode: str,
               *,
               count_weights=None,
               idf_weights=None,
               dtype=jnp.float32):
  """Encodes integer ids in ``[0, depth)`` the way Keras does.

  Args:
    ids: integer array of rank 0, 1 or 2. Ids outside ``[0, depth)`` encode to
      all zeros (the caller validates eager inputs).
    depth: number of output columns.
    output_mode: "int" (ids returned as int32), "one_hot", "multi_hot",
      "count" or "tf_idf".
    count_weights: optional weights, same shape as ``ids``, summed instead of
      counting ones ("count" mode).
    idf_weights: ``(depth,)`` weights multiplied into the counts ("tf_idf").
    dtype: the float output dtype.

  Returns:
    * one_hot: a trailing axis of ``depth`` (a trailing axis of size 1 is
      squeezed first, as Keras does): ``(batch, depth)`` for ``(batch,)``.
    * multi_hot / count / tf_idf: rank-1 input is one sample -> ``(depth,)``;
      rank-2 input ``(batch, n)`` -> ``(batch, depth)``.
  """
  if output_mode == "int":
    return jnp.asarray(ids).astype(jnp.int32)
  ids = jnp.asarray(ids)
  if ids.ndim == 0:
    ids = ids[None]
  if ids.ndim > 2:
    raise ValueError(
        f"encode: `{output_mode}` output accepts inputs of rank 1 or 2, got "
        f"shape {ids.shape}.")
  if output_mode == "one_hot":
    if ids.ndim > 1 and ids.shape[-1] == 1:
      ids = ids[..., 0]
    return _one_hot(ids, depth, dtype)
  if output_mode == "multi_hot":
    return _scatter(ids, depth, jnp.ones(ids.shape, dtype), "max")
  if output_mode in ("count", "tf_idf"):
    if count_weights is not None:
      count_weights = jnp.asarray(count_weights)
      dtype = count_weights.dtype
      weights = jnp.broadcast_to(count_weights, ids.shape).astype(dtype)
    else:
      weights = jnp.ones(ids.shape, dtype)
    counts = _scatter(ids, depth, weights, "add")
    if output_mode == "tf_idf":
      if idf_weights is None:
        raise ValueError("encode: tf_idf output needs `idf_weights`.")
      counts = counts * jnp.asarray(idf_weights, counts.dtype)
    return counts
  raise ValueError(
      f"encode: `output_mode` must be one of {OUTPUT_MODES}, got "
      f"{output_mode!r}.")


def encode_ids_numpy(ids,
                     depth: int,
                     output_mode: str,
                     *,
                     count_weights=None,
                     idf_weights=None,
                     dtype=np.float32) -> np.ndarray:
  """:func:`encode_ids` in NumPy: the same arguments, shapes and numbers.

  Exact where :func:`encode_ids` is (ids, one_hot, multi_hot, counts of ones,
  their product with the float32 idf); with float ``count_weights`` the sums
  may differ from the device scatter's in the last bit (summation order).
  """
  ids = np.asarray(ids)
  if output_mode == "int":
    return ids.astype(np.int32)
  if ids.ndim == 0:
    ids = ids[None]
  if ids.ndim > 2:
    raise ValueError(
        f"encode: `{output_mode}` output accepts inputs of rank 1 or 2, got "
        f"shape {ids.shape}.")
  if output_mode == "one_hot":
    if ids.ndim > 1 and ids.shape[-1] == 1:
      ids = ids[..., 0]
    return (ids[..., None] == np.arange(depth, dtype=ids.dtype)).astype(dtype)
  if output_mode == "multi_hot":
    return _scatter_numpy(ids, depth, np.ones(ids.shape, dtype), "max")
  if output_mode in ("count", "tf_idf"):
    if count_weights is not None:
      count_weights = np.asarray(count_weights)
      weights = np.broadcast_to(count_weights, ids.shape).astype(
          count_weights.dtype)
    else:
      weights = np.ones(ids.shape, dtype)
    counts = _scatter_numpy(ids, depth, weights, "add")
    if output_mode == "tf_idf":
      if idf_weights is None:
        raise ValueError("encode: tf_idf output needs `idf_weights`.")
      counts = counts * np.asarray(idf_weights, counts.dtype)
    return counts
  raise ValueError(
      f"encode: `output_mode` must be one of {OUTPUT_MODES}, got "
      f"{output_mode!r}.")


def _scatter_numpy(ids, depth, weights, how):
  """:func:`_scatter` in NumPy: ids outside ``[0, depth)`` are dropped."""
  rows = 1 if ids.ndim == 1 else ids.shape[0]
  out = np.zeros((rows, depth), weights.dtype)
  if ids.ndim == 2:
    row_ids = np.broadcast_to(np.arange(rows)[:, None], ids.shape)
  else:
    row_ids = np.zeros(ids.shape, np.int64)
  valid = (ids >= 0) & (ids < depth)
  index = (row_ids[valid], ids[valid])
  if how == "add":
    np.add.at(out, index, weights[valid])
  else:
    np.maximum.at(out, index, weights[valid])
  return out[0] if ids.ndim == 1 else out


def _scatter(ids, depth, weights, how):
  """Reduces ``weights`` into ``depth`` bins per row by id ("add" or "max").

  A scatter costs O(ids), where summing a one-hot costs O(ids * depth): the
  difference matters for text vocabularies. Rank-1 ids are one sample.
  """
  valid = (ids >= 0) & (ids < depth)
  weights = jnp.where(valid, weights, jnp.zeros((), weights.dtype))
  ids = jnp.where(valid, ids, 0)
  if ids.ndim == 1:
    out = jnp.zeros((depth,), weights.dtype)
    index = (ids,)
  else:
    out = jnp.zeros((ids.shape[0], depth), weights.dtype)
    rows = jnp.broadcast_to(jnp.arange(ids.shape[0])[:, None], ids.shape)
    index = (rows, ids)
  at = out.at[index]
  return at.add(weights) if how == "add" else at.max(weights)


def _one_hot(ids, depth, dtype):
  # Comparison against an iota; out-of-range ids give an all-zero row.
  return (ids[..., None] == jnp.arange(depth, dtype=ids.dtype)).astype(dtype)


def check_ids_in_range(ids, depth: int, argname: str, where: str) -> None:
  """Eager check that ids lie in ``[0, depth)``; a no-op under tracing."""
  if not checks.is_concrete(ids):
    return
  arr = np.asarray(ids)
  if arr.size and (arr.min() < 0 or arr.max() >= depth):
    raise ValueError(
        f"{where}: `{argname}` values must lie in [0, {depth}); got values "
        f"in [{arr.min()}, {arr.max()}].")
