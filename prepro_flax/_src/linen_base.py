"""The Linen shell shared by every preprocessing module.

State lives in the ``"preprocessing"`` collection (one ``"state"`` entry per
layer, holding the core transform's state pytree); randomness comes from the
``"augment"`` rng. :func:`adapt` fills the collection from data.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Callable, ClassVar, Optional, Sequence

import jax
from flax import linen as nn

from prepro_core import Transform

from prepro_flax._src import common

COLLECTION = "preprocessing"
RNG = "augment"

# Set by `adapt`: while true, adaptable layers fold their input into their
# state instead of applying a finished one. A context variable rather than a
# call argument so that user models need not thread an `adapt=` flag.
_ADAPTING = contextvars.ContextVar("prepro_flax_linen_adapting", default=False)


class PreprocessingModule(nn.Module):
  """Base class of the Linen preprocessing modules.

  Subclasses declare Keras' arguments as dataclass fields, list the names of
  the constructor constants in ``constants`` and build the core transform in
  ``make_transform``.

  Random subclasses read ``deterministic`` (a field and a call argument,
  merged as ``nn.Dropout`` merges them) and draw keys from the ``"augment"``
  rng: ``model.apply(variables, x, rngs={"augment": key})``.
  """

  constants: ClassVar[Sequence[str]] = ()

  def make_transform(self) -> Transform:
    """Builds the core transform from the module's fields (subclasses)."""
    raise TypeError(
        f"{type(self).__name__} must define make_transform(), returning the "
        f"prepro_core transform it wraps.")

  def _constants_given(self) -> bool:
    return any(getattr(self, c) is not None for c in self.constants)

  def _preprocessing_state(self, t: Transform, x: Any) -> Any:
    name = type(self).__name__
    sample = lambda: t.init(common.sample_for_init(t, x))  # noqa: E731
    adapting = _ADAPTING.get() and self.is_mutable_collection(COLLECTION)
    if adapting and t.adaptable:
      if self.has_variable(COLLECTION, "state"):
        state = self.get_variable(COLLECTION, "state")
      else:
        state = sample()
      state = t.adapt(state, x)
      self.put_variable(COLLECTION, "state", state)
      return state
    if self.has_variable(COLLECTION, "state"):
      return self.get_variable(COLLECTION, "state")
    if t.adaptable and not self._constants_given():
      if self.is_initializing() or adapting:
        # Only to give the layers after this one their input shapes.
        return sample()
      raise common.NotAdaptedError(common.not_adapted_message(
          name, self.constants,
          "call `variables = prepro_flax.linen.adapt(model, variables, data)`"))
    state = sample()
    if self.is_mutable_collection(COLLECTION) and jax.tree_util.tree_leaves(state):
      self.put_variable(COLLECTION, "state", state)
    return state

  @nn.compact
  def __call__(self, x: Any, *, deterministic: Optional[bool] = None):
    """Applies the layer to a batch.

    Args:
      x: a batch laid out as the core transform expects.
      deterministic: random layers only: ``True`` for the inference
        behaviour; merged with the field of the same name.
    """
    t = self.make_transform()
    if not t.on_host:
      return self._call_transform(t, x, deterministic)
    try:
      return self._call_transform(t, x, deterministic)
    except common.TRACER_ERRORS as e:
      # A host (NumPy) step met a tracer: inside jax.jit.
      raise TypeError(common.host_in_jit_message(type(self).__name__)) from e

  def _call_transform(self, t: Transform, x: Any, deterministic: Optional[bool]):
    state = self._preprocessing_state(t, x)
    if not t.is_random:
      return t.apply(state, x)
    if _ADAPTING.get():
      return t.apply(state, x, key=None)
    det = nn.merge_param("deterministic", getattr(self, "deterministic", None),
                         deterministic)
    if det:
      return t.apply(state, x, key=None)
    if not self.has_rng(RNG):
      raise ValueError(common.missing_key_message(
          type(self).__name__,
          f"pass `rngs={{'{RNG}': key}}` to `model.apply` (and to "
          f"`model.init`)",
          "pass `deterministic=True`"))
    return t.apply(state, x, key=self.make_rng(RNG))


@contextlib.contextmanager
def _adapting():
  token = _ADAPTING.set(True)
  try:
    yield
  finally:
    _ADAPTING.reset(token)


def adapt(model: nn.Module,
          variables: Optional[dict],
          data: Any,
          batch_size: Optional[int] = None,
          *,
          method: Optional[Callable[..., Any] | str] = None,
          **apply_kwargs) -> dict:
  """Adapts every adaptable preprocessing layer of a Linen model on data.

  Each batch of ``data`` is passed through ``model.apply`` (as the first
  argument); every adaptable preprocessing layer folds the input it sees
  into its state. Like Keras' ``adapt``, previous preprocessing state is
  discarded first. Runs eagerly (adapt cannot run inside ``jit``: the state's
  shape may depend on the data).

  Args:
    model: a Linen module containing preprocessing modules (or one itself).
    variables: the model's variables (``model.init(...)``), or ``None`` for a
      model with no parameters.
    data: an array (or dict/tuple of arrays) split along axis 0 into batches
      of ``batch_size``, a list of batches, or any iterable of batches.
    batch_size: batch length when ``data`` is an array; ``None`` means one
      batch.
    method, **apply_kwargs: passed to ``model.apply``.

  Returns:
    ``variables`` with a new ``"preprocessing"`` collection.

  Example:
    >>> import numpy as np, prepro_flax.linen as ppl
    >>> model = ppl.Normalization(axis=None)       # no params: variables=None
    >>> x = np.arange(8, dtype=np.float32).reshape(8, 1)
    >>> variables = ppl.adapt(model, None, x, batch_size=4)   # two batches
    >>> np.round(np.asarray(model.apply(variables, x[:3])).ravel(), 4)
    array([-1.5275, -1.0911, -0.6547], dtype=float32)
  """
  variables = dict(variables or {})
  if common.is_traced(variables) or common.is_traced(data):
    raise ValueError(common.adapt_in_jit_message(type(model).__name__))
  variables.pop(COLLECTION, None)
  preprocessing = {}
  seen = 0
  with _adapting():
    for batch in common.iter_batches(data, batch_size):
      if common.is_traced(batch):
        raise ValueError(common.adapt_in_jit_message(type(model).__name__))
      current = dict(variables, **({COLLECTION: preprocessing} if preprocessing else {}))
      _, mutated = model.apply(current, batch, mutable=[COLLECTION],
                               method=method, **apply_kwargs)
      preprocessing = mutated.get(COLLECTION, {})
      seen += 1
  if seen == 0:
    raise ValueError("adapt: `data` is empty; adapt needs at least one example.")
  if preprocessing:
    variables[COLLECTION] = preprocessing
  return variables
