"""text_vectorization against recorded Keras 3 TextVectorization outputs.

Records: tests/keras_records/record_text.py (text.json: edge cases;
text.npz: 10,000 documents of the shared benchmark corpus).
"""

import contextlib
import hashlib
import json
import os

import numpy as np
import pytest

import prepro_core as pc
from prepro_core._src.host import keys
from prepro_core._src.host import tokenize


@pytest.fixture
def kernels_backend():
  """``kernels_backend(name)`` selects the host kernels for the rest of the
  test (``pc.host_kernels``, entered until the test ends)."""
  with contextlib.ExitStack() as stack:
    yield lambda name: stack.enter_context(pc.host_kernels(name))

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "keras_records", "text.json")) as f:
  REC = json.load(f)
CORPUS = dict(np.load(os.path.join(HERE, "keras_records", "text.npz")))
DOCS = REC["docs"]


def sha(a) -> str:
  a = np.ascontiguousarray(a)
  return hashlib.sha256(str(a.dtype).encode() + str(a.shape).encode() +
                        a.tobytes()).hexdigest()


def _config(cfg):
  cfg = dict(cfg)
  if isinstance(cfg.get("ngrams"), list):
    cfg["ngrams"] = tuple(cfg["ngrams"])
  return cfg


def _case_id(case):
  return ",".join(f"{k}={v}" for k, v in sorted(case["config"].items())) or "default"


@pytest.fixture(params=["numpy", "numba"])
def accelerator(request):
  """Runs a test with the NumPy code and with the numba kernels (the
  optional accelerator); both must give Keras' numbers."""
  with pc.host_kernels(request.param):
    yield request.param


@pytest.mark.parametrize("case", REC["cases"], ids=_case_id)
def test_edge_cases_match_keras(case, accelerator):
  cfg = _config(case["config"])
  t = pc.text_vectorization(**cfg)
  s = pc.adapt(t, DOCS)
  assert pc.get_vocabulary(s) == case["vocabulary"]
  want = np.array(case["output"])
  docs = DOCS
  if cfg.get("split", "whitespace") is None and cfg.get(
      "output_mode", "int") != "int":
    # Deviation: Keras encodes a rank-1 batch with split=None as ONE sample;
    # here every row is a document (what adapt also assumes). Rows summed
    # give Keras' single vector.
    got = np.asarray(t.apply(s, docs))
    assert got.shape == (len(docs), len(case["vocabulary"]))
    got = np.asarray(t.apply(s, [[d] for d in docs])).sum(0)
  else:
    got = np.asarray(t.apply(s, docs))
  assert got.shape == want.shape
  np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_docstring_examples():
  t = pc.text_vectorization(max_tokens=5000, output_mode="int",
                            output_sequence_length=4)
  s = pc.adapt(t, ["foo bar", "bar baz", "baz bada boom"])
  assert t.apply(s, [["foo qux bar"], ["qux baz"]]).tolist() == [
      [4, 1, 3, 0], [1, 2, 0, 0]]
  t = pc.text_vectorization(max_tokens=5000, output_sequence_length=4,
                            vocabulary=["earth", "wind", "and", "fire"])
  s = t.init(None)
  assert pc.get_vocabulary(s) == ["", "[UNK]", "earth", "wind", "and", "fire"]
  assert s.vocabulary_size() == 6


def test_guide_greek_example():
  g = REC["greek"]
  t = pc.text_vectorization(vocabulary=g["vocabulary_in"])
  s = t.init(None)
  assert pc.get_vocabulary(s) == g["vocabulary"]
  out = t.apply(s, np.array(g["docs"]))
  assert out.tolist() == g["output"] == [[2, 3, 4, 1, 5, 6, 1],
                                         [1, 1, 1, 1, 1, 1, 0]]


def test_callable_standardize_receives_numpy_strings():
  seen = []

  def std(x):
    seen.append((type(x), x.dtype.kind))
    x = np.char.upper(x)
    for d in "0123456789":
      x = np.char.replace(x, d, "")
    return x
  c = REC["callable_standardize"]
  t = pc.text_vectorization(standardize=std)
  s = pc.adapt(t, DOCS)
  assert pc.get_vocabulary(s) == c["vocabulary"]
  assert t.apply(s, DOCS).tolist() == c["output"]
  assert set(seen) == {(np.ndarray, "U")}


def test_callable_split():
  c = REC["callable_split"]
  t = pc.text_vectorization(
      split=lambda x: [d.split(",") for d in x.tolist()], standardize=None)
  s = pc.adapt(t, c["docs"])
  assert pc.get_vocabulary(s) == c["vocabulary"]
  assert t.apply(s, c["docs"]).tolist() == c["output"]
  # A 2-D array works as well (every cell a token, "" the padding).
  t2 = pc.text_vectorization(
      split=lambda x: np.array([(d.split(",") + ["", "", "", ""])[:4]
                                for d in x.tolist()]), standardize=None)
  assert t2.apply(s, c["docs"]).tolist() == c["output"]


def test_given_vocabulary_tf_idf():
  c = REC["given_tfidf"]
  t = pc.text_vectorization(output_mode="tf_idf",
                            vocabulary=["earth", "wind", "and", "fire"],
                            idf_weights=[0.5, 1.5, 2.5, 3.5])
  s = t.init(None)
  assert pc.get_vocabulary(s) == c["vocabulary"]
  np.testing.assert_allclose(
      t.apply(s, ["earth wind and fire fire", "water"]), c["output"])


def test_streamed_adapt_matches_keras_batches():
  c = REC["batched_tfidf"]
  t = pc.text_vectorization(output_mode="tf_idf")
  s = pc.adapt(t, DOCS, batch_size=5)
  assert pc.get_vocabulary(s) == c["vocabulary"]
  np.testing.assert_allclose(s.lookup.idf_weights, c["idf"], rtol=1e-6)
  np.testing.assert_allclose(t.apply(s, DOCS), c["output"], rtol=1e-6)


# ---------------------------------------------------------------------------
# 10,000 corpus documents.
# ---------------------------------------------------------------------------

CDOCS = CORPUS["docs"]


@pytest.fixture(scope="module")
def int_state():
  t = pc.text_vectorization()
  return t, pc.adapt(t, CDOCS)


def test_corpus_int_matches_keras(int_state):
  t, s = int_state
  assert pc.get_vocabulary(s) == CORPUS["int_vocabulary"].tolist()
  np.testing.assert_array_equal(t.apply(s, CDOCS), CORPUS["int_output"])


def test_corpus_int_sequence_length_matches_keras(int_state):
  _, s = int_state
  t = pc.text_vectorization(output_sequence_length=32)
  out = t.apply(s, CDOCS)  # same arguments but the length: same state
  np.testing.assert_array_equal(out[:200], CORPUS["int32_head"])
  assert sha(out.astype(np.int64)) == str(CORPUS["int32_sha"])


def test_corpus_int_matches_keras_without_accelerator(monkeypatch, kernels_backend):
  kernels_backend("numpy")
  t = pc.text_vectorization(output_sequence_length=32)
  s = pc.adapt(t, CDOCS, batch_size=4000)
  assert pc.get_vocabulary(s) == CORPUS["int_vocabulary"].tolist()
  out = t.apply(s, CDOCS)
  np.testing.assert_array_equal(out[:200], CORPUS["int32_head"])
  assert sha(out.astype(np.int64)) == str(CORPUS["int32_sha"])


def test_corpus_tf_idf_bigrams_match_keras():
  t = pc.text_vectorization(output_mode="tf_idf", ngrams=2, max_tokens=3000)
  s = pc.adapt(t, CDOCS)
  assert pc.get_vocabulary(s) == CORPUS["tfidf_vocabulary"].tolist()
  np.testing.assert_allclose(s.lookup.idf_weights, CORPUS["tfidf_idf"],
                             rtol=1e-6)
  out = np.asarray(t.apply(s, CDOCS))
  assert out.shape == tuple(CORPUS["tfidf_shape"])
  rows, cols = np.nonzero(out)
  np.testing.assert_array_equal(rows, CORPUS["tfidf_rows"])
  np.testing.assert_array_equal(cols, CORPUS["tfidf_cols"])
  np.testing.assert_allclose(out[rows, cols], CORPUS["tfidf_values"],
                             rtol=1e-5)


@pytest.mark.parametrize("mode", ["multi_hot", "count"])
def test_corpus_multi_hot_and_count_match_keras(mode):
  t = pc.text_vectorization(output_mode=mode, max_tokens=5000)
  s = pc.adapt(t, CDOCS, batch_size=2500)
  vocab = "\n".join(pc.get_vocabulary(s)).encode()
  assert hashlib.sha256(vocab).hexdigest() == str(
      CORPUS[f"{mode}_vocabulary_sha"])
  out = np.asarray(t.apply(s, CDOCS))
  assert out.shape == tuple(CORPUS[f"{mode}_shape"])
  assert float(out.astype(np.float64).sum()) == float(CORPUS[f"{mode}_sum"])
  assert sha(out.astype(np.float32)) == str(CORPUS[f"{mode}_sha"])


# ---------------------------------------------------------------------------
# Invariants.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode,ngrams", [("int", None), ("tf_idf", 2),
                                         ("count", (1, 3))])
def test_merge_of_shards_equals_adapt_of_all(mode, ngrams):
  docs = CDOCS[:3000]
  t = pc.text_vectorization(output_mode=mode, ngrams=ngrams, max_tokens=800)
  whole = pc.adapt(t, docs)
  a = pc.adapt(t, docs[:1234])
  b = pc.adapt(t, docs[1234:2000], batch_size=100)
  c = pc.adapt(t, docs[2000:])
  for merged in (t.merge(t.merge(a, b), c), t.merge(a, t.merge(b, c))):
    assert pc.get_vocabulary(merged) == pc.get_vocabulary(whole)
    np.testing.assert_allclose(merged.lookup.idf_weights,
                               whole.lookup.idf_weights)
    np.testing.assert_array_equal(np.asarray(t.apply(merged, docs[:300])),
                                  np.asarray(t.apply(whole, docs[:300])))


def test_batching_does_not_change_the_output(int_state):
  t, s = int_state
  t32 = pc.text_vectorization(output_sequence_length=32)
  full = t32.apply(s, CDOCS[:1000])
  parts = np.concatenate([t32.apply(s, CDOCS[i:min(i + 137, 1000)])
                          for i in range(0, 1000, 137)])
  np.testing.assert_array_equal(full, parts)


def test_inputs_of_every_kind_agree(int_state):
  t, s = int_state
  docs = [str(d) for d in CDOCS[:50]]
  want = t.apply(s, docs)
  for x in (np.array(docs), np.array(docs, dtype=object),
            [[d] for d in docs], np.array([d.encode() for d in docs]),
            [d.encode() for d in docs]):
    np.testing.assert_array_equal(t.apply(s, x), want)
  assert t.apply(s, docs[0]).tolist() == want[0][:len(t.apply(s, docs[0]))].tolist()


def test_unicode_standardize_option():
  t = pc.text_vectorization(standardize="lower_and_strip_punctuation_unicode")
  s = pc.adapt(t, ["ÉCOLE «école» École!", "Straße"])
  assert pc.get_vocabulary(s) == ["", "[UNK]", "école", "straße"]
  t_ascii = pc.text_vectorization()
  s_ascii = pc.adapt(t_ascii, ["ÉCOLE «école» École!"])
  # Keras lowers A-Z only: "ÉCOLE" -> "École"; « » are not ASCII.
  assert pc.get_vocabulary(s_ascii) == ["", "[UNK]", "École", "«école»"]


def test_vocabulary_file_round_trip(tmp_path, int_state):
  t, s = int_state
  path = str(tmp_path / "vocab.txt")
  pc.save_vocabulary(s, path)
  t2 = pc.text_vectorization(vocabulary=path)
  s2 = t2.init(None)
  assert pc.get_vocabulary(s2) == pc.get_vocabulary(s)
  np.testing.assert_array_equal(t2.apply(s2, CDOCS[:100]),
                                t.apply(s, CDOCS[:100]))


# ---------------------------------------------------------------------------
# Bad input.
# ---------------------------------------------------------------------------


def test_output_sequence_length_outside_int_mode():
  with pytest.raises(ValueError, match="output_sequence_length"):
    pc.text_vectorization(output_mode="count", output_sequence_length=4)
  with pytest.raises(TypeError, match="output_sequence_length"):
    pc.text_vectorization(output_sequence_length=2.5)


@pytest.mark.parametrize("kwargs,match", [
    (dict(standardize="upper"), "standardize"),
    (dict(split="comma"), "split"),
    (dict(ngrams=0), "ngrams"),
    (dict(ngrams=[1, 2]), "ngrams"),
    (dict(ngrams=(1, "2")), "ngrams"),
    (dict(output_mode="one_hot"), "output_mode"),
    (dict(max_tokens=1), "max_tokens"),
    (dict(encoding="no-such-codec"), "encoding"),
    (dict(output_mode="tf_idf", vocabulary=["a", "b"]), "idf_weights"),
    (dict(vocabulary=["a", "b", "a"]), "repeated"),
    (dict(vocabulary=["a", "", "b"]), "mask token"),
    (dict(vocabulary="/no/such/file.txt"), "does not exist"),
])
def test_bad_arguments(kwargs, match):
  with pytest.raises((ValueError, TypeError), match=match):
    pc.text_vectorization(**kwargs)


def test_empty_vocabulary_file(tmp_path):
  path = tmp_path / "empty.txt"
  path.write_text("")
  with pytest.raises(ValueError, match="empty"):
    pc.text_vectorization(vocabulary=str(path))


def test_bad_inputs(int_state):
  t, s = int_state
  for bad in (np.arange(4), [1, 2, 3], 3.0, [["a"], [1]]):
    with pytest.raises(TypeError, match="text|str"):
      t.apply(s, bad)
  with pytest.raises(ValueError, match="not valid utf-8"):
    t.apply(s, [b"fine", b"\xff\xfe"])
  with pytest.raises(ValueError, match="last dimension 1"):
    t.apply(s, [["a", "b"], ["c", "d"]])
  with pytest.raises(ValueError, match="rank"):
    t.apply(s, np.array([[["a"]]]))
  with pytest.raises(TypeError, match="numbers"):
    t.init(np.zeros(3))


def test_adapt_with_fixed_vocabulary_and_failed_adapt_keeps_state():
  t = pc.text_vectorization(vocabulary=["a", "b"])
  with pytest.raises(ValueError, match="fixed `vocabulary`"):
    t.adapt(t.init(None), ["a b"])
  t = pc.text_vectorization()
  s = pc.adapt(t, ["a b c", "a b", "a"])
  with pytest.raises(TypeError):
    t.adapt(s, [1, 2])
  assert pc.get_vocabulary(s) == ["", "[UNK]", "a", "b", "c"]
  assert t.apply(s, ["c b a z"]).tolist() == [[4, 3, 2, 1]]


def test_bad_callables():
  t = pc.text_vectorization(standardize=lambda x: x[:1])
  with pytest.raises(ValueError, match="shaped like its input"):
    t.apply(t.init(None), ["a", "b"])
  t = pc.text_vectorization(split=lambda x: "nope")
  with pytest.raises(TypeError, match="one sequence of tokens per document"):
    t.apply(t.init(None), ["a", "b"])


def test_non_int_mode_needs_a_vocabulary():
  t = pc.text_vectorization(output_mode="multi_hot")
  with pytest.raises(ValueError, match="needs a vocabulary"):
    t.apply(t.init(None), ["a"])


def test_numpy_string_scalars_in_a_list_are_text():
  # np.str_ is what iterating a NumPy str array gives; it is a str.
  t = pc.text_vectorization()
  state = pc.adapt(t, [np.str_("a b"), np.str_("b")])
  assert pc.get_vocabulary(state) == ["", "[UNK]", "b", "a"]
  np.testing.assert_array_equal(t.apply(state, [np.str_("b a")]), [[2, 3]])


def test_fused_int_path_matches_general_path(monkeypatch, kernels_backend):
  """int mode with output_sequence_length on a list runs one fused kernel
  (tokenize.vectorize_int), in pipelined chunks on threads for big batches; it
  gives the general path's ids, and declines (the general path runs) on
  NULs inside documents, bytes and mixed inputs."""
  extra = ["", "   ", "!!!", "a\tb\nc\x0bd\x0ce\rf", "Ünïcödé WORD; straße",
           "don't stop.", "a " * 40,
           "VeryLongTokenThatIsLongerThan8bytes and-another-long-one"]
  docs = [str(d) for d in CDOCS[:3000]] + extra
  assert tokenize.vectorize_int(docs, None, *_fused_args(docs)) is not None
  assert tokenize.vectorize_int(pc.pack_strings(docs), None,
                                *_fused_args(docs)) is not None
  monkeypatch.setattr(tokenize, "_CHUNK_DOCS", 700)  # several chunks, threads
  for std in (None, "lower", "strip_punctuation",
              "lower_and_strip_punctuation"):
    for length in (0, 1, 32):
      t = pc.text_vectorization(standardize=std,
                                output_sequence_length=length)
      s = pc.adapt(t, docs)
      for batch in (docs, extra[:7], [d.encode() for d in extra],
                    extra + ["x\0y z"]):
        kernels_backend("numba")
        got = t.apply(s, batch)
        kernels_backend("numpy")
        want = t.apply(s, batch)
        assert got.shape == want.shape == (len(batch), length)
        np.testing.assert_array_equal(got, want)


def test_keyed_slots_read_only_long_tokens_bytes(monkeypatch):
  """numba's fused kernel probes slots that keep each token's key: a short
  token (7 bytes or fewer) whose key matches is found without reading the
  vocabulary's bytes (its key is its bytes), a long one is confirmed
  against them (its key is a hash). Shown by swapping the vocabulary's
  bytes under a table built for other ones."""
  from prepro_core._src.host import vocab  # pylint: disable=g-import-not-at-top
  from prepro_core._src.host.kernels import numba_text  # pylint: disable=g-import-not-at-top
  words = ["zzz", "zzzzzzzzzzz", "yy"]
  data = np.frombuffer("".join(words).encode(), np.uint8).copy()
  offsets = np.array([0, 3, 14, 16], np.int32)
  table = vocab.build_table(data, offsets)
  keyed, _, _ = numba_text.table_slots(table.slots, data, offsets)
  filled = np.flatnonzero(keyed[:, 1])
  assert sorted(keyed[filled, 1] - 1) == [0, 1, 2]
  np.testing.assert_array_equal(
      keyed[filled, 0],
      keys.token_keys(data, offsets[keyed[filled, 1] - 1].astype(np.int64),
                      offsets[keyed[filled, 1]].astype(np.int64)))
  assert vocab.probe_slots(numba_text, table, data, offsets) is (
      vocab.probe_slots(numba_text, table, data, offsets))  # built once

  def ids(vdata, doc):
    out = np.zeros((1, 4), np.int32)
    buf = np.frombuffer(doc.encode() + b"\0", np.uint8)
    assert numba_text.vectorize_int(
        buf, 1, numba_text.SAME, numba_text.CLASS_KEEP,
        numba_text.table_slots(table.slots, data, offsets), vdata, 0, -1, 0,
        -1, out) == 1
    return out[0].tolist()

  assert ids(data, "zzz zzzzzzzzzzz yy x") == [0, 1, 2, -1]
  swapped = np.frombuffer(b"abcabcdefghijkab", np.uint8)
  assert ids(swapped, "zzz zzzzzzzzzzz yy") == [0, -1, 2, 0]
  # A table past MAX_KEYED_SLOTS is probed by its slot words (no 16-byte
  # slots for huge vocabularies): every token's bytes compared.
  monkeypatch.setattr(numba_text, "MAX_KEYED_SLOTS", 8)
  assert numba_text.table_slots(table.slots, data, offsets)[0].shape == (0, 2)
  assert ids(data, "zzz zzzzzzzzzzz yy x") == [0, 1, 2, -1]
  assert ids(swapped, "zzz zzzzzzzzzzz yy") == [-1, -1, -1, 0]


def _fused_args(docs):
  from prepro_core._src.lookup import string_lookup as sl  # pylint: disable=g-import-not-at-top
  t = pc.text_vectorization(output_sequence_length=4)
  s = pc.adapt(t, docs)
  from prepro_core._src.host.kernels import numba_text  # pylint: disable=g-import-not-at-top
  return numba_text, sl.kernel_table(s.lookup, numba_text, s.table), 4


@pytest.mark.parametrize("standardize", [
    "lower_and_strip_punctuation", None, "lower"])
def test_multi_chunk_adapt_equals_single_chunk(monkeypatch, standardize, kernels_backend):
  # Large batches are tokenized in pipelined chunks (numba path); forcing
  # small chunks must give exactly the one-chunk tokens, counts and vocab.
  kernels_backend("numba")
  rng = np.random.default_rng(3)
  words = ["Hello,", "world!", "naïve", "CAFÉ", "a", "", "supercalifragilistic",
           "x\0y", "The", "QUICK.", "brown-fox"]
  docs = [" ".join(rng.choice(words, rng.integers(0, 9)).tolist())
          for _ in range(5_000)]
  t = pc.text_vectorization(standardize=standardize, output_mode="tf_idf")
  one = pc.adapt(t, docs)
  toks_one = tokenize.tokenize_whitespace(docs, standardize)
  assert toks_one.keys is None  # one chunk: no pipeline
  monkeypatch.setattr(tokenize, "_CHUNK_DOCS", 700)  # 7 chunks, worker threads
  many = pc.adapt(t, docs)
  toks_many = tokenize.tokenize_whitespace(docs, standardize)
  assert toks_many.keys is not None
  for f in ("buf", "starts", "ends", "row_splits"):
    np.testing.assert_array_equal(getattr(toks_many, f), getattr(toks_one, f))
  np.testing.assert_array_equal(
      toks_many.keys, keys.token_keys(toks_one.buf, toks_one.starts,
                                      toks_one.ends))
  assert pc.get_vocabulary(many) == pc.get_vocabulary(one)
  np.testing.assert_array_equal(many.lookup.idf_weights,
                                one.lookup.idf_weights)
  import jax  # pylint: disable=g-import-not-at-top
  leaves_many = jax.tree.leaves(many.lookup.counts)
  leaves_one = jax.tree.leaves(one.lookup.counts)
  assert len(leaves_many) == len(leaves_one)
  for a, b in zip(leaves_many, leaves_one):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
