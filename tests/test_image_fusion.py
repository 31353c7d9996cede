"""Tests for chain fusion of geometric transforms (one resampling per run)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import prepro_core as pc
from prepro_core._src.image import resampling

KEY = jax.random.key(3)


def _smooth(batch=4, h=24, w=24):
  yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
  base = np.stack([np.sin(xx / 5.0), np.cos(yy / 6.0), np.sin((xx + yy) / 7.0)],
                  axis=-1)
  return jnp.asarray(np.stack([base * (i + 1) / batch for i in range(batch)]),
                     jnp.float32)


def _uniform(shape, seed=0):
  # NumPy, not jax.random: a rank-4 jax.random draw costs ~1 s of compiling.
  return jnp.asarray(np.random.default_rng(seed).uniform(size=shape),
                     jnp.float32)


def _one_by_one(transforms, x, key):
  keys = jax.random.split(key, len(transforms))  # chain's key split (all random)
  for t, k in zip(transforms, keys):
    x = t.apply(t.init(x), x, key=k)
  return x


@pytest.fixture
def count_resamples(monkeypatch):
  calls = []
  real = resampling.sample_coordinates

  def counting(*args, **kwargs):
    calls.append(1)
    return real(*args, **kwargs)

  monkeypatch.setattr(resampling, "sample_coordinates", counting)
  return calls


def test_exact_for_pixel_permutations(count_resamples):
  # Flips and 90-degree rotations only permute pixels: fusing is exact.
  parts = [pc.random_flip("horizontal"),
           pc.random_rotation((0.25, 0.25), interpolation="nearest"),
           pc.random_flip("vertical"),
           pc.random_rotation((-0.25, -0.25), interpolation="nearest")]
  x = _uniform((8, 10, 10, 3))
  c = pc.chain(*parts)
  fused = c.apply(c.init(x), x, key=KEY)
  assert len(count_resamples) == 1
  count_resamples.clear()
  ref = _one_by_one(parts, x, KEY)
  assert len(count_resamples) == 2  # flips alone do not resample
  np.testing.assert_array_equal(np.asarray(fused), np.asarray(ref))


def test_guide_recipe_resamples_once_and_matches(count_resamples):
  parts = [pc.random_flip("horizontal"), pc.random_rotation(0.1),
           pc.random_zoom(0.1)]
  x = _smooth()
  c = pc.chain(*parts)
  s = c.init(x)
  fused = c.apply(s, x, key=KEY)
  assert len(count_resamples) == 1
  ref = _one_by_one(parts, x, KEY)
  # Away from the borders (where the fill differs: one reflection of the
  # input instead of reflections of reflections) the two agree up to one
  # interpolation of a smooth image.
  err = np.abs(np.asarray(fused) - np.asarray(ref))[:, 5:-5, 5:-5]
  assert err.max() < 0.05, err.max()
  assert np.abs(np.asarray(fused) - np.asarray(x)).mean() > 0.01
  # key=None is the identity (jit and sharded runs: test_sharded_chain).
  assert c.apply(s, x) is x


def test_sharded_chain_matches_unsharded():
  # A batch sharded over 8 devices, on a mesh with Explicit axes
  # (jax.make_mesh's default: sharding is part of the types, and vmap needs
  # per-example data sharded like the images) and on one with Auto axes: the
  # jitted fused chain gives the unsharded eager numbers and keeps the
  # sharding.
  c = pc.chain(pc.random_flip("horizontal"), pc.random_rotation(0.1),
               pc.random_zoom(0.1))
  x = _smooth(batch=8)
  s = c.init(x)
  want = c.apply(s, x, key=KEY)
  for axis_type in (jax.sharding.AxisType.Explicit, jax.sharding.AxisType.Auto):
    mesh = jax.make_mesh((8,), ("data",), axis_types=(axis_type,))
    xs = jax.device_put(x, jax.sharding.NamedSharding(
        mesh, jax.sharding.PartitionSpec("data")))
    y = jax.jit(c.apply)(s, xs, key=KEY)
    np.testing.assert_allclose(y, want, atol=1e-5)
    assert y.sharding.spec[0] == "data"


def test_fused_boxes_match_one_by_one():
  parts = [pc.random_flip("horizontal", bounding_box_format="xyxy"),
           pc.random_rotation(0.02, bounding_box_format="xyxy"),
           pc.random_zoom(0.05, bounding_box_format="xyxy")]
  boxes = {"boxes": jnp.asarray([[[8., 8., 14., 16.]]] * 4),
           "labels": jnp.ones((4, 1), jnp.int32)}
  data = {"images": _smooth(), "bounding_boxes": boxes}
  c = pc.chain(*parts)
  fused = c.apply(c.init(data), data, key=KEY)
  ref = _one_by_one(parts, data, KEY)
  np.testing.assert_allclose(fused["bounding_boxes"]["boxes"],
                             ref["bounding_boxes"]["boxes"], atol=1e-3)


def test_runs_break_on_different_settings(count_resamples):
  x = _smooth()
  c = pc.chain(pc.random_rotation(0.1, fill_mode="reflect"),
               pc.random_rotation(0.1, fill_mode="constant"),
               pc.random_zoom(0.1, fill_mode="constant"))
  y = c.apply(c.init(x), x, key=KEY)
  assert len(count_resamples) == 2
  assert y.shape == x.shape


def test_non_geometric_parts_split_runs():
  x = _uniform((4, 12, 12, 3))
  c = pc.chain(pc.random_flip(), pc.random_crop(8, 8), pc.random_rotation(0.1),
               pc.resizing(6, 6))
  s = c.init(jax.ShapeDtypeStruct(x.shape, x.dtype))
  y = c.apply(s, x, key=KEY)
  assert y.shape == (4, 6, 6, 3)
  assert c.apply(s, x).shape == (4, 6, 6, 3)  # inference: centre crop path


def test_fused_uint8_rounds_once():
  x = (_uniform((4, 12, 12, 3)) * 255).astype(jnp.uint8)
  c = pc.chain(pc.random_flip(), pc.random_rotation(0.1), pc.random_zoom(0.1))
  y = c.apply(c.init(x), x, key=KEY)
  assert y.dtype == jnp.uint8 and y.shape == x.shape
