"""Every transform, state and Flax layer pickles and round-trips.

Input pipelines (grain workers, ``multiprocessing`` with spawn, torch
``DataLoader`` workers) pickle what they run. A transform pickles as its
factory called again with the same arguments (``@transform_factory``), so an
unpickled transform equals its original and applies identically; states are
NamedTuples of arrays; prepro_flax layers pickle with their transform and
state.
"""
from __future__ import annotations

import copy
import multiprocessing
import pickle

import jax
import numpy as np
import pytest
from flax import nnx

import prepro_core as pc
import prepro_flax as pf
import prepro_flax.linen as ppl
from prepro_core._src.core.transform import make_transform
from prepro_flax._src import registry

import _factories as F
import _pickle_worker

KEY = jax.random.key(7)


def roundtrip(obj):
  return pickle.loads(pickle.dumps(obj))


def assert_trees_equal(a, b):
  """Same structure and types, every leaf equal in dtype, shape and bits."""
  la, ta = jax.tree_util.tree_flatten(a)
  lb, tb = jax.tree_util.tree_flatten(b)
  assert ta == tb
  for x, y in zip(la, lb):
    assert type(x) is type(y)
    if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype,
                                                          jax.dtypes.prng_key):
      x, y = jax.random.key_data(x), jax.random.key_data(y)
    x, y = np.asarray(x), np.asarray(y)
    assert x.dtype == y.dtype and x.shape == y.shape
    np.testing.assert_array_equal(x, y)


def state_of(t, sample):
  return pc.adapt(t, sample) if t.adaptable else t.init(sample)


def apply(t, state, x):
  return t.apply(state, x, key=KEY) if t.is_random else t.apply(state, x)


# --------------------------------------------------------------------------
# prepro_core transforms and states.
# --------------------------------------------------------------------------

@pytest.mark.parametrize("entry", F.FACTORIES, ids=repr)
def test_transform_and_state_round_trip(entry):
  t, x = F.transform(entry), F.sample(entry)
  state = state_of(t, x)
  t2, state2 = roundtrip((t, state))
  assert t2 == t and hash(t2) == hash(t) and t2.name == t.name
  assert t2.recipe.factory is t.recipe.factory
  assert_trees_equal(state2, state)
  assert_trees_equal(apply(t2, state2, x), apply(t, state, x))


def test_equality_compares_factory_and_arguments_by_value():
  assert pc.normalization() == pc.normalization(axis=-1)  # defaults bound
  assert hash(pc.normalization()) == hash(pc.normalization(axis=-1))
  assert pc.normalization() != pc.normalization(axis=None)
  assert pc.rescaling(0.5) != pc.normalization()
  mean, var = np.array([1.0, 2.0]), np.array([4.0, 9.0])
  t = pc.normalization(mean=mean, variance=var)
  assert t == pc.normalization(mean=mean.copy(), variance=var.copy())
  assert t != pc.normalization(mean=mean.astype(np.float32), variance=var)
  assert t != pc.normalization(mean=mean + 1, variance=var)
  mean[0] = 5.0  # recorded as a copy: the caller's later change is not seen
  assert np.asarray(t.recipe.arguments["mean"])[0] == 1.0
  assert roundtrip(t) == t
  vocab = ["earth", "wind", "and", "fire"]
  tv = pc.text_vectorization(vocabulary=vocab, output_sequence_length=5)
  assert roundtrip(tv) == tv != pc.text_vectorization(vocabulary=vocab[:3])
  assert {tv: 1}[roundtrip(tv)] == 1  # usable as a dict / cache key
  # A chain compares its parts by their recipes.
  chained = pc.chain(pc.rescaling(0.5), pc.normalization())
  assert roundtrip(chained) == chained == pc.chain(pc.rescaling(0.5),
                                                   pc.normalization())
  assert copy.deepcopy(tv) is tv and copy.copy(tv) is tv


def test_string_transforms_from_constants_round_trip():
  docs = np.array(["Earth, wind and fire!", "fire water"])
  for t in (pc.text_vectorization(vocabulary=["earth", "wind", "and", "fire"],
                                  output_sequence_length=5),
            pc.text_vectorization(output_mode="tf_idf",
                                  vocabulary=["earth", "fire"],
                                  idf_weights=[0.5, 0.25]),
            pc.string_lookup(vocabulary=np.array(["a", "b"]), num_oov_indices=2),
            pc.integer_lookup(vocabulary=[12, 36, 1138, 42]),
            pc.hashing(8, salt=(1, 2))):
    x = docs if t.name == "text_vectorization" else (
        np.array([12, 36, 7]) if t.name == "integer_lookup" else docs)
    t2 = roundtrip(t)
    assert t2 == t
    np.testing.assert_array_equal(t2.apply(t2.init(x), x), t.apply(t.init(x), x))


def test_module_level_callables_travel_by_reference():
  t = pc.text_vectorization(standardize=_pickle_worker.shout)
  t2 = roundtrip(t)
  assert t2 == t and t2.recipe.arguments["standardize"] is _pickle_worker.shout
  docs = ["The cat", "the dog"]
  s = pc.adapt(t, docs)
  np.testing.assert_array_equal(t2.apply(roundtrip(s), docs), t.apply(s, docs))


def test_lambda_argument_raises_a_clear_error():
  t = pc.text_vectorization(standardize=lambda s: s)
  with pytest.raises(TypeError, match=r"text_vectorization.*`standardize` is "
                     r"a lambda.*top level of a module"):
    pickle.dumps(t)

  def local(s):
    return s
  with pytest.raises(TypeError, match="defined inside another function"):
    pickle.dumps(pc.text_vectorization(split=local))


def _init(sample):
  del sample
  return pc.EmptyState()


def _identity(state, x):
  del state
  return x


def test_transform_without_factory_refuses_to_pickle():
  t = make_transform("my_transform", init=_init, apply=_identity)
  with pytest.raises(TypeError, match=r"`my_transform` cannot be pickled.*"
                     r"make_transform directly.*factory"):
    pickle.dumps(t)
  assert t == t and t != make_transform("my_transform", init=_init,
                                        apply=_identity)
  hash(t)
  # Nor does a chain holding it.
  with pytest.raises(TypeError, match="my_transform"):
    pickle.dumps(pc.chain(pc.rescaling(2.0), t))


# --------------------------------------------------------------------------
# Worker processes.
# --------------------------------------------------------------------------

def test_spawned_workers_apply_a_pickled_transform_like_this_process():
  docs = list(F.SENTENCES) * 2
  tv = pc.text_vectorization(output_sequence_length=4)
  tv_state = pc.adapt(tv, docs)
  flip = pc.random_flip("horizontal")
  images = F.images((6, 5, 4, 3), 1.0, same=0)
  jobs = ([(pickle.dumps((tv, tv_state)), 0, i, np.asarray(d))
           for i, d in enumerate(docs)] +
          [(pickle.dumps((flip, flip.init(images))), 3, i, im)
           for i, im in enumerate(images)])
  expected = [_pickle_worker.apply_record(job) for job in jobs]
  with multiprocessing.get_context("spawn").Pool(2) as pool:
    got = pool.map(_pickle_worker.apply_record, jobs, chunksize=3)
  for g, e in zip(got, expected):
    assert g.dtype == e.dtype
    np.testing.assert_array_equal(g, e)


# --------------------------------------------------------------------------
# prepro_flax layers (NNX and Linen), from the registry.
# --------------------------------------------------------------------------

ROWS = {row.name: row for row in registry.LAYERS}
# Layers whose outputs take seconds to compile: their transforms' outputs are
# compared after a round trip above, and the layer path that calls them is
# the same for every layer, so here their transform and state are compared.
SLOW_TO_COMPILE = frozenset({"AugMix", "RandAugment", "CutMix", "MixUp",
                             "RandomErasing", "RandomElasticTransform"})


def _entry(row):
  return F.BY_NAME[row.factory.__name__]


@pytest.mark.parametrize("name", list(ROWS))
def test_nnx_layer_round_trips(name):
  row = ROWS[name]
  entry = _entry(row)
  recipe, x = F.transform(entry).recipe, F.sample(entry)
  cls = getattr(pf, name)
  rngs = {"rngs": nnx.Rngs(augment=3)} if row.random else {}
  layer = cls(*recipe.args, **recipe.kwargs, **rngs)
  fresh = roundtrip(layer)  # never built
  assert fresh.transform == layer.transform and not fresh.built
  if layer.transform.adaptable:
    layer.adapt(x)
  else:
    layer.build(x)
  layer2 = roundtrip(layer)
  assert type(layer2) is cls and layer2.transform == layer.transform
  assert_trees_equal(layer2.get_state(), layer.get_state())
  if name in SLOW_TO_COMPILE:
    return
  # Random layers: the pickled rng stream continues where the original is.
  assert_trees_equal(layer2(x), layer(x))
  if row.random:
    layer.eval()
    layer2 = roundtrip(layer)
    assert layer2.deterministic
    assert_trees_equal(layer2(x), layer(x))


@pytest.mark.parametrize("name", list(ROWS))
def test_linen_module_round_trips(name):
  row = ROWS[name]
  entry = _entry(row)
  recipe, x = F.transform(entry).recipe, F.sample(entry)
  extra = {"deterministic": False} if row.random else {}
  module = getattr(ppl, name)(**recipe.arguments, **extra)
  if module.make_transform().adaptable:
    variables = ppl.adapt(module, None, x)  # no params: no init needed
  else:
    variables = module.init({"params": jax.random.key(0), "augment": KEY}, x)
  module2, variables2 = roundtrip((module, variables))
  assert module2 == module
  assert_trees_equal(variables2, variables)
  if name in SLOW_TO_COMPILE:
    return
  assert_trees_equal(module2.apply(variables2, x, rngs={"augment": KEY}),
                     module.apply(variables, x, rngs={"augment": KEY}))


class _Model(nnx.Module):
  """A model mixing string, numeric and random layers (for the pickle test)."""

  def __init__(self, rngs):
    self.words = pf.StringLookup()
    self.norm = pf.Normalization()
    self.flip = pf.RandomFlip("horizontal", rngs=rngs)
    self.dense = nnx.Linear(3, 2, rngs=rngs)


def test_nnx_model_with_adapted_layers_round_trips():
  model = _Model(nnx.Rngs(params=0, augment=1))
  model.words.adapt(F.TOKENS)
  model.norm.adapt(F.numbers())
  model2 = roundtrip(model)
  np.testing.assert_array_equal(model2.words(F.TOKENS), model.words(F.TOKENS))
  np.testing.assert_array_equal(model2.dense(model2.norm(F.numbers())),
                                model.dense(model.norm(F.numbers())))
  images = F.geo()
  np.testing.assert_array_equal(model2.flip(images), model.flip(images))
  assert model2.words.get_vocabulary() == model.words.get_vocabulary()
