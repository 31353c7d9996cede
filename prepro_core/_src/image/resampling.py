"""Affine and projective resampling with Keras' fill modes and interpolations.

Every geometric transform is described by one ``(3, 3)`` homogeneous matrix
per example that maps an *output* pixel ``(x, y, 1)`` to the *input* pixel it
samples (pixel-index coordinates: the centre of the top-left pixel is
``(0, 0)``), as Keras' ``affine_transform`` does. Keras' 8-vector
``[a0, a1, a2, b0, b1, b2, c0, c1]`` is the matrix
``[[a0, a1, a2], [b0, b1, b2], [c0, c1, 1]]``.

Sampling follows ``jax.scipy.ndimage.map_coordinates`` (what Keras' JAX backend
calls), so results agree with Keras to float rounding:

* interpolation ``"nearest"`` rounds half away from zero; ``"bilinear"`` mixes
  the four neighbours;
* fill modes, applied to each neighbour's index: ``"reflect"``
  (``d c b a | a b c d | d c b a``), ``"wrap"`` (``a b c d | a b c d``),
  ``"nearest"`` (``a a a a | a b c d | d d d d``) and ``"constant"``
  (neighbours outside the image read ``fill_value``).

Unlike ``map_coordinates`` over an ``(h, w, c)`` array, which interpolates
over eight neighbours, one per channel corner, each neighbour here is a whole
pixel (all channels at once): four gathers for bilinear, one for nearest.

:class:`Geometry` is what a geometric transform puts in ``Transform.geometry``
so that :func:`prepro_core.chain` can compose consecutive transforms and
resample once (see :func:`fusable`).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Optional, Tuple

import jax
import jax.numpy as jnp

from prepro_core._src.core.checks import check_choice
from prepro_core._src.image import common

Array = Any

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("nearest", "bilinear")


def check_fill_mode(fill_mode: Any, where: str) -> str:
  check_choice(fill_mode, "fill_mode", FILL_MODES, where)
  return fill_mode


def check_interpolation(interpolation: Any, where: str) -> str:
  check_choice(interpolation, "interpolation", INTERPOLATIONS, where)
  return interpolation


def check_fill_value(fill_value: Any, where: str) -> float:
  if isinstance(fill_value, bool) or not isinstance(fill_value, (int, float)):
    try:
      fill_value = float(fill_value)
    except (TypeError, ValueError):
      raise TypeError(
          f"{where}: `fill_value` must be a number, got {fill_value!r}.") from None
  return float(fill_value)


def identity_matrices(batch: int, dtype=jnp.float32) -> Array:
  """``(batch, 3, 3)`` identity matrices."""
  return jnp.broadcast_to(jnp.eye(3, dtype=dtype), (batch, 3, 3))


def affine_matrices(a0, a1, a2, b0, b1, b2) -> Array:
  """Stacks per-example affine coefficients (each ``(batch,)``) into
  ``(batch, 3, 3)`` output->input matrices."""
  zeros = jnp.zeros_like(a0)
  ones = jnp.ones_like(a0)
  return jnp.stack([
      jnp.stack([a0, a1, a2], axis=-1),
      jnp.stack([b0, b1, b2], axis=-1),
      jnp.stack([zeros, zeros, ones], axis=-1),
  ], axis=-2)


def _fix_index(index: Array, size: int, fill_mode: str) -> Array:
  """Maps integer indices into ``[0, size)`` as map_coordinates' modes do."""
  if fill_mode == "nearest":
    return jnp.clip(index, 0, size - 1)
  if fill_mode == "wrap":
    return jnp.mod(index, size)
  if fill_mode == "reflect":
    # Half-sample symmetric: period 2 * size, ``-1 -> 0``, ``size -> size-1``.
    r = jnp.mod(index, 2 * size)
    return jnp.where(r < size, r, 2 * size - 1 - r)
  # constant: clamp (the value is masked with fill_value afterwards).
  return jnp.clip(index, 0, size - 1)


def sample_coordinates(images: Array, y: Array, x: Array, *,
                       interpolation: str, fill_mode: str,
                       fill_value: float) -> Array:
  """Samples ``images`` (B, H, W, C) at float coordinates ``y, x`` (B, h, w).

  Returns ``(B, h, w, C)`` in the images' (floating) dtype.
  """
  b, height, width, channels = images.shape
  out_hw = y.shape[1:]
  # The gather below vmaps over images and coordinates together; under
  # explicit sharding their batch axes must be sharded alike.
  y = common.shard_batch_like(y, images)
  x = common.shard_batch_like(x, images)
  flat = images.reshape(b, height * width, channels)
  dtype = images.dtype
  cval = jnp.asarray(fill_value, dtype)

  def gather(iy, ix):
    idx = (_fix_index(iy, height, fill_mode) * width +
           _fix_index(ix, width, fill_mode)).reshape(b, -1)
    # Indices are in range by construction: no clamping in the gather.
    vals = jax.vmap(lambda f, i: f.at[i].get(mode="promise_in_bounds"))(
        flat, idx)
    vals = vals.reshape(b, *out_hw, channels)
    if fill_mode == "constant":
      valid = (iy >= 0) & (iy < height) & (ix >= 0) & (ix < width)
      vals = jnp.where(valid[..., None], vals, cval)
    return vals

  if interpolation == "nearest":
    # lax.round rounds half away from zero, as map_coordinates does.
    iy = jax.lax.round(y).astype(jnp.int32)
    ix = jax.lax.round(x).astype(jnp.int32)
    return gather(iy, ix)

  y0f = jnp.floor(y)
  x0f = jnp.floor(x)
  wy1 = (y - y0f).astype(dtype)
  wx1 = (x - x0f).astype(dtype)
  wy0 = 1 - wy1
  wx0 = 1 - wx1
  y0 = y0f.astype(jnp.int32)
  x0 = x0f.astype(jnp.int32)
  # Same summation order as map_coordinates: (y0,x0), (y0,x1), (y1,x0), (y1,x1).
  out = (wy0 * wx0)[..., None] * gather(y0, x0)
  out = out + (wy0 * wx1)[..., None] * gather(y0, x0 + 1)
  out = out + (wy1 * wx0)[..., None] * gather(y0 + 1, x0)
  out = out + (wy1 * wx1)[..., None] * gather(y0 + 1, x0 + 1)
  return out


def warp(images: Array, matrices: Array, *, interpolation: str = "bilinear",
         fill_mode: str = "constant", fill_value: float = 0.0,
         projective: bool = False,
         output_shape: Optional[Tuple[int, int]] = None) -> Array:
  """Resamples a batch through per-example output->input matrices.

  Args:
    images: ``(batch, height, width, channels)`` floating images.
    matrices: ``(batch, 3, 3)`` output->input homogeneous matrices.
    interpolation: ``"nearest"`` or ``"bilinear"``.
    fill_mode: ``"reflect"``, ``"wrap"``, ``"constant"`` or ``"nearest"``.
    fill_value: the value outside the image when ``fill_mode="constant"``.
    projective: divide by the homogeneous coordinate (needed only when the
      last row is not ``[0, 0, 1]``).
    output_shape: ``(height, width)`` of the output; the input's by default.

  Returns:
    ``(batch, out_height, out_width, channels)`` images.
  """
  _, height, width, _ = images.shape
  out_h, out_w = output_shape or (height, width)
  # Matrices built from a key alone (e.g. a fused chain's) are unsharded:
  # give them the images' batch sharding so the coordinates are built sharded.
  m = common.shard_batch_like(matrices.astype(jnp.float32), images)
  yy = jnp.arange(out_h, dtype=jnp.float32)[None, :, None]
  xx = jnp.arange(out_w, dtype=jnp.float32)[None, None, :]
  coef = lambda i, j: m[:, i, j][:, None, None]
  x_in = coef(0, 0) * xx + coef(0, 1) * yy + coef(0, 2)
  y_in = coef(1, 0) * xx + coef(1, 1) * yy + coef(1, 2)
  if projective:
    denom = coef(2, 0) * xx + coef(2, 1) * yy + coef(2, 2)
    x_in = x_in / denom
    y_in = y_in / denom
  return sample_coordinates(images, y_in, x_in, interpolation=interpolation,
                            fill_mode=fill_mode, fill_value=fill_value)


def adjugate3(m: Array) -> Array:
  """Inverse of ``(batch, 3, 3)`` matrices up to scale (the adjugate), in
  closed form (elementwise, so it keeps the batch sharding; homogeneous
  coordinates do not care about the scale)."""
  c = lambda i, j: m[:, i, j]
  rows = [
      [c(1, 1) * c(2, 2) - c(1, 2) * c(2, 1), c(0, 2) * c(2, 1) - c(0, 1) * c(2, 2),
       c(0, 1) * c(1, 2) - c(0, 2) * c(1, 1)],
      [c(1, 2) * c(2, 0) - c(1, 0) * c(2, 2), c(0, 0) * c(2, 2) - c(0, 2) * c(2, 0),
       c(0, 2) * c(1, 0) - c(0, 0) * c(1, 2)],
      [c(1, 0) * c(2, 1) - c(1, 1) * c(2, 0), c(0, 1) * c(2, 0) - c(0, 0) * c(2, 1),
       c(0, 0) * c(1, 1) - c(0, 1) * c(1, 0)],
  ]
  return jnp.stack([jnp.stack(r, axis=-1) for r in rows], axis=-2)


def matrix_point_fn(matrices: Array) -> Callable[[Array, Array], Tuple[Array, Array]]:
  """``point_fn`` for :func:`common.map_boxes` from output->input matrices.

  Boxes live in continuous coordinates (pixel ``i`` covers ``[i, i + 1)``);
  the matrices in pixel-index coordinates (pixel ``i`` is at ``i``).
  """
  # Up to scale, which the homogeneous division removes.
  inv = adjugate3(matrices.astype(jnp.float32))

  def point_fn(x, y):
    px, py = x - 0.5, y - 0.5
    c = lambda i, j: inv[:, i, j][:, None, None]
    nx = c(0, 0) * px + c(0, 1) * py + c(0, 2)
    ny = c(1, 0) * px + c(1, 1) * py + c(1, 2)
    nz = c(2, 0) * px + c(2, 1) * py + c(2, 2)
    return nx / nz + 0.5, ny / nz + 0.5

  return point_fn


def warp_inputs(x: Any, matrices_fn: Callable[[int, int, int], Array], *,
                interpolation: str, fill_mode: str, fill_value: float,
                projective: bool, bounding_box_format: Optional[str],
                where: str) -> Any:
  """Warps images (and masks and boxes in Keras' dict form) in sync.

  Args:
    x: images (HWC or NHWC) or a dict with ``"images"`` and optionally
      ``"labels"``, ``"segmentation_masks"``, ``"bounding_boxes"``.
    matrices_fn: ``matrices_fn(batch, height, width) -> (batch, 3, 3)``.
    interpolation, fill_mode, fill_value, projective: see :func:`warp`.
    bounding_box_format: required when boxes are given.
    where: the calling transform's name, for error messages.

  Returns:
    The same structure; images keep their dtype and rank, segmentation masks
    are resampled with ``"nearest"``, boxes are moved and clipped, labels
    pass through.
  """
  images, rebuild = common.split_inputs(x, where)
  images4, unbatch = common.to_batch(images, where)
  batch, height, width, _ = images4.shape
  matrices = matrices_fn(batch, height, width)
  out = warp(common.to_float(images4), matrices, interpolation=interpolation,
             fill_mode=fill_mode, fill_value=fill_value, projective=projective)
  out = unbatch(common.restore_dtype(out, images4.dtype))
  parts = {}
  if isinstance(x, dict):
    if "segmentation_masks" in x:
      masks4, unbatch_m = common.masks_to_batch(x["segmentation_masks"],
                                                images.shape, where)
      m = warp(common.to_float(masks4), matrices, interpolation="nearest",
               fill_mode=fill_mode, fill_value=fill_value,
               projective=projective)
      parts["segmentation_masks"] = unbatch_m(
          common.restore_dtype(m, masks4.dtype))
    if "bounding_boxes" in x:
      fmt = common.require_box_format(bounding_box_format, where)
      parts["bounding_boxes"] = common.map_boxes(
          x["bounding_boxes"], fmt, (height, width), (height, width),
          matrix_point_fn(matrices), batched=jnp.ndim(images) == 4,
          where=where)
  return rebuild(out, **parts)


@dataclasses.dataclass(frozen=True)
class Geometry:
  """A geometric transform's matrices and resampling settings.

  Calling it, ``geometry(state, key, image_shape)``, gives the
  ``(batch, 3, 3)`` output->input matrices the transform's ``apply`` uses for
  that key (identity matrices when ``key`` is None). It is the transform's
  ``Transform.fusion``: :func:`prepro_core.chain` composes a run of them and
  resamples once.

  Attributes:
    matrices: ``matrices(state, keys, height, width) -> (batch, 3, 3)`` from
      per-example keys.
    interpolation, fill_mode, fill_value: how ``apply`` resamples. ``None``
      for transforms that only permute pixels (flips), which fuse with any
      setting.
    projective: whether the matrices may have a non-trivial last row.
    bounding_box_format: the transform's box format (for fused runs).
  """
  matrices: Callable[..., Array]
  interpolation: Optional[str] = None
  fill_mode: Optional[str] = None
  fill_value: Optional[float] = None
  projective: bool = False
  bounding_box_format: Optional[str] = None

  @property
  def settings(self) -> Optional[Tuple[str, str, float]]:
    if self.interpolation is None:
      return None
    return (self.interpolation, self.fill_mode, self.fill_value)

  def __call__(self, state: Any, key: Any, image_shape: Tuple[int, ...]) -> Array:
    if len(image_shape) not in (3, 4):
      raise ValueError(
          f"geometry: `image_shape` must have 3 or 4 entries, got "
          f"{tuple(image_shape)}.")
    batch = image_shape[0] if len(image_shape) == 4 else 1
    height, width = image_shape[-3], image_shape[-2]
    if key is None:
      return identity_matrices(batch)
    keys = common.example_keys(key, batch)
    return self.matrices(state, keys, height, width)

  # The chain's Fusable protocol (prepro_core._src.core.transform.Fusable).

  def joins(self, run) -> bool:
    """Whether this transform can be resampled together with ``run``."""
    if not all(isinstance(g, Geometry) for g in run):
      return False
    settings = next((g.settings for g in run if g.settings is not None), None)
    return fusable(settings, self)

  def apply_run(self, run, states, keys, x: Any, where: str) -> Any:
    """Applies ``run`` (starting with this transform) with one resampling."""
    return fused_apply(run, states, keys, x, where)


def fusable(settings_so_far: Optional[Tuple[str, str, float]],
            geometry: Geometry) -> bool:
  """Whether ``geometry`` can join a run resampled with ``settings_so_far``.

  Pure permutations (flips) join any run; others join a run whose resampling
  settings (interpolation, fill mode, fill value) are theirs.
  """
  s = geometry.settings
  return s is None or settings_so_far is None or s == settings_so_far


def fused_apply(geometries, states, keys, x: Any, where: str) -> Any:
  """Applies a run of geometric transforms with one resampling.

  The run's output->input matrices compose left to right
  (``M = M_1 @ M_2 @ ... @ M_k``: the first transform's input is the input);
  the run resamples with its members' common settings (see :func:`fusable`),
  or nearest sampling when every member only permutes pixels.

  Args:
    geometries: the members' :class:`Geometry`, in chain order.
    states: their states.
    keys: their keys (as :func:`prepro_core.chain` hands them out).
    x: images or Keras' dict form.
    where: the chain's name, for error messages.
  """
  # One compiled program per run and input shape, as for the transforms
  # applied one by one (geometries are hashable: frozen dataclasses). The
  # inputs are checked, and a batch of 0 images gives its empty result, as
  # each transform's own apply does.
  x = common.check_inputs(x, where)
  geometries = tuple(geometries)
  return common.apply_batch(
      lambda x, states, keys: _fused_apply_jit(geometries, states, keys, x,
                                               where),
      x, tuple(states), tuple(keys))


@functools.partial(jax.jit, static_argnums=(0, 4))
def _fused_apply_jit(geometries, states, keys, x, where):
  settings = next((g.settings for g in geometries if g.settings is not None),
                  ("nearest", "constant", 0.0))
  fmt = next((g.bounding_box_format for g in geometries
              if g.bounding_box_format is not None), None)

  def matrices_fn(batch, height, width):
    m = None
    for g, s, k in zip(geometries, states, keys):
      mi = g(s, k, (batch, height, width, 1))
      m = mi if m is None else jnp.matmul(
          m, mi, precision=jax.lax.Precision.HIGHEST)
    return m

  return warp_inputs(x, matrices_fn, interpolation=settings[0],
                     fill_mode=settings[1], fill_value=settings[2],
                     projective=any(g.projective for g in geometries),
                     bounding_box_format=fmt, where=where)
