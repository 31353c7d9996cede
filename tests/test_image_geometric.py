"""Tests for the geometric augmentations (prepro_core/_src/image/geometric.py)."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import prepro_core as pc
from prepro_core._src.image import geometric_ops
from prepro_core._src.image import resampling

REC = np.load(os.path.join(os.path.dirname(__file__), "keras_records",
                           "images_geo.npz"))
IMG = REC["img"]          # (2, 9, 11, 3) float32
FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPS = ("bilinear", "nearest")
KEY = jax.random.key(0)


def _close(a, b, tol=1e-4):
  a, b = np.asarray(a), np.asarray(b)
  assert a.shape == b.shape, (a.shape, b.shape)
  np.testing.assert_allclose(a, b, atol=tol, rtol=0)


# --------------------------------------------------------------------------
# Keras parity: pinned factors, every fill mode and interpolation.
# --------------------------------------------------------------------------

PINNED = {
    "rotation": lambda **kw: pc.random_rotation((0.1, 0.1), **kw),
    "rotation_neg": lambda **kw: pc.random_rotation((-0.3, -0.3), **kw),
    "zoom": lambda **kw: pc.random_zoom((0.3, 0.3), (-0.2, -0.2), **kw),
    "zoom_same": lambda **kw: pc.random_zoom((-0.25, -0.25), **kw),
    "translation": lambda **kw: pc.random_translation((0.2, 0.2), (-0.3, -0.3),
                                                      **kw),
}


@pytest.mark.parametrize("fill_mode", FILL_MODES)
@pytest.mark.parametrize("interp", INTERPS)
def test_affine_layers_match_keras(fill_mode, interp):
  kw = dict(fill_mode=fill_mode, interpolation=interp, fill_value=0.5)
  ts = {name: make(**kw) for name, make in PINNED.items()}
  # Shear: Keras draws a random direction per example; the pinned magnitude
  # must match one of the two directions: warp both images both ways.
  signs = jnp.array([1.0, 1.0, -1.0, -1.0])
  shear = geometric_ops.shear_matrices(0.3 * signs, 0.2 * signs)

  @jax.jit  # one program for all of them (compiling dominates the test)
  def run(x, key):
    out = {name: t.apply(t.init(x), x, key=key) for name, t in ts.items()}
    out["shear"] = resampling.warp(jnp.concatenate([x, x]), shear, **kw)
    return out

  out = run(jnp.asarray(IMG), KEY)
  for name in PINNED:
    _close(out[name], REC[f"{name}/{fill_mode}/{interp}"])
  ref = REC[f"shear/{fill_mode}/{interp}"]
  both = np.asarray(out["shear"]).reshape(2, 2, *IMG.shape[1:])  # sign, b
  for b in range(2):
    assert min(np.abs(both[s, b] - ref[b]).max() for s in range(2)) < 1e-4


def test_single_image_and_inference_match_keras():
  t = pc.random_rotation((0.1, 0.1))
  _close(t.apply(t.init(IMG[0]), IMG[0], key=KEY), REC["rotation/single"])
  np.testing.assert_array_equal(t.apply(None, IMG), REC["rotation/inference"])


def test_perspective_kernel_matches_keras():
  @jax.jit
  def run(x, start, end):
    m = geometric_ops.homography_matrices(start, end)
    return {interp: resampling.warp(x, m, interpolation=interp,
                                    fill_mode="constant", fill_value=0.5,
                                    projective=True) for interp in INTERPS}

  out = run(jnp.asarray(IMG), jnp.asarray(REC["perspective/start"]),
            jnp.asarray(REC["perspective/end"]))
  for interp in INTERPS:
    _close(out[interp], REC[f"perspective/{interp}"])


# --------------------------------------------------------------------------
# Every random transform. (Their randomness contract, eager == jit == vmap
# and sharded, keys and inference: tests/test_transform_contract.py.)
# --------------------------------------------------------------------------

ALL = {
    "flip": lambda: pc.random_flip(),
    "rotation": lambda: pc.random_rotation(0.2),
    "zoom": lambda: pc.random_zoom(0.3, 0.2),
    "translation": lambda: pc.random_translation(0.2, 0.2),
    "shear": lambda: pc.random_shear(0.3, 0.3),
    "perspective": lambda: pc.random_perspective(1.0, 0.5),
    "elastic": lambda: pc.random_elastic_transform(1.0, 1.0, value_range=(0, 1)),
}
# One instance each, shared by the tests below: a transform's compiled
# programs are reused wherever the input shape repeats.
T = {name: make() for name, make in ALL.items()}


@pytest.fixture(scope="module")
def batch8():
  # NumPy, not jax.random: a rank-4 jax.random draw costs ~1 s of compiling.
  return jnp.asarray(np.random.default_rng(7).uniform(size=(8, 12, 12, 3)),
                     jnp.float32)


@pytest.mark.parametrize("name", sorted(ALL))
def test_uint8_single_image_keeps_dtype_and_shape(name, batch8):
  # float32 batches: tests/test_transform_contract.py.
  x = (batch8[0] * 255).astype(jnp.uint8)
  t = T[name]
  y = t.apply(t.init(x), x, key=KEY)
  assert y.dtype == jnp.uint8 and y.shape == x.shape


def test_flip_is_exact(batch8):
  x = np.asarray(batch8)
  y = np.asarray(pc.random_flip("horizontal").apply(None, x, key=KEY))
  for b in range(8):
    assert np.array_equal(y[b], x[b]) or np.array_equal(y[b], x[b, :, ::-1])
  y = np.asarray(T["flip"].apply(None, x, key=KEY))
  for b in range(8):  # Keras 3: one coin flips both axes.
    assert np.array_equal(y[b], x[b]) or np.array_equal(y[b], x[b, ::-1, ::-1])
  assert any(not np.array_equal(y[b], x[b]) for b in range(8))


def test_gradients_are_finite(batch8):
  names = ("rotation", "zoom", "elastic")

  @jax.jit
  def grads(x):
    return [jax.grad(lambda x: jnp.sum(T[n].apply(None, x, key=KEY) ** 2))(x)
            for n in names]

  for g in grads(batch8):
    assert np.all(np.isfinite(g)) and np.any(g != 0)


def test_dict_inputs_move_in_sync():
  masks = np.zeros((2, 9, 11, 1), np.uint8)
  masks[:, 2:6, 1:4] = 3
  boxes = {"boxes": np.array([[[1., 2., 4., 6.]]] * 2, np.float32),
           "labels": np.array([[5], [6]], np.int32)}
  data = {"images": IMG, "labels": np.array([0, 1]),
          "segmentation_masks": masks, "bounding_boxes": boxes}
  # A horizontal flip moves box and mask exactly.
  t = pc.random_flip("horizontal", bounding_box_format="xyxy")
  out = t.apply(t.init(data), data, key=KEY)
  flipped = not np.array_equal(np.asarray(out["images"][0]), IMG[0])
  want = [7., 2., 10., 6.] if flipped else [1., 2., 4., 6.]
  np.testing.assert_allclose(out["bounding_boxes"]["boxes"][0, 0], want, atol=1e-5)
  m = np.asarray(out["segmentation_masks"][0, ..., 0])
  assert np.array_equal(m, masks[0, ..., 0][:, ::-1] if flipped else masks[0, ..., 0])
  np.testing.assert_array_equal(out["labels"], [0, 1])
  # Rotation: masks keep their label set (nearest sampling), boxes stay valid.
  t = pc.random_rotation(0.1, fill_mode="constant", bounding_box_format="xyxy")
  out = t.apply(t.init(data), data, key=KEY)
  assert set(np.unique(out["segmentation_masks"])) <= {0, 3}
  b = np.asarray(out["bounding_boxes"]["boxes"])
  assert np.all(b[..., 2] > b[..., 0]) and np.all(b[..., 3] > b[..., 1])
  assert np.all(b >= 0) and np.all(b[..., 2] <= 11) and np.all(b[..., 3] <= 9)
  # A box translated out of the image loses its label (Keras' clip rule).
  t = pc.random_translation((0.0, 0.0), (-0.9, -0.9), fill_mode="constant",
                            bounding_box_format="xyxy")
  out = t.apply(None, data, key=KEY)
  np.testing.assert_array_equal(out["bounding_boxes"]["labels"], [[-1], [-1]])


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------


def test_bad_arguments():
  cases = [
      (lambda: pc.random_flip("diagonal"), "mode"),
      (lambda: pc.random_rotation(1.5), "factor"),
      (lambda: pc.random_rotation((0.1, 0.2, 0.3)), "factor"),
      (lambda: pc.random_rotation("a"), "factor"),
      (lambda: pc.random_rotation(0.1, fill_mode="mirror"), "fill_mode"),
      (lambda: pc.random_rotation(0.1, interpolation="bicubic"), "interpolation"),
      (lambda: pc.random_zoom(-1.0), "height_factor"),
      (lambda: pc.random_zoom(0.1, (0.1, 1.5)), "width_factor"),
      (lambda: pc.random_translation(0.1, 1.2), "width_factor"),
      (lambda: pc.random_shear(x_factor=-0.1), "x_factor"),
      (lambda: pc.random_shear(y_factor=(0.1, 2.0)), "y_factor"),
      (lambda: pc.random_perspective(factor=1.5), "factor"),
      (lambda: pc.random_perspective(scale=-0.1), "scale"),
      (lambda: pc.random_elastic_transform(scale=2.0), "scale"),
      (lambda: pc.random_elastic_transform(value_range=(1, 0)), "value_range"),
      (lambda: pc.random_translation(0.1, 0.1, bounding_box_format="abc"),
       "bounding_box_format"),
  ]
  for make, arg in cases:
    with pytest.raises(ValueError, match=arg):
      make()
  with pytest.raises(TypeError, match="fill_value"):
    pc.random_rotation(0.1, fill_value="x")


@pytest.mark.parametrize("name", sorted(ALL))
def test_bad_rank_and_missing_box_format(name):
  t = ALL[name]()
  for shape in [(9, 11), (1, 2, 9, 11, 3)]:
    with pytest.raises(ValueError, match="rank"):
      t.apply(None, jnp.zeros(shape), key=KEY)
    with pytest.raises(ValueError, match="rank"):
      t.init(jnp.zeros(shape))
  data = {"images": IMG, "bounding_boxes": {"boxes": np.zeros((2, 1, 4))}}
  with pytest.raises(ValueError, match="bounding"):
    t.apply(None, data, key=KEY)
