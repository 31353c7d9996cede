"""Tests for the colour/pixel transforms (prepro_core/_src/image/color.py) and
random_erasing / random_gaussian_blur (erasing_blur.py)."""
import os

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest

import prepro_core as pc
from prepro_core._src.image import color as C
from prepro_core._src.image import color_ops
from prepro_core._src.image import erasing_blur as EB
from prepro_core._src.image import factories

REC = np.load(os.path.join(os.path.dirname(__file__), "keras_records",
                           "images_color.npz"))
X255 = REC["x255"]   # (3, 8, 9, 3) float32 in [0, 255]
X01 = REC["x01"]     # the same / 255
KEY = jax.random.key(0)


def _input(case):
  return REC[str(REC[f"{case}/input_name"])]


def _close(a, b, tol):
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  assert a.shape == b.shape, (a.shape, b.shape)
  np.testing.assert_allclose(a, b, atol=tol, rtol=0)


def _tol(x):
  # ~1e-4 relative to the value range: float32 rounding on the 0..255 scale.
  return 1e-4 * (255.0 if np.max(np.asarray(x, np.float64)) > 1.5 else 1.0)


# --------------------------------------------------------------------------
# Keras parity (recorded on the JAX backend by keras_records/record_images_color.py)
# --------------------------------------------------------------------------

PINNED = {
    "brightness_pos": lambda: pc.random_brightness((0.3, 0.3)),
    "brightness_neg_unit": lambda: pc.random_brightness(
        (-0.4, -0.4), value_range=(0, 1)),
    "saturation_0.3": lambda: pc.random_saturation((0.3, 0.3)),
    "saturation_0.5": lambda: pc.random_saturation((0.5, 0.5)),
    "saturation_0.0": lambda: pc.random_saturation((0.0, 0.0)),
    "saturation_0.8_unit": lambda: pc.random_saturation(
        (0.8, 0.8), value_range=(0, 1)),
    "sharpness_0.2": lambda: pc.random_sharpness((0.2, 0.2)),
    "sharpness_0.9": lambda: pc.random_sharpness((0.9, 0.9)),
    "color_degeneration_0.5": lambda: pc.random_color_degeneration((0.5, 0.5)),
    "color_degeneration_-0.3": lambda: pc.random_color_degeneration(
        (-0.3, -0.3)),
    "grayscale_1": lambda: pc.random_grayscale(1.0),
    "invert_1": lambda: pc.random_invert((1.0, 1.0)),
    "invert_1_unit": lambda: pc.random_invert((1.0, 1.0), value_range=(0, 1)),
    "posterization_3": lambda: pc.random_posterization((3, 3)),
    "posterization_6_unit": lambda: pc.random_posterization(
        (6, 6), value_range=(0, 1)),
    "solarization_default": lambda: pc.solarization(),
    "auto_contrast": lambda: pc.auto_contrast(),
    "auto_contrast_unit": lambda: pc.auto_contrast(value_range=(0, 1)),
    "blur_k3_s0.7": lambda: pc.random_gaussian_blur(
        (1.0, 1.0), kernel_size=3, sigma=(0.7, 0.7)),
    "blur_k5_s0.9": lambda: pc.random_gaussian_blur(
        (1.0, 1.0), kernel_size=5, sigma=(0.9, 0.9)),
    "blur_k35_s0.5": lambda: pc.random_gaussian_blur(
        (1.0, 1.0), kernel_size=(3, 5), sigma=(0.5, 0.5)),
    "color_jitter_b0.2_s0.3": lambda: pc.random_color_jitter(
        value_range=(0, 255), brightness_factor=(0.2, 0.2),
        saturation_factor=(0.3, 0.3)),
    # Per-image histograms; Keras was run image by image (see the recorder).
    "equalization": lambda: pc.equalization(),
    "equalization_low": lambda: pc.equalization(),
    "equalization_bins64": lambda: pc.equalization(bins=64),
    "equalization_unit": lambda: pc.equalization(value_range=(0, 1)),
}


@pytest.mark.parametrize("case", sorted(PINNED))
def test_pinned_factors_match_keras(case):
  x = _input(case)
  t = PINNED[case]()
  y = t.apply(t.init(x), x, key=KEY)
  _close(y, REC[f"{case}/output"], _tol(x))


@pytest.mark.parametrize("case", ["posterization_5_u8", "auto_contrast_u8"])
def test_uint8_matches_keras_rounded(case):
  # Keras returns floats; prepro returns uint8 rounded half to even. The
  # recorded cases have no value at .5, so the results agree exactly.
  x = _input(case)
  t = {"posterization_5_u8": lambda: pc.random_posterization((5, 5)),
       "auto_contrast_u8": lambda: pc.auto_contrast()}[case]()
  y = t.apply(t.init(x), x, key=KEY)
  assert y.dtype == jnp.uint8
  expected = np.clip(np.round(REC[f"{case}/output"]), 0, 255)
  np.testing.assert_array_equal(np.asarray(y), expected)


def test_contrast_kernel_matches_keras():
  x = _input("contrast")
  y = jax.jit(color_ops.adjust_contrast, static_argnums=2)(
      jnp.asarray(x), jnp.asarray(REC["contrast/params"]), (0.0, 255.0))
  _close(y, REC["contrast/output"], _tol(x))


@pytest.mark.parametrize("case,vr", [("hue", (0.0, 255.0)),
                                     ("hue_unit", (0.0, 1.0))])
def test_hue_kernel_matches_keras(case, vr):
  x = _input(case)
  # Jitted: one compiled program instead of dozens of op-by-op ones.
  y = jax.jit(color_ops.adjust_hue, static_argnums=2)(
      jnp.asarray(x), jnp.asarray(REC[f"{case}/params"]), vr)
  _close(y, REC[f"{case}/output"], _tol(x))


@pytest.mark.parametrize("case,vr", [("solarization", (0.0, 255.0)),
                                     ("solarization_unit", (0.0, 1.0))])
def test_solarization_kernel_matches_keras(case, vr):
  x = _input(case)
  add, thr = REC[f"{case}/params"]
  y = color_ops.solarize(jnp.asarray(x), jnp.asarray(add), jnp.asarray(thr), vr)
  _close(y, REC[f"{case}/output"], _tol(x))


def test_solarization_pinned_threshold():
  # threshold_factor (0.5, 0.5) -> 127.5 on the 0..255 scale, no addition.
  t = pc.solarization(threshold_factor=(0.5, 0.5))
  y = np.asarray(t.apply(t.init(X255), X255, key=KEY))
  np.testing.assert_allclose(y, np.where(X255 < 127.5, X255, 255 - X255),
                             atol=1e-4)


def test_keras_docstring_brightness_example():
  # Keras' docstring: a delta of 0.1 * 255 is added to each channel.
  img = jnp.asarray([[[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]]],
                    jnp.float32)
  t = pc.random_brightness((0.1, 0.1))
  np.testing.assert_allclose(t.apply(t.init(img), img, key=KEY), img + 25.5,
                             atol=1e-5)


# --------------------------------------------------------------------------
# Semantics that Keras' records do not pin.
# --------------------------------------------------------------------------


def test_random_contrast_range_and_mean():
  t = pc.random_contrast((0.5, 0.5))   # U[0.5, 1.5]
  x = jnp.asarray(X01 * 100 + 50)
  y = np.asarray(t.apply(t.init(x), x, key=KEY))
  m = np.asarray(x).mean(axis=(1, 2), keepdims=True)
  f = ((y - m) / (np.asarray(x) - m)).reshape(3, -1)
  assert np.all(np.ptp(f, axis=1) < 1e-3)   # one factor per image
  assert np.all((f[:, 0] >= 0.5) & (f[:, 0] <= 1.5))


def test_random_hue_keeps_value_and_saturation():
  t = pc.random_hue((0.4, 0.4), value_range=(0, 1))
  y = t.apply(t.init(X01), X01, key=KEY)
  hx, hy = color_ops.rgb_to_hsv(jnp.asarray(X01)), color_ops.rgb_to_hsv(y)
  np.testing.assert_allclose(hy[..., 1:], hx[..., 1:], atol=1e-4)
  dh = np.mod(np.asarray(hy[..., 0] - hx[..., 0]), 1.0)
  assert np.all(np.isclose(dh, 0.2, atol=1e-3) | np.isclose(dh, 0.8, atol=1e-3))


def test_grayscale_probability_zero_and_one():
  x = jnp.asarray(X255)
  t0, t1 = pc.random_grayscale(0.0), pc.random_grayscale(1.0)
  np.testing.assert_array_equal(t0.apply(t0.init(x), x, key=KEY), x)
  y = np.asarray(t1.apply(t1.init(x), x, key=KEY))
  assert np.allclose(y[..., 0], y[..., 1]) and np.allclose(y[..., 1], y[..., 2])


def test_invert_default_factor_inverts_about_half():
  # Keras' rule: p ~ U[0, 1], invert when U[0, 1) < p: probability 1/2.
  x = jnp.full((400, 2, 2, 3), 10.0)
  t = pc.random_invert()
  y = np.asarray(t.apply(t.init(x), x, key=KEY))
  frac = np.mean(y[:, 0, 0, 0] == 245.0)
  assert 0.4 < frac < 0.6
  assert set(np.unique(y)) == {10.0, 245.0}


def test_posterization_levels():
  t = pc.random_posterization((2, 2))
  x = jnp.asarray(REC["xint"])
  y = np.asarray(t.apply(t.init(x), x, key=KEY))
  assert set(np.unique(y)) <= {0.0, 64.0, 128.0, 192.0}
  np.testing.assert_array_equal(y, (np.asarray(x).astype(np.uint8) >> 6) << 6)


def test_posterization_draws_in_keras_half_open_range():
  # factor 4 -> Keras' (1, 4): randint in [1, 4), so 1, 2 or 3 bits.
  bits = C.draw_posterization_bits(jax.random.split(KEY, 500), (1.0, 4.0))
  assert set(np.unique(np.asarray(bits)).tolist()) == {1.0, 2.0, 3.0}


def test_auto_contrast_stretches_and_keeps_flat_channels():
  x = jnp.asarray(REC["xlow"])
  t = pc.auto_contrast()
  y = np.asarray(t.apply(t.init(x), x))   # deterministic: no key needed
  assert np.allclose(y.min(axis=(1, 2))[[0, 2]], 0, atol=1e-3)
  assert np.allclose(y.max(axis=(1, 2))[[0, 2]], 255, atol=1e-3)
  np.testing.assert_array_equal(y[1, :, :, 2], 77.0)


def test_equalization_is_per_image():
  x = jnp.asarray(REC["xlow"])
  t = pc.equalization()
  batch = t.apply(t.init(x), x, key=KEY)
  for i in range(3):
    np.testing.assert_array_equal(batch[i], t.apply(t.init(x[i]), x[i], key=KEY))


def test_random_erasing_boxes_and_fill():
  x = jnp.full((64, 16, 20, 3), 100.0)
  t = pc.random_erasing(factor=(1.0, 1.0), scale=(0.1, 0.3),
                        fill_value=(0, 50, 255))
  y = np.asarray(t.apply(t.init(x), x, key=KEY))
  erased = y[..., 0] == 0
  np.testing.assert_array_equal(y[..., 1][erased], 50.0)
  np.testing.assert_array_equal(y[..., 2][erased], 255.0)
  for i in range(64):
    rows, cols = np.nonzero(erased[i])
    # a rectangle: every pixel of its bounding box is erased
    assert erased[i, rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()
    h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    assert np.sqrt(0.1) * 16 - 1.5 <= h <= np.sqrt(0.3) * 16 + 1.5
    assert np.sqrt(0.1) * 20 - 1.5 <= w <= np.sqrt(0.3) * 20 + 1.5
  # Noise fill (None) is clipped to the value range.
  t = pc.random_erasing(factor=(1.0, 1.0), value_range=(0, 1))
  y = np.asarray(t.apply(t.init(x / 100), x / 100, key=KEY))
  assert y.min() >= 0 and y.max() <= 1 and (y != 1.0).any()


def test_gaussian_blur_sigma_zero_limit_and_probability():
  x = jnp.asarray(X255)
  t = pc.random_gaussian_blur((1.0, 1.0), kernel_size=5, sigma=(0.0, 0.0))
  np.testing.assert_allclose(t.apply(t.init(x), x, key=KEY), x, atol=1e-3)
  t = pc.random_gaussian_blur((0.0, 0.0), sigma=(1.0, 1.0))
  np.testing.assert_array_equal(t.apply(t.init(x), x, key=KEY), x)


def test_blur_per_example_kernels_match_single_kernel():
  x = jnp.asarray(X255)
  s = jnp.asarray([0.5, 1.0, 2.0])
  blur = jax.jit(EB.blur, static_argnums=1)   # one program per batch size
  both = blur(x, (5, 3), s, s[::-1])
  for i in range(3):
    one = blur(x[i:i + 1], (5, 3), s[i:i + 1], s[::-1][i:i + 1])
    np.testing.assert_allclose(both[i], one[0], atol=1e-3)


# --------------------------------------------------------------------------
# Dtypes and shapes, gradients. (The randomness contract, eager == jit ==
# vmap and sharded, keys and inference: tests/test_transform_contract.py.)
# --------------------------------------------------------------------------

RANDOM = {
    "random_brightness": lambda: pc.random_brightness(0.3),
    "random_contrast": lambda: pc.random_contrast(0.5),
    "random_hue": lambda: pc.random_hue(0.5),
    "random_saturation": lambda: pc.random_saturation(0.8),
    "random_sharpness": lambda: pc.random_sharpness(0.9),
    "random_color_degeneration": lambda: pc.random_color_degeneration(0.8),
    "random_color_jitter": lambda: pc.random_color_jitter(
        brightness_factor=0.2, contrast_factor=0.5, saturation_factor=0.5,
        hue_factor=0.3),
    "random_grayscale": lambda: pc.random_grayscale(0.5),
    "random_invert": lambda: pc.random_invert(),
    "random_posterization": lambda: pc.random_posterization(6),
    "solarization": lambda: pc.solarization(0.5, 0.8),
    "equalization": lambda: pc.equalization(),
    "random_erasing": lambda: pc.random_erasing(),
    "random_gaussian_blur": lambda: pc.random_gaussian_blur(sigma=(0.5, 1.0)),
}


_MADE = {}


def _make(name):
  """One instance per transform, shared by the tests: each instance jits its
  kernel once, so tests with the same input shapes reuse the program."""
  if name not in _MADE:
    _MADE[name] = ALL[name]()
  return _MADE[name]


def test_auto_contrast_is_deterministic_and_applies_at_inference():
  t = pc.auto_contrast()
  assert not t.is_random
  x = jnp.asarray(REC["xlow"])
  a = t.apply(t.init(x), x)
  np.testing.assert_array_equal(a, t.apply(t.init(x), x, key=KEY))
  assert not np.allclose(a, x)


ALL = dict(RANDOM, auto_contrast=lambda: pc.auto_contrast())


# float32 is covered by test_transform_contract.py; uint8 for every transform,
# bfloat16 for one of each kind of kernel.
DTYPE_CASES = [(n, jnp.uint8) for n in sorted(ALL)] + [
    (n, jnp.bfloat16) for n in ("random_brightness", "random_hue",
                                "equalization", "random_gaussian_blur",
                                "random_sharpness")]


@pytest.mark.parametrize("name,dtype", DTYPE_CASES)
def test_dtype_and_shape_preserved(name, dtype):
  x = jnp.asarray(X255).astype(dtype)
  t = _make(name)
  s = t.init(jax.ShapeDtypeStruct(x.shape, x.dtype))
  y = t.apply(s, x, key=KEY)
  assert y.dtype == dtype and y.shape == x.shape


@pytest.mark.parametrize("name", sorted(ALL))
def test_single_image_and_dict_input(name):
  t = _make(name)
  x = jnp.asarray(X255[0])
  y = t.apply(t.init(x), {"images": x, "labels": jnp.ones(3)}, key=KEY)
  assert y["images"].shape == x.shape and y["images"].dtype == x.dtype
  np.testing.assert_array_equal(y["labels"], jnp.ones(3))
  # A single image is a batch of one.
  np.testing.assert_allclose(y["images"], t.apply(t.init(x), x[None],
                                                  key=KEY)[0], atol=1e-3)


def test_uint8_is_rounded_float_result():
  x = jnp.asarray(REC["xu8"])
  t = pc.random_brightness((0.1, 0.1))
  y8 = t.apply(t.init(x), x, key=KEY)
  yf = t.apply(t.init(x), x.astype(jnp.float32), key=KEY)
  np.testing.assert_array_equal(y8, np.clip(np.round(np.asarray(yf)), 0, 255))


DIFFERENTIABLE = ["random_brightness", "random_contrast", "random_hue",
                  "random_saturation", "random_sharpness",
                  "random_color_degeneration", "random_color_jitter",
                  "random_grayscale", "random_invert", "solarization",
                  "random_erasing", "random_gaussian_blur", "auto_contrast",
                  "random_posterization", "equalization"]


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_gradients_are_finite(name):
  t = _make(name)
  # Include grey and black pixels (hue/saturation's singular points).
  x = jnp.asarray(X255).at[0, :2].set(0.0).at[1, :2].set(128.0)
  s = t.init(x)
  # jit(grad): forward and backward in one compiled program.
  g = jax.jit(jax.grad(lambda v: jnp.sum(t.apply(s, v, key=KEY) ** 2)))(x)
  assert np.all(np.isfinite(np.asarray(g)))
  if name not in ("random_posterization", "equalization"):
    assert np.any(np.asarray(g) != 0)


# --------------------------------------------------------------------------
# Bad input.
# --------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: pc.random_brightness(1.5),
    lambda: pc.random_brightness((-2, 0)),
    lambda: pc.random_brightness("big"),
    lambda: pc.random_contrast(-0.2),
    lambda: pc.random_contrast((0.1, 1.5)),
    lambda: pc.random_hue(1.2),
    lambda: pc.random_saturation((0, 2)),
    lambda: pc.random_sharpness(-1),
    lambda: pc.random_color_degeneration((0.1, 0.2, 0.3)),
    lambda: pc.random_color_jitter(hue_factor=2.0),
    lambda: pc.random_grayscale(1.5),
    lambda: pc.random_grayscale((0.1, 0.2)),
    lambda: pc.random_invert(2.0),
    lambda: pc.random_posterization(0),
    lambda: pc.random_posterization(9),
    lambda: pc.random_posterization(2.5),
    lambda: pc.solarization(addition_factor=1.5),
    lambda: pc.solarization(threshold_factor=(-0.1, 0.5)),
    lambda: pc.equalization(bins=1),
    lambda: pc.random_erasing(factor=2.0),
    lambda: pc.random_erasing(scale=(0.5, 1.5)),
    lambda: pc.random_erasing(fill_value="red"),
    lambda: pc.random_gaussian_blur(kernel_size=4),
    lambda: pc.random_gaussian_blur(kernel_size=(3, 3, 3)),
    lambda: pc.random_gaussian_blur(sigma=-1.0),
    lambda: pc.random_gaussian_blur(factor=(0.5, 2.0)),
], ids=lambda f: "")
def test_bad_factors_raise(make):
  with pytest.raises(ValueError):
    make()


@pytest.mark.parametrize("vr", [(255, 0), (1, 1), (0,), "0-255", (0, "a")])
@pytest.mark.parametrize("make", [pc.random_brightness, pc.random_contrast,
                                  pc.random_hue, pc.random_saturation])
def test_bad_value_range_raises(make, vr):
  with pytest.raises(ValueError, match="value_range"):
    make(0.2, value_range=vr)


@pytest.mark.parametrize("make", [pc.auto_contrast, pc.equalization])
def test_bad_value_range_raises_deterministic(make):
  with pytest.raises(ValueError, match="value_range"):
    make(value_range=(1, 0))


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize("shape", [(8, 9), (2, 2, 8, 9, 3)])
def test_bad_rank_raises(name, shape):
  t = _make(name)
  x = jnp.zeros(shape)
  with pytest.raises(ValueError, match="rank"):
    t.apply(EmptyStateLike(), x, key=KEY)
  with pytest.raises(ValueError, match="rank"):
    t.init(x)


def EmptyStateLike():
  return pc.EmptyState()


@pytest.mark.parametrize("make", [
    lambda: pc.random_hue(0.2), lambda: pc.random_saturation(0.2),
    lambda: pc.random_grayscale(), lambda: pc.random_color_degeneration(0.2),
    lambda: pc.random_color_jitter(saturation_factor=0.2)])
def test_rgb_ops_reject_other_channel_counts(make):
  t = make()
  x = jnp.zeros((2, 4, 4, 4))
  with pytest.raises(ValueError, match="3 channels"):
    t.apply(pc.EmptyState(), x, key=KEY)
  with pytest.raises(ValueError, match="3 channels"):
    t.init(x)


def test_erasing_fill_value_channels_must_match():
  t = pc.random_erasing(fill_value=(1, 2, 3))
  with pytest.raises(ValueError, match="channels"):
    t.apply(pc.EmptyState(), jnp.zeros((2, 4, 4, 1)), key=KEY)


def test_color_jitter_equals_its_four_steps_in_a_row():
  # Saturation and hue share one HSV round trip; the result must be the
  # steps one after another (Keras' order), with the same per-step keys.
  t = pc.random_color_jitter(brightness_factor=0.2, contrast_factor=0.3,
                             saturation_factor=0.4, hue_factor=0.3)
  keys = jax.random.split(jax.random.key(7), X255.shape[0])
  fused = jax.jit(t.apply)(t.init(X255), X255, key=jax.random.key(7))
  vr, where = (0.0, 255.0), "test"
  steps = [C.brightness_kernel(0.2, vr, where), C.contrast_kernel(0.3, vr, where),
           C.saturation_kernel(0.4, vr, where), C.hue_kernel(0.3, vr, where)]

  @jax.jit
  def in_a_row(images, keys):
    for step, k in zip(steps, factories.per_example(keys, 4)):
      images = step(images, k)
    return images

  expected = in_a_row(jnp.asarray(X255), keys)
  assert float(jnp.abs(expected - X255).max()) > 10  # it did change colours
  _close(fused, expected, 1e-3)


def _hsv_round_trip(images, scale, delta, value_range):
  """Keras' steps: to [0, 1], HSV, scale s (clipped), rotate h, RGB, clip."""
  x = color_ops.rescale(images, value_range, (0.0, 1.0))
  h, s, v = jnp.moveaxis(color_ops.rgb_to_hsv(x), -1, 0)
  if scale is not None:
    s = jnp.clip(s * scale[:, None, None], 0.0, 1.0)
  if delta is not None:
    h = jnp.mod(h + delta[:, None, None], 1.0)
  out = color_ops.hsv_to_rgb(jnp.stack([h, s, v], axis=-1))
  return color_ops.rescale(jnp.clip(out, 0.0, 1.0), (0.0, 1.0), value_range)


@pytest.mark.parametrize("vr", [(0.0, 255.0), (0.0, 1.0), (-1.0, 1.0),
                                (10.0, 20.0)])
@pytest.mark.parametrize("steps", ["saturation", "hue", "both"])
def test_saturation_and_hue_equal_the_hsv_round_trip(vr, steps):
  # The op never builds the HSV image; it must still be Keras' round trip,
  # on grey, black, tied and out-of-range pixels too.
  rng = np.random.default_rng(3)
  u = rng.uniform(-0.1, 1.1, (24, 6, 7, 3))
  u[:6] = np.round(u[:6] * 4) / 4          # ties between channels
  u[6:9, :2] = 0.0                         # black
  u[9:12, :2] = 0.5                        # grey
  x = jnp.asarray(vr[0] + u * (vr[1] - vr[0]), jnp.float32)
  scale = None if steps == "hue" else jnp.asarray(rng.uniform(0, 3, 24),
                                                  jnp.float32)
  delta = None if steps == "saturation" else jnp.asarray(
      rng.uniform(-0.5, 0.5, 24), jnp.float32)
  fast = jax.jit(color_ops.adjust_saturation_and_hue, static_argnums=3)
  slow = jax.jit(_hsv_round_trip, static_argnums=3)
  _close(fast(x, scale, delta, vr), slow(x, scale, delta, vr),
         1e-5 * (vr[1] - vr[0]))


def test_color_jitter_divides_once_per_pixel():
  # The speed of colour jitter rests on one division per pixel (the hue)
  # and no remainder; a per-pixel op creeping back in shows up here.
  t = pc.random_color_jitter(brightness_factor=0.2, contrast_factor=0.5,
                             saturation_factor=0.5, hue_factor=0.2)
  x = jnp.zeros((4, 16, 16, 3))
  jaxpr = jax.make_jaxpr(lambda v: t.apply(t.init(v), v, key=KEY))(x)

  def pixel_ops(jx, name):
    n = 0
    for eqn in jx.eqns:
      for sub in jax.extend.core.jaxprs_in_params(eqn.params):
        n += pixel_ops(sub, name)
      if eqn.primitive.name == name:
        n += sum(np.prod(o.aval.shape) >= 16 * 16 for o in eqn.outvars)
    return n

  assert pixel_ops(jaxpr.jaxpr, "div") == 1
  assert pixel_ops(jaxpr.jaxpr, "rem") == 0
