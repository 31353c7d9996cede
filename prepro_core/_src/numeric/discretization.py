"""Discretization: bucket continuous values by ranges (Keras' layer).

``apply`` has ``digitize`` semantics: with boundaries ``[0., 1., 2.]`` the
bins are ``(-inf, 0)``, ``[0, 1)``, ``[1, 2)``, ``[2, inf)`` -- a value equal
to a boundary goes right.

Adapting follows Keras' quantile summary step by step (``summarize``,
``merge_summaries``, ``compress_summary``, ``get_bin_boundaries``), so the
boundaries are Keras' own numbers:

* each batch is sorted and sampled every ``int(step)`` values, with weight
  ``step = max(n * epsilon, 1)``;
* the batch summary is merged into the running one (concatenate, sort) and
  compressed back to ``len(arange(0, 1, epsilon))`` points by interpolating
  the cumulative weights, once it holds at least ``1 / epsilon`` points;
* the boundaries are the summary compressed to ``1 / num_bins``, last point
  dropped.

Keras' summary never holds more than ``len(arange(0, 1, epsilon))`` points, so
the state here is a fixed-size padded copy of it (static shapes: adapt, merge
and finalize jit). Keras interpolates in float64; JAX runs in float32 unless
x64 is on, so the interpolation here is done in double-float arithmetic
(pairs of float32, about 44 bits) and rounded to float32 like Keras' result.
The one known difference: when equal values with different weights meet in a
merge, Keras' unstable ``argsort`` orders them arbitrarily and this stable
sort puts the newer batch first; the boundaries then differ slightly (tested
tolerance: within the data's quantile error ``epsilon``).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from prepro_core._src.core import checks
from prepro_core._src.core.factory import transform_factory
from prepro_core._src.core import transform
from prepro_core._src.numeric import encoding

_WHERE = "discretization"
_MODES = ("int", "one_hot", "multi_hot", "count")


class DiscretizationState(NamedTuple):
  """State of :func:`discretization`.

  ``values``/``weights`` are Keras' quantile summary padded to a fixed
  capacity (padding: value +inf, weight 0, after the ``size`` valid points).
  """
  values: jax.Array          # (capacity,) float32, sorted
  weights: jax.Array         # (capacity,) float32
  size: jax.Array            # () int32: valid summary points
  bin_boundaries: jax.Array  # (depth - 1,) float32, +inf padded; apply uses


# ---------------------------------------------------------------------------
# Static plans: Python-side numbers fixed by epsilon / num_bins / batch size.
# ---------------------------------------------------------------------------


def _percents(epsilon: float) -> np.ndarray:
  # Keras' interpolation targets, in float64.
  return epsilon + np.arange(0.0, 1.0, epsilon)


def _compress_threshold(epsilon: float) -> int:
  """Smallest summary length that Keras compresses: not (len * eps < 1)."""
  t = max(int(math.floor(1.0 / epsilon)) - 1, 0)
  while t * epsilon < 1:
    t += 1
  return t


def _split_f64(x: np.ndarray):
  """float64 -> (hi, lo) float32 pair with hi + lo == x to ~2^-48."""
  hi = x.astype(np.float32)
  lo = (x - hi.astype(np.float64)).astype(np.float32)
  return hi, lo


def _summary_indices(n: int, epsilon: float):
  """Keras' ``summarize`` sampling: (indices, weight) for a batch of n."""
  num_buckets = 1.0 / epsilon
  increment = n / num_buckets
  step = max(increment, 1)
  start = step - 1
  return np.arange(int(start), n, int(step)), np.float32(step)


# ---------------------------------------------------------------------------
# Double-float arithmetic (pairs of float32). The split masks mantissa bits,
# so every product of halves is exact and FMA contraction cannot change it.
# ---------------------------------------------------------------------------


def _two_sum(a, b):
  s = a + b
  bb = s - a
  return s, (a - (s - bb)) + (b - bb)


def _fast_two_sum(a, b):
  s = a + b
  return s, b - (s - a)


def _split(a):
  bits = jax.lax.bitcast_convert_type(a, jnp.uint32)
  hi = jax.lax.bitcast_convert_type(bits & jnp.uint32(0xFFFFF000), jnp.float32)
  return hi, a - hi


def _two_prod(a, b):
  p = a * b
  ah, al = _split(a)
  bh, bl = _split(b)
  e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
  return p, e


def _df_add(a, b):
  s, e = _two_sum(a[0], b[0])
  e = e + (a[1] + b[1])
  return _fast_two_sum(s, e)


def _df_neg(a):
  return -a[0], -a[1]


def _df_mul(a, b):
  p, e = _two_prod(a[0], b[0])
  e = e + (a[0] * b[1] + a[1] * b[0])
  return _fast_two_sum(p, e)


def _df_div(a, b):
  q1 = a[0] / b[0]
  r = _df_add(a, _df_neg(_df_mul((q1, jnp.zeros_like(q1)), b)))
  q2 = r[0] / b[0]
  r = _df_add(r, _df_neg(_df_mul((q2, jnp.zeros_like(q2)), b)))
  q3 = r[0] / b[0]
  q = _fast_two_sum(q1, q2)
  return _df_add(q, (q3, jnp.zeros_like(q3)))


def _interp(x_hi, x_lo, xp, fp, size):
  """``np.interp(x, xp[:size], f[:size])`` in double-float, for each row f.

  ``x`` is float64 given as (hi, lo) float32 arrays of shape (P,); ``xp``
  (increasing) is float32 (cap,); ``fp`` is float32 (k, cap); the first
  ``size`` entries are valid. Returns a (hi, lo) pair of (k, P) arrays.
  Mirrors NumPy's branches: below the first point -> f[0]; at or beyond the
  last -> f[size-1]; exactly on a point -> that point's f; else
  ``slope * (x - xp[j]) + f[j]`` with ``slope`` from the two neighbours.
  """
  cap = xp.shape[0]
  valid = jnp.arange(cap) < size
  # xp[i] <= x, compared exactly: x == hi + lo with |lo| <= ulp(hi) / 2.
  le = (xp[None, :] < x_hi[:, None]) | ((xp[None, :] == x_hi[:, None]) &
                                        (x_lo[:, None] >= 0))
  count = jnp.sum(le & valid[None, :], axis=1)
  last = size - 1
  j = jnp.clip(count - 1, 0, max(cap - 2, 0))
  j1 = jnp.minimum(j + 1, cap - 1)
  x0, x1, f0, f1 = xp[j], xp[j1], fp[:, j], fp[:, j1]
  zero = jnp.zeros_like(f0)
  dy = _two_sum(f1, -f0)
  dx = _two_sum(x1, -x0)
  slope = _df_div(dy, dx)
  d = _df_add(_two_sum(x_hi, -x0), (x_lo, jnp.zeros_like(x_lo)))
  res = _df_add(_df_mul(slope, d), (f0, zero))
  hi, lo = res
  on_point = (x0 == x_hi) & (x_lo == 0)
  at_or_after_last = count - 1 >= last
  before_first = count == 0
  exact = jnp.where(before_first, fp[:, :1], jnp.where(
      at_or_after_last, fp[:, jnp.maximum(last, 0)][:, None], f0))
  use_exact = on_point | at_or_after_last | before_first
  return jnp.where(use_exact, exact, hi), jnp.where(use_exact, zero, lo)


def _cumsum_sequential(w):
  # NumPy's float32 cumsum adds left to right; so does this scan.
  def step(carry, v):
    carry = carry + v
    return carry, carry
  _, out = jax.lax.scan(step, jnp.zeros_like(w[0]), w)
  return out


def _compress(values, weights, size, p_hi, p_lo, with_weights=True):
  """Keras' ``compress_summary`` (compressing branch) on a padded summary.

  Returns len(p_hi) points: interpolated values and weights, float32 (the
  weights only when ``with_weights``).
  """
  cum = _cumsum_sequential(weights)
  total = jnp.broadcast_to(cum[jnp.maximum(size - 1, 0)], cum.shape)
  zeros = jnp.zeros_like(cum)
  # A correctly rounded float32 division, as NumPy's (XLA turns a division by
  # one scalar into a multiplication by its reciprocal, 1 ulp off).
  cwp = _df_div((cum, zeros), (total, zeros))[0]
  fp = jnp.stack([values, cum]) if with_weights else values[None]
  hi, lo = _interp(p_hi, p_lo, cwp, fp, size)
  # float64 -> float32 as Keras' .astype("float32"): the pair's rounded sum.
  new_bins = hi[0] + lo[0]
  if not with_weights:
    return new_bins, None
  cum_i = (hi[1], lo[1])
  prev = (jnp.concatenate([jnp.zeros((1,), jnp.float32), cum_i[0][:-1]]),
          jnp.concatenate([jnp.zeros((1,), jnp.float32), cum_i[1][:-1]]))
  new_w = _df_add(cum_i, _df_neg(prev))
  return new_bins, new_w[0] + new_w[1]


def _merge_summary(state, values, weights, size, epsilon):
  """Keras' merge_summaries(new, old): concatenate, sort, compress."""
  p_hi, p_lo = _split_f64(_percents(epsilon))
  capacity = state.values.shape[0]
  vals = jnp.concatenate([values, state.values])
  wts = jnp.concatenate([weights, state.weights])
  # Padding (+inf) sorts last; a stable sort puts the new points first.
  order = jnp.argsort(vals, stable=True)
  vals, wts = vals[order], wts[order]
  total = size + state.size
  c_vals, c_wts = _compress(vals, wts, total, jnp.asarray(p_hi),
                            jnp.asarray(p_lo))
  pad = capacity - c_vals.shape[0]
  c_vals = jnp.concatenate([c_vals, jnp.full((pad,), jnp.inf, jnp.float32)])
  c_wts = jnp.concatenate([c_wts, jnp.zeros((pad,), jnp.float32)])
  compress = total >= _compress_threshold(epsilon)
  return state._replace(
      values=jnp.where(compress, c_vals, vals[:capacity]),
      weights=jnp.where(compress, c_wts, wts[:capacity]),
      size=jnp.where(compress, jnp.int32(p_hi.size), total).astype(jnp.int32))


@jax.jit  # one compiled program when called eagerly; inlined in a caller's jit
def _bucketize(x, boundaries):
  """digitize: the index of the first boundary greater than x."""
  # Searched flat: searchsorted recurses once per axis of x (a rank-64 input
  # hit Python's recursion limit), and the result is elementwise anyway.
  ids = jnp.searchsorted(boundaries, jnp.ravel(x).astype(jnp.float32),
                         side="right", method="scan_unrolled")
  return ids.astype(jnp.int32).reshape(x.shape)


# Compiled once per (batch shape, epsilon / num_bins) and shared by every
# transform with those settings; inlined when the caller is itself traced.
_merge_summary_jit = jax.jit(_merge_summary, static_argnames="epsilon")


@functools.partial(jax.jit, static_argnames=("epsilon", "axis_name"))
def _summarize_and_merge(state, x, epsilon, axis_name=None):
  """Keras' update_state: summarize(batch), then merge it into the state."""
  x = jnp.ravel(x).astype(jnp.float32)
  if axis_name is not None:
    # Every device summarises all shards' values: the state is exactly the
    # one a single-device adapt of the concatenated shards gives.
    x = jnp.ravel(jax.lax.all_gather(x, axis_name, tiled=True))
  n = x.shape[0]
  if n == 0:
    return state
  idx, step = _summary_indices(n, epsilon)
  values = jnp.sort(x)[idx]
  weights = jnp.full(values.shape, step, jnp.float32)
  return _merge_summary(state, values, weights, jnp.int32(values.shape[0]),
                        epsilon)


@functools.partial(jax.jit, static_argnames="num_bins")
def _bin_boundaries(state, num_bins):
  """Keras' get_bin_boundaries: compress to 1/num_bins, drop the last."""
  bin_hi, bin_lo = _split_f64(_percents(1.0 / num_bins))
  k = bin_hi.size - 1
  c_vals, _ = _compress(state.values, state.weights, state.size,
                        jnp.asarray(bin_hi), jnp.asarray(bin_lo),
                        with_weights=False)
  # Uncompressed (fewer points than num_bins): Keras keeps all but the last
  # point, which here means +inf padding (no value reaches those bins).
  raw = jnp.concatenate([state.values, jnp.full((k,), jnp.inf,
                                                jnp.float32)])[:k]
  raw = jnp.where(jnp.arange(k) < state.size - 1, raw, jnp.inf)
  return jnp.where(state.size >= _compress_threshold(1.0 / num_bins),
                   c_vals[:-1], raw)


# ---------------------------------------------------------------------------
# Argument checks and initial states.
# ---------------------------------------------------------------------------


def _check_epsilon(epsilon) -> float:
  if isinstance(epsilon, bool) or not isinstance(epsilon, (float, int,
                                                           np.floating)):
    raise TypeError(f"{_WHERE}: `epsilon` must be a float, got {epsilon!r}.")
  epsilon = float(epsilon)
  if not 0.0 < epsilon < 1.0:
    raise ValueError(
        f"{_WHERE}: `epsilon` must lie in (0, 1), got {epsilon!r}.")
  return epsilon


def _check_boundaries(bin_boundaries) -> np.ndarray:
  """Sorted, finite, flat ``bin_boundaries`` as float32."""
  try:
    bounds = np.asarray(bin_boundaries, dtype=np.float64)
  except (TypeError, ValueError):
    raise TypeError(
        f"{_WHERE}: `bin_boundaries` must be a flat list of numbers, got "
        f"{bin_boundaries!r}.") from None
  if bounds.ndim != 1:
    raise ValueError(
        f"{_WHERE}: `bin_boundaries` must be a flat list of numbers, got "
        f"shape {bounds.shape}.")
  if not np.all(np.isfinite(bounds)):
    raise ValueError(
        f"{_WHERE}: `bin_boundaries` must be finite, got {bin_boundaries!r}.")
  if np.any(np.diff(bounds) < 0):
    raise ValueError(
        f"{_WHERE}: `bin_boundaries` must be sorted in increasing order, got "
        f"{bin_boundaries!r}.")
  return bounds.astype(np.float32)


def _capacity(epsilon: float) -> int:
  # Keras' summary holds at most len(percents) points once compressed, and
  # fewer than the compression threshold before.
  return max(_percents(epsilon).size, _compress_threshold(epsilon) - 1)


def _constant_state(bounds: np.ndarray) -> DiscretizationState:
  """A ready state for constructor ``bin_boundaries`` (no summary)."""
  return DiscretizationState(
      values=jnp.zeros((0,), jnp.float32),
      weights=jnp.zeros((0,), jnp.float32),
      size=jnp.zeros((), jnp.int32),
      bin_boundaries=jnp.asarray(bounds))


def _empty_state(capacity: int, depth: int) -> DiscretizationState:
  """An empty padded summary; every boundary +inf until finalize."""
  return DiscretizationState(
      values=jnp.full((capacity,), jnp.inf, jnp.float32),
      weights=jnp.zeros((capacity,), jnp.float32),
      size=jnp.zeros((), jnp.int32),
      bin_boundaries=jnp.full((depth - 1,), jnp.inf, jnp.float32))


def _check_adapt(batch, constants: bool) -> None:
  if constants:
    raise ValueError(
        f"{_WHERE}: cannot adapt a transform built with `bin_boundaries`; "
        f"build it with `num_bins` to learn boundaries from data.")
  checks.check_real_dtype(batch, "batch", f"{_WHERE}.adapt")
  checks.check_finite(batch, "batch", f"{_WHERE}.adapt")


def _check_apply(state: DiscretizationState, x, constants: bool,
                 output_mode: str) -> None:
  where = f"{_WHERE}.apply"
  checks.check_real_dtype(x, "x", where)
  if not constants and checks.is_concrete(state.size) and int(
      state.size) == 0:
    raise ValueError(
        f"{where}: the state holds no boundaries yet; adapt it on "
        f"data (pc.adapt(t, data)) or build the transform with "
        f"`bin_boundaries`.")
  if output_mode != "int" and np.ndim(x) > 2:
    raise ValueError(
        f"{where}: output_mode={output_mode!r} accepts inputs of "
        f"rank <= 2, got shape {np.shape(x)}.")


# Over 80 lines only by its docstring; the body is wiring: checks, then
# closures over the module-level functions.
@transform_factory
def discretization(bin_boundaries: Optional[Sequence[float]] = None,
                   num_bins: Optional[int] = None,
                   epsilon: float = 0.01,
                   output_mode: str = "int",
                   sparse: bool = False) -> transform.Transform:
  """Buckets continuous values by ranges, like Keras' ``Discretization``.

  Args:
    bin_boundaries: sorted boundaries; bins extend to -inf and +inf, so
      ``[0., 1., 2.]`` makes 4 bins. A ready state comes from ``init``; such a
      transform cannot be adapted.
    num_bins: the number of bins to learn with ``adapt`` (set exactly one of
      ``bin_boundaries`` and ``num_bins``).
    epsilon: the quantile summary's error tolerance (Keras' meaning); the
      state holds ``len(arange(0, 1, epsilon))`` summary points.
    output_mode: ``"int"`` (bin ids, int32), ``"one_hot"``, ``"multi_hot"``
      or ``"count"`` (float32, encoded by the kernel shared with
      category_encoding).
    sparse: must be False: outputs are dense arrays.

  Returns:
    A :class:`~prepro_core.Transform`. The number of output columns ("depth")
    is ``len(bin_boundaries) + 1`` as in Keras; with ``num_bins`` that is
    ``len(arange(0, 1, 1 / num_bins))``, i.e. ``num_bins`` except for a few
    values where float rounding gives Keras one more bin (49, 98, ...).

  Raises:
    ValueError: both or neither of ``bin_boundaries`` / ``num_bins``;
      unsorted or non-finite boundaries; ``epsilon`` outside (0, 1).

  Example:
    >>> import numpy as np, prepro_core as pc
    >>> t = pc.discretization(bin_boundaries=[0., 1., 2.])
    >>> x = np.array([[-1.5, 1.0, 3.4, .5], [0.0, 3.0, 1.3, 0.0]])
    >>> np.asarray(t.apply(t.init(x), x))
    array([[0, 2, 3, 1],
           [1, 3, 2, 1]], dtype=int32)
  """
  checks.check_choice(output_mode, "output_mode", _MODES, _WHERE)
  if sparse:
    raise ValueError(
        f"{_WHERE}: `sparse=True` is not supported; outputs are dense arrays.")
  if (bin_boundaries is None) == (num_bins is None):
    raise ValueError(
        f"{_WHERE}: set exactly one of `bin_boundaries` and `num_bins`; got "
        f"bin_boundaries={bin_boundaries!r} and num_bins={num_bins!r}.")
  epsilon = _check_epsilon(epsilon)
  constants = bin_boundaries is not None
  if constants:
    bounds = _check_boundaries(bin_boundaries)
    depth = bounds.size + 1
  else:
    num_bins = checks.check_positive_int(num_bins, "num_bins", _WHERE)
    depth = _percents(1.0 / num_bins).size  # Keras: len(boundaries) + 1

  def init(sample):
    # The state's shapes depend only on the arguments; None is accepted.
    if sample is not None:
      checks.check_real_dtype(sample, "sample", f"{_WHERE}.init")
    if constants:
      return _constant_state(bounds)
    return _empty_state(_capacity(epsilon), depth)

  def accumulate(state, batch, axis_name=None):
    _check_adapt(batch, constants)
    return _summarize_and_merge(state, jnp.asarray(batch), epsilon=epsilon,
                                axis_name=axis_name)

  def combine(a, b):
    # Keras' merge of two summaries: b's points play the "new" summary.
    return a if constants else _merge_summary_jit(
        a, b.values, b.weights, b.size, epsilon=epsilon)

  def finalize(state):
    return state if constants else state._replace(
        bin_boundaries=_bin_boundaries(state, num_bins=num_bins))

  def apply(state, x, key=None):
    del key  # deterministic
    _check_apply(state, x, constants, output_mode)
    ids = _bucketize(jnp.asarray(x), state.bin_boundaries)
    if output_mode == "one_hot" and ids.ndim == 0:
      return encoding.encode_ids(ids[None], depth, "one_hot")[0]
    return encoding.encode_ids(ids, depth, output_mode)

  return transform.make_transform(
      _WHERE,
      init=init,
      apply=apply,
      accumulate=accumulate,
      combine=combine,
      finalize=finalize,
      state_type=DiscretizationState,
  )
