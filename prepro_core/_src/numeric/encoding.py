"""The one kernel that turns integer ids into one_hot/multi_hot/count/tf_idf.

Shared by category_encoding, discretization and the lookups (integer, string,
text), so that every layer that Keras builds on ``encode_categorical_inputs``
gives the same shapes and numbers. Runs on device under jit with static
shapes: ``depth`` is a Python int.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from prepro_core._src.core import checks

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


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
