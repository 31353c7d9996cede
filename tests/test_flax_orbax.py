"""An adapted NNX model with string layers saves and restores with orbax.

The Flax NNX checkpointing guide's steps (``nnx.split``,
``StandardCheckpointer().save``, ``nnx.eval_shape`` + ``restore``,
``nnx.merge``), with ``prepro_flax.orbax_state`` on the way out and
``prepro_flax.orbax_restore`` on the way back: vocabularies included, the
restored model's outputs on strings are bit-exact.
"""
from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

import prepro_flax as pf

ocp = pytest.importorskip("orbax.checkpoint")

DOCS = np.array(["The cat sat on the mat.", "the dog ate my homework!",
                 "A bird sang", "dogs and cats, cats and dogs", "The END"])
WORDS = np.array([["cat", "dog"], ["bird", "cat"], ["fish", "dog"]])


class Model(nnx.Module):
  """String layers (adapted and constant), numeric ones and a Linear."""

  def __init__(self, rngs):
    self.vectorize = pf.TextVectorization(max_tokens=30,
                                          output_sequence_length=6)
    self.bag = pf.TextVectorization(output_mode="tf_idf")
    self.words = pf.StringLookup(num_oov_indices=2, output_mode="multi_hot")
    self.given = pf.StringLookup(vocabulary=["cat", "dog"])
    self.norm = pf.Normalization()
    self.flip = pf.RandomFlip("horizontal", rngs=rngs)
    self.head = nnx.Linear(6, 2, rngs=rngs)

  def __call__(self, docs, words):
    ids = self.vectorize(docs)
    x = self.norm(np.asarray(ids, np.float32))
    return self.head(x), self.bag(docs), self.words(words), self.given(words)


def _adapted():
  model = Model(nnx.Rngs(params=0, augment=1))
  model.vectorize.adapt(DOCS)
  model.bag.adapt(DOCS)
  model.words.adapt(WORDS)
  model.norm.adapt(np.asarray(model.vectorize(DOCS), np.float32))
  return model


def _save_and_restore(model, path):
  graphdef, state = nnx.split(model)
  checkpointer = ocp.StandardCheckpointer()
  checkpointer.save(path, pf.orbax_state(state))
  checkpointer.wait_until_finished()

  abstract = nnx.eval_shape(lambda: Model(nnx.Rngs(params=5, augment=5)))
  graphdef, abstract_state = nnx.split(abstract)
  restored = pf.orbax_restore(checkpointer, path, abstract_state)
  return nnx.merge(graphdef, restored)


def _assert_same(a, b):
  for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
    x, y = np.asarray(x), np.asarray(y)
    assert x.dtype == y.dtype and x.shape == y.shape
    np.testing.assert_array_equal(x, y)


def test_adapted_string_model_round_trips_through_orbax(tmp_path):
  model = _adapted()
  restored = _save_and_restore(model, tmp_path / "state")
  for name in ("vectorize", "bag", "words", "given"):
    assert (getattr(restored, name).get_vocabulary() ==
            getattr(model, name).get_vocabulary()), name
    _assert_same(getattr(restored, name).get_state(),
                 getattr(model, name).get_state())
  _assert_same(restored(DOCS, WORDS), model(DOCS, WORDS))
  # New text too (OOV words), and the Linear's weights came back.
  new = np.array(["the cat ate the fish", "zebra"])
  _assert_same(restored.vectorize(new), model.vectorize(new))
  _assert_same(nnx.state(restored, nnx.Param), nnx.state(model, nnx.Param))
  # Host states stay NumPy (hash keys uint64, not device arrays).
  for leaf in jax.tree_util.tree_leaves(restored.vectorize.get_state()):
    assert isinstance(leaf, np.ndarray)
  # The random layer continues its stream where the saved one was.
  images = np.random.default_rng(0).random((4, 5, 5, 3)).astype(np.float32)
  _assert_same(restored.flip(images), model.flip(images))


def test_unadapted_layers_and_the_plain_state_are_refused_clearly(tmp_path):
  model = Model(nnx.Rngs(params=0, augment=1))
  model.given.build(np.array([""]))  # constants: built, the rest unbuilt
  restored = _save_and_restore(model, tmp_path / "fresh")
  assert not restored.vectorize.built and restored.given.built
  _assert_same(restored.given(WORDS), model.given(WORDS))
  # A model saved without orbax_state has no preprocessing entries to restore.
  checkpointer = ocp.StandardCheckpointer()
  _, state = nnx.split(nnx.Linear(2, 2, rngs=nnx.Rngs(0)))
  checkpointer.save(tmp_path / "plain", state)
  checkpointer.wait_until_finished()
  _, abstract_state = nnx.split(nnx.eval_shape(
      lambda: Model(nnx.Rngs(params=5, augment=5))))
  with pytest.raises(ValueError, match="orbax_state"):
    pf.orbax_restore(checkpointer, tmp_path / "plain", abstract_state)


def test_orbax_state_is_numeric_only():
  _, state = nnx.split(_adapted())
  leaves = jax.tree_util.tree_leaves(pf.orbax_state(state))
  assert leaves and all(jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)
                        or np.asarray(leaf).dtype.kind in "biuf"
                        for leaf in leaves)
  # Only preprocessing entries change; params pass through as they are.
  assert (jax.tree_util.tree_leaves(pf.orbax_state(state)["head"]) ==
          jax.tree_util.tree_leaves(state["head"]))
