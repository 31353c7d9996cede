"""A data-parallel training step with preprocessing inside, sharded over the
8 simulated CPU devices with shard_map, per-device augmentation keys."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import prepro_flax as pf


class _Model(nnx.Module):

  def __init__(self, rngs):
    self.norm = pf.Normalization(axis=None)
    self.flip = pf.RandomFlip("horizontal")  # keys come from the step
    self.dense = nnx.Linear(16, 2, rngs=rngs)

  def __call__(self, images, key):
    x = self.flip(self.norm(images), key=key)
    return self.dense(x.reshape(x.shape[0], -1)), x


def test_sharded_training_step_with_per_device_augmentation():
  assert jax.device_count() == 8
  mesh = jax.make_mesh((8,), ("data",))
  rng = np.random.default_rng(0)
  images = rng.uniform(0, 255, (32, 4, 4, 1)).astype(np.float32)
  labels = (images[:, :, :2].mean((1, 2, 3)) > images[:, :, 2:].mean((1, 2, 3))).astype(np.int32)

  model = _Model(nnx.Rngs(0))
  model.norm.adapt(images)
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)
  prepro_before = jax.tree.map(np.asarray, model.norm.get_state())
  tx = optax.adam(0.05)
  opt_state = tx.init(params)

  @functools.partial(
      jax.shard_map, mesh=mesh,
      in_specs=(P(), P(), P("data"), P("data"), P()),
      out_specs=(P(), P(), P("data")))
  def grads_and_loss(params, rest, x, y, key):
    # One augmentation key per device, so shards are augmented independently.
    key = jax.random.fold_in(key, jax.lax.axis_index("data"))

    def loss_fn(params):
      model = nnx.merge(graphdef, params, rest)
      logits, augmented = model(x, key)
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
      return loss, augmented

    (loss, augmented), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    return (jax.lax.pmean(grads, "data"), jax.lax.pmean(loss, "data"),
            augmented)

  @jax.jit
  def train_step(params, opt_state, rest, x, y, key):
    grads, loss, augmented = grads_and_loss(params, rest, x, y, key)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss, augmented

  data_sharding = NamedSharding(mesh, P("data"))
  x = jax.device_put(images, data_sharding)
  y = jax.device_put(labels, data_sharding)
  key = jax.random.key(42)
  losses = []
  for step in range(25):
    params, opt_state, loss, augmented = train_step(
        params, opt_state, rest, x, y, jax.random.fold_in(key, step))
    losses.append(float(loss))
  assert losses[-1] < 0.5 * losses[0]
  assert augmented.sharding.spec[0] == "data"

  # Per-device keys: the same 4 images on every device flip differently.
  same = jax.device_put(np.tile(images[:4], (8, 1, 1, 1)), data_sharding)
  _, _, _, aug = train_step(params, opt_state, rest, same, y, key)
  per_device = np.asarray(aug).reshape(8, 4, 4, 4, 1)
  flipped = [tuple(np.any(per_device[d] != per_device[0], axis=(1, 2, 3)))
             for d in range(8)]
  assert len(set(flipped)) > 1
  # Each device's shard equals the layer's own output for that device's key.
  norm_images = np.asarray(model.norm(images[:4]))
  for d in range(8):
    expected = model.flip(norm_images, key=jax.random.fold_in(key, d))
    np.testing.assert_allclose(per_device[d], expected, rtol=1e-6)

  # The preprocessing state rode along untouched.
  for a, b in zip(jax.tree.leaves(prepro_before),
                  jax.tree.leaves(nnx.merge(graphdef, params, rest).norm.get_state())):
    np.testing.assert_array_equal(a, b)
