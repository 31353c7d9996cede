"""NNX layers: the generic shell (on small transforms of our own) and the
Keras guide's recipes on the real layers."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import prepro_flax as pf
import prepro_core as pc
from prepro_core import Transform
from prepro_core._src.core.transform import EmptyState, make_transform


# ---------------------------------------------------------------------------
# Two small transforms written against the contract, so the shell is tested
# on its own: an adaptable one (centering) and a random one (per-example
# shift).
# ---------------------------------------------------------------------------


class _CenterState(NamedTuple):
  count: jax.Array  # ()
  total: jax.Array  # (features,)


def _center(mean=None) -> Transform:
  def init(sample):
    d = sample.shape[-1]
    if mean is not None:
      return _CenterState(jnp.ones((), jnp.float32), jnp.asarray(mean, jnp.float32))
    return _CenterState(jnp.zeros((), jnp.float32), jnp.zeros((d,), jnp.float32))

  def accumulate(s, batch, axis_name=None):
    return _CenterState(s.count + batch.shape[0], s.total + jnp.sum(batch, 0))

  def combine(a, b):
    return _CenterState(a.count + b.count, a.total + b.total)

  def apply(s, x, key=None):
    return x - s.total / jnp.maximum(s.count, 1)

  return make_transform("center", init=init, apply=apply,
                        accumulate=accumulate, combine=combine)


def _shift() -> Transform:
  def apply(s, x, key=None):
    if key is None:
      return x
    keys = jax.random.split(key, x.shape[0])
    d = jax.vmap(lambda k: jax.random.uniform(k, ()))(keys)
    return x + d.reshape((-1,) + (1,) * (x.ndim - 1))

  return make_transform("shift", init=lambda s: EmptyState(), apply=apply,
                        is_random=True)


class Center(pf.PreprocessingLayer):

  def __init__(self, mean=None):
    super().__init__(_center(mean), constants=("mean",),
                     constants_given=mean is not None)


class Shift(pf.PreprocessingLayer):

  def __init__(self, *, rngs=None, deterministic=False):
    super().__init__(_shift(), rngs=rngs, deterministic=deterministic)


class _Model(nnx.Module):

  def __init__(self, rngs):
    self.center = Center()
    self.shift = Shift(rngs=rngs)
    self.dense = nnx.Linear(3, 1, rngs=rngs)

  def __call__(self, x):
    return self.dense(self.shift(self.center(x)))


DATA = np.arange(24, dtype=np.float32).reshape(8, 3)


def test_adapt_streams_like_one_batch():
  a, b = Center(), Center()
  a.adapt(DATA)
  b.adapt(DATA, batch_size=3)
  np.testing.assert_allclose(a(DATA), b(DATA))
  np.testing.assert_allclose(a(DATA), DATA - DATA.mean(0))


def test_adapt_accepts_list_and_iterable_of_batches():
  a, b = Center(), Center()
  a.adapt([DATA[:5], DATA[5:]])
  b.adapt(iter([DATA[:2], DATA[2:]]))
  np.testing.assert_allclose(a(DATA), DATA - DATA.mean(0))
  np.testing.assert_allclose(b(DATA), DATA - DATA.mean(0))


def test_adapt_replaces_previous_state():
  layer = Center()
  layer.adapt(DATA + 100.0)
  layer.adapt(DATA)
  np.testing.assert_allclose(layer(DATA), DATA - DATA.mean(0))


def test_never_adapted_says_adapt_or_constants():
  with pytest.raises(pf.NotAdaptedError, match=r"adapt\(data\).*`mean`"):
    Center()(DATA)
  # The same under jit: the error comes at trace time, not from inside JAX.
  with pytest.raises(pf.NotAdaptedError, match="adapt"):
    nnx.jit(lambda l, x: l(x))(Center(), DATA)


def test_constants_make_layer_ready_without_adapt():
  layer = Center(mean=[1.0, 2.0, 3.0])
  np.testing.assert_allclose(layer(DATA), DATA - np.array([1.0, 2.0, 3.0]))
  assert layer.built


def test_adapt_inside_jit_is_refused():
  layer = Center()
  layer.adapt(DATA)

  @nnx.jit
  def step(layer, x):
    layer.adapt(x)
    return layer(x)

  with pytest.raises(ValueError, match="cannot run inside jax.jit"):
    step(layer, DATA)
  with pytest.raises(ValueError, match="cannot run inside jax.jit"):
    jax.jit(lambda x: Center().adapt(x))(DATA)


def test_adapt_bad_arguments():
  with pytest.raises(TypeError, match="learns nothing"):
    Shift().adapt(DATA)
  with pytest.raises(ValueError, match="batch_size"):
    Center().adapt(DATA, batch_size=0)
  with pytest.raises(ValueError, match="empty"):
    Center().adapt([])
  with pytest.raises(TypeError, match="rngs"):
    Shift(rngs=3)
  with pytest.raises(TypeError, match="takes no `rngs`"):
    pf.PreprocessingLayer(_center(), rngs=nnx.Rngs(0))


def test_random_layer_without_rng_says_how():
  with pytest.raises(ValueError, match=r"nnx.Rngs\(augment=0\).*key=.*eval"):
    Shift()(DATA)
  # Inference needs no key.
  np.testing.assert_array_equal(Shift(deterministic=True)(DATA), DATA)
  np.testing.assert_array_equal(Shift()(DATA, deterministic=True), DATA)


def test_random_layer_train_eval_and_keys():
  layer = Shift(rngs=nnx.Rngs(augment=0))
  y1, y2 = layer(DATA), layer(DATA)
  assert not np.allclose(y1, y2)          # the stream advances
  assert not np.allclose(y1[0] - DATA[0], y1[1] - DATA[1])  # per example
  key = jax.random.key(7)
  np.testing.assert_array_equal(layer(DATA, key=key), layer(DATA, key=key))
  np.testing.assert_array_equal(layer(DATA, key=key),
                                Shift()(DATA, rngs=key))
  layer.eval()
  np.testing.assert_array_equal(layer(DATA), DATA)
  layer.train()
  assert not np.allclose(layer(DATA), DATA)
  view = nnx.view(layer, deterministic=True)
  np.testing.assert_array_equal(view(DATA), DATA)


def test_eager_equals_jit_for_a_given_key():
  layer = Shift()
  key = jax.random.key(3)
  eager = layer(DATA, key=key)
  jitted = nnx.jit(lambda l, x, k: l(x, key=k))(layer, DATA, key)
  np.testing.assert_allclose(eager, jitted, rtol=1e-6)


def test_state_is_not_a_param_and_is_not_trained():
  model = _Model(nnx.Rngs(0, augment=1))
  model.center.adapt(DATA)
  before = model.center.state.get_value()
  params = nnx.state(model, nnx.Param)
  assert all(not isinstance(v, pf.PreprocessingState)
             for _, v in nnx.to_flat_state(params))
  assert "center" not in params
  prepro = nnx.state(model, pf.PreprocessingState)
  assert "center" in prepro and "state" in prepro["center"]
  optimizer = nnx.Optimizer(model, optax.adam(0.05), wrt=nnx.Param)

  @nnx.jit
  def step(model, optimizer, x, y):
    def loss_fn(model):
      return jnp.mean((model(x)[:, 0] - y) ** 2)
    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss

  losses = [float(step(model, optimizer, DATA, DATA[:, 0])) for _ in range(5)]
  assert losses[-1] < losses[0]
  after = model.center.state.get_value()
  for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(after)):
    np.testing.assert_array_equal(a, b)


def test_first_eager_call_builds_but_jitted_call_does_not_store():
  layer = Center(mean=[0.0, 0.0, 0.0])
  nnx.jit(lambda l, x: l(x))(layer, DATA)
  assert not layer.built
  layer(DATA)
  assert layer.built


# ---------------------------------------------------------------------------
# The guide's recipes, with the real layers.
# ---------------------------------------------------------------------------


def _regression_data(n=256, seed=0):
  rng = np.random.default_rng(seed)
  # Features on very different scales: what Normalization is for.
  x = rng.normal(size=(n, 4)).astype(np.float32) * np.array(
      [1.0, 100.0, 0.01, 1000.0], np.float32) + np.array(
          [5.0, -300.0, 0.0, 2000.0], np.float32)
  w = np.array([1.0, -2.0, 0.5, 3.0], np.float32)
  y = ((x - x.mean(0)) / x.std(0)) @ w
  return x, y.astype(np.float32)


class _Regressor(nnx.Module):

  def __init__(self, rngs):
    self.norm = pf.Normalization()
    self.dense = nnx.Linear(4, 1, rngs=rngs)

  def __call__(self, x):
    return self.dense(self.norm(x))[:, 0]


def test_recipe_normalization_in_a_model_trained_with_optax():
  x, y = _regression_data()
  model = _Regressor(nnx.Rngs(0))
  model.norm.adapt(x, batch_size=64)
  # The layer gives what the core transform gives.
  t = pc.normalization()
  np.testing.assert_allclose(model.norm(x), t.apply(pc.adapt(t, x), x),
                             rtol=1e-6, atol=1e-6)
  stats_before = jax.tree.map(np.asarray, model.norm.get_state())
  optimizer = nnx.Optimizer(model, optax.adam(0.05), wrt=nnx.Param)

  @nnx.jit
  def train_step(model, optimizer, x, y):
    def loss_fn(model):
      return jnp.mean((model(x) - y) ** 2)
    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss

  losses = [float(train_step(model, optimizer, x, y)) for _ in range(80)]
  assert losses[-1] < 0.1 * losses[0]
  for a, b in zip(jax.tree.leaves(stats_before),
                  jax.tree.leaves(model.norm.get_state())):
    np.testing.assert_array_equal(a, b)
  # The optimizer holds no slot for the preprocessing state.
  opt_leaves = jax.tree.leaves(nnx.state(optimizer.opt_state))
  assert len(opt_leaves) == 2 * len(jax.tree.leaves(nnx.state(model, nnx.Param))) + 1


class _ImageClassifier(nnx.Module):

  def __init__(self, rngs):
    self.augment = nnx.List([
        pf.RandomFlip("horizontal", rngs=rngs),
        pf.RandomRotation(0.1, rngs=rngs),
        pf.RandomZoom(0.1, rngs=rngs),
    ])
    self.rescale = pf.Rescaling(1.0 / 255)
    self.dense = nnx.Linear(8 * 8 * 3, 2, rngs=rngs)

  def features(self, images):
    for layer in self.augment:
      images = layer(images)
    return self.rescale(images)

  def __call__(self, images):
    return self.dense(self.features(images).reshape(images.shape[0], -1))


def test_recipe_flip_rotation_zoom_in_the_training_step():
  rng = np.random.default_rng(0)
  images = rng.uniform(0, 255, size=(16, 8, 8, 3)).astype(np.float32)
  labels = rng.integers(0, 2, size=16)
  model = _ImageClassifier(nnx.Rngs(params=0, augment=1))
  optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)

  @nnx.jit
  def train_step(model, optimizer, x, y):
    def loss_fn(model):
      features = model.features(x)
      logits = model.dense(features.reshape(x.shape[0], -1))
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
      return loss, features
    (loss, features), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
    optimizer.update(model, grads)
    return loss, features

  model.train()
  losses, seen = [], []
  for _ in range(10):
    loss, features = train_step(model, optimizer, images, labels)
    losses.append(float(loss))
    seen.append(np.asarray(features))
  assert np.isfinite(losses).all() and losses[-1] < losses[0]
  # A fresh augmentation every step, and a real one.
  assert not np.allclose(seen[0], seen[1])
  assert not np.allclose(seen[0], images / 255)
  model.eval()
  eval_features = nnx.jit(lambda m, x: m.features(x))(model, images)
  np.testing.assert_allclose(eval_features, images / 255, rtol=1e-6)


def test_recipe_string_lookup_multi_hot_into_dense():
  docs = np.array([["red", "green"], ["blue", "blue"], ["red", "blue"],
                   ["green", "green"]])
  lookup = pf.StringLookup(output_mode="multi_hot")
  lookup.adapt(docs)
  # Count descending, ties by token descending (Keras' order).
  assert lookup.get_vocabulary() == ["[UNK]", "green", "blue", "red"]
  assert lookup.vocabulary_size() == 4
  hot = lookup(docs)
  np.testing.assert_array_equal(
      hot, [[0, 1, 0, 1], [0, 0, 1, 0], [0, 0, 1, 1], [0, 1, 0, 0]])
  dense = nnx.Linear(4, 1, rngs=nnx.Rngs(0))
  assert dense(hot).shape == (4, 1)


def test_string_layers_state_stays_on_the_host_through_jit():
  lookup = pf.StringLookup(salt=(2**63 + 5, 7), num_oov_indices=3)
  lookup.adapt(np.array(["a", "b", "b"]))
  expected = lookup(np.array(["a", "b", "zzz", "yy"]))

  class M(nnx.Module):
    def __init__(self):
      self.lookup = lookup
      self.dense = nnx.Linear(2, 1, rngs=nnx.Rngs(0))

  model = M()
  nnx.jit(lambda m, x: m.dense(x))(model, jnp.ones((1, 2)))
  # The uint64 salt was neither traced nor truncated to 32 bits.
  assert model.lookup.get_state().salt.dtype == np.uint64
  np.testing.assert_array_equal(model.lookup(np.array(["a", "b", "zzz", "yy"])),
                                expected)
  assert not jax.tree.leaves(nnx.state(model, pf.PreprocessingState))


@pytest.mark.parametrize("make, x, random", [
    (lambda: pf.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0]),
     np.ones((3, 2), np.float32), False),
    (lambda: pf.Rescaling(2.0, offset=1.0), np.ones((3, 2), np.float32), False),
    (lambda: pf.Discretization(bin_boundaries=[0.0, 1.0]),
     np.array([[-1.0, 0.5, 2.0]], np.float32), False),
    (lambda: pf.CategoryEncoding(4, output_mode="one_hot"),
     np.array([0, 3, 1]), False),
    (lambda: pf.Resizing(4, 6), np.ones((2, 8, 8, 3), np.float32), False),
    (lambda: pf.CenterCrop(4, 4), np.ones((2, 8, 8, 3), np.float32), False),
    (lambda: pf.RandomCrop(4, 4), np.ones((2, 8, 8, 3), np.float32), True),
    (lambda: pf.RandomFlip(), np.ones((2, 8, 8, 3), np.float32), True),
    (lambda: pf.RandomRotation(0.2), np.ones((2, 8, 8, 3), np.float32), True),
    (lambda: pf.RandomZoom(0.2), np.ones((2, 8, 8, 3), np.float32), True),
    (lambda: pf.RandomTranslation(0.2, 0.2), np.ones((2, 8, 8, 3), np.float32), True),
    (lambda: pf.RandomShear(0.2, 0.2), np.ones((2, 8, 8, 3), np.float32), True),
])
def test_every_layer_works_eagerly_and_under_jit(make, x, random):
  layer = make()
  assert layer.transform.is_random == random
  key = jax.random.key(0) if random else None
  kw = {"key": key} if random else {}
  eager = layer(x, **kw)
  jitted = nnx.jit(lambda l, x, k: l(x, key=k) if random else l(x))(layer, x, key)
  np.testing.assert_allclose(eager, jitted, rtol=1e-5, atol=1e-4)
  core = (layer.transform.apply(layer.get_state(), x, key=key) if random else
          layer.transform.apply(layer.get_state(), x))
  np.testing.assert_allclose(eager, core, rtol=1e-6)
  if random:
    np.testing.assert_allclose(layer(x, deterministic=True),
                               layer.transform.apply(layer.get_state(), x))


_IMG = np.random.default_rng(1).uniform(0, 255, (2, 6, 6, 3)).astype(np.float32)


@pytest.mark.parametrize("make", [
    lambda: pf.AutoContrast(), lambda: pf.Equalization(),
    lambda: pf.RandomBrightness(0.2), lambda: pf.RandomColorDegeneration(0.2),
    lambda: pf.RandomColorJitter(brightness_factor=0.2),
    lambda: pf.RandomContrast(0.2), lambda: pf.RandomGrayscale(),
    lambda: pf.RandomHue(0.2), lambda: pf.RandomInvert(),
    lambda: pf.RandomPosterization((1, 4)), lambda: pf.RandomSaturation(0.2),
    lambda: pf.RandomSharpness(0.2), lambda: pf.Solarization(0.2, 0.2),
    lambda: pf.RandomErasing(), lambda: pf.RandomGaussianBlur(),
    lambda: pf.RandomPerspective(), lambda: pf.RandomElasticTransform(),
    lambda: pf.RandAugment(), lambda: pf.AugMix(),
])
def test_every_image_layer_is_wired_to_its_core_transform(make):
  # The shell only: the key plumbing is tested above on cheaper layers and
  # the numerics are the core's (tested there, eagerly and under jit), so
  # only the inference path runs here (training these eagerly is slow).
  layer = make()
  state = layer.transform.init(_IMG)
  if layer.transform.is_random:
    with pytest.raises(ValueError, match="no random key"):
      layer(_IMG)
    np.testing.assert_array_equal(layer(_IMG, deterministic=True),
                                  layer.transform.apply(state, _IMG))
    layer.eval()
  np.testing.assert_array_equal(layer(_IMG), layer.transform.apply(state, _IMG))


@pytest.mark.parametrize("cls", [pf.MixUp, pf.CutMix])
def test_mixing_layers_take_images_and_labels(cls):
  batch = {"images": _IMG, "labels": np.eye(2, dtype=np.float32)}
  layer = cls(rngs=nnx.Rngs(augment=0))
  out = layer(batch)
  assert out["images"].shape == _IMG.shape and out["labels"].shape == (2, 2)
  np.testing.assert_allclose(np.sum(out["labels"], -1), 1.0, rtol=1e-5)
  layer.eval()
  np.testing.assert_array_equal(layer(batch)["images"], _IMG)


def test_hashing_and_lookups_run_on_the_host():
  h = pf.Hashing(8)
  np.testing.assert_array_equal(h(np.array([1, 2, 3])),
                                pc.hashing(8).apply(pc.EmptyState(), np.array([1, 2, 3])))
  cross = pf.HashedCrossing(8)
  assert np.shape(cross((np.array([1, 2]), np.array(["a", "b"])))) == (2,)
  il = pf.IntegerLookup()
  il.adapt(np.array([5, 5, 7]))
  assert il.get_vocabulary() == [-1, 5, 7] and il.vocabulary_size() == 3
  np.testing.assert_array_equal(il(np.array([5, 7, 9])), [1, 2, 0])
  for layer in (h, cross, il):
    assert "host" in type(layer).__doc__
  with pytest.raises(pf.NotAdaptedError, match=r"adapt\(data\).*`vocabulary`"):
    pf.IntegerLookup()(np.array([1]))


_DOCS = np.array(["the movie was great", "a great film", "what a great movie",
                  "the film was bad", "a bad movie", "what a bad film"])
_LABELS = np.array([1, 1, 1, 0, 0, 0])


class _TextClassifier(nnx.Module):
  """TextVectorization -> Embed -> mean pooling -> Dense."""

  def __init__(self, vectorize, rngs):
    self.vectorize = vectorize
    self.embed = nnx.Embed(vectorize.vocabulary_size(), 8, rngs=rngs)
    self.dense = nnx.Linear(8, 2, rngs=rngs)

  def logits(self, ids):  # on device, jittable
    mask = (ids > 0)[..., None]
    pooled = jnp.sum(self.embed(ids) * mask, 1) / jnp.maximum(mask.sum(1), 1)
    return self.dense(pooled)


def test_recipe_text_vectorization_embed_dense_then_raw_strings():
  vectorize = pf.TextVectorization(max_tokens=20, output_sequence_length=5)
  vectorize.adapt(_DOCS)
  vocab = vectorize.get_vocabulary()
  assert vocab[:2] == ["", "[UNK]"] and "great" in vocab
  model = _TextClassifier(vectorize, nnx.Rngs(0))
  ids = vectorize(_DOCS)  # host side: the input pipeline
  optimizer = nnx.Optimizer(model, optax.adam(0.05), wrt=nnx.Param)

  @nnx.jit
  def train_step(model, optimizer, ids, y):
    def loss_fn(model):
      return optax.softmax_cross_entropy_with_integer_labels(
          model.logits(ids), y).mean()
    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss

  losses = [float(train_step(model, optimizer, ids, _LABELS)) for _ in range(40)]
  assert losses[-1] < 0.1 * losses[0]
  logits = nnx.jit(lambda m, ids: m.logits(ids))

  def predict(raw_strings):  # end to end: strings on the host, then device
    return np.argmax(logits(model, model.vectorize(np.asarray(raw_strings))), -1)

  np.testing.assert_array_equal(predict(_DOCS), _LABELS)
  assert list(predict(["A GREAT movie!", "bad, bad film"])) == [1, 0]


@pytest.mark.parametrize("mode", ["multi_hot", "tf_idf"])
def test_recipe_bigrams_into_a_dense_layer(mode):
  vectorize = pf.TextVectorization(ngrams=2, output_mode=mode)
  vectorize.adapt(_DOCS)
  assert "a great" in vectorize.get_vocabulary()
  features = vectorize(_DOCS)
  assert features.shape == (len(_DOCS), vectorize.vocabulary_size())
  dense = nnx.Linear(features.shape[1], 2, rngs=nnx.Rngs(0))
  optimizer = nnx.Optimizer(dense, optax.adam(0.1), wrt=nnx.Param)

  @nnx.jit
  def train_step(dense, optimizer, f, y):
    def loss_fn(dense):
      return optax.softmax_cross_entropy_with_integer_labels(dense(f), y).mean()
    loss, grads = nnx.value_and_grad(loss_fn)(dense)
    optimizer.update(dense, grads)
    return loss

  losses = [float(train_step(dense, optimizer, features, _LABELS)) for _ in range(30)]
  assert losses[-1] < 0.1 * losses[0]
  np.testing.assert_array_equal(np.argmax(dense(vectorize(_DOCS)), -1), _LABELS)


def test_lookup_vocabulary_readable_before_first_call():
  # Keras answers get_vocabulary() for a layer built from a vocabulary.
  assert pf.StringLookup(vocabulary=["a", "b"]).get_vocabulary() == ["[UNK]", "a", "b"]
  assert pf.IntegerLookup(vocabulary=[5, 7]).vocabulary_size() == 3
  assert pf.TextVectorization(vocabulary=["x", "y"]).get_vocabulary() == ["", "[UNK]", "x", "y"]
  with pytest.raises(pf.NotAdaptedError, match="adapt"):
    pf.StringLookup().get_vocabulary()
