"""hashing / hashed_crossing against Keras (documented values and recorded outputs)."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import prepro_core as pc

REC = np.load(os.path.join(os.path.dirname(__file__), "keras_records",
                           "hashing.npz"))
blob, lens = REC["str_blob"].tobytes(), REC["str_lens"]
offs = np.concatenate([[0], np.cumsum(lens)[:-1]])
STRS = [blob[o:o + n].decode("utf-8") for o, n in zip(offs, lens)]
ABCDE = [["A"], ["B"], ["C"], ["D"], ["E"]]
KEEP = [i for i, s in enumerate(STRS) if not s.endswith("\x00")]


@pytest.fixture(params=["numpy", "numba"])
def kernels(request):
  """The string kernels: NumPy's, and numba's (the `fast` extra)."""
  with pc.host_kernels(request.param):
    yield request.param


def run(t, x):
  return np.asarray(t.apply(t.init(x), x))


# Keras' Hashing / HashedCrossing docstring examples (hand-typed).
def test_keras_docstring_examples(kernels):
  assert run(pc.hashing(3), ABCDE).ravel().tolist() == [1, 0, 1, 1, 2]
  assert run(pc.hashing(3, mask_value=""),
             [["A"], ["B"], [""], ["C"], ["D"]]).ravel().tolist() == [1, 1, 0, 2, 2]
  assert run(pc.hashing(3, salt=[133, 137]), ABCDE).ravel().tolist() == [1, 2, 1, 0, 2]
  assert run(pc.hashing(3, salt=133), ABCDE).ravel().tolist() == [0, 0, 2, 1, 0]
  f1, f2 = np.array(["A", "B", "A", "B", "A"]), np.array([101, 101, 101, 102, 102])
  c = pc.hashed_crossing(5)
  assert np.asarray(c.apply(c.init((f1, f2)), (f1, f2))).tolist() == [1, 4, 1, 1, 3]
  c = pc.hashed_crossing(5, output_mode="one_hot")
  np.testing.assert_array_equal(c.apply(c.init((f1, f2)), (f1, f2)), np.array(
      [[0, 1, 0, 0, 0], [0, 0, 0, 0, 1], [0, 1, 0, 0, 0], [0, 1, 0, 0, 0],
       [0, 0, 0, 1, 0]], np.float32))


@pytest.mark.parametrize("kw,key", [({}, "str_keras_1000"),
                                    ({"salt": [7, 42]}, "str_keras_salt"),
                                    ({"mask_value": ""}, "str_keras_mask")])
def test_strings_match_keras(kernels, kw, key):
  t = pc.hashing(1000, **kw)
  out = run(t, STRS)
  assert out.dtype == np.int32
  np.testing.assert_array_equal(out, REC[key])
  # The same strings as a NumPy str_ array (non-ASCII rows included).
  out = run(t, np.array([STRS[i] for i in KEEP]))
  assert out.dtype == np.int32
  np.testing.assert_array_equal(out, REC[key][KEEP])


def test_string_array_and_bytes_inputs_match_keras(kernels):
  t = pc.hashing(1000)
  as_bytes = np.array([s.encode() for s in STRS], dtype=object)
  np.testing.assert_array_equal(run(t, as_bytes), REC["str_keras_1000"])
  np.testing.assert_array_equal(run(t, as_bytes[KEEP].astype("S")),
                                REC["str_keras_1000"][KEEP])
  t = pc.hashing(1000, mask_value=b"")
  np.testing.assert_array_equal(run(t, as_bytes), REC["str_keras_mask"])
  np.testing.assert_array_equal(run(t, as_bytes[KEEP].astype("S")),
                                REC["str_keras_mask"][KEEP])
  assert run(pc.hashing(5), "a").shape == ()
  # A mask value that is a real string: masked rows only where equal.
  x = np.array([["ab", "é", "ab"], ["abc", "", "é"]])
  got = run(pc.hashing(7, mask_value="é"), x)
  assert (got == 0).tolist() == [[False, True, False], [False, False, True]]
  np.testing.assert_array_equal(run(pc.hashing(7, mask_value="é"), x.tolist()),
                                got)


@pytest.mark.parametrize("kw,key", [({"num_bins": 97}, "i64_keras_97"),
                                    ({"num_bins": 2**31 - 1}, "i64_keras_big"),
                                    ({"num_bins": 97, "salt": 5}, "i64_keras_salt"),
                                    ({"num_bins": 1000003, "salt": [-1, 3]},
                                     "i64_keras_salt2"),
                                    ({"num_bins": 97, "mask_value": 0},
                                     "i64_keras_mask")])
def test_int64_numpy_matches_keras(kw, key):
  np.testing.assert_array_equal(run(pc.hashing(**kw), REC["i64"]), REC[key])


def test_int_on_device_matches_keras_eager_jit_vmap():
  t = pc.hashing(97, mask_value=0)
  s = t.init(REC["i32"])
  x = jnp.asarray(REC["i32"])
  want = REC["i64_keras_mask"][:x.size]  # i64 starts with the i32 values
  np.testing.assert_array_equal(t.apply(s, x), want)
  np.testing.assert_array_equal(jax.jit(lambda v: t.apply(s, v))(x), want)
  n = x.size - x.size % 11
  np.testing.assert_array_equal(
      jax.vmap(lambda v: t.apply(s, v))(x[:n].reshape(-1, 11)).ravel(),
      want[:n])
  t = pc.hashing(7919)
  np.testing.assert_array_equal(run(t, REC["i32"]), REC["i32_keras_7919"])
  t = pc.hashing(97, salt=5)
  np.testing.assert_array_equal(jax.jit(lambda v: t.apply(s, v))(x),
                                REC["i64_keras_salt"][:x.size])


def test_floats_and_bools_match_keras():
  f = REC["f32"]
  for kw, key in (({}, "f32_keras_1000"), ({"salt": 9}, "f32_keras_salt")):
    t = pc.hashing(1000, **kw)
    np.testing.assert_array_equal(run(t, f), REC[key])  # device (float32)
    np.testing.assert_array_equal(run(t, f.astype(np.float64)), REC[key])  # host
  np.testing.assert_array_equal(run(pc.hashing(1000), np.array([True, False, True])),
                                REC["bool_keras_1000"])


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
def test_output_modes_match_keras(mode):
  t = pc.hashing(6, output_mode=mode)
  np.testing.assert_array_equal(run(t, np.array([["a", "b", "a"], ["c", "c", "c"]])),
                                REC[f"mode_{mode}_rank2"])
  np.testing.assert_array_equal(run(t, np.array(["a", "b", "q"])),
                                REC[f"mode_{mode}_rank1"])


def test_crossing_matches_keras():
  s_, i_, i2 = REC["cross_str"], REC["cross_int"], REC["cross_int2"]
  def cross(n, feats, **kw):
    t = pc.hashed_crossing(n, **kw)
    return np.asarray(t.apply(t.init(feats), feats))
  np.testing.assert_array_equal(cross(1000003, (s_, i_)), REC["cross_str_int"])
  np.testing.assert_array_equal(cross(1000003, (s_.tolist(), i_)),
                                REC["cross_str_int"])
  np.testing.assert_array_equal(cross(7919, (i2, s_, i_)), REC["cross_int_str_int"])
  np.testing.assert_array_equal(cross(13, (s_[:50, None], i2[:50, None])),
                                REC["cross_col"])
  np.testing.assert_array_equal(
      cross(13, (s_[:50, None], i2[:50, None]), output_mode="one_hot"),
      REC["cross_onehot"])
  np.testing.assert_array_equal(cross(13, (np.array("x"), np.array(4))),
                                REC["cross_scalar"])


def test_int_crossing_on_device_matches_keras():
  a, b = jnp.asarray(REC["cross_i32a"]), jnp.asarray(REC["cross_i32b"])
  t = pc.hashed_crossing(2**31 - 1)
  s = t.init((a, b))
  np.testing.assert_array_equal(t.apply(s, (a, b)), REC["cross_i32"])
  np.testing.assert_array_equal(jax.jit(lambda x, y: t.apply(s, (x, y)))(a, b),
                                REC["cross_i32"])


def test_init_accepts_shape_dtype_struct():
  t = pc.hashing(10)
  assert t.init(jax.ShapeDtypeStruct((4, 2), jnp.int32)) == pc.EmptyState()
  with pytest.raises(TypeError, match="dtype"):
    t.init(jax.ShapeDtypeStruct((4,), jnp.complex64))
  assert t.on_host and not t.adaptable


def test_bad_arguments():
  for bad in (0, -3):
    with pytest.raises(ValueError, match="num_bins"):
      pc.hashing(bad)
    with pytest.raises(ValueError, match="num_bins"):
      pc.hashed_crossing(bad)
  for bad in (None, 2.5, "3"):
    with pytest.raises(TypeError, match="num_bins"):
      pc.hashing(bad)
  with pytest.raises(ValueError, match="num_bins"):
    pc.hashing(2**31)
  with pytest.raises(ValueError, match="mask_value"):
    pc.hashing(1, mask_value="")
  for bad in ("a", 1.5, (1, 2, 3), [1], (1, "x"), True, 2**64, -2**63 - 1):
    with pytest.raises(ValueError, match="salt"):
      pc.hashing(10, salt=bad)
  for bad in ("tf_idf", "bogus"):
    with pytest.raises(ValueError, match="output_mode"):
      pc.hashing(10, output_mode=bad)
  with pytest.raises(ValueError, match="output_mode"):
    pc.hashed_crossing(10, output_mode="multi_hot")
  with pytest.raises(ValueError, match="sparse"):
    pc.hashing(10, output_mode="one_hot", sparse=True)
  with pytest.raises(ValueError, match="sparse"):
    pc.hashed_crossing(10, sparse=True)


def test_bad_inputs():
  t = pc.hashing(10, mask_value="x")
  s = t.init(np.array(["a"]))
  with pytest.raises(TypeError, match="mask_value"):
    t.apply(s, np.array([1, 2]))
  with pytest.raises(TypeError, match="mask_value"):
    pc.hashing(10, mask_value=3).apply(s, ["a"])
  with pytest.raises(TypeError, match="dtype"):
    pc.hashing(10).apply(s, np.array([1 + 2j]))
  with pytest.raises(ValueError, match="UTF-8"):
    pc.hashing(10).apply(s, ["\udc80"])
  with pytest.raises(TypeError, match="strings"):
    pc.hashing(10).apply(s, np.array(["a", None], dtype=object))
  c = pc.hashed_crossing(10)
  a = np.array([1, 2, 3])
  with pytest.raises(ValueError, match="same shape"):
    c.apply(s, (a, np.array([1, 2])))
  with pytest.raises(ValueError, match="two features"):
    c.apply(s, (a,))
  with pytest.raises(TypeError, match="tuple or list"):
    c.apply(s, a)
  with pytest.raises(TypeError, match="integers or strings"):
    c.apply(s, (a, np.array([1.0, 2.0, 3.0])))
  with pytest.raises(TypeError, match="integers or strings"):
    c.apply(s, (a, np.array([True, False, True])))
  with pytest.raises(ValueError, match="shape"):
    c.apply(s, (np.ones((2, 3), int), np.ones((2, 3), int)))
