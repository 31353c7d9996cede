"""``prepro_flax.FeatureSpace``: Keras' FeatureSpace as an NNX layer.

Written by hand rather than from the registry: it adapts on a dict of
columns (not on arrays split by rows) and hands out its host stage, so that
a model holding it trains under ``nnx.jit`` on the host stage's output.
"""

from __future__ import annotations

from typing import Any, Optional

from flax import nnx

import prepro_core as pc

from prepro_flax._src.nnx_layers import KerasLayer


class FeatureSpace(KerasLayer):
  """Keras' ``FeatureSpace`` as an NNX layer, over ``prepro_core.feature_space``.

  Takes the same arguments and feature specs (``pc.feature_space.
  string_categorical()``...; also reachable here, as ``FeatureSpace.
  string_categorical()``). Called on raw columns it runs eagerly: the host
  stage (strings and integer categories become ids, in NumPy), then the
  device stage. Inside ``nnx.jit`` call it on ``layer.host_stage(columns)``
  instead, computed before the jitted step: the device stage then traces.

  Example:
    >>> import numpy as np, flax.nnx as nnx, prepro_flax
    >>> class Model(nnx.Module):
    ...   def __init__(self, rngs):
    ...     self.features = prepro_flax.FeatureSpace(
    ...         {"age": "float_normalized", "city": "string_categorical"})
    ...     self.dense = nnx.Linear(5, 1, rngs=rngs)
    ...   def __call__(self, columns):
    ...     return self.dense(self.features(columns))
    >>> model = Model(nnx.Rngs(0))
    >>> train = {"age": [20.0, 40.0, 60.0], "city": ["Oslo", "Rome", "Pisa"]}
    >>> model.features.adapt(train)
    >>> model(train).shape                              # eager, raw columns
    (3, 1)
    >>> step = nnx.jit(lambda m, x: m(x))
    >>> step(model, model.features.host_stage(train)).shape   # jitted
    (3, 1)
  """

  factory = staticmethod(pc.feature_space)
  builds_without_sample = True  # its specs lay the state out

  feature = staticmethod(pc.feature_space.feature)
  float = staticmethod(pc.feature_space.float)
  float_rescaled = staticmethod(pc.feature_space.float_rescaled)
  float_normalized = staticmethod(pc.feature_space.float_normalized)
  float_discretized = staticmethod(pc.feature_space.float_discretized)
  integer_categorical = staticmethod(pc.feature_space.integer_categorical)
  string_categorical = staticmethod(pc.feature_space.string_categorical)
  integer_hashed = staticmethod(pc.feature_space.integer_hashed)
  string_hashed = staticmethod(pc.feature_space.string_hashed)
  cross = staticmethod(pc.feature_space.cross)

  def adapt(self, data: Any, batch_size: Optional[int] = None) -> None:
    """Adapts every adaptable feature on ``data``: a dict of columns, a list
    of row dicts, or an iterable of dict batches (a grain dataset)."""
    self.set_state(pc.adapt(self.transform, data, batch_size))
    self.built_spec = None  # a dict of columns: rebuilt from the transform

  def host_stage(self, columns: Any) -> Any:
    """The host stage's output for ``columns`` (call it outside ``jit``);
    the layer, called on it, runs only the device stage."""
    split = pc.split_host_device(self.transform)
    host_state, _ = split.split_state(self._adapted_state())
    return split.host.apply(host_state, columns)

  def output_layout(self) -> dict:
    """Feature/cross name -> its ``slice`` of the concatenated output."""
    return pc.feature_space.output_layout(self.transform,
                                          self._adapted_state())

  def _adapted_state(self):
    state = self.get_state()
    if state is None:
      self._check_usable()
      state = self.transform.init(None)
      self.set_state(state)
    return state


def predict_fn(model: Any, features: FeatureSpace):
  """``columns -> model(columns)``, jitted: ``features`` (the model's
  FeatureSpace layer, which its ``__call__`` applies to the columns it
  gets) runs its host stage eagerly, then the model, device stage included,
  runs as one ``nnx.jit`` program.

  Example:
    >>> import flax.nnx as nnx, prepro_flax
    >>> class Model(nnx.Module):
    ...   def __init__(self, rngs):
    ...     self.features = prepro_flax.FeatureSpace({"city": "string_categorical"})
    ...     self.dense = nnx.Linear(3, 1, rngs=rngs)
    ...   def __call__(self, columns):
    ...     return self.dense(self.features(columns))
    >>> model = Model(nnx.Rngs(0))
    >>> model.features.adapt({"city": ["Oslo", "Rome"]})
    >>> predict = prepro_flax.predict_fn(model, model.features)
    >>> predict({"city": ["Rome", "Lima"]}).shape       # Lima: unseen, OOV
    (2, 1)
  """
  if not isinstance(features, FeatureSpace):
    raise TypeError(
        f"predict_fn: `features` must be the model's prepro_flax.FeatureSpace "
        f"layer, got {type(features).__name__}.")
  jitted = nnx.jit(lambda m, x: m(x))

  def predict(columns):
    return jitted(model, features.host_stage(columns))

  return predict
