"""Tests for the geometric augmentations (prepro_core/_src/image/geometric.py)."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import prepro_core as pc
from prepro_core._src.image import geometric
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
  for name, make in PINNED.items():
    t = make(**kw)
    _close(t.apply(t.init(IMG), IMG, key=KEY), REC[f"{name}/{fill_mode}/{interp}"])
  # Shear: Keras draws a random direction per example; the pinned magnitude
  # must match one of the two directions.
  ref = REC[f"shear/{fill_mode}/{interp}"]
  for b in range(2):
    errs = []
    for sign in (1.0, -1.0):
      m = geometric.shear_matrices(jnp.array([0.3 * sign]), jnp.array([0.2 * sign]))
      y = resampling.warp(jnp.asarray(IMG[b:b + 1]), m, interpolation=interp,
                          fill_mode=fill_mode, fill_value=0.5)
      errs.append(np.abs(np.asarray(y) - ref[b:b + 1]).max())
    assert min(errs) < 1e-4


def test_single_image_and_inference_match_keras():
  t = pc.random_rotation((0.1, 0.1))
  _close(t.apply(t.init(IMG[0]), IMG[0], key=KEY), REC["rotation/single"])
  np.testing.assert_array_equal(t.apply(None, IMG), REC["rotation/inference"])


@pytest.mark.parametrize("interp", INTERPS)
def test_perspective_kernel_matches_keras(interp):
  m = geometric.homography_matrices(jnp.asarray(REC["perspective/start"]),
                                    jnp.asarray(REC["perspective/end"]))
  y = resampling.warp(jnp.asarray(IMG), m, interpolation=interp,
                      fill_mode="constant", fill_value=0.5, projective=True)
  _close(y, REC[f"perspective/{interp}"])


# --------------------------------------------------------------------------
# Randomness contract, for every random transform.
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


@pytest.fixture(scope="module")
def batch8():
  return jax.random.uniform(jax.random.key(7), (8, 12, 12, 3))


@pytest.mark.parametrize("name", sorted(ALL))
def test_randomness_contract(name, batch8):
  t = ALL[name]()
  x = batch8
  s = t.init(jax.ShapeDtypeStruct(x.shape, x.dtype))
  eager = t.apply(s, x, key=KEY)
  _close(jax.jit(t.apply)(s, x, key=KEY), eager, 1e-5)
  # vmap over a stack of batches, one key each == one call per batch.
  xs = jnp.stack([x, x[::-1]])
  ks = jax.random.split(KEY, 2)
  v = jax.vmap(lambda xx, kk: t.apply(s, xx, key=kk))(xs, ks)
  for i in range(2):
    _close(v[i], t.apply(s, xs[i], key=ks[i]), 1e-5)
  # Sharded along the batch over 8 devices.
  mesh = jax.sharding.Mesh(np.array(jax.devices()[:8]), ("b",))
  xsh = jax.device_put(x, jax.sharding.NamedSharding(
      mesh, jax.sharding.PartitionSpec("b")))
  _close(jax.jit(t.apply)(s, xsh, key=KEY), eager, 1e-5)
  # A different key gives a different output; key=None is the identity.
  assert not np.allclose(t.apply(s, x, key=jax.random.key(1)), eager)
  assert t.apply(s, x) is x
  # Each example draws its own parameters: 8 copies of one image differ.
  same = jnp.broadcast_to(x[:1], x.shape)
  out = np.asarray(t.apply(s, same, key=KEY))
  assert len({out[i].tobytes() for i in range(8)}) > 1


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize("dtype,batched", [(jnp.uint8, True),
                                           (jnp.float32, False)])
def test_dtype_and_shape_preserved(name, dtype, batched):
  x = (IMG * 255).astype(dtype) if dtype == jnp.uint8 else jnp.asarray(IMG)
  if not batched:
    x = x[0]
  t = ALL[name]()
  y = t.apply(t.init(x), x, key=KEY)
  assert y.dtype == dtype and y.shape == x.shape


def test_flip_is_exact():
  x = jnp.asarray(IMG)
  y = np.asarray(pc.random_flip("horizontal").apply(None, x, key=KEY))
  for b in range(2):
    assert np.array_equal(y[b], IMG[b]) or np.array_equal(y[b], IMG[b, :, ::-1])
  y = np.asarray(pc.random_flip().apply(None, x, key=KEY))
  for b in range(2):  # Keras 3: one coin flips both axes.
    assert np.array_equal(y[b], IMG[b]) or np.array_equal(
        y[b], IMG[b, ::-1, ::-1])


@pytest.mark.parametrize("make", [lambda: pc.random_rotation(0.1),
                                  lambda: pc.random_zoom(0.2),
                                  lambda: pc.random_elastic_transform(
                                      value_range=(0, 1))])
def test_gradients_are_finite(make):
  t = make()
  g = jax.grad(lambda x: jnp.sum(t.apply(None, x, key=KEY) ** 2))(
      jnp.asarray(IMG))
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
