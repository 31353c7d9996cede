"""integer_lookup: Keras parity (docstring examples and recorded numbers),
eager == jit == vmap, sharded apply, merge invariants, bad input."""
import functools
import gzip
import json
import pathlib

import hypothesis
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

import prepro_core as pc

RECORDS = pathlib.Path(__file__).parent / "keras_records" / "lookups.json.gz"
VOCAB = [12, 36, 1138, 42]


@functools.lru_cache(maxsize=None)
def records():
  with gzip.open(RECORDS, "rb") as f:
    return json.loads(f.read())["integer"]


def make(**kw):
  t = pc.integer_lookup(**kw)
  return t, t.init(None)


def three_ways(t, s, x, vmap=True):
  """apply eagerly, under jit and (unless vmap=False) under vmap."""
  eager = np.asarray(t.apply(s, x))
  jitted = np.asarray(jax.jit(t.apply)(s, jnp.asarray(x)))
  np.testing.assert_array_equal(eager, jitted)
  if vmap and np.ndim(x) >= 1 and not _is_per_sample_encoding(t, s, x):
    vm = np.asarray(jax.vmap(t.apply, in_axes=(None, 0))(s, jnp.asarray(x)))
    np.testing.assert_array_equal(eager, vm)
  return eager


def _is_per_sample_encoding(t, s, x):
  # multi_hot/count/tf_idf treat a rank-1 input as one sample; vmapping a
  # rank-2 batch gives the same rows, a rank-1 one does not.
  # one_hot upranks a scalar example to one sample, so vmapping a rank-1
  # batch gives (batch, 1, depth) where the batch gives (batch, depth).
  out = np.asarray(t.apply(s, x))
  return (out.ndim != np.ndim(x) and out.ndim != np.ndim(x) + 1) or (
      out.ndim == np.ndim(x) + 1 and np.ndim(x) == 1)


# ---------------------------------------------------------------------------
# Keras' documented examples (IntegerLookup docstring).
# ---------------------------------------------------------------------------


def test_given_vocabulary():
  t, s = make(vocabulary=VOCAB)
  out = three_ways(t, s, np.array([[12, 1138, 42], [42, 1000, 36]]))
  np.testing.assert_array_equal(out, [[1, 3, 4], [4, 0, 2]])
  assert pc.get_vocabulary(s) == [-1, 12, 36, 1138, 42]


def test_adapted_vocabulary():
  data = np.array([[12, 1138, 42], [42, 1000, 36]])
  t = pc.integer_lookup()
  s = pc.adapt(t, data)
  assert pc.get_vocabulary(s) == [-1, 42, 1138, 1000, 36, 12]
  np.testing.assert_array_equal(three_ways(t, s, data), [[5, 2, 1], [1, 3, 4]])


def test_multiple_oov_floormod_and_farmhash():
  t, s = make(vocabulary=VOCAB, num_oov_indices=2)
  out = three_ways(t, s, np.array([[12, 1138, 42], [37, 1000, 36]]))
  np.testing.assert_array_equal(out, [[2, 4, 5], [1, 0, 3]])
  oov = np.array([100, 300, 700, 1100, 1700, 2000])
  t, s = make(vocabulary=[10, 20, 30], num_oov_indices=4)
  np.testing.assert_array_equal(three_ways(t, s, oov), [0] * 6)
  t, s = make(vocabulary=[10, 20, 30], num_oov_indices=4,
              oov_method="farmhash")
  np.testing.assert_array_equal(three_ways(t, s, oov, vmap=False),
                                [3, 3, 2, 2, 0, 1])


@pytest.mark.parametrize("vocab,mask_token", [
    ([3, -7, 2**19, 12], 0),                    # dense id table
    ([2**31 - 1, 2**31 - 5, 2**31 - 2], None),  # dense, at the top of int32
    ([-2**31, -2**31 + 3, 17], None),           # too sparse: binary search
    ([-2**31, 2**31 - 1, 0, 5], 0),             # too sparse, both extremes
])
def test_dense_table_and_binary_search_agree(vocab, mask_token):
  # Both lookup paths against a dict, with values around and far outside
  # the vocabulary's range (the dense path's x - min must wrap, not
  # overflow) and the mask; floormod OOV buckets for unknown values.
  t, s = make(vocabulary=[v for v in vocab if v != mask_token],
              num_oov_indices=3, mask_token=mask_token)
  dense = np.asarray(s.dense_ids).size > 0
  assert dense == (max(vocab) - min(vocab) < 2**20)
  x = np.array(vocab + [0, 1, -1, 4, -2**31, -2**31 + 1, 2**31 - 1,
                        2**31 - 3, 2**30, -2**30, min(vocab) - 1,
                        max(vocab) - 1], np.int64)
  x = x[(x >= -2**31) & (x < 2**31)].astype(np.int32)
  start = 3 + (mask_token is not None)
  index = {v: start + i for i, v in enumerate(
      v for v in vocab if v != mask_token)}
  want = [0 if v == mask_token else index.get(
      int(v), int(v) % 3 + (mask_token is not None)) for v in x.tolist()]
  three_ways(t, s, x)
  np.testing.assert_array_equal(np.asarray(t.apply(s, x)), want)


@pytest.mark.parametrize("mode,data,expected", [
    ("one_hot", [12, 36, 1138, 42, 7],
     [[0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1],
      [1, 0, 0, 0, 0]]),
    ("multi_hot", [[12, 1138, 42, 42], [42, 7, 36, 7]],
     [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]]),
    ("count", [[12, 1138, 42, 42], [42, 7, 36, 7]],
     [[0, 1, 0, 1, 2], [2, 0, 1, 0, 1]]),
])
def test_encoded_outputs(mode, data, expected):
  t, s = make(vocabulary=VOCAB, output_mode=mode)
  np.testing.assert_array_equal(three_ways(t, s, np.array(data)), expected)


def test_tf_idf_examples():
  data = np.array([[12, 1138, 42, 42], [42, 7, 36, 7]])
  t, s = make(vocabulary=VOCAB, idf_weights=[0.25, 0.75, 0.6, 0.4],
              output_mode="tf_idf")
  np.testing.assert_allclose(three_ways(t, s, data),
                             [[0, .25, 0, .6, .8], [1.0, 0, .75, 0, .4]],
                             rtol=1e-6)
  t, s = make(vocabulary=[-1] + VOCAB, idf_weights=[0.9, 0.25, 0.75, 0.6, 0.4],
              output_mode="tf_idf")
  np.testing.assert_allclose(three_ways(t, s, data),
                             [[0, .25, 0, .6, .8], [1.8, 0, .75, 0, .4]],
                             rtol=1e-6)


def test_invert_pair():
  t, s = make(vocabulary=VOCAB)
  ti, si = make(vocabulary=pc.get_vocabulary(s), invert=True)
  ids = t.apply(s, np.array([[12, 1138, 42], [42, 1000, 36]]))
  np.testing.assert_array_equal(three_ways(ti, si, ids),
                                [[12, 1138, 42], [42, -1, 36]])


# ---------------------------------------------------------------------------
# Recorded Keras numbers.
# ---------------------------------------------------------------------------

INT_CASES = ["int_default", "int_mask_oov3_max", "tf_idf_max", "count_pad",
             "multi_hot", "one_hot", "farmhash_oov4", "farmhash_salt",
             "invert"]


@pytest.mark.parametrize("name", INT_CASES)
def test_keras_parity(name):
  rec = records()[name]
  kw = dict(rec["kwargs"])
  if "salt" in kw:
    kw["salt"] = tuple(kw["salt"])
  t = pc.integer_lookup(**kw)
  data = np.array(records()["data"])
  s = t.init(None) if "vocabulary" in kw else pc.adapt(t, data, batch_size=3000)
  assert pc.get_vocabulary(s) == rec["vocabulary"]
  if "idf" in rec:
    np.testing.assert_allclose(s.idf_weights, rec["idf"], rtol=1e-6)
  q = np.array(records()["query"])
  if name == "one_hot":
    q = q[:, 0]
  if name == "invert":
    q = np.arange(-2, 1010).reshape(-1, 4) % 1007 - 3
  out = three_ways(t, s, q, vmap=False)  # vmap: the docstring tests
  np.testing.assert_allclose(out, np.array(rec["output"]), rtol=1e-6)


def test_sharded_apply_matches():
  rec = records()["int_mask_oov3_max"]
  t = pc.integer_lookup(**rec["kwargs"])
  s = pc.adapt(t, np.array(records()["data"]))
  q = np.array(records()["query"])  # 40 rows, 8 devices
  mesh = Mesh(np.array(jax.devices()[:8]), ("d",))
  qs = jax.device_put(jnp.asarray(q), NamedSharding(mesh, P("d")))
  out = jax.jit(t.apply)(s, qs)
  np.testing.assert_array_equal(np.asarray(out), rec["output"])


# ---------------------------------------------------------------------------
# Invariants.
# ---------------------------------------------------------------------------

ROWS = st.lists(st.lists(st.integers(-3, 6), min_size=3, max_size=3),
                min_size=1, max_size=6)


@hypothesis.settings(max_examples=40, deadline=None)
@hypothesis.given(ROWS, ROWS, st.sampled_from(["int", "tf_idf"]))
def test_merge_of_adapts_equals_adapt_of_union(a, b, mode):
  t = pc.integer_lookup(output_mode=mode, max_tokens=6, mask_token=0)
  sa, sb = pc.adapt(t, np.array(a)), pc.adapt(t, np.array(b))
  whole = pc.adapt(t, np.array(a + b))
  merged = t.merge(sa, sb)
  assert pc.get_vocabulary(merged) == pc.get_vocabulary(whole)
  np.testing.assert_allclose(merged.idf_weights, whole.idf_weights)


def test_failed_adapt_leaves_state_usable():
  t = pc.integer_lookup()
  s = pc.adapt(t, np.array([3, 3, 4]))
  with pytest.raises(TypeError, match="integers"):
    t.adapt(s, np.array([1.5]))
  with pytest.raises(ValueError, match="empty"):
    t.adapt(s, np.zeros((0,), np.int32))
  assert pc.get_vocabulary(s) == [-1, 3, 4]
  np.testing.assert_array_equal(t.apply(s, np.array([4, 3, 9])), [2, 1, 0])


def test_adapt_under_jit_says_what_to_do():
  t = pc.integer_lookup()
  s = t.init(None)
  with pytest.raises(TypeError, match="merge"):
    jax.jit(t.adapt)(s, jnp.arange(3))


# ---------------------------------------------------------------------------
# Bad input.
# ---------------------------------------------------------------------------


def test_bad_inputs():
  t, s = make(vocabulary=VOCAB)
  with pytest.raises(TypeError, match="inputs.*integers"):
    t.apply(s, np.array([1.5]))
  with pytest.raises(TypeError, match="inputs.*integers"):
    jax.jit(t.apply)(s, jnp.array([1.5]))
  with pytest.raises(ValueError, match="int32 range"):
    t.apply(s, np.array([2**40]))
  t0, s0 = make(vocabulary=VOCAB, num_oov_indices=0)
  np.testing.assert_array_equal(t0.apply(s0, np.array([12, 42])), [0, 3])
  with pytest.raises(ValueError, match="num_oov_indices=0.*7"):
    t0.apply(s0, np.array([12, 7]))
  # Under jit an unknown value cannot raise: it maps to -1 (documented).
  np.testing.assert_array_equal(jax.jit(t0.apply)(s0, jnp.array([12, 7])),
                                [0, -1])


def test_bad_arguments():
  with pytest.raises(ValueError, match="repeated"):
    pc.integer_lookup(vocabulary=[1, 2, 1])
  with pytest.raises(ValueError, match="mask token"):
    pc.integer_lookup(vocabulary=[1, 0, 2], mask_token=0)
  with pytest.raises(ValueError, match="idf_weights"):
    pc.integer_lookup(vocabulary=[1, 2], output_mode="tf_idf")
  with pytest.raises(ValueError, match="oov_method"):
    pc.integer_lookup(oov_method="mod")
  with pytest.raises(ValueError, match="salt"):
    pc.integer_lookup(salt=3)
  with pytest.raises(TypeError, match="salt"):
    pc.integer_lookup(salt="x", oov_method="farmhash")
  with pytest.raises(TypeError, match="vocabulary"):
    pc.integer_lookup(vocabulary=["a", "b"])
  with pytest.raises(TypeError, match="mask_token"):
    pc.integer_lookup(mask_token="0")
  with pytest.raises(ValueError, match="vocabulary_dtype"):
    pc.integer_lookup(vocabulary_dtype="int64")
  with pytest.raises(ValueError, match="vocabulary_dtype"):
    pc.integer_lookup(vocabulary_dtype="float32")
  with pytest.raises(TypeError, match="sample"):
    pc.integer_lookup().init(np.zeros(3, np.float32))
  t = pc.integer_lookup(output_mode="multi_hot")
  with pytest.raises(ValueError, match="needs a vocabulary"):
    t.apply(t.init(None), np.array([1]))


def test_empty_adapt_and_merge_of_different_transforms():
  t = pc.integer_lookup()
  with pytest.raises(ValueError, match="empty"):
    pc.adapt(t, [])
  s = pc.adapt(t, np.array([1, 2]))
  with pytest.raises(TypeError, match="different transforms"):
    t.merge(s, pc.adapt(pc.string_lookup(), [["a"]]))
  # States of integer lookups built with other settings, either way round.
  data = np.array([1, 2, 2])
  for other in (pc.integer_lookup(output_mode="tf_idf"),
                pc.integer_lookup(mask_token=0),
                pc.integer_lookup(num_oov_indices=2)):
    o = pc.adapt(other, data)
    with pytest.raises(ValueError, match="different settings"):
      t.merge(s, o)
    with pytest.raises(ValueError, match="different settings"):
      other.merge(o, s)
