"""Resizing and cropping: Keras' Resizing, CenterCrop and RandomCrop.

All three change the image size; none has a ``fusion`` (they do not fuse
with the same-size geometric transforms). Resampling uses
``jax.image.resize``, exactly what Keras' JAX backend calls, so float outputs
match Keras. Integer images come back in their dtype, rounded (half to even)
and clipped, as Keras' ``Resizing`` does (Keras' crops return ``float32``;
here they keep the input dtype).
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import jax
import jax.numpy as jnp

from prepro_core._src.core.checks import check_choice
from prepro_core._src.core.checks import check_key
from prepro_core._src.core.checks import check_positive_int
from prepro_core._src.core.factory import transform_factory
from prepro_core._src.core.transform import EmptyState
from prepro_core._src.core.transform import make_transform
from prepro_core._src.image import common

Array = Any

RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "lanczos3",
                         "lanczos5")


def _aspect_crop_box(height: int, width: int, target_h: int,
                     target_w: int) -> Tuple[int, int, int, int]:
  """Keras' centred crop window with the target's aspect ratio:
  ``(h_start, w_start, crop_h, crop_w)``."""
  crop_h = int(float(width * target_h) / target_w)
  crop_h = max(min(height, crop_h), 1)
  crop_w = int(float(height * target_w) / target_h)
  crop_w = max(min(width, crop_w), 1)
  return (int(float(height - crop_h) / 2), int(float(width - crop_w) / 2),
          crop_h, crop_w)


def _resize4(images4: Array, size: Tuple[int, int], method: str,
             antialias: bool) -> Array:
  """``jax.image.resize`` of a float NHWC batch to ``size``."""
  b, _, _, c = images4.shape
  return jax.image.resize(images4, (b, size[0], size[1], c), method=method,
                          antialias=antialias)


def _resize_structure(x: Any, where: str, size: Tuple[int, int],
                      interpolation: str, antialias: bool,
                      crop_to_aspect_ratio: bool, pad_to_aspect_ratio: bool,
                      fill_value: float, bounding_box_format: Optional[str]):
  images, rebuild = common.split_inputs(x, where)
  images4, unbatch = common.to_batch(images, where)
  _, height, width, _ = images4.shape
  th, tw = size

  # The region of the (cropped or padded) input that is stretched to `size`,
  # in input pixels: rows [top, top + rh), cols [left, left + rw).
  if crop_to_aspect_ratio:
    top, left, rh, rw = _aspect_crop_box(height, width, th, tw)
    pad_h = pad_w = 0
  elif pad_to_aspect_ratio:
    ph = max(height, int(float(width * th) / tw))
    pw = max(width, int(float(height * tw) / th))
    pad_h = int(float(ph - height) / 2)
    pad_w = int(float(pw - width) / 2)
    if pad_h > 0:
      pad_w = 0  # Keras pads one axis only, the height first.
    top, left = -pad_h, -pad_w
    rh, rw = height + 2 * pad_h, width + 2 * pad_w
  else:
    top, left, rh, rw, pad_h, pad_w = 0, 0, height, width, 0, 0

  def resize(imgs4, method):
    f = common.to_float(imgs4)
    if crop_to_aspect_ratio:
      f = f[:, top:top + rh, left:left + rw]
    elif pad_h or pad_w:
      f = jnp.pad(f, ((0, 0), (pad_h, pad_h), (pad_w, pad_w), (0, 0)),
                  constant_values=jnp.asarray(fill_value, f.dtype))
    return common.restore_dtype(_resize4(f, size, method, antialias),
                                imgs4.dtype)

  parts = {}
  if isinstance(x, dict):
    if "segmentation_masks" in x:
      masks4, unbatch_m = common.masks_to_batch(x["segmentation_masks"],
                                                images.shape, where)
      parts["segmentation_masks"] = unbatch_m(resize(masks4, "nearest"))
    if "bounding_boxes" in x:
      fmt = common.require_box_format(bounding_box_format, where)
      sy, sx = th / rh, tw / rw
      parts["bounding_boxes"] = common.map_boxes(
          x["bounding_boxes"], fmt, (height, width), size,
          lambda px, py: ((px - left) * sx, (py - top) * sy),
          batched=len(images.shape) == 4, where=where)
  return rebuild(unbatch(resize(images4, interpolation)), **parts)


@transform_factory
def resizing(height: int, width: int, interpolation: str = "bilinear",
             crop_to_aspect_ratio: bool = False,
             pad_to_aspect_ratio: bool = False, fill_mode: str = "constant",
             fill_value: float = 0.0, antialias: bool = False,
             bounding_box_format: Optional[str] = None):
  """Resizes images to ``(height, width)``, like Keras' ``Resizing``.

  Args:
    height: output height, an int >= 1.
    width: output width, an int >= 1.
    interpolation: ``"bilinear"``, ``"nearest"``, ``"bicubic"``,
      ``"lanczos3"`` or ``"lanczos5"``.
    crop_to_aspect_ratio: first crop the largest centred window with the
      target aspect ratio (no distortion).
    pad_to_aspect_ratio: first pad the short side evenly with ``fill_value``
      to the target aspect ratio (no distortion).
    fill_mode: only ``"constant"`` (as Keras).
    fill_value: padding value for ``pad_to_aspect_ratio``.
    antialias: filter when downsampling (``jax.image.resize``'s antialias).
    bounding_box_format: format of ``"bounding_boxes"`` in dict inputs.

  Returns:
    A deterministic :class:`~prepro_core.Transform`.

  Example:
    >>> import numpy as np, prepro_core as pc
    >>> x = 255 * np.random.default_rng(0).random((2, 8, 8, 3), np.float32)
    >>> t = pc.resizing(16, 16)
    >>> state = t.init(x)
    >>> t.apply(state, x).shape, t.apply(state, x[0]).shape  # a batch, an image
    ((2, 16, 16, 3), (16, 16, 3))
  """
  where = "resizing"
  height = check_positive_int(height, "height", where)
  width = check_positive_int(width, "width", where)
  check_choice(interpolation, "interpolation", RESIZE_INTERPOLATIONS, where)
  check_choice(fill_mode, "fill_mode", ("constant",), where)
  if crop_to_aspect_ratio and pad_to_aspect_ratio:
    raise ValueError(
        f"{where}: only one of `crop_to_aspect_ratio` and "
        f"`pad_to_aspect_ratio` can be True.")
  if isinstance(fill_value, bool) or not isinstance(fill_value, (int, float)):
    raise TypeError(f"{where}: `fill_value` must be a number, got "
                    f"{fill_value!r}.")
  common.check_box_format(bounding_box_format, where)

  # One compiled program per input shape: eager calls then cost one dispatch
  # instead of one per primitive.
  @jax.jit
  def run(x):
    return _resize_structure(x, where, (height, width), interpolation,
                             bool(antialias), bool(crop_to_aspect_ratio),
                             bool(pad_to_aspect_ratio), float(fill_value),
                             bounding_box_format)

  def apply(state, x, key=None):
    del state, key
    return common.apply_batch(run, common.check_inputs(x, where))

  return make_transform(where, init=common.stateless_init(where), apply=apply,
                        state_type=EmptyState)


def _center_crop_structure(x: Any, where: str, size: Tuple[int, int],
                           bounding_box_format: Optional[str]):
  images = common.as_images(x["images"] if isinstance(x, dict) else x, where)
  height, width = images.shape[-3], images.shape[-2]
  th, tw = size
  if height < th or width < tw:
    # Keras: an image smaller than the crop is resized (smart_resize).
    return _resize_structure(x, where, size, "bilinear", False, True, False,
                             0.0, bounding_box_format)
  return _crop_structure(x, where, size, None, bounding_box_format)


def _crop_structure(x: Any, where: str, size: Tuple[int, int],
                    offsets: Optional[Array],
                    bounding_box_format: Optional[str]):
  """Crops ``size`` at per-example ``offsets`` ``(batch, 2)`` (centre when
  None) from images (and masks, boxes) at least that large."""
  images, rebuild = common.split_inputs(x, where)
  images4, unbatch = common.to_batch(images, where)
  batch, height, width, _ = images4.shape
  th, tw = size
  centre = offsets is None
  if centre:
    cy, cx = (height - th) // 2, (width - tw) // 2
    offsets = jnp.broadcast_to(jnp.asarray([cy, cx], jnp.int32), (batch, 2))

  def crop(imgs4):
    if centre:  # static window: a plain slice
      return imgs4[:, cy:cy + th, cx:cx + tw]
    c = imgs4.shape[-1]
    # vmap needs the offsets' batch axis sharded like the images'.
    return jax.vmap(lambda im, o: jax.lax.dynamic_slice(
        im, (o[0], o[1], 0), (th, tw, c)))(
            imgs4, common.shard_batch_like(offsets, imgs4))

  parts = {}
  if isinstance(x, dict):
    if "segmentation_masks" in x:
      masks4, unbatch_m = common.masks_to_batch(x["segmentation_masks"],
                                                images.shape, where)
      parts["segmentation_masks"] = unbatch_m(crop(masks4))
    if "bounding_boxes" in x:
      fmt = common.require_box_format(bounding_box_format, where)
      oy = offsets[:, 0].astype(jnp.float32)[:, None, None]
      ox = offsets[:, 1].astype(jnp.float32)[:, None, None]
      parts["bounding_boxes"] = common.map_boxes(
          x["bounding_boxes"], fmt, (height, width), size,
          lambda px, py: (px - ox, py - oy),
          batched=len(images.shape) == 4, where=where)
  return rebuild(unbatch(crop(images4)), **parts)


@transform_factory
def center_crop(height: int, width: int,
                bounding_box_format: Optional[str] = None):
  """Crops the centre ``(height, width)`` window, like Keras' ``CenterCrop``.

  An image smaller than the crop in either dimension is instead resized to
  ``(height, width)`` after cropping its centre to the target aspect ratio
  (Keras' ``smart_resize``, bilinear).

  Args:
    height: crop height, an int >= 1.
    width: crop width, an int >= 1.
    bounding_box_format: format of ``"bounding_boxes"`` in dict inputs.

  Returns:
    A deterministic :class:`~prepro_core.Transform`.

  Example:
    >>> import numpy as np, prepro_core as pc
    >>> x = 255 * np.random.default_rng(0).random((2, 8, 8, 3), np.float32)
    >>> t = pc.center_crop(4, 4)
    >>> y = t.apply(t.init(x), x)
    >>> y.shape, bool((np.asarray(y) == x[:, 2:6, 2:6]).all())
    ((2, 4, 4, 3), True)
  """
  where = "center_crop"
  height = check_positive_int(height, "height", where)
  width = check_positive_int(width, "width", where)
  common.check_box_format(bounding_box_format, where)

  @jax.jit  # one compiled program per input shape
  def run(x):
    return _center_crop_structure(x, where, (height, width),
                                  bounding_box_format)

  def apply(state, x, key=None):
    del state, key
    return common.apply_batch(run, common.check_inputs(x, where))

  return make_transform(where, init=common.stateless_init(where), apply=apply,
                        state_type=EmptyState)


@transform_factory
def random_crop(height: int, width: int,
                bounding_box_format: Optional[str] = None):
  """Randomly crops ``(height, width)`` windows, like Keras' ``RandomCrop``.

  With a key, each example gets its own uniformly drawn offset. With
  ``key=None`` (inference) the centre window is taken, so the output shape
  is the same in training and inference (deviation: Keras returns the input
  unchanged at inference). An image smaller than the crop in either
  dimension is resized as :func:`center_crop` does, as Keras does.
  Deviation: where Keras only randomizes when the image is strictly larger
  in both dimensions, offsets here are random along every dimension with
  room to move.

  Args:
    height: crop height, an int >= 1.
    width: crop width, an int >= 1.
    bounding_box_format: format of ``"bounding_boxes"`` in dict inputs.

  Returns:
    A random :class:`~prepro_core.Transform`.

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = 255 * np.random.default_rng(0).random((2, 8, 8, 3), np.float32)
    >>> t = pc.random_crop(4, 4)
    >>> t.apply(t.init(x), x, key=jax.random.key(0)).shape  # a random window
    (2, 4, 4, 3)
    >>> y = t.apply(t.init(x), x)           # key=None: the centre window
    >>> bool((np.asarray(y) == x[:, 2:6, 2:6]).all())
    True
  """
  where = "random_crop"
  height = check_positive_int(height, "height", where)
  width = check_positive_int(width, "width", where)
  common.check_box_format(bounding_box_format, where)

  @jax.jit  # inference: the centre window
  def centre(x):
    return _center_crop_structure(x, where, (height, width),
                                  bounding_box_format)

  def apply(state, x, key=None):
    del state
    x = common.check_inputs(x, where)
    key = check_key(key, where)
    if key is None:
      return common.apply_batch(centre, x)
    return common.apply_batch(run, x, key)

  # One compiled program per input shape (also gives eager calls on
  # explicitly sharded inputs their mesh).
  @jax.jit
  def run(x, key):
    images = common.as_images(x["images"] if isinstance(x, dict) else x,
                              where)
    shape = images.shape
    in_h, in_w = shape[-3], shape[-2]
    if in_h < height or in_w < width:
      return _center_crop_structure(x, where, (height, width),
                                    bounding_box_format)
    batch = shape[0] if len(shape) == 4 else 1
    keys = common.example_keys(key, batch,
                               like=images if len(shape) == 4 else None)
    u = jax.vmap(lambda k: jax.random.uniform(k, (2,), jnp.float32))(keys)
    room = jnp.asarray([in_h - height + 1, in_w - width + 1], jnp.float32)
    offsets = jnp.minimum(jnp.floor(u * room).astype(jnp.int32),
                          (room - 1).astype(jnp.int32))
    return _crop_structure(x, where, (height, width), offsets,
                           bounding_box_format)

  return make_transform(where, init=common.stateless_init(where), apply=apply,
                        is_random=True, state_type=EmptyState)
