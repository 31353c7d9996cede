"""Checkpoint (prepro_flax.save/restore) and jax.export round trips."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import prepro_flax as pf

_DOCS = np.array(["the cat sat", "the dog ran", "a cat ran", "a dog sat",
                  "Ünïcode wörds here"])


class _Model(nnx.Module):

  def __init__(self, rngs):
    self.norm = pf.Normalization()
    self.vectorize = pf.TextVectorization(max_tokens=12, output_sequence_length=4)
    self.lookup = pf.StringLookup(num_oov_indices=2, salt=(2**63 + 1, 3))
    self.flip = pf.RandomFlip(rngs=rngs)
    self.rescale = pf.Rescaling(0.5)
    self.embed = nnx.Embed(12, 3, rngs=rngs)
    self.dense = nnx.Linear(3 + 3, 2, rngs=rngs)

  def __call__(self, x, ids):
    pooled = self.embed(ids).mean(1)
    return self.dense(jnp.concatenate([self.norm(x), pooled], -1))


def _adapted_model():
  model = _Model(nnx.Rngs(0, augment=1))
  rng = np.random.default_rng(0)
  model.norm.adapt(rng.normal(size=(50, 3)).astype(np.float32) * 7 + 2)
  model.vectorize.adapt(_DOCS)
  model.lookup.adapt(np.array(["x", "y", "y", "z", "z", "z"]))
  model.flip(np.ones((1, 4, 4, 1), np.float32))  # advance the stream
  return model


def _leaves(state):
  return [(p, v.get_value()) for p, v in nnx.to_flat_state(state)]


def test_checkpoint_round_trip_is_bit_exact_with_vocabularies():
  model = _adapted_model()
  data = pf.save(model)
  assert isinstance(data, bytes)
  fresh = _Model(nnx.Rngs(5, augment=6))  # different weights, never adapted
  assert not fresh.norm.built and not fresh.vectorize.built
  pf.restore(fresh, data)

  # Every state leaf, preprocessing and parameters alike, comes back exactly.
  def flat(m):
    out = {}
    for path, module in nnx.iter_modules(m):
      if isinstance(module, pf.PreprocessingLayer) and module.built:
        out[path] = jax.tree.leaves(module.get_state())
    return out

  a, b = flat(model), flat(fresh)
  assert a.keys() == b.keys() and len(a) >= 3
  for k in a:
    for x, y in zip(a[k], b[k]):
      assert np.asarray(x).dtype == np.asarray(y).dtype, k
      np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
  for (p1, v1), (p2, v2) in zip(_leaves(nnx.state(model, nnx.Param)),
                                _leaves(nnx.state(fresh, nnx.Param))):
    assert p1 == p2
    np.testing.assert_array_equal(v1, v2)

  assert fresh.vectorize.get_vocabulary() == model.vectorize.get_vocabulary()
  assert fresh.lookup.get_vocabulary() == model.lookup.get_vocabulary()
  assert isinstance(fresh.lookup.get_state().salt, np.ndarray)
  assert fresh.lookup.get_state().salt.dtype == np.uint64
  np.testing.assert_array_equal(fresh.vectorize(_DOCS), model.vectorize(_DOCS))
  words = np.array(["x", "z", "unseen", "other"])
  np.testing.assert_array_equal(fresh.lookup(words), model.lookup(words))
  x = np.ones((2, 3), np.float32)
  ids = model.vectorize(_DOCS[:2])
  np.testing.assert_array_equal(fresh(x, ids), model(x, ids))
  # The augment stream continues where it was.
  img = np.arange(32, dtype=np.float32).reshape(2, 4, 4, 1)
  np.testing.assert_array_equal(fresh.flip(img), model.flip(img))


def test_checkpoint_also_restores_into_an_adapted_model():
  model = _adapted_model()
  data = pf.save(model)
  other = _adapted_model()
  other.norm.adapt(np.zeros((4, 3), np.float32) + 100.0)
  pf.restore(other, data)
  np.testing.assert_array_equal(other.norm.get_state().mean,
                                model.norm.get_state().mean)


def test_restore_refuses_other_bytes_and_other_models():
  with pytest.raises(ValueError, match="not a prepro_flax.save checkpoint"):
    pf.restore(_Model(nnx.Rngs(0)), b"\x80")

  class Other(nnx.Module):
    def __init__(self):
      self.norm = pf.Normalization()

  with pytest.raises(ValueError, match="constructed differently"):
    pf.restore(Other(), pf.save(_adapted_model()))


def test_export_round_trip_of_the_on_device_part():
  model = _adapted_model()
  model.eval()

  def infer(x, ids):  # preprocessing (Normalization) + model, on device
    return model(x, ids)

  b = jax.export.symbolic_shape("b")[0]
  exported = jax.export.export(jax.jit(infer))(
      jax.ShapeDtypeStruct((b, 3), jnp.float32),
      jax.ShapeDtypeStruct((b, 4), jnp.int32))
  blob = exported.serialize()
  reloaded = jax.export.deserialize(blob)

  def end_to_end(x, raw_strings):  # host part (strings) + exported part
    return reloaded.call(x, jnp.asarray(model.vectorize(raw_strings), jnp.int32))

  rng = np.random.default_rng(1)
  jitted = jax.jit(infer)
  for n in (1, 5):
    x = rng.normal(size=(n, 3)).astype(np.float32)
    raw = _DOCS[:n]
    ids = jnp.asarray(model.vectorize(raw), jnp.int32)
    np.testing.assert_array_equal(end_to_end(x, raw), jitted(x, ids))
    # Eagerly, XLA fuses differently: equal to float32 rounding.
    np.testing.assert_allclose(end_to_end(x, raw), model(x, ids), rtol=1e-5,
                               atol=1e-6)
