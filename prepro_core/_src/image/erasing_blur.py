"""Random erasing and random Gaussian blur (Keras' RandomErasing and
RandomGaussianBlur).

Both are random augmentations: ``apply(state, x, key=key)`` draws each
example's parameters from its own key; ``key=None`` (inference) is the
identity. Images are HWC or NHWC, float or integer, and keep their shape and
dtype. See ``color`` for the value-range contract.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from prepro_core._src.core.factory import transform_factory
from prepro_core._src.core.transform import Transform
from prepro_core._src.image import common
from prepro_core._src.image.factories import coin
from prepro_core._src.image.factories import image_transform
from prepro_core._src.image.factories import span
from prepro_core._src.image.factories import unit_draws

Array = Any


def box_mask(height: int, width: int, x0, x1, y0, y1) -> Array:
  """(batch, h, w, 1) mask of the pixels with ``x0 <= x < x1`` and
  ``y0 <= y < y1`` (continuous per-example bounds, Keras' rule)."""
  gy = jnp.arange(height, dtype=jnp.float32)[None, :, None, None]
  gx = jnp.arange(width, dtype=jnp.float32)[None, None, :, None]
  r = lambda v: jnp.reshape(v, (-1, 1, 1, 1))
  return (gx >= r(x0)) & (gx < r(x1)) & (gy >= r(y0)) & (gy < r(y1))


def crop_bounds(u, length: int, crop_ratio):
  """Keras' ``_compute_crop_bounds``: a span of ``crop_ratio * length`` at
  position ``u`` (``U[0, 1)`` draws) of the free room; returns
  ``(start, end)`` floats, shape (batch,)."""
  crop = crop_ratio * length
  start = u * (length - crop)
  return start, start + crop


@transform_factory
def random_erasing(factor=1.0, scale=(0.02, 0.33), fill_value=None,
                   value_range=(0, 255)) -> Transform:
  """Erases a random rectangle of each image (RandomErasing).

  Each example draws ``(sw, sh) ~ U[scale]``; the rectangle spans
  ``sqrt(sw) * width`` by ``sqrt(sh) * height`` pixels at a uniform position.
  It is erased with probability ``p ~ U[factor]`` (Keras' two-draw rule: the
  default 1.0 erases about half of the images, ``(1, 1)`` all).

  Args:
    factor: ``f`` in [0, 1] (``(0, f)``) or a pair in [0, 1].
    scale: a number ``s`` in [0, 1] (``(0, s)``) or a pair in [0, 1]: the
      fractions of the width and height (squared) the rectangle covers.
    fill_value: None (Gaussian noise ``N(0, 1) * high``, clipped to the value
      range, as Keras), a number, or a sequence of one value per channel.
    value_range: ``(low, high)``, the pixels' range; the fill is clipped to it.

  Returns:
    A random :class:`Transform`; ``key=None`` is the identity.

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = np.full((2, 8, 8, 3), 255.0, np.float32)
    >>> t = pc.random_erasing(factor=(1.0, 1.0), fill_value=0)  # erase all
    >>> y = np.asarray(t.apply(t.init(x), x, key=jax.random.key(0)))
    >>> (y == 0).all(-1).sum(axis=(1, 2))   # erased pixels in each image
    array([10,  2])
  """
  where = "random_erasing"
  factor = common.parse_factor(factor, "factor", where, min_value=0.0,
                               max_value=1.0)
  scale = common.parse_factor(scale, "scale", where, min_value=0.0,
                              max_value=1.0)
  value_range = common.check_value_range(value_range, where)
  fill = None
  if fill_value is not None:
    msg = (f"{where}: `fill_value` must be None, a number or a sequence of "
           f"one number per channel, got {fill_value!r}.")
    if isinstance(fill_value, bool):
      raise ValueError(msg)
    try:
      fill = np.asarray(fill_value, np.float32)
    except (TypeError, ValueError):
      raise ValueError(msg) from None
    if fill.ndim > 1 or not np.all(np.isfinite(fill)):
      raise ValueError(msg)

  def validate(images):
    if fill is not None and fill.ndim == 1 and fill.shape[0] != images.shape[-1]:
      raise ValueError(
          f"{where}: `fill_value` has {fill.shape[0]} values but the images "
          f"have {images.shape[-1]} channels.")

  def kernel(images, keys):
    b, h, w, c = images.shape
    u = unit_draws(keys, 6)
    sw, sh = jnp.sqrt(span(u[:, 0], *scale)), jnp.sqrt(span(u[:, 1], *scale))
    x0, x1 = crop_bounds(u[:, 2], w, sw)
    y0, y1 = crop_bounds(u[:, 3], h, sh)
    mask = box_mask(h, w, x0, x1, y0, y1)
    mask = mask & jnp.reshape(coin(u[:, 4], u[:, 5], *factor), (-1, 1, 1, 1))
    if fill is None:
      noise = jax.vmap(lambda k: jax.random.normal(
          jax.random.fold_in(k, 1), (h, w, c), images.dtype))(keys)
      values = noise * value_range[1]
    else:
      values = jnp.broadcast_to(jnp.asarray(fill, images.dtype), images.shape)
    values = jnp.clip(values, *value_range)
    return jnp.where(mask, values, images)

  return image_transform(where, kernel, validate=validate)


def _parse_kernel_size(kernel_size, where):
  msg = (f"{where}: `kernel_size` must be an odd positive int or a pair of "
         f"them (width, height), got {kernel_size!r}.")
  sizes = kernel_size if isinstance(kernel_size, (tuple, list)) else (
      kernel_size, kernel_size)
  if len(sizes) != 2:
    raise ValueError(msg)
  for s in sizes:
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
      raise ValueError(msg)
    if s < 1 or s % 2 == 0:
      raise ValueError(msg)
  return int(sizes[0]), int(sizes[1])


def gaussian_kernels(size: int, sigma: Array) -> Array:
  """(batch, size) normalised 1-D Gaussian taps for per-example ``sigma``."""
  x = jnp.arange(size, dtype=sigma.dtype) - (size - 1) / 2
  k = jnp.exp(-0.5 * (x[None, :] / sigma[:, None])**2)
  return k / jnp.sum(k, axis=-1, keepdims=True)


def blur(images: Array, kernel_size, sigma_x: Array, sigma_y: Array) -> Array:
  """Depthwise Gaussian blur, zero padding ("SAME"), one kernel per example.

  The per-example kernels run as one grouped convolution with
  ``batch * channels`` groups.
  """
  b, h, w, c = images.shape
  kx = gaussian_kernels(kernel_size[0], sigma_x.astype(images.dtype))
  ky = gaussian_kernels(kernel_size[1], sigma_y.astype(images.dtype))
  k2 = ky[:, :, None] * kx[:, None, :]  # (b, kh, kw), Keras' outer(ky, kx)
  k2 = jnp.repeat(k2, c, axis=0)  # (b * c, kh, kw), example-major like lhs
  k2 = jnp.transpose(k2, (1, 2, 0))[:, :, None, :]  # HWIO, I = 1
  lhs = jnp.transpose(images, (1, 2, 0, 3)).reshape(1, h, w, b * c)
  out = jax.lax.conv_general_dilated(
      lhs, k2, window_strides=(1, 1), padding="SAME",
      dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=b * c)
  return jnp.transpose(out.reshape(h, w, b, c), (2, 0, 1, 3))


@transform_factory
def random_gaussian_blur(factor=1.0, kernel_size=3, sigma=1.0,
                         value_range=(0, 255)) -> Transform:
  """Blurs images with a random Gaussian (RandomGaussianBlur).

  Each example is blurred with probability ``p ~ U[factor]`` (Keras'
  two-draw rule: the default 1.0 blurs about half of the images, ``(1, 1)``
  all), with ``sigma_x, sigma_y ~ U[sigma] + 1e-6``.

  Args:
    factor: ``f`` in [0, 1] (``(0, f)``) or a pair in [0, 1].
    kernel_size: an odd int, or a pair of odd ints ``(width, height)`` as
      Keras orders them.
    sigma: a number ``s >= 0`` (``(0, s)``) or a pair ``(lower, upper)`` of
      non-negative numbers; ``(s, s)`` pins it.
    value_range: ``(low, high)``; the output is clipped to it.

  Returns:
    A random :class:`Transform`; ``key=None`` is the identity.

  Note: Keras draws one ``(sigma_x, sigma_y)`` per batch; here every example
  draws its own. Keras also caps a single-number ``sigma`` (and a pair's lower
  bound) at 1; any non-negative sigma is accepted here.

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = np.zeros((1, 5, 5, 1), np.float32); x[0, 2, 2] = 100.0  # one dot
    >>> t = pc.random_gaussian_blur(factor=(1, 1), sigma=(0.8, 0.8))  # blur all
    >>> y = t.apply(t.init(x), x, key=jax.random.key(0))
    >>> np.round(np.asarray(y)[0, 1:4, 1:4, 0], 2)
    array([[ 5.71, 12.48,  5.71],
           [12.48, 27.25, 12.48],
           [ 5.71, 12.48,  5.71]], dtype=float32)
  """
  where = "random_gaussian_blur"
  factor = common.parse_factor(factor, "factor", where, min_value=0.0,
                               max_value=1.0)
  sizes = _parse_kernel_size(kernel_size, where)
  sigma = common.parse_factor(sigma, "sigma", where, min_value=0.0,
                              symmetric=False)
  value_range = common.check_value_range(value_range, where)

  def kernel(images, keys):
    u = unit_draws(keys, 4)
    sx = span(u[:, 0], *sigma) + 1e-6
    sy = span(u[:, 1], *sigma) + 1e-6
    blurred = blur(images, sizes, sx, sy)
    out = jnp.where(jnp.reshape(coin(u[:, 2], u[:, 3], *factor), (-1, 1, 1, 1)),
                    blurred, images)
    return jnp.clip(out, *value_range)

  return image_transform(where, kernel)
