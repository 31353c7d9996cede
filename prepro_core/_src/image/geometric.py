"""Random geometric augmentations: Keras' RandomFlip, RandomRotation,
RandomZoom, RandomTranslation, RandomShear, RandomPerspective and
RandomElasticTransform as keyed, jittable transforms.

Every transform here maps output pixels to input pixels through a per-example
``(3, 3)`` matrix about Keras' conventions (see ``resampling``); each exposes
it as ``Transform.fusion`` (a ``resampling.Geometry``), so that
:func:`prepro_core.chain` resamples a run of them once.
``random_elastic_transform`` is not affine and is applied on its own. The
matrices themselves (and the elastic fields) are deterministic functions in
``geometric_ops``; here each factory checks its arguments and draws their
parameters.

Randomness: ``apply(state, x, key=key)`` draws each example's parameters from
``jax.random.split(key, batch)[i]`` (a single HWC image is a batch of one), so
eager, ``jit``, ``vmap`` and sharded runs agree; ``key=None`` (inference) is
the identity.

Deviations from Keras 3, all deliberate:

* integer images come back in their dtype (rounded and clipped) where Keras
  returns ``float32``;
* ``random_elastic_transform`` draws independent x and y displacement fields
  and one distortion scale per example (Keras' JAX backend reuses one seed
  for both fields and draws one scale per batch).
"""

from __future__ import annotations

import functools
from typing import Any, Optional

import jax
import jax.numpy as jnp

from prepro_core._src.core.checks import check_choice
from prepro_core._src.core.checks import check_key
from prepro_core._src.core.factory import transform_factory
from prepro_core._src.core.transform import EmptyState
from prepro_core._src.core.transform import make_transform
from prepro_core._src.image import common
from prepro_core._src.image import geometric_ops as ops
from prepro_core._src.image import resampling
from prepro_core._src.image.factories import geometric_transform
from prepro_core._src.image.factories import uniforms

Array = Any


def _check_bbox(bounding_box_format, where):
  return common.check_box_format(bounding_box_format, where)


# ---------------------------------------------------------------------------
# random_flip
# ---------------------------------------------------------------------------

HORIZONTAL = "horizontal"
VERTICAL = "vertical"
HORIZONTAL_AND_VERTICAL = "horizontal_and_vertical"


@transform_factory
def random_flip(mode: str = HORIZONTAL_AND_VERTICAL,
                bounding_box_format: Optional[str] = None):
  """Randomly flips images, like Keras' ``RandomFlip``.

  Each example is flipped with probability 1/2. As in Keras 3,
  ``"horizontal_and_vertical"`` draws one coin per example and flips both
  axes together (a 180 degree rotation) or neither.

  Args:
    mode: ``"horizontal"``, ``"vertical"`` or ``"horizontal_and_vertical"``.
    bounding_box_format: format of ``"bounding_boxes"`` in dict inputs.

  Returns:
    A random :class:`~prepro_core.Transform`.

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = np.arange(6, dtype=np.float32).reshape(2, 1, 3, 1)  # two 1x3 images
    >>> t = pc.random_flip("horizontal")
    >>> y = t.apply(t.init(x), x, key=jax.random.key(0))
    >>> np.asarray(y)[..., 0].tolist()       # the second one is flipped
    [[[0.0, 1.0, 2.0]], [[5.0, 4.0, 3.0]]]
  """
  where = "random_flip"
  check_choice(mode, "mode", (HORIZONTAL, VERTICAL, HORIZONTAL_AND_VERTICAL),
               where)
  _check_bbox(bounding_box_format, where)
  flip_x = mode in (HORIZONTAL, HORIZONTAL_AND_VERTICAL)
  flip_y = mode in (VERTICAL, HORIZONTAL_AND_VERTICAL)

  def matrices(state, keys, height, width):
    del state
    return ops.flip_matrices(_draw_flips(keys), flip_x, flip_y, height, width)

  geometry = resampling.Geometry(matrices=matrices,
                                 bounding_box_format=bounding_box_format)

  def apply(state, x, key=None):
    x = common.check_inputs(x, where)
    key = check_key(key, where)
    if key is None:
      return x
    return common.apply_batch(run, x, state, key)

  @jax.jit
  def run(x, state, key):
    images, rebuild = common.split_inputs(x, where)
    images4, unbatch = common.to_batch(images, where)
    batch, height, width, _ = images4.shape
    keys = common.example_keys(key, batch, like=images4)
    flips = _draw_flips(keys)
    parts = {}
    if isinstance(x, dict):
      if "segmentation_masks" in x:
        masks4, unbatch_m = common.masks_to_batch(x["segmentation_masks"],
                                                  images.shape, where)
        parts["segmentation_masks"] = unbatch_m(
            ops.flip_images(masks4, flips, flip_x, flip_y))
      if "bounding_boxes" in x:
        fmt = common.require_box_format(bounding_box_format, where)
        parts["bounding_boxes"] = common.map_boxes(
            x["bounding_boxes"], fmt, (height, width), (height, width),
            resampling.matrix_point_fn(matrices(state, keys, height, width)),
            batched=len(images.shape) == 4, where=where)
    return rebuild(unbatch(ops.flip_images(images4, flips, flip_x, flip_y)),
                   **parts)

  return make_transform(where, init=common.stateless_init(where), apply=apply,
                        is_random=True, fusion=geometry,
                        state_type=EmptyState)


def _draw_flips(keys: Array) -> Array:
  """One fair coin per example: whether it is flipped."""
  return uniforms(keys, (0.0, 1.0))[:, 0] <= 0.5


# ---------------------------------------------------------------------------
# Affine: rotation, zoom, translation, shear
# ---------------------------------------------------------------------------


def _resampling_args(where, fill_mode, interpolation, fill_value):
  return (resampling.check_fill_mode(fill_mode, where),
          resampling.check_interpolation(interpolation, where),
          resampling.check_fill_value(fill_value, where))


@transform_factory
def random_rotation(factor, fill_mode: str = "reflect",
                    interpolation: str = "bilinear", fill_value: float = 0.0,
                    bounding_box_format: Optional[str] = None):
  """Randomly rotates images about their centre, like Keras' ``RandomRotation``.

  Args:
    factor: a fraction of a full turn: ``f`` draws angles in
      ``[-f * 360, f * 360]`` degrees, a pair ``(lower, upper)`` in
      ``[lower * 360, upper * 360]``; values in ``[-1, 1]``. Positive angles
      rotate counter-clockwise.
    fill_mode: ``"reflect"``, ``"wrap"``, ``"constant"`` or ``"nearest"``.
    interpolation: ``"bilinear"`` or ``"nearest"``.
    fill_value: the value outside the image when ``fill_mode="constant"``.
    bounding_box_format: format of ``"bounding_boxes"`` in dict inputs.

  Returns:
    A random :class:`~prepro_core.Transform` whose ``fusion`` is its geometry.

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    >>> t = pc.random_rotation((0.25, 0.25))  # a quarter turn, anticlockwise
    >>> y = t.apply(t.init(x), x, key=jax.random.key(0))
    >>> bool(np.allclose(y[0, ..., 0], np.rot90(x[0, ..., 0]), atol=1e-4))
    True
  """
  where = "random_rotation"
  lo, hi = common.parse_factor(factor, "factor", where, min_value=-1.0,
                               max_value=1.0)
  fill_mode, interpolation, fill_value = _resampling_args(
      where, fill_mode, interpolation, fill_value)
  _check_bbox(bounding_box_format, where)

  def matrices(state, keys, height, width):
    del state
    angle = uniforms(keys, (lo * 360.0, hi * 360.0))[:, 0]
    return ops.rotation_matrices(angle, height, width)

  return geometric_transform(where, matrices, interpolation=interpolation,
                             fill_mode=fill_mode, fill_value=fill_value,
                             bounding_box_format=bounding_box_format)


def _zoom_factor(factor, argname, where):
  lo, hi = common.parse_factor(factor, argname, where, max_value=1.0)
  if lo <= -1.0:
    raise ValueError(
        f"{where}: `{argname}` values must be in (-1, 1] (a zoom of 1 + "
        f"factor), got {factor!r}.")
  return lo, hi


@transform_factory
def random_zoom(height_factor, width_factor=None, fill_mode: str = "reflect",
                interpolation: str = "bilinear", fill_value: float = 0.0,
                bounding_box_format: Optional[str] = None):
  """Randomly zooms images about their centre, like Keras' ``RandomZoom``.

  Args:
    height_factor: ``f`` or ``(lower, upper)`` in ``(-1, 1]``; the vertical
      zoom is drawn in ``[1 + lower, 1 + upper]`` (as Keras: positive values
      zoom out, negative values zoom in).
    width_factor: the same for the horizontal zoom; ``None`` zooms both axes
      by the vertical draw (keeping the aspect ratio).
    fill_mode: ``"reflect"``, ``"wrap"``, ``"constant"`` or ``"nearest"``.
    interpolation: ``"bilinear"`` or ``"nearest"``.
    fill_value: the value outside the image when ``fill_mode="constant"``.
    bounding_box_format: format of ``"bounding_boxes"`` in dict inputs.

  Returns:
    A random :class:`~prepro_core.Transform` whose ``fusion`` is its geometry.

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    >>> t = pc.random_zoom((-0.5, -0.5), interpolation="nearest")  # zoom in 2x
    >>> np.asarray(t.apply(t.init(x), x, key=jax.random.key(0)))[0, ..., 0]
    array([[ 5.,  5.,  6.,  6.],
           [ 5.,  5.,  6.,  6.],
           [ 9.,  9., 10., 10.],
           [ 9.,  9., 10., 10.]], dtype=float32)
  """
  where = "random_zoom"
  h_lo, h_hi = _zoom_factor(height_factor, "height_factor", where)
  w_range = (None if width_factor is None else
             _zoom_factor(width_factor, "width_factor", where))
  fill_mode, interpolation, fill_value = _resampling_args(
      where, fill_mode, interpolation, fill_value)
  _check_bbox(bounding_box_format, where)

  def matrices(state, keys, height, width):
    del state
    if w_range is None:
      zh = zw = uniforms(keys, (1.0 + h_lo, 1.0 + h_hi))[:, 0]
    else:
      z = uniforms(keys, (1.0 + h_lo, 1.0 + h_hi),
                    (1.0 + w_range[0], 1.0 + w_range[1]))
      zh, zw = z[:, 0], z[:, 1]
    return ops.zoom_matrices(zh, zw, height, width)

  return geometric_transform(where, matrices, interpolation=interpolation,
                             fill_mode=fill_mode, fill_value=fill_value,
                             bounding_box_format=bounding_box_format)


@transform_factory
def random_translation(height_factor, width_factor,
                       fill_mode: str = "reflect",
                       interpolation: str = "bilinear",
                       fill_value: float = 0.0,
                       bounding_box_format: Optional[str] = None):
  """Randomly shifts images, like Keras' ``RandomTranslation``.

  Args:
    height_factor: ``f`` or ``(lower, upper)`` in ``[-1, 1]``: the vertical
      shift is drawn in ``[lower * height, upper * height]`` pixels (positive
      moves the content down).
    width_factor: the same for the horizontal shift (positive moves right).
    fill_mode: ``"reflect"``, ``"wrap"``, ``"constant"`` or ``"nearest"``.
    interpolation: ``"bilinear"`` or ``"nearest"``.
    fill_value: the value outside the image when ``fill_mode="constant"``.
    bounding_box_format: format of ``"bounding_boxes"`` in dict inputs.

  Returns:
    A random :class:`~prepro_core.Transform` whose ``fusion`` is its geometry.

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    >>> t = pc.random_translation((0.25, 0.25), 0.0, fill_mode="constant",
    ...                           fill_value=-1.0)   # down by 1 row in 4
    >>> np.asarray(t.apply(t.init(x), x, key=jax.random.key(0)))[0, ..., 0]
    array([[-1., -1., -1., -1.],
           [ 0.,  1.,  2.,  3.],
           [ 4.,  5.,  6.,  7.],
           [ 8.,  9., 10., 11.]], dtype=float32)
  """
  where = "random_translation"
  h_lo, h_hi = common.parse_factor(height_factor, "height_factor", where,
                                   min_value=-1.0, max_value=1.0)
  w_lo, w_hi = common.parse_factor(width_factor, "width_factor", where,
                                   min_value=-1.0, max_value=1.0)
  fill_mode, interpolation, fill_value = _resampling_args(
      where, fill_mode, interpolation, fill_value)
  _check_bbox(bounding_box_format, where)

  def matrices(state, keys, height, width):
    del state
    t = uniforms(keys, (h_lo, h_hi), (w_lo, w_hi))
    ty = t[:, 0] * jnp.float32(height)
    tx = t[:, 1] * jnp.float32(width)
    return ops.translation_matrices(ty, tx)

  return geometric_transform(where, matrices, interpolation=interpolation,
                             fill_mode=fill_mode, fill_value=fill_value,
                             bounding_box_format=bounding_box_format)


@transform_factory
def random_shear(x_factor=0.0, y_factor=0.0, interpolation: str = "bilinear",
                 fill_mode: str = "reflect", fill_value: float = 0.0,
                 bounding_box_format: Optional[str] = None):
  """Randomly shears images, like Keras' ``RandomShear``.

  Each example draws ``sx`` in the ``x_factor`` range and ``sy`` in the
  ``y_factor`` range, and with probability 1/2 negates both (Keras' random
  direction). The output pixel ``(x, y)`` samples ``(x + sx * y, y + sy * x)``.

  Args:
    x_factor: ``f`` or ``(lower, upper)`` with values in ``[0, 1]``.
    y_factor: the same for the vertical shear.
    interpolation: ``"bilinear"`` or ``"nearest"``.
    fill_mode: ``"reflect"``, ``"wrap"``, ``"constant"`` or ``"nearest"``.
    fill_value: the value outside the image when ``fill_mode="constant"``.
    bounding_box_format: format of ``"bounding_boxes"`` in dict inputs.

  Returns:
    A random :class:`~prepro_core.Transform` whose ``fusion`` is its geometry.

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    >>> t = pc.random_shear(x_factor=(1.0, 1.0), interpolation="nearest",
    ...                     fill_mode="constant", fill_value=-1.0)
    >>> np.asarray(t.apply(t.init(x), x, key=jax.random.key(0)))[0, ..., 0]
    array([[ 0.,  1.,  2.,  3.],
           [-1.,  4.,  5.,  6.],
           [-1., -1.,  8.,  9.],
           [-1., -1., -1., 12.]], dtype=float32)
  """
  where = "random_shear"
  x_lo, x_hi = _unit_pair(x_factor, "x_factor", where)
  y_lo, y_hi = _unit_pair(y_factor, "y_factor", where)
  fill_mode, interpolation, fill_value = _resampling_args(
      where, fill_mode, interpolation, fill_value)
  _check_bbox(bounding_box_format, where)

  def matrices(state, keys, height, width):
    del state, height, width
    u = uniforms(keys, (0.0, 1.0), (y_lo, y_hi), (x_lo, x_hi))
    sign = jnp.where(u[:, 0] > 0.5, -1.0, 1.0)
    sy = u[:, 1] * sign
    sx = u[:, 2] * sign
    return ops.shear_matrices(sx, sy)

  return geometric_transform(where, matrices, interpolation=interpolation,
                             fill_mode=fill_mode, fill_value=fill_value,
                             bounding_box_format=bounding_box_format)


def _unit_pair(factor, argname, where):
  """Keras' shear factor: ``f`` -> ``(-f, f)``, elements in ``[0, 1]``."""
  if isinstance(factor, (tuple, list)):
    return common.parse_factor(factor, argname, where, min_value=0.0,
                               max_value=1.0)
  lo, hi = common.parse_factor(factor, argname, where, min_value=0.0,
                               max_value=1.0, symmetric=False)
  return -hi, hi


# ---------------------------------------------------------------------------
# random_perspective
# ---------------------------------------------------------------------------


@transform_factory
def random_perspective(factor=1.0, scale=1.0, interpolation: str = "bilinear",
                       fill_value: float = 0.0,
                       bounding_box_format: Optional[str] = None):
  """Random perspective warps, like Keras' ``RandomPerspective``.

  Each example is warped with probability ``p`` drawn in the ``factor`` range.
  The corners ``(0, 0), (w-1, 0), (0, h-1), (w-1, h-1)`` move to
  ``corner * (1 + d)`` with ``d`` uniform in ``[-scale/2, scale/2]`` per
  coordinate (so, as in Keras, the top-left corner stays put). Outside the
  image is ``fill_value``.

  Args:
    factor: ``f`` (``[0, f]``) or ``(lower, upper)`` in ``[0, 1]``: the
      probability of warping an example.
    scale: in ``[0, 1]``, the size of the corner displacements.
    interpolation: ``"bilinear"`` or ``"nearest"``.
    fill_value: the value outside the image.
    bounding_box_format: format of ``"bounding_boxes"`` in dict inputs.

  Returns:
    A random :class:`~prepro_core.Transform` whose ``fusion`` is its geometry.

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = 255 * np.random.default_rng(0).random((2, 8, 8, 3), np.float32)
    >>> t = pc.random_perspective(factor=(1.0, 1.0), scale=0.2)  # warp all
    >>> y = np.asarray(t.apply(t.init(x), x, key=jax.random.key(0)))
    >>> # The top-left corner stays put; the rest of the image moves.
    >>> bool(np.allclose(y[:, 0, 0], x[:, 0, 0])), bool((abs(y - x) > 1).any())
    (True, True)
  """
  where = "random_perspective"
  f_lo, f_hi = common.parse_factor(factor, "factor", where, min_value=0.0,
                                   max_value=1.0, symmetric=False)
  if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (
      0.0 <= scale <= 1.0):
    raise ValueError(
        f"{where}: `scale` must be a number in [0, 1], got {scale!r}.")
  scale = float(scale)
  interpolation = resampling.check_interpolation(interpolation, where)
  fill_value = resampling.check_fill_value(fill_value, where)
  _check_bbox(bounding_box_format, where)

  def matrices(state, keys, height, width):
    del state
    u = uniforms(keys, (f_lo, f_hi), (0.0, 1.0),
                  *[(-0.5 * scale, 0.5 * scale)] * 8)
    prob = u[:, 0]
    apply_it = u[:, 1] < prob
    d = u[:, 2:].reshape(-1, 4, 2)
    return ops.perspective_matrices(d, apply_it, height, width)

  return geometric_transform(where, matrices, interpolation=interpolation,
                             fill_mode="constant", fill_value=fill_value,
                             bounding_box_format=bounding_box_format,
                             projective=True)


# ---------------------------------------------------------------------------
# random_elastic_transform (not affine: no geometry)
# ---------------------------------------------------------------------------


# Over 80 lines only by its docstring; the body is wiring: checks, then
# closures over the module-level functions.
@transform_factory
def random_elastic_transform(factor=1.0, scale=1.0,
                             interpolation: str = "bilinear",
                             fill_mode: str = "reflect",
                             fill_value: float = 0.0,
                             value_range=(0, 255),
                             bounding_box_format: Optional[str] = None):
  """Random elastic distortions, like Keras' ``RandomElasticTransform``.

  Each example is distorted with probability ``p`` drawn in the ``factor``
  range. Its distortion ``d`` is drawn in the ``scale`` range; the
  displacement fields are Gaussian noise (std ``sigma``) blurred with a
  Gaussian of std ``sigma = 0.05 * d * min(h, w)`` and multiplied by
  ``alpha = 0.1 * d * max(h, w)``, as in Keras. The result is clipped to
  ``value_range``. Segmentation masks follow with nearest sampling; bounding
  boxes are not supported (the warp is not affine).

  Deviations from Keras (its JAX backend): the x and y fields are independent
  (Keras draws both from one seed, so they are equal), ``d`` is drawn per
  example (Keras: per batch), and the blur window is sized for the largest
  ``d`` so that shapes are static under ``jit``.

  Args:
    factor: ``f`` (``[0, f]``) or ``(lower, upper)`` in ``[0, 1]``.
    scale: ``s`` (``[0, s]``) or ``(lower, upper)`` in ``[0, 1]``.
    interpolation: ``"bilinear"`` or ``"nearest"``.
    fill_mode: ``"reflect"``, ``"wrap"``, ``"constant"`` or ``"nearest"``.
    fill_value: the value outside the image when ``fill_mode="constant"``.
    value_range: ``(low, high)`` the output is clipped to.
    bounding_box_format: accepted for signature parity; boxes raise.

  Returns:
    A random :class:`~prepro_core.Transform` (no ``fusion``).

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = 255 * np.random.default_rng(0).random((2, 8, 8, 3), np.float32)
    >>> t = pc.random_elastic_transform(factor=(1.0, 1.0), scale=0.5)
    >>> y = np.asarray(t.apply(t.init(x), x, key=jax.random.key(0)))
    >>> np.round(abs(y - x).max(axis=(1, 2, 3)), 2)   # largest change per image
    array([9.84, 0.49], dtype=float32)
    >>> t.apply(t.init(x), x) is x          # key=None: the identity
    True
  """
  where = "random_elastic_transform"
  f_lo, f_hi = common.parse_factor(factor, "factor", where, min_value=0.0,
                                   max_value=1.0, symmetric=False)
  s_lo, s_hi = common.parse_factor(scale, "scale", where, min_value=0.0,
                                   max_value=1.0, symmetric=False)
  fill_mode, interpolation, fill_value = _resampling_args(
      where, fill_mode, interpolation, fill_value)
  low, high = common.check_value_range(value_range, where)
  _check_bbox(bounding_box_format, where)

  def apply(state, x, key=None):
    del state
    x = common.check_inputs(x, where)
    key = check_key(key, where)
    if key is None or s_hi == 0.0 or f_hi == 0.0:
      return x
    return common.apply_batch(run, x, key)

  @jax.jit
  def run(x, key):
    images, rebuild = common.split_inputs(x, where)
    if isinstance(x, dict) and "bounding_boxes" in x:
      raise ValueError(
          f"{where}: bounding boxes are not supported (an elastic warp does "
          f"not keep boxes axis-aligned); drop 'bounding_boxes' first.")
    images4, unbatch = common.to_batch(images, where)
    batch, height, width, _ = images4.shape
    keys = common.example_keys(key, batch, like=images4)
    y_in, x_in, sel = _elastic_sampling(keys, (f_lo, f_hi), (s_lo, s_hi),
                                        height, width)
    warp = functools.partial(ops.resample_selected, y_in=y_in, x_in=x_in,
                             selected=sel, fill_mode=fill_mode,
                             fill_value=fill_value)
    parts = {}
    if isinstance(x, dict) and "segmentation_masks" in x:
      masks4, unbatch_m = common.masks_to_batch(x["segmentation_masks"],
                                                images.shape, where)
      parts["segmentation_masks"] = unbatch_m(
          warp(masks4, interpolation="nearest"))
    return rebuild(unbatch(warp(images4, interpolation=interpolation,
                                clip=(low, high))), **parts)

  return make_transform(where, init=common.stateless_init(where), apply=apply,
                        is_random=True, state_type=EmptyState)


def _elastic_sampling(keys: Array, factor, scale, height: int, width: int):
  """Each example's input coordinates ``(y_in, x_in)``, ``(batch, h, w)``,
  and whether it is distorted (``(batch, 1, 1, 1)`` bools)."""
  apply_it, alpha, sigma, noise = _elastic_draws(keys, factor, scale, height,
                                                 width)
  # The blur window is sized for the largest distortion: static under jit.
  kernel_size = int(6 * min(height, width) * 0.05 * scale[1]) | 1
  y_in, x_in = ops.elastic_coordinates(noise, alpha, sigma, kernel_size)
  return y_in, x_in, apply_it[:, None, None, None]


def _elastic_draws(keys: Array, factor, scale, height: int, width: int):
  """Per example: whether it is distorted, ``alpha``, ``sigma`` and the
  ``(batch, 2, h, w)`` noise fields (std ``sigma``), Keras' formulas."""
  batch = keys.shape[0]
  k = jax.vmap(lambda k: jax.random.split(k, 2))(keys)
  u = uniforms(k[:, 0], factor, (0.0, 1.0), scale)
  prob, d = u[:, 0], u[:, 2]
  apply_it = u[:, 1] < prob
  alpha = max(height, width) * 0.1 * d
  sigma = min(height, width) * 0.05 * d
  # Drawn flat: the same numbers as a (2, h, w) draw (threefry counts
  # along the flattened shape), for far less XLA compile time.
  noise = jax.vmap(lambda kk: jax.random.normal(
      kk, (2 * height * width,), jnp.float32))(k[:, 1]).reshape(
          batch, 2, height, width)
  return apply_it, alpha, sigma, noise * sigma[:, None, None, None]
