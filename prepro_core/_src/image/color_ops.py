"""Deterministic colour and pixel-value ops behind the colour transforms.

Each op takes ``(batch, h, w, c)`` float images and, where it has one, a
per-example parameter array of shape ``(batch,)``; the random factories in
``color`` (and the policies) draw the parameters and call these, dm_pix
style. ``value_range=(low, high)`` is the range the pixels are in; outputs are
clipped to it as Keras does.
"""

from __future__ import annotations

from typing import Any, Tuple

import jax
import jax.numpy as jnp

Array = Any

# ITU-R 601 luma weights, as tf.image / Keras' rgb_to_grayscale use them.
_GRAY_WEIGHTS = (0.2989, 0.5870, 0.1140)


def _bcast(p: Array, images: Array) -> Array:
  """(batch,) parameters broadcast against (batch, h, w, c) images."""
  return jnp.reshape(p, (-1, 1, 1, 1)).astype(images.dtype)


def rescale(images: Array, source: Tuple[float, float],
            target: Tuple[float, float]) -> Array:
  """Keras' ``_transform_value_range``: maps ``source`` onto ``target``."""
  if tuple(source) == tuple(target):
    return images
  images = (images - source[0]) / (source[1] - source[0])
  return images * (target[1] - target[0]) + target[0]


def rgb_to_grayscale(images: Array) -> Array:
  """(..., 3) -> (..., 1) luma, Keras' weights."""
  w = jnp.asarray(_GRAY_WEIGHTS, images.dtype)
  return jnp.tensordot(images, w, axes=(-1, 0))[..., None]


def rgb_to_hsv(images: Array) -> Array:
  """RGB -> HSV (hue in [0, 1)), the dm_pix/Keras formulation (NaN-free)."""
  eps = jnp.finfo(images.dtype).eps
  images = jnp.where(jnp.abs(images) < eps, 0.0, images)
  r, g, b = images[..., 0], images[..., 1], images[..., 2]
  value = jnp.maximum(jnp.maximum(r, g), b)
  minimum = jnp.minimum(jnp.minimum(r, g), b)
  range_ = value - minimum
  # Safe denominators keep values and gradients finite on grey/black pixels.
  safe_value = jnp.where(value > 0, value, 1.0)
  safe_range = jnp.where(range_ > 0, range_, 1.0)
  saturation = jnp.where(value > 0, range_ / safe_value, 0.0)
  norm = 1.0 / (6.0 * safe_range)
  hue = jnp.where(value == g, norm * (b - r) + 2.0 / 6.0,
                  norm * (r - g) + 4.0 / 6.0)
  hue = jnp.where(value == r, norm * (g - b), hue)
  hue = jnp.where(range_ > 0, hue, 0.0) + (hue < 0.0).astype(hue.dtype)
  return jnp.stack([hue, saturation, value], axis=-1)


def hsv_to_rgb(images: Array) -> Array:
  """HSV -> RGB, the inverse of :func:`rgb_to_hsv`."""
  hue, saturation, value = images[..., 0], images[..., 1], images[..., 2]
  dh = jnp.mod(hue, 1.0) * 6.0
  dr = jnp.clip(jnp.abs(dh - 3.0) - 1.0, 0.0, 1.0)
  dg = jnp.clip(2.0 - jnp.abs(dh - 2.0), 0.0, 1.0)
  db = jnp.clip(2.0 - jnp.abs(dh - 4.0), 0.0, 1.0)
  one_minus_s = 1.0 - saturation
  return jnp.stack([value * (one_minus_s + saturation * d) for d in (dr, dg, db)],
                   axis=-1)


def adjust_brightness(images, delta, value_range):
  """``clip(x + delta)``; ``delta`` is already in pixel units."""
  return jnp.clip(images + _bcast(delta, images), *value_range)


def adjust_contrast(images, contrast, value_range):
  """``(x - mean) * contrast + mean`` per channel (mean over h, w), clipped."""
  mean = jnp.mean(images, axis=(1, 2), keepdims=True)
  out = (images - mean) * _bcast(contrast, images) + mean
  return jnp.clip(out, *value_range)


def adjust_hue(images, delta, value_range):
  """Rotates the hue by ``delta`` (a fraction of the circle), as Keras does."""
  return adjust_saturation_and_hue(images, None, delta, value_range)


def adjust_saturation(images, scale, value_range):
  """Multiplies HSV saturation by ``scale``, clipped to [0, 1]."""
  return adjust_saturation_and_hue(images, scale, None, value_range)


def adjust_saturation_and_hue(images, scale, delta, value_range):
  """:func:`adjust_saturation` then :func:`adjust_hue` in one HSV round trip.

  Equal, up to float rounding, to :func:`rgb_to_hsv`, scaling the saturation
  by ``scale`` (clipped to [0, 1]), rotating the hue by ``delta``,
  :func:`hsv_to_rgb` and clipping, on the [0, 1] scale (Keras' steps), and
  to the two ops in a row. ``scale`` or ``delta`` may be None to skip that
  step.

  It is computed in pixel units without building the HSV image: with
  ``v = max``, chroma ``c = v - min`` and the hue in sixths of the circle
  ``t``, HSV -> RGB is ``v - c' w_k(t)`` per channel ``k``, where
  ``c' = v s' = clip(c scale, 0, v)`` and ``w_k`` is the piecewise linear
  weight of channel ``k``. This needs one division per pixel (the hue) and
  no remainder, and it computes the per-pixel planes once, not once per
  channel (see :func:`_hue_sixths`). Unlike :func:`rgb_to_hsv` it does not
  zero values within ``eps`` of ``low`` first, which moves no output by more
  than ``eps`` of the range.
  """
  lo, hi = value_range
  x = images - lo
  r, g, b = x[..., 0], x[..., 1], x[..., 2]
  v = jnp.maximum(jnp.maximum(r, g), b)
  chroma = v - jnp.minimum(jnp.minimum(r, g), b)
  if scale is None:
    # v * s with s = chroma / v (0 where v <= 0), as rgb_to_hsv has it.
    c2 = jnp.where(v > 0, chroma, 0.0)
  else:
    s = jnp.reshape(scale, (-1, 1, 1)).astype(x.dtype)
    c2 = jnp.clip(chroma * s, 0.0, v)
  shift = None if delta is None else (
      jnp.reshape(delta, (-1, 1, 1)).astype(x.dtype) * 6.0)
  t = _hue_sixths(r, g, b, v, chroma, shift)
  # Wrapped onto [0, 6]; the weights are periodic, so t = 6 is t = 0.
  t = t - 6.0 * jnp.floor(t * (1.0 / 6.0))
  # Channel k (0, 1, 2) peaks at sixths 0, 2, 4: its weight is 0 within one
  # sixth of its peak, 1 beyond two, linear between. The planes are
  # broadcast against the channel axis (a concatenate of three per-channel
  # planes would make XLA redo the per-pixel work for each channel).
  peaks = jnp.asarray([0.0, 2.0, 4.0], x.dtype)
  a = jnp.abs(t[..., None] - peaks)
  w = jnp.clip(jnp.minimum(a, 6.0 - a) - 1.0, 0.0, 1.0)
  out = v[..., None] - c2[..., None] * w
  return jnp.clip(out + lo, lo, hi)


def _hue_sixths(r, g, b, v, chroma, shift):
  """The hue in sixths of the circle (``6 h``, unwrapped), plus ``shift``.

  The maximum channel picks the sector (red first on ties, then green, as
  rgb_to_hsv). The division comes last on purpose: XLA's CPU compiler never
  duplicates an expensive producer (a division) into a consumer that reads
  each element several times (the broadcast over channels), so the hue
  plane is computed once per pixel and stored, instead of once per output
  channel. On grey pixels (chroma 0) any finite hue will do: their new
  chroma is 0 too.
  """
  safe = jnp.where(chroma > 0, chroma, 1.0)
  r_max, g_max = v == r, v == g
  diff = jnp.where(r_max, g - b, jnp.where(g_max, b - r, r - g))
  sector = jnp.where(r_max, 0.0, jnp.where(g_max, 2.0, 4.0))
  if shift is not None:
    sector = sector + shift
  return (diff + sector * safe) / safe


def adjust_sharpness(images, sharpness, value_range):
  """Blends with Keras' 3x3 smoothing kernel: ``x + (1 - s) (smooth - x)``.

  ``s = 1`` is the identity, ``s < 1`` blurs, ``s > 1`` sharpens. The
  smoothing convolution zero-pads the border, as Keras' does.
  """
  channels = images.shape[-1]
  a, b = 1.0 / 13.0, 5.0 / 13.0
  kernel = jnp.asarray([[a, a, a], [a, b, a], [a, a, a]], images.dtype)
  kernel = jnp.tile(kernel[:, :, None, None], (1, 1, 1, channels))
  smoothed = jax.lax.conv_general_dilated(
      images, kernel, window_strides=(1, 1), padding="SAME",
      dimension_numbers=("NHWC", "HWIO", "NHWC"),
      feature_group_count=channels)
  out = images + (1.0 - _bcast(sharpness, images)) * (smoothed - images)
  return jnp.clip(out, *value_range)


def adjust_color_degeneration(images, factor, value_range):
  """Blends towards grayscale: ``x + factor (gray - x)``, clipped."""
  gray = rgb_to_grayscale(images)
  out = images + _bcast(factor, images) * (gray - images)
  return jnp.clip(out, *value_range)


def grayscale_where(images, apply):
  """Replaces the selected examples by their grayscale in every channel."""
  gray = jnp.broadcast_to(rgb_to_grayscale(images), images.shape)
  return jnp.where(jnp.reshape(apply, (-1, 1, 1, 1)), gray, images)


def invert_where(images, apply, value_range):
  """``high - x`` for the selected examples (Keras' formula)."""
  return jnp.where(jnp.reshape(apply, (-1, 1, 1, 1)), value_range[1] - images,
                   images)


def posterize(images, bits, value_range):
  """Keeps the top ``bits`` bits of each 8-bit value (``bits`` in 1..8).

  As Keras: values are mapped to [0, 255], truncated to integers, shifted
  right then left by ``8 - bits``, and mapped back.
  """
  x = rescale(images, value_range, (0.0, 255.0))
  # float -> uint8 truncates; the clip avoids undefined casts out of range.
  q = jnp.floor(jnp.clip(x, 0.0, 255.0))
  step = jnp.exp2(8.0 - _bcast(bits, q))
  q = jnp.floor(q / step) * step
  return rescale(q, (0.0, 255.0), value_range)


def solarize(images, addition, threshold, value_range):
  """Keras' solarization: ``y = clip(x + addition)``; ``y`` if ``y <
  threshold`` else ``255 - y``, on the [0, 255] scale."""
  x = rescale(images, value_range, (0.0, 255.0))
  y = jnp.clip(x + _bcast(addition, x), 0.0, 255.0)
  y = jnp.where(y < _bcast(threshold, x), y, 255.0 - y)
  return rescale(y, (0.0, 255.0), value_range)


def autocontrast(images, value_range):
  """Stretches each channel of each image to the full range.

  A channel with one value throughout is left unchanged (Keras' NaN rule).
  """
  x = rescale(images, value_range, (0.0, 255.0))
  low = jnp.min(x, axis=(1, 2), keepdims=True)
  high = jnp.max(x, axis=(1, 2), keepdims=True)
  flat = high <= low
  scale = 255.0 / jnp.where(flat, 1.0, high - low)
  out = jnp.clip(x * scale - low * scale, 0.0, 255.0)
  out = rescale(out, (0.0, 255.0), value_range)
  return jnp.where(flat, images, out)


def equalize(images, value_range, bins=256):
  """Histogram equalization of each channel of each image (Keras' formulas).

  The histogram has ``bins`` fixed-width bins over [0, 255]; channels using
  a single bin are left unchanged.
  """
  b, h, w, c = images.shape
  x = rescale(images, value_range, (0.0, 255.0))
  x = jnp.transpose(x, (0, 3, 1, 2)).reshape(b * c, h * w)
  hist_idx = jnp.clip(((x - 0.0) * (bins - 1) / 255.0).astype(jnp.int32), 0,
                      bins - 1)
  # One scatter-add histogram per (image, channel) row.
  rows = jnp.broadcast_to(jnp.arange(b * c)[:, None], hist_idx.shape)
  hist = jnp.zeros((b * c, bins), jnp.int32).at[rows, hist_idx].add(1)
  cdf = jnp.cumsum(hist, axis=-1)
  cdf_min = jnp.take_along_axis(cdf, jnp.argmax(cdf > 0, axis=-1)[:, None],
                                axis=-1)
  denominator = cdf[:, -1:] - cdf_min
  denominator = jnp.where(denominator == 0, 1, denominator)
  lut = jnp.clip(jnp.round(((cdf - cdf_min) * 255) / denominator), 0, 255)
  lut_idx = jnp.clip((x / 255.0) * (bins - 1), 0, bins - 1).astype(jnp.int32)
  eq = jnp.take_along_axis(lut, lut_idx, axis=-1).astype(x.dtype)
  single = jnp.count_nonzero(hist, axis=-1)[:, None] <= 1
  eq = jnp.where(single, x, eq)
  eq = eq.reshape(b, c, h, w).transpose(0, 2, 3, 1)
  return rescale(eq, (0.0, 255.0), value_range)
