"""string_lookup: Keras parity (docstring examples and recorded numbers),
merge invariants, and every bad input."""
import functools
import gzip
import json
import pathlib

import flax.serialization
import hypothesis
import hypothesis.strategies as st
import jax
import numpy as np
import pytest

import prepro_core as pc
from prepro_core._src.host import farmhash
from prepro_core._src.lookup import string_lookup as sl

RECORDS = pathlib.Path(__file__).parent / "keras_records" / "lookups.json.gz"


@functools.lru_cache(maxsize=None)
def records():
  with gzip.open(RECORDS, "rb") as f:
    return json.loads(f.read())


@functools.lru_cache(maxsize=None)
def corpus_tokens():
  return [d.split() for d in records()["docs"]]


VOCAB = ["a", "b", "c", "d"]


def adapt_docs(t, batches):
  """Adapts on batches of ragged documents (lists of token lists).

  pc.adapt cannot take ragged lists (its emptiness check converts each batch
  with np.size), so this folds accumulate/finalize itself.
  """
  state = t.init(None)
  for b in batches:
    state = t.accumulate(state, b)
  return t.finalize(state)


def make(**kw):
  t = pc.string_lookup(**kw)
  return t, t.init(None)


# ---------------------------------------------------------------------------
# Keras' documented examples (StringLookup docstring and the guide).
# ---------------------------------------------------------------------------


def test_given_vocabulary():
  t, s = make(vocabulary=VOCAB)
  out = t.apply(s, [["a", "c", "d"], ["d", "z", "b"]])
  np.testing.assert_array_equal(out, [[1, 3, 4], [4, 0, 2]])
  assert out.dtype == np.int32
  assert pc.get_vocabulary(s) == ["[UNK]", "a", "b", "c", "d"]


def test_adapted_vocabulary():
  data = [["a", "c", "d"], ["d", "z", "b"]]
  t = pc.string_lookup()
  s = pc.adapt(t, data)
  assert pc.get_vocabulary(s) == ["[UNK]", "d", "z", "c", "b", "a"]
  np.testing.assert_array_equal(t.apply(s, data), [[5, 3, 1], [1, 2, 4]])
  assert sl.vocab_size(s) == 6


def test_multiple_oov_indices_hash_like_keras():
  t, s = make(vocabulary=VOCAB, num_oov_indices=2)
  np.testing.assert_array_equal(
      t.apply(s, [["a", "c", "d"], ["m", "z", "b"]]), [[2, 4, 5], [0, 1, 3]])


def test_one_hot_with_unknowns():
  t, s = make(vocabulary=VOCAB, output_mode="one_hot")
  np.testing.assert_array_equal(
      t.apply(s, ["a", "b", "c", "d", "z"]),
      [[0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1],
       [1, 0, 0, 0, 0]])


@pytest.mark.parametrize("mode,expected", [
    ("multi_hot", [[0, 1, 0, 1, 1], [1, 0, 1, 0, 1]]),
    ("count", [[0, 1, 0, 1, 2], [2, 0, 1, 0, 1]]),
])
def test_multi_hot_and_count(mode, expected):
  t, s = make(vocabulary=VOCAB, output_mode=mode)
  out = t.apply(s, [["a", "c", "d", "d"], ["d", "z", "b", "z"]])
  np.testing.assert_array_equal(out, expected)


def test_tf_idf_examples():
  data = [["a", "c", "d", "d"], ["d", "z", "b", "z"]]
  t, s = make(vocabulary=VOCAB, idf_weights=[0.25, 0.75, 0.6, 0.4],
              output_mode="tf_idf")
  np.testing.assert_allclose(t.apply(s, data),
                             [[0, .25, 0, .6, .8], [1.0, 0, .75, 0, .4]],
                             rtol=1e-6)
  t, s = make(vocabulary=["[UNK]"] + VOCAB,
              idf_weights=[0.9, 0.25, 0.75, 0.6, 0.4], output_mode="tf_idf")
  np.testing.assert_allclose(t.apply(s, data),
                             [[0, .25, 0, .6, .8], [1.8, 0, .75, 0, .4]],
                             rtol=1e-6)


def test_invert_and_round_trip():
  t, s = make(vocabulary=VOCAB)
  ti, si = make(vocabulary=VOCAB, invert=True)
  ids = t.apply(s, [["a", "c", "d"], ["d", "z", "b"]])
  np.testing.assert_array_equal(
      ti.apply(si, ids), [["a", "c", "d"], ["d", "[UNK]", "b"]])
  np.testing.assert_array_equal(ti.apply(si, jax.numpy.asarray(ids)),
                                ti.apply(si, ids))


def test_mask_token_layout():
  t, s = make(vocabulary=VOCAB, mask_token="")
  assert pc.get_vocabulary(s) == ["", "[UNK]", "a", "b", "c", "d"]
  np.testing.assert_array_equal(t.apply(s, ["", "a", "q"]), [0, 2, 1])
  # Other modes: no mask slot, mask occurrences dropped.
  t, s = make(vocabulary=VOCAB, mask_token="", output_mode="count")
  np.testing.assert_array_equal(t.apply(s, [["", "a", "", "q"]]),
                                [[1, 1, 0, 0, 0]])


@pytest.mark.parametrize("name", ["int_default", "int_mask_oov3_max",
                                  "salt_oov3", "tf_idf_max"])
def test_keras_parity_with_either_kernels(name, accelerator):
  # The recorded cases again, str_ array and list queries, per kernel set.
  rec = records()["string"][name]
  kw = dict(rec["kwargs"])
  t, s = _our_state(kw, adapt="vocabulary" not in kw)
  assert pc.get_vocabulary(s) == rec["vocabulary"]
  for query in (records()["query"], np.array(records()["query"])):
    out = np.asarray(t.apply(s, query))
    np.testing.assert_allclose(out, np.array(rec["output"]), rtol=1e-6)


def test_str_arrays_of_every_shape_and_content(accelerator):
  vocab = ["", "a", "é", "日本語", "a\x00b", "\x00x", "𝄞", "long token here"]
  t, s = make(vocabulary=vocab[1:], mask_token="", num_oov_indices=2)
  # (No trailing NULs: NumPy arrays drop them.)
  queries = vocab + ["x", "b\x00c", "longer token here", "ab", "日本"]
  want = [0, 3, 4, 5, 6, 7, 8, 9]
  want += [int(h % 2) + 1 for h in farmhash.fingerprint64_strings(
      queries[8:])]
  for q in (np.array(queries), queries, np.array(queries, dtype=object),
            np.array([x.encode() for x in queries])):
    np.testing.assert_array_equal(t.apply(s, q), want)
  grid = np.array(queries[:12]).reshape(3, 4)
  np.testing.assert_array_equal(t.apply(s, grid),
                                np.array(want[:12]).reshape(3, 4))
  np.testing.assert_array_equal(t.apply(s, np.array([], dtype=str)), [])
  with pytest.raises(ValueError, match="UTF-8"):
    t.apply(s, np.array(["ok", "lone \ud800"]))


def test_input_kinds_give_same_ids():
  t, s = make(vocabulary=["é", "b", "ß"])
  want = [1, 2, 3, 0]
  kinds = [["é", "b", "ß", "x"], np.array(["é", "b", "ß", "x"]),
           np.array(["é".encode(), b"b", "ß".encode(), b"x"]),
           np.array(["é", b"b", "ß", b"x"], dtype=object),
           ("é", "b", "ß", "x")]
  for k in kinds:
    np.testing.assert_array_equal(t.apply(s, k), want)
  assert t.apply(s, "ß") == 3 and t.apply(s, "ß").shape == ()
  assert t.apply(s, np.array([["é"], ["x"]])).shape == (2, 1)


# ---------------------------------------------------------------------------
# Recorded Keras numbers on the 10,000-document corpus.
# ---------------------------------------------------------------------------


def _our_state(kw, adapt):
  t = pc.string_lookup(**kw)
  if adapt:
    return t, adapt_docs(t, [corpus_tokens()])
  return t, t.init(None)


STRING_CASES = ["int_default", "int_mask_oov3_max", "tf_idf_max",
                "tf_idf_pad", "multi_hot_pad", "count", "one_hot",
                "salt_oov3", "salt_int", "invert"]


@pytest.fixture(params=["numpy", "numba"])
def accelerator(request):
  """Runs a test with the NumPy code and with the numba kernels (the
  optional accelerator); both must give Keras' numbers."""
  with pc.host_kernels(request.param):
    yield request.param


@pytest.mark.parametrize("name", STRING_CASES)
def test_keras_parity(name):
  rec = records()["string"][name]
  kw = dict(rec["kwargs"])
  t, s = _our_state(kw, adapt="vocabulary" not in kw)
  assert pc.get_vocabulary(s) == rec["vocabulary"]
  assert sl.vocab_size(s) == rec["vocabulary_size"]
  if "idf" in rec:
    np.testing.assert_allclose(s.idf_weights, rec["idf"], rtol=1e-6)
  query = records()["query"]
  if name == "one_hot":
    query = [r[0] for r in query]
  if name == "invert":
    query = np.arange(-2, 1010).reshape(-1, 4) % 1007 - 3
  out = t.apply(s, query)
  if name == "invert" or kw.get("output_mode", "int") == "int":
    np.testing.assert_array_equal(np.asarray(out), np.array(rec["output"]))
  else:
    np.testing.assert_allclose(np.asarray(out), rec["output"], rtol=1e-6)


def test_keras_parity_batched_adapt_and_merge():
  rec = records()["string"]["tf_idf_max"]
  t = pc.string_lookup(**rec["kwargs"])
  docs = corpus_tokens()
  batches = [docs[i:i + 1500] for i in range(0, len(docs), 1500)]
  streamed = adapt_docs(t, batches)
  halves = [adapt_docs(t, batches[:3]), adapt_docs(t, batches[3:])]
  merged = t.merge(*halves)
  for s in (streamed, merged):
    assert pc.get_vocabulary(s) == rec["vocabulary"]
    np.testing.assert_allclose(s.idf_weights, rec["idf"], rtol=1e-6)


# ---------------------------------------------------------------------------
# Invariants.
# ---------------------------------------------------------------------------

TOKENS = st.lists(st.lists(st.sampled_from(["a", "b", "c", "dd", "é", "", "z"]),
                           min_size=1, max_size=5), min_size=1, max_size=6)


@hypothesis.settings(max_examples=40, deadline=None)
@hypothesis.given(TOKENS, TOKENS, st.sampled_from(["int", "tf_idf"]))
def test_merge_of_adapts_equals_adapt_of_union(a, b, mode):
  t = pc.string_lookup(output_mode=mode, max_tokens=5, mask_token="")
  sa = adapt_docs(t, [a])
  sb = adapt_docs(t, [b])
  whole = adapt_docs(t, [a + b])
  merged = t.merge(sa, sb)
  assert pc.get_vocabulary(merged) == pc.get_vocabulary(whole)
  np.testing.assert_allclose(merged.idf_weights, whole.idf_weights)
  assert int(merged.counts.num_docs) == int(whole.counts.num_docs)


def test_state_serialises_with_flax_and_numpy(tmp_path):
  t = pc.string_lookup(output_mode="tf_idf", num_oov_indices=2, salt=3)
  s = adapt_docs(t, [[["é", "b", "b"], ["c"]]])
  blank = adapt_docs(t, [[["x"]]])
  restored = flax.serialization.from_bytes(blank, flax.serialization.to_bytes(s))
  assert pc.get_vocabulary(restored) == pc.get_vocabulary(s)
  q = [["é", "q", "b"]]
  np.testing.assert_array_equal(t.apply(restored, q), t.apply(s, q))
  leaves = jax.tree_util.tree_leaves(s)
  assert all(isinstance(l, np.ndarray) and l.dtype.kind in "iuf" for l in leaves)
  np.savez(tmp_path / "s.npz", *leaves)
  with np.load(tmp_path / "s.npz") as z:
    again = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(s),
                                         [z[k] for k in z.files])
  np.testing.assert_array_equal(t.apply(again, q), t.apply(s, q))


def test_count_tokens_doc_ids_for_text():
  t = pc.string_lookup(output_mode="tf_idf")
  s = t.init(None)
  s = sl.count_tokens(s, ["a", "a", "b", "a"], np.array([0, 0, 0, 1]))
  s = t.finalize(s)
  # a: count 3 in 2 docs, b: 1 in 1 doc; 2 documents.
  assert pc.get_vocabulary(s) == ["[UNK]", "a", "b"]
  idf = np.log1p(2 / (1 + np.array([2.0, 1.0])))
  np.testing.assert_allclose(s.idf_weights, [idf.mean(), *idf], rtol=1e-6)
  np.testing.assert_array_equal(sl.lookup_tokens(s, ["b", "x"]), [2, 0])
  assert sl.vocab_size(s) == 3
  enc = sl.encode_lookup_ids(s, np.array([[1, 1, 0]]), "count")
  np.testing.assert_array_equal(enc, [[1, 2, 0]])


def test_failed_adapt_leaves_state_usable():
  t = pc.string_lookup()
  s = pc.adapt(t, [["a", "b", "b"]])
  before = pc.get_vocabulary(s)
  with pytest.raises(ValueError, match="encoding"):
    t.adapt(s, np.array([b"ok", b"\xff\xfe"]))
  with pytest.raises(TypeError):
    t.adapt(s, np.array([1, 2]))
  assert pc.get_vocabulary(s) == before
  np.testing.assert_array_equal(t.apply(s, ["b", "a"]), [1, 2])


def test_max_tokens_truncates_and_pads():
  t = pc.string_lookup(max_tokens=3, output_mode="multi_hot",
                       pad_to_max_tokens=True)
  s = pc.adapt(t, [["a", "a", "b", "b", "c"]])
  assert pc.get_vocabulary(s) == ["[UNK]", "b", "a"]
  t5 = pc.string_lookup(max_tokens=6, output_mode="multi_hot",
                        pad_to_max_tokens=True)
  s5 = pc.adapt(t5, [["a", "b"]])
  assert t5.apply(s5, [["a", "q"]]).shape == (1, 6)


# ---------------------------------------------------------------------------
# Bad input.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.array([1, 2]), [1, 2], 3.5,
                                 jax.numpy.arange(3), [["a", 1]]])
def test_numbers_rejected(bad):
  t, s = make(vocabulary=VOCAB)
  with pytest.raises(TypeError, match="inputs.*strings|strings"):
    t.apply(s, bad)


def test_invalid_bytes_rejected():
  t, s = make(vocabulary=VOCAB)
  with pytest.raises(ValueError, match="not valid 'utf-8'"):
    t.apply(s, [b"a", b"\xc3("])
  with pytest.raises(ValueError, match="encoding"):
    t.apply(s, np.array([b"\xff"]))
  # Valid in the declared encoding: accepted.
  t2, s2 = make(vocabulary=["é"], encoding="latin-1")
  np.testing.assert_array_equal(t2.apply(s2, [b"\xe9", b"x"]), [1, 0])


def test_vocabulary_errors():
  with pytest.raises(ValueError, match="repeated"):
    pc.string_lookup(vocabulary=["a", "b", "a"])
  with pytest.raises(ValueError, match="mask token"):
    pc.string_lookup(vocabulary=["a", "", "b"], mask_token="")
  with pytest.raises(ValueError, match="empty"):
    pc.string_lookup(vocabulary=[])
  with pytest.raises(ValueError, match="idf_weights"):
    pc.string_lookup(vocabulary=VOCAB, output_mode="tf_idf")
  with pytest.raises(ValueError, match="max_tokens"):
    pc.string_lookup(vocabulary=VOCAB, max_tokens=3)
  with pytest.raises(ValueError, match="idf_weights"):
    pc.string_lookup(vocabulary=VOCAB, idf_weights=[1.0, 2.0],
                     output_mode="tf_idf")


def test_num_oov_zero_meets_unknown():
  t, s = make(vocabulary=VOCAB, num_oov_indices=0)
  np.testing.assert_array_equal(t.apply(s, ["a", "d"]), [0, 3])
  with pytest.raises(ValueError, match="num_oov_indices=0.*'zz'"):
    t.apply(s, ["a", "zz"])


@pytest.mark.parametrize("salt", ["x", 1.5, (1, 2, 3), [1], (1, "a"), True])
def test_bad_salt(salt):
  with pytest.raises(TypeError, match="salt"):
    pc.string_lookup(salt=salt)


def test_bad_arguments():
  with pytest.raises(ValueError, match="output_mode"):
    pc.string_lookup(output_mode="bag")
  with pytest.raises(ValueError, match="invert"):
    pc.string_lookup(invert=True, output_mode="count")
  with pytest.raises(ValueError, match="pad_to_max_tokens"):
    pc.string_lookup(pad_to_max_tokens=True)
  with pytest.raises(ValueError, match="max_tokens"):
    pc.string_lookup(max_tokens=1)
  with pytest.raises(ValueError, match="num_oov_indices"):
    pc.string_lookup(num_oov_indices=-1)
  with pytest.raises(TypeError, match="mask_token"):
    pc.string_lookup(mask_token=0)
  t = pc.string_lookup(output_mode="count")
  with pytest.raises(ValueError, match="needs a vocabulary"):
    t.apply(t.init(None), ["a"])
  t, s = make(vocabulary=VOCAB)
  with pytest.raises(ValueError, match="different lengths"):
    t.apply(s, [["a"], ["a", "b"]])
  with pytest.raises(ValueError, match="rank 2"):
    t.apply(s, [[["a"]]])


def test_empty_adapt():
  t = pc.string_lookup()
  with pytest.raises(ValueError, match="empty|no strings"):
    pc.adapt(t, [])
  with pytest.raises(ValueError, match="no strings"):
    t.adapt(t.init(None), np.array([], dtype=str))


def test_merge_of_different_transforms():
  t = pc.string_lookup()
  s = pc.adapt(t, [["a"]])
  si = pc.adapt(pc.integer_lookup(), np.array([1, 2]))
  with pytest.raises(TypeError, match="different transforms"):
    t.merge(s, si)
  t2 = pc.string_lookup(salt=3)
  with pytest.raises(ValueError, match="merge"):
    t.merge(s, pc.adapt(t2, [["a"]]))


@pytest.mark.parametrize("kw", [
    dict(), dict(num_oov_indices=3), dict(num_oov_indices=2, salt=7),
    dict(mask_token="", num_oov_indices=2), dict(mask_token="zz"),
    dict(output_mode="count")])
def test_str_lists_one_pass_equals_str_arrays(kw, monkeypatch):
  # Lists of str take the fused kernel (numba); str_ arrays their own
  # kernel; object arrays the general path: all three give the same ids.
  t, s = make(vocabulary=["a", "b", "é", "日本語", "a long token"], **kw)
  fused = []
  real = sl._lookup_str_list

  def spy(*args):
    out = real(*args)
    fused.append(out is not None)
    return out

  monkeypatch.setattr(sl, "_lookup_str_list", spy)
  queries = ["a", "b", "x", "é", "日本語", "a long token", "a long tokens",
             "b", "zz", "日本"] * 3
  with pc.host_kernels("numba"):
    got = np.asarray(t.apply(s, queries))
  assert fused == [True]
  for other in (np.array(queries), np.array(queries, dtype=object)):
    np.testing.assert_array_equal(got, np.asarray(t.apply(s, other)))


def test_str_lists_one_pass_errors_and_fallbacks():
  t, s = make(vocabulary=["a", "b"], num_oov_indices=0)
  with pc.host_kernels("numba"):
    with pytest.raises(ValueError, match=r"zz"):
      t.apply(s, ["a", "zz"])
    t2, s2 = make(vocabulary=["a", "b"], mask_token="")
    # "" (no token), a NUL inside, bytes: the general path, same ids.
    for q in (["a", "", "b"], ["a\x00b", "a"], [b"a", "b"]):
      np.testing.assert_array_equal(t2.apply(s2, q),
                                    t2.apply(s2, np.array(q, dtype=object)))
