"""Tests for mix_up and cut_mix (prepro_core/_src/image/mixing.py)."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import prepro_core as pc
from prepro_core._src.image.mixing import cut_mix_mask

REC = np.load(os.path.join(os.path.dirname(__file__), "keras_records",
                           "images_color.npz"))
KEY = jax.random.key(0)
B = 8
X = jnp.asarray(np.random.default_rng(1).uniform(0, 255, (B, 6, 7, 3)),
                jnp.float32)
Y = jnp.eye(B)   # example i has class i: the mixed labels name the partner
MASKS = (X[..., 0] > 128).astype(jnp.int32)

# One instance per transform, shared by the tests: each instance jits its
# kernel once, so tests with the same inputs reuse the compiled program.
_MADE = {}


def _make(name):
  if name not in _MADE:
    _MADE[name] = {"mix_up": lambda: pc.mix_up(alpha=0.4),
                   "cut_mix": lambda: pc.cut_mix()}[name]()
  return _MADE[name]


def _partners(labels):
  """(weight of own class, partner index) per example from mixed labels."""
  labels = np.asarray(labels)
  own = labels[np.arange(B), np.arange(B)]
  other = labels.copy()
  other[np.arange(B), np.arange(B)] = -1
  partner = np.where(own > 1 - 1e-6, np.arange(B), other.argmax(axis=1))
  return own, partner


def test_cut_mix_mask_matches_keras():
  x0, x1, y0, y1 = (jnp.asarray(c) for c in REC["cut_mix_mask/params"].T)
  mask, weight = cut_mix_mask(8, 9, x0, x1, y0, y1)
  np.testing.assert_array_equal(
      np.broadcast_to(np.asarray(mask), (3, 8, 9, 3)),
      REC["cut_mix_mask/output"])
  np.testing.assert_allclose(weight, REC["cut_mix_mask/weights"].reshape(-1),
                             atol=1e-6)


def test_mix_up_images_and_labels_use_the_same_weights():
  t = _make("mix_up")
  # (With masks, as in tests/test_transform_contract.py's mixing entries.)
  out = t.apply(t.init(X), {"images": X, "labels": Y,
                            "segmentation_masks": MASKS}, key=KEY)
  lam, partner = _partners(out["labels"])
  np.testing.assert_allclose(np.asarray(out["labels"]).sum(axis=1), 1.0,
                             atol=1e-6)
  expected = (lam[:, None, None, None] * np.asarray(X) +
              (1 - lam[:, None, None, None]) * np.asarray(X)[partner])
  np.testing.assert_allclose(out["images"], expected, atol=1e-3)
  assert len(set(partner.tolist())) == B  # a permutation
  assert len(np.unique(np.round(lam, 6))) > 1  # per-example weights


def test_cut_mix_pastes_a_box_and_weights_labels_by_area():
  t = _make("cut_mix")
  out = t.apply(t.init(X), {"images": X, "labels": Y,
                            "segmentation_masks": MASKS}, key=KEY)
  own, partner = _partners(out["labels"])
  y, x = np.asarray(out["images"]), np.asarray(X)
  saw_box = False
  for i in range(B):
    from_partner = np.all(y[i] == x[partner[i]], axis=-1)
    from_self = np.all(y[i] == x[i], axis=-1)
    assert np.all(from_partner | from_self)
    if partner[i] == i:
      continue
    rows, cols = np.nonzero(from_partner & ~from_self)
    if rows.size:
      saw_box = True
      box = from_partner[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
      assert box.all()   # a rectangle
    # Keras weighs labels by the continuous box area, within a pixel border.
    frac = from_partner.mean() if rows.size else 0.0
    assert abs((1 - own[i]) - frac) <= (6 + 7 + 1) / 42
  assert saw_box


def test_cut_mix_factor_pins_alpha():
  # factor (1, 1): alpha = 1, lam ~ U(0, 1): boxes of every size.
  t = pc.cut_mix((1.0, 1.0))
  x = jnp.zeros((256, 6, 7, 1))
  y = jnp.eye(256)
  out = t.apply(t.init(x), {"images": x, "labels": y}, key=KEY)
  own = np.asarray(out["labels"])[np.arange(256), np.arange(256)]
  assert 0.35 < own.mean() < 0.65 and own.min() < 0.2 and own.max() > 0.95


@pytest.mark.parametrize("name", ["mix_up", "cut_mix"])
def test_dtypes_masks_and_single_image(name):
  t = _make(name)
  x8 = X.astype(jnp.uint8)
  masks = jnp.asarray(np.arange(B * 6 * 7).reshape(B, 6, 7, 1) % 3, jnp.int32)
  out = t.apply(t.init(x8), {"images": x8, "labels": Y,
                             "segmentation_masks": masks}, key=KEY)
  assert out["images"].dtype == jnp.uint8 and out["images"].shape == x8.shape
  assert out["labels"].shape == Y.shape
  assert out["segmentation_masks"].shape == masks.shape
  single = t.apply(t.init(X[0]), {"images": X[0], "labels": Y[0]}, key=KEY)
  # A batch of one mixes with itself.
  np.testing.assert_allclose(single["images"], X[0], atol=1e-3)
  np.testing.assert_allclose(single["labels"], Y[0], atol=1e-6)


def test_mix_up_gradients_are_finite():
  t = _make("mix_up")
  s = t.init(X)

  def loss(images, labels):
    out = t.apply(s, {"images": images, "labels": labels}, key=KEY)
    return jnp.sum(out["images"] ** 2) + jnp.sum(out["labels"] ** 2)

  # jit(grad): forward and backward in one compiled program.
  gx, gy = jax.jit(jax.grad(loss, argnums=(0, 1)))(X, Y)
  assert np.all(np.isfinite(gx)) and np.all(np.isfinite(gy))
  assert np.any(np.asarray(gx) != 0)


@pytest.mark.parametrize("make", [lambda: pc.mix_up(), lambda: pc.cut_mix()])
def test_bad_inputs(make):
  t = make()
  s = t.init(X)
  with pytest.raises(ValueError, match="labels"):
    t.apply(s, X, key=KEY)
  with pytest.raises(ValueError, match="labels"):
    t.apply(s, {"images": X}, key=KEY)
  with pytest.raises(ValueError, match="one row per image"):
    t.apply(s, {"images": X, "labels": Y[:3]}, key=KEY)
  with pytest.raises(ValueError, match="rank"):
    t.apply(s, {"images": X[..., 0, 0], "labels": Y}, key=KEY)
  with pytest.raises(ValueError, match="bounding_boxes"):
    t.apply(s, {"images": X, "labels": Y, "bounding_boxes": {}}, key=KEY)
  with pytest.raises(ValueError, match="segmentation_masks"):
    t.apply(s, {"images": X, "labels": Y,
                "segmentation_masks": jnp.zeros((B, 3, 3))}, key=KEY)


@pytest.mark.parametrize("make", [
    lambda: pc.mix_up(alpha=0), lambda: pc.mix_up(alpha=-1.0),
    lambda: pc.mix_up(alpha="0.2"), lambda: pc.cut_mix(1.5),
    lambda: pc.cut_mix((-0.5, 0.5)), lambda: pc.cut_mix((0.1, 0.2, 0.3))])
def test_bad_arguments(make):
  with pytest.raises(ValueError):
    make()
