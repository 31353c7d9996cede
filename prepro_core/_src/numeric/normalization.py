"""Normalization: shift and scale features to zero mean and unit variance.

Matches Keras' ``Normalization`` layer: population variance, ``apply`` is
``(x - mean) / max(sqrt(variance), 1e-7)`` and ``invert=True`` gives
``mean + x * max(sqrt(variance), 1e-7)``, computed and returned in float32.

Adapting keeps ``(count, mean, m2)`` per feature (``m2`` is the sum of squared
deviations from the mean), so batches, shards and devices combine exactly with
Chan's parallel formula. Each batch is reduced in two passes on device (mean,
then squared deviations), which is exact to float32 rounding even for data
whose mean is large compared to its spread.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np

from prepro_core._src.core import checks
from prepro_core._src.core.factory import transform_factory
from prepro_core._src.core import transform

# Keras' backend.epsilon(): the floor on the standard deviation.
EPSILON = 1e-7

_WHERE = "normalization"


class NormalizationState(NamedTuple):
  """State of :func:`normalization`.

  Statistics are stored with the input's rank: kept axes have their size,
  reduced axes (the batch axis included) have size 1, so they broadcast
  against a batch directly.
  """
  count: jax.Array     # () float32: values reduced into each statistic
  mean: jax.Array      # (1 or d_0, ..., 1 or d_k) float32: running mean
  m2: jax.Array        # same shape: sum of squared deviations from `mean`
  variance: jax.Array  # same shape: population variance apply uses


# Over 80 lines only by its docstring; the body is wiring: checks, then
# closures over the module-level functions.
@transform_factory
def normalization(axis: Union[int, Sequence[int], None] = -1,
                  mean=None,
                  variance=None,
                  invert: bool = False,
                  zero_variance: str = "keras") -> transform.Transform:
  """Normalizes continuous features, like Keras' ``Normalization``.

  Args:
    axis: the axis or axes that keep a separate mean and variance for each
      index (an int, a tuple of ints or None). ``-1`` (the default) keeps one
      statistic per feature of the last axis; ``None`` uses one scalar mean
      and variance for all values. Every other axis, the batch axis included,
      is reduced. As in Keras, batched scalars (rank-1 input) with ``axis=-1``
      keep one statistic per batch index; pass ``axis=None`` for a scalar.
    mean: optional constant mean. Given with ``variance``, ``init`` returns a
      ready state and the transform cannot be adapted. A scalar broadcasts to
      every feature; an array aligns with the kept axes from the right, as in
      Keras.
    variance: optional constant variance, same shape as ``mean``.
    invert: if True, ``apply`` undoes the normalization:
      ``mean + x * max(sqrt(variance), 1e-7)``.
    zero_variance: ``"keras"`` (default) divides by ``max(std, 1e-7)`` as
      Keras does, which blows constant features up by 1e7 when ``apply`` sees
      a value different from the constant. ``"unit"`` uses a scale of 1 for
      features whose standard deviation is below 1e-7, so such features are
      only shifted by their mean.

  Returns:
    A :class:`~prepro_core.Transform`. ``apply(state, x)`` returns float32 of
    ``x``'s shape. ``apply`` also takes one example without the batch axis
    (as under ``jax.vmap``) when the batch axis is reduced.

  Raises:
    ValueError: ``mean`` without ``variance`` (or the reverse), ``mean`` and
      ``variance`` of different shapes, ``axis`` out of range for the data.

  Example:
    >>> import numpy as np, prepro_core as pc
    >>> t = pc.normalization(axis=None)
    >>> state = pc.adapt(t, np.array([1., 2., 3., 4., 5.], np.float32))
    >>> np.asarray(t.apply(state, np.array([1., 2., 3.], np.float32)))
    array([-1.4142135 , -0.70710677,  0.        ], dtype=float32)
  """
  axes = _parse_axis(axis)
  checks.check_choice(zero_variance, "zero_variance", ("keras", "unit"), _WHERE)
  checks.check_bool(invert, "invert", _WHERE)
  constants = _check_constants(mean, variance, axes, axis)
  unit_scale = zero_variance == "unit"

  def init(sample):
    checks.check_real_dtype(sample, "sample", f"{_WHERE}.init")
    return _initial_state(tuple(np.shape(sample)), axes, axis, constants)

  def accumulate(state, batch, axis_name=None):
    if constants is not None:
      raise ValueError(
          f"{_WHERE}: this transform was built with constant `mean` and "
          f"`variance`; there is nothing to adapt. Build it without them to "
          f"learn statistics from data.")
    reduce, count = _check_batch(state, batch, axes, axis)
    x = jnp.asarray(batch).astype(jnp.float32)
    return _chan(state, *_batch_moments(x, reduce, count, axis_name))

  def combine(a, b):
    return a if constants is not None else _chan(a, b.count, b.mean, b.m2)

  def finalize(state):
    if constants is not None:
      return state
    _check_representable(state)
    return _population_variance(state)

  def apply(state, x, key=None):
    del key  # deterministic
    checks.check_real_dtype(x, "x", f"{_WHERE}.apply")
    x = jnp.asarray(x)
    m, v = _statistics_for(x, state)
    return _normalize(x, m, v, invert=invert, unit_scale=unit_scale)

  return transform.make_transform(
      _WHERE,
      init=init,
      apply=apply,
      accumulate=accumulate,
      combine=combine,
      finalize=finalize,
      state_type=NormalizationState,
  )


def _parse_axis(axis) -> tuple:
  """Keras' ``axis`` argument as a tuple of ints (``None`` -> ``()``)."""
  if axis is None:
    return ()
  if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
    return (int(axis),)
  if isinstance(axis, (tuple, list)) and all(
      isinstance(a, (int, np.integer)) and not isinstance(a, bool)
      for a in axis):
    return tuple(int(a) for a in axis)
  raise TypeError(
      f"{_WHERE}: `axis` must be an int, a tuple of ints or None, got "
      f"{axis!r}.")


def _check_constants(mean, variance, axes: tuple, axis):
  """The constructor's ``mean``/``variance`` as float32 arrays, or None."""
  if (mean is None) != (variance is None):
    raise ValueError(
        f"{_WHERE}: `mean` and `variance` must be set together; got "
        f"mean={mean!r} and variance={variance!r}.")
  if mean is None:
    return None
  mean = checks.real_constant(mean, "mean", _WHERE)
  variance = checks.real_constant(variance, "variance", _WHERE)
  if np.shape(mean) != np.shape(variance):
    raise ValueError(
        f"{_WHERE}: `mean` and `variance` must have the same shape; got "
        f"{np.shape(mean)} and {np.shape(variance)}.")
  if np.ndim(mean) > len(axes):
    raise ValueError(
        f"{_WHERE}: the rank of `mean` must be <= the number of axes "
        f"({len(axes)}); got mean of shape {np.shape(mean)} for "
        f"axis={axis!r}.")
  if np.any(np.asarray(variance) < 0):
    raise ValueError(f"{_WHERE}: `variance` must be >= 0, got {variance!r}.")
  return mean, variance


def _layout(shape: tuple, axes: tuple, axis):
  """(kept axes, reduced axes, statistics shape) for inputs of ``shape``."""
  ndim = len(shape)
  for a in axes:
    if not -ndim <= a < ndim:
      raise ValueError(
          f"{_WHERE}: every `axis` must lie in [-ndim, ndim) for inputs of "
          f"rank {ndim} (shape {tuple(shape)}); got axis={axis!r}.")
  keep = tuple(sorted(a % ndim for a in axes))
  if len(set(keep)) != len(keep):
    raise ValueError(
        f"{_WHERE}: `axis` names the same axis twice: axis={axis!r} for "
        f"inputs of rank {ndim}.")
  reduce = tuple(d for d in range(ndim) if d not in keep)
  bshape = tuple(shape[d] if d in keep else 1 for d in range(ndim))
  return keep, reduce, bshape


def _initial_state(shape: tuple, axes: tuple, axis,
                   constants) -> NormalizationState:
  """Zero statistics, or the constants laid out along the kept axes."""
  keep, _, bshape = _layout(shape, axes, axis)
  if constants is None:
    return NormalizationState(
        count=jnp.zeros((), jnp.float32),
        mean=jnp.zeros(bshape, jnp.float32),
        m2=jnp.zeros(bshape, jnp.float32),
        variance=jnp.ones(bshape, jnp.float32))
  mean, variance = constants
  m = np.asarray(mean, np.float32)
  v = np.asarray(variance, np.float32)
  if m.ndim:
    # Align the constant's axes with the kept axes from the right (Keras).
    expanded = [1] * len(shape)
    for i in range(1, m.ndim + 1):
      expanded[keep[-i]] = m.shape[-i]
    m, v = m.reshape(expanded), v.reshape(expanded)
  try:
    m = np.broadcast_to(m, bshape)
    v = np.broadcast_to(v, bshape)
  except ValueError:
    raise ValueError(
        f"{_WHERE}: `mean` of shape {np.shape(mean)} cannot be broadcast "
        f"to the kept axes {keep} of inputs of shape {shape} (statistics "
        f"shape {bshape}).") from None
  return NormalizationState(
      count=jnp.zeros((), jnp.float32),
      mean=jnp.asarray(m),
      m2=jnp.zeros(bshape, jnp.float32),
      variance=jnp.asarray(v))


def _check_batch(state: NormalizationState, batch, axes: tuple, axis):
  """Checks an adapt batch against the state; returns (reduced axes, count)."""
  where = f"{_WHERE}.adapt"
  checks.check_real_dtype(batch, "batch", where)
  checks.check_finite(batch, "batch", where)
  shape = tuple(np.shape(batch))
  if len(shape) != state.mean.ndim:
    raise ValueError(
        f"{where}: `batch` must have rank {state.mean.ndim} like the "
        f"sample the state was initialised with, got shape {shape}.")
  _, reduce, bshape = _layout(shape, axes, axis)
  if bshape != state.mean.shape:
    raise ValueError(
        f"{where}: `batch` of shape {shape} does not match the kept "
        f"axes of the state (statistics shape {state.mean.shape}).")
  count = math.prod(shape[d] for d in reduce)
  if count == 0:
    # The mean of nothing is NaN, and Chan's update would spread it.
    raise ValueError(
        f"{where}: `batch` of shape {shape} holds no values to "
        f"reduce; adapt needs at least one example.")
  return reduce, count


def _batch_moments(x, reduce: tuple, count: int, axis_name=None):
  """(count, mean, m2) of float32 ``x`` over ``reduce``, across ``axis_name``.

  Two passes over the batch (mean, then squared deviations): exact even when
  |mean| >> std.
  """
  n = jnp.float32(count)
  mean = jnp.mean(x, axis=reduce, keepdims=True)
  m2 = jnp.sum(jnp.square(x - mean), axis=reduce, keepdims=True)
  if axis_name is not None:
    # Every device ends with the statistics of all shards (Chan, psum form).
    total = jax.lax.psum(n, axis_name)
    g_mean = jax.lax.psum(mean * n, axis_name) / total
    m2 = jax.lax.psum(m2 + n * jnp.square(mean - g_mean), axis_name)
    n, mean = total, g_mean
  return n, mean, m2


def _chan(state: NormalizationState, n_b, mean_b, m2_b) -> NormalizationState:
  """Chan et al.'s pairwise update of (count, mean, m2)."""
  n_a = state.count
  n = n_a + n_b
  safe_n = jnp.maximum(n, 1.0)
  delta = mean_b - state.mean
  mean = state.mean + delta * (n_b / safe_n)
  m2 = state.m2 + m2_b + jnp.square(delta) * (n_a * n_b / safe_n)
  return state._replace(count=n, mean=mean, m2=m2)


def _check_representable(state: NormalizationState) -> None:
  """Eagerly, refuses statistics that overflowed float32 (a no-op traced).

  Batches are checked finite before they are reduced, so an infinite mean or
  sum of squares means finite data beyond float32's range (values near
  3e38, or squares of values near 2e19): apply would silently map every
  value to 0. The statistics stay float32 (the dtype the state and Keras
  use); such data must be rescaled.
  """
  if not checks.is_concrete(state.m2):
    return
  if np.all(np.isfinite(np.asarray(state.mean))) and np.all(
      np.isfinite(np.asarray(state.m2))):
    return
  raise ValueError(
      f"{_WHERE}.adapt: the mean or variance of `data` overflows float32 "
      f"(every value is finite, but the statistics exceed ~3.4e38, e.g. values "
      f"near 3e38 or with a spread beyond ~1e19); apply would map everything "
      f"to 0. Rescale `data` first (e.g. divide it by 1e20, or take a log) "
      f"and apply the same scaling before normalizing.")


def _population_variance(state: NormalizationState) -> NormalizationState:
  """``m2 / count`` (1 before any data), the variance ``apply`` uses."""
  variance = jnp.where(state.count > 0,
                       state.m2 / jnp.maximum(state.count, 1.0),
                       jnp.ones_like(state.m2))
  return state._replace(variance=variance)


def _statistics_for(x, state: NormalizationState):
  """``state``'s (mean, variance), checked to broadcast against ``x``."""
  m, v = state.mean, state.variance
  if x.ndim < m.ndim:
    # One example without its batch axis (e.g. under vmap).
    if x.ndim == m.ndim - 1 and m.shape[0] == 1:
      m, v = m[0], v[0]
    else:
      raise ValueError(
          f"{_WHERE}.apply: `x` must have rank >= {m.ndim - 1} (the state "
          f"was initialised on rank-{m.ndim} batches), got shape {x.shape}.")
  if any(xs != ms and ms != 1 for xs, ms in zip(x.shape[::-1],
                                                 m.shape[::-1])):
    raise ValueError(
        f"{_WHERE}.apply: `x` of shape {x.shape} does not broadcast with "
        f"the statistics of shape {m.shape}.")
  return m, v


# Jitted so that an eager call is one fused pass over x (not one per
# operation); inside a caller's jit it is inlined.
@functools.partial(jax.jit, static_argnames=("invert", "unit_scale"))
def _normalize(x, mean, variance, *, invert, unit_scale):
  x = x.astype(jnp.float32)
  std = jnp.sqrt(variance)
  scale = jnp.maximum(std, jnp.float32(EPSILON))
  if unit_scale:
    scale = jnp.where(std < EPSILON, jnp.float32(1.0), scale)
  if invert:
    return mean + x * scale
  return (x - mean) / scale
