"""Linen modules: state in the "preprocessing" collection, randomness from
the "augment" rng; the guide's recipes in Linen."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import linen as nn

import prepro_core as pc
import prepro_flax.linen as pfl


class _Regressor(nn.Module):

  @nn.compact
  def __call__(self, x):
    x = pfl.Normalization(name="norm")(x)
    return nn.Dense(1)(x)[:, 0]


def _data(n=128):
  rng = np.random.default_rng(0)
  x = (rng.normal(size=(n, 3)) * [1.0, 50.0, 0.1] + [3.0, -20.0, 1.0]).astype(np.float32)
  y = ((x - x.mean(0)) / x.std(0)) @ np.array([1.0, -1.0, 2.0], np.float32)
  return x, y.astype(np.float32)


def test_recipe_normalization_trained_with_optax():
  x, y = _data()
  model = _Regressor()
  variables = model.init(jax.random.key(0), x[:2])
  assert "preprocessing" not in variables  # not adapted yet, no constants
  with pytest.raises(pfl.NotAdaptedError, match=r"prepro_flax.linen.adapt.*`mean`"):
    model.apply(variables, x)
  with pytest.raises(pfl.NotAdaptedError):
    jax.jit(model.apply)(variables, x)
  variables = pfl.adapt(model, variables, x, batch_size=50)
  t = pc.normalization()
  expected = pc.adapt(t, x)
  got = variables["preprocessing"]["norm"]["state"]
  np.testing.assert_allclose(got.mean, expected.mean, rtol=1e-6)
  np.testing.assert_allclose(got.variance, expected.variance, rtol=1e-5)

  params, prepro = variables["params"], variables["preprocessing"]
  tx = optax.adam(0.05)
  opt_state = tx.init(params)

  @jax.jit
  def step(params, opt_state):
    def loss_fn(params):
      pred = model.apply({"params": params, "preprocessing": prepro}, x)
      return jnp.mean((pred - y) ** 2)
    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state)
    return optax.apply_updates(params, updates), opt_state, loss

  losses = []
  for _ in range(80):
    params, opt_state, loss = step(params, opt_state)
    losses.append(float(loss))
  assert losses[-1] < 0.1 * losses[0]


def test_adapt_replaces_and_constants_need_no_adapt():
  x, _ = _data()
  model = _Regressor()
  variables = model.init(jax.random.key(0), x[:2])
  v1 = pfl.adapt(model, variables, x + 100.0)
  v2 = pfl.adapt(model, v1, x)
  np.testing.assert_allclose(v2["preprocessing"]["norm"]["state"].mean[0],
                             x.mean(0), rtol=1e-5)
  layer = pfl.Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 4.0, 9.0])
  v = layer.init(jax.random.key(0), x)
  np.testing.assert_allclose(layer.apply(v, x),
                             (x - [1.0, 2.0, 3.0]) / np.array([1.0, 2.0, 3.0]),
                             rtol=1e-6)


def test_adapt_inside_jit_is_refused_and_empty_data():
  x, _ = _data()
  layer = pfl.Normalization()
  with pytest.raises(ValueError, match="cannot run inside jax.jit"):
    jax.jit(lambda d: pfl.adapt(layer, None, d)["preprocessing"])(x)
  with pytest.raises(ValueError, match="empty"):
    pfl.adapt(layer, None, np.zeros((0, 3), np.float32))
  with pytest.raises(ValueError, match="batch_size"):
    pfl.adapt(layer, None, x, batch_size=-1)


class _Augment(nn.Module):

  @nn.compact
  def __call__(self, images, *, train: bool):
    x = pfl.RandomFlip("horizontal")(images, deterministic=not train)
    x = pfl.RandomRotation(0.1)(x, deterministic=not train)
    x = pfl.RandomZoom(0.1)(x, deterministic=not train)
    return pfl.Rescaling(1.0 / 255)(x)


def test_recipe_augmentation_random_in_training_identity_in_eval():
  images = np.random.default_rng(0).uniform(0, 255, (4, 8, 8, 3)).astype(np.float32)
  model = _Augment()
  variables = model.init(jax.random.key(0), images, train=False)
  apply = jax.jit(model.apply, static_argnames="train")
  a = apply(variables, images, train=True, rngs={"augment": jax.random.key(1)})
  b = apply(variables, images, train=True, rngs={"augment": jax.random.key(2)})
  again = apply(variables, images, train=True, rngs={"augment": jax.random.key(1)})
  assert not np.allclose(a, b)
  np.testing.assert_array_equal(a, again)
  np.testing.assert_allclose(apply(variables, images, train=False),
                             images / 255, rtol=1e-6)
  with pytest.raises(ValueError, match=r"rngs=\{'augment': key\}"):
    model.apply(variables, images, train=True)
  # Linen's convention (as nn.Dropout): deterministic must be set somewhere.
  with pytest.raises(ValueError, match="deterministic"):
    pfl.RandomFlip().apply({}, images)
  np.testing.assert_array_equal(
      pfl.RandomFlip(deterministic=True).apply({}, images), images)


def test_random_flag_matches_the_core():
  # Every module builds, and has a `deterministic` field exactly when its
  # core transform is random.
  args = {"Normalization": (), "Rescaling": (1.0,), "Discretization": ([0.0],),
          "CategoryEncoding": (3,), "StringLookup": (), "Resizing": (4, 4),
          "CenterCrop": (4, 4), "RandomCrop": (4, 4), "RandomFlip": (),
          "RandomRotation": (0.1,), "RandomZoom": (0.1,),
          "RandomTranslation": (0.1, 0.1), "RandomShear": (0.1,),
          "RandomPerspective": (), "RandomElasticTransform": (),
          "IntegerLookup": (), "TextVectorization": (), "Hashing": (4,),
          "HashedCrossing": (4,), "AutoContrast": (), "Equalization": (),
          "RandomBrightness": (0.1,), "RandomColorDegeneration": (0.1,),
          "RandomColorJitter": (), "RandomContrast": (0.1,),
          "RandomGrayscale": (), "RandomHue": (0.1,), "RandomInvert": (),
          "RandomPosterization": ((1, 4),), "RandomSaturation": (0.1,),
          "RandomSharpness": (0.1,), "Solarization": (), "RandomErasing": (),
          "RandomGaussianBlur": (), "MixUp": (), "CutMix": (),
          "RandAugment": (), "AugMix": ()}
  every = {n for n in dir(pfl) if isinstance(getattr(pfl, n), type) and
           issubclass(getattr(pfl, n), pfl.PreprocessingModule) and
           n != "PreprocessingModule"}
  assert every == set(args)
  for name, a in args.items():
    cls = getattr(pfl, name)
    has_flag = "deterministic" in cls.__dataclass_fields__
    assert cls(*a).make_transform().is_random == has_flag, name


_DOCS = np.array(["the movie was great", "a great film", "what a great movie",
                  "the film was bad", "a bad movie", "what a bad film"])
_LABELS = np.array([1, 1, 1, 0, 0, 0])


class _TextModel(nn.Module):
  vocab_size: int

  @nn.compact
  def __call__(self, ids):
    mask = (ids > 0)[..., None]
    x = nn.Embed(self.vocab_size, 8)(ids)
    pooled = jnp.sum(x * mask, 1) / jnp.maximum(mask.sum(1), 1)
    return nn.Dense(2)(pooled)


def test_recipe_text_vectorization_embed_dense_linen():
  vectorize = pfl.TextVectorization(max_tokens=20, output_sequence_length=5)
  # Host side: adapt and apply outside jit; its state is its own variables.
  tv_vars = pfl.adapt(vectorize, None, _DOCS)
  vocab = pfl.get_vocabulary(tv_vars["preprocessing"])
  assert vocab[:2] == ["", "[UNK]"] and "great" in vocab
  ids = vectorize.apply(tv_vars, _DOCS)
  model = _TextModel(len(vocab))
  params = model.init(jax.random.key(0), ids)["params"]
  tx = optax.adam(0.05)
  opt_state = tx.init(params)

  @jax.jit
  def step(params, opt_state, ids, y):
    def loss_fn(p):
      logits = model.apply({"params": p}, ids)
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state)
    return optax.apply_updates(params, updates), opt_state, loss

  losses = []
  for _ in range(40):
    params, opt_state, loss = step(params, opt_state, ids, _LABELS)
    losses.append(float(loss))
  assert losses[-1] < 0.1 * losses[0]
  logits = jax.jit(lambda ids: model.apply({"params": params}, ids))

  def predict(raw):  # end to end, from raw strings
    return np.argmax(logits(vectorize.apply(tv_vars, np.asarray(raw))), -1)

  np.testing.assert_array_equal(predict(_DOCS), _LABELS)
  assert list(predict(["A GREAT movie!", "bad, bad film"])) == [1, 0]
  with pytest.raises(pfl.NotAdaptedError, match="`vocabulary`"):
    vectorize.apply({}, _DOCS)
