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

import functools
from typing import Any, Callable, NamedTuple, Optional, Protocol, Sequence

import jax
import numpy as np

from prepro_core._src.core import checks

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
    state_type: the NamedTuple class of the state ``init`` returns
      (:class:`EmptyState` for transforms that learn nothing); ``apply``,
      ``adapt``, ``merge`` and :func:`~prepro_core.adapt` refuse any other
      state with a TypeError. None: not checked.
    recipe: how the transform was made (a ``Recipe``: its factory and the
      arguments), set by ``@transform_factory`` on every public factory
      (see ``core/factory.py``); None for one made by :func:`make_transform`
      directly.

  Pickling and equality: a transform with a recipe pickles as its factory
  called again with the same arguments (the closures are rebuilt on
  unpickle), and two such transforms are equal, and hash alike, when their
  recipes are (same factory, arguments equal by value), so an unpickled
  transform equals its original. One without a recipe refuses to pickle
  (a TypeError naming it) and is equal only to itself (field by field).
  ``copy.copy``/``copy.deepcopy`` return the transform itself: it is an
  immutable bundle of functions.
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
  state_type: Optional[type] = None
  recipe: Optional[Any] = None

  def __reduce__(self):
    if self.recipe is None:
      raise TypeError(
          f"Transform `{self.name}` cannot be pickled: it was built by "
          f"make_transform directly, so nothing records how to rebuild its "
          f"functions. Build it with a prepro_core factory (e.g. "
          f"pc.normalization(...), pc.chain(...)), or decorate your own "
          f"factory with @transform_factory (prepro_core/_src/core/"
          f"factory.py).")
    return self.recipe.reduce(self.name)

  def __eq__(self, other):
    if not isinstance(other, Transform):
      return NotImplemented
    if self.recipe is not None and other.recipe is not None:
      return self.recipe == other.recipe
    return tuple.__eq__(self, other)

  def __ne__(self, other):
    result = self.__eq__(other)
    return result if result is NotImplemented else not result

  def __hash__(self):
    if self.recipe is not None:
      return hash(self.recipe)
    return tuple.__hash__(self)

  def __repr__(self):
    # The recipe (factory and arguments), not a screenful of closures.
    if self.recipe is not None:
      return f"Transform({self.recipe!r})"
    return f"Transform({self.name}, made by make_transform)"

  def __copy__(self):
    return self

  def __deepcopy__(self, memo):
    del memo
    return self


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
    state_type: Optional[type] = None,
) -> Transform:
  """Builds a :class:`Transform`, deriving ``adapt`` and ``merge``.

  Transforms without ``accumulate`` learn nothing: ``adapt`` returns the state
  unchanged and ``merge`` checks the two states agree in type, then returns
  the first.

  ``state_type`` is the NamedTuple class ``init`` returns (:class:`EmptyState`
  for stateless transforms, which also take ``None``). The returned
  ``apply``/``adapt``/``merge``/``accumulate``/``finalize``/``combine`` check
  that their state is one (a Python ``isinstance`` when called or traced:
  free in the compiled program), so a state of another transform gets
  prepro's TypeError instead of an AttributeError from inside.
  """
  if state_type is not None and not (isinstance(state_type, type) and
                                     issubclass(state_type, tuple)):
    raise TypeError(
        f"`make_transform({name})`: `state_type` must be the NamedTuple class "
        f"of the state `init` returns, got {state_type!r}.")
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

  stateless = state_type is EmptyState

  def check(state, method):
    checks.check_state(state, state_type, f"{name}.{method}",
                       allow_none=stateless)

  def combine_states(a, b, method):
    check_same_state(a, b, name)  # first: "come from different transforms"
    check(a, method)
    check(b, method)
    return combine(a, b)

  def checked_combine(a, b):
    return combine_states(a, b, "combine")

  def checked_accumulate(state, batch, axis_name=None):
    check(state, "accumulate")
    return accumulate(state, batch, axis_name=axis_name)

  def checked_finalize(state):
    check(state, "finalize")
    return finalize(state)

  def adapt(state, batch, axis_name=None):
    check(state, "adapt")
    return finalize(accumulate(state, batch, axis_name=axis_name))

  def merge(a, b):
    return finalize(combine_states(a, b, "merge"))

  @functools.wraps(apply)
  def checked_apply(state, *args, **kwargs):
    check(state, "apply")
    return apply(state, *args, **kwargs)

  return Transform(
      name=name,
      init=init,
      adapt=adapt,
      merge=merge,
      apply=checked_apply if state_type is not None else apply,
      accumulate=checked_accumulate,
      finalize=checked_finalize,
      combine=checked_combine,
      is_random=is_random,
      on_host=on_host,
      adaptable=adaptable,
      fusion=fusion,
      state_type=state_type,
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
