"""The NNX shell shared by every preprocessing layer.

A layer holds a core :class:`prepro_core.Transform` (static, part of the
graph definition) and its state in a :class:`PreprocessingState` variable.
``PreprocessingState`` is not an ``nnx.Param``: gradients, ``nnx.state(model,
nnx.Param)`` and ``nnx.Optimizer(model, tx, wrt=nnx.Param)`` leave it alone,
while ``nnx.state(model)`` (and so a checkpoint) includes it.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import jax
import numpy as np
from flax import nnx
from flax.nnx import rnglib

import prepro_core as pc
from prepro_core import Transform

from prepro_flax._src import common


class PreprocessingState(nnx.Variable):
  """The adapted (or constant) state of a preprocessing layer.

  Its value is the core transform's state pytree (typed NamedTuples of
  arrays), or ``None`` until the layer is built (by ``adapt``, ``build`` or
  its first eager call). Not trained: optimizers built with
  ``wrt=nnx.Param`` ignore it.
  """


@jax.tree_util.register_pytree_node_class
class HostValue:
  """Holds a host-side (NumPy) state with no pytree leaves.

  String layers keep their vocabulary tables in NumPy (uint64 hash keys
  among them). Hiding them from ``jax.tree`` keeps them on the host when a
  model holding such a layer is passed through ``nnx.jit`` or
  ``nnx.split``: they are not traced, not turned into device arrays and not
  truncated to 32 bits. Compared by identity, so a new adapt is a new value.
  """

  __slots__ = ("value",)

  def __init__(self, value):
    self.value = value

  def tree_flatten(self):
    return (), self

  @classmethod
  def tree_unflatten(cls, aux, children):
    del children
    return aux

  def __repr__(self):
    return f"HostValue({self.value!r})"


class PreprocessingLayer(nnx.Module):
  """Base class: a thin NNX shell over a prepro_core transform.

  Subclasses pass the transform built from Keras' arguments, and the names of
  the constructor constants that make an adaptable layer usable without
  ``adapt`` (e.g. ``("mean", "variance")``).

  Args:
    transform: the core transform.
    constants: names of the constructor constants, for error messages.
    constants_given: whether those constants were passed.
    rngs: for random layers, an ``nnx.Rngs`` (the ``augment`` stream is used,
      falling back to ``default``) or an ``nnx.RngStream``.
    deterministic: random layers only; ``True`` gives the inference
      behaviour. ``model.train()`` / ``model.eval()`` set it, as for
      ``nnx.Dropout``.
    rng_collection: the stream name read from ``rngs``.

  Example:
    >>> import numpy as np, flax.nnx as nnx, prepro_flax
    >>> class Model(nnx.Module):
    ...   def __init__(self, rngs):
    ...     self.norm = prepro_flax.Normalization()
    ...     self.flip = prepro_flax.RandomFlip("horizontal", rngs=rngs)
    ...     self.dense = nnx.Linear(3, 1, rngs=rngs)
    ...   def __call__(self, x):
    ...     return self.dense(self.flip(self.norm(x)))
    >>> model = Model(nnx.Rngs(params=0, augment=1))
    >>> images = 255 * np.random.default_rng(0).random((16, 8, 8, 3), np.float32)
    >>> model.norm.adapt(images, batch_size=4)   # eagerly, before training
    >>> model(images).shape
    (16, 8, 8, 1)
    >>> list(nnx.state(model, nnx.Param))        # what an optimizer trains
    ['dense']
    >>> model.eval()                             # flips off, as Dropout
    >>> bool((np.asarray(model.flip(images)) == images).all())
    True
  """

  # Whether ``transform.init(None)`` lays the state out fully (no sample
  # needed), so that a checkpoint restores into a never-built layer.
  builds_without_sample = False

  def __init__(self,
               transform: Transform,
               *,
               constants: Sequence[str] = (),
               constants_given: bool = False,
               rngs: rnglib.Rngs | rnglib.RngStream | None = None,
               deterministic: bool = False,
               rng_collection: str = "augment"):
    if not isinstance(transform, Transform):
      raise TypeError(f"{type(self).__name__}: expected a prepro_core "
                      f"Transform, got {type(transform).__name__}.")
    self.transform = transform
    self.constants = tuple(constants)
    self.constants_given = bool(constants_given)
    self.rng_collection = rng_collection
    # Kept for checkpoint restore: how the state was built (see checkpoint.py).
    self.built_spec = None
    self.state = PreprocessingState(None)
    if transform.is_random:
      self.deterministic = deterministic
      if isinstance(rngs, rnglib.Rngs):
        self.rngs = rngs[rng_collection].fork()
      elif isinstance(rngs, rnglib.RngStream):
        self.rngs = rngs.fork()
      elif rngs is None:
        self.rngs = nnx.data(None)
      else:
        raise TypeError(
            f"{type(self).__name__}: `rngs` must be an nnx.Rngs (e.g. "
            f"nnx.Rngs(augment=0)), an nnx.RngStream or None, got "
            f"{type(rngs).__name__}.")
    elif rngs is not None:
      raise TypeError(f"{type(self).__name__} is deterministic and takes no "
                      f"`rngs`.")

  # -- state -----------------------------------------------------------------

  def get_state(self) -> Any:
    """The core transform's state (``None`` before the layer is built)."""
    value = self.state.get_value()
    return value.value if isinstance(value, HostValue) else value

  def set_state(self, state: Any) -> None:
    """Replaces the core transform's state (e.g. one made with ``pc.adapt``).

    Raises:
      TypeError: ``state`` is not a state of this layer's transform (its
        ``state_type``), e.g. one from another transform.
    """
    t = self.transform
    if state is not None and t.state_type is not None and not isinstance(
        state, t.state_type):
      raise TypeError(
          f"`{type(self).__name__}.set_state`: `state` must be a "
          f"{t.state_type.__name__} (from this layer's transform, "
          f"{t.name}: its init/adapt or pc.adapt), got "
          f"{type(state).__name__}.")
    if self.transform.on_host and state is not None:
      state = HostValue(state)
    self.state.set_value(state)

  @property
  def built(self) -> bool:
    return self.state.get_value() is not None

  @property
  def is_adapted(self) -> bool:
    """True when the layer holds a state ready to apply."""
    return self.built

  def build(self, sample: Any) -> None:
    """Builds the state from a sample batch (or ``jax.ShapeDtypeStruct``).

    Only needed for layers that are ready without ``adapt`` (constants, or
    nothing to learn), and only to create the state before the first call,
    e.g. to restore a checkpoint into it.
    """
    self._check_usable()
    self._build_unchecked(sample)

  def _build_unchecked(self, sample: Any) -> None:
    self.set_state(self.initial_state(sample))
    self.built_spec = _spec_record(sample)

  def initial_state(self, sample: Any) -> Any:
    """The state ``build(sample)`` would store, without storing it."""
    return self.transform.init(common.sample_for_init(self.transform, sample))

  def _check_usable(self) -> None:
    if self.transform.adaptable and not self.constants_given:
      raise common.NotAdaptedError(
          common.not_adapted_message(type(self).__name__, self.constants,
                                     "call `layer.adapt(data)`"))

  def _current_state(self, x: Any) -> Any:
    state = self.get_state()
    if state is not None:
      return state
    self._check_usable()
    state = self.transform.init(common.sample_for_init(self.transform, x))
    if not common.is_traced(x):
      # Built on the first eager call, as Keras builds; under a trace the
      # state is a constant recomputed per trace, not stored (a jitted
      # function must not change the model's structure).
      self.set_state(state)
      self.built_spec = _spec_record(x)
    return state

  def adapt(self, data: Any, batch_size: Optional[int] = None) -> None:
    """Computes the layer's state from data, replacing any previous state.

    Like Keras' ``adapt``: statistics over all of ``data``, streamed in
    batches. Runs eagerly (never inside ``jit``).

    Args:
      data: an array, a list of examples or of batches, or any iterable of
        batches.
      batch_size: batch length when ``data`` is an array; ``None`` means one
        batch.

    Raises:
      TypeError: when the layer learns nothing from data.
      ValueError: inside ``jit``/``nnx.jit``, or when ``data`` is empty.
    """
    name = type(self).__name__
    if not self.transform.adaptable:
      raise TypeError(f"{name} learns nothing from data; it has no `adapt`.")
    if common.is_traced(self.get_state()):
      raise ValueError(common.adapt_in_jit_message(name))
    first = []

    def checked(batches):
      for b in batches:
        if common.is_traced(b):
          raise ValueError(common.adapt_in_jit_message(name))
        if not first:
          first.append(b)
        yield b

    state = pc.adapt(self.transform,
                     checked(common.iter_batches(data, batch_size)))
    self.set_state(state)
    self.built_spec = _spec_record(first[0])

  # -- calling ---------------------------------------------------------------

  def __call__(self,
               x: Any,
               *,
               key: Optional[jax.Array] = None,
               deterministic: Optional[bool] = None,
               rngs: rnglib.Rngs | rnglib.RngStream | jax.Array | None = None):
    """Applies the layer.

    Args:
      x: a batch laid out as the core transform expects.
      key: random layers: a PRNG key for this call (takes precedence over
        ``rngs``).
      deterministic: random layers: overrides the layer's ``deterministic``
        attribute for this call.
      rngs: random layers: an ``nnx.Rngs``, ``nnx.RngStream`` or key used
        instead of the one given to the constructor.

    Returns:
      The transformed batch.
    """
    if not self.transform.on_host:
      return self._call_transform(x, key, deterministic, rngs)
    try:
      return self._call_transform(x, key, deterministic, rngs)
    except (*common.TRACER_ERRORS, pc.HostOnlyError) as e:
      # A host (NumPy) step met a tracer: inside nnx.jit/jax.jit.
      raise TypeError(common.host_in_jit_message(type(self).__name__)) from e

  def _call_transform(self, x, key, deterministic, rngs):
    state = self._current_state(x)
    if not self.transform.is_random:
      return self.transform.apply(state, x)
    return self.transform.apply(state, x,
                                key=self._key(key, deterministic, rngs))

  def _key(self, key, deterministic, rngs):
    det = self.deterministic if deterministic is None else deterministic
    if det:
      return None
    if key is not None:
      return key
    source = rngs if rngs is not None else self.rngs
    if source is None:
      raise ValueError(common.missing_key_message(
          type(self).__name__,
          "pass `rngs=nnx.Rngs(augment=0)` to the constructor, or `key=` (or "
          "`rngs=`) when calling it",
          "call `model.eval()` or pass `deterministic=True`"))
    if isinstance(source, rnglib.Rngs):
      return source[self.rng_collection]()
    if isinstance(source, rnglib.RngStream):
      return source()
    return source

  def set_view(self, deterministic: Optional[bool] = None):
    """Used by ``nnx.view(model, deterministic=...)``."""
    if deterministic is not None and self.transform.is_random:
      self.deterministic = deterministic


class VocabularyMixin:
  """``get_vocabulary()`` / ``vocabulary_size()`` for lookup layers."""

  # A sample of the layer's input kind, to build a state from a given
  # vocabulary before the first call.
  vocabulary_sample = np.array([""])

  def get_vocabulary(self) -> list:
    """The vocabulary in index order, mask and OOV tokens included."""
    state = self.get_state()
    if state is None:
      self._check_usable()
      # Built from a given vocabulary: ready without a call, as in Keras. The
      # state does not depend on the sample, only on its kind (strings/ints).
      self._build_unchecked(self.vocabulary_sample)
      state = self.get_state()
    return pc.get_vocabulary(state)

  def vocabulary_size(self) -> int:
    """Number of indices, mask and OOV included (Keras' definition)."""
    return len(self.get_vocabulary())


def _spec_record(sample: Any):
  """A small, serialisable record of the input layout used to build."""
  def rec(leaf):
    if isinstance(leaf, jax.ShapeDtypeStruct):
      return (tuple(leaf.shape), str(leaf.dtype))
    arr = leaf if hasattr(leaf, "dtype") else np.asarray(leaf)
    kind = "str" if arr.dtype.kind in "USO" else str(arr.dtype)
    return (tuple(arr.shape), kind)
  leaves, treedef = jax.tree_util.tree_flatten(sample)
  if treedef != jax.tree_util.tree_structure(0):
    return None  # only plain arrays are recorded; other layouts rebuild lazily
  return rec(leaves[0])
