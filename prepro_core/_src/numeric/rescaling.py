"""Rescaling: ``x * scale + offset``, like Keras' ``Rescaling`` layer.

As in Keras, the input (ints, bools or floats) is cast to float32 first and
the output is float32: ``Rescaling(1/255)`` on uint8 images gives floats in
[0, 1].
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from prepro_core._src.core import checks
from prepro_core._src.core.factory import transform_factory
from prepro_core._src.core import transform

_WHERE = "rescaling"


class RescalingState(NamedTuple):
  """State of :func:`rescaling`: the constants, as float32 arrays."""
  scale: jax.Array   # () or broadcastable to the input's trailing axes
  offset: jax.Array  # () or broadcastable to the input's trailing axes


@transform_factory
def rescaling(scale, offset=0.0) -> transform.Transform:
  """Rescales values by ``scale`` then shifts them by ``offset``.

  Args:
    scale: a float (or an array broadcasting against the input's trailing
      axes, e.g. one value per channel), multiplied into the input.
    offset: a float (or such an array) added after scaling.

  Returns:
    A :class:`~prepro_core.Transform` whose ``apply(state, x)`` returns
    ``float32(x) * scale + offset`` (float32; learns nothing in ``adapt``).

  Example:
    >>> import numpy as np, prepro_core as pc
    >>> t = pc.rescaling(scale=1 / 127.5, offset=-1.0)
    >>> state = t.init(np.zeros((1, 3), np.uint8))
    >>> np.asarray(t.apply(state, np.array([[0, 127.5, 255]])))
    array([[-1.,  0.,  1.]], dtype=float32)
  """
  scale_c = checks.real_constant(scale, "scale", _WHERE)
  offset_c = checks.real_constant(offset, "offset", _WHERE)

  def init(sample):
    # Nothing depends on the data; None is accepted.
    if sample is not None:
      checks.check_real_dtype(sample, "sample", f"{_WHERE}.init")
    return RescalingState(scale=jnp.asarray(scale_c),
                          offset=jnp.asarray(offset_c))

  def apply(state, x, key=None):
    del key  # deterministic
    checks.check_real_dtype(x, "x", f"{_WHERE}.apply")
    x = jnp.asarray(x).astype(jnp.float32)
    try:
      jnp.broadcast_shapes(x.shape, state.scale.shape, state.offset.shape)
    except ValueError:
      raise ValueError(
          f"{_WHERE}.apply: `x` of shape {x.shape} does not broadcast with "
          f"`scale` {state.scale.shape} and `offset` {state.offset.shape}."
      ) from None
    return x * state.scale + state.offset

  return transform.make_transform(_WHERE, init=init, apply=apply,
                                  state_type=RescalingState)
