"""pc.category_encoding: Keras' numbers, eager/jit/vmap, bad input."""
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import prepro_core as pc

RECORD = json.load(open(os.path.join(os.path.dirname(__file__),
                                     "keras_records", "numeric.json")))


def test_docstring_examples():
  t = pc.category_encoding(num_tokens=4, output_mode="one_hot")
  s = t.init(np.zeros(4, np.int32))
  np.testing.assert_array_equal(
      t.apply(s, np.array([3, 2, 0, 1])),
      [[0, 0, 0, 1], [0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]])
  t = pc.category_encoding(num_tokens=4, output_mode="multi_hot")
  ids = np.array([[0, 1], [0, 0], [1, 2], [3, 1]])
  np.testing.assert_array_equal(
      t.apply(s, ids), [[1, 1, 0, 0], [1, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 1]])
  t = pc.category_encoding(num_tokens=4, output_mode="count")
  w = np.array([[.1, .2], [.1, .1], [.2, .3], [.4, .2]])
  np.testing.assert_allclose(
      t.apply(s, ids, count_weights=w),
      [[.1, .2, 0, 0], [.2, 0, 0, 0], [0, .2, .3, 0], [0, .2, 0, .4]],
      rtol=1e-6)


@pytest.mark.parametrize(
    "case", RECORD["category_encoding"],
    ids=lambda c: f"{c['mode']}-{np.shape(c['ids'])}-w{c['count_weights'] is not None}")
def test_matches_keras(case):
  t = pc.category_encoding(num_tokens=5, output_mode=case["mode"])
  x = np.asarray(case["ids"], np.int32)
  s = t.init(x)
  w = case["count_weights"]
  y = t.apply(s, x, count_weights=w)
  assert y.dtype == jnp.float32
  np.testing.assert_allclose(y, case["output"], rtol=1e-6)
  y_jit = jax.jit(lambda s, x, w: t.apply(s, x, count_weights=w))(s, x, w)
  np.testing.assert_allclose(y_jit, case["output"], rtol=1e-6)


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
def test_vmap_matches_batch(mode):
  t = pc.category_encoding(num_tokens=6, output_mode=mode)
  x = np.array([[0, 5, 5], [2, 1, 0]], np.int32)
  s = t.init(x)
  np.testing.assert_array_equal(jax.vmap(t.apply, in_axes=(None, 0))(s, x),
                                t.apply(s, x))
  x1 = np.array([4, 0, 3], np.int32)
  np.testing.assert_array_equal(jax.vmap(t.apply, in_axes=(None, 0))(s, x1),
                                t.apply(s, x1[:, None]))


def test_out_of_range_eager_error_and_jit_zeros():
  t = pc.category_encoding(num_tokens=3, output_mode="multi_hot")
  s = t.init(np.zeros(2, np.int32))
  with pytest.raises(ValueError, match=r"`x` values must lie in \[0, 3\)"):
    t.apply(s, np.array([0, 3]))
  with pytest.raises(ValueError, match="`x` values"):
    t.apply(s, np.array([[-1, 0]]))
  np.testing.assert_array_equal(jax.jit(t.apply)(s, jnp.array([0, 3])),
                                [1., 0., 0.])


def test_bad_arguments():
  with pytest.raises(ValueError, match="`num_tokens`"):
    pc.category_encoding(num_tokens=0)
  with pytest.raises(TypeError, match="`num_tokens`"):
    pc.category_encoding(num_tokens=None)
  with pytest.raises(ValueError, match="`output_mode`"):
    pc.category_encoding(num_tokens=3, output_mode="tf_idf")
  with pytest.raises(ValueError, match="`sparse=True`"):
    pc.category_encoding(num_tokens=3, sparse=True)
  t = pc.category_encoding(num_tokens=3)
  s = t.init(np.zeros(2, np.int32))
  with pytest.raises(TypeError, match="integer ids"):
    t.apply(s, np.array([0.5, 1.0]))
  with pytest.raises(ValueError, match="rank 0, 1 or 2"):
    t.apply(s, np.zeros((2, 2, 2), np.int32))
  with pytest.raises(ValueError, match="only used when"):
    t.apply(s, np.array([0, 1]), count_weights=np.ones(2))
  tc = pc.category_encoding(num_tokens=3, output_mode="count")
  with pytest.raises(ValueError, match="shape of `x`"):
    tc.apply(s, np.array([0, 1]), count_weights=np.ones(3))
  with pytest.raises(TypeError, match="`count_weights` must hold numbers"):
    tc.apply(s, np.array([0, 1]), count_weights=np.array(["a", "b"]))
