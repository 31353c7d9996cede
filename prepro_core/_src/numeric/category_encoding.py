"""Category encoding: integer ids to one-hot, multi-hot or count vectors.

Matches Keras' ``CategoryEncoding``: ids must lie in ``[0, num_tokens)``;
``one_hot`` adds a trailing axis of ``num_tokens`` (replacing a trailing axis
of size 1); ``multi_hot`` and ``count`` treat the last axis as one sample, so a
rank-1 input is one sample and a rank-2 input a batch. Output is float32 (or
the dtype of ``count_weights``). The encoding is the kernel shared with
discretization and the lookups (``encoding.encode_ids``).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from prepro_core._src.core import checks
from prepro_core._src.core.factory import transform_factory
from prepro_core._src.core import transform
from prepro_core._src.numeric import encoding

_WHERE = "category_encoding"
_MODES = ("one_hot", "multi_hot", "count")


@transform_factory
def category_encoding(num_tokens: int,
                      output_mode: str = "multi_hot",
                      sparse: bool = False) -> transform.Transform:
  """Encodes integer ids in ``[0, num_tokens)``, like Keras' layer.

  Args:
    num_tokens: the number of ids (output width); ids must lie in
      ``[0, num_tokens)``.
    output_mode: ``"one_hot"``, ``"multi_hot"`` (default) or ``"count"``.
    sparse: must be False: outputs are dense arrays.

  Returns:
    A :class:`~prepro_core.Transform`. ``apply(state, x, key=None,
    count_weights=None)`` takes ids of rank 0, 1 or 2; ``count_weights``
    (``"count"`` mode only) has ``x``'s shape and is summed instead of ones.
    Out-of-range ids raise ``ValueError`` when ``x`` is concrete; under
    ``jit`` they encode to zeros.

  Example:
    >>> import numpy as np, prepro_core as pc
    >>> t = pc.category_encoding(num_tokens=4, output_mode="one_hot")
    >>> state = t.init(np.zeros((4,), np.int32))
    >>> np.asarray(t.apply(state, np.array([3, 2, 0, 1])))
    array([[0., 0., 0., 1.],
           [0., 0., 1., 0.],
           [1., 0., 0., 0.],
           [0., 1., 0., 0.]], dtype=float32)
  """
  if output_mode == "binary":  # Keras' deprecated name
    output_mode = "multi_hot"
  checks.check_choice(output_mode, "output_mode", _MODES, _WHERE)
  num_tokens = checks.check_positive_int(num_tokens, "num_tokens", _WHERE)
  if sparse:
    raise ValueError(
        f"{_WHERE}: `sparse=True` is not supported; outputs are dense arrays "
        f"(use jax.experimental.sparse.BCOO.fromdense on the output if "
        f"needed).")

  def init(sample):
    # Nothing depends on the data; None is accepted.
    if sample is not None:
      _check_id_dtype(sample, "sample", f"{_WHERE}.init")
    return transform.EmptyState()

  def apply(state, x, key=None, count_weights=None):
    del state, key  # deterministic, stateless
    _check_ids(x, num_tokens)
    if count_weights is not None:
      count_weights = _check_count_weights(count_weights, x, output_mode)
    ids = jnp.asarray(x)
    if output_mode == "one_hot" and ids.ndim == 0:
      # A scalar is one id: (num_tokens,), Keras' declared output shape, and
      # what vmap over a rank-1 batch needs.
      return encoding.encode_ids(ids[None], num_tokens, "one_hot")[0]
    return encoding.encode_ids(ids, num_tokens, output_mode,
                               count_weights=count_weights)

  return transform.make_transform(_WHERE, init=init, apply=apply,
                                  state_type=transform.EmptyState)


def _check_ids(x, num_tokens: int) -> None:
  """Integer ids of rank <= 2 in ``[0, num_tokens)`` (range checked eagerly)."""
  _check_id_dtype(x, "x", f"{_WHERE}.apply")
  if np.ndim(x) > 2:
    raise ValueError(
        f"{_WHERE}.apply: `x` must have rank 0, 1 or 2 (Keras encodes up to "
        f"rank-2 outputs), got shape {np.shape(x)}.")
  encoding.check_ids_in_range(x, num_tokens, "x", f"{_WHERE}.apply")


def _check_id_dtype(x, argname: str, where: str) -> None:
  try:
    dtype = np.dtype(x.dtype) if hasattr(x, "dtype") else np.asarray(x).dtype
  except ValueError:  # ragged nested lists
    dtype = np.dtype(object)
  if not np.issubdtype(dtype, np.integer):
    raise TypeError(
        f"{where}: `{argname}` must hold integer ids, got dtype {dtype}; "
        f"cast ids to an integer dtype (floats: discretize or round first).")


def _check_count_weights(count_weights, x, output_mode: str):
  """``count_weights`` as float32 of ``x``'s shape, in ``"count"`` mode only."""
  if output_mode != "count":
    raise ValueError(
        f"{_WHERE}.apply: `count_weights` is only used when "
        f"`output_mode='count'`, got output_mode={output_mode!r}.")
  try:
    count_weights = jnp.asarray(count_weights)
  except TypeError:  # strings, objects
    count_weights = None
  if count_weights is None or jnp.issubdtype(count_weights.dtype,
                                             jnp.complexfloating):
    raise TypeError(
        f"{_WHERE}.apply: `count_weights` must hold numbers.")
  count_weights = count_weights.astype(jnp.float32)
  if count_weights.shape != np.shape(x):
    raise ValueError(
        f"{_WHERE}.apply: `count_weights` must have the shape of `x` "
        f"{np.shape(x)}, got {count_weights.shape}.")
  return count_weights
