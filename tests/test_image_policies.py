"""Tests for rand_augment and aug_mix (prepro_core/_src/image/policies.py)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import prepro_core as pc
from prepro_core._src.image import policies as P

KEY = jax.random.key(0)
X = jnp.asarray(np.random.default_rng(2).uniform(0, 255, (8, 10, 12, 3)),
                jnp.float32)


# One instance per policy, shared by the tests: each instance jits its kernel
# once, so tests with the same input shapes reuse the compiled program.
_MADE = {}


def _make(name):
  if name not in _MADE:
    _MADE[name] = {"rand_augment": lambda: pc.rand_augment(),
                   # The 7-op list keeps the compile short; the plumbing is
                   # the same.
                   "aug_mix": lambda: pc.aug_mix(all_ops=False)}[name]()
  return _MADE[name]


def _groups(names=P.RAND_AUGMENT_OPS, factor=(0.0, 0.5)):
  return P.build_groups(names, factor, (0.0, 255.0), "bilinear", "test")


@pytest.mark.parametrize("names", [P.RAND_AUGMENT_OPS, P.AUG_MIX_OPS])
def test_grouped_dispatch_equals_computing_every_op(names):
  groups = _groups(names)
  n = len(names)
  x = jnp.concatenate([X, X[::-1]])   # 16 examples
  # Every op, plus index n (the identity), several times.
  op_ids = jnp.asarray(np.arange(16) % (n + 1), jnp.int32)
  keys = jax.random.split(jax.random.key(3), 16)
  # Both dispatches in one program: one compile.
  grouped, naive = jax.jit(lambda x, o, k: (
      P.grouped_apply(x, o, k, tuple(groups), 3),
      P.naive_apply(x, o, k, tuple(groups))))(x, op_ids, keys)
  np.testing.assert_allclose(grouped, naive, atol=2e-3)
  np.testing.assert_array_equal(grouped[op_ids == n], x[op_ids == n])
  assert not np.allclose(grouped[op_ids == 0], x[op_ids == 0])


def test_grouped_dispatch_computes_only_chosen_examples():
  # Count the rows each group's function is run on (jax.debug.callback runs
  # only when its branch of lax.cond executes).
  rows = []

  def counting(group):
    def fn(images, keys, op_ids):
      jax.debug.callback(lambda n: rows.append(int(n)), images.shape[0])
      return group.fn(images, keys, op_ids)
    return P.OpGroup(group.ops, fn)

  groups = tuple(counting(g) for g in _groups())
  b = 64
  x = jnp.broadcast_to(X[:1], (b,) + X.shape[1:])
  keys = jax.random.split(KEY, b)
  op_ids = jnp.asarray(np.random.default_rng(4).integers(0, 11, b), jnp.int32)
  run = jax.jit(lambda x, o, k: P.grouped_apply(x, o, k, groups))
  jax.block_until_ready(run(x, op_ids, keys))
  chunk = -(-b // len(groups))
  counts = np.bincount(np.asarray(P.group_of(op_ids, groups)),
                       minlength=len(groups))
  expected = sum(-(-c // chunk) * chunk for c in counts)
  assert sum(rows) == expected
  # About two ops' worth of work per image, against eleven for Keras' way.
  assert sum(rows) <= b + len(groups) * chunk < 11 * b
  rows.clear()
  # All examples on one colour op: the other groups never run.
  # (int32 like op_ids above: the same compiled program.)
  jax.block_until_ready(run(x, jnp.full((b,), 5, jnp.int32), keys))
  assert sum(rows) == b


def test_geometric_group_matches_the_geometric_transforms():
  # Pinned strength 0.1: rotation by 36 degrees, translation by 10%, shear
  # by +-0.1 (Keras' random sign), as the standalone transforms do them.
  groups = _groups(factor=(0.1, 0.1))
  x = jnp.broadcast_to(X[:1], (8,) + X.shape[1:])
  keys = jax.random.split(KEY, 8)
  grouped = jax.jit(lambda op: P.grouped_apply(x, jnp.full((8,), op), keys,
                                               groups))
  run = lambda op: np.asarray(grouped(op))
  rot = pc.random_rotation((0.1, 0.1))
  np.testing.assert_allclose(run(2), rot.apply(None, x, key=KEY), atol=1e-3)
  tr = pc.random_translation((0.1, 0.1), (0.1, 0.1))
  np.testing.assert_allclose(run(1), tr.apply(None, x, key=KEY), atol=1e-3)
  sh = np.asarray(pc.random_shear((0.1, 0.1), (0.1, 0.1)).apply(
      None, x, key=KEY))
  ours = run(0)
  for i in range(8):
    assert min(np.abs(ours[i] - sh[j]).max() for j in range(8)) < 1e-3
  assert len({np.round(o, 3).tobytes() for o in ours}) == 2   # both signs


def test_rand_augment_zero_ops_is_identity_and_range_is_kept():
  t = pc.rand_augment(num_ops=0)
  np.testing.assert_array_equal(t.apply(t.init(X), X, key=KEY), X)
  # uint8 in, uint8 out; a single image too.
  t = pc.rand_augment(num_ops=3, factor=0.8)
  x8 = X.astype(jnp.uint8)
  y = t.apply(t.init(x8), x8, key=KEY)
  assert y.dtype == jnp.uint8 and y.shape == x8.shape
  y = t.apply(t.init(x8[0]), x8[0], key=KEY)
  assert y.dtype == jnp.uint8 and y.shape == x8[0].shape


def test_aug_mix_depth_range_dtype_and_value_range():
  # The paper's depth range (1, 3), the 7 ops without colour ones, [0, 1]
  # images in uint8-free float16, a small alpha (log-gamma path).
  t = pc.aug_mix(value_range=(0, 1), chain_depth=(1, 3), all_ops=False,
                 num_chains=2, alpha=0.3)
  x = (X / 255).astype(jnp.float16)
  y = t.apply(t.init(x), x, key=KEY)
  assert y.dtype == jnp.float16 and y.shape == x.shape
  y = np.asarray(y, np.float32)
  assert np.all(np.isfinite(y)) and y.min() >= 0 and y.max() <= 1
  assert not np.allclose(y, np.asarray(x, np.float32), atol=1e-2)


def test_gradients_are_finite():
  t = _make("rand_augment")
  s = t.init(X)
  # jit(grad): forward and backward in one compiled program.
  g = jax.jit(jax.grad(lambda v: jnp.sum(t.apply(s, v, key=KEY) ** 2)))(
      X[:4])
  assert np.all(np.isfinite(np.asarray(g)))
  assert np.any(np.asarray(g) != 0)


@pytest.mark.parametrize("make", [
    lambda: pc.rand_augment(factor=1.5),
    lambda: pc.rand_augment(value_range=(1, 0)),
    lambda: pc.rand_augment(num_ops=-1),
    lambda: pc.rand_augment(num_ops=1.5),  # ValueError or TypeError
    lambda: pc.rand_augment(interpolation="bicubic"),
    lambda: pc.aug_mix(num_chains=0),
    lambda: pc.aug_mix(chain_depth=0),
    lambda: pc.aug_mix(chain_depth=(3, 1)),
    lambda: pc.aug_mix(chain_depth=(0, 2)),
    lambda: pc.aug_mix(alpha=0.0),
    lambda: pc.aug_mix(factor=(-0.1, 0.2)),
    lambda: pc.aug_mix(value_range=(0,)),
])
def test_bad_arguments(make):
  with pytest.raises((ValueError, TypeError)):
    make()


@pytest.mark.parametrize("make", [pc.rand_augment, pc.aug_mix])
def test_bad_images(make):
  t = make()
  with pytest.raises(ValueError, match="rank"):
    t.apply(pc.EmptyState(), jnp.zeros((4, 4)), key=KEY)
  with pytest.raises(ValueError, match="3 channels"):
    t.apply(pc.EmptyState(), jnp.zeros((2, 4, 4, 1)), key=KEY)
