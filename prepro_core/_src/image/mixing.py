"""Batch-mixing augmentations: MixUp and CutMix (Keras' MixUp and CutMix).

They mix each example with another of the same batch, so they take Keras'
dict input ``{"images": (batch, h, w, c), "labels": (batch, classes), ...}``
and mix the (one-hot or soft) labels with the same weights as the images.
Labels must be floats: integer class ids are refused (one-hot them first,
e.g. ``jax.nn.one_hot(labels, num_classes)``), as mixing them would average
class ids.

Randomness: the pairing is a permutation of the batch drawn from the key;
each example draws its own weight (and CutMix box) from
``example_keys(key, batch)[i]``. ``key=None`` (inference) is the identity.
The result is the same eagerly, under ``jit`` and under ``vmap`` over a
leading axis of batches.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from prepro_core._src.core.checks import check_key
from prepro_core._src.core.factory import transform_factory
from prepro_core._src.core.transform import EmptyState
from prepro_core._src.core.transform import make_transform
from prepro_core._src.core.transform import Transform
from prepro_core._src.image import common
from prepro_core._src.image.erasing_blur import box_mask
from prepro_core._src.image.erasing_blur import crop_bounds
from prepro_core._src.image.factories import unit_draws

Array = Any


def _check_mix_inputs(x, where):
  """Checks the dict input before anything is traced; returns it checked
  (``common.check_inputs``) with float labels."""
  if not isinstance(x, dict):
    raise ValueError(
        f"{where}: expects a dict {{'images': ..., 'labels': ...}} so that "
        f"the labels are mixed with the images; got {type(x).__name__}.")
  if "labels" not in x:
    raise ValueError(
        f"{where}: the input dict has no 'labels'; {where} mixes labels with "
        f"the same weights as the images, pass one-hot (or soft) labels as "
        f"x['labels'].")
  if "bounding_boxes" in x:
    raise ValueError(
        f"{where}: `bounding_boxes` are not supported (a mixed image has no "
        f"single set of boxes); drop 'bounding_boxes' first.")
  x = common.check_inputs(x, where)
  check_mix_labels(x["labels"], where)
  return x


def check_mix_labels(labels, where):
  """Mixing needs float one-hot (or soft) labels: it averages them."""
  dtype = labels.dtype if hasattr(labels, "dtype") else np.asarray(
      labels).dtype
  if jnp.issubdtype(dtype, jnp.floating):
    return
  shape = tuple(np.shape(labels))
  msg = (f"{where}: `labels` must be float one-hot or soft labels, shaped "
         f"(batch, classes), to be mixed with the images' weights; got dtype "
         f"{dtype} and shape {shape}")
  if jnp.issubdtype(dtype, jnp.integer) or dtype == np.bool_:
    raise TypeError(
        f"{msg}. One-hot integer class ids first, e.g. "
        f"jax.nn.one_hot(labels, num_classes).")
  if getattr(dtype, "kind", "") in ("S", "U"):
    raise TypeError(
        f"{msg}. Turn class names into ids (pc.string_lookup) and one-hot "
        f"them first.")
  raise TypeError(f"{msg}.")


def _split_mix_inputs(x, where):
  """Checked inputs as (images4, labels, masks, unbatch, rebuild), labels
  and masks with a batch axis."""
  images, rebuild = common.split_inputs(x, where)
  images4, unbatch = common.to_batch(images, where)
  labels = jnp.asarray(x["labels"])
  if len(images.shape) == 3:
    labels = labels[None]
  masks = x.get("segmentation_masks")
  if masks is not None:
    masks = jnp.asarray(masks)
    if len(images.shape) == 3:
      masks = masks[None]
  return images4, labels, masks, unbatch, rebuild


def _init(where):
  def init(sample):
    common.check_sample(sample, where)
    if isinstance(sample, dict) and "labels" in sample:
      check_mix_labels(sample["labels"], where)
    return EmptyState()
  return init


def _mixing_apply(where, mix):
  """``apply`` of a mixing transform around its jitted
  ``mix(images4, labels, masks, key) -> (images4, labels, masks)``."""

  def mix_inputs(x, key):
    images4, labels, masks, unbatch, rebuild = _split_mix_inputs(x, where)
    return _rebuild(x, rebuild, unbatch, *mix(images4, labels, masks, key))

  def apply(state, x, key=None):
    del state
    x = _check_mix_inputs(x, where)
    key = check_key(key, where)
    if key is None:
      return x
    return common.apply_batch(mix_inputs, x, key)

  return apply


@transform_factory
def mix_up(alpha=0.2) -> Transform:
  """MixUp: ``lam x_i + (1 - lam) x_perm(i)``, labels likewise (MixUp).

  Each example draws ``lam ~ Beta(alpha, alpha)``; the partners are a random
  permutation of the batch.

  Args:
    alpha: the Beta distribution's concentration, a number > 0.

  Returns:
    A random :class:`Transform` on ``{"images", "labels"}`` dicts (optionally
    with ``"segmentation_masks"``, mixed like the images); ``key=None`` is the
    identity. Labels come back as floats.

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> images = np.indices((4, 8, 8, 3), np.float32)[0]  # image i is all i
    >>> batch = {"images": images, "labels": np.eye(4, dtype=np.float32)}
    >>> t = pc.mix_up(alpha=0.2)
    >>> out = t.apply(t.init(batch), batch, key=jax.random.key(0))
    >>> mean = out["images"].mean(axis=(1, 2, 3))  # mixed as the labels are:
    >>> bool(np.allclose(mean, out["labels"] @ np.arange(4)))
    True
    >>> np.round(np.asarray(out["labels"][1]), 3)   # image 1 mixed with image 2
    array([0.   , 0.059, 0.941, 0.   ], dtype=float32)
  """
  where = "mix_up"
  if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not (
      alpha > 0 and alpha < float("inf")):
    raise ValueError(f"{where}: `alpha` must be a number > 0, got {alpha!r}.")
  alpha = float(alpha)

  @jax.jit
  def mix(images4, labels, masks, key):
    b = images4.shape[0]
    k_perm, k_ex = jax.random.split(key)
    perm = jax.random.permutation(k_perm, b)
    # Drawn unsharded (jax's gamma sampler cannot vmap over sharded keys);
    # _blend reshards the weights like each array it mixes.
    lam = beta_symmetric(common.example_keys(k_ex, b), alpha)
    imgs = common.to_float(images4)
    out = common.restore_dtype(_blend(imgs, take_batch(imgs, perm), lam),
                               images4.dtype)
    labels = common.to_float(labels)
    labels = _blend(labels, take_batch(labels, perm), lam)
    if masks is not None:
      m = common.to_float(masks)
      masks = _blend(m, take_batch(m, perm), lam)
    return out, labels, masks

  apply = _mixing_apply(where, mix)

  return make_transform(where, init=_init(where), apply=apply, is_random=True,
                        state_type=EmptyState)


def beta_symmetric(keys, alpha):
  """One ``Beta(alpha, alpha)`` draw per key, as ``sigmoid`` of a difference
  of log-gammas (one generator call; no underflow for small ``alpha``)."""
  lg = jax.vmap(lambda k: jax.random.loggamma(k, alpha, (2,)))(keys)
  return jax.nn.sigmoid(lg[:, 0] - lg[:, 1])


def take_batch(x, perm):
  """``x[perm]`` along the batch axis, sharded as ``x`` is.

  Under explicit sharding a gather across the sharded batch axis must name
  its output sharding (it moves examples between devices); it is ``x``'s own.
  """
  sharding = jax.typeof(x).sharding
  if getattr(sharding, "spec", None) and sharding.spec[0] is not None:
    return x.at[perm].get(out_sharding=sharding)
  return x[perm]


def _blend(a, b, weight):
  """``w a + (1 - w) b`` with one weight per example (leading axis)."""
  weight = common.shard_batch_like(weight, a)
  w = jnp.reshape(weight, (-1,) + (1,) * (a.ndim - 1)).astype(a.dtype)
  return w * a + (1.0 - w) * b


def _rebuild(x, rebuild, unbatch, images4, labels, masks):
  parts = {"labels": _unbatch_like(labels, x)}
  if masks is not None:
    parts["segmentation_masks"] = _unbatch_like(masks, x)
  return rebuild(unbatch(images4), **parts)


def _unbatch_like(v, x):
  return v[0] if len(x["images"].shape) == 3 else v


@transform_factory
def cut_mix(factor=1.0) -> Transform:
  """CutMix: pastes a random box of a partner image; labels mixed by area.

  As Keras: the batch draws ``alpha ~ U[factor] + 1e-6``; each example draws
  ``lam ~ Beta(alpha, alpha)`` and a box of ``sqrt(1 - lam)`` times the width
  and height at a uniform position, filled from its partner (a random
  permutation of the batch). Labels are mixed with weight
  ``1 - box_area / image_area``.

  Args:
    factor: ``f`` in [0, 1] (``(0, f)``) or a pair in [0, 1].

  Returns:
    A random :class:`Transform` on ``{"images", "labels"}`` dicts (optionally
    with ``"segmentation_masks"``, cut like the images); ``key=None`` is the
    identity. Labels come back as floats.

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> images = np.indices((4, 8, 8, 3), np.float32)[0]  # image i is all i
    >>> batch = {"images": images, "labels": np.eye(4, dtype=np.float32)}
    >>> t = pc.cut_mix()          # each image gets a box from a partner
    >>> out = t.apply(t.init(batch), batch, key=jax.random.key(1))
    >>> [np.unique(im).tolist() for im in np.asarray(out["images"])]
    [[0.0, 1.0], [1.0, 2.0], [2.0, 3.0], [0.0, 3.0]]
    >>> np.round(np.asarray(out["labels"][1]), 2)    # own label: 1 - box area
    array([0.  , 0.02, 0.98, 0.  ], dtype=float32)
  """
  where = "cut_mix"
  factor = common.parse_factor(factor, "factor", where, min_value=0.0,
                               max_value=1.0)

  @jax.jit
  def mix(images4, labels, masks, key):
    b, h, w, _ = images4.shape
    k_perm, k_alpha, k_ex = jax.random.split(key, 3)
    perm = jax.random.permutation(k_perm, b)
    alpha = jax.random.uniform(k_alpha, (), jnp.float32, *factor) + 1e-6
    # Drawn unsharded (jax's gamma sampler cannot vmap over sharded keys),
    # then resharded like the images.
    ex = common.example_keys(k_ex, b)
    lam = beta_symmetric(
        jax.vmap(lambda k: jax.random.fold_in(k, 1))(ex), alpha)
    u = unit_draws(ex, 2)
    ratio = jnp.sqrt(1.0 - lam)
    x0, x1 = crop_bounds(u[:, 0], w, ratio)
    y0, y1 = crop_bounds(u[:, 1], h, ratio)
    x0, x1, y0, y1 = (common.shard_batch_like(v, images4)
                      for v in (x0, x1, y0, y1))
    mask, weight = cut_mix_mask(h, w, x0, x1, y0, y1)
    out = jnp.where(mask, take_batch(images4, perm), images4)
    labels = common.to_float(labels)
    labels = _blend(labels, take_batch(labels, perm), weight)
    if masks is not None:
      m = masks if masks.ndim == 4 else masks[..., None]
      cut = jnp.where(common.shard_batch_like(mask, m), take_batch(m, perm), m)
      masks = cut if masks.ndim == 4 else cut[..., 0]
    return out, labels, masks

  apply = _mixing_apply(where, mix)

  return make_transform(where, init=_init(where), apply=apply, is_random=True,
                        state_type=EmptyState)


def cut_mix_mask(height, width, x0, x1, y0, y1):
  """Keras' CutMix box: the (batch, h, w, 1) mask and the label weights
  ``1 - (x1 - x0)(y1 - y0) / (h w)`` from continuous bounds."""
  mask = box_mask(height, width, x0, x1, y0, y1)
  weight = 1.0 - (x1 - x0) * (y1 - y0) / (width * height)
  return mask, weight
