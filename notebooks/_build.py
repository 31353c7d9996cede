"""Builds the guide's notebooks (without outputs) from the cells below.

  python notebooks/_build.py          # rewrites notebooks/*.ipynb
  python notebooks/_build.py --check  # fails if a notebook is out of date

The notebooks are generated so that they are reviewable as plain Python here,
and committed without outputs. tests/test_notebooks.py executes them.
"""

from __future__ import annotations

import argparse
import os
import sys

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = os.path.dirname(os.path.abspath(__file__))

SETUP = '''\
import os, sys
sys.path.insert(0, os.path.abspath(".."))  # prepro from this checkout
import jax
import jax.numpy as jnp
import numpy as np
import matplotlib.pyplot as plt
import optax
from flax import nnx

import prepro_core as pc
import prepro_flax as pf
import guide_data  # synthetic data, load_cifar10, PNG helpers'''


def md(text):
  return new_markdown_cell(text.strip("\n"))


def code(text):
  return new_code_cell(text.strip("\n"))


# ---------------------------------------------------------------------------

ADAPT = [
    md('''
# The `adapt()` method

Keras' preprocessing layers with a state learn it from data with `adapt()`.
prepro has the same thing twice:

* **functional** (`prepro_core`): a transform is a bundle of pure functions;
  `state = pc.adapt(t, data, batch_size=...)` streams the data, and
  `t.apply(state, x)` uses the state. States are pytrees: jit, vmap, shard,
  save them like any JAX value.
* **Flax** (`prepro_flax`): a layer with Keras' name and arguments;
  `layer.adapt(data)` fills its `PreprocessingState` variable.
'''),
    code(SETUP),
    md('''
## Normalization: mean and variance per feature

Five features on very different scales. `adapt` computes the population mean
and variance (merged over batches with Chan's formula), as Keras does.
'''),
    code('''
rng = np.random.default_rng(0)
scales = np.array([1.0, 10.0, 100.0, 0.1, 5.0], np.float32)
offsets = np.array([0.0, -20.0, 300.0, 3.0, 40.0], np.float32)
data = rng.normal(size=(2000, 5)).astype(np.float32) * scales + offsets

norm = pc.normalization()             # Keras: layers.Normalization()
state = pc.adapt(norm, data, batch_size=256)
print("mean    ", np.asarray(state.mean).ravel())
print("variance", np.asarray(state.variance).ravel())
normalized = norm.apply(state, data)
print("normalized mean", np.asarray(normalized.mean(0)).round(4),
      "std", np.asarray(normalized.std(0)).round(4))
'''),
    code('''
fig, axes = plt.subplots(1, 3, figsize=(12, 3))
axes[0].bar(range(5), np.asarray(state.mean).ravel(), color="C0", label="adapted")
axes[0].scatter(range(5), data.mean(0), color="k", marker="x", label="NumPy", zorder=3)
axes[0].set_title("adapted mean"); axes[0].legend()
axes[1].bar(range(5), np.asarray(state.variance).ravel(), color="C1")
axes[1].scatter(range(5), data.var(0), color="k", marker="x", zorder=3)
axes[1].set_yscale("log"); axes[1].set_title("adapted variance (log)")
axes[2].boxplot(np.asarray(normalized)); axes[2].set_title("after normalization")
plt.tight_layout(); plt.show()
'''),
    md('''
Streaming in batches gives the state that one pass over all the data gives,
and `merge` combines states adapted on separate shards (the basis of
multi-device adapt, see `03_multi_device.ipynb`):
'''),
    code('''
whole = pc.adapt(norm, data)
a = pc.adapt(norm, data[:700])
b = pc.adapt(norm, data[700:])
merged = norm.merge(a, b)
for name in ("mean", "variance"):
  np.testing.assert_allclose(getattr(merged, name), getattr(whole, name), rtol=1e-5)
  np.testing.assert_allclose(getattr(state, name), getattr(whole, name), rtol=1e-5)
print("batches == whole == merge of shards")
'''),
    md('''
The same with the Flax layer. Its state is not an `nnx.Param`, so an
optimizer built with `wrt=nnx.Param` never changes it.
'''),
    code('''
layer = pf.Normalization()
layer.adapt(data, batch_size=256)
np.testing.assert_allclose(layer(data), normalized, rtol=1e-6)
print(type(layer.state).__name__, "| nnx.Param leaves:",
      len(jax.tree.leaves(nnx.state(layer, nnx.Param))))
'''),
    md('''
## Discretization: quantile bins

`discretization(num_bins=...)` adapts bin boundaries from a quantile summary
(Keras' algorithm, `epsilon` controls its size).
'''),
    code('''
skewed = rng.lognormal(size=(5000, 1)).astype(np.float32)
disc = pc.discretization(num_bins=8)
dstate = pc.adapt(disc, skewed, batch_size=1000)
boundaries = np.asarray(dstate.bin_boundaries)
boundaries = boundaries[np.isfinite(boundaries)]
print("boundaries", boundaries.round(3))
bins = np.asarray(disc.apply(dstate, skewed))
print("examples per bin", np.bincount(bins.ravel()))
plt.figure(figsize=(8, 3))
plt.hist(skewed.ravel(), bins=200, range=(0, 8), color="C2")
for b in boundaries:
  plt.axvline(b, color="k", lw=1)
plt.title("lognormal data and the 8-bin boundaries adapt found"); plt.show()
'''),
    md('''
## TextVectorization and StringLookup: vocabularies

Adapt on the poem of the guide. Keras' order: padding `""`, the OOV token
`"[UNK]"`, then tokens by count (ties: reverse alphabetical).
'''),
    code('''
vectorizer = pf.TextVectorization()
vectorizer.adapt(guide_data.DICKINSON)
print(vectorizer.get_vocabulary())
print(vectorizer(np.array(["The Brain is deeper than the sea"])))
'''),
    md('''
A layer built with a vocabulary (or mean/variance, bin boundaries, idf
weights) needs no `adapt`:
'''),
    code('''
lookup = pf.StringLookup(vocabulary=["a", "b", "c"])
print(lookup(np.array(["a", "c", "d"])), lookup.get_vocabulary())
try:
  pf.StringLookup()(np.array(["a"]))
except pf.NotAdaptedError as e:
  print("NotAdaptedError:", e)
'''),
]

# ---------------------------------------------------------------------------

INSIDE_OR_BEFORE = [
    md('''
# Preprocessing inside the model, or before it

The guide's two options:

1. **Inside the model**: the preprocessing layers are part of the model and
   run in the (jitted) training step, on the accelerator. Best for image
   augmentation and numeric features.
2. **Before the model**, in the input pipeline: the data is transformed
   once per batch on its way in. Needed for strings (they live on the host).

Either way, preprocessing inside the model at inference time gives an
end-to-end function that takes raw data.
'''),
    code(SETUP),
    code('''
(x_train, y_train) = guide_data.shapes_images(512, seed=0)
(x_test, y_test) = guide_data.shapes_images(128, seed=1)
print(x_train.shape, x_train.dtype, guide_data.SHAPE_NAMES)
'''),
    md('''
## Option 1: inside the model

Random layers take `rngs` (their `augment` stream) and are active in train
mode; `model.eval()` makes them the identity.
'''),
    code('''
class Classifier(nnx.Module):
  def __init__(self, rngs):
    self.flip = pf.RandomFlip("horizontal", rngs=rngs)
    self.rotate = pf.RandomRotation(0.1, rngs=rngs)
    self.zoom = pf.RandomZoom(0.1, rngs=rngs)
    self.rescale = pf.Rescaling(1.0 / 255)
    self.conv1 = nnx.Conv(3, 16, (3, 3), rngs=rngs)
    self.conv2 = nnx.Conv(16, 32, (3, 3), rngs=rngs)
    self.head = nnx.Linear(32, 4, rngs=rngs)

  def preprocess(self, x):
    return self.rescale(self.zoom(self.rotate(self.flip(x.astype(jnp.float32)))))

  def __call__(self, x):
    h = nnx.max_pool(nnx.relu(self.conv1(self.preprocess(x))), (2, 2), (2, 2))
    h = nnx.max_pool(nnx.relu(self.conv2(h)), (2, 2), (2, 2))
    return self.head(h.mean(axis=(1, 2)))

model = Classifier(nnx.Rngs(params=0, augment=1))
optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)

@nnx.jit
def train_step(model, optimizer, x, y):
  def loss_fn(model):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()
  loss, grads = nnx.value_and_grad(loss_fn)(model)
  optimizer.update(model, grads)
  return loss

model.train()
losses = [float(train_step(model, optimizer, x_train[i:i + 64], y_train[i:i + 64]))
          for _ in range(6) for i in range(0, 512, 64)]
model.eval()
acc = np.mean(np.argmax(nnx.jit(lambda m, x: m(x))(model, x_test), -1) == y_test)
print(f"loss {losses[0]:.3f} -> {losses[-1]:.3f}, test accuracy {acc:.2f}")
'''),
    code('''
model.train()
seen = nnx.jit(lambda m, x: m.preprocess(x))(model, np.repeat(x_test[:1], 6, 0))
model.eval()
clean = nnx.jit(lambda m, x: m.preprocess(x))(model, x_test[:1])
fig, axes = plt.subplots(1, 7, figsize=(12, 2))
for ax, img, title in zip(axes, [clean[0], *seen], ["eval mode"] + ["train mode"] * 6):
  ax.imshow(np.clip(np.asarray(img), 0, 1)); ax.set_title(title, fontsize=8); ax.axis("off")
plt.show()
'''),
    md('''
## Option 2: before the model, in the input pipeline

The functional core suits a pipeline: `pc.chain` composes transforms (and
fuses consecutive geometric ones into one resampling), and the step's key is
folded into a fresh key per batch. The same key gives the same batch, so the
pipeline is reproducible. `pc.to_device` moves each NumPy batch onto the
device; on the CPU backend it also spares large batches jax's slow copy of
arrays that are not 64-byte aligned (see the README).
'''),
    code('''
augment = pc.chain(pc.random_flip("horizontal"), pc.random_rotation(0.1),
                   pc.random_zoom(0.1), pc.rescaling(1.0 / 255))
aug_state = augment.init(jax.ShapeDtypeStruct((64, 32, 32, 3), jnp.float32))
apply = jax.jit(augment.apply)

def pipeline(x, y, key, batch_size=64):
  for step, i in enumerate(range(0, len(x), batch_size)):
    batch = pc.to_device(x[i:i + batch_size].astype(np.float32))
    yield apply(aug_state, batch, jax.random.fold_in(key, step)), y[i:i + batch_size]

first, _ = next(pipeline(x_train, y_train, jax.random.key(0)))
again, _ = next(pipeline(x_train, y_train, jax.random.key(0)))
np.testing.assert_array_equal(first, again)
print("same key, same batch:", first.shape, float(first.min()), float(first.max()))
fig, axes = plt.subplots(1, 8, figsize=(12, 2))
for ax, img in zip(axes, first[:8]):
  ax.imshow(np.clip(np.asarray(img), 0, 1)); ax.axis("off")
plt.show()
'''),
    md('''
Strings must go through the input pipeline: `TextVectorization` runs on the
host (NumPy) and hands integer arrays to the jitted model.
'''),
    code('''
texts, labels = guide_data.review_texts(800, seed=0)
vectorizer = pf.TextVectorization(max_tokens=200, output_sequence_length=12)
vectorizer.adapt(texts)

class BagOfEmbeddings(nnx.Module):
  def __init__(self, vocabulary_size, rngs):
    self.embed = nnx.Embed(vocabulary_size, 16, rngs=rngs)
    self.dense = nnx.Linear(16, 1, rngs=rngs)

  def __call__(self, ids):
    mask = (ids > 0)[..., None]
    pooled = (self.embed(ids) * mask).sum(1) / jnp.maximum(mask.sum(1), 1)
    return self.dense(pooled)[:, 0]

text_model = BagOfEmbeddings(vectorizer.vocabulary_size(), nnx.Rngs(0))
text_opt = nnx.Optimizer(text_model, optax.adam(1e-2), wrt=nnx.Param)

@nnx.jit
def text_step(model, optimizer, ids, y):
  def loss_fn(model):
    return optax.sigmoid_binary_cross_entropy(model(ids), y).mean()
  loss, grads = nnx.value_and_grad(loss_fn)(model)
  optimizer.update(model, grads)
  return loss

ids = np.asarray(vectorizer(texts))  # host side, once: the input pipeline
for epoch in range(5):
  for i in range(0, len(ids), 100):
    loss = text_step(text_model, text_opt, ids[i:i + 100], labels[i:i + 100].astype(np.float32))
print("last loss", float(loss))
'''),
    md('''
## At inference time: one function from raw data

The host part (strings -> ids) and the device part (the model, exported with
`jax.export` for any batch size) make one end-to-end function. The exported
artifact is bytes: save it, ship it, reload it without the Python model.
'''),
    code('''
batch = jax.export.symbolic_shape("batch")[0]
exported = jax.export.export(jax.jit(lambda ids: jax.nn.sigmoid(text_model(ids))))(
    jax.ShapeDtypeStruct((batch, 12), jnp.int32))
blob = exported.serialize()
reloaded = jax.export.deserialize(blob)

def predict(raw_strings):
  ids = jnp.asarray(vectorizer(np.asarray(raw_strings)), jnp.int32)  # host
  return reloaded.call(ids)                                           # device

print(len(blob), "bytes")
for text, p in zip(["A wonderful film!", "Dull and tedious.", "not bad"],
                   np.asarray(predict(["A wonderful film!", "Dull and tedious.", "not bad"]))):
  print(f"{text!r:22} P(positive) = {p:.3f}")
'''),
]

# ---------------------------------------------------------------------------

MULTI_DEVICE = [
    md('''
# Multi-device: adapt and apply over 8 devices

The guide's "preprocessing during multi-worker training". Here 8 CPU
devices are simulated, which must be set before JAX starts.
'''),
    code('''
import os
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                             " --xla_force_host_platform_device_count=8")
'''),
    code(SETUP + '''
from jax.sharding import NamedSharding, PartitionSpec as P
print(jax.devices())
# Auto axes: XLA partitions the computation (GSPMD) from the input shardings.
mesh = jax.make_mesh((8,), ("data",), axis_types=(jax.sharding.AxisType.Auto,))
shard = lambda x: jax.device_put(x, NamedSharding(mesh, P("data")))
'''),
    md('''
## Adapt with `axis_name`: every device ends with the global statistics

Each device sees only its shard; `adapt(..., axis_name="data")` inside
`shard_map` combines the shards' (count, mean, M2) with collectives, so every
device holds what adapting on all the data at once gives.
'''),
    code('''
rng = np.random.default_rng(0)
# Shards that differ: device i's examples are centred on i.
data = (rng.normal(size=(8, 256, 3)) + np.arange(8)[:, None, None]).astype(np.float32)
data = data.reshape(8 * 256, 3)

norm = pc.normalization()
empty = norm.init(jax.ShapeDtypeStruct((256, 3), jnp.float32))

def adapt_on_shard(batch):
  return norm.adapt(empty, batch, axis_name="data")

sharded_state = jax.jit(jax.shard_map(adapt_on_shard, mesh=mesh,
                                      in_specs=P("data"), out_specs=P()))(shard(data))
single_state = pc.adapt(norm, data)
np.testing.assert_allclose(sharded_state.mean, single_state.mean, rtol=1e-5)
np.testing.assert_allclose(sharded_state.variance, single_state.variance, rtol=1e-5)
print("global mean", np.asarray(sharded_state.mean).ravel(),
      "variance", np.asarray(sharded_state.variance).ravel())
'''),
    code('''
# What each device would have learned alone, against the global state.
local = [pc.adapt(norm, s) for s in data.reshape(8, 256, 3)]
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
axes[0].bar(range(8), [float(s.mean[0, 0]) for s in local], label="one shard")
axes[0].axhline(float(sharded_state.mean[0, 0]), color="k", label="adapt with axis_name")
axes[0].set_title("feature 0: mean"); axes[0].set_xlabel("device"); axes[0].legend()
axes[1].bar(range(8), [float(s.variance[0, 0]) for s in local])
axes[1].axhline(float(sharded_state.variance[0, 0]), color="k")
axes[1].set_title("feature 0: variance"); axes[1].set_xlabel("device")
plt.tight_layout(); plt.show()
'''),
    md('''
Host-side string transforms have no collectives: adapt each shard's strings
(on its host) and `merge` the states. Merge is associative, so the order of
the shards does not matter.
'''),
    code('''
texts, _ = guide_data.review_texts(800, seed=0)
vec = pc.text_vectorization(max_tokens=50)
shard_states = [pc.adapt(vec, part) for part in np.array_split(texts, 8)]
merged = shard_states[0]
for s in shard_states[1:]:
  merged = vec.merge(merged, s)
assert pc.get_vocabulary(merged) == pc.get_vocabulary(pc.adapt(vec, texts))
print(pc.get_vocabulary(merged)[:12])
'''),
    md('''
## Apply sharded: same images as on one device

Random transforms draw per-example parameters from the key and the example's
index, so a jitted apply on a batch sharded over 8 devices gives exactly the
unsharded result.
'''),
    code('''
images, labels = guide_data.shapes_images(64, seed=0)
augment = pc.chain(pc.random_flip("horizontal"), pc.random_rotation(0.2),
                   pc.random_zoom(0.2))
aug_state = augment.init(jax.ShapeDtypeStruct(images.shape, jnp.float32))
apply = jax.jit(augment.apply)
key = jax.random.key(42)
one_device = apply(aug_state, jnp.asarray(images, jnp.float32), key)
eight_devices = apply(aug_state, shard(images.astype(np.float32)), key)
np.testing.assert_array_equal(np.asarray(one_device), np.asarray(eight_devices))
print(eight_devices.sharding)
fig, axes = plt.subplots(2, 8, figsize=(12, 3))
for i in range(8):  # the first image of each device's shard
  axes[0, i].imshow(images[i * 8]); axes[0, i].set_title(f"device {i}", fontsize=8)
  axes[1, i].imshow(np.asarray(eight_devices[i * 8]).astype(np.uint8))
  axes[0, i].axis("off"); axes[1, i].axis("off")
plt.show()
'''),
    md('''
## A data-parallel training step with preprocessing inside

Normalization (adapted above, replicated) and augmentation inside the model;
the batch is sharded over the 8 devices. Inside `shard_map`, each device folds
its index into the step's key, so no two devices draw the same augmentation.
'''),
    code('''
class Model(nnx.Module):
  def __init__(self, rngs):
    self.flip = pf.RandomFlip("horizontal")
    self.rescale = pf.Rescaling(1.0 / 255)
    self.dense = nnx.Linear(32 * 32 * 3, 4, rngs=rngs)

  def __call__(self, x, key=None):
    x = self.rescale(self.flip(x, key=key, deterministic=key is None))
    return self.dense(x.reshape(x.shape[0], -1))

model = Model(nnx.Rngs(0))
graphdef, params, rest = nnx.split(model, nnx.Param, ...)
tx = optax.adam(3e-3)
opt_state = tx.init(params)

def loss_fn(params, x, y, key):
  m = nnx.merge(graphdef, params, rest)
  return optax.softmax_cross_entropy_with_integer_labels(m(x, key=key), y).mean()

def local_step(params, opt_state, x, y, key):
  key = jax.random.fold_in(key, jax.lax.axis_index("data"))  # per-device key
  loss, grads = jax.value_and_grad(loss_fn)(params, x, y, key)
  grads = jax.lax.pmean(grads, "data")                       # data parallel
  updates, opt_state = tx.update(grads, opt_state, params)
  return optax.apply_updates(params, updates), opt_state, jax.lax.pmean(loss, "data")

step = jax.jit(jax.shard_map(local_step, mesh=mesh,
                             in_specs=(P(), P(), P("data"), P("data"), P()),
                             out_specs=(P(), P(), P())))
x, y = shard(images.astype(np.float32)), shard(labels)
for i in range(20):
  params, opt_state, loss = step(params, opt_state, x, y, jax.random.key(i))
  if i % 5 == 0 or i == 19:
    print(f"step {i:2d} loss {float(loss):.4f}")
'''),
]

# ---------------------------------------------------------------------------

IMAGES = [
    md('''
# Quick recipes: images

* image data augmentation (`RandomFlip`, `RandomRotation`, `RandomZoom`) and
  `Rescaling` inside a small CNN;
* normalizing numerical features (`Normalization` + `Dense`).

The data: synthetic 32x32 images of four shapes (see `guide_data.py`). With
the real CIFAR-10 on disk, use `guide_data.load_cifar10(path)` instead.
'''),
    code(SETUP),
    code('''
(x_train, y_train) = guide_data.shapes_images(1024, seed=0)
(x_test, y_test) = guide_data.shapes_images(256, seed=1)
# With CIFAR-10 (python version) on disk:
# (x_train, y_train), (x_test, y_test) = guide_data.load_cifar10("cifar-10-batches-py")
fig, axes = plt.subplots(1, 8, figsize=(12, 2))
for ax, img, label in zip(axes, x_train, y_train):
  ax.imshow(img); ax.set_title(guide_data.SHAPE_NAMES[label], fontsize=8); ax.axis("off")
plt.show()
'''),
    md('''
## Image data augmentation

Each of the three layers is `active in train mode`, the identity in eval mode.
Each image of a batch gets its own flip, angle and zoom.
'''),
    code('''
rngs = nnx.Rngs(params=0, augment=1)
data_augmentation = nnx.Sequential(
    pf.RandomFlip("horizontal", rngs=rngs),
    pf.RandomRotation(0.1, rngs=rngs),
    pf.RandomZoom(0.1, rngs=rngs),
)
grid = nnx.jit(lambda m, x: m(x))(data_augmentation, np.repeat(x_train[:4], 8, 0).astype(np.float32))
fig, axes = plt.subplots(4, 8, figsize=(10, 5))
for ax, img in zip(axes.ravel(), np.asarray(grid)):
  ax.imshow(img.astype(np.uint8)); ax.axis("off")
plt.suptitle("RandomFlip + RandomRotation(0.1) + RandomZoom(0.1)"); plt.show()
'''),
    code('''
class CNN(nnx.Module):
  def __init__(self, augmentation, rngs):
    self.augmentation = augmentation
    self.rescale = pf.Rescaling(1.0 / 255)
    self.conv1 = nnx.Conv(3, 16, (3, 3), rngs=rngs)
    self.conv2 = nnx.Conv(16, 32, (3, 3), rngs=rngs)
    self.head = nnx.Linear(32, 4, rngs=rngs)

  def __call__(self, x):
    x = self.rescale(self.augmentation(x.astype(jnp.float32)))
    x = nnx.max_pool(nnx.relu(self.conv1(x)), (2, 2), (2, 2))
    x = nnx.max_pool(nnx.relu(self.conv2(x)), (2, 2), (2, 2))
    return self.head(x.mean(axis=(1, 2)))

model = CNN(data_augmentation, rngs)
optimizer = nnx.Optimizer(model, optax.adam(3e-3), wrt=nnx.Param)

@nnx.jit
def train_step(model, optimizer, x, y):
  def loss_fn(model):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()
  loss, grads = nnx.value_and_grad(loss_fn)(model)
  optimizer.update(model, grads)
  return loss

model.train()
losses = []
for epoch in range(3):
  for i in range(0, len(x_train), 64):
    losses.append(float(train_step(model, optimizer, x_train[i:i + 64], y_train[i:i + 64])))
model.eval()
acc = np.mean(np.argmax(nnx.jit(lambda m, x: m(x))(model, x_test), -1) == y_test)
plt.figure(figsize=(6, 2.5)); plt.plot(losses); plt.title(f"training loss (test accuracy {acc:.2f})"); plt.show()
'''),
    md('''
## Normalizing numerical features

As in the guide: images flattened into 3072 features, `Normalization` adapted
on the training set, then a `Dense` layer.
'''),
    code('''
flat_train = x_train.reshape(len(x_train), -1).astype(np.float32)
flat_test = x_test.reshape(len(x_test), -1).astype(np.float32)

class Linear(nnx.Module):
  def __init__(self, rngs):
    self.norm = pf.Normalization()
    self.dense = nnx.Linear(3072, 4, rngs=rngs)

  def __call__(self, x):
    return self.dense(self.norm(x))

linear = Linear(nnx.Rngs(0))
linear.norm.adapt(flat_train, batch_size=256)
state = linear.norm.get_state()
fig, axes = plt.subplots(1, 2, figsize=(7, 3))
axes[0].imshow(np.asarray(state.mean).reshape(32, 32, 3).astype(np.uint8)); axes[0].set_title("adapted mean")
std = np.sqrt(np.asarray(state.variance)).reshape(32, 32, 3)
axes[1].imshow(std / std.max()); axes[1].set_title("adapted std (scaled)")
for ax in axes: ax.axis("off")
plt.show()
'''),
    code('''
optimizer = nnx.Optimizer(linear, optax.adam(1e-3), wrt=nnx.Param)

@nnx.jit
def linear_step(model, optimizer, x, y):
  def loss_fn(model):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()
  loss, grads = nnx.value_and_grad(loss_fn)(model)
  optimizer.update(model, grads)
  return loss

for epoch in range(3):
  for i in range(0, len(flat_train), 64):
    loss = linear_step(linear, optimizer, flat_train[i:i + 64], y_train[i:i + 64])
acc = np.mean(np.argmax(linear(flat_test), -1) == y_test)
print(f"loss {float(loss):.3f}, test accuracy {acc:.2f}")
# The state was not trained:
np.testing.assert_array_equal(linear.norm.get_state().mean, state.mean)
'''),
]

# ---------------------------------------------------------------------------

CATEGORICAL = [
    md('''
# Quick recipes: categorical features

One-hot encoding of string and integer categories, unknown values included,
and the hashing trick. These layers run on the host (NumPy): use them in the
input pipeline, or in the un-jitted first line of an inference function.
'''),
    code(SETUP),
    md('''
## Encoding string categorical features via one-hot encoding

Index 0 is the out-of-vocabulary slot: `"d"`, `"e"` and `""` land there.
'''),
    code('''
data = np.array([["a"], ["b"], ["c"], ["b"], ["c"], ["a"]])
lookup = pf.StringLookup(output_mode="one_hot")
lookup.adapt(data)
test_data = np.array([["a"], ["b"], ["c"], ["d"], ["e"], [""]])
print(lookup.get_vocabulary())
print(lookup(test_data))
'''),
    md('''
## Encoding integer categorical features via one-hot encoding

`IntegerLookup`'s OOV token is `-1` at index 0 (Keras 3 has no mask by
default, so `0` is an ordinary value here).
'''),
    code('''
data = np.array([[10], [20], [20], [10], [30], [0]])
lookup = pf.IntegerLookup(output_mode="one_hot")
lookup.adapt(data)
test_data = np.array([[10], [10], [20], [50], [60], [0]])
print(lookup.get_vocabulary())
print(lookup(test_data))
'''),
    md('''
## Applying the hashing trick to an integer categorical feature

With many distinct values, hash them into a fixed number of bins (Keras'
`Hashing`: SipHash of the value's decimal string with the salt), then
multi-hot encode the bins.
'''),
    code('''
data = np.random.default_rng(0).integers(0, 100000, size=(10000, 1))
hasher = pf.Hashing(num_bins=64, salt=1337)
encoder = pf.CategoryEncoding(num_tokens=64, output_mode="multi_hot")
ids = np.asarray(hasher(data))
encoded = encoder(ids)
print(ids[:5].ravel(), encoded.shape)
plt.figure(figsize=(8, 2.5))
plt.bar(range(64), np.asarray(encoded).sum(0))
plt.title("10,000 integers hashed into 64 bins"); plt.xlabel("bin"); plt.show()
'''),
    md('''
The functional core gives the same numbers, and its encoding step is a pure
JAX function of the ids (jittable):
'''),
    code('''
h, e = pc.hashing(num_bins=64, salt=1337), pc.category_encoding(64, output_mode="multi_hot")
core_ids = h.apply(h.init(data), data)
core = jax.jit(e.apply)(e.init(core_ids), core_ids)
np.testing.assert_array_equal(core, encoded)
print("same as the layers")
'''),
]

# ---------------------------------------------------------------------------

TEXT = [
    md('''
# Quick recipes: text

* text as a sequence of token indices: `TextVectorization` -> `Embed` -> GRU;
* text as a dense matrix of bigrams, multi-hot and TF-IDF, into `Dense`;
* an end-to-end function on raw strings.

`TextVectorization` runs on the host; everything after it is jitted.
'''),
    code(SETUP),
    code('''
train_texts, train_labels = guide_data.review_texts(1000, seed=0)
test_texts, test_labels = guide_data.review_texts(300, seed=1)
for t, l in zip(train_texts[:4], train_labels[:4]):
  print(l, t)
'''),
    md('''
## Encoding text as a sequence of token indices
'''),
    code('''
vectorizer = pf.TextVectorization(max_tokens=200, output_mode="int", output_sequence_length=12)
vectorizer.adapt(train_texts)
print(vectorizer.vocabulary_size(), vectorizer.get_vocabulary()[:10])
ids_train = np.asarray(vectorizer(train_texts))
ids_test = np.asarray(vectorizer(test_texts))
print(train_texts[0], "->", ids_train[0])
'''),
    code('''
class GRUClassifier(nnx.Module):
  """Embed(vocabulary, 16) -> GRU(8) -> Dense(1); padding (0) is skipped."""

  def __init__(self, vocabulary_size, rngs):
    self.embed = nnx.Embed(vocabulary_size, 16, rngs=rngs)
    self.cell = nnx.GRUCell(16, 8, rngs=rngs)
    self.dense = nnx.Linear(8, 1, rngs=rngs)

  def __call__(self, ids):
    x, mask = self.embed(ids), ids > 0
    def step(carry, inputs):
      x_t, m_t = inputs
      new, _ = self.cell(carry, x_t)
      return jnp.where(m_t[:, None], new, carry), None
    carry = jnp.zeros((ids.shape[0], 8), x.dtype)
    carry, _ = jax.lax.scan(step, carry, (x.swapaxes(0, 1), mask.swapaxes(0, 1)))
    return self.dense(carry)[:, 0]

def train(model, features, labels, steps, lr, batch_size=50):
  optimizer = nnx.Optimizer(model, optax.adam(lr), wrt=nnx.Param)

  @nnx.jit
  def step(model, optimizer, x, y):
    def loss_fn(model):
      return optax.sigmoid_binary_cross_entropy(model(x), y).mean()
    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss

  losses = []
  for s in range(steps):
    i = (s * batch_size) % len(features)
    losses.append(float(step(model, optimizer, features[i:i + batch_size],
                             labels[i:i + batch_size].astype(np.float32))))
  return losses

gru = GRUClassifier(vectorizer.vocabulary_size(), nnx.Rngs(0))
gru_losses = train(gru, ids_train, train_labels, steps=150, lr=1e-2)
gru_acc = np.mean((np.asarray(nnx.jit(lambda m, x: m(x))(gru, ids_test)) > 0) == test_labels)
print(f"GRU test accuracy {gru_acc:.2f}")
'''),
    md('''
## Encoding text as a dense matrix of N-grams: multi-hot and TF-IDF

The label often hides in two-word phrases ("not bad", "not good"): bigrams
catch them.
'''),
    code('''
class Dense1(nnx.Module):
  def __init__(self, features, rngs):
    self.dense = nnx.Linear(features, 1, rngs=rngs)
  def __call__(self, x):
    return self.dense(x)[:, 0]

results, curves = {}, {"GRU (int)": gru_losses}
for mode, ngrams in [("multi_hot", None), ("multi_hot", 2), ("tf_idf", 2)]:
  vec = pf.TextVectorization(output_mode=mode, ngrams=ngrams)
  vec.adapt(train_texts)
  f_train, f_test = np.asarray(vec(train_texts)), np.asarray(vec(test_texts))
  dense = Dense1(f_train.shape[1], nnx.Rngs(0))
  name = f"{mode}, {'unigrams' if ngrams is None else 'bigrams'}"
  curves[name] = train(dense, f_train, train_labels, steps=150, lr=1e-2)
  results[name] = np.mean((np.asarray(dense(f_test)) > 0) == test_labels)
  print(f"{name:22} {f_train.shape[1]:4d} features, test accuracy {results[name]:.2f}")
tfidf_vec = vec
'''),
    code('''
fig, axes = plt.subplots(1, 2, figsize=(12, 3))
for name, losses in curves.items():
  axes[0].plot(np.convolve(losses, np.ones(10) / 10, "valid"), label=name)
axes[0].set_title("training loss (moving average)"); axes[0].legend()
vocab = tfidf_vec.get_vocabulary()
idf = np.asarray(tfidf_vec.get_state().lookup.idf_weights)  # one per index
assert len(idf) == len(vocab)
shown = ["the", "movie", "not", "great", "boring", "not bad", "not good", "never dull", "great great"]
shown = [t for t in shown if t in vocab]
axes[1].barh(shown[::-1], [idf[vocab.index(t)] for t in shown][::-1])
axes[1].set_title("adapted IDF weights: common words low, rare n-grams high")
plt.tight_layout(); plt.show()
'''),
    md('''
## End to end on raw strings

Strings -> ids on the host, the exported model on device.
'''),
    code('''
batch = jax.export.symbolic_shape("batch")[0]
exported = jax.export.export(jax.jit(lambda ids: jax.nn.sigmoid(gru(ids))))(
    jax.ShapeDtypeStruct((batch, 12), jnp.int32))
reloaded = jax.export.deserialize(exported.serialize())

def end_to_end(raw_strings):
  return np.asarray(reloaded.call(jnp.asarray(vectorizer(np.asarray(raw_strings)), jnp.int32)))

raw = ["A brilliant, moving film!", "Not good. BORING...", "not bad", "the acting was awful"]
for text, p in zip(raw, end_to_end(raw)):
  print(f"{text!r:30} P(positive) = {p:.3f}")
'''),
]

PIPELINES = [
    md('''
# Input pipelines: grain workers feeding a jitted step

The guide's second way to preprocess: in the input pipeline, in parallel with
training. Here a grain pipeline runs `TextVectorization` (host work: strings
to integers) and image augmentation in two worker processes, and feeds a
jitted NNX training step with NumPy batches. Random transforms take their key
from the record index, `fold_in(key(seed), index)`, so the batches do not
depend on the worker count, and a run resumed from a checkpoint (the grain
iterator's state plus the model's) continues with the identical batches.
'''),
    code(SETUP),
    code('''
import grain

texts, sentiment = guide_data.review_texts(256, seed=0)
images, shapes = guide_data.shapes_images(256, size=16, seed=0)
records = [{"text": str(t), "image": im, "sentiment": np.int32(s), "shape": np.int32(c)}
           for t, im, s, c in zip(texts, images, sentiment, shapes)]
print(records[0]["text"], records[0]["image"].shape, records[0]["sentiment"])
'''),
    md('''
## Adapt in workers, then map in workers

`pc.grain.adapt` splits the records over two workers, adapts each shard and
merges the states: the same vocabulary as one `pc.adapt`. The pipeline maps
the text with the adapted state and augments the image with a seed; both
maps sit on the `MapDataset`, before the workers, so the record index is the
record's position whatever worker reads it. `pc.grain.mp_prefetch` is grain's
`mp_prefetch` set up for prepro: each worker reads in its own loop (grain's 16
reader threads would starve the thread that sends the batches), small arrays
travel pickled rather than in a shared memory block each, and the workers' JAX
(the augmentation) runs on the CPU.
'''),
    code('''
vectorize = pc.text_vectorization(max_tokens=64, output_mode="multi_hot")
text_state = pc.grain.adapt(vectorize, list(texts), num_workers=2, batch_size=64)
assert pc.get_vocabulary(text_state) == pc.get_vocabulary(pc.adapt(vectorize, list(texts)))

scale, flip, rotate = pc.rescaling(1 / 255), pc.random_flip(), pc.random_rotation(0.1)
sample = images[:1].astype(np.float32)

def pipeline(num_workers):
  ds = (grain.MapDataset.source(records)
        .shuffle(seed=0)
        .map_with_index(pc.grain.map(vectorize, text_state, field="text"))
        .map_with_index(pc.grain.map(scale, scale.init(sample), field="image"))
        .map_with_index(pc.grain.map(flip, flip.init(sample), seed=1, field="image"))
        .map_with_index(pc.grain.map(rotate, rotate.init(sample), seed=2, field="image"))
        .batch(32, drop_remainder=True)
        .repeat(None))
  return pc.grain.mp_prefetch(ds, num_workers)  # 0: in this process

it = iter(pipeline(2))
batch = next(it)
print({k: (v.shape, v.dtype, type(v).__name__) for k, v in batch.items()})

# The first eight augmented images of the first batch, as the workers made them.
fig, axes = plt.subplots(1, 8, figsize=(12, 2))
for ax, im in zip(axes, batch["image"][:8]):
  ax.imshow(np.clip(im, 0, 1)); ax.axis("off")
plt.show()
'''),
    md('''
## A jitted NNX step on the batches

One model, two heads: sentiment from the multi-hot text, shape class from the
augmented image.
'''),
    code('''
class TwoHeads(nnx.Module):
  def __init__(self, vocab_size, rngs):
    self.text = nnx.Linear(vocab_size, 1, rngs=rngs)
    self.conv = nnx.Conv(3, 8, (3, 3), rngs=rngs)
    self.image = nnx.Linear(8, 4, rngs=rngs)

  def __call__(self, text, image):
    features = jax.nn.relu(self.conv(image)).mean(axis=(1, 2))
    return self.text(text)[:, 0], self.image(features)

@nnx.jit
def train_step(model, optimizer, batch):
  def loss_fn(model):
    text_logit, shape_logits = model(batch["text"], batch["image"])
    text_loss = optax.sigmoid_binary_cross_entropy(
        text_logit, batch["sentiment"].astype(jnp.float32)).mean()
    shape_loss = optax.softmax_cross_entropy_with_integer_labels(
        shape_logits, batch["shape"]).mean()
    return text_loss + shape_loss
  loss, grads = nnx.value_and_grad(loss_fn)(model)
  optimizer.update(model, grads)
  return loss

vocab_size = len(pc.get_vocabulary(text_state))
model = TwoHeads(vocab_size, nnx.Rngs(0))
optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
losses = [float(train_step(model, optimizer, batch))]
for step in range(1, 30):
  losses.append(float(train_step(model, optimizer, next(it))))
print("loss", [round(l, 3) for l in losses[::5]])
'''),
    md('''
## Checkpoint and resume

A checkpoint is the grain iterator's state (a small dict) and the model's and
optimizer's state. Restoring both and continuing gives exactly the batches
and losses the uninterrupted run gives: the random draws depend only on the
record index.
'''),
    code('''
import copy

saved_iterator = it.get_state()
saved = jax.tree.map(np.asarray, (nnx.state(model), nnx.state(optimizer)))  # to disk

# The uninterrupted run: five more steps.
straight = [float(train_step(model, optimizer, next(it))) for _ in range(5)]
straight_batch = next(it)
it.close()

# Resume in a fresh pipeline. grain's iterator state records the worker
# layout, so restore it into a pipeline with the same number of workers.
resumed_it = iter(pipeline(2))
resumed_it.set_state(copy.deepcopy(saved_iterator))
model2 = TwoHeads(vocab_size, nnx.Rngs(1))
optimizer2 = nnx.Optimizer(model2, optax.adam(1e-2), wrt=nnx.Param)
nnx.update(model2, jax.tree.map(jnp.asarray, saved[0]))
nnx.update(optimizer2, jax.tree.map(jnp.asarray, saved[1]))
resumed = [float(train_step(model2, optimizer2, next(resumed_it))) for _ in range(5)]
resumed_batch = next(resumed_it)
resumed_it.close()

print("uninterrupted", [round(l, 4) for l in straight])
print("resumed      ", [round(l, 4) for l in resumed])
plt.figure(figsize=(8, 3))
steps = np.arange(len(losses) + len(straight))
plt.plot(steps, losses + straight, label="uninterrupted run")
plt.plot(steps[len(losses):], resumed, "o", label="resumed from the checkpoint")
plt.xlabel("step"); plt.ylabel("loss"); plt.legend(); plt.show()
assert all(np.array_equal(straight_batch[k], resumed_batch[k]) for k in straight_batch)
np.testing.assert_allclose(resumed, straight, rtol=1e-5)
'''),
    md('''
What goes where: strings to integers (TextVectorization, StringLookup) belong
in the workers, since the jitted step cannot take strings; per-example work
before batching too. Augmentation can run in workers (as here, on their CPU)
or on the accelerator inside the jitted step (`rotate.apply(state, x,
key=...)` in `train_step`), which is usually faster when the accelerator has
room; either way its keys come from explicit indices.
'''),
]

# ---------------------------------------------------------------------------

STRUCTURED = [
    md('''
# Structured data: `FeatureSpace`

Keras' `FeatureSpace` turns a dict of raw columns (floats, integer and
string categories) into one feature vector. `pf.FeatureSpace` is the same
as an NNX layer. It runs in two stages: a **host** stage (NumPy: strings and
integer categories become ids) and a jittable **device** stage (normalization,
bins, crosses, one-hot, concatenation). Here: a heart-disease style table,
end to end.
'''),
    code(SETUP),
    md('''
## A synthetic heart-disease table

1,000 rows, seeded. The target depends on several columns, so there is
something to learn. The test split gets an unseen `thal` value
(`"unknown"`) and missing values: `None` in `thal`, `NaN` in `ca`.
'''),
    code('''
rng = np.random.default_rng(0)
n = 1000
table = {
    "age": rng.integers(29, 78, n).astype(np.float32),
    "sex": rng.integers(0, 2, n),
    "cp": rng.integers(0, 4, n),
    "trestbps": rng.normal(131, 17, n).round().astype(np.float32),
    "chol": rng.normal(246, 50, n).round().astype(np.float32),
    "fbs": (rng.random(n) < 0.15).astype(np.int64),
    "restecg": rng.integers(0, 3, n),
    "thalach": rng.normal(150, 22, n).round().astype(np.float32),
    "exang": (rng.random(n) < 0.33).astype(np.int64),
    "oldpeak": np.abs(rng.normal(0, 1.2, n)).round(1).astype(np.float32),
    "ca": rng.integers(0, 4, n).astype(np.float64),  # float: room for NaN
    "thal": rng.choice(np.array(["normal", "fixed", "reversible"], object), n,
                       p=[0.55, 0.1, 0.35]),
}
logit = (0.08 * (table["age"] - 54) + 1.2 * table["sex"] - 1.0 * (table["cp"] == 0)
         - 0.05 * (table["thalach"] - 150) + 1.2 * table["oldpeak"] + 1.0 * table["ca"]
         + 2.0 * (table["thal"] == "reversible") + 1.2 * table["exang"] - 3.5)
target = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float32)

perm = rng.permutation(n)
train = {k: v[perm[:800]] for k, v in table.items()}
test = {k: v[perm[800:]].copy() for k, v in table.items()}
y_train, y_test = target[perm[:800]], target[perm[800:]]
test["thal"][:3] = "unknown"   # never seen in training
test["thal"][3:5] = None       # missing
test["ca"][5:8] = np.nan       # missing
print(f"{len(y_train)} train rows, {len(y_test)} test rows, {y_train.mean():.0%} positive")
print("thal:", test["thal"][:8])
print("ca:  ", test["ca"][:8])
'''),
    md('''
## The feature space

Feature specs are reached on the class, as in Keras. `missing="oov"` (a
prepro option; Keras has none) sends `None`/`NaN` to the out-of-vocabulary
index, as unseen values are; without it a missing value raises. The cross
hashes `sex` with `age`'s bin.
'''),
    code('''
FS = pf.FeatureSpace

def make_features():
  return FS(
      {
          "age": FS.float_discretized(num_bins=6),
          "trestbps": FS.float_normalized(),
          "chol": FS.float_normalized(),
          "thalach": FS.float_normalized(),
          "oldpeak": FS.float_normalized(),
          "sex": FS.integer_categorical(missing="oov"),
          "cp": FS.integer_categorical(missing="oov"),
          "fbs": FS.integer_categorical(missing="oov"),
          "restecg": FS.integer_categorical(missing="oov"),
          "exang": FS.integer_categorical(missing="oov"),
          "ca": FS.integer_categorical(missing="oov"),
          "thal": FS.string_categorical(missing="oov"),
      },
      crosses=[FS.cross(("sex", "age"), crossing_dim=16)],
  )

features = make_features()
features.adapt(train)              # one pass over the train columns
layout = features.output_layout()  # name -> slice of the output vector
width = max(s.stop for s in layout.values())
for name, s in layout.items():
  print(f"{name:10s} columns {s.start:2d}:{s.stop:2d}")
'''),
    md('''
## A model: FeatureSpace, then `nnx.Linear` layers

The model's `__call__` applies its `FeatureSpace`. Under `nnx.jit` it gets
`model.features.host_stage(batch)` (run before the jitted step, in NumPy);
on that, the layer runs only its device stage, which traces.
'''),
    code('''
class HeartModel(nnx.Module):
  def __init__(self, features, width, rngs):
    self.features = features
    self.hidden = nnx.Linear(width, 16, rngs=rngs)
    self.out = nnx.Linear(16, 1, rngs=rngs)

  def __call__(self, columns):
    return self.out(nnx.relu(self.hidden(self.features(columns))))[:, 0]

model = HeartModel(features, width, nnx.Rngs(0))
optimizer = nnx.Optimizer(model, optax.adam(3e-3), wrt=nnx.Param)

@nnx.jit
def train_step(model, optimizer, batch, y):
  def loss_fn(model):
    return optax.sigmoid_binary_cross_entropy(model(batch), y).mean()
  loss, grads = nnx.value_and_grad(loss_fn)(model)
  optimizer.update(model, grads)
  return loss

batch_size, losses = 100, []
for step in range(200):
  i = step * batch_size % len(y_train)
  rows = {k: v[i:i + batch_size] for k, v in train.items()}
  losses.append(float(train_step(model, optimizer, model.features.host_stage(rows),
                                 y_train[i:i + batch_size])))

predict = pf.predict_fn(model, model.features)  # host stage, then one jit
logits = predict(test)                          # raw test rows, unseen/missing included
acc = np.mean((np.asarray(logits) > 0) == y_test)
print(f"final loss {losses[-1]:.3f}, test accuracy {acc:.2f}")
plt.figure(figsize=(6, 2.5)); plt.plot(losses)
plt.title(f"training loss (test accuracy {acc:.2f})"); plt.xlabel("step"); plt.show()
'''),
    md('''
## Unseen and missing values

`"unknown"` and `None` in `thal`, `NaN` in `ca`: all take the OOV id 0 in the
host stage, and the model predicts on them like on any row.
'''),
    code('''
host = model.features.host_stage(test)
print("thal ids:", np.asarray(host["thal"][:8, 0]), "  ca ids:", np.asarray(host["ca"][:8, 0]))
print("P(disease):", np.asarray(jax.nn.sigmoid(logits[:8])).round(2))
'''),
    md('''
## Checkpoint: `pf.save` / `pf.restore`

The bytes hold the weights and the feature space's state (vocabularies,
means, bin boundaries). Restore into a freshly constructed, never adapted
model: no training data is needed.
'''),
    code('''
data = pf.save(model)
fresh = HeartModel(make_features(), width, nnx.Rngs(1))
pf.restore(fresh, data)
restored_logits = pf.predict_fn(fresh, fresh.features)(test)
np.testing.assert_array_equal(restored_logits, logits)
print(f"{len(data)} bytes; restored predictions equal:", bool(np.all(restored_logits == logits)))
'''),
    md('''
## The core transform, split

`pf.FeatureSpace` wraps a `pc.feature_space` transform. `pc.split_host_device`
hands out its two stages and cuts its state the same way; the device stage
jits. `host_stage` and `predict_fn` above are built on it.
'''),
    code('''
split = pc.split_host_device(model.features.transform)
host_state, device_state = split.split_state(model.features.get_state())
host_out = split.host.apply(host_state, test)            # NumPy: a HostColumns dict
encoded = jax.jit(split.device.apply)(device_state, host_out)
print(type(host_out).__name__, sorted(host_out)[:4], "...", "->", encoded.shape)
print("thal one-hot, first 5 test rows:", np.asarray(encoded[:5, layout["thal"]]).tolist())
'''),
]


NOTEBOOKS = {
    "01_adapt.ipynb": ADAPT,
    "02_inside_or_before_the_model.ipynb": INSIDE_OR_BEFORE,
    "03_multi_device.ipynb": MULTI_DEVICE,
    "04_recipes_images.ipynb": IMAGES,
    "05_recipes_categorical.ipynb": CATEGORICAL,
    "06_recipes_text.ipynb": TEXT,
    "07_input_pipelines.ipynb": PIPELINES,
    "08_structured_data.ipynb": STRUCTURED,
}


def build(name: str, cells) -> nbformat.NotebookNode:
  nb = new_notebook(cells=cells)
  nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                               "language": "python"}
  nb.metadata["language_info"] = {"name": "python"}
  # Stable cell ids, so that a rebuild changes nothing unless a cell does.
  stem = name.split(".")[0]
  for i, cell in enumerate(nb.cells):
    cell["id"] = f"{stem}-{i:02d}"
  nbformat.validate(nb)
  return nb


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--check", action="store_true",
                      help="fail when a notebook differs from what would be built")
  args = parser.parse_args(argv)
  stale = []
  for name, cells in NOTEBOOKS.items():
    text = nbformat.writes(build(name, cells)) + "\n"
    path = os.path.join(HERE, name)
    old = open(path).read() if os.path.exists(path) else None
    if args.check:
      if old != text:
        stale.append(name)
    elif old != text:
      with open(path, "w") as f:
        f.write(text)
      print("wrote", path)
  if stale:
    print("out of date (run python notebooks/_build.py):", ", ".join(stale))
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main())
