"""Colour and pixel-value augmentations (Keras 3's colour layers).

Every transform here is a factory with Keras' argument names and defaults that
returns a :class:`~prepro_core.Transform`. Images are HWC or NHWC, float or
integer; the result has the input's shape and dtype (integer images are
computed in ``float32`` and rounded back, see ``common``).

Value ranges: colour transforms take ``value_range=(low, high)`` (Keras'
default ``(0, 255)``), the range the pixels are in, and clip their output to it
as Keras does.

Randomness: ``apply(state, x, key=key)`` draws each example's parameters from
``example_keys(key, batch)[i]`` (so a single HWC image is a batch of one);
``key=None`` is inference. As in Keras, the augmentation layers (including
``solarization`` and ``equalization``) are the identity at inference, while
``auto_contrast`` applies always.

The deterministic ops (``adjust_*``, ``posterize``, ``solarize``...) live in
``color_ops``; here each ``*_kernel`` draws Keras' parameters per example and
calls one, and each factory wraps its kernel with
``factories.image_transform``. The policies (``rand_augment``, ``aug_mix``)
reuse the kernels and draws.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from prepro_core._src.core.factory import transform_factory
from prepro_core._src.core.transform import Transform
from prepro_core._src.image import color_ops as ops
from prepro_core._src.image import common
from prepro_core._src.image.factories import coin
from prepro_core._src.image.factories import image_transform
from prepro_core._src.image.factories import per_example
from prepro_core._src.image.factories import span
from prepro_core._src.image.factories import uniform
from prepro_core._src.image.factories import unit_draws

# ---------------------------------------------------------------------------
# Parameter draws (Keras' distributions), shared with the policies.
# ---------------------------------------------------------------------------


def draw_hue_delta(keys, factor):
  """Keras: ``±U[factor] / 2``, the sign a fair coin."""
  u = unit_draws(keys, 2)
  sign = jnp.where(u[:, 0] > 0.5, -1.0, 1.0)
  return sign * span(u[:, 1], *factor) * 0.5


def draw_saturation_scale(keys, factor):
  """Keras: ``f / (1 - f + eps)`` with ``f ~ U[factor]`` (0.5 -> 1)."""
  f = uniform(keys, *factor)
  return f / (1.0 - f + 1e-7)


def draw_posterization_bits(keys, factor):
  """Keras: ``randint[lower, upper)`` bits, or ``lower`` when pinned."""
  lower, upper = int(factor[0]), int(factor[1])
  if lower == upper:
    return jnp.full((keys.shape[0],), float(lower), jnp.float32)
  u = unit_draws(keys, 1)[:, 0]
  return jnp.minimum(lower + jnp.floor(u * (upper - lower)), upper - 1)


def draw_solarization(keys, addition_factor, threshold_factor):
  """``(addition, threshold)`` in [0, 255] units, per example."""
  u = unit_draws(keys, 2)
  return (span(u[:, 0], addition_factor[0] * 255.0, addition_factor[1] * 255.0),
          span(u[:, 1], threshold_factor[0] * 255.0,
               threshold_factor[1] * 255.0))


# ---------------------------------------------------------------------------
# The transforms.
# ---------------------------------------------------------------------------


@transform_factory
def random_brightness(factor, value_range=(0, 255)) -> Transform:
  """Adds a random per-image offset to every pixel (Keras' RandomBrightness).

  Args:
    factor: a number ``f`` in [-1, 1] (offsets from ``U[-f, f]``) or a pair
      ``(lower, upper)`` in [-1, 1]; the offset is that fraction of the value
      range (-1 makes the image black, 1 white).
    value_range: ``(low, high)``, the pixels' range; the output is clipped
      to it.

  Returns:
    A random :class:`Transform`; ``key=None`` is the identity.

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = np.full((2, 8, 8, 3), 128.0, np.float32)
    >>> t = pc.random_brightness(0.2)       # offsets in [-0.2, 0.2] * 255
    >>> y = np.asarray(t.apply(t.init(x), x, key=jax.random.key(0)))
    >>> np.round(y[:, 0, 0, 0] - 128, 2), bool((y == y[:, :1, :1]).all())
    (array([ 34.92, -50.26], dtype=float32), True)
  """
  where = "random_brightness"
  return image_transform(where, brightness_kernel(factor, value_range, where))


def brightness_kernel(factor, value_range, where, argname="factor"):
  """``kernel(images, keys)`` of :func:`random_brightness` (reused by the policies)."""
  factor = common.parse_factor(factor, argname, where, min_value=-1.0,
                               max_value=1.0)
  value_range = common.check_value_range(value_range, where)

  def kernel(images, keys):
    delta = uniform(keys, *factor) * (value_range[1] - value_range[0])
    return ops.adjust_brightness(images, delta, value_range)

  return kernel


@transform_factory
def random_contrast(factor, value_range=(0, 255)) -> Transform:
  """Scales each channel about its mean by a random factor (RandomContrast).

  Args:
    factor: ``f`` in [0, 1] or a pair ``(lower, upper)`` in [0, 1]; the
      contrast factor is drawn from ``U[1 - lower, 1 + upper]``. As in Keras,
      a single number ``f`` means ``(0, f)``, i.e. ``U[1, 1 + f]``.
    value_range: ``(low, high)``; the output is clipped to it.

  Returns:
    A random :class:`Transform`; ``key=None`` is the identity.

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = 64 + 128 * np.random.default_rng(0).random((2, 8, 8, 3), np.float32)
    >>> t = pc.random_contrast((0.2, 0.2))  # contrast factor in [0.8, 1.2]
    >>> y = np.asarray(t.apply(t.init(x), x, key=jax.random.key(0)))
    >>> np.round(y.std(axis=(1, 2)) / x.std(axis=(1, 2)), 3)[:, 0]  # per image
    array([1.137, 0.803], dtype=float32)
  """
  where = "random_contrast"
  return image_transform(where, contrast_kernel(factor, value_range, where))


def contrast_kernel(factor, value_range, where, argname="factor"):
  """``kernel(images, keys)`` of :func:`random_contrast` (reused by the policies)."""
  factor = common.parse_factor(factor, argname, where, min_value=0.0,
                               max_value=1.0)
  value_range = common.check_value_range(value_range, where)

  def kernel(images, keys):
    contrast = uniform(keys, 1.0 - factor[0], 1.0 + factor[1])
    return ops.adjust_contrast(images, contrast, value_range)

  return kernel


@transform_factory
def random_hue(factor, value_range=(0, 255)) -> Transform:
  """Rotates the hue of RGB images by a random amount (RandomHue).

  Args:
    factor: ``f`` in [0, 1] (amounts from ``U[0, f]``) or a pair in [0, 1];
      the hue moves by half that fraction of the colour circle, in a random
      direction. ``(f, f)`` pins the amount (the direction stays random).
    value_range: ``(low, high)``, the pixels' range.

  Returns:
    A random :class:`Transform`; ``key=None`` is the identity.

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = np.random.default_rng(0).random((2, 8, 8, 3), np.float32)
    >>> t = pc.random_hue(0.5, value_range=(0, 1))
    >>> y = np.asarray(t.apply(t.init(x), x, key=jax.random.key(0)))
    >>> # Colours change; each pixel's HSV value (its largest channel) stays.
    >>> bool(np.abs(y - x).max() > 0.1), bool(np.allclose(y.max(-1), x.max(-1)))
    (True, True)
  """
  where = "random_hue"
  return image_transform(where, hue_kernel(factor, value_range, where),
                         rgb=True)


# The factor ranges Keras accepts (shared by the ops and colour jitter).
_HUE_BOUNDS = dict(min_value=0.0, max_value=1.0)
_SATURATION_BOUNDS = dict(min_value=-1.0, max_value=1.0)


def hue_kernel(factor, value_range, where, argname="factor"):
  """``kernel(images, keys)`` of :func:`random_hue` (reused by the policies)."""
  factor = common.parse_factor(factor, argname, where, **_HUE_BOUNDS)
  value_range = common.check_value_range(value_range, where)

  def kernel(images, keys):
    return ops.adjust_hue(images, draw_hue_delta(keys, factor), value_range)

  return kernel


@transform_factory
def random_saturation(factor, value_range=(0, 255)) -> Transform:
  """Scales the HSV saturation of RGB images (RandomSaturation).

  Args:
    factor: a number ``f`` in [-1, 1] (``U[-f, f]``, as Keras parses it) or a
      pair in [-1, 1]; a draw ``v`` scales saturation by ``v / (1 - v)``:
      0.5 is a no-op, 0 (or less) is grayscale, 1 fully saturated.
    value_range: ``(low, high)``, the pixels' range.

  Returns:
    A random :class:`Transform`; ``key=None`` is the identity.

  Note: the scaled saturation is clipped to [0, 1]. Keras clips it to
  ``value_range`` instead, so with ``(0, 255)`` its strongly saturated pixels
  leave the range; both agree whenever the saturation stays within [0, 1].

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = 255 * np.random.default_rng(0).random((2, 8, 8, 3), np.float32)
    >>> t = pc.random_saturation((0.0, 0.0))    # v = 0: saturation 0, gray
    >>> y = np.asarray(t.apply(t.init(x), x, key=jax.random.key(0)))
    >>> bool(np.allclose(y, x.max(-1, keepdims=True), atol=1e-3))  # = HSV value
    True
  """
  where = "random_saturation"
  return image_transform(where, saturation_kernel(factor, value_range, where),
                         rgb=True)


def saturation_kernel(factor, value_range, where, argname="factor"):
  """``kernel(images, keys)`` of :func:`random_saturation` (reused by the policies)."""
  factor = common.parse_factor(factor, argname, where, **_SATURATION_BOUNDS)
  value_range = common.check_value_range(value_range, where)

  def kernel(images, keys):
    return ops.adjust_saturation(images, draw_saturation_scale(keys, factor),
                                 value_range)

  return kernel


@transform_factory
def random_sharpness(factor, value_range=(0, 255)) -> Transform:
  """Sharpens or blurs by a random amount (RandomSharpness).

  Args:
    factor: ``f`` in [0, 1] (``U[0, f]``) or a pair in [0, 1]; a draw ``v``
      blends with a smoothed image by ``1 - 2v``: 0.5 is a no-op, 0 blurs,
      1 sharpens.
    value_range: ``(low, high)``; the output is clipped to it.

  Returns:
    A random :class:`Transform`; ``key=None`` is the identity.

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = np.zeros((1, 5, 5, 1), np.float32); x[0, 2, 2] = 100.0  # one dot
    >>> t = pc.random_sharpness((1.0, 1.0))     # v = 1: sharpen fully
    >>> y = t.apply(t.init(x), x, key=jax.random.key(0))
    >>> np.round(np.asarray(y)[0, 1:4, 1:4, 0], 2)
    array([[  0.  ,   0.  ,   0.  ],
           [  0.  , 161.54,   0.  ],
           [  0.  ,   0.  ,   0.  ]], dtype=float32)
  """
  where = "random_sharpness"
  return image_transform(where, sharpness_kernel(factor, value_range, where))


def sharpness_kernel(factor, value_range, where):
  """``kernel(images, keys)`` of :func:`random_sharpness` (reused by the policies)."""
  factor = common.parse_factor(factor, "factor", where, min_value=0.0,
                               max_value=1.0)
  value_range = common.check_value_range(value_range, where)

  def kernel(images, keys):
    return ops.adjust_sharpness(images, 2.0 * uniform(keys, *factor),
                                value_range)

  return kernel


@transform_factory
def random_color_degeneration(factor, value_range=(0, 255)) -> Transform:
  """Blends RGB images towards their grayscale (RandomColorDegeneration).

  Args:
    factor: ``f`` in [-1, 1] (``U[-f, f]``) or a pair in [-1, 1]; a draw ``v``
      gives ``x + v (gray - x)``: 0 is a no-op, 1 fully grayscale, negative
      values oversaturate.
    value_range: ``(low, high)``; the output is clipped to it.

  Returns:
    A random :class:`Transform`; ``key=None`` is the identity.

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = np.array([[[[200.0, 100.0, 0.0]]]], np.float32)  # gray: 118.48
    >>> t = pc.random_color_degeneration((0.5, 0.5))  # v = 0.5: half-way
    >>> y = t.apply(t.init(x), x, key=jax.random.key(0))
    >>> np.round(np.asarray(y), 2)
    array([[[[159.24, 109.24,  59.24]]]], dtype=float32)
  """
  where = "random_color_degeneration"
  return image_transform(
      where, color_degeneration_kernel(factor, value_range, where), rgb=True)


def color_degeneration_kernel(factor, value_range, where):
  """``kernel(images, keys)`` of :func:`random_color_degeneration` (reused by the policies)."""
  factor = common.parse_factor(factor, "factor", where, min_value=-1.0,
                               max_value=1.0)
  value_range = common.check_value_range(value_range, where)

  def kernel(images, keys):
    return ops.adjust_color_degeneration(images, uniform(keys, *factor),
                                         value_range)

  return kernel


@transform_factory
def random_color_jitter(value_range=(0, 255),
                        brightness_factor=None,
                        contrast_factor=None,
                        saturation_factor=None,
                        hue_factor=None) -> Transform:
  """Brightness, contrast, saturation then hue, each optional (RandomColorJitter).

  Args:
    value_range: ``(low, high)``, the pixels' range.
    brightness_factor: as :func:`random_brightness`'s ``factor``, or None to
      skip it.
    contrast_factor: as :func:`random_contrast`'s ``factor``, or None.
    saturation_factor: as :func:`random_saturation`'s ``factor``, or None.
    hue_factor: as :func:`random_hue`'s ``factor``, or None.

  Returns:
    A random :class:`Transform`; ``key=None`` is the identity. Each part
    draws from its own sub-key.

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), np.uint8)
    >>> t = pc.random_color_jitter(brightness_factor=0.2, hue_factor=0.1)
    >>> y = np.asarray(t.apply(t.init(x), x, key=jax.random.key(0)))
    >>> y.shape, y.dtype, bool((y != x).any())     # uint8 in, uint8 out
    ((2, 8, 8, 3), dtype('uint8'), True)
  """
  where = "random_color_jitter"
  value_range = common.check_value_range(value_range, where)
  parts = []
  if brightness_factor is not None:
    parts.append(brightness_kernel(brightness_factor, value_range, where,
                                    "brightness_factor"))
  if contrast_factor is not None:
    parts.append(contrast_kernel(contrast_factor, value_range, where,
                                  "contrast_factor"))
  saturation = hue = None
  if saturation_factor is not None:
    saturation = common.parse_factor(saturation_factor, "saturation_factor",
                                     where, **_SATURATION_BOUNDS)
  if hue_factor is not None:
    hue = common.parse_factor(hue_factor, "hue_factor", where, **_HUE_BOUNDS)
  rgb = saturation is not None or hue is not None
  n_keys = len(parts) + (saturation is not None) + (hue is not None)

  def kernel(images, keys):
    # Each of the four steps draws from its own per-example keys.
    step_keys = list(per_example(keys, max(n_keys, 1)))
    for part in parts:
      images = part(images, step_keys.pop(0))
    if rgb:
      # Saturation and hue share one HSV round trip.
      scale = None if saturation is None else draw_saturation_scale(
          step_keys.pop(0), saturation)
      delta = None if hue is None else draw_hue_delta(step_keys.pop(0), hue)
      images = ops.adjust_saturation_and_hue(images, scale, delta, value_range)
    return images

  return image_transform(where, kernel, rgb=rgb)


@transform_factory
def random_grayscale(factor=0.5) -> Transform:
  """Turns RGB images to grayscale (kept in 3 channels) with probability
  ``factor`` (RandomGrayscale).

  Args:
    factor: the probability, in [0, 1].

  Returns:
    A random :class:`Transform`; ``key=None`` is the identity.

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = 255 * np.random.default_rng(0).random((2, 8, 8, 3), np.float32)
    >>> t = pc.random_grayscale(1.0)            # every image
    >>> y = np.asarray(t.apply(t.init(x), x, key=jax.random.key(0)))
    >>> y.shape, bool((y == y[..., :1]).all())  # three equal channels
    ((2, 8, 8, 3), True)
  """
  where = "random_grayscale"
  if isinstance(factor, bool) or not isinstance(factor, (int, float, np.number)):
    raise ValueError(f"{where}: `factor` must be a number in [0, 1], got "
                     f"{factor!r}.")
  if not 0.0 <= float(factor) <= 1.0:
    raise ValueError(f"{where}: `factor` must be a number in [0, 1], got "
                     f"{factor!r}.")
  p = float(factor)

  def kernel(images, keys):
    return ops.grayscale_where(images, uniform(keys, 0.0, 1.0) < p)

  return image_transform(where, kernel, rgb=True)


@transform_factory
def random_invert(factor=1.0, value_range=(0, 255)) -> Transform:
  """Inverts images (``high - x``) at random (RandomInvert).

  Args:
    factor: ``f`` in [0, 1] or a pair in [0, 1]. As in Keras, each example
      draws a probability ``p ~ U[factor]`` (a number ``f`` means ``(0, f)``)
      and is inverted when ``U[0, 1) < p``: the default 1.0 inverts half the
      images; ``(1, 1)`` inverts all.
    value_range: ``(low, high)``; inversion is ``high - x`` (Keras' formula,
      which is ``low + high - x`` only when ``low = 0``).

  Returns:
    A random :class:`Transform`; ``key=None`` is the identity.

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = np.array([[[[0.0, 100.0, 255.0]]]], np.float32)
    >>> t = pc.random_invert((1.0, 1.0))        # invert every image
    >>> np.asarray(t.apply(t.init(x), x, key=jax.random.key(0)))
    array([[[[255., 155.,   0.]]]], dtype=float32)
  """
  where = "random_invert"
  factor = common.parse_factor(factor, "factor", where, min_value=0.0,
                               max_value=1.0)
  value_range = common.check_value_range(value_range, where)

  def kernel(images, keys):
    u = unit_draws(keys, 2)
    return ops.invert_where(images, coin(u[:, 0], u[:, 1], *factor),
                            value_range)

  return image_transform(where, kernel)


def _parse_bits(factor, where):
  msg = (f"{where}: `factor` must be an int in [1, 8] or a pair of ints in "
         f"[1, 8] (bits kept per channel), got {factor!r}.")
  values = factor if isinstance(factor, (tuple, list)) else (factor,)
  for v in values:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
      raise ValueError(msg)
    if not 1 <= v <= 8:
      raise ValueError(msg)
  return common.parse_factor(factor, "factor", where, min_value=1.0,
                             max_value=8.0)


@transform_factory
def random_posterization(factor, value_range=(0, 255)) -> Transform:
  """Reduces each channel to a random number of bits (RandomPosterization).

  Args:
    factor: an int ``n`` in [1, 8] (bits drawn from ``[1, n)``, Keras'
      ``randint``) or a pair ``(lower, upper)`` of ints in [1, 8] (bits drawn
      from ``[lower, upper)``; ``(n, n)`` pins ``n`` bits).
    value_range: ``(low, high)``, the pixels' range.

  Returns:
    A random :class:`Transform`; ``key=None`` is the identity.

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = np.array([[[[7, 100, 255]]]], np.uint8)
    >>> t = pc.random_posterization((4, 4))     # keep the top 4 bits
    >>> y = t.apply(t.init(x), x, key=jax.random.key(0))
    >>> np.asarray(y).ravel().tolist()
    [0, 96, 240]
  """
  where = "random_posterization"
  return image_transform(where, posterization_kernel(factor, value_range,
                                                     where))


def posterization_kernel(factor, value_range, where):
  """``kernel(images, keys)`` of :func:`random_posterization` (reused by the policies)."""
  factor = _parse_bits(factor, where)
  value_range = common.check_value_range(value_range, where)

  def kernel(images, keys):
    return ops.posterize(images, draw_posterization_bits(keys, factor),
                         value_range)

  return kernel


def _parse_unit(factor, argname, where):
  """Solarization's factors: a number ``f`` in [0, 1] is ``(0, f)``."""
  return common.parse_factor(factor, argname, where, min_value=0.0,
                             max_value=1.0, symmetric=False)


@transform_factory
def solarization(addition_factor=0.0, threshold_factor=0.0,
                 value_range=(0, 255)) -> Transform:
  """Inverts the pixels above a threshold, after adding a value (Solarization).

  On the [0, 255] scale each example draws ``addition ~ 255 U[addition_factor]``
  and ``threshold ~ 255 U[threshold_factor]``; pixels become
  ``y = clip(x + addition, 0, 255)`` when ``y < threshold``, else ``255 - y``.
  The defaults (threshold 0) invert every pixel.

  Args:
    addition_factor: ``f`` in [0, 1] (``(0, f)``) or a pair in [0, 1].
    threshold_factor: ``f`` in [0, 1] (``(0, f)``) or a pair in [0, 1].
    value_range: ``(low, high)``, the pixels' range.

  Returns:
    A :class:`Transform` that applies with any ``key`` (training) and, as in
    Keras, is the identity with ``key=None`` (inference).

  Note: Keras draws from ``U[lower, 255 upper]`` (it does not scale the lower
  bound), so a pinned pair ``(f, f)`` is not pinned there; here both bounds are
  scaled by 255. The two agree when ``lower = 0``.

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = np.array([0.0, 100.0, 200.0, 255.0], np.float32).reshape(1, 1, 4, 1)
    >>> t = pc.solarization(threshold_factor=(0.5, 0.5))   # threshold 127.5
    >>> y = t.apply(t.init(x), x, key=jax.random.key(0))
    >>> np.asarray(y).ravel().tolist(), t.apply(t.init(x), x) is x  # key=None
    ([0.0, 100.0, 55.0, 0.0], True)
  """
  where = "solarization"
  return image_transform(where, solarization_kernel(
      addition_factor, threshold_factor, value_range, where))


def solarization_kernel(addition_factor, threshold_factor, value_range, where):
  """``kernel(images, keys)`` of :func:`solarization` (reused by the policies)."""
  addition_factor = _parse_unit(addition_factor, "addition_factor", where)
  threshold_factor = _parse_unit(threshold_factor, "threshold_factor", where)
  value_range = common.check_value_range(value_range, where)

  def kernel(images, keys):
    addition, threshold = draw_solarization(keys, addition_factor,
                                            threshold_factor)
    return ops.solarize(images, addition, threshold, value_range)

  return kernel


@transform_factory
def auto_contrast(value_range=(0, 255)) -> Transform:
  """Stretches each channel of each image to the full value range (AutoContrast).

  Deterministic, and applied at inference too, as in Keras.

  Args:
    value_range: ``(low, high)``, the pixels' range.

  Returns:
    A deterministic :class:`Transform` (``key`` is ignored).

  Example:
    >>> import numpy as np, prepro_core as pc
    >>> x = np.array([50.0, 100.0, 150.0], np.float32).reshape(1, 1, 3, 1)
    >>> t = pc.auto_contrast()
    >>> np.round(np.asarray(t.apply(t.init(x), x)), 4).ravel()
    array([  0. , 127.5, 255. ], dtype=float32)
  """
  where = "auto_contrast"
  value_range = common.check_value_range(value_range, where)

  def kernel(images, keys):
    del keys
    return ops.autocontrast(images, value_range)

  return image_transform(where, kernel, random=False)


@transform_factory
def equalization(value_range=(0, 255), bins=256) -> Transform:
  """Histogram-equalizes each channel of each image (Equalization).

  Args:
    value_range: ``(low, high)``, the pixels' range.
    bins: number of histogram bins over the range, an int >= 2.

  Returns:
    A :class:`Transform` that applies with any ``key`` (training) and, as in
    Keras, is the identity with ``key=None`` (inference). Deterministic: the
    key's value does not matter.

  Note: Keras builds one histogram per channel over the whole batch; here
  each image has its own (so an image's result does not depend on its
  batch-mates, and ``vmap`` equals batching). The two agree on a single image.

  Example:
    >>> import numpy as np, jax, prepro_core as pc
    >>> x = np.array([0.0, 10.0, 20.0, 30.0], np.float32).reshape(1, 2, 2, 1)
    >>> t = pc.equalization()
    >>> y = t.apply(t.init(x), x, key=jax.random.key(0))
    >>> np.asarray(y).ravel().tolist()
    [0.0, 85.0, 170.0, 255.0]
  """
  where = "equalization"
  value_range = common.check_value_range(value_range, where)
  if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2:
    raise ValueError(f"{where}: `bins` must be an int >= 2, got {bins!r}.")
  bins = int(bins)

  def kernel(images, keys):
    del keys
    return ops.equalize(images, value_range, bins)

  return image_transform(where, kernel)
