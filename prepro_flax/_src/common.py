"""Helpers shared by the NNX and Linen wrappers."""

from __future__ import annotations

from typing import Any, Iterable, Optional, Sequence

import jax
import numpy as np

from prepro_core import Transform


class NotAdaptedError(ValueError):
  """An adaptable layer was used before ``adapt`` and without constants."""


def is_traced(tree: Any) -> bool:
  """True when any leaf of ``tree`` is a jax tracer (inside jit/vmap/grad)."""
  return any(
      isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(tree))


def is_string_array(x: Any) -> bool:
  return isinstance(x, np.ndarray) and x.dtype.kind in "USO"


def sample_for_init(transform: Transform, x: Any) -> Any:
  """What to give ``transform.init``: the data itself for host-side
  transforms (strings have no jax dtype), else a ShapeDtypeStruct tree, so
  building never computes on the data. Traced leaves become
  ShapeDtypeStructs for host transforms too: their ``init`` must not turn a
  tracer into NumPy, so that ``apply`` can say it runs on the host (or, for
  the integer inputs some of them take on device, simply run)."""
  if transform.on_host:
    # Shallow: a tracer, or a tuple/dict of them (hashed_crossing's
    # features); lists of strings, possibly long, are not walked.
    if isinstance(x, tuple):
      return type(x)(*map(_tracer_spec, x)) if hasattr(x, "_fields") else (
          tuple(map(_tracer_spec, x)))
    if isinstance(x, dict):
      return {k: _tracer_spec(v) for k, v in x.items()}
    return _tracer_spec(x)

  def spec(leaf):
    if isinstance(leaf, jax.ShapeDtypeStruct):
      return leaf
    if isinstance(leaf, (str, bytes)) or is_string_array(leaf) or (
        isinstance(leaf, (list, tuple)) and leaf and isinstance(leaf[0], str)):
      return leaf
    arr = leaf if hasattr(leaf, "dtype") else np.asarray(leaf)
    return jax.ShapeDtypeStruct(np.shape(arr), arr.dtype)

  return jax.tree_util.tree_map(spec, x)


def _tracer_spec(a: Any) -> Any:
  if isinstance(a, jax.core.Tracer):
    return jax.ShapeDtypeStruct(a.shape, a.dtype)
  return a


def not_adapted_message(layer_name: str, constants: Sequence[str],
                        how_to_adapt: str) -> str:
  if constants:
    names = " and ".join(f"`{c}`" for c in constants)
    const = f", or pass the constants ({names}) to the constructor"
  else:
    const = ""
  return (f"{layer_name} was never adapted: {how_to_adapt} before using "
          f"it{const}.")


def adapt_in_jit_message(layer_name: str) -> str:
  return (
      f"{layer_name}.adapt cannot run inside jax.jit/nnx.jit (or vmap/grad): "
      f"adapt reads concrete data on the host and replaces the layer's state, "
      f"whose shape can depend on the data (a vocabulary, a quantile summary), "
      f"and a traced function cannot do either. Call `adapt` eagerly, before "
      f"the jitted training step.")


# What JAX raises when NumPy code meets a tracer.
TRACER_ERRORS = (jax.errors.TracerArrayConversionError,
                 jax.errors.ConcretizationTypeError,
                 jax.errors.TracerBoolConversionError,
                 jax.errors.TracerIntegerConversionError)


def host_in_jit_message(layer_name: str) -> str:
  return (
      f"{layer_name} runs on the host (NumPy), so it cannot run inside "
      f"jax.jit/nnx.jit (or vmap/grad): `x` is a tracer there. Call it before "
      f"the jitted step (see pc.split_host_device), e.g. in the input "
      f"pipeline, and pass its integer output to the jitted function.")


def missing_key_message(layer_name: str, how_to_seed: str,
                        how_to_disable: str) -> str:
  return (f"{layer_name} is random and in training mode but got no random "
          f"key: {how_to_seed}; or {how_to_disable} for the deterministic "
          f"(inference) behaviour.")


def iter_batches(data: Any, batch_size: Optional[int]) -> Iterable[Any]:
  """Batches of ``data``: arrays (and dicts/tuples of arrays) are split along
  axis 0 into ``batch_size`` pieces; lists of arrays and other iterables are
  taken as a stream of batches; other lists are one array of examples."""
  if batch_size is not None and (
      isinstance(batch_size, bool) or
      not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
    raise ValueError(f"adapt: `batch_size` must be an int >= 1 or None, got "
                     f"{batch_size!r}.")
  return _batches(data, batch_size)


def _batches(data, batch_size):
  if isinstance(data, jax.core.Tracer):
    yield data  # the caller reports it
    return
  if isinstance(data, (list, tuple)):
    if data and isinstance(data[0], (np.ndarray, jax.Array)) and np.ndim(data[0]) >= 1:
      yield from data
      return
    data = np.asarray(data)
  if isinstance(data, (dict, np.ndarray, jax.Array)):
    leaves = jax.tree_util.tree_leaves(data)
    n = np.shape(leaves[0])[0] if leaves and np.ndim(leaves[0]) else 0
    step = n if batch_size is None else batch_size
    for start in range(0, n, max(step, 1)):
      yield jax.tree_util.tree_map(lambda a, s=start: a[s:s + step], data)
    return
  yield from data
