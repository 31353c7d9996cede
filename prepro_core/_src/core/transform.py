"""The transform contract shared by every prepro transform.

A :class:`Transform` is a NamedTuple of pure functions. Its state is a pytree
(typed NamedTuples of arrays), so it can be jitted, vmapped, sharded, saved and
restored with ordinary JAX tools. Nothing is hidden in globals.

Adapting is split in two so that streaming stays cheap:

* ``accumulate(state, batch, axis_name=None)`` folds one batch into the running
  statistics (counts, moments, a quantile summary...);
* ``finalize(state)`` derives what ``apply`` needs from those statistics
  (boundaries, a vocabulary table...).

``adapt`` is ``finalize(accumulate(...))`` and ``merge`` is
``finalize(combine(...))``, so both always return a state ready to apply.
:func:`adapt` (``pc.adapt``) accumulates every batch and finalizes once.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional, Protocol, Sequence

import jax
import numpy as np

State = Any
Array = Any


class Transform(NamedTuple):
  """A preprocessing transform: a named bundle of pure functions.

  Attributes:
    name: the transform's snake_case name (``"normalization"``...).
    init: ``init(sample) -> state``. ``sample`` is an array, or a
      ``jax.ShapeDtypeStruct``, laid out like a batch. Transforms built with
      constants (mean/variance, boundaries, a vocabulary) return a state that
      is ready to apply.
    adapt: ``adapt(state, batch, axis_name=None) -> state``; pure. With
      ``axis_name`` inside ``pmap``/``shard_map`` every device ends with the
      state that adapting on all shards at once gives.
    merge: ``merge(a, b) -> state``; associative, so adapting shards and
      merging equals adapting the whole.
    apply: ``apply(state, x, key=None) -> y``; pure, jittable and vmappable for
      numeric data. Random transforms draw from ``key``; ``key=None`` is
      inference (the identity or the deterministic variant).
    accumulate: ``accumulate(state, batch, axis_name=None) -> state``: adapt
      without the finalize step (used by :func:`adapt` for streaming).
    finalize: ``finalize(state) -> state``: derive what ``apply`` needs.
    combine: ``combine(a, b) -> state``: merge without the finalize step.
    is_random: whether ``apply`` uses its ``key``.
    on_host: whether ``adapt``/``apply`` run on the host in NumPy (string
      transforms); such transforms cannot be traced by ``jit``.
    adaptable: whether ``adapt`` learns anything from data.
    fusion: a :class:`Fusable` when consecutive transforms of this kind can
      run as one step inside :func:`~prepro_core.chain` (the geometric image
      transforms compose their matrices and resample once); else None.
  """

  name: str
  init: Callable[..., State]
  adapt: Callable[..., State]
  merge: Callable[[State, State], State]
  apply: Callable[..., Any]
  accumulate: Callable[..., State]
  finalize: Callable[[State], State]
  combine: Callable[[State, State], State]
  is_random: bool = False
  on_host: bool = False
  adaptable: bool = False
  fusion: Optional["Fusable"] = None


class Fusable(Protocol):
  """What a transform offers :func:`~prepro_core.chain` to run with its neighbours.

  The chain collects a run of consecutive parts, each of which ``joins`` the
  run before it, and hands the whole run to its first member's ``apply_run``.
  Fusion is for keyed (random) application; with ``key=None`` the chain
  applies its parts one by one.
  """

  def joins(self, run: Sequence["Fusable"]) -> bool:
    """Whether this part can run together with ``run`` (its predecessors)."""

  def apply_run(self, run: Sequence["Fusable"], states: Sequence[State],
                keys: Sequence[Any], x: Any, where: str) -> Any:
    """Applies ``run`` (which starts with ``self``) to ``x`` in one step.

    The result equals applying the run's transforms one by one with
    ``states`` and ``keys``, up to interpolation.
    """


class EmptyState(NamedTuple):
  """State of a transform that learns nothing from data."""


def _identity_state(state: State) -> State:
  return state


def make_transform(
    name: str,
    *,
    init: Callable[..., State],
    apply: Callable[..., Any],
    accumulate: Optional[Callable[..., State]] = None,
    combine: Optional[Callable[[State, State], State]] = None,
    finalize: Optional[Callable[[State], State]] = None,
    is_random: bool = False,
    on_host: bool = False,
    fusion: Optional[Fusable] = None,
) -> Transform:
  """Builds a :class:`Transform`, deriving ``adapt`` and ``merge``.

  Transforms without ``accumulate`` learn nothing: ``adapt`` returns the state
  unchanged and ``merge`` checks the two states agree in type, then returns
  the first.
  """
  adaptable = accumulate is not None
  finalize = finalize or _identity_state

  if accumulate is None:
    def accumulate(state, batch, axis_name=None):  # pylint: disable=function-redefined
      del batch, axis_name
      return state

  if combine is None:
    def combine(a, b):  # pylint: disable=function-redefined
      del b
      return a

  def checked_combine(a, b):
    check_same_state(a, b, name)
    return combine(a, b)

  def adapt(state, batch, axis_name=None):
    return finalize(accumulate(state, batch, axis_name=axis_name))

  def merge(a, b):
    return finalize(checked_combine(a, b))

  return Transform(
      name=name,
      init=init,
      adapt=adapt,
      merge=merge,
      apply=apply,
      accumulate=accumulate,
      finalize=finalize,
      combine=checked_combine,
      is_random=is_random,
      on_host=on_host,
      adaptable=adaptable,
      fusion=fusion,
  )


def check_same_state(a: State, b: State, name: str) -> None:
  """Raises unless ``a`` and ``b`` are states of the same kind of transform."""
  if type(a) is not type(b):
    raise TypeError(
        f"{name}.merge: the two states come from different transforms "
        f"({type(a).__name__} and {type(b).__name__}); merge only states "
        f"made by the same transform.")
  ta, tb = jax.tree_util.tree_structure(a), jax.tree_util.tree_structure(b)
  if ta != tb:
    raise ValueError(
        f"{name}.merge: the two states have different structures ({ta} vs "
        f"{tb}); were they made by transforms with different arguments?")
  for la, lb in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
    sa, sb = np.shape(la), np.shape(lb)
    if sa != sb and not _growable(la, lb):
      raise ValueError(
          f"{name}.merge: state leaves have different shapes ({sa} vs {sb}); "
          f"were the transforms initialised on data of different shapes?")


def _growable(a: Any, b: Any) -> bool:
  # Host-side count tables (lookups) legitimately differ in length.
  return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.ndim(
      a) == np.ndim(b) == 1
