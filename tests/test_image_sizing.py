"""Tests for resizing, center_crop and random_crop (prepro_core/_src/image/sizing.py)."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import prepro_core as pc

REC = np.load(os.path.join(os.path.dirname(__file__), "keras_records",
                           "images_geo.npz"))
BIG = REC["big"]          # (2, 10, 13, 3) float32
U8 = REC["img_u8"]        # (2, 10, 13, 3) uint8
INTERPS = ("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5")


def _close(a, b, tol=1e-4):
  a, b = np.asarray(a), np.asarray(b)
  assert a.shape == b.shape, (a.shape, b.shape)
  np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64),
                             atol=tol, rtol=0)


# --------------------------------------------------------------------------
# Keras parity (recorded on the JAX backend by keras_records/record_images_geo.py)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("interp", INTERPS)
def test_resizing_matches_keras(interp):
  cases = {
      "7x9": pc.resizing(7, 9, interpolation=interp),
      "16x20": pc.resizing(16, 20, interpolation=interp),
      "crop": pc.resizing(7, 5, interpolation=interp, crop_to_aspect_ratio=True),
      "pad": pc.resizing(8, 5, interpolation=interp, pad_to_aspect_ratio=True,
                         fill_value=0.25),
      "padw": pc.resizing(5, 12, interpolation=interp, pad_to_aspect_ratio=True),
      "antialias": pc.resizing(4, 6, interpolation=interp, antialias=True),
  }

  @jax.jit  # one program for every case (compiling dominates the test)
  def run(x, x_u8):
    out = {name: t.apply(t.init(x), x) for name, t in cases.items()}
    out["uint8"] = cases["7x9"].apply(None, x_u8)
    return out

  out = run(BIG, U8)
  for name in cases:
    _close(out[name], REC[f"resizing/{interp}/{name}"])
  # uint8 comes back in uint8, rounded as Keras rounds: exactly its numbers.
  assert out["uint8"].dtype == jnp.uint8
  np.testing.assert_array_equal(np.asarray(out["uint8"]),
                                REC[f"resizing/{interp}/uint8"])


def test_resizing_single_image_matches_keras():
  t = pc.resizing(7, 9)
  y = t.apply(t.init(BIG[0]), BIG[0])
  assert y.shape == (7, 9, 3)
  _close(y, REC["resizing/single"])


@pytest.mark.parametrize("size", [(6, 8), (12, 8), (4, 20)])
def test_center_crop_matches_keras(size):
  t = pc.center_crop(*size)
  _close(t.apply(t.init(BIG), BIG), REC[f"center_crop/{size[0]}x{size[1]}"])


def test_center_crop_is_a_slice_and_keeps_dtype():
  t = pc.center_crop(6, 8)
  y = t.apply(t.init(U8), U8)
  assert y.dtype == jnp.uint8
  np.testing.assert_array_equal(np.asarray(y), U8[:, 2:8, 2:10])


# --------------------------------------------------------------------------
# random_crop
# --------------------------------------------------------------------------


def _windows(x, h, w):
  """All (h, w) windows of each example of x: dict offset -> crop."""
  return {(i, j): x[..., i:i + h, j:j + w, :]
          for i in range(x.shape[-3] - h + 1) for j in range(x.shape[-2] - w + 1)}


# Shared by the random_crop tests (compiled programs are reused). NumPy, not
# jax.random: a rank-4 jax.random draw costs ~1 s of compiling.
X16 = np.random.default_rng(3).uniform(size=(16, 10, 13, 3)).astype(np.float32)
CROP = pc.random_crop(6, 7)


def test_random_crop_takes_per_example_windows():
  x = X16
  t = CROP
  y = np.asarray(t.apply(t.init(x), x, key=jax.random.key(0)))
  assert y.shape == (16, 6, 7, 3)
  offsets = []
  for b in range(16):
    found = [o for o, win in _windows(x[b], 6, 7).items()
             if np.array_equal(win, y[b])]
    assert len(found) == 1
    offsets.append(found[0])
  assert len(set(offsets)) > 4  # examples draw their own offsets


def test_random_crop_inference_is_the_centre_crop():
  t = pc.random_crop(6, 8)
  np.testing.assert_array_equal(
      np.asarray(t.apply(t.init(BIG), BIG)),
      np.asarray(pc.center_crop(6, 8).apply(None, BIG)))


def test_random_crop_smaller_image_is_resized_like_keras():
  t = pc.random_crop(12, 8)
  y = t.apply(t.init(BIG), BIG, key=jax.random.key(1))
  _close(y, REC["center_crop/12x8"])


# --------------------------------------------------------------------------
# Dtypes, shapes, structure, gradients
# --------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda: pc.resizing(5, 7),
                                  lambda: pc.center_crop(5, 7),
                                  lambda: pc.random_crop(5, 7)])
@pytest.mark.parametrize("dtype,batched", [(jnp.uint8, True),
                                           (jnp.float32, False)])
def test_dtype_and_rank_preserved(make, dtype, batched):
  x = (BIG * 255).astype(dtype)
  if not batched:
    x = x[0]
  t = make()
  y = t.apply(t.init(jax.ShapeDtypeStruct(x.shape, x.dtype)), x,
              key=jax.random.key(0))
  assert y.dtype == dtype
  assert y.shape == (x.shape[:-3] + (5, 7, 3))


def test_resizing_gradient_is_finite():
  t = pc.resizing(7, 9, interpolation="bicubic")
  g = jax.grad(lambda x: jnp.sum(t.apply(None, x) ** 2))(jnp.asarray(BIG))
  assert np.all(np.isfinite(g)) and np.any(g != 0)


def test_dict_inputs_move_in_sync():
  masks = np.zeros((2, 10, 13, 1), np.int32)
  masks[:, 2:6, 3:9] = 7
  boxes = {"boxes": np.array([[[3., 2., 9., 6.]]] * 2, np.float32),
           "labels": np.array([[1], [2]], np.int32)}
  data = {"images": BIG, "labels": np.array([0, 1]),
          "segmentation_masks": masks, "bounding_boxes": boxes}
  t = pc.resizing(20, 26, bounding_box_format="xyxy")
  out = t.apply(t.init(data), data)
  assert out["images"].shape == (2, 20, 26, 3)
  np.testing.assert_array_equal(out["labels"], [0, 1])
  assert set(np.unique(out["segmentation_masks"])) == {0, 7}
  np.testing.assert_allclose(out["bounding_boxes"]["boxes"][0, 0],
                             [6., 4., 18., 12.], atol=1e-5)
  np.testing.assert_array_equal(out["bounding_boxes"]["labels"], [[1], [2]])
  c = pc.center_crop(6, 8, bounding_box_format="rel_xyxy")
  rel = {"boxes": np.array([[[0.5, 0.5, 0.6, 0.6]]] * 2, np.float32)}
  out = c.apply(None, {"images": BIG, "bounding_boxes": rel})
  # x: 6.5 px - 2 offset = 4.5 of 8; y: 5 px - 2 = 3 of 6.
  np.testing.assert_allclose(out["bounding_boxes"]["boxes"][0, 0, :2],
                             [4.5 / 8, 3 / 6], atol=1e-5)


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------


def test_bad_arguments():
  with pytest.raises(ValueError, match="height"):
    pc.resizing(0, 5)
  with pytest.raises(TypeError, match="width"):
    pc.resizing(5, 2.5)
  with pytest.raises(ValueError, match="interpolation"):
    pc.resizing(5, 5, interpolation="cubic")
  with pytest.raises(ValueError, match="fill_mode"):
    pc.resizing(5, 5, fill_mode="reflect")
  with pytest.raises(ValueError, match="crop_to_aspect_ratio"):
    pc.resizing(5, 5, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True)
  with pytest.raises(ValueError, match="height"):
    pc.center_crop(-1, 5)
  with pytest.raises(TypeError, match="width"):
    pc.random_crop(5, "5")
  with pytest.raises(ValueError, match="bounding_box_format"):
    pc.resizing(5, 5, bounding_box_format="xy")


@pytest.mark.parametrize("make", [lambda: pc.resizing(5, 7),
                                  lambda: pc.center_crop(5, 7),
                                  lambda: pc.random_crop(5, 7)])
def test_bad_rank_and_missing_box_format(make):
  t = make()
  for shape in [(10, 13), (1, 2, 10, 13, 3)]:
    with pytest.raises(ValueError, match="rank"):
      t.apply(None, jnp.zeros(shape), key=jax.random.key(0))
    with pytest.raises(ValueError, match="rank"):
      t.init(jnp.zeros(shape))
  data = {"images": BIG, "bounding_boxes": {"boxes": np.zeros((2, 1, 4))}}
  with pytest.raises(ValueError, match="bounding_box_format"):
    t.apply(None, data, key=jax.random.key(0))
  with pytest.raises(ValueError, match="unknown input key"):
    t.apply(None, {"images": BIG, "masks": BIG}, key=jax.random.key(0))
