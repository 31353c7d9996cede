"""Saving and restoring an NNX model with its preprocessing state.

Uses ``flax.serialization``'s msgpack encoding of ``nnx.state(model)`` rather
than orbax-checkpoint: one dependency fewer, and the state worth saving here
(statistics, boundaries, vocabularies, a few weight matrices in the tests) is
small enough to live in one byte string; orbax's async, sharded, multi-host
machinery buys nothing at this size. Large models can still save their
``nnx.state`` with orbax: ``orbax_state.py`` (``pf.orbax_state`` /
``pf.orbax_restore``) shapes the preprocessing entries for an orbax
checkpointer, as the Flax NNX checkpointing guide uses it.

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

import prepro_core as pc

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


def _describe_raw(raw: Any) -> str:
  if isinstance(raw, dict):
    return f"fields {sorted(raw)}"
  if isinstance(raw, np.ndarray):
    return f"an array of shape {raw.shape} and dtype {raw.dtype}"
  return f"a {type(raw).__name__}"


def _mismatch(where: str, expected: str, raw: Any) -> ValueError:
  return ValueError(
      f"`restore`: the state at {where!r} in `data` does not fit `model`: "
      f"the model expects {expected}, the checkpoint holds "
      f"{_describe_raw(raw)}. Restore into a model constructed like the "
      f"saved one (same layers, same arguments such as `axis`).")


def _decode(target: Any, raw: Any, where: str, exact: bool = True) -> Any:
  """Rebuilds ``raw`` with the types of ``target`` (a state of the same
  layer, e.g. freshly built); lengths (vocabularies) come from ``raw``.

  Refuses a ``raw`` whose structure differs from ``target``'s and, where
  ``exact`` (device arrays: everything but host-side states, whose tables
  grow with the vocabulary), a leaf whose shape or dtype differs.
  """
  if raw is None:
    return None
  if target is None:
    raise ValueError(
        f"`restore`: the model has no state at {where!r} to restore into: "
        f"that layer was never built and the checkpoint does not say how; "
        f"build it first (layer.build(sample)).")
  if isinstance(target, nnx_base.HostValue):
    if not (isinstance(raw, dict) and "__host__" in raw):
      raise _mismatch(where, "a host-side state", raw)
    return nnx_base.HostValue(
        _decode(target.value, raw["__host__"], where, exact=False))
  if isinstance(target, tuple) and hasattr(target, "_fields"):
    if not isinstance(raw, dict) or set(raw) != set(target._fields):
      raise _mismatch(
          where, f"a {type(target).__name__} with fields "
          f"{sorted(target._fields)}", raw)
    return type(target)(*[
        _decode(getattr(target, f), raw[f], f"{where}.{f}", exact)
        for f in target._fields])
  if isinstance(target, dict):
    if not isinstance(raw, dict) or set(raw) != {str(k) for k in target}:
      raise _mismatch(where, f"fields {sorted(map(str, target))}", raw)
    return {k: _decode(v, raw[str(k)], f"{where}/{k}", exact)
            for k, v in target.items()}
  if isinstance(target, (tuple, list)):
    if not isinstance(raw, dict) or set(raw) != {
        str(i) for i in range(len(target))}:
      raise _mismatch(where, f"a sequence of {len(target)} entries", raw)
    out = [_decode(v, raw[str(i)], f"{where}/{i}", exact)
           for i, v in enumerate(target)]
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
    _check_leaf(target, arr, where, exact)
    return jnp.asarray(arr) if isinstance(target, jax.Array) else arr
  if isinstance(raw, np.ndarray):
    _check_leaf(target, raw, where, exact)
    # Keep the leaf's kind: host-side NumPy stays NumPy, device arrays go
    # back to the device.
    return jnp.asarray(raw) if isinstance(target, jax.Array) else raw
  if isinstance(raw, dict):
    raise _mismatch(where, f"an array like {_describe_leaf(target)}", raw)
  return raw


def _describe_leaf(target: Any) -> str:
  if hasattr(target, "shape") and hasattr(target, "dtype"):
    return f"shape {tuple(target.shape)} and dtype {target.dtype}"
  return type(target).__name__


def _check_leaf(target: Any, arr: np.ndarray, where: str, exact: bool) -> None:
  """A saved device array must have the shape and dtype of the model's."""
  if not (exact and isinstance(target, jax.Array)):
    return
  if jnp.issubdtype(target.dtype, jax.dtypes.prng_key):
    raise _mismatch(where, "a PRNG key", arr)
  if tuple(arr.shape) != tuple(target.shape) or np.dtype(
      arr.dtype) != np.dtype(target.dtype):
    raise _mismatch(where, f"an array of {_describe_leaf(target)}", arr)


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
  if not isinstance(model, nnx.Module):
    raise TypeError(f"`save`: `model` must be an nnx.Module, got "
                    f"{type(model).__name__}.")
  state = nnx.state(model)
  values = {_path_key(p): _encode(v.get_value())
            for p, v in nnx.to_flat_state(state)}
  built, layers = {}, {}
  for path, module in nnx.iter_modules(model):
    if isinstance(module, nnx_base.PreprocessingLayer):
      # Which layer each path holds, so that restore can name a mismatch.
      layers[_path_key(path)] = {"layer": type(module).__name__}
      if module.built and module.built_spec is not None:
        shape, dtype = module.built_spec
        built[_path_key(path)] = {"shape": list(shape), "dtype": dtype}
  return serialization.msgpack_serialize(
      {"format": _FORMAT, "state": values, "built": built, "layers": layers})


def restore(model: nnx.Module, data: bytes) -> nnx.Module:
  """Restores what :func:`save` wrote into ``model``, in place (bit-exact).

  Preprocessing layers of ``model`` that were never adapted are built from
  the saved input layout first, so a freshly constructed model works.
  Nothing in ``model`` changes unless the whole checkpoint fits it.

  Args:
    model: a model constructed like the saved one.
    data: bytes from :func:`save`.

  Returns:
    ``model``, for chaining.

  Raises:
    TypeError: ``model`` is not an NNX module or ``data`` not bytes.
    ValueError: when ``data`` is not a prepro_flax checkpoint (or is
      truncated or corrupt), or the model's structure differs from the saved
      one: other layers at the same paths, states of other types, shapes or
      dtypes (a layer constructed with other arguments, such as ``axis``).
  """
  if not isinstance(model, nnx.Module):
    raise TypeError(
        f"`restore`: `model` must be an nnx.Module constructed like the "
        f"saved one, got {type(model).__name__}.")
  raw = _read_checkpoint(data)
  saved = raw["state"]
  pending = _initial_states(model, raw)
  state = nnx.state(model)
  flat = list(nnx.to_flat_state(state))
  missing = sorted(set(saved) - {_path_key(p) for p, _ in flat})
  if missing:
    raise ValueError(
        f"`restore`: the checkpoint holds state the model does not have: "
        f"{missing[:5]}; was the model constructed differently?")
  decoded = []
  for path, var in flat:
    key = _path_key(path)
    if key not in saved:
      raise ValueError(
          f"`restore`: the checkpoint has no value for {key!r}; was the "
          f"model constructed differently?")
    target = pending[key][1] if key in pending else var.get_value()
    decoded.append((var, _decode(target, saved[key], key)))
  # Everything fits: only now change the model.
  for module, _, spec in pending.values():
    module.built_spec = spec
  for var, value in decoded:
    var.set_value(value)
  nnx.update(model, state)
  return model


def _read_checkpoint(data: Any) -> dict:
  """The decoded msgpack of :func:`save`, checked to be one."""
  if not isinstance(data, (bytes, bytearray, memoryview)):
    raise TypeError(
        f"`restore`: `data` must be the bytes prepro_flax.save returned, got "
        f"{type(data).__name__}.")
  try:
    raw = serialization.msgpack_restore(bytes(data))
  except Exception as e:  # pylint: disable=broad-except
    # msgpack's own errors (ExtraData, "incomplete input"...), not prepro's.
    raise ValueError(
        f"`restore`: `data` is not a prepro_flax.save checkpoint (truncated "
        f"or corrupt): {type(e).__name__}: {e}") from None
  if not isinstance(raw, dict) or raw.get("format") != _FORMAT:
    raise ValueError(
        "`restore`: `data` is not a prepro_flax.save checkpoint (no "
        f"{_FORMAT!r} header); give it the bytes prepro_flax.save returned.")
  if not (isinstance(raw.get("state"), dict) and
          isinstance(raw.get("built", {}), dict) and
          isinstance(raw.get("layers", {}), dict)):
    raise ValueError(
        "`restore`: `data` is not a prepro_flax.save checkpoint (truncated "
        "or corrupt): its header is there but its state is not.")
  return raw


def _initial_states(model: nnx.Module, raw: dict) -> dict:
  """Checks each preprocessing layer against the checkpoint and builds (but
  does not store) the state of those never built.

  Returns:
    ``{state path: (layer, initial state, built_spec)}`` for the layers to
    build; their variables are restored into these states.
  """
  pending = {}
  layers, built = raw.get("layers", {}), raw.get("built", {})
  for path, module in nnx.iter_modules(model):
    if not isinstance(module, nnx_base.PreprocessingLayer):
      continue
    key = _path_key(path)
    where = key or "<the model itself>"
    name = type(module).__name__
    saved_layer = layers.get(key, {}).get("layer")
    if saved_layer is not None and saved_layer != name:
      raise ValueError(
          f"`restore`: the layer at {where!r} is a {name} in `model` but a "
          f"{saved_layer} in `data`; restore into a model constructed like "
          f"the saved one.")
    if module.built:
      continue
    state_key = _path_key(tuple(path) + ("state",))
    t = module.transform
    if key in built:
      rec = built[key]
      try:
        state = module.initial_state(_sample_from(module, rec))
      except Exception as e:  # pylint: disable=broad-except
        raise ValueError(
            f"`restore`: cannot build the {name} at {where!r} from the saved "
            f"input layout (shape {tuple(rec['shape'])}, dtype "
            f"{rec['dtype']}): {e} Was the model constructed "
            f"differently?") from e
      spec = (tuple(rec["shape"]), rec["dtype"])
    elif t.state_type is pc.EmptyState and not t.adaptable:
      # Stateless (e.g. HashedCrossing, built from a tuple of features): the
      # state does not depend on the input layout.
      state, spec = pc.EmptyState(), None
    elif module.builds_without_sample:
      state, spec = t.init(None), None  # e.g. FeatureSpace: laid out by its specs
    else:
      continue
    pending[state_key] = (
        module, nnx_base.HostValue(state) if t.on_host else state, spec)
  return pending


def _sample_from(module, rec):
  shape = tuple(rec["shape"])
  if rec["dtype"] == "str":
    return np.full(shape, "", dtype=object)
  if module.transform.on_host:
    return np.zeros(shape, dtype=np.dtype(rec["dtype"]))
  return jax.ShapeDtypeStruct(shape, np.dtype(rec["dtype"]))
