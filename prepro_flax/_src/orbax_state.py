"""Saving an NNX model's preprocessing state with orbax-checkpoint.

The Flax NNX checkpointing guide saves ``nnx.split(model)``'s state with an
orbax checkpointer and restores it into ``nnx.split(nnx.eval_shape(...))``'s
abstract state. Two things stop a preprocessing layer's state from taking
that road unchanged:

* string layers keep their tables in a :class:`~nnx_base.HostValue`, which
  shows no leaves to ``jax.tree`` (so that ``nnx.jit`` leaves them on the
  host): orbax would see nothing to save;
* an adapted state's shapes depend on the data (a vocabulary's length), and a
  freshly constructed model (the abstract one) has no state at all yet.

:func:`orbax_state` turns every preprocessing state into plain NumPy arrays
(the state's own numeric leaves: prepro keeps strings packed as UTF-8 bytes
and offsets, so there is nothing else), tagged with their NamedTuple types;
:func:`orbax_restore` completes the abstract state with those entries'
shapes from the checkpoint's metadata, restores, and turns them back into
the layers' states, bit for bit. Everything else in the state goes through
orbax untouched. Nothing here imports orbax: it works with any checkpointer
that has orbax's ``metadata(directory)`` and ``restore(directory, target)``.
"""

from __future__ import annotations

import importlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from prepro_flax._src import nnx_base

# Keys of the encoded form, one per kind of node: a dict with exactly one of
# them (plus "fields"/"items" for containers).
_HOST, _DEVICE = "host_state", "device_state"
_NAMEDTUPLE, _TUPLE, _LIST, _NONE = "namedtuple", "tuple", "list", "none"
_NUMPY, _JAX, _PY = "numpy", "jax", "python"
_EMPTY = "empty_dtype"  # beside _NUMPY/_JAX: a zero-size array, by its shape
# Modules whose NamedTuple classes a checkpoint may name (the state types).
_TRUSTED = ("prepro_core.", "prepro_flax.")


def orbax_state(state: nnx.State) -> nnx.State:
  """``state`` ready for an orbax checkpointer's ``save``.

  Every :class:`~prepro_flax.PreprocessingState` (the layers' adapted or
  constant states, string vocabularies included) becomes a tree of NumPy
  arrays; everything else (params, rng keys, other variables) is left as it
  is. Pair with :func:`orbax_restore`.

  Args:
    state: an ``nnx.State``, e.g. from ``graphdef, state = nnx.split(model)``
      or ``nnx.state(model)``.

  Returns:
    A new ``nnx.State``; ``state`` is not changed.

  Example (the Flax NNX checkpointing guide, with the two calls added)::

    import orbax.checkpoint as ocp
    graphdef, state = nnx.split(model)
    ckptr = ocp.StandardCheckpointer()
    ckptr.save(path, pf.orbax_state(state))
    ckptr.wait_until_finished()

    abstract = nnx.eval_shape(lambda: Model(nnx.Rngs(0)))
    graphdef, abstract_state = nnx.split(abstract)
    state = pf.orbax_restore(ckptr, path, abstract_state)
    model = nnx.merge(graphdef, state)
  """
  flat = []
  for path, var in nnx.to_flat_state(state):
    if isinstance(var, nnx_base.PreprocessingState):
      where = _where(path)
      var = var.copy(_encode(var.get_value(), where))
    flat.append((path, var))
  return nnx.from_flat_state(flat)


def orbax_restore(checkpointer: Any, directory: Any,
                  abstract_state: nnx.State) -> nnx.State:
  """Restores a state saved with :func:`orbax_state`, ready for ``nnx.merge``.

  ``checkpointer.restore(directory, target)`` with ``target`` being
  ``abstract_state`` in which each preprocessing layer's entry (``None`` in a
  freshly constructed model) is replaced by the saved entry's layout, read
  from ``checkpointer.metadata(directory)``; the restored entries are then
  decoded into the layers' state types. The other leaves are restored as
  ``abstract_state`` asks (shapes, dtypes, shardings), as in the Flax guide.

  Args:
    checkpointer: an orbax checkpointer (e.g. ``ocp.StandardCheckpointer()``)
      or anything with its ``metadata``/``restore`` methods.
    directory: where :func:`orbax_state`'s output was saved.
    abstract_state: from ``nnx.split(nnx.eval_shape(lambda: Model(...)))``;
      the model need not be adapted or built.

  Returns:
    The restored ``nnx.State``: ``nnx.merge(graphdef, state)`` gives the
    model back, vocabularies included, applying bit for bit as saved.

  Raises:
    ValueError: when the checkpoint has no saved state for a preprocessing
      layer of ``abstract_state`` (saved without :func:`orbax_state`, or from
      a model constructed differently).
  """
  saved = _item_metadata(checkpointer.metadata(directory))
  flat = []
  for path, var in nnx.to_flat_state(abstract_state):
    if isinstance(var, nnx_base.PreprocessingState):
      where = _where(path)
      entry = _subtree(saved, (*path, "value"), where)
      var = var.copy(_target(entry, where))
    flat.append((path, var))
  restored = checkpointer.restore(directory, nnx.from_flat_state(flat))
  out = []
  for path, var in nnx.to_flat_state(restored):
    if isinstance(var, nnx_base.PreprocessingState):
      var = var.copy(_decode(var.get_value(), _where(path)))
    out.append((path, var))
  return nnx.from_flat_state(out)


# --------------------------------------------------------------------------
# The encoding: a preprocessing state as nested dicts of NumPy arrays.
# --------------------------------------------------------------------------

def _where(path) -> str:
  return "/".join(str(p) for p in path)


def _name_array(text: str) -> np.ndarray:
  return np.frombuffer(text.encode(), np.uint8).copy()


def _encode(value: Any, where: str) -> Any:
  if isinstance(value, nnx_base.HostValue):
    return {_HOST: _encode_tree(value.value, where)}
  return {_DEVICE: _encode_tree(value, where)}


def _encode_tree(value: Any, where: str) -> dict:
  if value is None:
    return {_NONE: np.zeros((1,), np.uint8)}
  if isinstance(value, tuple) and hasattr(value, "_fields"):
    name = f"{type(value).__module__}:{type(value).__qualname__}"
    return {_NAMEDTUPLE: _name_array(name),
            "fields": {f: _encode_tree(getattr(value, f), f"{where}.{f}")
                       for f in value._fields}}
  if isinstance(value, (tuple, list)):
    return {_TUPLE if isinstance(value, tuple) else _LIST:
                np.asarray(len(value), np.int64),
            "items": {str(i): _encode_tree(v, f"{where}/{i}")
                      for i, v in enumerate(value)}}
  if isinstance(value, jax.Array):
    if jnp.issubdtype(value.dtype, jax.dtypes.prng_key):
      raise TypeError(f"orbax_state: {where}: a preprocessing state holds a "
                      f"PRNG key, which this encoding does not store.")
    return _encode_array(np.asarray(value), _JAX, where)
  if isinstance(value, (np.ndarray, np.generic)):
    return _encode_array(np.asarray(value), _NUMPY, where)
  if isinstance(value, (bool, int, float)):
    return {_PY: np.asarray(value), "type": _name_array(type(value).__name__)}
  raise TypeError(f"orbax_state: {where}: cannot store a state leaf of type "
                  f"{type(value).__name__}.")


def _encode_array(arr: np.ndarray, kind: str, where: str) -> dict:
  if arr.dtype.kind not in "biuf":
    raise TypeError(
        f"orbax_state: {where}: cannot store a {arr.dtype} array (orbax "
        f"stores numeric arrays; prepro states hold strings as UTF-8 bytes).")
  if arr.size == 0:  # orbax refuses zero-size arrays: keep the layout only
    return {kind: np.asarray(arr.shape, np.int64), _EMPTY: _name_array(
        arr.dtype.str)}
  return {kind: arr}


def _decode_array(raw: dict, kind: str) -> np.ndarray:
  if _EMPTY in raw:
    shape = tuple(int(n) for n in np.asarray(raw[kind]).reshape(-1))
    return np.zeros(shape, np.dtype(_text(raw[_EMPTY])))
  return np.asarray(raw[kind])


def _decode(raw: Any, where: str) -> Any:
  if _HOST in raw:
    return nnx_base.HostValue(_decode_tree(raw[_HOST], where))
  return _decode_tree(raw[_DEVICE], where)


def _text(arr) -> str:
  return np.asarray(arr, np.uint8).tobytes().decode()


def _decode_tree(raw: dict, where: str) -> Any:
  if _NONE in raw:
    return None
  if _NAMEDTUPLE in raw:
    cls = _state_class(_text(raw[_NAMEDTUPLE]), where)
    fields = raw.get("fields") or {}  # an empty dict may not survive saving
    return cls(*[_decode_tree(fields[f], f"{where}.{f}") for f in cls._fields])
  if _TUPLE in raw or _LIST in raw:
    n = int(np.asarray(raw[_TUPLE] if _TUPLE in raw else raw[_LIST]))
    items = raw.get("items") or {}
    out = [_decode_tree(items[str(i)], f"{where}/{i}") for i in range(n)]
    return tuple(out) if _TUPLE in raw else out
  if _JAX in raw:
    return jnp.asarray(_decode_array(raw, _JAX))
  if _NUMPY in raw:
    return _decode_array(raw, _NUMPY)
  if _PY in raw:
    kind = {"bool": bool, "int": int, "float": float}[_text(raw["type"])]
    return kind(np.asarray(raw[_PY]).item())
  raise ValueError(f"orbax_restore: {where}: not a state saved by "
                   f"prepro_flax.orbax_state.")


def _state_class(name: str, where: str) -> type:
  module, _, qualname = name.partition(":")
  if not module.startswith(_TRUSTED):
    raise ValueError(f"orbax_restore: {where}: the checkpoint names the state "
                     f"type {name!r}, outside prepro_core/prepro_flax.")
  cls = importlib.import_module(module)
  for part in qualname.split("."):
    cls = getattr(cls, part)
  if not (isinstance(cls, type) and issubclass(cls, tuple) and
          hasattr(cls, "_fields")):
    raise ValueError(f"orbax_restore: {where}: {name!r} is not a state type.")
  return cls


# --------------------------------------------------------------------------
# The restore target, from the checkpoint's metadata.
# --------------------------------------------------------------------------

def _item_metadata(metadata: Any) -> Any:
  """The saved tree's metadata, from what ``checkpointer.metadata`` gives."""
  tree = getattr(metadata, "item_metadata", metadata)
  tree = getattr(tree, "tree", tree)
  if tree is None:
    raise ValueError("orbax_restore: the checkpoint has no item metadata; "
                     "was it saved with an orbax StandardCheckpointer?")
  return tree


def _subtree(tree: Any, path: tuple, where: str) -> Any:
  node = tree
  for key in path:
    child = None
    if hasattr(node, "get"):
      child = node.get(key, node.get(str(key)))
    if child is None:
      raise ValueError(
          f"orbax_restore: the checkpoint has no preprocessing state at "
          f"{where!r}; save with `checkpointer.save(path, "
          f"prepro_flax.orbax_state(state))`, from a model constructed like "
          f"this one.")
    node = child
  return node


def _target(meta: Any, where: str) -> Any:
  """A restore target with the saved layout: NumPy arrays of its shapes."""
  if hasattr(meta, "items") and not hasattr(meta, "shape"):
    return {k: _target(v, f"{where}/{k}") for k, v in meta.items()}
  shape, dtype = getattr(meta, "shape", None), getattr(meta, "dtype", None)
  if shape is None or dtype is None:
    raise ValueError(f"orbax_restore: {where}: unexpected metadata {meta!r}.")
  return np.zeros(tuple(shape), np.dtype(dtype))
