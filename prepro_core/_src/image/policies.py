"""Augmentation policies: RandAugment and AugMix (Keras' RandAugment, AugMix).

Both pick, for every example, ops from Keras' list (shear, translation,
rotation, brightness, colour degeneration, contrast, sharpness,
posterization, solarization, auto-contrast, equalization) with Keras'
strengths for ``factor``.

Not paying for every op on every image. Keras evaluates all eleven ops on the
whole batch and keeps one with ``where``; ``lax.switch`` under ``vmap`` does
the same. Here each op step runs :func:`grouped_apply`:

* the three geometric ops form one group: each chosen example gets its own
  matrix and the group resamples once;
* examples are sorted by chosen group, and each group processes only its own
  examples, in chunks of ``ceil(batch / groups)`` examples, skipping (with
  ``lax.cond``) the chunks it does not need.

An op step then costs about two ops per image instead of eleven (the exact
figure depends on how the draws fall into chunks; see
``benchmarks/bench_images_color.py``). Under a user's ``vmap`` over single
images ``lax.cond`` becomes a select and every op runs again: give these
policies batches.

Randomness: every example draws its ops and their parameters from its own key
(Keras draws the op indices once per batch); ``key=None`` is the identity.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from prepro_core._src.core.checks import check_positive_int
from prepro_core._src.core.factory import transform_factory
from prepro_core._src.core.transform import Transform
from prepro_core._src.image import color
from prepro_core._src.image import color_ops
from prepro_core._src.image import common
from prepro_core._src.image import geometric_ops
from prepro_core._src.image import resampling
from prepro_core._src.image.factories import image_transform
from prepro_core._src.image.factories import per_example
from prepro_core._src.image.factories import span
from prepro_core._src.image.factories import unit_draws

Array = Any

# Keras' op order (RandAugment._AUGMENT_LAYERS).
RAND_AUGMENT_OPS = (
    "random_shear",
    "random_translation",
    "random_rotation",
    "random_brightness",
    "random_color_degeneration",
    "random_contrast",
    "random_sharpness",
    "random_posterization",
    "solarization",
    "auto_contrast",
    "equalization",
)

# Keras' AugMix lists (AUGMENT_LAYERS_ALL and AUGMENT_LAYERS).
AUG_MIX_OPS_ALL = (
    "random_shear",
    "random_translation",
    "random_rotation",
    "random_posterization",
    "solarization",
    "auto_contrast",
    "equalization",
    "random_brightness",
    "random_color_degeneration",
    "random_contrast",
    "random_sharpness",
)
AUG_MIX_OPS = AUG_MIX_OPS_ALL[:7]

_GEOMETRIC = ("random_shear", "random_translation", "random_rotation")


class OpGroup(NamedTuple):
  """One dispatch group: ``fn(images, keys, op_ids) -> images`` over a chunk."""
  ops: tuple  # op indices (into the policy's op list) this group serves
  fn: Callable[[Array, Array, Array], Array]


def build_groups(names: Sequence[str], factor, value_range, interpolation,
                 where) -> list:
  """The policy's ops with Keras' settings for ``factor`` (a pair), grouped.

  Geometric ops share a group (one resampling with per-example matrices);
  every other op is its own group.
  """
  lo, hi = factor
  kernels = {
      "random_brightness": color.brightness_kernel(factor, value_range, where),
      "random_color_degeneration": color.color_degeneration_kernel(
          factor, value_range, where),
      "random_contrast": color.contrast_kernel(factor, value_range, where),
      "random_sharpness": color.sharpness_kernel(factor, value_range, where),
      # Keras: RandomPosterization(factor=max(1, int(8 * upper))).
      "random_posterization": color.posterization_kernel(
          max(1, int(8 * hi)), value_range, where),
      "solarization": color.solarization_kernel(factor, factor, value_range,
                                                where),
      "auto_contrast": lambda images, keys: color_ops.autocontrast(
          images, value_range),
      "equalization": lambda images, keys: color_ops.equalize(
          images, value_range),
  }
  groups = []
  geo_ops = tuple(i for i, n in enumerate(names) if n in _GEOMETRIC)
  if geo_ops:

    def geo_fn(images, keys, op_ids):
      # Keras' RandomShear / RandomTranslation / RandomRotation with
      # ``factor`` and their default fill_mode "reflect", from one draw of
      # three uniforms per example (the matrices of ``geometric_ops``).
      _, h, w, _ = images.shape
      u = unit_draws(keys, 3)
      sign = jnp.where(u[:, 0] > 0.5, -1.0, 1.0)
      mats = {
          "random_shear": geometric_ops.shear_matrices(
              span(u[:, 1], lo, hi) * sign, span(u[:, 2], lo, hi) * sign),
          "random_translation": geometric_ops.translation_matrices(
              span(u[:, 1], lo, hi) * h, span(u[:, 2], lo, hi) * w),
          "random_rotation": geometric_ops.rotation_matrices(
              span(u[:, 1], lo * 360.0, hi * 360.0), h, w),
      }
      m = resampling.identity_matrices(images.shape[0])
      for i in geo_ops:
        m = jnp.where((op_ids == i)[:, None, None], mats[names[i]], m)
      return resampling.warp(images, m, interpolation=interpolation,
                             fill_mode="reflect", fill_value=0.0)

    groups.append(OpGroup(geo_ops, geo_fn))
  for i, n in enumerate(names):
    if n not in _GEOMETRIC:
      groups.append(OpGroup((i,), lambda images, keys, op_ids, k=kernels[n]:
                            k(images, keys)))
  return groups


def group_of(op_ids: Array, groups: Sequence[OpGroup]) -> Array:
  """Maps op indices to group indices; anything else (identity) -> len(groups)."""
  g = jnp.full(op_ids.shape, len(groups), jnp.int32)
  for gi, grp in enumerate(groups):
    for i in grp.ops:
      g = jnp.where(op_ids == i, gi, g)
  return g


def grouped_apply(images: Array, op_ids: Array, keys: Array,
                  groups: Sequence[OpGroup], chunk: int = 0) -> Array:
  """Applies op ``op_ids[i]`` to example ``i``, computing each group only on
  the examples that chose it.

  Args:
    images: ``(batch, h, w, c)`` float images.
    op_ids: ``(batch,)`` int op indices; an index no group serves is the
      identity.
    keys: ``(batch,)`` per-example keys for the ops' parameters.
    groups: the dispatch groups.
    chunk: examples per chunk (0: ``ceil(batch / len(groups))``).

  Returns:
    The images, each transformed by its chosen op.
  """
  b = images.shape[0]
  n = len(groups)
  chunk = chunk or max(1, -(-b // n))
  n_chunks = -(-b // chunk)
  gid = group_of(op_ids, groups)
  order = jnp.argsort(gid, stable=True)
  counts = jnp.sum(gid[:, None] == jnp.arange(n)[None, :], axis=0)
  starts = jnp.cumsum(counts) - counts
  offsets = jnp.arange(chunk)

  out = images
  for gi, grp in enumerate(groups):

    def run(j, out, gi=gi, grp=grp):
      offs = j * chunk + offsets
      valid = offs < counts[gi]
      idx = order[jnp.minimum(starts[gi] + offs, b - 1)]
      res = grp.fn(images[idx], keys[idx], op_ids[idx]).astype(out.dtype)
      # Invalid rows scatter out of bounds and are dropped.
      return out.at[jnp.where(valid, idx, b)].set(res, mode="drop")

    def body(j, out, gi=gi, run=run):
      return jax.lax.cond(j * chunk < counts[gi], run, lambda j, o: o, j, out)

    out = jax.lax.fori_loop(0, n_chunks, body, out)
  return out


def naive_apply(images: Array, op_ids: Array, keys: Array,
                groups: Sequence[OpGroup]) -> Array:
  """Reference: every group on every image, kept with ``where`` (Keras' way).

  Same result as :func:`grouped_apply`; used by the tests and the benchmark.
  """
  gid = group_of(op_ids, groups)
  out = images
  for gi, grp in enumerate(groups):
    res = grp.fn(images, keys, op_ids).astype(images.dtype)
    out = jnp.where((gid == gi)[:, None, None, None], res, out)
  return out


def log_gamma_draws(keys, alpha: float, n: int) -> Array:
  """``n`` log Gamma(alpha) draws per key, shape (batch, n).

  ``alpha = 1`` (the default) is the exponential distribution, drawn in
  closed form; other values use ``jax.random.loggamma`` (a rejection
  sampler that is much larger to compile).
  """
  if alpha == 1.0:
    u = unit_draws(keys, n)
    return jnp.log(jnp.maximum(-jnp.log1p(-u), jnp.finfo(jnp.float32).tiny))
  return jax.vmap(lambda k: jax.random.loggamma(k, alpha, (n,)))(keys)


def uniform_int(u: Array, lower: int, upper: int) -> Array:
  """Uniform ints in ``[lower, upper)`` from ``U[0, 1)`` draws."""
  return jnp.minimum(lower + jnp.floor(u * (upper - lower)).astype(jnp.int32),
                     upper - 1)


def _check_policy_args(where, value_range, factor, interpolation):
  factor = common.parse_factor(factor, "factor", where, min_value=0.0,
                               max_value=1.0)
  value_range = common.check_value_range(value_range, where)
  resampling.check_interpolation(interpolation, where)
  return factor, value_range


def _policy_transform(where, kernel):
  return image_transform(where, kernel, rgb=True)


@transform_factory
def rand_augment(value_range=(0, 255), num_ops=2, factor=0.5,
                 interpolation="bilinear") -> Transform:
  """RandAugment: ``num_ops`` random ops in a row on each image (RandAugment).

  Each example picks ``num_ops`` ops uniformly (with repetition) from Keras'
  eleven (:data:`RAND_AUGMENT_OPS`), each with the strength ``factor`` gives
  the matching Keras layer: shear, translation and rotation with
  ``factor`` (a rotation of up to ``upper * 360`` degrees), brightness,
  colour degeneration, contrast and sharpness with ``factor``,
  posterization with ``max(1, int(8 * upper))`` bits, solarization with
  ``factor`` for both its addition and threshold, auto-contrast and
  equalization.

  Args:
    value_range: ``(low, high)``, the pixels' range.
    num_ops: ops applied to each image, an int >= 0.
    factor: ``f`` in [0, 1] (``(0, f)``) or a pair in [0, 1].
    interpolation: ``"bilinear"`` or ``"nearest"`` for the geometric ops.

  Returns:
    A random :class:`Transform` on RGB images; ``key=None`` is the identity.

  Note: Keras draws the ``num_ops`` op indices once per batch; here each
  example draws its own, and only the chosen ops are computed (see the module
  docstring).

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), np.uint8)
    >>> t = pc.rand_augment(num_ops=2, factor=0.5)
    >>> y = np.asarray(t.apply(t.init(x), x, key=jax.random.key(0)))
    >>> y.shape, y.dtype, bool((y != x).any()), t.apply(t.init(x), x) is x
    ((2, 8, 8, 3), dtype('uint8'), True, True)
  """
  where = "rand_augment"
  factor, value_range = _check_policy_args(where, value_range, factor,
                                           interpolation)
  num_ops = check_positive_int(num_ops, "num_ops", where, minimum=0)
  groups = build_groups(RAND_AUGMENT_OPS, factor, value_range, interpolation,
                         where)
  return _policy_transform(where, rand_augment_kernel(num_ops, groups,
                                                      grouped_apply))


def rand_augment_kernel(num_ops, groups, dispatch):
  """RandAugment's ``kernel(images, keys)`` with a given dispatch function
  (:func:`grouped_apply`, or :func:`naive_apply` for comparison)."""
  n = len(RAND_AUGMENT_OPS)

  def kernel(images, keys):
    k_ops, k_steps = per_example(keys, 2)
    u = unit_draws(k_ops, max(num_ops, 1))
    step_keys = jax.vmap(lambda k: jax.random.split(k, max(num_ops, 1)))(k_steps)

    def step(s, images):
      return dispatch(images, uniform_int(u[:, s], 0, n), step_keys[:, s],
                      groups)

    # A loop, not an unrolled sequence: one copy of the ops in the program.
    return jax.lax.fori_loop(0, num_ops, step, images)

  return kernel


def _parse_chain_depth(chain_depth, where):
  msg = (f"{where}: `chain_depth` must be an int >= 1 (Keras: each of that "
         f"many steps applies a random op or none) or a pair (min, max) of "
         f"ints with 1 <= min <= max, got {chain_depth!r}.")
  is_int = lambda v: isinstance(v, (int, np.integer)) and not isinstance(
      v, bool)
  if isinstance(chain_depth, (tuple, list)):
    if len(chain_depth) != 2 or not all(is_int(v) for v in chain_depth):
      raise ValueError(msg)
    lo, hi = int(chain_depth[0]), int(chain_depth[1])
    if not 1 <= lo <= hi:
      raise ValueError(msg)
    return (lo, hi)
  if not is_int(chain_depth) or chain_depth < 1:
    raise ValueError(msg)
  return int(chain_depth)


@transform_factory
def aug_mix(value_range=(0, 255), num_chains=3, chain_depth=3, factor=0.3,
            alpha=1.0, all_ops=True, interpolation="bilinear") -> Transform:
  """AugMix: a convex mix of ``num_chains`` augmentation chains with the
  original image (AugMix).

  For each example: chain weights ``m ~ Dirichlet(alpha)``, a blend
  ``w ~ Beta(alpha, alpha)``, and ``num_chains`` chains of random ops (from
  :data:`AUG_MIX_OPS_ALL`, or :data:`AUG_MIX_OPS` when ``all_ops=False``,
  with the strengths :func:`rand_augment` uses); the output is
  ``clip(w x + (1 - w) sum_c m_c chain_c(x))``.

  Args:
    value_range: ``(low, high)``, the pixels' range.
    num_chains: number of chains, an int >= 1.
    chain_depth: an int ``d`` (Keras 3: each of ``d`` steps applies an op
      drawn uniformly from the ops and "no op", so 0 to ``d`` ops), or a pair
      ``(min, max)`` (the AugMix paper and KerasCV: each chain draws its depth
      uniformly in ``[min, max]`` and applies that many ops).
    factor: ``f`` in [0, 1] (``(0, f)``) or a pair in [0, 1].
    alpha: the Dirichlet and Beta concentration, a number > 0.
    all_ops: include brightness, colour degeneration, contrast and sharpness.
    interpolation: ``"bilinear"`` or ``"nearest"`` for the geometric ops.

  Returns:
    A random :class:`Transform` on RGB images; ``key=None`` is the identity.

  Note: Keras draws the chains' ops (with Python's ``random``, so not
  reproducible from ``seed``) and the mixing weights once per batch; here each
  example draws its own, and only the chosen ops are computed (all chains run
  as one batch of ``num_chains * batch`` images).

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), np.uint8)
    >>> t = pc.aug_mix()
    >>> y = np.asarray(t.apply(t.init(x), x, key=jax.random.key(0)))
    >>> y.shape, y.dtype, bool((y != x).any()), t.apply(t.init(x), x) is x
    ((2, 8, 8, 3), dtype('uint8'), True, True)
  """
  where = "aug_mix"
  factor, value_range = _check_policy_args(where, value_range, factor,
                                           interpolation)
  num_chains = check_positive_int(num_chains, "num_chains", where)
  depth = _parse_chain_depth(chain_depth, where)
  if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not (
      0 < alpha < math.inf):
    raise ValueError(f"{where}: `alpha` must be a number > 0, got {alpha!r}.")
  alpha = float(alpha)
  names = AUG_MIX_OPS_ALL if all_ops else AUG_MIX_OPS
  groups = build_groups(names, factor, value_range, interpolation, where)
  return _policy_transform(where, aug_mix_kernel(
      len(names), num_chains, depth, alpha, value_range, groups, grouped_apply))


def aug_mix_kernel(n, num_chains, depth, alpha, value_range, groups, dispatch):
  """AugMix's ``kernel(images, keys)`` over ``n`` ops with a given dispatch."""
  max_depth = depth if isinstance(depth, int) else depth[1]

  def kernel(images, keys):
    b = images.shape[0]
    k_mix, k_chains = per_example(keys, 2)
    # Dirichlet(alpha) chain weights and a Beta(alpha, alpha) blend from one
    # draw of log-gammas (log space: no underflow for small alpha).
    lg = log_gamma_draws(k_mix, alpha, num_chains + 2)
    m = jax.nn.softmax(lg[:, :num_chains], axis=-1)  # (b, chains)
    w = jax.nn.sigmoid(lg[:, num_chains] - lg[:, num_chains + 1])  # (b,)
    # Chains run as one batch: row c * b + i is chain c of example i.
    ck = jax.vmap(lambda k: jax.random.split(k, num_chains))(k_chains)
    ck = jnp.swapaxes(ck, 0, 1).reshape((num_chains * b,) + ck.shape[2:])
    k_draws, k_steps = per_example(ck, 2)
    u = unit_draws(k_draws, max_depth + 1)  # depth, then op per step
    if isinstance(depth, int):
      n_ops = jnp.full((num_chains * b,), depth)
      choices = n + 1  # "no op" is one more choice, as in Keras
    else:
      n_ops = uniform_int(u[:, 0], depth[0], depth[1] + 1)
      choices = n
    step_keys = jax.vmap(lambda k: jax.random.split(k, max_depth))(k_steps)
    chains = jnp.concatenate([images] * num_chains, axis=0)

    def step(s, chains):
      op_ids = uniform_int(u[:, s + 1], 0, choices)
      op_ids = jnp.where(s < n_ops, op_ids, n)  # index n: no op
      return dispatch(chains, op_ids, step_keys[:, s], groups)

    chains = jax.lax.fori_loop(0, max_depth, step, chains)
    chains = chains.reshape((num_chains, b) + images.shape[1:])
    mixed = jnp.einsum("cbhwk,bc->bhwk", chains, m.astype(images.dtype))
    wb = jnp.reshape(w, (-1, 1, 1, 1)).astype(images.dtype)
    return jnp.clip(wb * images + (1.0 - wb) * mixed, *value_range)

  return kernel
