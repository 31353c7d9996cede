"""Deterministic geometry behind the geometric transforms.

Matrices are ``(batch, 3, 3)`` and map output pixel coordinates ``(x, y, 1)``
to input coordinates, about Keras' conventions (see ``resampling``); each
takes per-example parameters of shape ``(batch,)``. The random factories in
``geometric`` (and the policies) draw the parameters and call these, dm_pix
style. The elastic warp, which is not a matrix, is here too: its displacement
fields and the per-pixel resampling.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Tuple

import jax
import jax.numpy as jnp

from prepro_core._src.image import common
from prepro_core._src.image import resampling

Array = Any

_DEG = math.pi / 180.0


def flip_matrices(flips: Array, flip_x: bool, flip_y: bool, height: int,
                  width: int) -> Array:
  """Mirrors the selected examples (``flips``, bool) along x and/or y."""
  one = jnp.ones(flips.shape, jnp.float32)
  zero = jnp.zeros(flips.shape, jnp.float32)
  sx = jnp.where(flips & flip_x, -one, one)
  sy = jnp.where(flips & flip_y, -one, one)
  tx = jnp.where(flips & flip_x, float(width - 1), zero)
  ty = jnp.where(flips & flip_y, float(height - 1), zero)
  return resampling.affine_matrices(sx, zero, tx, zero, sy, ty)


def flip_images(images4: Array, flips: Array, flip_x: bool,
                flip_y: bool) -> Array:
  """The selected examples of ``(batch, h, w, c)`` images, mirrored exactly
  (by indexing, not resampling)."""
  out = images4
  sel = flips[:, None, None, None]
  if flip_x:
    out = jnp.where(sel, out[:, :, ::-1], out)
  if flip_y:
    out = jnp.where(sel, out[:, ::-1], out)
  return out


def rotation_matrices(angle_deg: Array, height: int, width: int) -> Array:
  """Keras' ``_compute_affine_matrix`` for a rotation about the centre.

  Positive angles (degrees) rotate the content counter-clockwise.
  """
  angle = angle_deg * jnp.float32(_DEG)
  cx = 0.5 * (jnp.float32(width) - 1)
  cy = 0.5 * (jnp.float32(height) - 1)
  cos, sin = jnp.cos(angle), jnp.sin(angle)
  a0, a1 = cos, -sin
  b0, b1 = sin, cos
  a2 = cx - cx * a0 - cy * a1
  b2 = cy - cx * b0 - cy * b1
  return resampling.affine_matrices(a0, a1, a2, b0, b1, b2)


def zoom_matrices(zoom_h: Array, zoom_w: Array, height: int,
                  width: int) -> Array:
  """Keras' RandomZoom: scales by ``(zoom_w, zoom_h)`` about the centre
  (values above 1 zoom out)."""
  zero = jnp.zeros_like(zoom_h)
  x_off = ((jnp.float32(width) - 1.0) / 2.0) * (1.0 - zoom_w)
  y_off = ((jnp.float32(height) - 1.0) / 2.0) * (1.0 - zoom_h)
  return resampling.affine_matrices(zoom_w, zero, x_off, zero, zoom_h, y_off)


def translation_matrices(ty: Array, tx: Array) -> Array:
  """Keras' RandomTranslation: content moves down by ``ty``, right by ``tx``
  (pixels)."""
  one, zero = jnp.ones_like(tx), jnp.zeros_like(tx)
  return resampling.affine_matrices(one, zero, -tx, zero, one, -ty)


def shear_matrices(shear_x: Array, shear_y: Array) -> Array:
  """Keras' shear matrix ``[[1, sx, 0], [sy, 1, 0], [0, 0, 1]]`` (about the
  top-left corner, as Keras' ``RandomShear``)."""
  one, zero = jnp.ones_like(shear_x), jnp.zeros_like(shear_x)
  return resampling.affine_matrices(one, shear_x, zero, shear_y, one, zero)


def _square_to_quad(q: Array) -> Array:
  """``(batch, 3, 3)`` homographies mapping the unit square's corners
  ``(0, 0), (1, 0), (0, 1), (1, 1)`` to the quads ``q`` (``(batch, 4, 2)``,
  same corner order) in closed form (Heckbert, 1989)."""
  x0, y0 = q[:, 0, 0], q[:, 0, 1]     # (0, 0)
  x1, y1 = q[:, 1, 0], q[:, 1, 1]     # (1, 0)
  x3, y3 = q[:, 2, 0], q[:, 2, 1]     # (0, 1)
  x2, y2 = q[:, 3, 0], q[:, 3, 1]     # (1, 1)
  sx = x0 - x1 + x2 - x3
  sy = y0 - y1 + y2 - y3
  dx1, dx2 = x1 - x2, x3 - x2
  dy1, dy2 = y1 - y2, y3 - y2
  den = dx1 * dy2 - dx2 * dy1
  g = (sx * dy2 - dx2 * sy) / den
  h = (dx1 * sy - sx * dy1) / den
  rows = [
      jnp.stack([x1 - x0 + g * x1, x3 - x0 + h * x3, x0], axis=-1),
      jnp.stack([y1 - y0 + g * y1, y3 - y0 + h * y3, y0], axis=-1),
      jnp.stack([g, h, jnp.ones_like(g)], axis=-1),
  ]
  return jnp.stack(rows, axis=-2)


def homography_matrices(start_points: Array, end_points: Array) -> Array:
  """``(batch, 3, 3)`` matrices mapping ``end_points`` to ``start_points``.

  Points are ``(batch, 4, 2)`` as ``(x, y)`` in Keras' corner order
  (top-left, top-right, bottom-left, bottom-right). The same homography as
  Keras' ``compute_homography_matrix`` (normalised so that the last entry is
  1), computed in closed form through the unit square rather than by
  solving an 8x8 system.
  """
  hi = _square_to_quad(start_points.astype(jnp.float32))
  he = _square_to_quad(end_points.astype(jnp.float32))
  m = jnp.matmul(hi, resampling.adjugate3(he),
                 precision=jax.lax.Precision.HIGHEST)
  return m / m[:, 2:3, 2:3]


def perspective_matrices(displacements: Array, apply: Array, height: int,
                         width: int) -> Array:
  """Keras' RandomPerspective: the corners move to ``corner * (1 + d)``.

  Args:
    displacements: ``(batch, 4, 2)`` relative moves ``d`` of the corners
      ``(0, 0), (w-1, 0), (0, h-1), (w-1, h-1)``.
    apply: ``(batch,)`` bools; the other examples get the identity.
    height: the image height.
    width: the image width.
  """
  w1, h1 = float(width - 1), float(height - 1)
  start = jnp.asarray([[0.0, 0.0], [w1, 0.0], [0.0, h1], [w1, h1]],
                      jnp.float32)
  # Sharded like the draws (and so the images) under explicit sharding.
  start = common.shard_batch_like(jnp.broadcast_to(start, displacements.shape),
                                  displacements)
  end = start + start * displacements
  m = homography_matrices(start, end)
  return jnp.where(apply[:, None, None], m,
                   resampling.identity_matrices(m.shape[0]))


def _blur_matrices(size: int, sigma: Array, kernel_size: int) -> Array:
  """``(n, size, size)`` banded matrices applying a Gaussian of std
  ``sigma`` (one per row of ``sigma``) over a ``kernel_size`` window with
  ``SAME`` zero padding, i.e. Keras' ``gaussian_blur`` along one axis."""
  half = (kernel_size - 1) / 2.0
  r = jnp.arange(kernel_size, dtype=jnp.float32) - half
  norm = jnp.sum(jnp.exp(-0.5 * (r[None, :] / sigma[:, None]) ** 2), axis=1)
  idx = jnp.arange(size, dtype=jnp.float32)
  d = idx[None, :] - idx[:, None]                       # (size, size): j - i
  w = jnp.exp(-0.5 * (d[None] / sigma[:, None, None]) ** 2)
  w = jnp.where(jnp.abs(d)[None] <= half, w, 0.0)
  return w / norm[:, None, None]


def _blur_fields(fields: Array, sigma: Array, kernel_size: int) -> Array:
  """Gaussian blur of ``(n, h, w)`` fields, each with its own ``sigma``.

  Separable: ``G_h @ field @ G_w^T`` with banded matrices (cheaper to compile
  and run than a grouped convolution with one group per field).
  """
  _, h, w = fields.shape
  gh = _blur_matrices(h, sigma, kernel_size)
  gw = _blur_matrices(w, sigma, kernel_size)
  hp = jax.lax.Precision.HIGHEST
  out = jnp.einsum("nij,njk->nik", gh, fields, precision=hp)
  return jnp.einsum("nik,nlk->nil", out, gw, precision=hp)


def elastic_coordinates(noise: Array, alpha: Array, sigma: Array,
                        kernel_size: int) -> Tuple[Array, Array]:
  """Keras' elastic displacement: the input coordinates ``(y_in, x_in)``.

  Args:
    noise: ``(batch, 2, h, w)`` Gaussian noise, the x then y fields.
    alpha: ``(batch,)`` displacement scales.
    sigma: ``(batch,)`` blur standard deviations.
    kernel_size: the (odd) blur window.

  Returns:
    Two ``(batch, h, w)`` arrays: each output pixel's input y and x.
  """
  batch, _, height, width = noise.shape
  safe_sigma = jnp.maximum(jnp.repeat(sigma, 2), 1e-6)
  fields = _blur_fields(noise.reshape(2 * batch, height, width), safe_sigma,
                        kernel_size).reshape(batch, 2, height, width)
  dx = alpha[:, None, None] * fields[:, 0]
  dy = alpha[:, None, None] * fields[:, 1]
  yy = jnp.arange(height, dtype=jnp.float32)[None, :, None]
  xx = jnp.arange(width, dtype=jnp.float32)[None, None, :]
  return yy + dy, xx + dx


def resample_selected(images4: Array, y_in: Array, x_in: Array,
                      selected: Array, *, interpolation: str, fill_mode: str,
                      fill_value: float,
                      clip: Optional[Tuple[float, float]] = None) -> Array:
  """Samples the selected examples at ``(y_in, x_in)``; keeps the others.

  ``selected`` broadcasts against ``(batch, h, w, c)``; the result is
  clipped to ``clip`` when given and has ``images4``'s dtype.
  """
  f = common.to_float(images4)
  out = resampling.sample_coordinates(
      f, y_in, x_in, interpolation=interpolation, fill_mode=fill_mode,
      fill_value=fill_value)
  out = jnp.where(selected, out, f)
  if clip is not None:
    out = jnp.clip(out, *clip)
  return common.restore_dtype(out, images4.dtype)
