"""Applying a transform to input-pipeline records, one record (or batch) at a time.

Not specific to a loader: :func:`loader_fn` (``pc.loader_fn``, for a torch
``DataLoader``, ``multiprocessing`` or any loader) and ``pc.grain.map`` share
:class:`RecordFn`.

The rules, in one place:

* The key of record ``index`` is ``jax.random.fold_in(jax.random.key(seed),
  index)`` (:func:`record_key`): a random output depends only on (state,
  seed, index), never on the worker, the worker count or the order records
  are visited in.
* A record is what the transform's ``apply`` takes: one example (one image,
  one document) or a batch. A batch is applied as a batch with the one key of
  its index, and the transform draws per-example parameters from that key
  folded with the position in the batch; so a batch's result differs from
  applying its examples one by one with their own record indices.
* Outputs are NumPy by default (``output="numpy"``): device outputs are
  copied to host, and host transforms (string_lookup, text_vectorization)
  compute their one_hot/multi_hot/count/tf_idf outputs in NumPy
  (``encoding.host_outputs``), so a worker running only host transforms never
  starts a JAX backend.
"""

from __future__ import annotations

import functools
from typing import Any, Mapping, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from prepro_core._src.core.chain import ChainState
from prepro_core._src.core.transform import State
from prepro_core._src.core.transform import Transform
from prepro_core._src.host.kernels import backend
from prepro_core._src.lookup import string_lookup as sl
from prepro_core._src.lookup.integer_lookup import IntegerLookupState
from prepro_core._src.lookup.text_vectorization import TextVectorizationState
from prepro_core._src.numeric import encoding
from prepro_core._src.numeric.discretization import DiscretizationState
from prepro_core._src.numeric.normalization import NormalizationState

OUTPUTS = ("numpy", "jax")
_MAX_INDEX = 2**32  # fold_in folds a uint32


def record_key(seed: int, index: int) -> jax.Array:
  """The PRNG key of record ``index``: ``fold_in(key(seed), index)``."""
  return jax.random.fold_in(jax.random.key(seed), index)


def unadapted_reason(state: State) -> Optional[str]:
  """Why ``state`` looks like a fresh ``init`` that was never adapted, or None.

  Detectable for the lookups (no vocabulary, none given), discretization
  (no summary points, every boundary +inf) and normalization (count 0 with
  init's mean 0 and variance 1). A chain is checked part by part.
  """
  if isinstance(state, ChainState):
    for i, part in enumerate(state.states):
      reason = unadapted_reason(part)
      if reason is not None:
        return f"part {i} of the chain: {reason}"
    return None
  if isinstance(state, TextVectorizationState):
    state = state.lookup
  if isinstance(state, sl.StringLookupState):
    if not sl.layout_of(state).given and len(state.vocabulary) == 0:
      return "its vocabulary is empty"
  elif isinstance(state, IntegerLookupState):
    if np.size(state.vocabulary) == 0:
      return "its vocabulary is empty"
  elif isinstance(state, DiscretizationState):
    bounds = np.asarray(state.bin_boundaries)
    if int(state.size) == 0 and bounds.size and np.all(np.isinf(bounds)):
      return "it holds no summary of the data (every boundary is +inf)"
  elif isinstance(state, NormalizationState):
    if (float(state.count) == 0 and not np.any(np.asarray(state.mean)) and
        np.all(np.asarray(state.variance) == 1)):
      return "its count is 0 (mean 0, variance 1, as init leaves them)"
  return None


def check_pipeline_args(transform: Any, state: Any, seed: Any, output: Any,
                        where: str) -> None:
  """The adapters' argument checks, at construction (in the main process)."""
  if not isinstance(transform, Transform):
    raise TypeError(
        f"{where}: `transform` must be a prepro Transform (e.g. "
        f"pc.text_vectorization()), got {type(transform).__name__}.")
  if output not in OUTPUTS:
    raise ValueError(
        f"{where}: `output` must be one of {OUTPUTS}, got {output!r}.")
  if seed is not None and (isinstance(seed, bool) or
                           not isinstance(seed, (int, np.integer))):
    raise TypeError(f"{where}: `seed` must be an int or None, got {seed!r}.")
  if transform.is_random and seed is None:
    raise ValueError(
        f"{where}: `seed` is None, but {transform.name} is random: give an "
        f"int seed (record i gets the key fold_in(key(seed), i)). To run its "
        f"inference variant (key=None), leave it out of the pipeline.")
  if state is None:
    if transform.adaptable:
      raise ValueError(
          f"{where}: `state` is None, but {transform.name} learns its state "
          f"from data: pass `pc.adapt(t, data)` (or `t.init(sample)` when it "
          f"was built with a vocabulary or constants).")
    return
  state_type = getattr(transform, "state_type", None)
  if state_type is not None and not isinstance(state, state_type):
    raise TypeError(
        f"{where}: `state` must be a {state_type.__name__} (the state of "
        f"{transform.name}), got {type(state).__name__}.")
  if transform.adaptable:
    reason = unadapted_reason(state)
    if reason is not None:
      raise ValueError(
          f"{where}: `state` looks un-adapted ({reason}): adapt it first, "
          f"`state = pc.adapt(t, data)`.")


def _is_numeric_array(x: Any) -> bool:
  dtype = getattr(x, "dtype", None)
  return (isinstance(x, (np.ndarray, np.generic, jax.Array)) and
          (np.dtype(dtype).kind in "biuf" or dtype == jnp.bfloat16))


def stack_records(records: Sequence[Any]) -> Any:
  """Records as one batch: strings stay a list (what host transforms take),
  mappings and tuples are stacked field by field, arrays with ``np.stack``."""
  first = records[0]
  if isinstance(first, (str, bytes)):
    return list(records)
  if isinstance(first, Mapping):
    return {k: stack_records([r[k] for r in records]) for k in first}
  if isinstance(first, tuple):
    return tuple(stack_records(list(parts)) for parts in zip(*records))
  return np.stack([np.asarray(r) for r in records])


def _to_numpy(tree: Any) -> Any:
  return jax.tree_util.tree_map(np.asarray, tree)


def _to_jax(tree: Any) -> Any:
  # Numbers become jax.Array; strings (an inverted lookup's) stay NumPy.
  return jax.tree_util.tree_map(
      lambda x: jnp.asarray(x) if _is_numeric_array(np.asarray(x)) else x,
      tree)


def _what(index: Optional[int]) -> str:
  return "a record" if index is None else f"record {index}"


def with_record(error: Exception, prefix: str) -> Exception:
  """``error`` again (same type when it allows) with ``prefix`` in front."""
  try:
    return type(error)(f"{prefix}: {error}")
  except Exception:  # pylint: disable=broad-except
    kind = TypeError if isinstance(error, TypeError) else ValueError
    return kind(f"{prefix}: {type(error).__name__}: {error}")


class RecordFn:
  """Applies a transform to records: ``fn(index, record) -> output``.

  A plain, picklable callable (what :func:`loader_fn` returns, and what
  ``pc.grain.map`` wraps). ``fn(index, record)`` gives
  ``transform.apply(state, record, key=fold_in(key(seed), index))`` (no key
  for a non-random transform), as NumPy with ``output="numpy"``. Device
  transforms run jitted, compiled once per worker process and record shape;
  the compiled function is not pickled. ``fn.collate(items)`` applies a list
  of ``(index, record)`` pairs as one batch (a ``collate_fn``).

  With ``field``, records are mappings: the transform is applied to
  ``record[field]`` and a copy of the record with that field replaced is
  returned.
  """

  def __init__(self, transform: Transform, state: State, seed: Optional[int],
               output: str, field: Any, where: str):
    self.transform = transform
    self.state = state
    self.seed = None if seed is None else int(seed)
    self.output = output
    self.field = field
    self.where = where
    self._compiled = None
    self._base_key = None

  def __getstate__(self):
    d = dict(self.__dict__)
    d["_compiled"] = None  # a jitted function and a key: rebuilt per process
    d["_base_key"] = None
    return d

  def __setstate__(self, d):
    # Unpickled: in a loader worker (mp_prefetch, a DataLoader, a Pool),
    # which applies batch after batch; numba's host kernels pay for their
    # load there from the first batch.
    self.__dict__.update(d)
    backend.load_numba_at_first_use()

  def __repr__(self) -> str:
    return self.where

  def __call__(self, index: Optional[int], record: Any) -> Any:
    """The output for ``record``, the dataset's record number ``index``.

    ``index`` may be None for a non-random transform (it then only names
    the record in errors).
    """
    if index is None:
      if self.transform.is_random:
        raise ValueError(
            f"{self.where}: {self.transform.name} is random and needs each "
            f"record's index for its key; use grain's `map_with_index` (or "
            f"`ds.apply(...)`), or call fn(index, record).")
    elif type(index) is not int or not 0 <= index < _MAX_INDEX:  # fast: int
      if (isinstance(index, bool) or
          not isinstance(index, (int, np.integer)) or
          not 0 <= index < _MAX_INDEX):
        raise ValueError(
            f"{self.where}: the record index must be an int in [0, 2**32), "
            f"got {index!r}.")
    x = record if self.field is None else self._select(record, index)
    try:
      with encoding.host_outputs(self.output):
        y = self._apply(index, x)
    except (TypeError, ValueError) as e:
      raise with_record(e, f"{self.where}: {_what(index)}") from e
    if self.output == "jax":
      y = _to_jax(y)
    elif type(y) is not np.ndarray:  # host transforms' usual output as is
      y = _to_numpy(y)
    if self.field is None:
      return y
    out = dict(record)
    out[self.field] = y
    return out

  def collate(self, items: Sequence[Any]) -> Any:
    """A ``collate_fn``: a list of ``(index, record)`` pairs to one output.

    A random transform is applied per record, each with its own index's key,
    and the outputs stacked (the same as ``fn(index, record)`` each); a
    non-random one to the stacked records at once (text: a list of
    documents), which is faster and, for fixed-size outputs, the same.
    """
    if not items or not all(
        isinstance(it, tuple) and len(it) == 2 for it in items):
      raise TypeError(
          f"{self.where}.collate: `items` must be a non-empty list of "
          f"(index, record) pairs (have the Dataset's __getitem__ return "
          f"(i, record)).")
    if self.transform.is_random:
      return stack_records([self(i, r) for i, r in items])
    return self(int(items[0][0]), stack_records([r for _, r in items]))

  def _select(self, record: Any, index: Optional[int]) -> Any:
    if not isinstance(record, Mapping) or self.field not in record:
      what = _what(index)
      keys = list(record) if isinstance(record, Mapping) else None
      raise TypeError(
          f"{self.where}: {what}: with `field`={self.field!r} each record "
          f"must be a mapping holding that key, got "
          f"{type(record).__name__}" + (f" with keys {keys}" if keys is not
                                        None else "") + ".")
    return record[self.field]

  def _state_for(self, x: Any) -> State:
    if self.state is None:  # a transform that learns nothing: init once
      self.state = self.transform.init(x)
    return self.state

  def _apply(self, index: Optional[int], x: Any) -> Any:
    t = self.transform
    state = self._state_for(x)
    jittable = not t.on_host and all(
        _is_numeric_array(leaf) for leaf in jax.tree_util.tree_leaves(x))
    if not jittable:  # host transforms, and records prepro's checks refuse
      key = record_key(self.seed, index) if t.is_random else None
      return t.apply(state, x, key=key)
    if self._compiled is None:
      self._compiled = jax.jit(
          functools.partial(keyed_apply if t.is_random else plain_apply, t))
    if not t.is_random:
      return self._compiled(state, x)
    if self._base_key is None:
      self._base_key = jax.random.key(self.seed)
    return self._compiled(state, x, self._base_key, np.uint32(index))

  def output_spec(self, input_spec: Any) -> Any:
    """Shapes and dtypes of the outputs for records of ``input_spec``.

    Device transforms only (``jax.eval_shape``); host transforms' shapes
    can depend on the data (a text's longest row).
    """
    t = self.transform
    if t.on_host:
      raise ValueError(
          f"{self.where}: output_spec is not known ahead for the host "
          f"transform {t.name} (its output shape may depend on the data).")
    spec = input_spec if self.field is None else input_spec[self.field]
    state = self.state if self.state is not None else t.init(spec)
    if t.is_random:
      out = jax.eval_shape(functools.partial(keyed_apply, t), state, spec,
                           jax.random.key(0), np.uint32(0))
    else:
      out = jax.eval_shape(functools.partial(plain_apply, t), state, spec)
    if self.field is None:
      return out
    full = dict(input_spec)
    full[self.field] = out
    return full


def plain_apply(transform: Transform, state: State, x: Any) -> Any:
  """``transform.apply(state, x)``: what the workers jit."""
  return transform.apply(state, x)


def keyed_apply(transform: Transform, state: State, x: Any,
                base_key: jax.Array, index: Any) -> Any:
  """``apply`` with the key ``fold_in(base_key, index)``, as one program."""
  return transform.apply(state, x, key=jax.random.fold_in(base_key, index))


def loader_fn(transform: Transform,
              state: Optional[State] = None,
              seed: Optional[int] = None,
              output: str = "numpy",
              *,
              field: Any = None) -> RecordFn:
  """A picklable ``(index, record) -> output`` callable for any data loader.

  For a torch ``DataLoader`` (in ``Dataset.__getitem__``, or as its
  ``collate_fn`` via ``fn.collate``), a ``multiprocessing.Pool`` or a loader
  of your own. Record ``index`` is seeded with
  ``jax.random.fold_in(jax.random.key(seed), index)``, so outputs depend only
  on (state, seed, index): the same in every worker and process.

  Args:
    transform: a prepro :class:`~prepro_core.Transform`.
    state: its state (``pc.adapt(t, data)``); may be None only for a
      transform that learns nothing (then ``init`` runs on the first record).
    seed: an int, needed by random transforms.
    output: ``"numpy"`` (default: host arrays; host transforms never touch a
      device) or ``"jax"``.
    field: with records that are mappings, the key to transform (the other
      keys pass through).

  Returns:
    ``fn`` with ``fn(index, record)`` and ``fn.collate([(index, record),
    ...])``.

  Raises:
    TypeError / ValueError at construction: not a Transform, a random
    transform without a seed, an adaptable transform without a state or
    with an un-adapted one; when called: the record's error, naming its
    index.

  Example:
    >>> import prepro_core as pc
    >>> t = pc.string_lookup(vocabulary=["a", "b"], output_mode="one_hot")
    >>> fn = pc.loader_fn(t, t.init(None))
    >>> out = fn(0, ["b", "z"])
    >>> type(out).__name__, out.tolist()
    ('ndarray', [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
  """
  where = f"pc.loader_fn({getattr(transform, 'name', '?')})"
  check_pipeline_args(transform, state, seed, output, where)
  return RecordFn(transform, state, seed, output, field, where)
