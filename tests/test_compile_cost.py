"""What the augmentation programs compile to (no timings: counts only).

XLA's compile time of a random image transform on CPU goes mostly to the
Threefry draws (``jax.random`` lowers each as a rolled loop of small
kernels), so the image package draws with written-out rounds that must stay
bit-identical to ``jax.random``.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import prepro_core as pc
from prepro_core._src.image import common


def _data(keys):
  if jax.dtypes.issubdtype(keys.dtype, jax.dtypes.prng_key):
    return np.asarray(jax.random.key_data(keys))
  return np.asarray(keys)


@pytest.mark.parametrize("make", [jax.random.key, jax.random.PRNGKey])
@pytest.mark.parametrize("n", [1, 3, 77])
def test_draws_equal_jax_random(make, n):
  key = make(7)
  keys = common.split_keys(key, n)
  ref = jax.random.split(key, n)
  np.testing.assert_array_equal(_data(keys), _data(ref))
  u = common.unit_uniforms(keys, 5)
  ref_u = jax.vmap(lambda k: jax.random.uniform(k, (5,), jnp.float32))(ref)
  np.testing.assert_array_equal(np.asarray(u), np.asarray(ref_u))
  sub = common.split_keys(keys, 2)
  ref_sub = jax.vmap(lambda k: jax.random.split(k, 2))(ref)
  np.testing.assert_array_equal(_data(sub), _data(ref_sub))


def test_draws_equal_under_jit_and_vmap():
  keys = jax.random.split(jax.random.key(3), 4)
  got = jax.jit(jax.vmap(lambda k: common.unit_uniforms(
      common.split_keys(k, 6), 2)))(keys)
  ref = jax.vmap(lambda k: jax.vmap(lambda e: jax.random.uniform(e, (2,)))(
      jax.random.split(k, 6)))(keys)
  np.testing.assert_array_equal(np.asarray(got), np.asarray(ref))


def test_other_key_implementations_use_jax_random():
  key = jax.random.key(5, impl="rbg")
  np.testing.assert_array_equal(_data(common.split_keys(key, 3)),
                                _data(jax.random.split(key, 3)))
  keys = jax.random.split(key, 3)
  np.testing.assert_array_equal(
      np.asarray(common.unit_uniforms(keys, 2)),
      np.asarray(jax.vmap(lambda k: jax.random.uniform(k, (2,)))(keys)))


def test_fused_chain_draws_without_loops():
  # Only the chain's own key split is left to jax.random (one loop).
  c = pc.chain(pc.random_flip("horizontal"), pc.random_rotation(0.1),
               pc.random_zoom(0.1))
  x = jax.ShapeDtypeStruct((8, 16, 16, 3), jnp.float32)
  hlo = jax.jit(c.apply).lower(c.init(x), x, key=jax.random.key(0)).as_text()
  assert hlo.count("stablehlo.while") <= 1
