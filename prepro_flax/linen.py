"""prepro_flax.linen: Keras' preprocessing layers as Flax Linen modules.

Each module's fields are the arguments of its ``prepro_core`` factory
(Keras' names and defaults); random modules add a ``deterministic`` field.
State lives in the ``"preprocessing"`` collection, randomness comes from the
``"augment"`` rng:

  >>> import jax, numpy as np, flax.linen as nn, prepro_flax.linen
  >>> class Model(nn.Module):
  ...   @nn.compact
  ...   def __call__(self, x):
  ...     x = prepro_flax.linen.Normalization()(x)
  ...     return nn.Dense(1)(x)
  >>> x = np.random.default_rng(0).normal(5.0, 2.0, (64, 4)).astype(np.float32)
  >>> model = Model()
  >>> variables = model.init(jax.random.key(0), x[:1])
  >>> variables = prepro_flax.linen.adapt(model, variables, x)  # fills "preprocessing"
  >>> state = variables["preprocessing"]["Normalization_0"]["state"]
  >>> bool(np.allclose(state.mean, x.mean(axis=0))), model.apply(variables, x).shape
  (True, (64, 1))

Optimise only ``variables["params"]``: the ``"preprocessing"`` collection is
state, not parameters.
"""

from __future__ import annotations

import inspect
from typing import Any, Optional

import prepro_core as pc

from prepro_flax._src import registry
from prepro_flax._src.common import NotAdaptedError
from prepro_flax._src.linen_base import adapt
from prepro_flax._src.linen_base import COLLECTION
from prepro_flax._src.linen_base import PreprocessingModule
from prepro_flax._src.linen_base import RNG

__all__ = ["adapt", "COLLECTION", "NotAdaptedError", "PreprocessingModule",
           "RNG", "get_vocabulary"]

_HOST = (" Runs on the host (NumPy): apply it outside ``jit`` (in the input "
         "pipeline, or un-jitted at the start of an inference function).")


def get_vocabulary(layer_variables: dict) -> list:
  """Keras' ``get_vocabulary()`` for a lookup module's variables.

  Args:
    layer_variables: the module's entry in the ``"preprocessing"``
      collection, e.g. ``variables["preprocessing"]["StringLookup_0"]``.
  """
  return pc.get_vocabulary(layer_variables["state"])


def _module(row: registry.Layer) -> type:
  """Builds the Linen module class of one registry row: a dataclass field
  per factory argument (same name, same default)."""
  keras_name, factory = row.name, row.factory
  params = inspect.signature(factory).parameters.values()
  annotations, defaults, names = {}, {}, []
  for p in params:
    if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
      raise TypeError(f"{keras_name}: factories with *args/**kwargs cannot "
                      f"become Linen fields.")
    if p.name in ("name", "parent", "deterministic"):
      raise TypeError(f"{keras_name}: argument {p.name!r} clashes with a "
                      f"Linen field.")
    annotations[p.name] = Any
    names.append(p.name)
    if p.default is not p.empty:
      defaults[p.name] = p.default
  if row.random:
    annotations["deterministic"] = Optional[bool]
    defaults["deterministic"] = None
  field_names = tuple(names)

  def make_transform(self):
    return factory(**{n: getattr(self, n) for n in field_names})

  doc = (f"Keras' ``{keras_name}`` as a Linen module, over "
         f"``prepro_core.{factory.__name__}`` (see it for the fields, which "
         f"are Keras' arguments).{_HOST if row.host else ''}")
  if row.random:
    doc += (" Random: reads the ``\"augment\"`` rng unless "
            "``deterministic`` (field or call argument) is true.")
  namespace = {
      "__annotations__": annotations,
      "__module__": __name__,
      "__qualname__": keras_name,
      "__doc__": doc,
      "constants": tuple(row.constants),
      "make_transform": make_transform,
      **defaults,
  }
  return type(keras_name, (PreprocessingModule,), namespace)


# One module per registry row, under Keras' name (module attributes, so they
# pickle by reference and `prepro_flax.linen.Normalization` works).
_LAYERS = {row.name: _module(row) for row in registry.LAYERS}
globals().update(_LAYERS)
__all__ += list(_LAYERS)
