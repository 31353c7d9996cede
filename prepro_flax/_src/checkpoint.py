"""Saving and restoring an NNX model with its preprocessing state.

Uses ``flax.serialization``'s msgpack encoding of ``nnx.state(model)`` rather
than orbax-checkpoint: one dependency fewer, and the state worth saving here
(statistics, boundaries, vocabularies, a few weight matrices in the tests) is
small enough to live in one byte string; orbax's async, sharded, multi-host
machinery buys nothing at this size. Large models can still save their
``nnx.state`` with orbax: :class:`PreprocessingState` is an ordinary
``nnx.Variable`` holding NamedTuples of arrays (string vocabularies excepted,
which is what this module handles).

The encoding is exact: numeric arrays are written as raw bytes with their
dtype, string arrays as lists of Python strings with their shape and NumPy
dtype, PRNG keys as their key data and implementation name.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from flax import serialization

from prepro_flax._src import nnx_base

_FORMAT = "prepro_flax.checkpoint/1"


def _path_key(path) -> str:
  return "/".join(str(p) for p in path)


def _encode(value: Any) -> Any:
  """A msgpack-friendly copy of a state pytree (NamedTuples -> dicts)."""
  if value is None:
    return None
  if isinstance(value, nnx_base.HostValue):
    return {"__host__": _encode(value.value)}
  if isinstance(value, tuple) and hasattr(value, "_fields"):
    return {f: _encode(getattr(value, f)) for f in value._fields}
  if isinstance(value, dict):
    return {str(k): _encode(v) for k, v in value.items()}
  if isinstance(value, (tuple, list)):
    return {str(i): _encode(v) for i, v in enumerate(value)}
  if isinstance(value, (jax.Array, np.ndarray, np.generic)):
    if jnp.issubdtype(value.dtype, jax.dtypes.prng_key):
      return {"__prng_key__": np.asarray(jax.random.key_data(value)),
              "impl": str(jax.random.key_impl(value))}
    arr = np.asarray(value)
    if arr.dtype.kind in "USO":
      return {"__strings__": [str(s) for s in arr.reshape(-1).tolist()],
              "shape": list(arr.shape), "dtype": arr.dtype.str if arr.dtype.kind != "O" else "O"}
    if arr.dtype.kind == "b":
      return {"__bool__": arr.astype(np.uint8), "shape": list(arr.shape)}
    return arr
  if isinstance(value, (bool, int, float, str)):
    return value
  raise TypeError(
      f"save: cannot encode a state leaf of type {type(value).__name__}.")


def _decode(target: Any, raw: Any, where: str) -> Any:
  """Rebuilds ``raw`` with the types of ``target`` (a state of the same
  layer, e.g. freshly built); lengths (vocabularies) come from ``raw``."""
  if raw is None:
    return None
  if target is None:
    raise ValueError(
        f"restore: the model has no state at {where!r} to restore into; "
        f"build that layer first (layer.build(sample)).")
  if isinstance(target, nnx_base.HostValue):
    return nnx_base.HostValue(_decode(target.value, raw["__host__"], where))
  if isinstance(target, tuple) and hasattr(target, "_fields"):
    return type(target)(*[
        _decode(getattr(target, f), raw[f], f"{where}.{f}") for f in target._fields])
  if isinstance(target, dict):
    return {k: _decode(v, raw[str(k)], f"{where}/{k}") for k, v in target.items()}
  if isinstance(target, (tuple, list)):
    out = [_decode(v, raw[str(i)], f"{where}/{i}") for i, v in enumerate(target)]
    return type(target)(out)
  if isinstance(raw, dict) and "__prng_key__" in raw:
    return jax.random.wrap_key_data(jnp.asarray(raw["__prng_key__"]),
                                    impl=raw["impl"])
  if isinstance(raw, dict) and "__strings__" in raw:
    dtype = object if raw["dtype"] == "O" else np.dtype(raw["dtype"])
    arr = np.empty(len(raw["__strings__"]), dtype=object)
    arr[:] = raw["__strings__"]
    return arr.astype(dtype).reshape(raw["shape"])
  if isinstance(raw, dict) and "__bool__" in raw:
    arr = np.asarray(raw["__bool__"]).astype(bool).reshape(raw["shape"])
    return jnp.asarray(arr) if isinstance(target, jax.Array) else arr
  if isinstance(raw, np.ndarray):
    # Keep the leaf's kind: host-side NumPy stays NumPy, device arrays go
    # back to the device.
    return jnp.asarray(raw) if isinstance(target, jax.Array) else raw
  return raw


def save(model: nnx.Module) -> bytes:
  """Serialises ``nnx.state(model)``, preprocessing state included.

  Args:
    model: any NNX module (preprocessing layers anywhere inside).

  Returns:
    msgpack bytes; give them to :func:`restore` with a model built the same
    way (its preprocessing layers need not be adapted).

  Example:
    >>> import numpy as np, prepro_flax
    >>> layer = prepro_flax.Normalization(axis=None)
    >>> layer.adapt(np.array([1.0, 2.0, 3.0, 4.0], np.float32))
    >>> data = prepro_flax.save(layer)
    >>> fresh = prepro_flax.Normalization(axis=None)  # constructed, never adapted
    >>> np.asarray(prepro_flax.restore(fresh, data)(np.float32([1.0, 4.0])))
    array([-1.3416407,  1.3416407], dtype=float32)
  """
  state = nnx.state(model)
  values = {_path_key(p): _encode(v.get_value())
            for p, v in nnx.to_flat_state(state)}
  built = {}
  for path, module in nnx.iter_modules(model):
    if isinstance(module, nnx_base.PreprocessingLayer) and module.built:
      if module.built_spec is not None:
        shape, dtype = module.built_spec
        built[_path_key(path)] = {"shape": list(shape), "dtype": dtype}
  return serialization.msgpack_serialize(
      {"format": _FORMAT, "state": values, "built": built})


def restore(model: nnx.Module, data: bytes) -> nnx.Module:
  """Restores what :func:`save` wrote into ``model``, in place (bit-exact).

  Preprocessing layers of ``model`` that were never adapted are built from
  the saved input layout first, so a freshly constructed model works.

  Args:
    model: a model constructed like the saved one.
    data: bytes from :func:`save`.

  Returns:
    ``model``, for chaining.

  Raises:
    ValueError: when ``data`` is not a prepro_flax checkpoint, or the model's
      structure differs from the saved one.
  """
  raw = serialization.msgpack_restore(data)
  if not isinstance(raw, dict) or raw.get("format") != _FORMAT:
    raise ValueError("restore: `data` is not a prepro_flax.save checkpoint.")
  for path, module in nnx.iter_modules(model):
    key = _path_key(path)
    if (isinstance(module, nnx_base.PreprocessingLayer) and not module.built
        and key in raw["built"]):
      rec = raw["built"][key]
      module._build_unchecked(_sample_from(module, rec))  # pylint: disable=protected-access
  state = nnx.state(model)
  saved = raw["state"]
  flat = list(nnx.to_flat_state(state))
  missing = sorted(set(saved) - {_path_key(p) for p, _ in flat})
  if missing:
    raise ValueError(
        f"restore: the checkpoint holds state the model does not have: "
        f"{missing[:5]}; was the model constructed differently?")
  for path, var in flat:
    key = _path_key(path)
    if key not in saved:
      raise ValueError(
          f"restore: the checkpoint has no value for {key!r}; was the model "
          f"constructed differently?")
    var.set_value(_decode(var.get_value(), saved[key], key))
  nnx.update(model, state)
  return model


def _sample_from(module, rec):
  shape = tuple(rec["shape"])
  if rec["dtype"] == "str":
    return np.full(shape, "", dtype=object)
  if module.transform.on_host:
    return np.zeros(shape, dtype=np.dtype(rec["dtype"]))
  return jax.ShapeDtypeStruct(shape, np.dtype(rec["dtype"]))
