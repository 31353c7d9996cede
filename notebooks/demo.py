"""`make demo`: every recipe of the Keras guide "Working with preprocessing
layers", in JAX with prepro, on data generated on the spot.

  python notebooks/demo.py [--quick] [--out notebooks/augmented.png]

Recipes, in the guide's order:

 1. Image data augmentation (RandomFlip + RandomRotation + RandomZoom) and
    Rescaling inside a small CNN, trained with optax; a PNG grid of
    augmented images.
 2. Normalizing numerical features: Normalization + Dense.
 3. String categorical features: StringLookup one-hot, unknown values.
 4. Integer categorical features: IntegerLookup one-hot, unknown values.
 5. The hashing trick: Hashing into CategoryEncoding multi-hot.
 6. Text as sequences of token indices: TextVectorization (int) into Embed
    and a GRU.
 7. Text as multi-hot bigrams, and as TF-IDF bigrams, into Dense.
 8. An end-to-end inference function on raw strings: the on-device part
    (the model) exported with ``jax.export``, serialized and reloaded; the
    string part runs on the host.

Every model is a Flax NNX module holding prepro_flax layers; the adapted
state is a ``PreprocessingState`` (not a parameter), so the optimizer
(``wrt=nnx.Param``) leaves it alone. Data: :mod:`guide_data` (synthetic
shapes and reviews; ``load_cifar10(path)`` reads the real CIFAR-10 if you
have it: pass ``--cifar10 PATH`` to use it in recipes 1 and 2).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)                    # guide_data
sys.path.insert(0, os.path.dirname(HERE))   # prepro, when not pip-installed

import jax  # pylint: disable=g-import-not-at-top
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top
import optax  # pylint: disable=g-import-not-at-top
from flax import nnx  # pylint: disable=g-import-not-at-top

import guide_data  # pylint: disable=g-import-not-at-top
import prepro_flax as pf  # pylint: disable=g-import-not-at-top

_T0 = time.monotonic()


def say(*args) -> None:
  print(f"[{time.monotonic() - _T0:6.1f}s]", *args, flush=True)


def section(title: str) -> None:
  print(f"\n== {title} ==", flush=True)


def batches(n: int, batch_size: int, steps: int, seed: int):
  """Indices of ``steps`` shuffled mini-batches over ``n`` examples."""
  rng = np.random.default_rng(seed)
  order = np.empty(0, np.int64)
  for _ in range(steps):
    if len(order) < batch_size:
      order = np.concatenate([order, rng.permutation(n)])
    idx, order = order[:batch_size], order[batch_size:]
    yield idx


def fit(model, loss_fn, arrays, *, steps, batch_size, lr, seed=0,
        log_every=None):
  """Trains ``model`` with Adam on ``loss_fn(model, *batch)``; returns the
  per-step losses. Only ``nnx.Param`` is trained: the preprocessing state
  is not touched."""
  optimizer = nnx.Optimizer(model, optax.adam(lr), wrt=nnx.Param)

  @nnx.jit
  def train_step(model, optimizer, *batch):
    loss, grads = nnx.value_and_grad(loss_fn)(model, *batch)
    optimizer.update(model, grads)
    return loss

  losses = []
  n = len(arrays[0])
  for step, idx in enumerate(batches(n, batch_size, steps, seed)):
    losses.append(float(train_step(model, optimizer, *(a[idx] for a in arrays))))
    if log_every and (step % log_every == 0 or step == steps - 1):
      say(f"  step {step:4d}  loss {losses[-1]:.4f}")
  return losses


def accuracy(logits, labels) -> float:
  logits = np.asarray(logits)
  pred = (logits[:, 0] > 0) if logits.shape[-1] == 1 else logits.argmax(-1)
  return float(np.mean(pred == np.asarray(labels)))


# ---------------------------------------------------------------------------
# 1. Image augmentation + Rescaling inside a CNN.
# ---------------------------------------------------------------------------


class AugmentedCNN(nnx.Module):
  """The guide's ``data_augmentation`` block and ``Rescaling(1/255)`` in
  front of a small CNN. Random in train mode, the identity after
  ``.eval()``."""

  def __init__(self, num_classes: int, rngs: nnx.Rngs):
    self.augment = nnx.List([
        pf.RandomFlip("horizontal", rngs=rngs),
        pf.RandomRotation(0.1, rngs=rngs),
        pf.RandomZoom(0.1, rngs=rngs),
    ])
    self.rescale = pf.Rescaling(1.0 / 255)
    self.conv1 = nnx.Conv(3, 16, (3, 3), rngs=rngs)
    self.conv2 = nnx.Conv(16, 32, (3, 3), rngs=rngs)
    self.head = nnx.Linear(32, num_classes, rngs=rngs)

  def augmentations(self, images, key=None):
    """The three random layers; with ``key`` they draw from it (one
    independent key per layer) instead of their ``augment`` stream."""
    for i, layer in enumerate(self.augment):
      images = layer(images) if key is None else layer(
          images, key=jax.random.fold_in(key, i))
    return images

  def __call__(self, images):
    x = self.rescale(self.augmentations(images.astype(jnp.float32)))
    x = nnx.max_pool(nnx.relu(self.conv1(x)), (2, 2), (2, 2))
    x = nnx.max_pool(nnx.relu(self.conv2(x)), (2, 2), (2, 2))
    return self.head(jnp.mean(x, axis=(1, 2)))


def augmented_grid(model: AugmentedCNN, images, columns: int, seed: int):
  """Row per image: the original, then ``columns - 1`` augmentations."""
  images = np.asarray(images, np.float32)
  n = len(images)
  # Each image repeated: every copy draws its own flip/angle/zoom.
  copies = np.repeat(images, columns - 1, axis=0)
  views = nnx.jit(lambda m, x, k: m.augmentations(x, key=k))(
      model, copies, jax.random.key(seed))
  views = np.asarray(views).reshape(n, columns - 1, *images.shape[1:])
  return guide_data.image_grid(
      [np.concatenate([images[i:i + 1], views[i]]) for i in range(n)], scale=3)


def recipe_image_augmentation(data, cfg, out_png, seed=0):
  section("1. Image augmentation + Rescaling inside a CNN (optax, nnx)")
  (x_train, y_train), (x_test, y_test), names = data
  num_classes = len(names)
  say(f"data: {len(x_train)} train / {len(x_test)} test images "
      f"{x_train.shape[1:]} uint8, classes {list(names)}")
  model = AugmentedCNN(num_classes, nnx.Rngs(params=seed, augment=seed + 1))

  grid = augmented_grid(model, x_test[:4], columns=8, seed=seed)
  writer = guide_data.save_png(out_png, grid)
  say(f"wrote {out_png} ({grid.shape[1]}x{grid.shape[0]}, {writer}): each row "
      f"is an image then 7 RandomFlip+RandomRotation+RandomZoom views")

  def loss_fn(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()

  model.train()  # augmentation on
  t = time.monotonic()
  losses = fit(model, loss_fn, (x_train, y_train), steps=cfg["cnn_steps"],
               batch_size=64, lr=3e-3, seed=seed, log_every=cfg["cnn_steps"] // 4)
  model.eval()   # augmentation off: the identity
  logits = nnx.jit(lambda m, x: m(x))(model, x_test)
  acc = accuracy(logits, y_test)
  say(f"trained {len(losses)} steps in {time.monotonic() - t:.1f}s; "
      f"loss {losses[0]:.3f} -> {losses[-1]:.3f}; test accuracy {acc:.3f} "
      f"(chance {1 / num_classes:.2f})")
  return {"model": model, "losses": losses, "accuracy": acc}


# ---------------------------------------------------------------------------
# 2. Normalization + Dense.
# ---------------------------------------------------------------------------


class NormalizedLinear(nnx.Module):
  """The guide's ``Normalization()`` then ``Dense(num_classes)``."""

  def __init__(self, features: int, num_classes: int, rngs: nnx.Rngs):
    self.norm = pf.Normalization()
    self.dense = nnx.Linear(features, num_classes, rngs=rngs)

  def __call__(self, x):
    return self.dense(self.norm(x))


def recipe_normalization(data, cfg, seed=0):
  section("2. Normalizing numerical features: Normalization + Dense")
  (x_train, y_train), (x_test, y_test), names = data
  flat = lambda x: x.reshape(len(x), -1).astype(np.float32)
  x_train, x_test = flat(x_train), flat(x_test)
  model = NormalizedLinear(x_train.shape[1], len(names), nnx.Rngs(seed))
  model.norm.adapt(x_train, batch_size=256)  # streamed, as Keras' adapt
  stats = model.norm.get_state()
  say(f"adapted on {x_train.shape}: mean in [{float(stats.mean.min()):.1f}, "
      f"{float(stats.mean.max()):.1f}], variance in "
      f"[{float(stats.variance.min()):.1f}, {float(stats.variance.max()):.1f}]")
  normed = np.asarray(model.norm(x_train))
  say(f"normalized train features: mean {normed.mean():.2e}, std "
      f"{normed.std():.4f}")

  def loss_fn(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()

  before = jax.tree.map(np.asarray, stats)
  losses = fit(model, loss_fn, (x_train, y_train), steps=cfg["dense_steps"],
               batch_size=64, lr=1e-3, seed=seed)
  unchanged = all(np.array_equal(a, b) for a, b in zip(
      jax.tree.leaves(before), jax.tree.leaves(model.norm.get_state())))
  acc = accuracy(model(x_test), y_test)
  say(f"loss {losses[0]:.3f} -> {losses[-1]:.3f}; test accuracy {acc:.3f}; "
      f"normalization state untouched by training: {unchanged}")
  return {"losses": losses, "accuracy": acc, "state_unchanged": unchanged}


# ---------------------------------------------------------------------------
# 3-5. Categorical features.
# ---------------------------------------------------------------------------


def recipe_string_lookup():
  section("3. String categorical features: StringLookup one-hot")
  data = np.array([["a"], ["b"], ["c"], ["b"], ["c"], ["a"]])
  lookup = pf.StringLookup(output_mode="one_hot")
  lookup.adapt(data)
  test_data = np.array([["a"], ["b"], ["c"], ["d"], ["e"], [""]])
  encoded = np.asarray(lookup(test_data))
  say(f"vocabulary {lookup.get_vocabulary()}  (index 0 is the OOV token)")
  for token, row in zip(test_data[:, 0], encoded):
    say(f"  {str(token)!r:5} -> {row.astype(int).tolist()}")
  return {"vocabulary": lookup.get_vocabulary(), "one_hot": encoded}


def recipe_integer_lookup():
  section("4. Integer categorical features: IntegerLookup one-hot")
  data = np.array([[10], [20], [20], [10], [30], [0]])
  lookup = pf.IntegerLookup(output_mode="one_hot")
  lookup.adapt(data)
  test_data = np.array([[10], [10], [20], [50], [60], [0]])
  encoded = np.asarray(lookup(test_data))
  say(f"vocabulary {lookup.get_vocabulary()}  (index 0 is the OOV token -1)")
  for value, row in zip(test_data[:, 0], encoded):
    say(f"  {int(value):3d} -> {row.astype(int).tolist()}")
  return {"vocabulary": lookup.get_vocabulary(), "one_hot": encoded}


def recipe_hashing(data=None):
  section("5. The hashing trick: Hashing(64, salt=1337) -> CategoryEncoding "
          "multi_hot")
  if data is None:  # the guide's data: 10,000 integers below 100,000
    data = np.random.default_rng(0).integers(0, 100000, size=(10000, 1))
  hasher = pf.Hashing(num_bins=64, salt=1337)
  encoder = pf.CategoryEncoding(num_tokens=64, output_mode="multi_hot")
  ids = np.asarray(hasher(data))       # on the host (SipHash of the digits)
  encoded = np.asarray(encoder(ids))   # on device
  say(f"{data.shape} ints -> bins {ids.shape}, first {ids[:6, 0].tolist()} "
      f"-> multi-hot {encoded.shape}, {int(encoded.sum())} ones; "
      f"{int((np.bincount(ids.ravel(), minlength=64) > 0).sum())} of 64 bins used")
  return {"ids": ids, "multi_hot": encoded}


# ---------------------------------------------------------------------------
# 6-8. Text.
# ---------------------------------------------------------------------------


class SequenceClassifier(nnx.Module):
  """The guide's ``Embedding(vocab, 16) -> GRU(8) -> Dense(1)`` on token
  indices (0 is padding: the GRU skips it, keeping its state)."""

  def __init__(self, vocabulary_size: int, rngs: nnx.Rngs):
    self.embed = nnx.Embed(vocabulary_size, 16, rngs=rngs)
    self.cell = nnx.GRUCell(16, 8, rngs=rngs)
    self.dense = nnx.Linear(8, 1, rngs=rngs)

  def __call__(self, ids):
    x = self.embed(ids)              # (batch, time, 16)
    mask = ids > 0                   # (batch, time)

    def step(carry, inputs):
      x_t, m_t = inputs
      new, _ = self.cell(carry, x_t)
      return jnp.where(m_t[:, None], new, carry), None

    # A plain lax.scan over the cell (rather than nnx.RNN, which draws an rng
    # for its carry): the model stays a pure function, as jax.export needs.
    carry = jnp.zeros((ids.shape[0], 8), x.dtype)
    carry, _ = jax.lax.scan(step, carry,
                            (jnp.swapaxes(x, 0, 1), jnp.swapaxes(mask, 0, 1)))
    return self.dense(carry)


def bce(logits, labels):
  return optax.sigmoid_binary_cross_entropy(logits[:, 0], labels).mean()


def recipe_text_sequences(texts, cfg, seed=0):
  section("6. Text as int sequences: TextVectorization -> Embed -> GRU -> Dense")
  vectorizer = pf.TextVectorization(output_mode="int")
  vectorizer.adapt(guide_data.DICKINSON)
  say(f"the guide's poem: vocabulary_size {vectorizer.vocabulary_size()}, "
      f"{vectorizer.get_vocabulary()[:6]}...")
  say(f"  'The Brain is deeper than the sea' -> "
      f"{np.asarray(vectorizer(np.array(['The Brain is deeper than the sea'])))[0].tolist()}")

  (t_train, y_train), (t_test, y_test) = texts
  # A fixed length (Keras pads each batch to its longest; a fixed one gives
  # one compiled shape under jit and jax.export).
  vectorizer = pf.TextVectorization(max_tokens=200, output_mode="int",
                                    output_sequence_length=16)
  vectorizer.adapt(t_train, batch_size=512)
  ids_train = np.asarray(vectorizer(t_train))   # host: the input pipeline
  ids_test = np.asarray(vectorizer(t_test))
  say(f"reviews: vocabulary_size {vectorizer.vocabulary_size()}; "
      f"{str(t_train[0])!r} -> {ids_train[0].tolist()}")
  model = SequenceClassifier(vectorizer.vocabulary_size(), nnx.Rngs(seed))
  losses = fit(model, lambda m, x, y: bce(m(x), y),
               (ids_train, y_train.astype(np.float32)),
               steps=cfg["gru_steps"], batch_size=64, lr=1e-2, seed=seed)
  acc = accuracy(nnx.jit(lambda m, x: m(x))(model, ids_test), y_test)
  say(f"GRU: loss {losses[0]:.3f} -> {losses[-1]:.3f}; test accuracy {acc:.3f}")
  return {"vectorizer": vectorizer, "model": model, "accuracy": acc,
          "losses": losses}


def recipe_text_bigrams(texts, cfg, seed=0):
  section("7. Text as multi-hot and TF-IDF bigrams -> Dense")
  (t_train, y_train), (t_test, y_test) = texts
  results = {}
  for mode, ngrams in (("multi_hot", None), ("multi_hot", 2), ("tf_idf", 2)):
    vectorizer = pf.TextVectorization(output_mode=mode, ngrams=ngrams)
    vectorizer.adapt(t_train, batch_size=512)
    f_train = np.asarray(vectorizer(t_train))
    f_test = np.asarray(vectorizer(t_test))
    dense = nnx.Linear(f_train.shape[1], 1, rngs=nnx.Rngs(seed))
    losses = fit(dense, lambda m, x, y: bce(m(x), y),
                 (f_train, y_train.astype(np.float32)),
                 steps=cfg["dense_steps"], batch_size=64, lr=1e-2, seed=seed)
    acc = accuracy(dense(f_test), y_test)
    label = f"{mode} {'uni' if ngrams is None else 'bi'}grams"
    bigrams = [v for v in vectorizer.get_vocabulary() if " " in v][:2]
    say(f"{label:19} {f_train.shape[1]:4d} features"
        f"{f' (e.g. {bigrams})' if bigrams else ''}; "
        f"loss {losses[0]:.3f} -> {losses[-1]:.3f}; test accuracy {acc:.3f}")
    results[(mode, ngrams)] = acc
  say("bigrams see 'not bad' / 'not good', which single words cannot")
  return results


def pure(model: nnx.Module, post):
  """``x -> post(model(x))`` as a pure function of ``x`` (for jax.export);
  the model's weights become constants of the exported artifact."""

  def fn(x):
    return post(model(x))

  return fn


def recipe_export(text_result, image_result, data):
  section("8. End-to-end inference on raw strings: jax.export of the device part")
  vectorizer, model = text_result["vectorizer"], text_result["model"]
  model.eval()
  seq_len = 16
  batch = jax.export.symbolic_shape("batch")[0]
  # The device part: ids -> probabilities, for any batch size.
  exported = jax.export.export(jax.jit(pure(model, jax.nn.sigmoid)))(
      jax.ShapeDtypeStruct((batch, seq_len), jnp.int32))
  blob = exported.serialize()
  reloaded = jax.export.deserialize(blob)
  say(f"exported text model: {len(blob)} bytes of StableHLO, input "
      f"{reloaded.in_avals[0]}")

  def end_to_end(raw_strings):
    """Raw strings in, probabilities out: strings on the host, the rest on
    device (the reloaded artifact)."""
    ids = jnp.asarray(vectorizer(np.asarray(raw_strings)), jnp.int32)
    return np.asarray(reloaded.call(ids))[:, 0]

  raw = ["A brilliant, moving film!", "Not good. The plot was BORING...",
         "not bad at all", "the acting was awful"]
  probs = end_to_end(raw)
  for text, p in zip(raw, probs):
    say(f"  {text!r:36} -> P(positive) = {p:.3f}")
  ids = jnp.asarray(vectorizer(np.asarray(raw)), jnp.int32)
  same = bool(np.allclose(probs, np.asarray(jax.nn.sigmoid(model(ids)))[:, 0],
                          rtol=1e-5, atol=1e-6))
  say(f"reloaded artifact == live model: {same}")

  # The image model with its preprocessing inside: raw uint8 pixels in.
  cnn = image_result["model"]
  cnn.eval()
  (_, _), (x_test, y_test), _ = data
  h, w, c = x_test.shape[1:]
  image_export = jax.export.export(jax.jit(pure(cnn, lambda l: jnp.argmax(l, -1))))(
      jax.ShapeDtypeStruct((batch, h, w, c), jnp.uint8))
  image_reloaded = jax.export.deserialize(image_export.serialize())
  pred = np.asarray(image_reloaded.call(x_test[:256]))
  say(f"exported CNN (Rescaling inside, augmentation off): accuracy on raw "
      f"uint8 test images {np.mean(pred == y_test[:256]):.3f}")
  return {"probabilities": probs, "same": same, "raw": raw}


# ---------------------------------------------------------------------------


CONFIGS = {
    "full": {"n_images": 4000, "n_texts": 4000, "cnn_steps": 400,
             "dense_steps": 300, "gru_steps": 300},
    "quick": {"n_images": 512, "n_texts": 600, "cnn_steps": 30,
              "dense_steps": 40, "gru_steps": 30},
}


def image_data(cfg, cifar10_path=None, seed=0):
  if cifar10_path:
    (x_train, y_train), (x_test, y_test) = guide_data.load_cifar10(cifar10_path)
    n = cfg["n_images"]
    return ((x_train[:n], y_train[:n]), (x_test[:n // 4], y_test[:n // 4]),
            guide_data.CIFAR10_CLASSES)
  train = guide_data.shapes_images(cfg["n_images"], seed=seed)
  test = guide_data.shapes_images(max(cfg["n_images"] // 4, 8), seed=seed + 1)
  return train, test, guide_data.SHAPE_NAMES


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true",
                      help="smaller data and fewer steps (used by the tests)")
  parser.add_argument("--out", default=os.path.join(HERE, "augmented.png"),
                      help="where to write the PNG grid of augmented images")
  parser.add_argument("--cifar10", default=None,
                      help="a local CIFAR-10 (python version) directory or "
                      ".tar.gz to use instead of the synthetic images")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args(argv)
  cfg = CONFIGS["quick" if args.quick else "full"]
  print(f"prepro demo: the Keras preprocessing guide in JAX "
        f"({'quick' if args.quick else 'full'} run; jax {jax.__version__} on "
        f"{jax.devices()[0].platform}, {jax.device_count()} device(s))")

  images = image_data(cfg, args.cifar10, args.seed)
  texts = (guide_data.review_texts(cfg["n_texts"], seed=args.seed),
           guide_data.review_texts(max(cfg["n_texts"] // 4, 8),
                                   seed=args.seed + 1))
  image_result = recipe_image_augmentation(images, cfg, args.out, args.seed)
  recipe_normalization(images, cfg, args.seed)
  recipe_string_lookup()
  recipe_integer_lookup()
  recipe_hashing()
  text_result = recipe_text_sequences(texts, cfg, args.seed)
  recipe_text_bigrams(texts, cfg, args.seed)
  export = recipe_export(text_result, image_result, images)
  print(f"\ndone in {time.monotonic() - _T0:.1f}s; augmented images: {args.out}")
  return 0 if export["same"] else 1


if __name__ == "__main__":
  sys.exit(main())
